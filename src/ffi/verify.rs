//! Verifying signatures and MACs (PKCS#11 3.0 §5.13).

use super::convert::{bytes, mechanism};
use super::{guard, session_provider};
use cryptoki_sys::*;

/// `C_VerifyInit`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_VerifyInit` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_VerifyInit", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        provider.verify_init(session, &unsafe { mechanism(mech) }?, key)
    })
}

/// `C_Verify`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Verify` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Verify(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    signature: *mut CK_BYTE,
    signature_len: CK_ULONG,
) -> CK_RV {
    guard("C_Verify", || {
        let provider = session_provider(session)?;
        // SAFETY: `data` is NULL or the caller's `data_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        provider.verify(session, unsafe { bytes(data, data_len) }?, unsafe {
            bytes(signature, signature_len)
        }?)
    })
}

/// `C_VerifyUpdate`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_VerifyUpdate` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
) -> CK_RV {
    guard("C_VerifyUpdate", || {
        let provider = session_provider(session)?;
        // SAFETY: `part` is NULL or the caller's `part_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        provider.verify_update(session, unsafe { bytes(part, part_len) }?)
    })
}

/// `C_VerifyFinal`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_VerifyFinal` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_VerifyFinal(
    session: CK_SESSION_HANDLE,
    signature: *mut CK_BYTE,
    signature_len: CK_ULONG,
) -> CK_RV {
    guard("C_VerifyFinal", || {
        let provider = session_provider(session)?;
        // SAFETY: `signature` is NULL or the caller's `signature_len` readable bytes (PKCS#11
        // buffer rule); `bytes` refuses NULL with a non-zero length
        provider.verify_final(session, unsafe { bytes(signature, signature_len) }?)
    })
}
