//! Key management (PKCS#11 3.0 §5.14).

use super::convert::{bytes, deliver_slice, mechanism, out, template};
use super::{guard, session_provider};
use cryptoki_sys::*;

/// `C_GenerateKey`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GenerateKey` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GenerateKey(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_GenerateKey", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        let mechanism = unsafe { mechanism(mech) }?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        // SAFETY: `key` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let key = unsafe { out(key) }?;
        *key = provider.generate_key(session, &mechanism, &template)?;
        Ok(())
    })
}

/// `C_GenerateKeyPair`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GenerateKeyPair` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GenerateKeyPair(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    public_attributes: *mut CK_ATTRIBUTE,
    public_count: CK_ULONG,
    private_attributes: *mut CK_ATTRIBUTE,
    private_count: CK_ULONG,
    public_key: *mut CK_OBJECT_HANDLE,
    private_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_GenerateKeyPair", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        let mechanism = unsafe { mechanism(mech) }?;
        // SAFETY: `public_attributes` is NULL or the caller's `public_count` attributes, each
        // value readable for its length; `template` refuses NULL with a non-zero count and
        // copies every value
        let public_template = unsafe { template(public_attributes, public_count) }?;
        // SAFETY: `private_attributes` is NULL or the caller's `private_count` attributes, each
        // value readable for its length; `template` refuses NULL with a non-zero count and
        // copies every value
        let private_template = unsafe { template(private_attributes, private_count) }?;
        // SAFETY: `public_key` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let public_key = unsafe { out(public_key) }?;
        // SAFETY: `private_key` is NULL or a place the caller lets us write for this call;
        // `out` refuses NULL
        let private_key = unsafe { out(private_key) }?;
        (*public_key, *private_key) =
            provider.generate_key_pair(session, &mechanism, &public_template, &private_template)?;
        Ok(())
    })
}

/// `C_WrapKey`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_WrapKey` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_WrapKey(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    wrapping_key: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    wrapped: *mut CK_BYTE,
    wrapped_len: *mut CK_ULONG,
) -> CK_RV {
    guard("C_WrapKey", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        let mechanism = unsafe { mechanism(mech) }?;
        // SAFETY: `wrapped_len` is NULL or a place the caller lets us write for this call;
        // `out` refuses NULL
        unsafe { out(wrapped_len) }?;
        let data = provider.wrap_key(session, &mechanism, wrapping_key, key)?;
        // SAFETY: `wrapped_len` is NULL or the caller's count word, and `wrapped` NULL (a count
        // query) or an array of that many items; `deliver_slice` refuses a NULL count and
        // writes no more items than it allows
        unsafe { deliver_slice(&data, wrapped, wrapped_len) }
    })
}

/// `C_UnwrapKey`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_UnwrapKey` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_UnwrapKey(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    unwrapping_key: CK_OBJECT_HANDLE,
    wrapped: *mut CK_BYTE,
    wrapped_len: CK_ULONG,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_UnwrapKey", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        let mechanism = unsafe { mechanism(mech) }?;
        // SAFETY: `wrapped` is NULL or the caller's `wrapped_len` readable bytes (PKCS#11
        // buffer rule); `bytes` refuses NULL with a non-zero length
        let wrapped = unsafe { bytes(wrapped, wrapped_len) }?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        // SAFETY: `key` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let key = unsafe { out(key) }?;
        *key = provider.unwrap_key(session, &mechanism, unwrapping_key, wrapped, &template)?;
        Ok(())
    })
}

/// `C_DeriveKey`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DeriveKey` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DeriveKey(
    session: CK_SESSION_HANDLE,
    mech: *mut CK_MECHANISM,
    base_key: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_DeriveKey", || {
        let provider = session_provider(session)?;
        // SAFETY: `mech` is NULL or the caller's CK_MECHANISM, its parameter readable for its
        // length; `mechanism` refuses NULL and copies what it reads
        let mechanism = unsafe { mechanism(mech) }?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        // SAFETY: `key` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let key = unsafe { out(key) }?;
        *key = provider.derive_key(session, &mechanism, base_key, &template)?;
        Ok(())
    })
}
