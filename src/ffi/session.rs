//! Session management (PKCS#11 3.0 §5.6).

use super::convert::{out, pin, returning};
use super::export::export;
use super::session_provider;
use crate::provider::provider;
use cryptoki_sys::*;

export! {
    /// `C_OpenSession`: `CKF_SERIAL_SESSION` is required; callbacks are not used.
    fn C_OpenSession(slot: CK_SLOT_ID, flags: CK_FLAGS, _application: *mut std::ffi::c_void, _notify: CK_NOTIFY, session: *mut CK_SESSION_HANDLE) {
        let provider = provider()?;
        // SAFETY: `session` is NULL or a place the caller lets us write for this call;
        // `returning` refuses NULL
        unsafe { returning(session, || provider.open_session(slot, flags)) }
    }
    /// `C_CloseSession`.
    C_CloseSession(session: CK_SESSION_HANDLE) => close_session;
    /// `C_CloseAllSessions`.
    C_CloseAllSessions(slot: CK_SLOT_ID) => close_all_sessions;
    /// `C_GetSessionInfo`.
    fn C_GetSessionInfo(session: CK_SESSION_HANDLE, info: *mut CK_SESSION_INFO) {
        let provider = session_provider(session)?;
        // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let info = unsafe { out(info) }?;
        let state = provider.session_info(session)?;
        info.slotID = crate::provider::SLOT_ID;
        info.state = state.state;
        info.flags = state.flags;
        info.ulDeviceError = 0;
        Ok(())
    }
    /// `C_Login`.
    fn C_Login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin_pointer: *mut CK_UTF8CHAR, pin_len: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: `pin_pointer` is NULL or the caller's `pin_len` PIN bytes; `pin` refuses NULL
        // with a non-zero length
        provider.login(session, user, unsafe { pin(pin_pointer, pin_len) }?)
    }
    /// `C_Logout`.
    C_Logout(session: CK_SESSION_HANDLE) => logout;
    /// `C_SessionCancel` (3.0).
    C_SessionCancel(session: CK_SESSION_HANDLE, flags: CK_FLAGS) => cancel;
}
