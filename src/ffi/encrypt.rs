//! Encryption (PKCS#11 3.0 §5.8).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::{guard, session_provider};
use crate::session::Direction::Encrypt;
use cryptoki_sys::*;

/// `C_EncryptInit`.
#[no_mangle]
pub unsafe extern "C" fn C_EncryptInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_EncryptInit", || {
        let provider = session_provider(session)?;
        provider.cipher_init(session, Encrypt, &unsafe { mechanism(mech) }?, key)
    })
}

/// `C_Encrypt`.
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
        let capacity = unsafe { capacity(encrypted, encrypted_len) }?;
        let data = unsafe { bytes(data, data_len) }?;
        let output = provider.cipher(session, Encrypt, data, capacity)?;
        unsafe { deliver(output, encrypted, encrypted_len) }
    })
}

/// `C_EncryptUpdate`.
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
        let capacity = unsafe { capacity(encrypted, encrypted_len) }?;
        let part = unsafe { bytes(part, part_len) }?;
        let output = provider.cipher_update(session, Encrypt, part, capacity)?;
        unsafe { deliver(output, encrypted, encrypted_len) }
    })
}

/// `C_EncryptFinal`.
#[no_mangle]
pub unsafe extern "C" fn C_EncryptFinal(
    session: CK_SESSION_HANDLE,
    last: *mut CK_BYTE,
    last_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_EncryptFinal", || {
        let provider = session_provider(session)?;
        let capacity = unsafe { capacity(last, last_len) }?;
        let output = provider.cipher_final(session, Encrypt, capacity)?;
        unsafe { deliver(output, last, last_len) }
    })
}
