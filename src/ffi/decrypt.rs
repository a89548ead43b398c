//! Decryption (PKCS#11 3.0 §5.9).

use super::convert::{bytes, capacity, deliver, mechanism};
use super::guard;
use crate::provider::provider;
use cryptoki_sys::*;

/// `C_DecryptInit`.
#[no_mangle]
pub unsafe extern "C" fn C_DecryptInit(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_DecryptInit", || {
        let provider = provider()?;
        provider.decrypt_init(session, &unsafe { mechanism(mech) }?, key)
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
        let provider = provider()?;
        let capacity = unsafe { capacity(decrypted, decrypted_len) }?;
        let output = provider.decrypt(session, unsafe { bytes(data, data_len) }?, capacity)?;
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
        let provider = provider()?;
        let capacity = unsafe { capacity(decrypted, decrypted_len) }?;
        let output =
            provider.decrypt_update(session, unsafe { bytes(part, part_len) }?, capacity)?;
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
        let provider = provider()?;
        let capacity = unsafe { capacity(last, last_len) }?;
        let output = provider.decrypt_final(session, capacity)?;
        unsafe { deliver(output, last, last_len) }
    })
}
