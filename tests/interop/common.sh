# shellcheck shell=bash disable=SC2034  # sourced; the variables are for the scripts
# Shared set-up for the interop scripts; sourced, never run.
#
# Every script gets a fresh temporary directory holding its own token
# directory, certificate store (a local directory, or an Azurite container
# when STORE=azurite), configuration file and AZCLOUDHSM_CONFIG, so runs never
# see each other's objects.
#
# Environment:
#   AZCLOUDHSM_PKCS11_LIB  the provider (default: <repo>/target/release/libazcloudhsm_pkcs11.so)
#   STORE                  local (default) or azurite
#   AZURITE_BLOB_URL       http://127.0.0.1:<port>/devstoreaccount1, required with STORE=azurite
#   INTEROP_KEEP_GOING=1   report every failing check instead of stopping at the first
#   INTEROP_KEEP_TMP=1     keep the temporary directory (its path is printed)
#   INTEROP_SPY=1          load the provider through OpenSC's pkcs11-spy in pkcs11-tool
#                          calls; the call log goes to <tmp>/spy.log
#   INTEROP_PEER=softhsm2  run the same client checks against SoftHSM2 instead of the
#                          provider, to tell a script bug from a provider bug; the
#                          provider-only checks (blob files, PIN form) are skipped
#   INTEROP_DEVICE=pkcs11  the provider with DEVICE=pkcs11 in front of a SoftHSM2 token
#                          of the script's own (SoftHSM2 standing in for the vendor
#                          HSM): keys on SoftHSM2, certificates in the store; the
#                          storage-signing key is made on SoftHSM2 with pkcs11-tool

set -euo pipefail

INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$INTEROP_DIR/../.." && pwd)
SCRIPT_NAME=$(basename "$0" .sh)
STORE=${STORE:-local}
PEER=${INTEROP_PEER:-azcloudhsm}
DEVICE=${INTEROP_DEVICE:-soft}
readonly SOFTHSM2_LIB=/usr/lib/softhsm/libsofthsm2.so
# The provider's storage-signing key on the vendor token (DEVICE=pkcs11).
readonly SIGNING_KEY_ID=blob-signing-key

# The Azure PIN form is <user>:<password>.
readonly TOKEN_LABEL=test
readonly SO_PIN='so1:sopin1234'
readonly USER_PIN='cu1:user1234'
readonly CLIENT_TIMEOUT=120
# The documented development key of the storage emulator (not a secret).
readonly AZURITE_ACCOUNT_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

FAILURES=0
CHECKS=0

say() { printf '%s\n' "$*"; }

# Stops the script (or, with INTEROP_KEEP_GOING=1, counts the failure).
# $1: what was checked; the rest: extra lines to show.
fail() {
    local what=$1
    shift
    FAILURES=$((FAILURES + 1))
    {
        say "FAIL: [$SCRIPT_NAME/$STORE] $what"
        local line
        for line in "$@"; do say "$line"; done
        if [[ -s ${WORK:-/nonexistent}/provider.log ]]; then
            say "--- last lines of the provider log ($WORK/provider.log):"
            tail -n 20 "$WORK/provider.log"
        fi
    } >&2
    if [[ ${INTEROP_KEEP_GOING:-0} != 1 ]]; then
        exit 1
    fi
}

pass() {
    CHECKS=$((CHECKS + 1))
    say "ok: $*"
}

# skip WHAT WHY: a check that does not apply here, said out loud.
skip() {
    say "skip: $1 ($2)"
}

# check WHAT CMD [ARGS...]: runs CMD (bounded by a timeout); output in $OUT.
# Returns 1 (after reporting) when the command fails, so dependent checks can
# be skipped with `check ... && ...` under INTEROP_KEEP_GOING.
OUT=
check() {
    local what=$1
    shift
    OUT=$WORK/out.$((CHECKS + FAILURES)).txt
    local rc=0
    timeout "$CLIENT_TIMEOUT" "$@" >"$OUT" 2>&1 </dev/null || rc=$?
    if ((rc == 0)); then
        pass "$what"
        return 0
    fi
    local why="exit status $rc"
    ((rc == 124)) && why="timed out after ${CLIENT_TIMEOUT}s"
    fail "$what" "command: $*" "$why; output:" "$(cat "$OUT")"
    return 1
}

# expect_output WHAT ERE: the last check's output matches the extended regex.
expect_output() {
    local what=$1 pattern=$2
    if grep -Eq -- "$pattern" "$OUT"; then
        pass "$what"
    else
        fail "$what" "expected /$pattern/ in the output of the last command:" "$(cat "$OUT")"
        return 1
    fi
}

# refute_output WHAT ERE: the last check's output does not match.
refute_output() {
    local what=$1 pattern=$2
    if grep -Eq -- "$pattern" "$OUT"; then
        fail "$what" "did not expect /$pattern/ in the output of the last command:" "$(cat "$OUT")"
        return 1
    else
        pass "$what"
    fi
}

