//! Signing and MACing (PKCS#11 3.0 §5.11).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::{guard, session_provider};
use cryptoki_sys::*;

/// `C_SignInit`.
#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_SignInit", || {
        let provider = session_provider(session)?;
        provider.sign_init(session, &unsafe { mechanism(mech) }?, key)
    })
}

/// `C_Sign`.
#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_Sign", || {
        let provider = session_provider(session)?;
        let capacity = unsafe { capacity(signature, signature_len) }?;
        let output = provider.sign(session, unsafe { bytes(data, data_len) }?, capacity)?;
        unsafe { deliver(output, signature, signature_len) }
    })
}

/// `C_SignUpdate`.
#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    guard("C_SignUpdate", || {
        let provider = session_provider(session)?;
        provider.sign_update(session, unsafe { bytes(part, part_len) }?)
    })
}

/// `C_SignFinal`.
#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_SignFinal", || {
        let provider = session_provider(session)?;
        let capacity = unsafe { capacity(signature, signature_len) }?;
        let output = provider.sign_final(session, capacity)?;
        unsafe { deliver(output, signature, signature_len) }
    })
}
