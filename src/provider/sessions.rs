//! The session table: which sessions are open, and whether each is R/W.

use crate::error::{Error, Result};
use crate::session::Session;
use cryptoki_sys::CK_SESSION_HANDLE;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The next session handle, for the whole life of the process: a handle
/// is never issued twice, not even after `C_Finalize` and `C_Initialize`,
/// so a thread still holding a session of the finalised provider gets
/// `CKR_SESSION_HANDLE_INVALID` instead of reaching another thread's new
/// session that happens to have the same number.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// A session handle never issued before in this process.
pub(super) fn new_handle() -> CK_SESSION_HANDLE {
    NEXT_SESSION.fetch_add(1, Ordering::Relaxed)
}

/// One row of the session table. The R/W flag never changes, so it is kept
/// outside the session's mutex: counting sessions or checking for R/O ones
/// never waits for a session busy with a long operation.
#[derive(Clone)]
pub(super) struct SessionEntry {
    read_write: bool,
    state: Arc<Mutex<Session>>,
}

impl SessionEntry {
    /// Whether the session is R/W.
    pub(super) fn read_write(&self) -> bool {
        self.read_write
    }

    /// The session's own state, behind its mutex.
    pub(super) fn state(&self) -> &Mutex<Session> {
        &self.state
    }
}

/// The open sessions of the application, by handle. Its lock is held only
/// to read or change the table, except by [`SessionTable::while_empty`].
#[derive(Default)]
pub(super) struct SessionTable {
    entries: RwLock<HashMap<CK_SESSION_HANDLE, SessionEntry>>,
}

impl SessionTable {
    /// Adds a new session `handle`.
    pub(super) fn insert(&self, handle: CK_SESSION_HANDLE, read_write: bool) {
        let state = Arc::new(Mutex::new(Session::new(read_write)));
        self.entries
            .write()
            .insert(handle, SessionEntry { read_write, state });
    }

    /// Removes session `handle` (`CKR_SESSION_HANDLE_INVALID` when it is
    /// not open); true when it was the last one.
    pub(super) fn remove(&self, handle: CK_SESSION_HANDLE) -> Result<bool> {
        let mut entries = self.entries.write();
        entries.remove(&handle).ok_or(Error::SessionHandleInvalid)?;
        Ok(entries.is_empty())
    }

    /// Empties the table and returns the handles it held.
    pub(super) fn remove_all(&self) -> Vec<CK_SESSION_HANDLE> {
        self.entries
            .write()
            .drain()
            .map(|(handle, _)| handle)
            .collect()
    }

    /// Session `handle`, or `CKR_SESSION_HANDLE_INVALID`.
    pub(super) fn get(&self, handle: CK_SESSION_HANDLE) -> Result<SessionEntry> {
        self.entries
            .read()
            .get(&handle)
            .cloned()
            .ok_or(Error::SessionHandleInvalid)
    }

    /// The number of open sessions, and of R/W ones among them.
    pub(super) fn counts(&self) -> (usize, usize) {
        let entries = self.entries.read();
        let read_write = entries.values().filter(|entry| entry.read_write).count();
        (entries.len(), read_write)
    }

    /// Whether any open session is R/O.
    pub(super) fn any_read_only(&self) -> bool {
        self.entries.read().values().any(|entry| !entry.read_write)
    }

    /// Every open session's state, to act on each without the table's lock.
    pub(super) fn states(&self) -> Vec<Arc<Mutex<Session>>> {
        self.entries
            .read()
            .values()
            .map(|entry| entry.state.clone())
            .collect()
    }

    /// Runs `f` while no session is open, holding the table's read lock so
    /// that none opens meanwhile; `CKR_SESSION_EXISTS` when one is open.
    pub(super) fn while_empty<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let entries = self.entries.read();
        if !entries.is_empty() {
            return Err(Error::SessionExists);
        }
        f()
    }
}
