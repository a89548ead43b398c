//! Slot and token management (PKCS#11 3.0 §5.5).

use super::convert::{bytes, deliver_slice, out, pad, pin};
use super::{guard, session_provider};
use crate::error::Error;
use crate::provider::{provider, SLOT_ID};
use cryptoki_sys::*;

/// `C_GetSlotList`: one slot, ID 1, always holding its token.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetSlotList` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    _token_present: CK_BBOOL,
    list: *mut CK_SLOT_ID,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetSlotList", || {
        provider()?;
        // SAFETY: `count` is NULL or the caller's count word, and `list` NULL (a count query)
        // or an array of that many items; `deliver_slice` refuses a NULL count and writes no
        // more items than it allows
        unsafe { deliver_slice(&[SLOT_ID], list, count) }
    })
}

/// `C_GetSlotInfo`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetSlotInfo` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard("C_GetSlotInfo", || {
        provider()?.check_slot(slot)?;
        // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let info = unsafe { out(info) }?;
        pad(
            &mut info.slotDescription,
            "Azure Cloud HSM (azcloudhsm-pkcs11)",
        );
        pad(&mut info.manufacturerID, "azcloudhsm-pkcs11");
        info.flags = CKF_TOKEN_PRESENT;
        info.hardwareVersion = super::general::library_version();
        info.firmwareVersion = super::general::library_version();
        Ok(())
    })
}

/// `C_GetTokenInfo`: every flag reported is true of the token.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetTokenInfo` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard("C_GetTokenInfo", || {
        let token = provider()?.token_info(slot)?;
        // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let info = unsafe { out(info) }?;
        let status = &token.status;
        let details = &status.details;
        pad(&mut info.label, &status.label);
        pad(&mut info.manufacturerID, &details.manufacturer);
        pad(&mut info.model, &details.model);
        pad(&mut info.serialNumber, &status.serial);
        let mut flags = details.other_flags;
        let set = |flags: &mut CK_FLAGS, condition: bool, flag: CK_FLAGS| {
            if condition {
                *flags |= flag
            }
        };
        set(&mut flags, status.initialized, CKF_TOKEN_INITIALIZED);
        set(
            &mut flags,
            status.user_pin_initialized,
            CKF_USER_PIN_INITIALIZED,
        );
        set(
            &mut flags,
            status.user_pin_count_low,
            CKF_USER_PIN_COUNT_LOW,
        );
        set(
            &mut flags,
            status.user_pin_final_try,
            CKF_USER_PIN_FINAL_TRY,
        );
        set(&mut flags, status.user_pin_locked, CKF_USER_PIN_LOCKED);
        set(&mut flags, status.so_pin_count_low, CKF_SO_PIN_COUNT_LOW);
        set(&mut flags, status.so_pin_final_try, CKF_SO_PIN_FINAL_TRY);
        set(&mut flags, status.so_pin_locked, CKF_SO_PIN_LOCKED);
        info.flags = flags;
        info.ulSessionCount = token.session_count as CK_ULONG;
        info.ulRwSessionCount = token.read_write_session_count as CK_ULONG;
        info.ulMaxPinLen = status.max_pin_len as CK_ULONG;
        info.ulMinPinLen = status.min_pin_len as CK_ULONG;
        let version = |(major, minor): (u8, u8)| CK_VERSION { major, minor };
        info.ulMaxSessionCount = details.max_session_count;
        info.ulMaxRwSessionCount = details.max_rw_session_count;
        info.ulTotalPublicMemory = details.total_public_memory;
        info.ulFreePublicMemory = details.free_public_memory;
        info.ulTotalPrivateMemory = details.total_private_memory;
        info.ulFreePrivateMemory = details.free_private_memory;
        info.hardwareVersion = version(details.hardware_version);
        info.firmwareVersion = version(details.firmware_version);
        pad(&mut info.utcTime, &details.utc_time);
        Ok(())
    })
}

