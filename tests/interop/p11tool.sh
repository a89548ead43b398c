#!/usr/bin/env bash
# GnuTLS p11tool against the provider: the token and a certificate listed by
# pkcs11: URIs, the certificate exported as PEM equal to the original, a
# test signature with the token key; and the p11-kit module file, checked
# with `p11-kit list-modules` and with p11tool finding the token through it.
# See tests/interop/common.sh for the environment it reads.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_tool pkcs11-tool openssl p11tool

LOGIN=(--login --pin "$USER_PIN")
P11TOOL=(p11tool --batch --provider "$LIB")

init_token
keygen 01 rsa rsa:2048
check "openssl makes a self-signed DER certificate outside the token" \
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/outside-key.pem" \
    -subj '/CN=azcloudhsm interop/O=p11tool' -days 30 -outform DER -out "$WORK/cert.der"
check "pkcs11-tool --write-object cert.der --type cert --id 01 --label rsa-cert" \
    "${P11[@]}" "${SLOT[@]}" "${LOGIN[@]}" --write-object "$WORK/cert.der" --type cert \
    --id 01 --label rsa-cert

check "p11tool --provider <lib> --list-tokens" "${P11TOOL[@]}" --list-tokens
expect_output "p11tool shows the token labelled $TOKEN_LABEL" "Label: $TOKEN_LABEL\$"
expect_output "p11tool names the token by a pkcs11: URL" "URL: pkcs11:.*token=$TOKEN_LABEL"
check "p11tool --list-token-urls" "${P11TOOL[@]}" --list-token-urls
token_url=$(grep -m1 "token=$TOKEN_LABEL" "$OUT" || true)
if [[ -n $token_url ]]; then pass "the token's URL is $token_url"; else
    fail "the token's URL is listed" "$(cat "$OUT")"; token_url="pkcs11:token=$TOKEN_LABEL"; fi

check "p11tool --list-all-certs (no login)" "${P11TOOL[@]}" --list-all-certs "$token_url"
expect_output "the certificate is listed by a pkcs11: URI" 'URL: pkcs11:.*object=rsa-cert;type=cert'
expect_output "the certificate's label is rsa-cert" 'Label: rsa-cert$'
cert_url=$(sed -n 's/^[[:space:]]*URL: \(pkcs11:.*type=cert\)$/\1/p' "$OUT" | head -n1)
[[ -n $cert_url ]] || cert_url="$token_url;object=rsa-cert;type=cert"
check "p11tool --export $cert_url" "${P11TOOL[@]}" --export "$cert_url" --outfile "$WORK/exported.pem"
check "openssl reads the exported PEM" \
    openssl x509 -in "$WORK/exported.pem" -outform DER -out "$WORK/exported.der"
same_file "the exported certificate equals the original" "$WORK/cert.der" "$WORK/exported.der"
short_url="pkcs11:token=$TOKEN_LABEL;object=rsa-cert;type=cert"
check "p11tool --export $short_url (a short URI)" \
    "${P11TOOL[@]}" --export "$short_url" --outfile "$WORK/exported-short.pem"
same_file "the short URI exports the same PEM" "$WORK/exported.pem" "$WORK/exported-short.pem"

check "p11tool --login --list-certs (certificates with a private key)" \
    "${P11TOOL[@]}" --login --set-pin="$USER_PIN" --list-certs "$token_url"
expect_output "the certificate is paired with the token key by ID" 'Label: rsa-cert$'
check "p11tool --login --list-all-privkeys" \
    "${P11TOOL[@]}" --login --set-pin="$USER_PIN" --list-all-privkeys "$token_url"
expect_output "the private key is listed by URI" 'URL: pkcs11:.*object=rsa;type=private'
check "p11tool --login --test-sign with the private key" \
    "${P11TOOL[@]}" --login --set-pin="$USER_PIN" --test-sign "$token_url;object=rsa;type=private"
expect_output "p11tool's test signature verifies" 'Verifying against public key in the token\.\.\. ok'

# ----- the p11-kit module file -----
if command -v p11-kit >/dev/null 2>&1; then
    # p11-kit reads per-user modules from ~/.config/pkcs11/modules, but skips
    # the user configuration in a program running as root ("skipping user
    # config in program running as root"): as root, run the p11-kit clients as
    # nobody, with the temporary directory handed over to them.
    home=$WORK/home
    module_lib=$LIB
    as_user=(env HOME="$home")
    if (($(id -u) == 0)); then
        as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups "${as_user[@]}")
        # A checkout under /root is out of nobody's reach: use a copy.
        if ! "${as_user[@]}" test -r "$LIB"; then
            mkdir -p "$WORK/lib"
            module_lib=$WORK/lib/$(basename "$LIB")
            cp -- "$LIB" "$module_lib"
        fi
    fi
    mkdir -p "$home/.config/pkcs11/modules"
    sed "s|@MODULE_PATH@|$module_lib|" "$INTEROP_DIR/azcloudhsm.module.in" \
        >"$home/.config/pkcs11/modules/azcloudhsm.module"
    # Handed over to nobody, not opened to everyone: the provider refuses a
    # token directory that another user owns or could change.
    if (($(id -u) == 0)); then chown -R 65534:65534 "$WORK"; fi
    check "p11-kit list-modules with ~/.config/pkcs11/modules/azcloudhsm.module" \
        "${as_user[@]}" p11-kit list-modules
    # (A peer already registered system-wide keeps its system module name.)
    is_provider \
        && expect_output "p11-kit lists the azcloudhsm module and its library" "^azcloudhsm: $module_lib\$"
    expect_output "p11-kit sees the token through the module" "token: $TOKEN_LABEL\$"
    check "p11tool without --provider finds the token through p11-kit" \
        "${as_user[@]}" p11tool --batch --list-all-certs "pkcs11:token=$TOKEN_LABEL"
    expect_output "the certificate is listed through p11-kit" 'Label: rsa-cert$'
else
    fail "p11-kit is installed (apt package p11-kit)" "p11-kit is not on PATH"
fi

finish
