#!/usr/bin/env bash
# Java 17 SunPKCS11 against the provider: keytool lists the RSA and EC private
# keys as PrivateKeyEntry, each paired with its certificate by CKA_ID, and
# java/InteropCheck.java signs with them, verifies in software, and stores,
# reloads and deletes a certificate through the PKCS11 KeyStore (setKeyEntry:
# SunPKCS11 refuses setCertificateEntry on every token but NSS).
# See tests/interop/common.sh for the environment it reads.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_tool pkcs11-tool openssl java keytool

LOGIN=(--login --pin "$USER_PIN")

init_token
keygen 01 rsa rsa:2048
keygen 02 ec EC:prime256v1
export_public_key 01 "$WORK/rsa-pub.pem"
export_public_key 02 "$WORK/ec-pub.pem"

# Certificates for the token keys, made without the token: a throwaway CA
# signs certificates that carry the token's public keys (-force_pubkey).
check "openssl makes a throwaway CA" \
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/ca.key" -subj '/CN=interop CA' \
    -days 30 -out "$WORK/ca.pem"
check "openssl makes a request to carry the public keys" \
    openssl req -new -newkey rsa:2048 -nodes -keyout "$WORK/tmp.key" -subj '/CN=placeholder' \
    -out "$WORK/tmp.csr"
id=1
for kind in rsa ec; do
    check "openssl issues a certificate for the token's $kind public key" \
        openssl x509 -req -in "$WORK/tmp.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
        -CAcreateserial -force_pubkey "$WORK/$kind-pub.pem" -subj "/CN=java-$kind" -days 30 \
        -outform DER -out "$WORK/$kind-cert.der"
    check "pkcs11-tool --write-object $kind-cert.der --type cert --id 0$id --label $kind-cert" \
        "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --write-object "$WORK/$kind-cert.der" --type cert \
        --id "0$id" --label "$kind-cert"
    id=$((id + 1))
done
check "openssl issues the extra certificate (a renewal for the EC key) for Java to store" \
    openssl x509 -req -in "$WORK/tmp.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -force_pubkey "$WORK/ec-pub.pem" -subj "/CN=java-ec-renewed" -days 60 \
    -outform DER -out "$WORK/extra.der"

cat >"$WORK/sunpkcs11.cfg" <<EOF
name = azcloudhsm
library = $LIB
$JAVA_SLOT
EOF

keytool_list=(keytool -list -storetype PKCS11 -addprovider SunPKCS11
    -providerArg "$WORK/sunpkcs11.cfg" -storepass "$USER_PIN")
check "keytool -list -storetype PKCS11 -addprovider SunPKCS11" "${keytool_list[@]}"
expect_output "keytool lists the RSA key with its certificate as a PrivateKeyEntry" '^rsa-cert, PrivateKeyEntry'
expect_output "keytool lists the EC key with its certificate as a PrivateKeyEntry" '^ec-cert, PrivateKeyEntry'
expect_output "keytool counts 2 entries" 'Your keystore contains 2 entries'
check "keytool -list -v -alias rsa-cert shows the certificate" "${keytool_list[@]}" -v -alias rsa-cert
expect_output "the RSA entry's certificate is the one written" 'Owner: CN=java-rsa'

check "java InteropCheck.java: SunPKCS11 KeyStore, signatures and a certificate entry" \
    java "$INTEROP_DIR/java/InteropCheck.java" "$WORK/sunpkcs11.cfg" "$USER_PIN" "$WORK/extra.der"
sed 's/^/   java: /' "$OUT"
expect_output "InteropCheck reports every check passed" '^InteropCheck: all checks passed$'

check "pkcs11-tool --list-objects --type cert after the Java program" \
    "${P11[@]}" "${SLOT[@]}" --list-objects --type cert
refute_output "the certificate Java deleted is gone for other clients too" 'CN ?= ?java-ec-renewed'
expect_output "the RSA certificate is still there" 'label: +rsa-cert$'

finish
