//! Certificate objects (`CKO_CERTIFICATE`, `CKC_X_509`), persisted as JWS
//! blobs named `pkcs11_certificate_<handle>` in a blob store (a local
//! directory or an Azure Blob Storage container).

pub mod azure;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::object::{Access, AttributeResult, AttributeType, Handle, Template};
use cryptoki_sys::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The name prefix of every certificate blob.
pub const BLOB_PREFIX: &str = "pkcs11_certificate_";

/// The blob name of a certificate handle.
pub fn blob_name(handle: Handle) -> String {
    format!("{BLOB_PREFIX}{handle}")
}

/// One blob as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobEntry {
    pub name: String,
    /// An opaque version (an ETag on Azure): changes whenever the content does.
    pub version: String,
    /// Metadata stored with the blob, when the store has metadata (Azure);
    /// `None` when the body must be read to know what is in it (local store).
    pub metadata: Option<BTreeMap<String, String>>,
}

/// What a conditional create gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Created, with its version.
    Created(String),
    /// A blob of that name exists already (the handle is taken).
    AlreadyExists,
}

/// What a conditional update gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Replaced, with the new version.
    Updated(String),
    /// Another writer changed the blob since `expected_version` was read.
    Conflict,
    /// The blob is gone.
    NotFound,
}

/// A container of blobs. Implementations are blocking, thread-safe, and
/// never block forever (network stores time out with `Error::DeviceError`).
pub trait BlobStore: Send + Sync {
    /// Where the blobs are, for log lines (never a secret).
    fn describe(&self) -> String;
    /// Every blob whose name starts with `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>>;
    /// A blob's content and version; `None` when absent.
    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>>;
    /// Creates `name` only if absent, atomically: readers see either no blob
    /// or the whole content.
    fn create(
        &self,
        name: &str,
        content: &[u8],
        metadata: &BTreeMap<String, String>,
    ) -> Result<CreateOutcome>;
    /// Replaces `name` only if its version is still `expected_version`, atomically.
    fn update(
        &self,
        name: &str,
        content: &[u8],
        metadata: &BTreeMap<String, String>,
        expected_version: &str,
    ) -> Result<UpdateOutcome>;
    /// Deletes `name`; a missing blob is not an error.
    fn delete(&self, name: &str) -> Result<()>;
}

/// Where certificates are kept, from the configuration.
#[derive(Clone, Debug)]
pub struct CertificateStoreConfig {
    /// `CERTSTORAGE_URL`: `file:///abs/dir`, or an http(s) container URL.
    pub url: String,
    /// `CERTSTORAGE_SIGNING_KEYID`.
    pub signing_key_id: Option<String>,
}

/// The certificate objects of the application: token certificates in the
/// blob store (indexed), session certificates in memory.
pub struct Certificates {
    #[allow(dead_code)]
    device: Arc<dyn Device>,
    #[allow(dead_code)]
    store: Arc<dyn BlobStore>,
}

impl Certificates {
    /// Opens the certificate store.
    pub fn open(
        store: Arc<dyn BlobStore>,
        device: Arc<dyn Device>,
        signing_key_id: Option<String>,
    ) -> Result<Self> {
        let _ = signing_key_id;
        Ok(Certificates { device, store })
    }

    /// `C_CreateObject` for a `CKO_CERTIFICATE` template.
    pub fn create(&self, access: &Access, template: &Template) -> Result<Handle> {
        let _ = (access, template);
        Err(Error::FunctionNotSupported("certificates"))
    }
    /// `C_CopyObject` of a certificate.
    pub fn copy(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle> {
        let _ = (access, handle, template);
        Err(Error::FunctionNotSupported("certificates"))
    }
    /// `C_DestroyObject` of a certificate.
    pub fn destroy(&self, access: &Access, handle: Handle) -> Result<()> {
        let _ = (access, handle);
        Err(Error::FunctionNotSupported("certificates"))
    }
    /// `C_GetObjectSize` of a certificate.
    pub fn object_size(&self, access: &Access, handle: Handle) -> Result<CK_ULONG> {
        let _ = (access, handle);
        Err(Error::FunctionNotSupported("certificates"))
    }
    /// `C_GetAttributeValue` of a certificate.
    pub fn get_attributes(
        &self,
        access: &Access,
        handle: Handle,
        kinds: &[AttributeType],
    ) -> Result<Vec<AttributeResult>> {
        let _ = (access, handle, kinds);
        Err(Error::FunctionNotSupported("certificates"))
    }
    /// `C_SetAttributeValue` of a certificate.
    pub fn set_attributes(
        &self,
        access: &Access,
        handle: Handle,
        template: &Template,
    ) -> Result<()> {
        let _ = (access, handle, template);
        Err(Error::FunctionNotSupported("certificates"))
    }
    /// The visible certificates matching `template`, in increasing handle order.
    pub fn find(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        let _ = (access, template);
        Ok(Vec::new())
    }
    /// Drops the session certificates created by `session`.
    pub fn close_session(&self, session: CK_SESSION_HANDLE) {
        let _ = session;
    }
}
