#!/usr/bin/env bash
# OpenSC pkcs11-tool against the provider: token and PIN set-up with the Azure
# "user:password" PIN form, RSA and EC key pairs, sign/verify round trips
# (checked by pkcs11-tool and by plain OpenSSL), a DER certificate written,
# listed, read back byte for byte and deleted (with its blob file), and
# pkcs11-tool's own --test, --test-ec, --test-fork and --test-threads.
# See tests/interop/common.sh for the environment it reads.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_tool pkcs11-tool openssl

LOGIN=(--login --pin "$USER_PIN")

# ----- the slot, the token and its PINs -----
check "pkcs11-tool --list-slots shows slot 1" "${P11[@]}" --list-slots
is_provider && expect_output "the slot list names slot 1 (0x1)" '^Slot [0-9]+ \(0x1\)'
init_token
check "pkcs11-tool --list-token-slots after --init-token" "${P11[@]}" --list-token-slots
expect_output "the token is labelled $TOKEN_LABEL" "token label +: $TOKEN_LABEL\$"
expect_output "the token reports its PIN as initialised" 'token flags +:.*PIN initialized'
is_provider && check "pkcs11-tool --login with a wrong PIN of the user:password form fails" \
    bash -c '! "$@"' _ "${P11[@]}" "${SLOT[@]}" --login --pin 'cu1:wrong-password' --list-objects
is_provider && expect_output "a wrong PIN gives CKR_PIN_INCORRECT" 'CKR_PIN_INCORRECT'

# ----- key pairs -----
keygen 01 rsa rsa:2048
expect_output "the RSA key pair is reported" 'Private Key Object; RSA'
keygen 02 ec EC:prime256v1
expect_output "the EC key pair is reported" 'Private Key Object; EC'
check "pkcs11-tool --list-objects (logged in)" "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --list-objects
expect_output "the RSA private key is listed" 'Private Key Object; RSA'
expect_output "the RSA public key is listed with its label" 'label: +rsa$'
expect_output "the EC private key is listed" 'Private Key Object; EC'
expect_output "the EC public key is listed with its label" 'label: +ec$'
check "pkcs11-tool --list-objects --type pubkey without login" \
    "${P11[@]}" "${SLOT[@]}" --list-objects --type pubkey
expect_output "public keys are visible without login" 'Public Key Object; RSA'
refute_output "private keys are not visible without login" 'Private Key Object'

export_public_key 01 "$WORK/rsa-pub.pem"
export_public_key 02 "$WORK/ec-pub.pem"

# ----- sign and verify -----
printf 'interop data to be signed\n' >"$WORK/data.txt"
openssl dgst -sha256 -binary "$WORK/data.txt" >"$WORK/data.sha256"

check "pkcs11-tool --sign -m SHA256-RSA-PKCS --id 01" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --sign -m SHA256-RSA-PKCS --id 01 \
    -i "$WORK/data.txt" -o "$WORK/rsa.sig"
check "pkcs11-tool --verify -m SHA256-RSA-PKCS accepts the signature" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id 01 \
    -i "$WORK/data.txt" --signature-file "$WORK/rsa.sig"
expect_output "pkcs11-tool says the RSA signature is valid" 'Signature is valid'
check "openssl dgst -sha256 -verify accepts the token's RSA signature" \
    openssl dgst -sha256 -verify "$WORK/rsa-pub.pem" -signature "$WORK/rsa.sig" "$WORK/data.txt"
printf 'tampered\n' >"$WORK/other.txt"
# pkcs11-tool 0.23 prints "Invalid signature" but exits 0.
check "pkcs11-tool --verify of the RSA signature over other data runs" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --verify -m SHA256-RSA-PKCS --id 01 \
    -i "$WORK/other.txt" --signature-file "$WORK/rsa.sig"
expect_output "pkcs11-tool reports the RSA signature over other data invalid" 'Invalid signature'
refute_output "pkcs11-tool does not call it valid" 'Signature is valid'

