//! Reading a store blob by blob and judging each one as the library does
//! before it returns a certificate (`docs/blob-format.md`, "Verification").

use crate::progress::Progress;
use crate::Result;
use azcloudhsm_pkcs11::certstore::handles::handle_of_blob;
use azcloudhsm_pkcs11::certstore::jws::{blob_key_id, BlobVerifier, Rejection};
use azcloudhsm_pkcs11::certstore::rules::search_attributes;
use azcloudhsm_pkcs11::certstore::{metadata, BlobEntry, BlobStore, BLOB_PREFIX};
use azcloudhsm_pkcs11::error::Error;
use azcloudhsm_pkcs11::object::{Attributes, Handle};
use std::collections::BTreeMap;

/// Why a blob is not a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The header names the verifying key, the signature does not verify.
    BadSignature,
    /// The header names a key that is not the verifying key.
    UnknownKid,
    /// The name is not `pkcs11_certificate_<handle>`, or the signed payload
    /// names another handle.
    NameMismatch,
    /// Not a compact JWS.
    NotJws,
    /// The store cannot give its content.
    Unreadable,
    /// Signed correctly, but not a format-1 X.509 token certificate.
    BadPayload,
    /// The metadata beside it disagrees with its signed payload.
    MetadataMismatch,
}

impl Reason {
    /// The words `verify` prints.
    pub fn text(self) -> &'static str {
        match self {
            Reason::BadSignature => "bad signature",
            Reason::UnknownKid => "unknown kid",
            Reason::NameMismatch => "name/handle mismatch",
            Reason::NotJws => "not a JWS",
            Reason::Unreadable => "unreadable",
            Reason::BadPayload => "bad payload",
            Reason::MetadataMismatch => "metadata mismatch",
        }
    }

    /// The value of `reason` in JSON output.
    pub fn code(self) -> &'static str {
        match self {
            Reason::BadSignature => "bad_signature",
            Reason::UnknownKid => "unknown_kid",
            Reason::NameMismatch => "name_mismatch",
            Reason::NotJws => "not_jws",
            Reason::Unreadable => "unreadable",
            Reason::BadPayload => "bad_payload",
            Reason::MetadataMismatch => "metadata_mismatch",
        }
    }
}

/// A blob that is not a certificate, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub reason: Reason,
    pub detail: String,
}

impl Problem {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Problem {
            reason,
            detail: detail.into(),
        }
    }
}

impl From<Rejection> for Problem {
    fn from(rejection: Rejection) -> Self {
        let reason = match &rejection {
            Rejection::NotJws(_) => Reason::NotJws,
            Rejection::UnknownKid(_) => Reason::UnknownKid,
            Rejection::BadSignature(_) => Reason::BadSignature,
            Rejection::HandleMismatch { .. } => Reason::NameMismatch,
            Rejection::BadPayload(_) => Reason::BadPayload,
        };
        let detail = match rejection {
            Rejection::NotJws(why) | Rejection::BadSignature(why) | Rejection::BadPayload(why) => {
                why
            }
            other => other.to_string(),
        };
        Problem::new(reason, detail)
    }
}

/// A certificate that verified, and which of the verifiers it verified with.
#[derive(Clone, Debug)]
pub struct Good {
    pub object: Attributes,
    pub key: usize,
}

/// One blob of a store as a scan found it.
#[derive(Debug)]
pub struct Blob {
    pub name: String,
    /// The handle its name stands for, when it stands for one.
    pub handle: Option<Handle>,
    pub content: Vec<u8>,
    pub verdict: std::result::Result<Good, Problem>,
}

/// Judges `content`, stored as the blob of `handle` with `metadata` (when
/// the store keeps metadata), against each of `verifiers`: the one whose
/// key id the header names verifies it.
pub fn judge(
    verifiers: &[BlobVerifier],
    handle: Handle,
    content: &[u8],
    metadata: Option<&BTreeMap<String, String>>,
) -> std::result::Result<Good, Problem> {
    let kid = blob_key_id(content)?;
    let Some(key) = verifiers
        .iter()
        .position(|v| Some(v.key_id()) == kid.as_deref())
    else {
        return Err(Rejection::UnknownKid(kid).into());
    };
    let object = verifiers[key].check_blob(handle, content)?;
    if let Some(map) = metadata {
        match metadata::decode(map) {
            None => {
                return Err(Problem::new(
                    Reason::MetadataMismatch,
                    "its metadata is not certificate metadata of format 1",
                ))
            }
            Some(search) if search != search_attributes(&object) => {
                return Err(Problem::new(
                    Reason::MetadataMismatch,
                    "its metadata disagrees with the signed payload",
                ))
            }
            Some(_) => {}
        }
    }
    Ok(Good { object, key })
}

/// The blobs of `store` named like certificates, in handle order.
pub fn listing(store: &dyn BlobStore) -> Result<Vec<BlobEntry>> {
    let mut entries = store
        .list(BLOB_PREFIX)
        .map_err(|e| crate::Failure::new(format!("certificate store {}: {e}", store.describe())))?;
    entries.sort_by(|a, b| {
        (handle_of_blob(&a.name), &a.name).cmp(&(handle_of_blob(&b.name), &b.name))
    });
    Ok(entries)
}

/// Reads and judges one listed blob; `None` when it vanished since the listing.
pub fn read_and_judge(
    store: &dyn BlobStore,
    verifiers: &[BlobVerifier],
    entry: &BlobEntry,
) -> Result<Option<Blob>> {
    let handle = handle_of_blob(&entry.name);
    let (content, verdict) = match store.read(&entry.name) {
        Ok(None) => return Ok(None),
        Ok(Some((content, _))) => {
            let verdict = match handle {
                Some(handle) => judge(verifiers, handle, &content, entry.metadata.as_ref()),
                None => Err(Problem::new(
                    Reason::NameMismatch,
                    "the name is not pkcs11_certificate_<handle> with a handle in 4293918720..=4294967294",
                )),
            };
            (content, verdict)
        }
        Err(Error::BlobUnreadable { reason, .. }) => {
            (Vec::new(), Err(Problem::new(Reason::Unreadable, reason)))
        }
        Err(error) => {
            return Err(crate::Failure::new(format!(
                "{}: {error} ({})",
                entry.name,
                store.describe()
            )))
        }
    };
    Ok(Some(Blob {
        name: entry.name.clone(),
        handle,
        content,
        verdict,
    }))
}

/// Reads and judges every certificate blob of `store`, in handle order,
/// handing each to `each`, with a progress bar labelled `label` on a
/// terminal. The verifiers are asked for only when there is a blob.
/// Returns how many blobs were listed.
pub fn scan(
    store: &dyn BlobStore,
    verifiers: impl FnOnce() -> Result<Vec<BlobVerifier>>,
    label: &str,
    mut each: impl FnMut(Blob) -> Result<()>,
) -> Result<usize> {
    let entries = listing(store)?;
    if entries.is_empty() {
        return Ok(0);
    }
    let verifiers = verifiers()?;
    let mut progress = Progress::new(label, entries.len());
    for entry in &entries {
        if let Some(blob) = read_and_judge(store, &verifiers, entry)? {
            each(blob)?;
        }
        progress.advance();
    }
    progress.finish();
    Ok(entries.len())
}
