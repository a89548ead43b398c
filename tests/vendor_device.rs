//! The vendor device (`DEVICE=pkcs11`) itself, with SoftHSM2 standing in for
//! the vendor's HSM: what SoftHSM2 sees of keys made through the provider,
//! the storage-signing key it holds, its token and mechanisms shown as
//! they are, the refusals at `C_Initialize`, a vendor that loses a session
//! or finalises, and (through `tests/c/vendor_shim.c`, a module in front of
//! SoftHSM2) vendor handles in the certificate range and what the provider
//! asks the vendor for. Every test name says `softhsm`: `.ci/run` counts them.
//!
//! Each test makes its own SoftHSM2 installation (`softhsm2.conf` and token
//! directory) in its temporary directory; the token is initialised with
//! `softhsm2-util` and the storage-signing key made with `pkcs11-tool`, the
//! way a vendor HSM is set up outside the provider.

#[macro_use]
mod common;

use common::*;
use cryptoki::context::{CInitializeArgs, CInitializeFlags};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::MutexGuard;

/// The label of the SoftHSM2 token the provider presents.
const VENDOR_LABEL: &str = "vendor-a";

/// A SoftHSM2 token set up as a vendor's administrator would, and the
/// configuration of a provider in front of it. [`lock`] is held.
struct VendorSetup {
    directory: TokenDirectory,
    softhsm: SoftHsm,
    config: PathBuf,
    _lock: MutexGuard<'static, ()>,
}

impl VendorSetup {
    /// A token `vendor-a` with the storage-signing key, and a configuration
    /// naming `module` (SoftHSM2 itself, or a module in front of it) plus `extra`.
    fn new(module: &str, extra: &[(&str, &str)]) -> VendorSetup {
        let lock = lock();
        assert!(
            softhsm2_available(),
            "these tests need SoftHSM2 (package softhsm2) and pkcs11-tool (opensc)"
        );
        let directory = TokenDirectory::new();
        let softhsm = SoftHsm::in_dir(directory.root());
        softhsm.select();
        softhsm.init_token(VENDOR_LABEL, SO_PIN, USER_PIN);
        softhsm.create_signing_key(VENDOR_LABEL, USER_PIN);
        let mut lines = softhsm.config_lines(Some(VENDOR_LABEL));
        lines.push(("DEVICE_MODULE".to_string(), module.to_string()));
        lines.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let lines: Vec<(&str, &str)> = lines
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let config = directory.write_config(CertificateStorage::Local, &lines);
        process_log_path();
        VendorSetup {
            directory,
            softhsm,
            config,
            _lock: lock,
        }
    }

    fn over_softhsm() -> VendorSetup {
        VendorSetup::new(SOFTHSM2_MODULE, &[])
    }

    fn open(&self) -> Provider {
        Provider::open(&self.config)
    }

    /// `C_Initialize` of a configuration that must fail: its return code.
    fn initialize_error(&self) -> RvError {
        std::env::set_var(CONFIG_ENV, &self.config);
        let pkcs11 = load();
        let result = pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        if result.is_ok() {
            let _ = pkcs11.finalize();
        }
        rv_of(result)
    }

    /// `pkcs11-tool` straight on SoftHSM2, logged in as the vendor's user.
    fn softhsm_tool(&self, arguments: &[&str]) -> String {
        let mut all = vec!["--token-label", VENDOR_LABEL, "--login", "--pin", USER_PIN];
        all.extend_from_slice(arguments);
        self.softhsm.pkcs11_tool(&all)
    }
}

fn user_session(provider: &Provider) -> Session {
    provider.user_session()
}

fn certificate_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(b"0\x0b1\x090\x07\x06\x03U\x04\x03\x0c\x00".to_vec()),
        Attribute::Id(vec![7]),
        Attribute::Value(b"not DER!".to_vec()),
    ]
}

/// SoftHSM2's own function list, in this process: the same loaded library
/// as the provider's vendor module (same file), so the same state.
fn softhsm_functions() -> &'static CK_FUNCTION_LIST {
    // SAFETY: loading SoftHSM2 runs its initialisers, as any client's dlopen does.
    let library = unsafe { libloading::Library::new(SOFTHSM2_MODULE) }.expect("dlopen SoftHSM2");
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: the PKCS#11 signature of C_GetFunctionList.
    let get: libloading::Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
        unsafe { library.get(b"C_GetFunctionList\0") }.expect("SoftHSM2's C_GetFunctionList");
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { get(&mut list) }, CKR_OK);
    // SAFETY: SoftHSM2 keeps its list for the life of the (leaked) library.
    unsafe { &*list }
}