/// `C_GetMechanismList`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetMechanismList` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    list: *mut CK_MECHANISM_TYPE,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetMechanismList", || {
        let mechanisms: Vec<CK_MECHANISM_TYPE> = provider()?
            .mechanisms(slot)?
            .iter()
            .map(|m| m.kind)
            .collect();
        // SAFETY: `count` is NULL or the caller's count word, and `list` NULL (a count query)
        // or an array of that many items; `deliver_slice` refuses a NULL count and writes no
        // more items than it allows
        unsafe { deliver_slice(&mechanisms, list, count) }
    })
}

/// `C_GetMechanismInfo`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetMechanismInfo` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    kind: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard("C_GetMechanismInfo", || {
        let mechanism = provider()?.mechanism_info(slot, kind)?;
        // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let info = unsafe { out(info) }?;
        info.ulMinKeySize = mechanism.min_key_size;
        info.ulMaxKeySize = mechanism.max_key_size;
        info.flags = mechanism.flags;
        Ok(())
    })
}

/// `C_InitToken`: the label is 32 blank-padded bytes.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_InitToken` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_InitToken(
    slot: CK_SLOT_ID,
    so_pin: *mut CK_UTF8CHAR,
    so_pin_len: CK_ULONG,
    label: *mut CK_UTF8CHAR,
) -> CK_RV {
    guard("C_InitToken", || {
        let provider = provider()?;
        // SAFETY: `so_pin` is NULL or the caller's `so_pin_len` PIN bytes; `pin` refuses NULL
        // with a non-zero length
        let so_pin = unsafe { pin(so_pin, so_pin_len) }?;
        if label.is_null() {
            return Err(Error::ArgumentsBad("NULL label"));
        }
        // SAFETY: `label` is NULL or the caller's `32` readable bytes (PKCS#11 buffer rule);
        // `bytes` refuses NULL with a non-zero length
        let label = unsafe { bytes(label, 32) }?;
        let label = String::from_utf8_lossy(label);
        provider.init_token(slot, so_pin, label.trim_end_matches([' ', '\0']))
    })
}

/// `C_InitPIN`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_InitPIN` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_InitPIN(
    session: CK_SESSION_HANDLE,
    new_pin: *mut CK_UTF8CHAR,
    new_pin_len: CK_ULONG,
) -> CK_RV {
    guard("C_InitPIN", || {
        let provider = session_provider(session)?;
        // SAFETY: `new_pin` is NULL or the caller's `new_pin_len` PIN bytes; `pin` refuses NULL
        // with a non-zero length
        provider.init_pin(session, unsafe { pin(new_pin, new_pin_len) }?)
    })
}

/// `C_SetPIN`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_SetPIN` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_SetPIN(
    session: CK_SESSION_HANDLE,
    old_pin: *mut CK_UTF8CHAR,
    old_len: CK_ULONG,
    new_pin: *mut CK_UTF8CHAR,
    new_len: CK_ULONG,
) -> CK_RV {
    guard("C_SetPIN", || {
        let provider = session_provider(session)?;
        // SAFETY: `old_pin` is NULL or the caller's `old_len` PIN bytes; `pin` refuses NULL
        // with a non-zero length
        provider.set_pin(session, unsafe { pin(old_pin, old_len) }?, unsafe {
            pin(new_pin, new_len)
        }?)
    })
}

/// `C_WaitForSlotEvent`: the slot never changes, so there is never an event.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_WaitForSlotEvent` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    slot: *mut CK_SLOT_ID,
    reserved: *mut std::ffi::c_void,
) -> CK_RV {
    let rv = guard("C_WaitForSlotEvent", || {
        provider()?;
        // SAFETY: `slot` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        unsafe { out(slot) }?;
        if !reserved.is_null() {
            return Err(Error::ArgumentsBad("pReserved must be NULL"));
        }
        if flags & CKF_DONT_BLOCK == 0 {
            return Err(Error::FunctionNotSupported("blocking C_WaitForSlotEvent"));
        }
        Ok(())
    });
    if rv == CKR_OK {
        CKR_NO_EVENT
    } else {
        rv
    }
}
