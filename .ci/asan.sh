#!/usr/bin/env bash
# The in-process integration suites and the unit tests under AddressSanitizer
# (nightly, -Zsanitizer=address): the test programs load the instrumented
# library with dlopen, as any application does. Suites that hand the library
# to programs that are not instrumented (pkcs11-tool, the C samples, the Java
# and OpenSSL clients) stay out: an instrumented library needs the
# sanitizer's runtime in the process. Leak checking is on: a leak fails.
#
#   bash .ci/asan.sh            (ASAN_TARGET_DIR: default target-asan/)
#   bash .ci/asan.sh build      builds only (.ci/run starts it early)
set -euo pipefail
cd "$(dirname "$0")/.."
build_only=0
[ "${1:-}" != build ] || build_only=1
suites=(abi_rules bad_input every_function key_custody token_tamper objects mechanisms
  mechanisms_encryption certificates_api token_and_sessions concurrency azure_certificates)
export CARGO_TARGET_DIR=${ASAN_TARGET_DIR:-$PWD/target-asan}
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
# The target is named, so build scripts and procedural macros (which run on
# the build machine) are not instrumented.
target=x86_64-unknown-linux-gnu
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$PWD/.ci/lsan-suppressions.txt:print_suppressions=0"
args=(+nightly test --release --target "$target" --lib)
for suite in "${suites[@]}"; do args+=(--test "$suite"); done
cargo "${args[@]}" --no-run
# The library the suites load: the instrumented one beside them.
export AZCLOUDHSM_PKCS11_LIB="$CARGO_TARGET_DIR/$target/release/libazcloudhsm_pkcs11.so"
cargo +nightly build --release --target "$target" --lib
[ -f "$AZCLOUDHSM_PKCS11_LIB" ] || { echo "no instrumented library at $AZCLOUDHSM_PKCS11_LIB"; exit 1; }
((build_only == 0)) || exit 0
cargo "${args[@]}" -- --test-threads=2
echo "asan: unit tests and ${#suites[@]} integration suites passed under AddressSanitizer"
