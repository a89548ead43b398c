//! Object management (PKCS#11 3.0 §5.7).

use super::convert::{attribute_array, out, returning, template};
use super::export::export;
use super::session_provider;
use crate::error::{Error, Result};
use crate::object::AttributeResult;
use cryptoki_sys::*;

export! {
    /// `C_CreateObject`.
    fn C_CreateObject(session: CK_SESSION_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, object: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, each value readable
        // for its length; `template` refuses NULL with a non-zero count and copies every value
        let template = unsafe { template(attributes, count) }?;
        // SAFETY: `object` is NULL or a place the caller lets us write; `returning` refuses NULL
        unsafe { returning(object, || provider.create_object(session, &template)) }
    }
    /// `C_CopyObject`.
    fn C_CopyObject(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, new_object: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        // SAFETY: as in `C_CreateObject`.
        let template = unsafe { template(attributes, count) }?;
        // SAFETY: `new_object` is NULL or a place the caller lets us write; `returning` refuses NULL
        unsafe { returning(new_object, || provider.copy_object(session, object, &template)) }
    }
    /// `C_DestroyObject`.
    C_DestroyObject(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) => destroy_object;
    /// `C_GetObjectSize`.
    fn C_GetObjectSize(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, size: *mut CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: `size` is NULL or a place the caller lets us write; `returning` refuses NULL
        unsafe { returning(size, || provider.object_size(session, object)) }
    }
    /// `C_GetAttributeValue`, with the specification's per-attribute rules:
    /// a sensitive or unknown attribute, or one whose buffer is too small, gets
    /// `CK_UNAVAILABLE_INFORMATION` as its length while the others are still
    /// filled; the return value then names the most serious of those cases
    /// (sensitive, then invalid type, then buffer too small).
    fn C_GetAttributeValue(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: `attributes` is NULL or the caller's `count` attributes, ours to fill for
        // this call; `attribute_array` refuses NULL with a non-zero count
        let attributes = unsafe { attribute_array(attributes, count) }?;
        let kinds: Vec<_> = attributes.iter().map(|a| a.type_).collect();
        let results = provider.get_attributes(session, object, &kinds)?;
        // SAFETY: each attribute's pValue is NULL or valid for writing ulValueLen bytes (the
        // caller's contract).
        unsafe { fill_attributes(attributes, results) }
    }
    /// `C_SetAttributeValue`.
    fn C_SetAttributeValue(session: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: as in `C_CreateObject`.
        provider.set_attributes(session, object, &unsafe { template(attributes, count) }?)
    }
    /// `C_FindObjectsInit`.
    fn C_FindObjectsInit(session: CK_SESSION_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: as in `C_CreateObject`.
        provider.find_init(session, &unsafe { template(attributes, count) }?)
    }
    /// `C_FindObjects`: at most `max_count` handles per call.
    fn C_FindObjects(session: CK_SESSION_HANDLE, objects: *mut CK_OBJECT_HANDLE, max_count: CK_ULONG, count: *mut CK_ULONG) {
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
    }
    /// `C_FindObjectsFinal`.
    C_FindObjectsFinal(session: CK_SESSION_HANDLE) => find_final;
}

/// Writes each attribute's result into the caller's array by the rules of
/// `C_GetAttributeValue`, and names the most serious failure.
///
/// # Safety
///
/// Each attribute's `pValue` is NULL or valid for writing `ulValueLen` bytes.
unsafe fn fill_attributes(
    attributes: &mut [CK_ATTRIBUTE],
    results: Vec<AttributeResult>,
) -> Result<()> {
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
}
