//! Gives the shared library the soname applications expect and links it
//! so that `dlclose` never unmaps it; under
//! AddressSanitizer (`.ci/asan.sh`), makes the test programs export the
//! sanitizer's runtime (`.ci/asan-exports.list`), which the instrumented
//! library they load with `dlopen` links against.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libazcloudhsm_pkcs11.so");
    // The bundled OpenSSL registers thread-exit handlers inside this
    // library; unloading it while such a thread lives would leave them
    // pointing at unmapped code, so `dlclose` never unmaps it.
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    let sanitizers = std::env::var("CARGO_CFG_SANITIZE").unwrap_or_default();
    if sanitizers.split(',').any(|s| s == "address") {
        let list = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/asan-exports.list");
        println!(
            "cargo:rustc-link-arg-tests=-Wl,--dynamic-list={}",
            list.display()
        );
        println!("cargo:rerun-if-changed=.ci/asan-exports.list");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
