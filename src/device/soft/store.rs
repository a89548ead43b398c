//! Where objects live: token objects in the database, session objects in
//! memory, and a cache of parsed keys so an operation never decrypts or
//! parses key material twice.
//!
//! The cache is keyed by handle and tagged with the row's version. Object
//! functions read the row first and drop a stale cache entry; the operation
//! path (`*_init`) trusts a cached entry, so a change made by another
//! process is seen by operations after the next find or lookup here.

use super::crypto::{self, KeyMaterial, LoadedKey};
use super::database::{Database, ObjectRow, MAX_TOKEN_HANDLE};
use super::objects::class_and_type;
use super::pins::{self, TokenKey};
use super::token::OpenTokenKey;
use super::SoftOptions;
use crate::error::{Error, Result};
use crate::object::{Access, Attributes, Handle, Template};
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// First session-object handle; token objects stay below it.
pub(super) const FIRST_SESSION_HANDLE: Handle = 0x8000_0000;
/// Session-object handles stay below the certificate range.
const LAST_SESSION_HANDLE: Handle = crate::object::FIRST_CERTIFICATE_HANDLE - 1;

/// One object with, once loaded, its parsed key.
pub(super) struct Entry {
    /// The object handle.
    pub handle: Handle,
    /// The database row version (0 for session objects).
    pub version: i64,
    /// Every attribute but the sensitive ones.
    pub attributes: Attributes,
    /// Material sealed under the token key (token private and secret keys).
    pub sealed: Option<Vec<u8>>,
    /// The parsed key, when loaded (always, for session keys).
    pub key: Option<Arc<LoadedKey>>,
}

impl Entry {
    /// `CKA_TOKEN`.
    pub(super) fn is_token(&self) -> bool {
        self.handle <= MAX_TOKEN_HANDLE
    }
    /// `CKA_PRIVATE`.
    pub(super) fn is_private(&self) -> bool {
        self.attributes.bool_or(CKA_PRIVATE, true)
    }
}

struct SessionObject {
    owner: CK_SESSION_HANDLE,
    entry: Arc<Entry>,
}

/// A new object: its attributes and, for keys, its material.
pub(super) struct NewObject {
    /// The attributes to store (`CKA_TOKEN` decides where).
    pub attributes: Attributes,
    /// The key material, for keys.
    pub key: Option<Arc<LoadedKey>>,
}

/// The device's state shared by everything in this module.
pub(super) struct Inner {
    /// The options the device was opened with.
    pub options: SoftOptions,
    /// The token database.
    pub database: Database,
    /// The token key while a login holds it open.
    pub(super) token_key: OpenTokenKey,
    session_objects: RwLock<BTreeMap<Handle, SessionObject>>,
    next_session_handle: Mutex<Handle>,
    cache: RwLock<HashMap<Handle, Arc<Entry>>>,
    /// The parsed private half of the device's own blob-signing key, with its public half.
    pub own_signing_key: Mutex<Option<(Vec<u8>, Arc<LoadedKey>)>>,
}

impl Inner {
    /// State over an open database, nobody logged in.
    pub(super) fn new(options: SoftOptions, database: Database) -> Inner {
        Inner {
            options,
            database,
            token_key: OpenTokenKey::default(),
            session_objects: RwLock::new(BTreeMap::new()),
            next_session_handle: Mutex::new(FIRST_SESSION_HANDLE),
            cache: RwLock::new(HashMap::new()),
            own_signing_key: Mutex::new(None),
        }
    }

    /// Forgets the token key and every parsed key it protected.
    pub(super) fn forget_keys(&self) {
        self.token_key.close();
        self.cache.write().clear();
        *self.own_signing_key.lock() = None;
    }

    /// Drops every session object and cache entry (token re-initialised).
    pub(super) fn forget_objects(&self) {
        self.session_objects.write().clear();
        self.cache.write().clear();
    }

