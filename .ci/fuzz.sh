#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ (see docs/fuzzing.md), each for a
# while, from its committed seeds; fails on any crash, hang (one input over
# 10 s), leak or out-of-memory, leaving the input that did it in the
# artifacts directory. New inputs go to a scratch corpus, never into the
# committed seeds.
#
#   bash .ci/fuzz.sh [seconds per target] [target ...]
#     .ci/run: 30 s per target; the documented long run: 600.
#   bash .ci/fuzz.sh build      builds the targets only (.ci/run starts it early)
#   FUZZ_ARTIFACTS: where crashing inputs are kept (default fuzz/artifacts).
#   FUZZ_TARGET_DIR: the build's target directory (default fuzz/target).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build_only=0
if [ "${1:-}" = build ]; then build_only=1; shift; fi
seconds=${1:-30}
shift || true
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$root/fuzz/target}
all=(c_abi_template mechanism_parameters blob_jws azure_listing_metadata config_parser
  token_database_record)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
work=$(mktemp -d "${TMPDIR:-/tmp}/azcloudhsm-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
artifacts=${FUZZ_ARTIFACTS:-$root/fuzz/artifacts}
# Optimised, with debug assertions and AddressSanitizer (cargo fuzz's default).
flags=(-O --debug-assertions)
(cd fuzz && cargo +nightly fuzz build "${flags[@]}")
((build_only == 0)) || exit 0

summary=()
for target in "${targets[@]}"; do
  [ -d "fuzz/seeds/$target" ] || { echo "no seeds for $target in fuzz/seeds/"; exit 1; }
  corpus="$work/corpus/$target"
  mkdir -p "$corpus" "$artifacts/$target"
  log="$work/$target.log"
  echo "=== fuzzing $target for $seconds s"
  # The targets' own temporary files (a token, a store) go under $work.
  if ! (cd fuzz && TMPDIR="$work" cargo +nightly fuzz run "${flags[@]}" "$target" \
    "$corpus" "$root/fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$target/") >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed; the input is in $artifacts/$target/"
    exit 1
  fi
  stat() { sed -nE "s/^stat::$1: *([0-9]+)$/\1/p" "$log" | tail -n 1; }
  coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  summary+=("$(printf '%-24s %10s runs %7s/s  cov %6s  corpus %5s  peak RSS %5s MB' \
    "$target" "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" \
    "${coverage:-?}" "$(find "$corpus" -type f | wc -l)" "$(stat peak_rss_mb)")")
done
echo "=== fuzzing passed: no crash, hang, leak or out-of-memory (${seconds} s per target)"
printf '%s\n' "${summary[@]}"
