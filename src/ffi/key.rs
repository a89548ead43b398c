//! Key management (PKCS#11 3.0 §5.14).

use super::convert::{bytes, deliver_slice, mechanism, out, template};
use super::{guard, session_provider};
use cryptoki_sys::*;

/// `C_GenerateKey`.
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
        let mechanism = unsafe { mechanism(mech) }?;
        let template = unsafe { template(attributes, count) }?;
        let key = unsafe { out(key) }?;
        *key = provider.generate_key(session, &mechanism, &template)?;
        Ok(())
    })
}

/// `C_GenerateKeyPair`.
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
        let mechanism = unsafe { mechanism(mech) }?;
        let public_template = unsafe { template(public_attributes, public_count) }?;
        let private_template = unsafe { template(private_attributes, private_count) }?;
        let public_key = unsafe { out(public_key) }?;
        let private_key = unsafe { out(private_key) }?;
        (*public_key, *private_key) =
            provider.generate_key_pair(session, &mechanism, &public_template, &private_template)?;
        Ok(())
    })
}

/// `C_WrapKey`.
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
        let mechanism = unsafe { mechanism(mech) }?;
        unsafe { out(wrapped_len) }?;
        let data = provider.wrap_key(session, &mechanism, wrapping_key, key)?;
        unsafe { deliver_slice(&data, wrapped, wrapped_len) }
    })
}

/// `C_UnwrapKey`.
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
        let mechanism = unsafe { mechanism(mech) }?;
        let wrapped = unsafe { bytes(wrapped, wrapped_len) }?;
        let template = unsafe { template(attributes, count) }?;
        let key = unsafe { out(key) }?;
        *key = provider.unwrap_key(session, &mechanism, unwrapping_key, wrapped, &template)?;
        Ok(())
    })
}

/// `C_DeriveKey`.
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
        let mechanism = unsafe { mechanism(mech) }?;
        let template = unsafe { template(attributes, count) }?;
        let key = unsafe { out(key) }?;
        *key = provider.derive_key(session, &mechanism, base_key, &template)?;
        Ok(())
    })
}
