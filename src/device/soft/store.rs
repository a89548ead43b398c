//! Where objects live: token objects in the database, session objects in
//! memory ([`super::session_objects`]), and a cache of parsed keys
//! ([`super::cache`]) so an operation never decrypts or parses key
//! material twice.
//!
//! Object functions read the row first and drop a stale cache entry; the
//! operation path (`*_init`) trusts a cached entry, so a change made by
//! another process is seen by operations after the next find or lookup
//! here.

use super::cache::KeyCache;
use super::crypto::{self, KeyMaterial, LoadedKey};
use super::database::{Database, ObjectRow, MAX_TOKEN_HANDLE};
use super::objects::class_and_type;
use super::pins::{self, TokenKey};
use super::session_objects::{SessionObjects, FIRST_SESSION_HANDLE};
use super::signing_key::OwnKeyCache;
use super::token::TokenPins;
use super::SoftOptions;
use crate::error::{Error, Result};
use crate::object::{Access, Attributes, Handle, Template};
use cryptoki_sys::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// The same object with its parsed key.
    fn with_key(&self, key: Option<Arc<LoadedKey>>) -> Entry {
        Entry {
            handle: self.handle,
            version: self.version,
            attributes: self.attributes.clone(),
            sealed: self.sealed.clone(),
            key,
        }
    }
}

/// A new object: its attributes and, for keys, its material.
pub(super) struct NewObject {
    /// The attributes to store (`CKA_TOKEN` decides where).
    pub attributes: Attributes,
    /// The key material, for keys.
    pub key: Option<Arc<LoadedKey>>,
}

/// The device's state, in its parts: the token database, the token key
/// and PINs, the session objects, the cache of parsed token keys, and the
/// parsed blob-signing key. Each part keeps its own lock; no method holds
/// two of them at once, and none is held across a database call.
pub(super) struct Inner {
    token_dir: PathBuf,
    /// `FIPS_APPROVED_ONLY` ([`crypto::fips`]).
    pub(super) fips_approved_only: bool,
    /// The token database.
    pub(super) database: Database,
    /// The token key and the PIN checks.
    pub(super) pins: TokenPins,
    session_objects: SessionObjects,
    cache: KeyCache,
    /// The parsed private half of the device's own blob-signing key.
    pub(super) own_key: OwnKeyCache,
}

impl Inner {
    /// State over an open database, nobody logged in.
    pub(super) fn new(options: SoftOptions, database: Database) -> Inner {
        Inner {
            pins: TokenPins::new(&options),
            fips_approved_only: options.fips_approved_only,
            token_dir: options.token_dir,
            database,
            session_objects: SessionObjects::default(),
            cache: KeyCache::default(),
            own_key: OwnKeyCache::default(),
        }
    }

    /// The token directory.
    pub(super) fn token_dir(&self) -> &Path {
        &self.token_dir
    }

    /// Forgets the token key and every parsed key it protected.
    pub(super) fn forget_keys(&self) {
        self.pins.close();
        self.cache.clear();
        self.own_key.clear();
    }

    /// Drops every session object and cache entry (token re-initialised).
    pub(super) fn forget_objects(&self) {
        self.session_objects.clear();
        self.cache.clear();
    }

    /// The token key for sealing new material: the unlocked key, if it is
    /// still the token's (another process may have re-initialised the token,
    /// and material sealed under the old key would be lost to everyone else).
    pub(super) fn sealing_key(&self) -> Result<TokenKey> {
        let token_key = self.pins.token_key()?;
        if self.database.token()?.key_check != Some(pins::key_check(&token_key)) {
            tracing::warn!("soft token: re-initialised by another process; log in again");
            self.forget_keys();
            return Err(Error::UserNotLoggedIn);
        }
        Ok(token_key)
    }

