//! The vendor key pair that signs certificate blobs (RS512):
//! `CERTSTORAGE_SIGNING_KEYID` names it by `CKA_ID` (the text's bytes, as
//! `pkcs11-tool --keypairgen --id <hex of the text> --label <text>` makes
//! it). Its public half is read once, so blobs verify before login; each
//! signature runs at the vendor in a short session of the device's own,
//! so it never disturbs an operation of the caller's sessions.

use super::attributes::get_attributes;
use super::operations::collect_output;
use super::session::VendorSession;
use super::Shared;
use crate::device::{BlobSigningKey, Mechanism, PublicHalf};
use crate::error::{Error, Result};
use crate::ffi::vendor::{Start, Transform, VendorMechanism};
use crate::object::{decode_ulong, Attribute, AttributeResult, Handle};
use cryptoki_sys::*;
use std::sync::Arc;

/// The blob-signing key of the vendor token.
pub(super) fn blob_signing_key(
    shared: &Arc<Shared>,
    key_id: Option<&str>,
) -> Result<Arc<dyn BlobSigningKey>> {
    let Some(id) = key_id else {
        let message = "DEVICE=pkcs11 keeps no signing key of its own: set CERTSTORAGE_SIGNING_KEYID to the CKA_ID of a vendor RSA key pair";
        tracing::error!("{message}");
        return Err(Error::BlobSigningKey(message.to_string()));
    };
    let session = own_session(shared)?;
    let public_der = public_key_der(shared, &session, id).inspect_err(|error| {
        tracing::error!(
            "CERTSTORAGE_SIGNING_KEYID={id}: cannot read the vendor key's public half: {error}"
        )
    })?;
    Ok(Arc::new(VendorSigningKey {
        shared: shared.clone(),
        id: id.to_string(),
        public_half: PublicHalf::new(public_der),
    }))
}

/// A session of the device's own: R/W (so an SO login elsewhere is not
/// refused because of it), or R/O on a write-protected token.
fn own_session(shared: &Shared) -> Result<VendorSession> {
    let slot = shared.slot();
    VendorSession::open(&shared.vendor, slot, true)
        .or_else(|_| VendorSession::open(&shared.vendor, slot, false))
}

fn search(class: CK_OBJECT_CLASS, id: &str) -> Vec<Attribute> {
    vec![
        Attribute::from_ulong(CKA_CLASS, class),
        Attribute::new(CKA_ID, id.as_bytes().to_vec()),
    ]
}

/// The SubjectPublicKeyInfo of the RSA key pair whose `CKA_ID` is `id`:
/// from its public key object, else from the private key's public parts.
fn public_key_der(shared: &Shared, session: &VendorSession, id: &str) -> Result<Vec<u8>> {
    let mut candidates = shared.find(session.handle, &search(CKO_PUBLIC_KEY, id))?;
    candidates.extend(shared.find(session.handle, &search(CKO_PRIVATE_KEY, id))?);
    for object in candidates {
        let values = get_attributes(
            &shared.vendor,
            session.handle,
            object,
            &[CKA_KEY_TYPE, CKA_MODULUS, CKA_PUBLIC_EXPONENT],
        )?;
        let [AttributeResult::Value(key_type), AttributeResult::Value(modulus), AttributeResult::Value(exponent)] =
            values.as_slice()
        else {
            continue;
        };
        if decode_ulong(key_type) != Some(CKK_RSA) {
            continue;
        }
        let rsa = openssl::rsa::Rsa::from_public_components(
            openssl::bn::BigNum::from_slice(modulus)?,
            openssl::bn::BigNum::from_slice(exponent)?,
        )?;
        return Ok(openssl::pkey::PKey::from_rsa(rsa)?.public_key_to_der()?);
    }
    Err(Error::BlobSigningKey(format!(
        "no RSA key with CKA_ID \"{id}\" on the vendor token (pkcs11-tool --keypairgen --id {} --label {id} makes one)",
        hex(id.as_bytes())
    )))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct VendorSigningKey {
    shared: Arc<Shared>,
    id: String,
    public_half: PublicHalf,
}

impl VendorSigningKey {
    fn private_key(&self, session: &VendorSession) -> Result<Handle> {
        let found = self
            .shared
            .find(session.handle, &search(CKO_PRIVATE_KEY, &self.id))?;
        found.first().copied().ok_or_else(|| {
            let message = format!(
                "CERTSTORAGE_SIGNING_KEYID={}: no private key with this CKA_ID on the vendor token",
                self.id
            );
            tracing::error!("{message}");
            Error::BlobSigningKey(message)
        })
    }
}

impl BlobSigningKey for VendorSigningKey {
    fn public_half(&self) -> &PublicHalf {
        &self.public_half
    }
    fn sign_rs512(&self, message: &[u8]) -> Result<Vec<u8>> {
        let session = own_session(&self.shared)?;
        if !matches!(
            session.state()?,
            CKS_RO_USER_FUNCTIONS | CKS_RW_USER_FUNCTIONS
        ) {
            return Err(Error::UserNotLoggedIn);
        }
        let key = self.private_key(&session)?;
        let mut mechanism = VendorMechanism::new(&Mechanism::new(CKM_SHA512_RSA_PKCS))?;
        let functions = self.shared.vendor.functions();
        functions.start(Start::SIGN_INIT, session.handle, &mut mechanism, key)?;
        collect_output("C_Sign", 1024, |signature| {
            functions.transform(Transform::SIGN, session.handle, message, signature)
        })
    }
}
