//! Object management (PKCS#11 3.0 §5.7).

use super::convert::{attribute_array, out, template};
use super::{guard, session_provider};
use crate::error::Error;
use crate::object::AttributeResult;
use crate::provider::provider;
use cryptoki_sys::*;

/// `C_CreateObject`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_CreateObject` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_CreateObject(
    session: CK_SESSION_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_CreateObject", || {
        let provider = session_provider(session)?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        // SAFETY: `object` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let object = unsafe { out(object) }?;
        *object = provider.create_object(session, &template)?;
        Ok(())
    })
}

/// `C_CopyObject`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_CopyObject` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_CopyObject(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    new_object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_CopyObject", || {
        let provider = session_provider(session)?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        // SAFETY: `new_object` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let new_object = unsafe { out(new_object) }?;
        *new_object = provider.copy_object(session, object, &template)?;
        Ok(())
    })
}

/// `C_DestroyObject`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_DestroyObject` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_DestroyObject(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
) -> CK_RV {
    guard("C_DestroyObject", || {
        provider()?.destroy_object(session, object)
    })
}

/// `C_GetObjectSize`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetObjectSize` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetObjectSize(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    size: *mut CK_ULONG,
) -> CK_RV {
    guard("C_GetObjectSize", || {
        let provider = session_provider(session)?;
        // SAFETY: `size` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let size = unsafe { out(size) }?;
        *size = provider.object_size(session, object)?;
        Ok(())
    })
}

/// `C_GetAttributeValue`, with the specification's per-attribute rules:
/// a sensitive or unknown attribute, or one whose buffer is too small, gets
/// `CK_UNAVAILABLE_INFORMATION` as its length while the others are still
/// filled; the return value then names the most serious of those cases
/// (sensitive, then invalid type, then buffer too small).
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetAttributeValue` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard("C_GetAttributeValue", || {
        let provider = session_provider(session)?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, ours to fill for
        // this call; `attribute_array` refuses NULL with a non-zero count
        let attributes = unsafe { attribute_array(attributes, count) }?;
        let kinds: Vec<_> = attributes.iter().map(|a| a.type_).collect();
        let results = provider.get_attributes(session, object, &kinds)?;
        let (mut sensitive, mut invalid, mut too_small) = (None, None, false);
        for (attribute, result) in attributes.iter_mut().zip(results) {
            match result {
                AttributeResult::Value(value) => {
                    if attribute.pValue.is_null() {
                        attribute.ulValueLen = value.len() as CK_ULONG;
                    } else if (attribute.ulValueLen as usize) < value.len() {
                        attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        too_small = true;
                    } else {
                        // SAFETY: pValue holds ulValueLen >= value.len() bytes.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                value.as_ptr(),
                                attribute.pValue as *mut u8,
                                value.len(),
                            )
                        };
                        attribute.ulValueLen = value.len() as CK_ULONG;
                    }
                }
                AttributeResult::Sensitive => {
                    attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    sensitive.get_or_insert(attribute.type_);
                }
                AttributeResult::Invalid => {
                    attribute.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    invalid.get_or_insert(attribute.type_);
                }
            }
        }
        if let Some(kind) = sensitive {
            return Err(Error::AttributeSensitive(kind));
        }
        if let Some(kind) = invalid {
            return Err(Error::AttributeTypeInvalid(kind));
        }
        if too_small {
            return Err(Error::BufferTooSmall);
        }
        Ok(())
    })
}

/// `C_SetAttributeValue`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_SetAttributeValue` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_SetAttributeValue(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard("C_SetAttributeValue", || {
        let provider = session_provider(session)?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        provider.set_attributes(session, object, &template)
    })
}

/// `C_FindObjectsInit`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_FindObjectsInit` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    session: CK_SESSION_HANDLE,
    attributes: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    guard("C_FindObjectsInit", || {
        let provider = session_provider(session)?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        provider.find_init(session, &template)
    })
}

/// `C_FindObjects`: at most `max_count` handles per call.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_FindObjects` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    session: CK_SESSION_HANDLE,
    objects: *mut CK_OBJECT_HANDLE,
    max_count: CK_ULONG,
    count: *mut CK_ULONG,
) -> CK_RV {
    guard("C_FindObjects", || {
        let provider = session_provider(session)?;
        // SAFETY: `count` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let count = unsafe { out(count) }?;
        if objects.is_null() && max_count > 0 {
            return Err(Error::ArgumentsBad("NULL handle array"));
        }
        let found = provider.find_next(session, max_count as usize)?;
        for (index, handle) in found.iter().enumerate() {
            // SAFETY: the caller's array holds `max_count >= found.len()` entries.
            unsafe { *objects.add(index) = *handle };
        }
        *count = found.len() as CK_ULONG;
        Ok(())
    })
}

/// `C_FindObjectsFinal`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_FindObjectsFinal` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsFinal(session: CK_SESSION_HANDLE) -> CK_RV {
    guard("C_FindObjectsFinal", || provider()?.find_final(session))
}