# same_file WHAT A B: byte-for-byte equal.
same_file() {
    local what=$1 a=$2 b=$3
    if cmp -- "$a" "$b" >/dev/null 2>&1; then
        pass "$what"
    else
        fail "$what" "$a and $b differ:" "$(cmp -- "$a" "$b" 2>&1 || true)" \
            "sizes: $(wc -c <"$a" 2>/dev/null || echo missing) vs $(wc -c <"$b" 2>/dev/null || echo missing)"
        return 1
    fi
}

is_provider() { [[ $PEER == azcloudhsm ]]; }

# Whose key work the checks exercise: SoftHSM2's as a peer and behind the
# provider's DEVICE=pkcs11, else the embedded device's. Checks of mechanisms
# SoftHSM2 lacks are skipped, with its reason, when the keys are SoftHSM2's.
keys_on_softhsm2() { ! is_provider || [[ $DEVICE == pkcs11 ]]; }
KEY_HOLDER=$PEER
if [[ $DEVICE == pkcs11 ]]; then KEY_HOLDER=SoftHSM2; fi

# The certificate blobs of the store, one name a line: the files of the local
# directory, or the blobs of the Azurite container (listed with the
# emulator's account key, independently of the provider).
blob_names() {
    case $STORE in
        local)
            find "$WORK/certificates" -maxdepth 1 -type f -name 'pkcs11_certificate_*' -printf '%f\n'
            ;;
        azurite)
            python3 "$INTEROP_DIR/azurite_blobs.py" "$AZURITE_BLOB_URL" "$CONTAINER" pkcs11_certificate_
            ;;
    esac
}

# count_blobs: sets BLOBS to the number of certificate blobs in the store; a
# store that cannot be listed is a failed check, never a count of zero.
BLOBS=
count_blobs() {
    local names
    if names=$(blob_names 2>&1); then
        BLOBS=$(grep -c '^pkcs11_certificate_' <<<"$names" || true)
    else
        BLOBS=unknown
        fail "the $STORE certificate store can be listed" "$names"
        return 1
    fi
}

# Only the provider keeps blobs (a peer keeps its certificates itself).
checks_blob_files() { is_provider; }

cleanup() {
    local rc=$?
    if [[ ${INTEROP_KEEP_TMP:-0} == 1 ]]; then
        say "kept $WORK" >&2
    else
        rm -rf -- "$WORK"
    fi
    exit "$rc"
}

# finish: the script's last line; non-zero when any check failed.
finish() {
    if ((FAILURES > 0)); then
        say "$SCRIPT_NAME [$STORE]: $FAILURES check(s) failed, $CHECKS passed" >&2
        exit 1
    fi
    say "$SCRIPT_NAME [$STORE]: all $CHECKS checks passed"
}

require_tool() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || {
            fail "tool $tool is installed" "$tool is not on PATH"
            exit 1
        }
    done
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/azcloudhsm-interop-$SCRIPT_NAME.XXXXXX")
trap cleanup EXIT
mkdir -p "$WORK/token" "$WORK/certificates"

