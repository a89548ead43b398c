//! Gives the shared library the soname applications expect.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libazcloudhsm_pkcs11.so");
    println!("cargo:rerun-if-changed=build.rs");
}
