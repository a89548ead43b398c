//! Encryption (PKCS#11 3.0 §5.8).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::{guard, session_provider};
use crate::session::Direction::Encrypt;
use cryptoki_sys::*;

/// `C_EncryptInit`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_EncryptInit` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_EncryptInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_EncryptInit", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        provider.cipher_init(session, Encrypt, &unsafe { mechanism(mech) }?, key)
    })
}

/// `C_Encrypt`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Encrypt` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Encrypt(
    session: CK_SESSION_HANDLE,
    data: *mut CK_BYTE,
    data_len: CK_ULONG,
    encrypted: *mut CK_BYTE,
    encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_Encrypt", || {
        let provider = session_provider(session)?;
        // SAFETY: `encrypted_len` is NULL or the caller's length word, and `encrypted` NULL (a
        // length query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a
        // NULL length
        let capacity = unsafe { capacity(encrypted, encrypted_len) }?;
        // SAFETY: `data` is NULL or the caller's `data_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        let data = unsafe { bytes(data, data_len) }?;
        let output = provider.cipher(session, Encrypt, data, capacity)?;
        // SAFETY: `encrypted` and `encrypted_len` are the caller's buffer and length word, as
        // for `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, encrypted, encrypted_len) }
    })
}

/// `C_EncryptUpdate`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_EncryptUpdate` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_EncryptUpdate(
    session: CK_SESSION_HANDLE,
    part: *mut CK_BYTE,
    part_len: CK_ULONG,
    encrypted: *mut CK_BYTE,
    encrypted_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_EncryptUpdate", || {
        let provider = session_provider(session)?;
        // SAFETY: `encrypted_len` is NULL or the caller's length word, and `encrypted` NULL (a
        // length query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a
        // NULL length
        let capacity = unsafe { capacity(encrypted, encrypted_len) }?;
        // SAFETY: `part` is NULL or the caller's `part_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        let part = unsafe { bytes(part, part_len) }?;
        let output = provider.cipher_update(session, Encrypt, part, capacity)?;
        // SAFETY: `encrypted` and `encrypted_len` are the caller's buffer and length word, as
        // for `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, encrypted, encrypted_len) }
    })
}

/// `C_EncryptFinal`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_EncryptFinal` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_EncryptFinal(
    session: CK_SESSION_HANDLE,
    last: *mut CK_BYTE,
    last_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_EncryptFinal", || {
        let provider = session_provider(session)?;
        // SAFETY: `last_len` is NULL or the caller's length word, and `last` NULL (a length
        // query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a NULL
        // length
        let capacity = unsafe { capacity(last, last_len) }?;
        let output = provider.cipher_final(session, Encrypt, capacity)?;
        // SAFETY: `last` and `last_len` are the caller's buffer and length word, as for
        // `capacity`; `deliver` writes no more bytes than the length word allows
        unsafe { deliver(output, last, last_len) }
    })
}