/// The SoftHSM2 slot holding `label`, asked of SoftHSM2 directly.
fn softhsm_slot(functions: &CK_FUNCTION_LIST, label: &str) -> Result<CK_SLOT_ID, CK_RV> {
    let mut slots = [0 as CK_SLOT_ID; 16];
    let mut count = slots.len() as CK_ULONG;
    // SAFETY: `slots` holds `count` entries.
    let rv = unsafe { (functions.C_GetSlotList.unwrap())(CK_TRUE, slots.as_mut_ptr(), &mut count) };
    if rv != CKR_OK {
        return Err(rv);
    }
    for slot in &slots[..count as usize] {
        let mut info = CK_TOKEN_INFO::default();
        // SAFETY: a valid out pointer.
        let rv = unsafe { (functions.C_GetTokenInfo.unwrap())(*slot, &mut info) };
        if rv == CKR_OK && String::from_utf8_lossy(&info.label).trim_end() == label {
            return Ok(*slot);
        }
    }
    panic!("SoftHSM2 has no token {label}");
}

fn base64url(text: &str) -> Vec<u8> {
    let mut standard: String = text.replace('-', "+").replace('_', "/");
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    openssl::base64::decode_block(&standard).expect("base64url")
}

// ----- what SoftHSM2 holds -----

#[test]
fn softhsm_holds_the_keys_generated_through_the_provider_but_not_its_certificates() {
    let setup = VendorSetup::over_softhsm();
    let provider = setup.open();
    let session = user_session(&provider);
    let public = [
        Attribute::Token(true),
        Attribute::ModulusBits(2048.into()),
        Attribute::Verify(true),
        Attribute::Label(b"made-through-the-provider".to_vec()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Sign(true),
        Attribute::Label(b"made-through-the-provider".to_vec()),
    ];
    session
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .expect("C_GenerateKeyPair through the provider");
    let certificate = session
        .create_object(&certificate_template("kept-by-the-provider"))
        .expect("C_CreateObject of a token certificate");
    assert!(
        certificate.handle() >= 0xFFF0_0000,
        "{:#x}",
        certificate.handle()
    );
    let listed = setup.softhsm_tool(&["--list-objects"]);
    assert_eq!(
        listed
            .matches("label:      made-through-the-provider")
            .count(),
        2,
        "SoftHSM2 holds the key pair: {listed}"
    );
    assert!(
        !listed.contains("kept-by-the-provider") && !listed.contains("Certificate Object"),
        "the certificate is in the provider's store, not on SoftHSM2: {listed}"
    );
    assert_eq!(
        std::fs::read_dir(setup.directory.certificates_dir())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("pkcs11_certificate_"))
            .count(),
        1,
        "the certificate's blob is in the store"
    );
}

#[test]
fn softhsm_signing_key_signs_blobs_that_verify_with_the_public_key_pkcs11_tool_exports() {
    let setup = VendorSetup::over_softhsm();
    let provider = setup.open();
    let session = user_session(&provider);
    let certificate = session
        .create_object(&certificate_template("signed-blob"))
        .expect("C_CreateObject of a token certificate");
    let blob = std::fs::read_to_string(
        setup
            .directory
            .certificates_dir()
            .join(format!("pkcs11_certificate_{}", certificate.handle())),
    )
    .expect("the certificate's blob");
    let parts: Vec<&str> = blob.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {blob}");
    let header: serde_json::Value = serde_json::from_slice(&base64url(parts[0])).unwrap();
    assert_eq!(header["alg"], "RS512", "{header}");
    let exported = setup.directory.root().join("signing-key.der");
    setup.softhsm_tool(&[
        "--read-object",
        "--type",
        "pubkey",
        "--id",
        &hex(SIGNING_KEY_ID.as_bytes()),
        "--output-file",
        exported.to_str().unwrap(),
    ]);
    let public = openssl::pkey::PKey::public_key_from_der(&std::fs::read(&exported).unwrap())
        .expect("pkcs11-tool exports a DER public key");
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha512(), &public).unwrap();
    verifier
        .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    assert!(
        verifier.verify(&base64url(parts[2])).unwrap(),
        "the blob's RS512 signature verifies with the SoftHSM2 key"
    );
}

