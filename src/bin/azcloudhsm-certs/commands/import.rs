//! `import FILE --label L --id HEX`: a PEM or DER certificate becomes a
//! token certificate, created by the library's own certificate manager
//! (handle claimed create-if-absent, blob signed by the device), exactly
//! as `C_CreateObject` would create it.

use crate::context::Context;
use crate::describe::hex;
use crate::pin::user_pin;
use crate::{Failure, Outcome, Result};
use azcloudhsm_pkcs11::certstore::{blob_name, x509, Certificates};
use azcloudhsm_pkcs11::object::{Access, Attribute};
use cryptoki_sys::*;
use std::path::Path;

pub fn run(context: &Context, file: &Path, label: &str, id: &[u8]) -> Result<Outcome> {
    let bytes =
        std::fs::read(file).map_err(|e| Failure::new(format!("{}: {e}", file.display())))?;
    let der = certificate_der(&bytes).ok_or_else(|| {
        Failure::new(format!(
            "{} is not an X.509 certificate (PEM or DER)",
            file.display()
        ))
    })?;
    let parsed = x509::parse(&der).ok_or_else(|| {
        Failure::new(format!(
            "{} is not an X.509 certificate this provider can read",
            file.display()
        ))
    })?;
    // Everything is checked before the PIN is asked for.
    let pin = user_pin()?;
    let device = context.log_in(pin.as_bytes())?;
    let certificates = Certificates::open(
        context.store.clone(),
        device.clone(),
        context.config.certstorage_signing_key_id.clone(),
    )?;
    let access = Access {
        user: true,
        so: false,
        read_write: true,
        session: 0,
    };
    let template = [
        Attribute::from_ulong(CKA_CLASS, CKO_CERTIFICATE),
        Attribute::from_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        Attribute::from_bool(CKA_TOKEN, true),
        Attribute::new(CKA_LABEL, label.as_bytes().to_vec()),
        Attribute::new(CKA_ID, id.to_vec()),
        Attribute::new(CKA_SUBJECT, parsed.subject),
        Attribute::new(CKA_VALUE, der),
    ];
    let created = certificates.create(&access, &template);
    device.logout();
    let handle = created.map_err(|e| Failure::new(format!("import: {e}")))?;
    println!(
        "imported {} as handle {handle} (0x{handle:08x}), label {label:?}, id {}, blob {}",
        file.display(),
        hex(id),
        blob_name(handle)
    );
    Ok(Outcome::AllGood)
}

/// The DER of a PEM (`-----BEGIN CERTIFICATE-----`) or DER certificate file.
fn certificate_der(bytes: &[u8]) -> Option<Vec<u8>> {
    let text_start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    if bytes[text_start..].starts_with(b"-----BEGIN") {
        return openssl::x509::X509::from_pem(bytes).ok()?.to_der().ok();
    }
    openssl::x509::X509::from_der(bytes).ok()?;
    Some(bytes.to_vec())
}
