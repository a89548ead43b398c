#!/usr/bin/env bash
# Runs every interop script for STORE=local, and for STORE=azurite when
# AZURITE_BLOB_URL is set (under CI a missing AZURITE_BLOB_URL is a failure),
# then prints the line CI reads:  N passed, M failed  (scripts x stores).
#
#   cargo build --release
#   eval "$(.ci/azurite.sh start)"      # optional locally, required under CI
#   tests/interop/run_all.sh [script-name ...]   # e.g. pkcs11_tool p11tool
#
# Environment: see tests/interop/common.sh (AZCLOUDHSM_PKCS11_LIB, ...).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
scripts=(pkcs11_tool openssl_engine java_sunpkcs11 p11tool)
if (($# > 0)); then scripts=("$@"); fi

stores=(local)
missing_azurite=0
if [[ ${INTEROP_PEER:-azcloudhsm} != azcloudhsm ]]; then
    # A peer (SoftHSM2) keeps its certificates itself: the store does not apply.
    :
elif [[ -n ${AZURITE_BLOB_URL:-} ]]; then
    stores+=(azurite)
elif [[ -n ${CI:-} ]]; then
    missing_azurite=1
else
    echo "run_all: AZURITE_BLOB_URL is not set: STORE=azurite is not run (start it with: eval \"\$(.ci/azurite.sh start)\")"
fi

passed=0
failed=0
failures=()
for store in "${stores[@]}"; do
    for name in "${scripts[@]}"; do
        script=$here/$name.sh
        echo
        echo "=== $name [STORE=$store]"
        rc=0
        if [[ ! -x $script ]]; then
            echo "run_all: $script is missing or not executable"
            rc=1
        else
            # Each client call has its own timeout; this one bounds the script.
            STORE=$store timeout 1200 "$script" || rc=$?
        fi
        if ((rc == 0)); then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            failures+=("$name [STORE=$store] (exit $rc)")
        fi
    done
done
if ((missing_azurite)); then
    echo
    echo "run_all: CI is set but AZURITE_BLOB_URL is not: every STORE=azurite run counts as failed"
    for name in "${scripts[@]}"; do
        failed=$((failed + 1))
        failures+=("$name [STORE=azurite] (AZURITE_BLOB_URL unset)")
    done
fi

echo
for failure in "${failures[@]+"${failures[@]}"}"; do
    echo "failed: $failure"
done
echo "$passed passed, $failed failed"
((failed == 0))