#[test]
fn softhsm_token_information_and_mechanisms_are_shown_as_softhsm_gives_them() {
    let setup = VendorSetup::over_softhsm();
    let provider = setup.open();
    let info = provider.pkcs11.get_token_info(provider.slot).unwrap();
    assert_eq!(info.label(), VENDOR_LABEL);
    assert_eq!(info.manufacturer_id(), "SoftHSM project");
    assert_eq!(info.model(), "SoftHSM v2");
    let ours = Command::new("pkcs11-tool")
        .env(CONFIG_ENV, &setup.config)
        .args([
            "--module",
            library_path().to_str().unwrap(),
            "--list-mechanisms",
        ])
        .output()
        .expect("pkcs11-tool on the provider");
    let theirs = setup
        .softhsm
        .pkcs11_tool(&["--token-label", VENDOR_LABEL, "--list-mechanisms"]);
    let mechanisms = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| line.starts_with("  "))
            .map(str::to_string)
            .collect()
    };
    let ours = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert!(mechanisms(&theirs).len() > 20, "{theirs}");
    // One addition: the provider runs the message-based API on the
    // device's AES-GCM, so it adds CKF_MESSAGE_ENCRYPT, CKF_MESSAGE_DECRYPT
    // and CKF_MULTI_MESSAGE (0x26, which this pkcs11-tool prints raw).
    let expected: Vec<String> = mechanisms(&theirs)
        .into_iter()
        .map(|line| {
            if line.starts_with("  AES-GCM,") && !line.contains("other flags") {
                format!("{line}, other flags=0x26")
            } else {
                line
            }
        })
        .collect();
    assert!(
        expected
            .iter()
            .any(|line| line.ends_with("other flags=0x26")),
        "SoftHSM2 offers AES-GCM: {theirs}"
    );
    assert_eq!(
        mechanisms(&ours),
        expected,
        "the same mechanisms, sizes and flags, and the message API on AES-GCM"
    );
}

#[test]
fn softhsm_pins_pass_through_unchanged_and_a_wrong_one_is_the_vendors_pin_incorrect() {
    let setup = VendorSetup::over_softhsm();
    let provider = setup.open();
    let session = provider.rw_session();
    assert_rv(
        session.login(UserType::User, Some(&AuthPin::from("cu1:wrong"))),
        RvError::PinIncorrect,
    );
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("the user:password PIN SoftHSM2 was given");
    session.logout().unwrap();
    session
        .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .expect("the SO PIN");
    session.logout().unwrap();
    let new_pin = AuthPin::from("cu1:changed1234");
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .unwrap();
    session
        .set_pin(&AuthPin::from(USER_PIN), &new_pin)
        .expect("C_SetPIN through the provider");
    drop(session);
    setup.softhsm.pkcs11_tool(&[
        "--token-label",
        VENDOR_LABEL,
        "--login",
        "--pin",
        "cu1:changed1234",
        "--list-objects",
    ]);
}

// ----- refusals at C_Initialize -----

#[test]
fn softhsm_setup_with_a_device_module_that_does_not_exist_is_refused_with_device_error() {
    let setup = VendorSetup::new("/nonexistent/libvendor_pkcs11.so", &[]);
    let log = LogMark::now();
    assert_eq!(setup.initialize_error(), RvError::DeviceError);
    let text = log.since();
    assert!(
        text.contains("DEVICE_MODULE=/nonexistent/libvendor_pkcs11.so: cannot load"),
        "{text}"
    );
}

#[test]
fn softhsm_setup_with_a_device_module_that_is_not_a_pkcs11_library_is_refused_with_device_error() {
    let not_a_library =
        std::env::temp_dir().join(format!("not-a-library-{}.so", std::process::id()));
    std::fs::write(&not_a_library, b"plain text, no ELF header").unwrap();
    let no_function_list = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
    .expect("libm, a shared library without C_GetFunctionList");
    for (module, expected) in [
        (
            not_a_library.to_str().unwrap(),
            "cannot load the vendor module",
        ),
        (
            no_function_list,
            "not a PKCS#11 library: it has no C_GetFunctionList",
        ),
    ] {
        let setup = VendorSetup::new(module, &[]);
        let log = LogMark::now();
        assert_eq!(setup.initialize_error(), RvError::DeviceError, "{module}");
        let text = log.since();
        assert!(
            text.contains(&format!("DEVICE_MODULE={module}: {expected}")),
            "{text}"
        );
    }
    let _ = std::fs::remove_file(not_a_library);
}

