//! Slot and token management (PKCS#11 3.0 §5.5).

use super::convert::{bytes, deliver_slice, out, pad, pin};
use super::{guard, session_provider};
use crate::error::Error;
use crate::provider::{provider, SLOT_ID};
use cryptoki_sys::*;

/// `C_GetSlotList`: one slot, ID 1, always holding its token.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    _token_present: CK_BBOOL,
    list: *mut CK_SLOT_ID,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetSlotList", || {
        provider()?;
        unsafe { deliver_slice(&[SLOT_ID], list, count) }
    })
}

/// `C_GetSlotInfo`.
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, info: *mut CK_SLOT_INFO) -> CK_RV {
    guard("C_GetSlotInfo", || {
        provider()?.check_slot(slot)?;
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
#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    guard("C_GetTokenInfo", || {
        let token = provider()?.token_info(slot)?;
        let info = unsafe { out(info) }?;
        let status = &token.status;
        let details = status.details.as_ref();
        pad(&mut info.label, &status.label);
        pad(
            &mut info.manufacturerID,
            details.map_or("azcloudhsm-pkcs11", |d| &d.manufacturer),
        );
        pad(&mut info.model, details.map_or("soft device", |d| &d.model));
        pad(&mut info.serialNumber, &status.serial);
        let mut flags = details.map_or(CKF_RNG | CKF_LOGIN_REQUIRED, |d| d.other_flags);
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
        match details {
            Some(d) => {
                info.ulMaxSessionCount = d.max_session_count;
                info.ulMaxRwSessionCount = d.max_rw_session_count;
                info.ulTotalPublicMemory = d.total_public_memory;
                info.ulFreePublicMemory = d.free_public_memory;
                info.ulTotalPrivateMemory = d.total_private_memory;
                info.ulFreePrivateMemory = d.free_private_memory;
                info.hardwareVersion = version(d.hardware_version);
                info.firmwareVersion = version(d.firmware_version);
                pad(&mut info.utcTime, &d.utc_time);
            }
            None => {
                info.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
                info.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
                info.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
                info.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
                info.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
                info.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
                info.hardwareVersion = super::general::library_version();
                info.firmwareVersion = super::general::library_version();
                pad(&mut info.utcTime, "");
            }
        }
        Ok(())
    })
}

/// `C_GetMechanismList`.
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
        unsafe { deliver_slice(&mechanisms, list, count) }
    })
}

/// `C_GetMechanismInfo`.
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    kind: CK_MECHANISM_TYPE,
    info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard("C_GetMechanismInfo", || {
        let mechanism = provider()?.mechanism_info(slot, kind)?;
        let info = unsafe { out(info) }?;
        info.ulMinKeySize = mechanism.min_key_size;
        info.ulMaxKeySize = mechanism.max_key_size;
        info.flags = mechanism.flags;
        Ok(())
    })
}

/// `C_InitToken`: the label is 32 blank-padded bytes.
#[no_mangle]
pub unsafe extern "C" fn C_InitToken(
    slot: CK_SLOT_ID,
    so_pin: *mut CK_UTF8CHAR,
    so_pin_len: CK_ULONG,
    label: *mut CK_UTF8CHAR,
) -> CK_RV {
    guard("C_InitToken", || {
        let provider = provider()?;
        let so_pin = unsafe { pin(so_pin, so_pin_len) }?;
        if label.is_null() {
            return Err(Error::ArgumentsBad("NULL label"));
        }
        let label = unsafe { bytes(label, 32) }?;
        let label = String::from_utf8_lossy(label);
        provider.init_token(slot, so_pin, label.trim_end_matches([' ', '\0']))
    })
}

/// `C_InitPIN`.
#[no_mangle]
pub unsafe extern "C" fn C_InitPIN(
    session: CK_SESSION_HANDLE,
    new_pin: *mut CK_UTF8CHAR,
    new_pin_len: CK_ULONG,
) -> CK_RV {
    guard("C_InitPIN", || {
        let provider = session_provider(session)?;
        provider.init_pin(session, unsafe { pin(new_pin, new_pin_len) }?)
    })
}

/// `C_SetPIN`.
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
        provider.set_pin(session, unsafe { pin(old_pin, old_len) }?, unsafe {
            pin(new_pin, new_len)
        }?)
    })
}

/// `C_WaitForSlotEvent`: the slot never changes, so there is never an event.
#[no_mangle]
pub unsafe extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    slot: *mut CK_SLOT_ID,
    reserved: *mut std::ffi::c_void,
) -> CK_RV {
    let rv = guard("C_WaitForSlotEvent", || {
        provider()?;
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