check "pkcs11-tool --sign -m RSA-PKCS-PSS --hash-algorithm SHA256 --id 01" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --sign -m SHA256-RSA-PKCS-PSS --id 01 \
    -i "$WORK/data.txt" -o "$WORK/rsa-pss.sig"
check "openssl verifies the token's SHA256-RSA-PKCS-PSS signature" \
    openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -verify "$WORK/rsa-pub.pem" -signature "$WORK/rsa-pss.sig" "$WORK/data.txt"

if ! keys_on_softhsm2; then
    # The Azure mechanism list has CKM_ECDSA_SHA256 (SoftHSM2 has not).
    check "pkcs11-tool --sign -m ECDSA-SHA256 --id 02" \
        "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --sign -m ECDSA-SHA256 --id 02 \
        -i "$WORK/data.txt" -o "$WORK/ec.sig" \
        && check "pkcs11-tool --verify -m ECDSA-SHA256 accepts the signature" \
            "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --verify -m ECDSA-SHA256 --id 02 \
            -i "$WORK/data.txt" --signature-file "$WORK/ec.sig" \
        && expect_output "pkcs11-tool says the ECDSA-SHA256 signature is valid" 'Signature is valid'
else
    skip "pkcs11-tool -m ECDSA-SHA256" "$KEY_HOLDER has no CKM_ECDSA_SHA256"
fi
check "pkcs11-tool --sign -m ECDSA over a SHA-256 digest, DER (openssl) format" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --sign -m ECDSA --id 02 --signature-format openssl \
    -i "$WORK/data.sha256" -o "$WORK/ec-raw.der"
check "openssl dgst -sha256 -verify accepts the token's ECDSA signature" \
    openssl dgst -sha256 -verify "$WORK/ec-pub.pem" -signature "$WORK/ec-raw.der" "$WORK/data.txt"
check "pkcs11-tool --verify -m ECDSA accepts the DER signature" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --verify -m ECDSA --id 02 --signature-format openssl \
    -i "$WORK/data.sha256" --signature-file "$WORK/ec-raw.der"
expect_output "pkcs11-tool says the ECDSA signature is valid" 'Signature is valid'

# ----- a certificate written, listed, read back and deleted -----
check "openssl makes a self-signed DER certificate outside the token" \
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/outside-key.pem" \
    -subj '/CN=azcloudhsm interop/O=pkcs11-tool' -days 30 -outform DER -out "$WORK/cert.der"
before=0
if checks_blob_files; then
    count_blobs && before=$BLOBS
fi
check "pkcs11-tool --write-object cert.der --type cert --id 01 --label rsa-cert" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --write-object "$WORK/cert.der" --type cert \
    --id 01 --label rsa-cert
if checks_blob_files && count_blobs; then
    if ((BLOBS == before + 1)); then
        pass "a blob pkcs11_certificate_* appeared in the $STORE store"
    else
        fail "a blob pkcs11_certificate_* appeared in the $STORE store" \
            "$before blob(s) before, $BLOBS after:" "$(blob_names 2>&1)"
    fi
fi
check "pkcs11-tool --list-objects --type cert (no login)" \
    "${P11[@]}" "${SLOT[@]}" --list-objects --type cert
expect_output "the certificate is listed" '^Certificate Object; type = X\.509 cert'
expect_output "the certificate's label is rsa-cert" 'label: +rsa-cert$'
expect_output "the certificate's subject is shown" 'subject: +DN: CN ?= ?azcloudhsm interop'
expect_output "the certificate's ID is 01" 'ID: +01$'
check "pkcs11-tool --read-object --type cert --id 01" \
    "${P11[@]}" "${SLOT[@]}" --read-object --type cert --id 01 -o "$WORK/cert-back.der"
same_file "the certificate read back is identical to cert.der" "$WORK/cert.der" "$WORK/cert-back.der"
check "pkcs11-tool --read-object --type cert --label rsa-cert" \
    "${P11[@]}" "${SLOT[@]}" --read-object --type cert --label rsa-cert -o "$WORK/cert-back2.der"
