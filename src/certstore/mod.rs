//! Certificate objects (`CKO_CERTIFICATE`, `CKC_X_509`), persisted as JWS
//! blobs named `pkcs11_certificate_<handle>` in a blob store (a local
//! directory or an Azure Blob Storage container).

pub mod azure;
/// The blob's encodings (base64url, strict JSON): the crate's own, public
/// to its tests and fuzz targets (feature `testing`).
#[cfg(feature = "testing")]
pub mod encoding;
#[cfg(not(feature = "testing"))]
#[allow(unreachable_pub)]
mod encoding;
pub mod handles;
pub mod index;
pub mod jws;
pub mod local;
pub mod manager;
pub mod metadata;
pub mod rules;
pub mod x509;

#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::object::Handle;
use std::collections::BTreeMap;
use std::future::Future as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use manager::Certificates;

/// The name prefix of every certificate blob.
pub const BLOB_PREFIX: &str = "pkcs11_certificate_";

/// The blob name of a certificate handle.
pub fn blob_name(handle: Handle) -> String {
    format!("{BLOB_PREFIX}{handle}")
}

/// The metadata stored with a blob: names and values, in name order.
pub type Metadata = BTreeMap<String, String>;

/// Asks a listing running on another thread to stop: between pages, and
/// (on Azure) in the middle of a page's request, so that `C_Finalize`
/// never waits for a request to time out.
#[derive(Debug, Default)]
pub struct Cancel {
    cancelled: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    /// Asks every listing given this to stop; they end with
    /// [`Error::StoreUnavailable`].
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// `future`'s output, or `None` once [`Cancel::cancel`] was called
    /// (before or while it runs).
    pub async fn unless_cancelled<T>(
        &self,
        future: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let mut notified = std::pin::pin!(self.notify.notified());
        // Registered before the flag is read: a cancel in between wakes it.
        notified.as_mut().enable();
        if self.is_cancelled() {
            return None;
        }
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|context| {
            if notified.as_mut().poll(context).is_ready() || self.is_cancelled() {
                return std::task::Poll::Ready(None);
            }
            future.as_mut().poll(context).map(Some)
        })
        .await
    }

    /// The error a cancelled listing ends with.
    pub fn error() -> Error {
        Error::StoreUnavailable("the listing was cancelled (C_Finalize)".to_string())
    }
}

/// One blob as a listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobEntry {
    /// The blob's name (`pkcs11_certificate_<handle>` for certificates).
    pub name: String,
    /// An opaque version (an ETag on Azure): changes whenever the content does.
    pub version: String,
    /// Metadata stored with the blob, when the store has metadata (Azure);
    /// `None` when the body must be read to know what is in it (local store).
    pub metadata: Option<Metadata>,
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

/// The outcome of [`BlobStore::update`].
pub type Updated = Result<UpdateOutcome>;

/// A cheap summary of which blobs a store holds (the local store: its
/// directory's identity). Two equal stamps, the first of them `settled`,
/// mean that no blob was created, replaced (by rename) or deleted between
/// the moments they were taken, so a listing taken after the first still
/// stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeStamp {
    pub value: String,
    /// The store had not changed for longer than its clock's granularity
    /// when the stamp was taken: a change after it cannot keep the stamp.
    pub settled: bool,
}

/// What [`BlobStore::probe`] says of one blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The store has no cheap way to tell: read the blob.
    NotCheap,
    /// The blob is not there.
    Gone,
    /// The blob's version now, as a listing would give it.
    Version(String),
}

/// A container of blobs. Implementations are blocking, thread-safe, and
/// never block forever (network stores time out with `Error::StoreRequest`).
pub trait BlobStore: Send + Sync {
    /// Where the blobs are, for log lines (never a secret).
    fn describe(&self) -> String;
    /// Every blob whose name starts with `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>>;
    /// [`BlobStore::list`], from a thread of the library's own that
    /// `cancel` may stop: a store of many pages checks it between pages
    /// (Azure also during a request) and then fails with
    /// [`Cancel::error`].
    fn list_cancellable(&self, prefix: &str, cancel: &Arc<Cancel>) -> Result<Vec<BlobEntry>> {
        if cancel.is_cancelled() {
            return Err(Cancel::error());
        }
        self.list(prefix)
    }
    /// A blob's content and version; `None` when absent.
    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>>;
    /// Creates `name` only if absent, atomically: readers see either no blob
    /// or the whole content.
    fn create(&self, name: &str, content: &[u8], metadata: &Metadata) -> Result<CreateOutcome>;
    /// Replaces `name` only if its version is still `expected`, atomically.
    fn update(&self, name: &str, content: &[u8], metadata: &Metadata, expected: &str) -> Updated;
    /// Deletes `name`; a missing blob is not an error.
    fn delete(&self, name: &str) -> Result<()>;
    /// The blobs whose name starts with `prefix` and is `start` or sorts
    /// after it, in one cheap request; `None` when the store cannot list
    /// from a name (then only [`BlobStore::list`] is used). Blob names
    /// sort by handle, and new handles are higher than those in use, so
    /// this finds the certificates created since the last listing.
    fn list_from(&self, _prefix: &str, _start: &str) -> Result<Option<Vec<BlobEntry>>> {
        Ok(None)
    }
    /// The store's [`ChangeStamp`] now; `None` for a store that has none
    /// (every search lists it).
    fn change_stamp(&self) -> Result<Option<ChangeStamp>> {
        Ok(None)
    }
    /// The version of `name` now, when the store can tell without reading
    /// the whole blob (the local store: one `stat`).
    fn probe(&self, _name: &str) -> Result<Probe> {
        Ok(Probe::NotCheap)
    }
    /// The index cache kept beside the blobs (see `manager/cache.rs`);
    /// `None` when there is none or it cannot be read (it is only a cache).
    fn read_cache(&self) -> Option<Vec<u8>> {
        None
    }
    /// Replaces the index cache; a store without one ignores it, and a
    /// failure is only logged.
    fn write_cache(&self, _content: &[u8]) {}
}

/// Opens the blob store a `CERTSTORAGE_URL` names. This function knows the
/// local store (`file:///absolute/dir`, created when absent); other schemes
/// are for the backends that add themselves here.
pub fn open_store(url: &str) -> Result<Arc<dyn BlobStore>> {
    if url.starts_with("file:") {
        return Ok(Arc::new(local::LocalStore::from_url(url)?));
    }
    Err(Error::Configuration(format!(
        "CERTSTORAGE_URL {url}: no blob store for this URL scheme"
    )))
}