case $PEER in
    azcloudhsm)
        LIB=${AZCLOUDHSM_PKCS11_LIB:-$REPO_ROOT/target/release/libazcloudhsm_pkcs11.so}
        [[ $LIB == /* ]] || LIB=$REPO_ROOT/$LIB
        # pkcs11-tool option selecting the slot: the provider's one slot is ID 1.
        INIT_SLOT=(--slot 1)
        SLOT=(--slot 1)
        JAVA_SLOT='slot = 1'
        ;;
    softhsm2)
        LIB=/usr/lib/softhsm/libsofthsm2.so
        export SOFTHSM2_CONF=$WORK/softhsm2.conf
        printf 'directories.tokendir = %s\nobjectstore.backend = file\nlibrary.reset_on_fork = true\n' \
            "$WORK/token" >"$SOFTHSM2_CONF"
        # SoftHSM2 moves an initialised token to a new slot ID: find it by label.
        INIT_SLOT=(--slot-index 0)
        SLOT=(--token-label "$TOKEN_LABEL")
        JAVA_SLOT='slotListIndex = 0'
        ;;
    *)
        fail "INTEROP_PEER is azcloudhsm or softhsm2" "got '$PEER'"
        ;;
esac
case $DEVICE in
    soft) ;;
    pkcs11)
        is_provider || fail "INTEROP_DEVICE=pkcs11 goes with the provider" "INTEROP_PEER is '$PEER'"
        [[ -f $SOFTHSM2_LIB ]] || fail "SoftHSM2 is installed for INTEROP_DEVICE=pkcs11" "$SOFTHSM2_LIB is missing"
        mkdir -p "$WORK/softhsm-tokens"
        export SOFTHSM2_CONF=$WORK/softhsm2.conf
        printf 'directories.tokendir = %s\nobjectstore.backend = file\n' \
            "$WORK/softhsm-tokens" >"$SOFTHSM2_CONF"
        ;;
    *)
        fail "INTEROP_DEVICE is soft or pkcs11" "got '$DEVICE'"
        ;;
esac
[[ -f $LIB ]] || fail "the PKCS#11 library exists" "$LIB is missing (run cargo build --release or set AZCLOUDHSM_PKCS11_LIB)"
export AZCLOUDHSM_PKCS11_LIB=$LIB

CONFIG=$WORK/azcloudhsm_application.cfg
{
    say "SOFT_TOKEN_DIR=$WORK/token"
    say "SOFT_KDF_ITERATIONS=1000"
    say "LOG_LEVEL=info"
    say "LOG_FILE=$WORK/provider.log"
    if [[ $DEVICE == pkcs11 ]]; then
        say "DEVICE=pkcs11"
        say "DEVICE_MODULE=$SOFTHSM2_LIB"
        say "CERTSTORAGE_SIGNING_KEYID=$SIGNING_KEY_ID"
    fi
    case $STORE in
        local)
            say "CERTSTORAGE_URL=file://$WORK/certificates"
            ;;
        azurite)
            [[ -n ${AZURITE_BLOB_URL:-} ]] \
                || fail "AZURITE_BLOB_URL is set for STORE=azurite" "start it with: eval \"\$(.ci/azurite.sh start)\""
            # Container names: 3-63 lowercase letters, digits and hyphens.
            CONTAINER="interop-${SCRIPT_NAME//_/-}-$(date +%s)-$$-$RANDOM"
            CONTAINER=${CONTAINER:0:63}
            say "CERTSTORAGE_URL=${AZURITE_BLOB_URL%/}/$CONTAINER"
            say "CERTSTORAGE_AUTH=connection_string"
            say "CERTSTORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_ACCOUNT_KEY;BlobEndpoint=${AZURITE_BLOB_URL%/};"
            ;;
        *)
            fail "STORE is local or azurite" "got '$STORE'"
            ;;
    esac
} >"$CONFIG"
export AZCLOUDHSM_CONFIG=$CONFIG

say "== $SCRIPT_NAME: peer=$PEER device=$DEVICE store=$STORE library=$LIB work=$WORK"

# P11: the pkcs11-tool command line on the provider (through pkcs11-spy with
# INTEROP_SPY=1); an array, so `check` can run it under `timeout`.
if [[ ${INTEROP_SPY:-0} == 1 ]]; then
    P11=(env "PKCS11SPY=$LIB" "PKCS11SPY_OUTPUT=$WORK/spy.log"
        pkcs11-tool --module /usr/lib/x86_64-linux-gnu/pkcs11-spy.so)
else
    P11=(pkcs11-tool --module "$LIB")
fi

# Initialises the token as "test" with the SO PIN and the user PIN cu1:user1234.
init_token() {
    check "pkcs11-tool --init-token --label $TOKEN_LABEL" \
        "${P11[@]}" "${INIT_SLOT[@]}" --init-token --label "$TOKEN_LABEL" --so-pin "$SO_PIN"
    check "pkcs11-tool --init-pin sets the user PIN $USER_PIN" \
        "${P11[@]}" "${SLOT[@]}" --init-pin --login --so-pin "$SO_PIN" --pin "$USER_PIN"
    if [[ $DEVICE == pkcs11 ]]; then
        # The vendor's administrator makes the storage-signing key on the HSM itself.
        check "pkcs11-tool on SoftHSM2 makes the storage-signing key $SIGNING_KEY_ID" \
            pkcs11-tool --module "$SOFTHSM2_LIB" --token-label "$TOKEN_LABEL" --login --pin "$USER_PIN" \
            --keypairgen --key-type rsa:2048 --id "$(printf %s "$SIGNING_KEY_ID" | od -An -tx1 | tr -d ' \n')" \
            --label "$SIGNING_KEY_ID"
    fi
}

# keygen ID LABEL KEY_TYPE: a token key pair through pkcs11-tool.
keygen() {
    local id=$1 label=$2 key_type=$3
    check "pkcs11-tool --keypairgen --key-type $key_type --id $id --label $label" \
        "${P11[@]}" "${SLOT[@]}" --login --pin "$USER_PIN" --keypairgen --key-type "$key_type" \
        --id "$id" --label "$label" --usage-sign
}

# export_public_key ID PEM: the public key, read off the token, as PEM.
export_public_key() {
    local id=$1 pem=$2
    check "pkcs11-tool --read-object --type pubkey --id $id gives the public key" \
        "${P11[@]}" "${SLOT[@]}" --read-object --type pubkey --id "$id" -o "$WORK/pub-$id.der" \
        && check "openssl reads the public key $id (SubjectPublicKeyInfo DER)" \
            openssl pkey -pubin -inform DER -in "$WORK/pub-$id.der" -out "$pem"
}

# Under INTEROP_KEEP_GOING a failed check returns 1 instead of exiting; the
# scripts then carry on (and `finish` reports the count).
if [[ ${INTEROP_KEEP_GOING:-0} == 1 ]]; then
    set +e
fi
