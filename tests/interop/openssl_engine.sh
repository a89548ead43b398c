#!/usr/bin/env bash
# OpenSSL 3 with the libp11 pkcs11 engine against the provider: RSA and EC
# signatures made by token keys through `pkeyutl` and `dgst`, verified by
# plain OpenSSL with the public key read off the token; a CSR and a
# self-signed certificate made with the token key; the certificate stored on
# the token and read back.
# See tests/interop/common.sh for the environment it reads.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_tool pkcs11-tool openssl

engine_path=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')/pkcs11.so
[[ -f $engine_path ]] \
    || fail "the libp11 engine is installed" "$engine_path is missing (apt package libengine-pkcs11-openssl)"
sed -e "s|@ENGINE_PATH@|$engine_path|" -e "s|@MODULE_PATH@|$LIB|" \
    "$INTEROP_DIR/openssl.cnf.in" >"$WORK/openssl.cnf"
export OPENSSL_CONF=$WORK/openssl.cnf

LOGIN=(--login --pin "$USER_PIN")
RSA_KEY="pkcs11:token=$TOKEN_LABEL;id=%01;type=private;pin-value=$USER_PIN"
EC_KEY="pkcs11:token=$TOKEN_LABEL;id=%02;type=private;pin-value=$USER_PIN"
ENGINE=(-engine pkcs11 -keyform engine)

init_token
keygen 01 rsa rsa:2048
keygen 02 ec EC:prime256v1
export_public_key 01 "$WORK/rsa-pub.pem"
export_public_key 02 "$WORK/ec-pub.pem"

check "openssl engine pkcs11 -t loads the engine with the provider" openssl engine pkcs11 -t
expect_output "the engine is available" '\[ available \]'

printf 'interop data to be signed through the engine\n' >"$WORK/data.txt"
openssl dgst -sha256 -binary "$WORK/data.txt" >"$WORK/data.sha256"

# ----- signatures -----
for kind in rsa ec; do
    if [[ $kind == rsa ]]; then key=$RSA_KEY; else key=$EC_KEY; fi
    pub=$WORK/$kind-pub.pem
    check "openssl pkeyutl -engine pkcs11 -sign with the token's $kind key (digest:sha256)" \
        openssl pkeyutl "${ENGINE[@]}" -inkey "$key" -sign -in "$WORK/data.sha256" \
        -pkeyopt digest:sha256 -out "$WORK/$kind-pkeyutl.sig" \
        && check "openssl pkeyutl -verify (no engine) accepts the $kind signature" \
            openssl pkeyutl -verify -pubin -inkey "$pub" -in "$WORK/data.sha256" \
            -sigfile "$WORK/$kind-pkeyutl.sig" -pkeyopt digest:sha256
    check "openssl dgst -sha256 -engine pkcs11 -sign with the token's $kind key" \
        openssl dgst -sha256 "${ENGINE[@]}" -sign "$key" -out "$WORK/$kind-dgst.sig" "$WORK/data.txt" \
        && check "openssl dgst -sha256 -verify (no engine) accepts the $kind signature" \
            openssl dgst -sha256 -verify "$pub" -signature "$WORK/$kind-dgst.sig" "$WORK/data.txt"
done
check "openssl dgst -sha256 -engine pkcs11 -sign with RSA-PSS padding" \
    openssl dgst -sha256 "${ENGINE[@]}" -sign "$RSA_KEY" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:32 -out "$WORK/rsa-pss.sig" "$WORK/data.txt" \
    && check "openssl dgst -verify (no engine) accepts the RSA-PSS signature" \
        openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
        -verify "$WORK/rsa-pub.pem" -signature "$WORK/rsa-pss.sig" "$WORK/data.txt"

# ----- a CSR and a self-signed certificate with the token keys -----
for kind in rsa ec; do
    if [[ $kind == rsa ]]; then key=$RSA_KEY; else key=$EC_KEY; fi
    check "openssl req -new -engine pkcs11 makes a CSR with the token's $kind key" \
        openssl req -new "${ENGINE[@]}" -key "$key" -subj "/CN=test-$kind" -out "$WORK/$kind.csr" \
        && check "openssl req -verify accepts the $kind CSR's signature" \
            openssl req -verify -noout -in "$WORK/$kind.csr" \
        && check "openssl req -pubkey reads the $kind CSR's public key" \
            openssl req -noout -pubkey -in "$WORK/$kind.csr" -out "$WORK/$kind-csr-pub.pem" \
        && same_file "the $kind CSR holds the token's public key" "$WORK/$kind-pub.pem" "$WORK/$kind-csr-pub.pem"
done

check "openssl req -x509 -engine pkcs11 makes a self-signed certificate with the RSA token key" \
    openssl req -x509 -new "${ENGINE[@]}" -key "$RSA_KEY" -subj '/CN=test/O=azcloudhsm interop' \
    -days 30 -out "$WORK/self.pem"
check "openssl verify accepts the self-signed certificate" \
    openssl verify -CAfile "$WORK/self.pem" "$WORK/self.pem"
check "openssl x509 converts it to DER" \
    openssl x509 -in "$WORK/self.pem" -outform DER -out "$WORK/self.der"
openssl x509 -in "$WORK/self.pem" -noout -pubkey >"$WORK/self-pub.pem"
same_file "the certificate holds the token's RSA public key" "$WORK/rsa-pub.pem" "$WORK/self-pub.pem"

# ----- the certificate stored on the token and read back -----
check "pkcs11-tool --write-object self.der --type cert --id 01 --label rsa-cert" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --write-object "$WORK/self.der" --type cert \
    --id 01 --label rsa-cert
# libp11 loads certificates only through the engine's LOAD_CERT_CTRL, which
# the openssl command line does not expose (storeutl uses OSSL_STORE loaders,
# which the engine does not register), so the read-back goes through
# pkcs11-tool.
check "pkcs11-tool --read-object --type cert --id 01 reads the certificate back" \
    "${P11[@]}" "${SLOT[@]}" --read-object --type cert --id 01 -o "$WORK/self-back.der"
same_file "the certificate read back equals the one openssl made" "$WORK/self.der" "$WORK/self-back.der"
# The engine still signs with the key now that a certificate shares its ID.
check "openssl dgst -engine pkcs11 still signs with id=%01 beside its certificate" \
    openssl dgst -sha256 "${ENGINE[@]}" -sign "$RSA_KEY" -out "$WORK/rsa-again.sig" "$WORK/data.txt" \
    && check "openssl verifies that signature with the certificate's public key" \
        openssl dgst -sha256 -verify "$WORK/self-pub.pem" -signature "$WORK/rsa-again.sig" "$WORK/data.txt"
# A signing key found by label rather than ID.
check "openssl pkeyutl -engine pkcs11 finds the EC key by object=ec" \
    openssl pkeyutl "${ENGINE[@]}" -sign -in "$WORK/data.sha256" -out "$WORK/ec-label.sig" \
    -inkey "pkcs11:token=$TOKEN_LABEL;object=ec;type=private;pin-value=$USER_PIN" \
    && check "openssl verifies the signature made with the key found by label" \
        openssl pkeyutl -verify -pubin -inkey "$WORK/ec-pub.pem" -in "$WORK/data.sha256" \
        -sigfile "$WORK/ec-label.sig"

finish