#[test]
fn softhsm_setup_naming_a_token_label_softhsm_lacks_is_refused_with_token_not_present() {
    let setup = VendorSetup::new(SOFTHSM2_MODULE, &[("DEVICE_TOKEN_LABEL", "no-such-token")]);
    let log = LogMark::now();
    assert_eq!(setup.initialize_error(), RvError::TokenNotPresent);
    let text = log.since();
    assert!(
        text.contains("DEVICE_TOKEN_LABEL=no-such-token: no token") && text.contains(VENDOR_LABEL),
        "{text}"
    );
}

// ----- losing the vendor -----

#[test]
fn softhsm_session_closed_behind_the_providers_back_gives_session_handle_invalid() {
    let setup = VendorSetup::over_softhsm();
    let provider = setup.open();
    let session = user_session(&provider);
    let pair = generate_rsa(&session, 2048, false, b"before");
    let mut random = [0u8; 16];
    session
        .generate_random_slice(&mut random)
        .expect("C_GenerateRandom");
    let softhsm = softhsm_functions();
    let slot =
        softhsm_slot(softhsm, VENDOR_LABEL).expect("SoftHSM2 is initialised by the provider");
    // SAFETY: a plain slot ID.
    assert_eq!(
        unsafe { (softhsm.C_CloseAllSessions.unwrap())(slot) },
        CKR_OK
    );
    let log = LogMark::now();
    assert_rv(
        session.generate_random_slice(&mut random),
        RvError::SessionHandleInvalid,
    );
    assert_rv(
        session.sign(&Mechanism::Sha256RsaPkcs, pair.private, b"data"),
        RvError::SessionHandleInvalid,
    );
    let text = log.since();
    assert!(
        text.contains("C_GenerateRandom returned CKR_SESSION_HANDLE_INVALID"),
        "{text}"
    );
    drop(session);
    let again = user_session(&provider);
    again
        .generate_random_slice(&mut random)
        .expect("a new session works");
}

#[test]
fn softhsm_is_finalised_by_c_finalize_and_initialised_again_by_c_initialize() {
    let setup = VendorSetup::over_softhsm();
    let provider = setup.open();
    let softhsm = softhsm_functions();
    assert!(softhsm_slot(softhsm, VENDOR_LABEL).is_ok());
    provider.finalize();
    assert_eq!(
        softhsm_slot(softhsm, VENDOR_LABEL),
        Err(CKR_CRYPTOKI_NOT_INITIALIZED),
        "C_Finalize finalised SoftHSM2"
    );
    let provider = setup.open();
    let session = user_session(&provider);
    let mut random = [0u8; 8];
    session
        .generate_random_slice(&mut random)
        .expect("SoftHSM2 works again after C_Initialize");
}

// ----- a module in front of SoftHSM2 -----

/// `tests/c/vendor_shim.c`, built into this test's directory.
fn build_shim(dir: &Path) -> PathBuf {
    let output = dir.join("libvendor_shim.so");
    let result = Command::new("cc")
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
        ])
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg(manifest_dir().join("tests/c/vendor_shim.c"))
        .arg("-o")
        .arg(&output)
        .arg("-ldl")
        .output()
        .expect("run cc");
    assert!(
        result.status.success(),
        "cc vendor_shim.c: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    output
}

/// A provider whose vendor module is the shim in front of SoftHSM2,
/// shifting SoftHSM2's handles by `offset` and logging attribute requests.
fn over_shim(offset: CK_ULONG) -> (VendorSetup, PathBuf) {
    let shim_dir = tempfile::tempdir().unwrap();
    let shim = build_shim(shim_dir.path());
    let kept =
        std::env::temp_dir().join(format!("vendor-shim-{}-{offset:x}.so", std::process::id()));
    std::fs::copy(&shim, &kept).unwrap();
    let setup = VendorSetup::new(kept.to_str().unwrap(), &[]);
    let log = setup.directory.root().join("shim.log");
    std::env::set_var("SHIM_TARGET", SOFTHSM2_MODULE);
    std::env::set_var("SHIM_HANDLE_OFFSET", offset.to_string());
    std::env::set_var("SHIM_LOG", &log);
    (setup, log)
}

