//! Slot and token management (PKCS#11 3.0 §5.5).

use super::convert::{bytes, deliver_slice, out, pad, pin};
use super::export::export;
use super::{guard, session_provider};
use crate::device::TokenStatus;
use crate::error::Error;
use crate::provider::{provider, TokenInfo, SLOT_ID};
use cryptoki_sys::*;

export! {
    /// `C_GetSlotList`: one slot, ID 1, always holding its token.
    fn C_GetSlotList(_token_present: CK_BBOOL, list: *mut CK_SLOT_ID, count: *mut CK_ULONG) {
        provider()?;
        // SAFETY: `count` is NULL or the caller's count word, and `list` NULL (a count query)
        // or an array of that many items; `deliver_slice` refuses a NULL count and writes no
        // more items than it allows
        unsafe { deliver_slice(&[SLOT_ID], list, count) }
    }
    /// `C_GetSlotInfo`.
    fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) {
        provider()?.check_slot(slot)?;
        // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let info = unsafe { out(info) }?;
        pad(&mut info.slotDescription, "Azure Cloud HSM (azcloudhsm-pkcs11)");
        pad(&mut info.manufacturerID, "azcloudhsm-pkcs11");
        info.flags = CKF_TOKEN_PRESENT;
        info.hardwareVersion = super::general::library_version();
        info.firmwareVersion = super::general::library_version();
        Ok(())
    }
    /// `C_GetTokenInfo`: every flag reported is true of the token.
    fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) {
        let token = provider()?.token_info(slot)?;
        // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        fill_token_info(unsafe { out(info) }?, &token);
        Ok(())
    }
    /// `C_GetMechanismList`.
    fn C_GetMechanismList(slot: CK_SLOT_ID, list: *mut CK_MECHANISM_TYPE, count: *mut CK_ULONG) {
        let mechanisms: Vec<CK_MECHANISM_TYPE> = provider()?.mechanisms(slot)?.iter().map(|m| m.kind).collect();
        // SAFETY: as in `C_GetSlotList`.
        unsafe { deliver_slice(&mechanisms, list, count) }
    }
    /// `C_GetMechanismInfo`.
    fn C_GetMechanismInfo(slot: CK_SLOT_ID, kind: CK_MECHANISM_TYPE, info: *mut CK_MECHANISM_INFO) {
        let mechanism = provider()?.mechanism_info(slot, kind)?;
        // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let info = unsafe { out(info) }?;
        info.ulMinKeySize = mechanism.min_key_size;
        info.ulMaxKeySize = mechanism.max_key_size;
        info.flags = mechanism.flags;
        Ok(())
    }
    /// `C_InitToken`: the label is 32 blank-padded bytes.
    fn C_InitToken(slot: CK_SLOT_ID, so_pin: *mut CK_UTF8CHAR, so_pin_len: CK_ULONG, label: *mut CK_UTF8CHAR) {
        let provider = provider()?;
        // SAFETY: `so_pin` is NULL or the caller's `so_pin_len` PIN bytes; `pin` refuses NULL
        // with a non-zero length
        let so_pin = unsafe { pin(so_pin, so_pin_len) }?;
        if label.is_null() {
            return Err(Error::ArgumentsBad("NULL label"));
        }
        // SAFETY: `label` is the caller's 32 readable bytes (PKCS#11 3.0 §5.5), not NULL
        let label = String::from_utf8_lossy(unsafe { bytes(label, 32) }?);
        provider.init_token(slot, so_pin, label.trim_end_matches([' ', '\0']))
    }
    /// `C_InitPIN`.
    C_InitPIN(session, pin) => init_pin();
    /// `C_SetPIN`.
    fn C_SetPIN(session: CK_SESSION_HANDLE, old_pin: *mut CK_UTF8CHAR, old_len: CK_ULONG, new_pin: *mut CK_UTF8CHAR, new_len: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: `old_pin` and `new_pin` are NULL or the caller's PIN bytes of the lengths
        // beside them; `pin` refuses NULL with a non-zero length
        provider.set_pin(session, unsafe { pin(old_pin, old_len) }?, unsafe { pin(new_pin, new_len) }?)
    }
}

/// The flags of `CK_TOKEN_INFO`: the device's own, and each one
/// [`TokenStatus`] names that is true of the token.
fn token_flags(status: &TokenStatus) -> CK_FLAGS {
    let named = [
        (status.initialized, CKF_TOKEN_INITIALIZED),
        (status.user_pin_initialized, CKF_USER_PIN_INITIALIZED),
        (status.user_pin_count_low, CKF_USER_PIN_COUNT_LOW),
        (status.user_pin_final_try, CKF_USER_PIN_FINAL_TRY),
        (status.user_pin_locked, CKF_USER_PIN_LOCKED),
        (status.so_pin_count_low, CKF_SO_PIN_COUNT_LOW),
        (status.so_pin_final_try, CKF_SO_PIN_FINAL_TRY),
        (status.so_pin_locked, CKF_SO_PIN_LOCKED),
    ];
    named
        .iter()
        .filter(|(set, _)| *set)
        .fold(status.details.other_flags, |flags, (_, flag)| flags | flag)
}

/// Fills the caller's `CK_TOKEN_INFO` from what the provider reports.
fn fill_token_info(info: &mut CK_TOKEN_INFO, token: &TokenInfo) {
    let status = &token.status;
    let details = &status.details;
    pad(&mut info.label, &status.label);
    pad(&mut info.manufacturerID, &details.manufacturer);
    pad(&mut info.model, &details.model);
    pad(&mut info.serialNumber, &status.serial);
    info.flags = token_flags(status);
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
