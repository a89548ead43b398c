//! Decryption (PKCS#11 3.0 §5.9).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::{guard, session_provider};
use crate::session::Direction::Decrypt;
use cryptoki_sys::*;

/// `C_DecryptInit`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DecryptInit` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DecryptInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_DecryptInit", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        provider.cipher_init(session, Decrypt, &unsafe { mechanism(mech) }?, key)
    })
}

/// `C_Decrypt`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Decrypt` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Decrypt(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    decrypted: *mut CK_BYTE,
    decrypted_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_Decrypt", || {
        let provider = session_provider(session)?;
        // SAFETY: `decrypted_len` is NULL or the caller's length word, and `decrypted` NULL (a
        // length query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a
        // NULL length
        let capacity = unsafe { capacity(decrypted, decrypted_len) }?;
        // SAFETY: `data` is NULL or the caller's `data_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        let data = unsafe { bytes(data, data_len) }?;
        let output = provider.cipher(session, Decrypt, data, capacity)?;
        // SAFETY: `decrypted` and `decrypted_len` are the caller's buffer and length word, as
        // for `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, decrypted, decrypted_len) }
    })
}

/// `C_DecryptUpdate`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DecryptUpdate` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DecryptUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
    decrypted: *mut CK_BYTE,
    decrypted_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_DecryptUpdate", || {
        let provider = session_provider(session)?;
        // SAFETY: `decrypted_len` is NULL or the caller's length word, and `decrypted` NULL (a
        // length query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a
        // NULL length
        let capacity = unsafe { capacity(decrypted, decrypted_len) }?;
        // SAFETY: `part` is NULL or the caller's `part_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        let part = unsafe { bytes(part, part_len) }?;
        let output = provider.cipher_update(session, Decrypt, part, capacity)?;
        // SAFETY: `decrypted` and `decrypted_len` are the caller's buffer and length word, as
        // for `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, decrypted, decrypted_len) }
    })
}

/// `C_DecryptFinal`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DecryptFinal` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DecryptFinal(
    session: CK_SESSION_HANDLE,
    last: *mut CK_BYTE,
    last_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_DecryptFinal", || {
        let provider = session_provider(session)?;
        // SAFETY: `last_len` is NULL or the caller's length word, and `last` NULL (a length
        // query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a NULL
        // length
        let capacity = unsafe { capacity(last, last_len) }?;
        let output = provider.cipher_final(session, Decrypt, capacity)?;
        // SAFETY: `last` and `last_len` are the caller's buffer and length word, as for
        // `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, last, last_len) }
    })
}
