//! [`Certificates`]: the certificate objects of the application, as the
//! provider sees them. Token certificates live in the blob store (indexed
//! in memory, verified before use); session certificates live in memory.

use super::handles::{next_session_handle, next_token_handle};
use super::index::TokenIndex;
use super::jws::{sign_blob, BlobVerifier, DeviceSigner};
use super::rules::{check_copy, check_create, check_set};
use super::{blob_name, metadata, BlobStore, ChangeStamp, CreateOutcome, UpdateOutcome};
use crate::device::Device;
use crate::error::{Error, Result};
use crate::object::template::{require_permitted, Action};
use crate::object::{
    Access, Answers, AttributeResult, AttributeType, Attributes, Handle, Template,
};
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use sync::Listing;

mod cache;
mod derive;
pub(crate) mod parallel;
mod sync;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use sync::{FULL_LISTING_INTERVAL, INLINE_LISTING_LIMIT};

/// How many times a token update is re-applied on top of a concurrent
/// writer's version before giving up.
const UPDATE_ATTEMPTS: usize = 3;

/// A session certificate and the session that created it.
#[derive(Clone, Debug)]
struct SessionCertificate {
    owner: CK_SESSION_HANDLE,
    object: Attributes,
}

/// How one attempt of a conditional change ended.
enum Attempt {
    Done,
    /// Another writer changed the blob first: locate it again and retry.
    Conflict,
}

/// A certificate found by handle.
enum Located {
    Token {
        object: Arc<Attributes>,
        version: String,
    },
    Session(Attributes),
}

impl Located {
    fn object(&self) -> &Attributes {
        match self {
            Located::Token { object, .. } => object,
            Located::Session(object) => object,
        }
    }
}

/// The certificate objects of the application: token certificates in the
/// blob store (indexed), session certificates in memory.
///
/// Every method is thread-safe; no lock is held across store I/O or signing.
pub struct Certificates {
    device: Arc<dyn Device>,
    store: Arc<dyn BlobStore>,
    signing_key_id: Option<String>,
    keys: Mutex<Option<(DeviceSigner, BlobVerifier)>>,
    index: RwLock<TokenIndex>,
    sessions: RwLock<BTreeMap<Handle, SessionCertificate>>,
    /// Token handles being claimed by this process right now.
    reserved: Mutex<BTreeSet<Handle>>,
    freshness: Mutex<Duration>,
    last_refresh: Mutex<Option<Instant>>,
    /// The store's change stamp taken just before the last listing.
    last_stamp: Mutex<Option<ChangeStamp>>,
    /// When the last listing of the whole store ended.
    last_full_listing: Mutex<Option<Instant>>,
    /// How long the last whole listing took (before reading any blob).
    last_full_listing_took: Mutex<Duration>,
    /// `CERTSTORAGE_LISTING_SECONDS`: [`sync::FULL_LISTING_INTERVAL`] by default.
    full_listing_interval: Mutex<Duration>,
    /// When the blob keys were last checked against the device.
    last_key_check: Mutex<Option<Instant>>,
    worker_threads: AtomicUsize,
    /// Whether a whole listing may run on a thread of its own (not when
    /// the application forbids the library to create threads).
    background_allowed: AtomicBool,
    /// The whole listing running on a thread of its own, if any.
    background: Mutex<Option<sync::BackgroundListing>>,
    /// When the index was taken from the index cache (a store with metadata).
    seeded_at: Mutex<Option<Instant>>,
    /// Whether the names after the cache's highest handle were listed
    /// since the index was taken from the cache.
    listed_from_seed: AtomicBool,
    /// When this process last wrote the index cache of a store with metadata.
    last_metadata_cache_write: Mutex<Option<Instant>>,
    /// [`sync::INLINE_LISTING_LIMIT`]; tests lower it.
    inline_listing_limit: Mutex<Duration>,
}

