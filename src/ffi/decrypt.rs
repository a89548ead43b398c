//! Decryption (PKCS#11 3.0 §5.9).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::{guard, session_provider};
use crate::session::Direction::Decrypt;
use cryptoki_sys::*;

/// `C_DecryptInit`.
#[no_mangle]
pub unsafe extern "C" fn C_DecryptInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_DecryptInit", || {
        let provider = session_provider(session)?;
        provider.cipher_init(session, Decrypt, &unsafe { mechanism(mech) }?, key)
    })
}

/// `C_Decrypt`.
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
        let capacity = unsafe { capacity(decrypted, decrypted_len) }?;
        let data = unsafe { bytes(data, data_len) }?;
        let output = provider.cipher(session, Decrypt, data, capacity)?;
        unsafe { deliver(output, decrypted, decrypted_len) }
    })
}

/// `C_DecryptUpdate`.
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
        let capacity = unsafe { capacity(decrypted, decrypted_len) }?;
        let part = unsafe { bytes(part, part_len) }?;
        let output = provider.cipher_update(session, Decrypt, part, capacity)?;
        unsafe { deliver(output, decrypted, decrypted_len) }
    })
}

/// `C_DecryptFinal`.
#[no_mangle]
pub unsafe extern "C" fn C_DecryptFinal(
    session: CK_SESSION_HANDLE,
    last: *mut CK_BYTE,
    last_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_DecryptFinal", || {
        let provider = session_provider(session)?;
        let capacity = unsafe { capacity(last, last_len) }?;
        let output = provider.cipher_final(session, Decrypt, capacity)?;
        unsafe { deliver(output, last, last_len) }
    })
}
