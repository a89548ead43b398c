//! Session objects: in memory only, owned by the session that made them,
//! with handles from [`FIRST_SESSION_HANDLE`] up, not reused while the
//! process lives unless the range wraps.

use super::crypto::LoadedKey;
use super::store::Entry;
use crate::error::{Error, Result};
use crate::object::{Attributes, Handle};
use cryptoki_sys::CK_SESSION_HANDLE;
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::sync::Arc;

/// First session-object handle; token objects stay below it.
pub(super) const FIRST_SESSION_HANDLE: Handle = 0x8000_0000;
/// Session-object handles stay below the certificate range.
const LAST_SESSION_HANDLE: Handle = crate::object::FIRST_CERTIFICATE_HANDLE - 1;

struct SessionObject {
    owner: CK_SESSION_HANDLE,
    entry: Arc<Entry>,
}

/// The session objects of every session, and the next handle to give.
pub(super) struct SessionObjects {
    objects: RwLock<BTreeMap<Handle, SessionObject>>,
    next_handle: Mutex<Handle>,
}

impl Default for SessionObjects {
    fn default() -> Self {
        SessionObjects {
            objects: RwLock::new(BTreeMap::new()),
            next_handle: Mutex::new(FIRST_SESSION_HANDLE),
        }
    }
}

/// The handle after `handle`, wrapping within the session range.
fn after(handle: Handle) -> Handle {
    if handle >= LAST_SESSION_HANDLE {
        FIRST_SESSION_HANDLE
    } else {
        handle + 1
    }
}

impl SessionObjects {
    /// The object behind `handle`, if there is one.
    pub(super) fn get(&self, handle: Handle) -> Option<Arc<Entry>> {
        let objects = self.objects.read();
        objects.get(&handle).map(|object| object.entry.clone())
    }

    /// Keeps a new object of `owner` and returns its handle
    /// (`DeviceMemory` when every handle of the range is taken).
    pub(super) fn insert(
        &self,
        owner: CK_SESSION_HANDLE,
        attributes: Attributes,
        key: Option<Arc<LoadedKey>>,
    ) -> Result<Handle> {
        let mut objects = self.objects.write();
        let mut next = self.next_handle.lock();
        let mut handle = *next;
        while objects.contains_key(&handle) {
            handle = after(handle);
            if handle == *next {
                return Err(Error::DeviceMemory(
                    "session object handles exhausted".into(),
                ));
            }
        }
        *next = after(handle);
        let entry = Entry {
            handle,
            version: 0,
            attributes,
            sealed: None,
            key,
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

    /// Replaces the attributes of `handle`, keeping its key.
    pub(super) fn replace_attributes(&self, handle: Handle, attributes: Attributes) -> Result<()> {
        let mut objects = self.objects.write();
        let object = objects.get_mut(&handle).ok_or(Error::ObjectHandleInvalid)?;
        let key = object.entry.key.clone();
        object.entry = Arc::new(Entry {
            handle,
            version: 0,
            attributes,
            sealed: None,
            key,
        });
        Ok(())
    }

    /// Destroys `handle`; false when there was no such object.
    pub(super) fn remove(&self, handle: Handle) -> bool {
        self.objects.write().remove(&handle).is_some()
    }

    /// The handles, in order, of the objects `wanted` accepts.
    pub(super) fn matching(&self, wanted: impl Fn(&Attributes) -> bool) -> Vec<Handle> {
        let objects = self.objects.read();
        objects
            .values()
            .filter(|object| wanted(&object.entry.attributes))
            .map(|object| object.entry.handle)
            .collect()
    }

    /// Destroys the private objects (at logout).
    pub(super) fn drop_private(&self) {
        self.objects
            .write()
            .retain(|_, object| !object.entry.is_private());
    }

    /// Destroys the objects `session` owns.
    pub(super) fn close_session(&self, session: CK_SESSION_HANDLE) {
        self.objects
            .write()
            .retain(|_, object| object.owner != session);
    }

    /// Destroys every object (the token was re-initialised).
    pub(super) fn clear(&self) {
        self.objects.write().clear();
    }
}