    /// The object behind `handle` as the object functions see it: read
    /// fresh from the database for token objects, `ObjectHandleInvalid` when
    /// it does not exist or is private and the user is not logged in.
    pub(super) fn entry(&self, access: &Access, handle: Handle) -> Result<Arc<Entry>> {
        let entry = if handle >= FIRST_SESSION_HANDLE {
            self.session_entry(handle)
        } else {
            match self.database.object(handle)? {
                Some(row) => Some(self.refresh(row)),
                None => {
                    self.cache.write().remove(&handle);
                    None
                }
            }
        };
        let entry = entry.ok_or(Error::ObjectHandleInvalid)?;
        if entry.is_private() && !access.sees_private() {
            return Err(Error::ObjectHandleInvalid);
        }
        Ok(entry)
    }

    fn session_entry(&self, handle: Handle) -> Option<Arc<Entry>> {
        let objects = self.session_objects.read();
        objects.get(&handle).map(|object| object.entry.clone())
    }

    /// The cached entry for `row`, replaced when the row changed.
    fn refresh(&self, row: ObjectRow) -> Arc<Entry> {
        if let Some(cached) = self.cache.read().get(&row.handle) {
            if cached.version == row.version {
                return cached.clone();
            }
        }
        let entry = Arc::new(Entry {
            handle: row.handle,
            version: row.version,
            attributes: row.attributes,
            sealed: row.sealed,
            key: None,
        });
        self.cache.write().insert(row.handle, entry.clone());
        entry
    }

    /// The key behind `handle` for an operation, parsed and ready. A cached
    /// key is used without touching the database. Unknown handles are
    /// `KeyHandleInvalid`; private keys need the user (`UserNotLoggedIn`).
    pub(super) fn key_entry(
        &self,
        access: &Access,
        handle: Handle,
    ) -> Result<(Arc<Entry>, Arc<LoadedKey>)> {
        let entry = self.key_object(handle)?;
        if entry.is_private() && !access.sees_private() {
            return Err(Error::UserNotLoggedIn);
        }
        let key = self.loaded_key(&entry)?;
        Ok((entry, key))
    }

    /// The key behind `handle` for the device's own use (the blob-signing
    /// key), in no session: parsed and ready while the token key is open.
    pub(super) fn own_use_key(&self, handle: Handle) -> Result<(Arc<Entry>, Arc<LoadedKey>)> {
        let entry = self.key_object(handle)?;
        let key = self.loaded_key(&entry)?;
        Ok((entry, key))
    }