impl Drop for Certificates {
    /// Stops a whole listing running on its own thread and waits for that
    /// thread: once `C_Finalize` returns, no thread of this library runs.
    fn drop(&mut self) {
        self.stop_background_listing();
    }
}

impl Certificates {
    /// Opens the certificate store. Nothing is read yet: the first search
    /// (or create) lists the store, so opening never fails on a slow store.
    pub fn open(
        store: Arc<dyn BlobStore>,
        device: Arc<dyn Device>,
        signing_key_id: Option<String>,
    ) -> Result<Self> {
        Ok(Certificates {
            device,
            store,
            signing_key_id,
            keys: Mutex::new(None),
            index: RwLock::new(TokenIndex::default()),
            sessions: RwLock::new(BTreeMap::new()),
            reserved: Mutex::new(BTreeSet::new()),
            freshness: Mutex::new(Duration::ZERO),
            last_refresh: Mutex::new(None),
            last_stamp: Mutex::new(None),
            last_full_listing: Mutex::new(None),
            last_full_listing_took: Mutex::new(Duration::ZERO),
            full_listing_interval: Mutex::new(sync::FULL_LISTING_INTERVAL),
            last_key_check: Mutex::new(None),
            worker_threads: AtomicUsize::new(1),
            background_allowed: AtomicBool::new(false),
            background: Mutex::new(None),
            seeded_at: Mutex::new(None),
            listed_from_seed: AtomicBool::new(false),
            last_metadata_cache_write: Mutex::new(None),
            inline_listing_limit: Mutex::new(sync::INLINE_LISTING_LIMIT),
        })
    }

    /// Lets a listing that finds many new blobs (the first one, at start-up)
    /// read and index them on up to `threads` threads. 1, the default,
    /// creates no thread: for applications that forbid it
    /// (`CKF_LIBRARY_CANT_CREATE_OS_THREADS`).
    pub fn set_worker_threads(&self, threads: usize) {
        self.worker_threads.store(threads.max(1), Ordering::Relaxed);
    }

    fn worker_threads(&self) -> usize {
        self.worker_threads.load(Ordering::Relaxed)
    }

