//! The reference's certificate flow, end to end, against whatever the
//! configuration says (with no configuration: the embedded software device
//! and a local certificate directory).
//!
//! Run: `cargo run --release --example certificate_storage`
//!
//! It loads `libazcloudhsm_pkcs11.so` the way any application does (dlopen,
//! `C_GetFunctionList`, through the `cryptoki` crate), initialises the token
//! in slot 1 if it is new, logs in as the user (`cu1:user1234` unless
//! `AZCLOUDHSM_PIN` says otherwise), then creates, reads, finds, updates,
//! copies and destroys a certificate, printing each step and the blobs.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::error::Error;
use std::path::PathBuf;

const BLOB_PREFIX: &str = "pkcs11_certificate_";

fn main() -> Result<(), Box<dyn Error>> {
    let library = library_path()?;
    println!("library: {}", library.display());
    let pkcs11 = Pkcs11::new(&library)?;
    pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;

    let slot = pkcs11
        .get_slots_with_token()?
        .into_iter()
        .find(|s| s.id() == 1)
        .ok_or("slot 1 not found")?;
    let user_pin = AuthPin::from(
        std::env::var("AZCLOUDHSM_PIN").unwrap_or_else(|_| "cu1:user1234".to_string()),
    );
    let so_pin = AuthPin::from(
        std::env::var("AZCLOUDHSM_SO_PIN").unwrap_or_else(|_| "so1:so1234".to_string()),
    );

    let token = pkcs11.get_token_info(slot)?;
    if !token.token_initialized() || !token.user_pin_initialized() {
        println!("step 0: the token is new: C_InitToken, C_InitPIN");
        pkcs11.init_token(slot, &so_pin, "azcloudhsm")?;
        let session = pkcs11.open_rw_session(slot)?;
        session.login(UserType::So, Some(&so_pin))?;
        session.init_pin(&user_pin)?;
        session.logout()?;
    }

    let session = pkcs11.open_rw_session(slot)?;
    session.login(UserType::User, Some(&user_pin))?;
    println!("step 1: logged in as CKU_USER in a R/W session of slot 1");

    let certificate = create_cert(&session)?;
    let created = certificate.handle();
    println!(
        "step 2: C_CreateObject -> handle {created} (0x{created:X}), blob {BLOB_PREFIX}{created}"
    );
    let blobs = local_blob_directory();
    show_blob(&blobs, created);

    let attributes = session.get_attributes(
        certificate,
        &[
            AttributeType::Class,
            AttributeType::CertificateType,
            AttributeType::Token,
            AttributeType::Label,
            AttributeType::Id,
        ],
    )?;
    println!("step 3: C_GetAttributeValue -> {}", describe(&attributes));

    let found = session.find_objects(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Label(b"MyCertificate".to_vec()),
    ])?;
    let found: Vec<u64> = found.iter().map(|h| h.handle()).collect();
    println!("step 4: C_FindObjects(class, type, label \"MyCertificate\") -> {found:?}");
    if !found.contains(&created) {
        return Err("the created certificate was not found".into());
    }

    session.update_attributes(
        certificate,
        &[
            Attribute::Token(false),
            Attribute::Label(b"This is a new label".to_vec()),
            Attribute::Subject(vec![0x40, 0x41, 0x42, 0x43, 0x44]),
            Attribute::Id(vec![254]),
            Attribute::Value(vec![
                0x10, 0x20, 0x30, 0x40, 0x50, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
            ]),
        ],
    )?;
    let attributes = session.get_attributes(
        certificate,
        &[
            AttributeType::Token,
            AttributeType::Label,
            AttributeType::Id,
        ],
    )?;
    println!(
        "step 5: C_SetAttributeValue(token=false, label, subject, id, value) -> {}",
        describe(&attributes)
    );
    println!("        the certificate moved to session storage; its blob is removed");
    show_blob(&blobs, created);

    let copied = session.copy_object(certificate, &[])?;
    let copy = copied.handle();
    println!("step 6: C_CopyObject(NULL template) -> handle {copy} (0x{copy:X})");

    session.destroy_object(copied)?;
    println!("step 7: C_DestroyObject(copy {copy})");
    session.destroy_object(certificate)?;
    println!("step 8: C_DestroyObject(original {created})");

    let again = create_cert(&session)?;
    let token_certificate = again.handle();
    println!("step 9: a token certificate again -> handle {token_certificate}, blob {BLOB_PREFIX}{token_certificate}");
    show_blob(&blobs, token_certificate);
    session.destroy_object(again)?;
    println!("step 10: C_DestroyObject({token_certificate}) removes its blob");
    show_blob(&blobs, token_certificate);

    session.logout()?;
    println!("done: the reference flow completed");
    Ok(())
}

/// The reference's `create_cert`: the same template, the same dummy bytes.
fn create_cert(session: &Session) -> cryptoki::error::Result<ObjectHandle> {
    let cert_data = vec![0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0];
    let mut subject = vec![
        0x30, 0x1D, 0x31, 0x1B, 0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x12,
    ];
    subject.extend_from_slice(b"MyCertificate-Bbj");
    let template = [
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label(b"MyCertificate".to_vec()),
        Attribute::Subject(subject),
        Attribute::Id(vec![123]),
        Attribute::Value(cert_data),
    ];
    session.create_object(&template)
}

fn describe(attributes: &[Attribute]) -> String {
    attributes
        .iter()
        .map(|a| match a {
            Attribute::Class(c) => format!("class={c}"),
            Attribute::CertificateType(t) => format!("type={t}"),
            Attribute::Token(t) => format!("token={t}"),
            Attribute::Label(l) => format!("label=\"{}\"", String::from_utf8_lossy(l)),
            Attribute::Id(id) => format!("id={id:02x?}"),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The certificate directory when the store is local (`file://`), for showing blobs.
fn local_blob_directory() -> Option<PathBuf> {
    let config = azcloudhsm_pkcs11::config::Config::load().ok()?;
    let url = config.effective_certstorage_url()?;
    println!("certificate store: {url}");
    url.strip_prefix("file://").map(PathBuf::from)
}

fn show_blob(directory: &Option<PathBuf>, handle: u64) {
    if let Some(directory) = directory {
        let path = directory.join(format!("{BLOB_PREFIX}{handle}"));
        match std::fs::metadata(&path) {
            Ok(meta) => println!(
                "        blob {} present, {} bytes",
                path.display(),
                meta.len()
            ),
            Err(_) => println!("        blob {} absent", path.display()),
        }
    }
}

/// `AZCLOUDHSM_PKCS11_LIB`, else the library built beside this example.
///
/// `cargo run --example` on a clean `target/` builds the cdylib only into
/// `target/<profile>/deps/` (the copy in `target/<profile>/` appears after a
/// `cargo build`), so `deps/` is searched first: it is what this very run
/// built, where the other copy may be older.
fn library_path() -> Result<PathBuf, Box<dyn Error>> {
    if let Some(path) = std::env::var_os("AZCLOUDHSM_PKCS11_LIB") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|examples| examples.parent())
        .ok_or("the example's executable has no profile directory")?;
    for dir in [profile_dir.join("deps"), profile_dir.to_path_buf()] {
        let candidate = dir.join("libazcloudhsm_pkcs11.so");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err("libazcloudhsm_pkcs11.so not found: build it with `cargo build --release` or set AZCLOUDHSM_PKCS11_LIB".into())
}
