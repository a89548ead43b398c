//! Vendor sessions: one per provider session, plus short-lived ones the
//! device opens for itself (the blob-signing key's).
//!
//! A vendor session is closed when its last user lets go of it: the
//! provider's session (through the device's table) and any operation
//! started in it. So a vendor session handle is never closed while an
//! operation may still use it, and never reused by the vendor while this
//! device still holds it.

use super::module::Vendor;
use crate::error::{Error, Result};
use cryptoki_sys::*;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// An open vendor session.
pub(super) struct VendorSession {
    pub vendor: Arc<Vendor>,
    pub handle: CK_SESSION_HANDLE,
}

impl VendorSession {
    /// `C_OpenSession` on `slot`, serial, R/W when asked.
    pub(super) fn open(
        vendor: &Arc<Vendor>,
        slot: CK_SLOT_ID,
        read_write: bool,
    ) -> Result<VendorSession> {
        let mut flags = CKF_SERIAL_SESSION;
        if read_write {
            flags |= CKF_RW_SESSION;
        }
        let handle = vendor.functions().open_session(slot, flags)?;
        Ok(VendorSession {
            vendor: vendor.clone(),
            handle,
        })
    }

    /// `C_GetSessionInfo`'s state.
    pub(super) fn state(&self) -> Result<CK_STATE> {
        Ok(self.vendor.functions().session_info(self.handle)?.state)
    }
}

impl Drop for VendorSession {
    fn drop(&mut self) {
        if let Err(error) = self.vendor.functions().close_session(self.handle) {
            tracing::debug!("closing vendor session {}: {error}", self.handle);
        }
    }
}

/// The provider's sessions and the vendor sessions behind them.
#[derive(Default)]
pub(super) struct Sessions {
    table: RwLock<HashMap<CK_SESSION_HANDLE, Arc<VendorSession>>>,
}

impl Sessions {
    pub(super) fn insert(&self, ours: CK_SESSION_HANDLE, session: VendorSession) {
        self.table.write().insert(ours, Arc::new(session));
    }

    /// The vendor session behind `ours`.
    pub(super) fn get(&self, ours: CK_SESSION_HANDLE) -> Result<Arc<VendorSession>> {
        self.table
            .read()
            .get(&ours)
            .cloned()
            .ok_or(Error::SessionHandleInvalid)
    }

    /// Any open vendor session (for `C_Logout`, which is per application).
    pub(super) fn any(&self) -> Option<Arc<VendorSession>> {
        self.table.read().values().next().cloned()
    }

    /// Lets go of the vendor session behind `ours` (closed once its
    /// operations are gone too). Returned so the caller drops it outside
    /// the table's lock.
    pub(super) fn remove(&self, ours: CK_SESSION_HANDLE) -> Option<Arc<VendorSession>> {
        self.table.write().remove(&ours)
    }
}
