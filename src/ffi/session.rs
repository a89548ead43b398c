//! Session management (PKCS#11 3.0 §5.6).

use super::convert::{out, pin};
use super::{guard, session_provider};
use crate::provider::provider;
use cryptoki_sys::*;

/// `C_OpenSession`: `CKF_SERIAL_SESSION` is required; callbacks are not used.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_OpenSession` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _application: *mut std::ffi::c_void,
    _notify: CK_NOTIFY,
    session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard("C_OpenSession", || {
        let provider = provider()?;
        // SAFETY: `session` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let session = unsafe { out(session) }?;
        *session = provider.open_session(slot, flags)?;
        Ok(())
    })
}

/// `C_CloseSession`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_CloseSession` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_CloseSession(session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_CloseSession", || provider()?.close_session(session))
}

/// `C_CloseAllSessions`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_CloseAllSessions` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    guard("C_CloseAllSessions", || {
        provider()?.close_all_sessions(slot)
    })
}

/// `C_GetSessionInfo`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetSessionInfo` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(
    session: CK_SESSION_HANDLE,
    info: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard("C_GetSessionInfo", || {
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
    })
}

/// `C_Login`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Login` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Login(
    session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin_ptr: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    guard("C_Login", || {
        let provider = session_provider(session)?;
        // SAFETY: `pin_ptr` is NULL or the caller's `pin_len` PIN bytes; `pin` refuses NULL
        // with a non-zero length
        provider.login(session, user, unsafe { pin(pin_ptr, pin_len) }?)
    })
}

/// `C_Logout`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Logout` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Logout(session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_Logout", || provider()?.logout(session))
}

/// `C_SessionCancel` (3.0).
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_SessionCancel` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_SessionCancel(session: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    guard("C_SessionCancel", || provider()?.cancel(session, flags))
}
