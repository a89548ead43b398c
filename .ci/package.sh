#!/usr/bin/env bash
# The Debian package: built with `cargo deb --no-build` from the release build
# in $CARGO_TARGET_DIR (else target/), installed with dpkg -i, checked the way
# a user meets it (p11-kit lists the module and its token, pkcs11-tool uses
# the installed module, the tool runs, the headers compile), then purged.
# Needs root (dpkg -i); .ci/run calls it after `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

fail() { echo "package check: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "installing the package needs root (dpkg -i)"
command -v dpkg >/dev/null || fail "dpkg is missing"
if ! command -v cargo-deb >/dev/null; then
  # Compiled from crates.io, outside the build's own target directory.
  env -u CARGO_TARGET_DIR cargo install cargo-deb --locked
fi

target_dir=${CARGO_TARGET_DIR:-$root/target}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
deb="$target_dir/debian/azcloudhsm-pkcs11_${version}_amd64.deb"
for built in "$target_dir/release/libazcloudhsm_pkcs11.so" "$target_dir/release/azcloudhsm-certs"; do
  [ -f "$built" ] || fail "$built is missing: run cargo build --release first"
done
rm -f "$deb"
cargo deb --no-build
[ -f "$deb" ] || fail "cargo deb did not write $deb"
echo "built $deb"

module=/usr/lib/x86_64-linux-gnu/pkcs11/libazcloudhsm_pkcs11.so
installed=(
  "$module"
  /usr/share/p11-kit/modules/azcloudhsm.module
  /usr/bin/azcloudhsm-certs
  /usr/include/azcloudhsm/cryptoki.h
  /usr/include/azcloudhsm/pkcs11f.h
  /usr/include/azcloudhsm/pkcs11t.h
  /usr/include/azcloudhsm/azcloudhsm_pkcs11.h
  /usr/share/doc/azcloudhsm-pkcs11/azcloudhsm_application.cfg.sample
  /usr/share/doc/azcloudhsm-pkcs11/copyright
)

work=$(mktemp -d "${TMPDIR:-/tmp}/azcloudhsm-package.XXXXXX")
cleanup() {
  if dpkg -s azcloudhsm-pkcs11 >/dev/null 2>&1; then dpkg --purge azcloudhsm-pkcs11 >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
if dpkg -s azcloudhsm-pkcs11 >/dev/null 2>&1; then
  fail "azcloudhsm-pkcs11 is installed already; this check installs and purges its own build"
fi

dpkg -i "$deb"
for path in "${installed[@]}"; do
  [ -f "$path" ] || fail "the package did not install $path"
done
dpkg -L azcloudhsm-pkcs11 | grep -qx "$module" || fail "dpkg -L does not list $module"

# The module's defaults would put a token in root's home: give it its own.
export AZCLOUDHSM_CONFIG="$work/azcloudhsm_application.cfg"
mkdir -p "$work/token" "$work/certificates"
cat >"$AZCLOUDHSM_CONFIG" <<EOF
SOFT_TOKEN_DIR=$work/token
CERTSTORAGE_URL=file://$work/certificates
SOFT_KDF_ITERATIONS=1000
EOF
label=azcloudhsm-package
pkcs11-tool --module "$module" --init-token --label "$label" --so-pin so1:so1234 >/dev/null

pkcs11-tool --module "$module" -L | tee "$work/slots.txt"
grep -q "token label *: $label" "$work/slots.txt" || fail "pkcs11-tool -L does not show the token $label"

p11-kit list-modules | tee "$work/modules.txt"
awk -v label="$label" '
  /^[^ ]/ { in_ours = ($1 == "azcloudhsm:") }
  in_ours && $1 == "token:" && $2 == label { found = 1 }
  END { exit !found }
' "$work/modules.txt" || fail "p11-kit list-modules does not show module azcloudhsm with token $label"

azcloudhsm-certs --version
azcloudhsm-certs list | tee "$work/list.txt"
grep -q '^0 certificates in ' "$work/list.txt" || fail "azcloudhsm-certs list did not run over the empty store"

cc -Wall -Werror -I/usr/include/azcloudhsm "$root/examples/certificate_samples.c" -ldl \
  -o "$work/certificate_samples" || fail "the installed headers do not compile the C samples"

dpkg --purge azcloudhsm-pkcs11
for path in "${installed[@]}"; do
  [ ! -e "$path" ] || fail "purge left $path"
done
echo "package check passed: installed, p11-kit and pkcs11-tool see the token, purged"