    /// Lets a whole listing of a store without a change stamp (Azure) that
    /// took [`sync::INLINE_LISTING_LIMIT`] or longer last time run on a
    /// thread of its own, so that no search waits for it; the searches in
    /// the meantime go on from the index (see [`sync::BackgroundListing`]).
    /// Off by default: for applications that forbid the library to create
    /// threads.
    pub fn set_background_listing(&self, allowed: bool) {
        self.background_allowed.store(allowed, Ordering::Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn set_inline_listing_limit(&self, limit: Duration) {
        *self.inline_listing_limit.lock() = limit;
    }

    /// How long after a whole listing of a store without a change stamp
    /// (Azure) ended the next search lists it whole again
    /// (`CERTSTORAGE_LISTING_SECONDS`; [`sync::FULL_LISTING_INTERVAL`] by
    /// default). Zero: every search that lists the store lists it whole,
    /// so a destroy or change by another process shows at once.
    pub fn set_full_listing_interval(&self, interval: Duration) {
        *self.full_listing_interval.lock() = interval;
    }

    /// How long a listing of the store stays fresh: searches and creates
    /// re-list the store when it is older. Zero (the default) re-lists on
    /// every search, so a certificate another process created is found at once.
    pub fn set_freshness(&self, interval: Duration) {
        *self.freshness.lock() = interval;
    }

    /// `C_CreateObject` for a `CKO_CERTIFICATE` template (rules: [`check_create`]).
    /// A token certificate needs a R/W session and a logged-in user (its blob
    /// is signed by the device); a session one needs neither.
    pub fn create(&self, access: &Access, template: &Template) -> Result<Handle> {
        let given = check_create(access, template)?;
        if given.bool_or(CKA_PRIVATE, false) && !access.sees_private() {
            // PKCS#11 3.0 §5.7: private objects need the user logged in.
            return Err(Error::UserNotLoggedIn);
        }
        let token = given.bool_or(CKA_TOKEN, false);
        access.require_read_write(token)?;
        if token {
            require_login(access)?;
        }
        let object = self.build_object(access, given)?;
        if token {
            self.store_new_token(&object)
        } else {
            self.insert_session(access.session, object)
        }
    }

    /// `C_CopyObject` of a certificate. As in the reference, a copy takes no
    /// template: a non-empty one is `TemplateInconsistent` and nothing is
    /// created. A token certificate's copy is a new token certificate (own
    /// handle and blob), a session certificate's a new session certificate.
    pub fn copy(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle> {
        let located = self.locate(access, handle)?;
        check_copy(access, located.object(), template)?;
        let object = located.object().clone();
        require_permitted(&object, Action::CopyObject)?;
        match located {
            Located::Token { .. } => {
                access.require_read_write(true)?;
                require_login(access)?;
                self.store_new_token(&object)
            }
            Located::Session(_) => self.insert_session(access.session, object),
        }
    }

    /// `C_DestroyObject` of a certificate: a token certificate's blob is deleted.
    pub fn destroy(&self, access: &Access, handle: Handle) -> Result<()> {
        let located = self.locate(access, handle)?;
        require_permitted(located.object(), Action::DestroyObject)?;
        match located {
            Located::Token { .. } => {
                access.require_read_write(true)?;
                self.store.delete(&blob_name(handle))?;
                self.index.write().remove(handle);
            }
            Located::Session(_) => {
                self.sessions.write().remove(&handle);
            }
        }
        Ok(())
    }

    /// One attempt of [`Certificates::set_attributes`] on the object as
    /// `located` found it: a conditional update of its blob may meet
    /// another writer's change ([`Attempt::Conflict`]).
    fn set_once(
        &self,
        access: &Access,
        handle: Handle,
        located: &Located,
        template: &Template,
    ) -> Result<Attempt> {
        let (current, version) = match located {
            Located::Session(object) => (object.clone(), None),
            Located::Token { object, version } => ((**object).clone(), Some(version.clone())),
        };
        let changes = check_set(access, &current, template)?;
        if changes.0.is_empty() {
            return Ok(Attempt::Done);
        }
        if changes.bool_or(CKA_PRIVATE, false) && !access.sees_private() {
            return Err(Error::UserNotLoggedIn);
        }
        let next = self.apply_changes(access, &current, &changes);
        let to_token = next.bool_or(CKA_TOKEN, false);
        access.require_read_write(version.is_some() || to_token)?;
        match (version, to_token) {
            (None, true) => self.move_to_token(access, handle, &next)?,
            (None, false) => {
                let mut sessions = self.sessions.write();
                let entry = sessions
                    .get_mut(&handle)
                    .ok_or(Error::ObjectHandleInvalid)?;
                entry.object = next;
            }
            (Some(_), false) => {
                self.store.delete(&blob_name(handle))?;
                self.index.write().remove(handle);
                self.sessions.write().insert(
                    handle,
                    SessionCertificate {
                        owner: access.session,
                        object: next,
                    },
                );
            }
            (Some(version), true) => return self.update_blob(access, handle, next, &version),
        }
        Ok(Attempt::Done)
    }

    /// Writes `next` over the blob of `handle` if the blob is still at
    /// `version`.
    fn update_blob(
        &self,
        access: &Access,
        handle: Handle,
        next: Attributes,
        version: &str,
    ) -> Result<Attempt> {
        require_login(access)?;
        let content = sign_blob(&self.current_keys()?.0, handle, &next)?;
        match self.store.update(
            &blob_name(handle),
            content.as_bytes(),
            &metadata::encode(&next),
            version,
        )? {
            UpdateOutcome::Updated(version) => {
                self.index_verified(handle, version, next);
                Ok(Attempt::Done)
            }
            UpdateOutcome::NotFound => {
                self.index.write().remove(handle);
                Err(Error::ObjectHandleInvalid)
            }
            UpdateOutcome::Conflict => Ok(Attempt::Conflict),
        }
    }

    /// Whether a certificate could match `template`: no other class is
    /// asked for and every attribute is one certificates have. When false,
    /// a search need not (and during an outage must not) ask the store.
    pub fn could_match(&self, template: &Template) -> bool {
        template.iter().all(|attribute| match attribute.kind {
            CKA_CLASS => attribute.value == CKO_CERTIFICATE.to_ne_bytes(),
            kind => crate::certstore::rules::rule_of(kind).is_some(),
        })
    }

    /// The visible certificates matching `template`, in increasing handle
    /// order. Token certificates are matched on the index and verified
    /// before they are returned; a blob that fails verification is left out
    /// (and logged once per version).
    pub fn find(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        let listing = self.refresh_if_due()?;
        let candidates = self
            .index
            .read()
            .candidates(template, access.sees_private());
        let mut found = BTreeSet::new();
        for handle in candidates {
            let loaded = match listing {
                Listing::Current => self.load_token(handle),
                Listing::Unchanged => self.load_token_probed(handle),
            };
            if let Ok((object, _)) = loaded {
                if visible(access, &object) && object.matches(template) {
                    found.insert(handle);
                }
            }
        }
        for (handle, session) in self.sessions.read().iter() {
            if visible(access, &session.object) && session.object.matches(template) {
                found.insert(*handle);
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Drops the session certificates created by `session`.
    pub fn close_session(&self, session: CK_SESSION_HANDLE) {
        self.sessions
            .write()
            .retain(|_, certificate| certificate.owner != session);
    }

    /// Drops every session certificate (`C_CloseAllSessions`, `C_Finalize`).
    pub fn close_all_sessions(&self) {
        self.sessions.write().clear();
    }

    // ----- internals -----

    /// The certificate `handle`, if it exists and `access` may see it.
    fn locate(&self, access: &Access, handle: Handle) -> Result<Located> {
        let session = self.sessions.read().get(&handle).map(|s| s.object.clone());
        let located = match session {
            Some(object) => Located::Session(object),
            None => {
                let (object, version) = self.load_token_fresh(handle)?;
                Located::Token { object, version }
            }
        };
        if !visible(access, located.object()) {
            return Err(Error::ObjectHandleInvalid);
        }
        Ok(located)
    }

    /// The blob keys as last read from the device, for verifying.
    fn keys(&self) -> Result<(DeviceSigner, BlobVerifier)> {
        if let Some(keys) = self.keys.lock().as_ref() {
            return Ok(keys.clone());
        }
        self.current_keys()
    }

    /// The blob keys, read from the device now, for signing: a blob must
    /// never be signed by a key the device no longer holds (`C_InitToken`,
    /// here or in another process, replaces the embedded one), since no
    /// one could verify it. A key that changed drops everything verified
    /// with the old one (see [`Certificates::forget_keys`]).
    fn current_keys(&self) -> Result<(DeviceSigner, BlobVerifier)> {
        let key = self
            .device
            .blob_signing_key(self.signing_key_id.as_deref())?;
        let cached = self.keys.lock().clone();
        if let Some((signer, verifier)) = cached {
            if signer.key_id() == key.key_id() {
                return Ok((signer, verifier));
            }
            tracing::warn!(
                old = %signer.key_id(),
                new = %key.key_id(),
                "the blob signing key changed (the token was re-initialised?): certificates are verified again with the new key"
            );
            self.forget_keys();
        }
        let keys = (
            DeviceSigner::new(key.clone())?,
            BlobVerifier::new(key.as_ref())?,
        );
        *self.keys.lock() = Some(keys.clone());
        Ok(keys)
    }

    /// Drops the blob keys and every token certificate verified with them,
    /// so the next call reads the device's key again and the next search
    /// re-lists and re-verifies the store. `C_InitToken` calls it: blobs
    /// signed by the replaced key stop verifying.
    pub fn forget_keys(&self) {
        self.stop_background_listing();
        *self.keys.lock() = None;
        self.index.write().clear();
        *self.last_refresh.lock() = None;
        *self.last_stamp.lock() = None;
        *self.last_full_listing.lock() = None;
        *self.seeded_at.lock() = None;
    }

    /// Checks, once per listing, that the cached keys are still the
    /// device's (another process may have re-initialised the token). A key
    /// the device cannot give now (no user logged in yet) changes nothing.
    ///
    /// A key whose public half no longer matches its private half (the
    /// device says `KeyBindingBroken`) fails closed: the verifier and every
    /// certificate verified with it are dropped.
    fn check_keys(&self) {
        if self.keys.lock().is_some() {
            if let Err(Error::KeyBindingBroken(reason)) = self.current_keys() {
                tracing::error!("{reason}: certificates are no longer verified with it");
                self.forget_keys();
            }
        }
    }

    /// Claims a token handle for `object` and stores its blob. Each attempt
    /// signs a blob naming the proposed handle and creates it only if absent;
    /// a handle another process took meanwhile is indexed and the next one tried.
    fn store_new_token(&self, object: &Attributes) -> Result<Handle> {
        // The store is listed once, for the highest handle in use; later
        // creates need no listing: a handle another process took meanwhile
        // shows up as AlreadyExists and is skipped, so creating stays one
        // signature and one write however many blobs the store holds.
        if self.last_refresh.lock().is_none() {
            self.refresh_if_due()?;
        }
        let signer = self.current_keys()?.0;
        let metadata = metadata::encode(object);
        loop {
            let handle = self.reserve_token_handle()?;
            let outcome = sign_blob(&signer, handle, object).and_then(|content| {
                self.store
                    .create(&blob_name(handle), content.as_bytes(), &metadata)
            });
            match outcome {
                Ok(CreateOutcome::Created(version)) => {
                    self.index_verified(handle, version, object.clone());
                    self.reserved.lock().remove(&handle);
                    return Ok(handle);
                }
                Ok(CreateOutcome::AlreadyExists) => {
                    let entry = self.entry_from_store(handle);
                    let mut index = self.index.write();
                    index.insert(handle, entry.ok().flatten().unwrap_or_default());
                    self.reserved.lock().remove(&handle);
                }
                Err(error) => {
                    self.reserved.lock().remove(&handle);
                    return Err(error);
                }
            }
        }
    }

    /// Proposes the next token handle and reserves it in this process.
    fn reserve_token_handle(&self) -> Result<Handle> {
        let index = self.index.read();
        let sessions = self.sessions.read();
        let mut reserved = self.reserved.lock();
        let highest = index.highest().max(reserved.last().copied());
        let in_use =
            |h: Handle| index.contains(h) || reserved.contains(&h) || sessions.contains_key(&h);
        let handle = next_token_handle(highest, in_use)
            .ok_or_else(|| Error::DeviceMemory("every certificate handle is in use".into()))?;
        reserved.insert(handle);
        Ok(handle)
    }

    fn insert_session(&self, owner: CK_SESSION_HANDLE, object: Attributes) -> Result<Handle> {
        let index = self.index.read();
        let mut sessions = self.sessions.write();
        let reserved = self.reserved.lock();
        let in_use =
            |h: Handle| index.contains(h) || reserved.contains(&h) || sessions.contains_key(&h);
        let handle = next_session_handle(in_use)
            .ok_or_else(|| Error::DeviceMemory("every certificate handle is in use".into()))?;
        sessions.insert(handle, SessionCertificate { owner, object });
        Ok(handle)
    }

    /// Moves a session certificate to the store under its own handle.
    fn move_to_token(&self, access: &Access, handle: Handle, object: &Attributes) -> Result<()> {
        require_login(access)?;
        let content = sign_blob(&self.current_keys()?.0, handle, object)?;
        let name = blob_name(handle);
        match self
            .store
            .create(&name, content.as_bytes(), &metadata::encode(object))?
        {
            CreateOutcome::Created(version) => {
                self.sessions.write().remove(&handle);
                self.index_verified(handle, version, object.clone());
                Ok(())
            }
            CreateOutcome::AlreadyExists => {
                tracing::error!(blob = %name, "cannot move a session certificate to the token: another process stored a certificate under its handle");
                Err(Error::ChangedConcurrently(format!(
                    "{name} is taken by another token certificate"
                )))
            }
        }
    }
}

/// Private certificates are visible only once the user is logged in.
fn visible(access: &Access, object: &Attributes) -> bool {
    access.sees_private() || !object.bool_or(CKA_PRIVATE, false)
}

/// Writing a token certificate needs the device to sign, so someone must be
/// logged in; whether that login may sign is the device's answer.
fn require_login(access: &Access) -> Result<()> {
    if access.user || access.so {
        Ok(())
    } else {
        Err(Error::UserNotLoggedIn)
    }
}

impl crate::object::ObjectStore for Certificates {
    fn create_object(&self, access: &Access, template: &Template) -> Result<Handle> {
        self.create(access, template)
    }
    fn find_objects(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        self.find(access, template)
    }
    fn could_hold(&self, template: &Template) -> bool {
        self.could_match(template)
    }
    fn copy_object(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle> {
        self.copy(access, handle, template)
    }
    fn destroy_object(&self, access: &Access, handle: Handle) -> Result<()> {
        self.destroy(access, handle)
    }

    /// `C_GetObjectSize` of a certificate: the total size of its attribute values.
    fn object_size(&self, access: &Access, handle: Handle) -> Result<CK_ULONG> {
        let located = self.locate(access, handle)?;
        let size: usize = located.object().0.values().map(Vec::len).sum();
        Ok(size as CK_ULONG)
    }

    /// `C_GetAttributeValue` of a certificate: every attribute of the
    /// reference's second table has a value; anything else is `Invalid`.
    fn get_attributes(&self, access: &Access, handle: Handle, kinds: &[AttributeType]) -> Answers {
        let located = self.locate(access, handle)?;
        let object = located.object();
        Ok(kinds
            .iter()
            .map(|kind| match object.get(*kind) {
                Some(value) => AttributeResult::Value(value.to_vec()),
                None => AttributeResult::Invalid,
            })
            .collect())
    }

    /// `C_SetAttributeValue` of a certificate (rules: [`check_set`]). A
    /// template with any refused attribute changes nothing. Changing
    /// CKA_TOKEN moves the certificate between the blob store and memory
    /// under the same handle; a certificate moved to memory belongs to the
    /// calling session. Changing CKA_VALUE recomputes CKA_CHECK_VALUE and
    /// re-derives each derivable attribute whose current value is what the
    /// old CKA_VALUE gave (or empty); values a caller set are kept.
    fn set_attributes(&self, access: &Access, handle: Handle, template: &Template) -> Result<()> {
        let mut located = self.locate(access, handle)?;
        for _ in 0..UPDATE_ATTEMPTS {
            match self.set_once(access, handle, &located, template)? {
                Attempt::Done => return Ok(()),
                Attempt::Conflict => {
                    tracing::info!(blob = %blob_name(handle), "certificate changed by another writer; re-applying the update");
                    if let Some(entry) = self.index.write().remove(handle) {
                        tracing::debug!(version = %entry.version, "dropped stale index entry");
                    }
                    located = self.locate(access, handle)?;
                }
            }
        }
        Err(Error::ChangedConcurrently(format!(
            "{}: too many concurrent updates",
            blob_name(handle)
        )))
    }
}