    /// The object behind `handle` as the object functions see it: read
    /// fresh from the database for token objects, `ObjectHandleInvalid` when
    /// it does not exist or is private and the user is not logged in.
    pub(super) fn entry(&self, access: &Access, handle: Handle) -> Result<Arc<Entry>> {
        let entry = if handle >= FIRST_SESSION_HANDLE {
            self.session_objects.get(handle)
        } else {
            match self.database.object(handle)? {
                Some(row) => Some(self.cache.current(row)),
                None => {
                    self.cache.remove(handle);
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
            self.session_objects.get(handle)
        } else {
            self.cache.loaded(handle)
        };
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let row = self
                    .database
                    .object(handle)?
                    .ok_or(Error::KeyHandleInvalid)?;
                self.cache.current(row)
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
                    pins::open_material(&self.pins.token_key()?, sealed, &entry.attributes)
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
            self.cache.keep_loaded(entry.with_key(Some(key.clone())));
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
                self.cache.insert(entry);
                handles.push(handle);
            } else {
                let handle =
                    (self.session_objects).insert(access.session, object.attributes, object.key)?;
                handles.push(handle);
            }
        }
        Ok(handles)
    }

    /// Stores one object and returns its handle.
    pub(super) fn insert_one(&self, access: &Access, object: NewObject) -> Result<Handle> {
        self.insert(access, vec![object])?
            .pop()
            .ok_or_else(|| Error::Internal("no handle"))
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

    /// Replaces an object's attributes (material unchanged). A token key
    /// whose bound attributes change is sealed again under them, which
    /// needs the token key (`UserNotLoggedIn` without it).
    pub(super) fn update(&self, entry: &Entry, attributes: Attributes) -> Result<()> {
        if !entry.is_token() {
            return (self.session_objects).replace_attributes(entry.handle, attributes);
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
                self.cache.insert(updated);
                Ok(())
            }
            None => {
                self.cache.remove(entry.handle);
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
                .loaded_key(&Arc::new(entry.with_key(entry.key.clone())))
                .is_ok(),
            CKO_PUBLIC_KEY if !entry.is_token() => true,
            CKO_PUBLIC_KEY => {
                let attested = match (self.pins.token_key(), entry.sealed.as_deref()) {
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
                self.cache.remove(row.handle);
                bound += 1;
            }
        }
        Ok(bound)
    }

    /// Destroys an object.
    pub(super) fn remove(&self, entry: &Entry) -> Result<()> {
        if entry.is_token() {
            self.cache.remove(entry.handle);
            if !self.database.delete_object(entry.handle)? {
                return Err(Error::ObjectHandleInvalid);
            }
        } else if !self.session_objects.remove(entry.handle) {
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
        self.cache.keep_versions(&versions);
        let visible = |attributes: &Attributes| {
            access.sees_private() || !attributes.bool_or(CKA_PRIVATE, true)
        };
        let mut handles: Vec<Handle> = rows
            .iter()
            .filter(|row| visible(&row.attributes) && row.attributes.matches(template))
            .map(|row| row.handle)
            .collect();
        handles.extend(
            (self.session_objects)
                .matching(|attributes| visible(attributes) && attributes.matches(template)),
        );
        Ok(handles)
    }

    /// Every token row, for searches the device makes for itself.
    pub(super) fn token_rows(&self) -> Result<Vec<ObjectRow>> {
        self.database.objects()
    }

    /// Destroys the private session objects (at logout).
    pub(super) fn drop_private_session_objects(&self) {
        self.session_objects.drop_private();
    }

    /// Destroys the session objects `session` owns.
    pub(super) fn close_session(&self, session: CK_SESSION_HANDLE) {
        self.session_objects.close_session(session);
    }
}

/// A trusted public key gets an attestation (see `pins::BOUND_ATTRIBUTES`).
fn needs_attestation(attributes: &Attributes) -> bool {
    class_and_type(attributes).0 == CKO_PUBLIC_KEY
        && attributes.bool_or(CKA_TOKEN, false)
        && attributes.bool_or(CKA_TRUSTED, false)
}