same_file "the certificate read back by label is identical to cert.der" "$WORK/cert.der" "$WORK/cert-back2.der"
check "a fresh process lists the certificate again (it persisted)" \
    "${P11[@]}" "${SLOT[@]}" --list-objects --type cert
expect_output "the certificate is still there" 'label: +rsa-cert$'
check "pkcs11-tool --delete-object --type cert --id 01" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --delete-object --type cert --id 01
check "pkcs11-tool --list-objects --type cert after the delete" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --list-objects --type cert
refute_output "the certificate is gone" 'Certificate Object'
if checks_blob_files && count_blobs; then
    if ((BLOBS == before)); then
        pass "the certificate's blob is gone from the $STORE store"
    else
        fail "the certificate's blob is gone from the $STORE store" "$(blob_names 2>&1)"
    fi
fi
check "pkcs11-tool --list-objects --type privkey after the delete" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --list-objects --type privkey
expect_output "deleting the certificate left the RSA key alone" 'label: +rsa$'

# ----- pkcs11-tool's own test suites -----
if ! keys_on_softhsm2; then
    check "pkcs11-tool --test --login --pin $USER_PIN" "${P11[@]}" "${SLOT[@]}" --test "${LOGIN[@]}"
    expect_output "pkcs11-tool --test reports no errors" '^No errors$'
else
    skip "pkcs11-tool --test" "it decrypts with OAEP over SHA-256; $KEY_HOLDER's OAEP is SHA-1 only (C_DecryptInit: CKR_ARGUMENTS_BAD)"
fi
check "pkcs11-tool --list-mechanisms" "${P11[@]}" "${SLOT[@]}" --list-mechanisms
# --test-ec generates a P-256 pair with the given ID, renames its CKA_ID and
# signs with ECDSA-SHA1, hence the read-write session. The provider
# advertises CKM_ECDSA_SHA1, so for it a missing entry is a failure.
run_test_ec=1
if ! keys_on_softhsm2; then
    expect_output "the mechanism list has ECDSA-SHA1" '^ *ECDSA-SHA1' || run_test_ec=0
elif ! grep -q '^ *ECDSA-SHA1' "$OUT"; then
    skip "pkcs11-tool --test-ec" "it signs with CKM_ECDSA_SHA1, which $KEY_HOLDER does not list"
    run_test_ec=0
fi
if ((run_test_ec)); then
    check "pkcs11-tool --test-ec --session-rw --login" \
        "${P11[@]}" "${SLOT[@]}" --test-ec --session-rw "${LOGIN[@]}" \
        --id 03 --label test-ec --key-type EC:prime256v1
    expect_output "pkcs11-tool --test-ec signs, renames and deletes its key pair" '^==> OK$'
fi
check "pkcs11-tool --test-fork (C_Initialize again in a child)" \
    "${P11[@]}" "${SLOT[@]}" --test-fork
if is_provider; then
    # pkcs11-tool reads each argument as two-letter commands with no
    # separator (IL: C_Initialize with CKF_OS_LOCKING_OK, IN: with NULL,
    # GI: C_GetInfo, SL: C_GetSlotList, T0: C_GetTokenInfo of slot index 0);
    # an unknown pair ends the thread early, so the output is checked for
    # that as well as for the verdict. Several rounds: each is a new race.
    for round in 1 2 3; do
        check "pkcs11-tool --test-threads on 4 threads, round $round" \
            "${P11[@]}" --test-threads ILGISLT0GISLT0 --test-threads INGISLT0SLGI \
            --test-threads ILSLT0GIT0 --test-threads INSLT0GIT0
        expect_output "round $round: every thread ended with CKR_OK" \
            '^test_threads all threads have ended with CKR_OK$'
        refute_output "round $round: every command was one pkcs11-tool knows" 'Unknown test'
        refute_output "round $round: no thread reported an error" 'ERR|failed|CKR_[A-Z_]+ *\(0x[1-9a-f]'
    done
else
    skip "pkcs11-tool --test-threads" "$PEER crashes (SIGSEGV) when 4 threads call C_Initialize at once"
fi

finish
