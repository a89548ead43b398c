//! The C headers in `include/` and the C programs in `examples/`, compiled
//! with the system C compiler (`cc`) and run against the built library.
//!
//! Each program gets a fresh token directory and certificate directory and
//! its own `azcloudhsm_application.cfg`, found through `AZCLOUDHSM_CONFIG`.
//! The token is initialised through the C ABI with the `cryptoki` crate
//! before the program runs, because the vendor's programs (like ours) expect
//! an initialised token with a `user:password` PIN in slot 1.
//!
//! The library is found by [`common::library_path`].

mod common;

use common::{
    initialize_token, library_path, lock, manifest_dir, CertificateStorage, ChildProcess,
    TokenDirectory, CONFIG_ENV, USER_PIN,
};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PROGRAM_TIMEOUT: Duration = Duration::from_secs(60);
const CERTIFICATE_BLOB_PREFIX: &str = "pkcs11_certificate_";

fn include_dir() -> PathBuf {
    manifest_dir().join("include")
}

/// Compiles one C source file with warnings as errors; panics with the
/// compiler's output if it does not compile.
fn compile(source: &Path, output_dir: &Path, libraries: &[&str]) -> PathBuf {
    let executable = output_dir.join(source.file_stem().expect("source file name"));
    let output = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(include_dir())
        .arg(source)
        .arg("-o")
        .arg(&executable)
        .args(libraries)
        .output()
        .expect("run cc");
    assert!(
        output.status.success(),
        "{} does not compile:\n{}{}",
        source.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    executable
}

fn example(name: &str) -> PathBuf {
    manifest_dir().join("examples").join(name)
}

/// A fresh token and certificate store, with the configuration that names them.
struct Environment {
    directory: TokenDirectory,
    config: PathBuf,
}

impl Environment {
    /// Writes the configuration and initialises the token (SO PIN, then the
    /// user PIN) through the library's C ABI, in this process; the programs
    /// then run in their own.
    fn new() -> Environment {
        let directory = TokenDirectory::new();
        let config = directory.write_config(CertificateStorage::Local, &[]);
        {
            let _lock = lock();
            initialize_token(&config);
            std::env::remove_var(CONFIG_ENV);
        }
        Environment { directory, config }
    }

    /// Names of the certificate blobs left in the certificate store.
    fn certificate_blobs(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.directory.certificates_dir())
            .expect("read certificates directory")
            .map(|entry| {
                entry
                    .expect("directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.starts_with(CERTIFICATE_BLOB_PREFIX))
            .collect();
        names.sort();
        names
    }

    /// Runs a program with this environment, kills it after the timeout,
    /// prints its output and returns (success, stdout + stderr + the
    /// provider's log).
    fn run<S: AsRef<OsStr>>(&self, program: &Path, args: &[S]) -> (bool, String) {
        let mut command = Command::new(program);
        command
            .args(args)
            .env(CONFIG_ENV, &self.config)
            .env("AZCLOUDHSM_PIN", USER_PIN)
            .current_dir(self.directory.root());
        let finished =
            ChildProcess::spawn(&program.display().to_string(), &mut command).wait(PROGRAM_TIMEOUT);
        // The provider logs to the file the configuration names, not to stderr.
        let log =
            fs::read_to_string(self.directory.root().join("provider.log")).unwrap_or_default();
        let output = format!(
            "{}{}--- provider log ---\n{log}",
            finished.stdout, finished.stderr
        );
        println!("--- {} ---\n{output}", program.display());
        match finished.status {
            None => (
                false,
                format!("{output}\n(killed after {PROGRAM_TIMEOUT:?})"),
            ),
            Some(status) => (
                status.success(),
                format!("{output}\n(exit status: {status})"),
            ),
        }
    }
}

/// A self-signed RSA-2048 certificate in PEM form.
fn self_signed_certificate_pem() -> Vec<u8> {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let key = PKey::from_rsa(Rsa::generate(2048).expect("RSA key")).expect("PKey");
    let mut name = X509NameBuilder::new().expect("name builder");
    name.append_entry_by_text("CN", "azure-sdk-sample")
        .expect("CN");
    name.append_entry_by_text("O", "azcloudhsm-pkcs11 tests")
        .expect("O");
    let name = name.build();
    let mut builder = X509Builder::new().expect("certificate builder");
    builder.set_version(2).expect("version");
    let serial = BigNum::from_u32(0x5a17)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    builder.set_serial_number(&serial).expect("serial");
    builder.set_subject_name(&name).expect("subject");
    builder.set_issuer_name(&name).expect("issuer");
    builder.set_pubkey(&key).expect("public key");
    builder
        .set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("not before");
    builder
        .set_not_after(&Asn1Time::days_from_now(365).expect("time"))
        .expect("not after");
    builder.sign(&key, MessageDigest::sha256()).expect("sign");
    builder.build().to_pem().expect("PEM")
}

#[test]
fn headers_match_the_abi_layout() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // Every size, alignment and offset cryptoki-sys asserts, as _Static_assert.
    let layout = compile(
        &manifest_dir().join("tests/c/abi_layout.c"),
        dir.path(),
        &[],
    );
    let status = Command::new(&layout).status().expect("run abi_layout");
    assert!(status.success());

    // Each header stands on its own, and the vendor's pair works in either order.
    let orders: [(&str, &[&str]); 5] = [
        ("cryptoki_only", &["cryptoki.h"]),
        ("pkcs11t_only", &["pkcs11t.h"]),
        ("provider_only", &["azcloudhsm_pkcs11.h"]),
        ("cryptoki_then_pkcs11t", &["cryptoki.h", "pkcs11t.h"]),
        (
            "pkcs11t_then_cryptoki",
            &["pkcs11t.h", "cryptoki.h", "pkcs11t.h", "cryptoki.h"],
        ),
    ];
    for (name, headers) in orders {
        let includes: String = headers
            .iter()
            .map(|h| format!("#include \"{h}\"\n"))
            .collect();
        let source = dir.path().join(format!("{name}.c"));
        fs::write(
            &source,
            format!(
                "{includes}\nint main(void)\n{{\n    CK_ATTRIBUTE attribute = {{ CKA_CLASS, NULL_PTR, 0 }};\n    \
                 CK_RV rv = CKR_OK;\n    (void)attribute;\n    return (int)rv;\n}}\n"
            ),
        )
        .expect("write source");
        compile(&source, dir.path(), &[]);
    }
}

#[test]
fn example_programs_compile_with_warnings_as_errors() {
    let dir = tempfile::tempdir().expect("temporary directory");
    compile(&example("certificate_samples.c"), dir.path(), &["-ldl"]);
    compile(
        &example("azure_sdk_sample.c"),
        dir.path(),
        &["-ldl", "-lcrypto"],
    );
    compile(&example("fork_sign.c"), dir.path(), &["-ldl"]);
    compile(&example("reference_errors.c"), dir.path(), &["-ldl"]);
}

#[test]
fn reference_certificate_samples_run_against_the_library() {
    let library = library_path();
    let environment = Environment::new();
    let program = compile(
        &example("certificate_samples.c"),
        environment.directory.root(),
        &["-ldl"],
    );
    let (success, output) = environment.run(&program, &[&library]);
    assert!(success, "certificate_samples failed:\n{output}");
    assert_eq!(
        environment.certificate_blobs(),
        Vec::<String>::new(),
        "every certificate was destroyed, so no blob may remain"
    );
}

#[test]
fn azure_sdk_sample_stores_a_real_certificate() {
    let library = library_path();
    let environment = Environment::new();
    let pem = environment.directory.root().join("certificate.pem");
    fs::write(&pem, self_signed_certificate_pem()).expect("write PEM");
    let program = compile(
        &example("azure_sdk_sample.c"),
        environment.directory.root(),
        &["-ldl", "-lcrypto"],
    );
    let (success, output) = environment.run(&program, &[library.as_os_str(), pem.as_os_str()]);
    assert!(success, "azure_sdk_sample failed:\n{output}");
    assert_eq!(environment.certificate_blobs(), Vec::<String>::new());
}

#[test]
fn child_signs_after_fork_and_reinitialize() {
    let library = library_path();
    let environment = Environment::new();
    let program = compile(
        &example("fork_sign.c"),
        environment.directory.root(),
        &["-ldl"],
    );
    let (success, output) = environment.run(&program, &[&library]);
    assert!(success, "fork_sign failed:\n{output}");
}

#[test]
fn reference_error_codes_are_returned() {
    let library = library_path();
    let environment = Environment::new();
    let program = compile(
        &example("reference_errors.c"),
        environment.directory.root(),
        &["-ldl"],
    );
    let (success, output) = environment.run(&program, &[&library]);
    assert!(success, "reference_errors failed:\n{output}");
    assert_eq!(environment.certificate_blobs(), Vec::<String>::new());
}