#[test]
fn softhsm_handles_shifted_into_the_certificate_range_are_shown_below_it_and_work() {
    let (setup, _) = over_shim(0xFFF0_0000);
    let provider = setup.open();
    let session = user_session(&provider);
    let pair = generate_rsa(&session, 2048, false, b"shifted");
    for handle in [pair.public.handle(), pair.private.handle()] {
        assert!(
            handle < 0xFFF0_0000,
            "{handle:#x} is below the certificate range"
        );
    }
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, pair.private, b"through an alias")
        .expect("C_Sign with the aliased private key");
    session
        .verify(
            &Mechanism::Sha256RsaPkcs,
            pair.public,
            b"through an alias",
            &signature,
        )
        .expect("C_Verify with the aliased public key");
    let found = find(&session, &[Attribute::Id(b"shifted".to_vec())]);
    let mut found: Vec<_> = found.iter().map(|h| h.handle()).collect();
    found.sort();
    let mut expected = vec![pair.public.handle(), pair.private.handle()];
    expected.sort();
    assert_eq!(found, expected, "searches return the same aliases");
    let certificate = session
        .create_object(&certificate_template("ours"))
        .expect("a certificate of the provider's store");
    assert!(certificate.handle() >= 0xFFF0_0000);
    assert!(!expected.contains(&certificate.handle()));
    assert_eq!(
        attribute_bytes(&session, pair.public, AttributeType::Id),
        b"shifted".to_vec()
    );
    session
        .destroy_object(pair.private)
        .expect("C_DestroyObject of an alias");
    assert_rv(
        session.get_attributes(pair.private, &[AttributeType::Id]),
        RvError::ObjectHandleInvalid,
    );
}

#[test]
fn softhsm_is_never_asked_for_the_secret_parts_of_a_sensitive_key() {
    let (setup, log) = over_shim(0);
    let provider = setup.open();
    let session = user_session(&provider);
    let pair = generate_rsa(&session, 2048, false, b"sensitive");
    let _ = std::fs::remove_file(&log);
    let mut exponent = length_query(CKA_PRIVATE_EXPONENT);
    let mut modulus = length_query(CKA_MODULUS);
    let mut template = [exponent, modulus];
    assert_ck!(
        ck!(C_GetAttributeValue(
            session.handle(),
            pair.private.handle(),
            template.as_mut_ptr(),
            2
        )),
        CKR_ATTRIBUTE_SENSITIVE
    );
    exponent = template[0];
    modulus = template[1];
    assert_eq!(exponent.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(modulus.ulValueLen, 256);
    let asked = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(asked.contains(&format!("{CKA_MODULUS:#x}\n")), "{asked}");
    assert!(
        !asked.contains(&format!("{CKA_PRIVATE_EXPONENT:#x}\n")),
        "the vendor was asked for CKA_PRIVATE_EXPONENT: {asked}"
    );
    // A key made readable on purpose is read from the vendor like any attribute.
    let open_key = import_secret(&session, KeyType::AES, &[5u8; 16]);
    assert_eq!(
        attribute_bytes(&session, open_key, AttributeType::Value),
        vec![5u8; 16]
    );
    let asked = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(asked.contains(&format!("{CKA_VALUE:#x}\n")), "{asked}");
}

#[test]
fn softhsm_certificates_on_the_token_are_found_and_read_only() {
    let setup = VendorSetup::over_softhsm();
    let der = setup.directory.root().join("vendor-cert.der");
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=on the vendor",
            "-days",
            "2",
            "-outform",
            "DER",
        ])
        .arg("-keyout")
        .arg(setup.directory.root().join("vendor-key.pem"))
        .arg("-out")
        .arg(&der)
        .output()
        .expect("run openssl");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    setup.softhsm_tool(&[
        "--write-object",
        der.to_str().unwrap(),
        "--type",
        "cert",
        "--id",
        "99",
        "--label",
        "on-the-vendor",
    ]);
    let provider = setup.open();
    let session = user_session(&provider);
    let found = find(
        &session,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(b"on-the-vendor".to_vec()),
        ],
    );
    assert_eq!(found.len(), 1, "the vendor's certificate is found");
    let certificate = found[0];
    assert!(certificate.handle() < 0xFFF0_0000);
    assert_eq!(
        attribute_bytes(&session, certificate, AttributeType::Value),
        std::fs::read(&der).unwrap()
    );
    assert_rv(
        session.destroy_object(certificate),
        RvError::ActionProhibited,
    );
    assert_rv(
        session.update_attributes(certificate, &[Attribute::Label(b"renamed".to_vec())]),
        RvError::AttributeReadOnly,
    );
    assert_rv(
        session.copy_object(certificate, &[]),
        RvError::ActionProhibited,
    );
    let listed = setup.softhsm_tool(&["--list-objects", "--type", "cert"]);
    assert!(listed.contains("label:      on-the-vendor"), "{listed}");
}