    /// The key object behind `handle`, cached or read now
    /// (`KeyHandleInvalid` when it is none).
    fn key_object(&self, handle: Handle) -> Result<Arc<Entry>> {
        let cached = if handle >= FIRST_SESSION_HANDLE {
            self.session_entry(handle)
        } else {
            self.cache
                .read()
                .get(&handle)
                .filter(|entry| entry.key.is_some())
                .cloned()
        };
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let row = self
                    .database
                    .object(handle)?
                    .ok_or(Error::KeyHandleInvalid)?;
                self.refresh(row)
            }
        };
        let (class, _) = class_and_type(&entry.attributes);
        if !matches!(class, CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
            return Err(Error::KeyHandleInvalid);
        }
        Ok(entry)
    }

    /// Parses an entry's key once and keeps it in the cache.
    pub(super) fn loaded_key(&self, entry: &Arc<Entry>) -> Result<Arc<LoadedKey>> {
        if let Some(key) = &entry.key {
            return Ok(key.clone());
        }
        let (class, key_type) = class_and_type(&entry.attributes);
        let key_type = key_type.ok_or(Error::KeyHandleInvalid)?;
        let material = match class {
            CKO_PUBLIC_KEY => {
                let der = entry
                    .attributes
                    .get(CKA_PUBLIC_KEY_INFO)
                    .unwrap_or_default();
                KeyMaterial::Public(crypto::public_from_der(der)?)
            }
            CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
                let sealed = entry
                    .sealed
                    .as_deref()
                    .ok_or_else(|| Error::CorruptTokenData("key without material".into()))?;
                let (plain, _) =
                    pins::open_material(&self.require_token_key()?, sealed, &entry.attributes)
                        .inspect_err(|_| {
                            tracing::error!(
                                "soft token: key object {}: its sealed value does not open with its attributes (changed outside the token?); the key is unusable",
                                entry.handle
                            );
                        })?;
                if class == CKO_SECRET_KEY {
                    KeyMaterial::Secret(plain)
                } else {
                    KeyMaterial::Private(crypto::private_from_der(&plain)?)
                }
            }
            _ => return Err(Error::KeyHandleInvalid),
        };
        let key = Arc::new(LoadedKey { key_type, material });
        if entry.is_token() {
            let loaded = Arc::new(Entry {
                handle: entry.handle,
                version: entry.version,
                attributes: entry.attributes.clone(),
                sealed: entry.sealed.clone(),
                key: Some(key.clone()),
            });
            let mut cache = self.cache.write();
            // Keep a newer version another thread cached meanwhile.
            if cache
                .get(&entry.handle)
                .is_none_or(|current| current.version <= entry.version)
            {
                cache.insert(entry.handle, loaded);
            }
        }
        Ok(key)
    }

    /// Stores new objects, token ones in one transaction. Token objects
    /// need a read/write session, private ones the user, and token keys
    /// with material the token key to seal it.
    pub(super) fn insert(&self, access: &Access, objects: Vec<NewObject>) -> Result<Vec<Handle>> {
        let mut rows = Vec::new();
        for object in &objects {
            let token = object.attributes.bool_or(CKA_TOKEN, false);
            access.require_read_write(token)?;
            if object.attributes.bool_or(CKA_PRIVATE, true) {
                access.require_user()?;
            }
            if token {
                rows.push(self.seal_object(object)?);
            }
        }
        let refs: Vec<_> = rows
            .iter()
            .map(|(attributes, sealed)| (attributes, sealed.as_deref()))
            .collect();
        let mut token_handles = self.database.insert_objects(&refs)?.into_iter();
        let mut sealed_values = rows.into_iter().map(|(_, sealed)| sealed);
        let mut handles = Vec::with_capacity(objects.len());
        for object in objects {
            if object.attributes.bool_or(CKA_TOKEN, false) {
                let handle = token_handles
                    .next()
                    .ok_or_else(|| Error::Internal("handle count"))?;
                let sealed = sealed_values.next().flatten();
                let entry = Entry {
                    handle,
                    version: 1,
                    attributes: object.attributes,
                    sealed,
                    key: object.key,
                };
                self.cache.write().insert(handle, Arc::new(entry));
                handles.push(handle);
            } else {
                handles.push(self.insert_session_object(access.session, object)?);
            }
        }
        Ok(handles)
    }

    fn seal_object(&self, object: &NewObject) -> Result<(Attributes, Option<Vec<u8>>)> {
        let plain = match object.key.as_deref().map(|key| &key.material) {
            Some(KeyMaterial::Private(pkey)) => Some(crypto::private_to_der(pkey)?),
            Some(KeyMaterial::Secret(value)) => Some(value.clone()),
            Some(KeyMaterial::Public(_)) | None => {
                needs_attestation(&object.attributes).then(|| zeroize::Zeroizing::new(Vec::new()))
            }
        };
        let sealed = match plain {
            Some(plain) => Some(pins::seal_material(
                &self.sealing_key()?,
                &plain,
                &object.attributes,
            )?),
            None => None,
        };
        Ok((object.attributes.clone(), sealed))
    }

    fn insert_session_object(&self, owner: CK_SESSION_HANDLE, object: NewObject) -> Result<Handle> {
        let mut objects = self.session_objects.write();
        let mut next = self.next_session_handle.lock();
        // Handles are not reused while the process lives, unless the range wraps.
        let mut handle = *next;
        while objects.contains_key(&handle) {
            handle = if handle >= LAST_SESSION_HANDLE {
                FIRST_SESSION_HANDLE
            } else {
                handle + 1
            };
            if handle == *next {
                return Err(Error::DeviceMemory(
                    "session object handles exhausted".into(),
                ));
            }
        }
        *next = if handle >= LAST_SESSION_HANDLE {
            FIRST_SESSION_HANDLE
        } else {
            handle + 1
        };
        let entry = Entry {
            handle,
            version: 0,
            attributes: object.attributes,
            sealed: None,
            key: object.key,
        };
        objects.insert(
            handle,
            SessionObject {
                owner,
                entry: Arc::new(entry),
            },
        );
        Ok(handle)
    }

    /// Replaces an object's attributes (material unchanged). A token key
    /// whose bound attributes change is sealed again under them, which
    /// needs the token key (`UserNotLoggedIn` without it).
    pub(super) fn update(&self, entry: &Entry, attributes: Attributes) -> Result<()> {
        if !entry.is_token() {
            let mut objects = self.session_objects.write();
            let object = objects
                .get_mut(&entry.handle)
                .ok_or(Error::ObjectHandleInvalid)?;
            let key = object.entry.key.clone();
            object.entry = Arc::new(Entry {
                handle: entry.handle,
                version: 0,
                attributes,
                sealed: None,
                key,
            });
            return Ok(());
        }
        let sealed = match &entry.sealed {
            Some(sealed)
                if !pins::is_bound(sealed)
                    || pins::material_aad(&entry.attributes) != pins::material_aad(&attributes) =>
            {
                let token_key = self.sealing_key()?;
                let (plain, _) = pins::open_material(&token_key, sealed, &entry.attributes)?;
                Some(pins::seal_material(&token_key, &plain, &attributes)?)
            }
            None if needs_attestation(&attributes) => {
                Some(pins::seal_material(&self.sealing_key()?, &[], &attributes)?)
            }
            other => other.clone(),
        };
        let resealed = (sealed != entry.sealed)
            .then_some(sealed.as_deref())
            .flatten();
        match self
            .database
            .update_object(entry.handle, entry.version, &attributes, resealed)?
        {
            Some(version) => {
                let updated = Entry {
                    handle: entry.handle,
                    version,
                    attributes,
                    sealed,
                    key: entry.key.clone(),
                };
                self.cache.write().insert(entry.handle, Arc::new(updated));
                Ok(())
            }
            None => {
                self.cache.write().remove(&entry.handle);
                match self.database.object(entry.handle)? {
                    None => Err(Error::ObjectHandleInvalid),
                    Some(_) => Err(Error::ChangedConcurrently(
                        "object changed by another process; try again".into(),
                    )),
                }
            }
        }
    }

    /// Whether a key's `CKA_TRUSTED` can be believed: a private or secret
    /// key's attributes are checked whenever its value is opened; a public
    /// key's, by opening its attestation, which needs the token key (no
    /// login, no trust).
    pub(super) fn is_trusted(&self, entry: &Entry) -> bool {
        if !entry.attributes.bool_or(CKA_TRUSTED, false) {
            return false;
        }
        match class_and_type(&entry.attributes).0 {
            CKO_SECRET_KEY | CKO_PRIVATE_KEY => self
                .loaded_key(&Arc::new(Entry {
                    handle: entry.handle,
                    version: entry.version,
                    attributes: entry.attributes.clone(),
                    sealed: entry.sealed.clone(),
                    key: entry.key.clone(),
                }))
                .is_ok(),
            CKO_PUBLIC_KEY if !entry.is_token() => true,
            CKO_PUBLIC_KEY => {
                let attested = match (self.require_token_key(), entry.sealed.as_deref()) {
                    (Ok(token_key), Some(sealed)) if pins::is_bound(sealed) => {
                        pins::open_material(&token_key, sealed, &entry.attributes).is_ok()
                    }
                    _ => false,
                };
                if !attested {
                    tracing::warn!(
                        "soft token: public key {} says CKA_TRUSTED but has no valid attestation (set outside the token?); it is not trusted",
                        entry.handle
                    );
                }
                attested
            }
            _ => false,
        }
    }

    /// Seals again, bound to their attributes, the token keys sealed before
    /// attributes were bound (a token made by an earlier version); run at
    /// login, when the token key is open. A value that does not open is
    /// left as it is (it is unusable either way) and logged.
    pub(super) fn bind_sealed_keys(&self, token_key: &TokenKey) -> Result<usize> {
        let mut bound = 0;
        for row in self.database.unbound_objects(pins::BOUND_SEAL)? {
            let Some(sealed) = row.sealed.as_deref().filter(|s| !pins::is_bound(s)) else {
                continue;
            };
            let plain = match pins::open_material(token_key, sealed, &row.attributes) {
                Ok((plain, _)) => plain,
                Err(_) => {
                    tracing::error!(
                        "soft token: key object {}: its sealed value does not open (changed outside the token?); the key is unusable",
                        row.handle
                    );
                    continue;
                }
            };
            let resealed = pins::seal_material(token_key, &plain, &row.attributes)?;
            if self
                .database
                .update_object(row.handle, row.version, &row.attributes, Some(&resealed))?
                .is_some()
            {
                self.cache.write().remove(&row.handle);
                bound += 1;
            }
        }
        Ok(bound)
    }

    /// Destroys an object.
    pub(super) fn remove(&self, entry: &Entry) -> Result<()> {
        if entry.is_token() {
            self.cache.write().remove(&entry.handle);
            if !self.database.delete_object(entry.handle)? {
                return Err(Error::ObjectHandleInvalid);
            }
        } else if self.session_objects.write().remove(&entry.handle).is_none() {
            return Err(Error::ObjectHandleInvalid);
        }
        Ok(())
    }

    /// Visible objects matching `template`: token objects in handle order,
    /// then session objects. Reads every row so that objects created,
    /// changed or destroyed by another process are seen, and drops cache
    /// entries that went stale.
    pub(super) fn find(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        // The provider's certificate store holds every certificate object;
        // a certificate search need not read the token.
        if crate::object::find_ulong(template, CKA_CLASS)
            .ok()
            .flatten()
            == Some(CKO_CERTIFICATE)
        {
            return Ok(Vec::new());
        }
        let rows = self.database.objects()?;
        let versions: HashMap<Handle, i64> =
            rows.iter().map(|row| (row.handle, row.version)).collect();
        self.cache
            .write()
            .retain(|handle, entry| versions.get(handle) == Some(&entry.version));
        let visible = |attributes: &Attributes| {
            access.sees_private() || !attributes.bool_or(CKA_PRIVATE, true)
        };
        let mut handles: Vec<Handle> = rows
            .iter()
            .filter(|row| visible(&row.attributes) && row.attributes.matches(template))
            .map(|row| row.handle)
            .collect();
        handles.extend(
            self.session_objects
                .read()
                .values()
                .filter(|object| {
                    visible(&object.entry.attributes) && object.entry.attributes.matches(template)
                })
                .map(|object| object.entry.handle),
        );
        Ok(handles)
    }

    /// Every token row, for searches the device makes for itself.
    pub(super) fn token_rows(&self) -> Result<Vec<ObjectRow>> {
        self.database.objects()
    }

    /// Destroys the private session objects (at logout).
    pub(super) fn drop_private_session_objects(&self) {
        self.session_objects
            .write()
            .retain(|_, object| !object.entry.is_private());
    }

    /// Destroys the session objects `session` owns.
    pub(super) fn close_session(&self, session: CK_SESSION_HANDLE) {
        self.session_objects
            .write()
            .retain(|_, object| object.owner != session);
    }
}

/// A trusted public key gets an attestation (see `pins::BOUND_ATTRIBUTES`).
fn needs_attestation(attributes: &Attributes) -> bool {
    class_and_type(attributes).0 == CKO_PUBLIC_KEY
        && attributes.bool_or(CKA_TOKEN, false)
        && attributes.bool_or(CKA_TRUSTED, false)
}
