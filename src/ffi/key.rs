//! Key management (PKCS#11 3.0 §5.14).

use super::convert::{bytes, capacity, deliver_slice, mechanism, out, returning, template};
use crate::error::Error;
use super::export::export;
use super::kdf_params::additional_key_outputs;
use super::session_provider;
use crate::device::{
    DecapsulateRequest, DeriveRequest, EncapsulateRequest, Encapsulated, KeyPairRequest,
    KeyRequest, UnwrapRequest, WrapRequest,
};
use cryptoki_sys::*;

// SAFETY (of every block in this file): each pointer argument is NULL or valid for what
// PKCS#11 3.0 says the function reads or writes through it (this file's exports' contract);
// `mechanism`, `template`, `bytes`, `out` and `returning` refuse NULL where a value is needed,
// and copy what they read.
export! {
    /// `C_GenerateKey`.
    fn C_GenerateKey(session: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, key: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        // SAFETY: as the comment at the top of the file says.
        let (mechanism, template) = unsafe { (mechanism(mech)?, template(attributes, count)?) };
        // SAFETY: as the comment at the top of the file says.
        let request = KeyRequest { mechanism: &mechanism, template: &template };
        // SAFETY: as the comment at the top of the file says.
        unsafe { returning(key, || provider.generate_key(session, request)) }
    }
    /// `C_GenerateKeyPair`.
    fn C_GenerateKeyPair(session: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, public_attributes: *mut CK_ATTRIBUTE, public_count: CK_ULONG, private_attributes: *mut CK_ATTRIBUTE, private_count: CK_ULONG, public_key: *mut CK_OBJECT_HANDLE, private_key: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        // SAFETY: as the comment at the top of the file says.
        let mechanism = unsafe { mechanism(mech) }?;
        // SAFETY: as the comment at the top of the file says.
        let public_template = unsafe { template(public_attributes, public_count) }?;
        // SAFETY: as the comment at the top of the file says.
        let private_template = unsafe { template(private_attributes, private_count) }?;
        // SAFETY: as the comment at the top of the file says.
        let (public_key, private_key) = unsafe { (out(public_key)?, out(private_key)?) };
        let request = KeyPairRequest { mechanism: &mechanism, public_template: &public_template, private_template: &private_template };
        (*public_key, *private_key) = provider.generate_key_pair(session, request)?;
        Ok(())
    }
    /// `C_WrapKey`.
    fn C_WrapKey(session: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, wrapping_key: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE, wrapped: *mut CK_BYTE, wrapped_len: *mut CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: as the comment at the top of the file says.
        let mechanism = unsafe { mechanism(mech) }?;
        // SAFETY: as the comment at the top of the file says.
        unsafe { out(wrapped_len) }?;
        let data = provider.wrap_key(session, WrapRequest { mechanism: &mechanism, wrapping_key, key })?;
        // SAFETY: as the comment at the top of the file says; `deliver_slice` writes no more
        // bytes than the caller's length allows.
        unsafe { deliver_slice(&data, wrapped, wrapped_len) }
    }
    /// `C_UnwrapKey`.
    fn C_UnwrapKey(session: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, unwrapping_key: CK_OBJECT_HANDLE, wrapped: *mut CK_BYTE, wrapped_len: CK_ULONG, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, key: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        // SAFETY: as the comment at the top of the file says.
        let (mechanism, wrapped) = unsafe { (mechanism(mech)?, bytes(wrapped, wrapped_len)?) };
        // SAFETY: as the comment at the top of the file says.
        let template = unsafe { template(attributes, count) }?;
        let request = UnwrapRequest { mechanism: &mechanism, unwrapping_key, wrapped, template: &template };
        // SAFETY: as the comment at the top of the file says.
        unsafe { returning(key, || provider.unwrap_key(session, request)) }
    }
    /// `C_DeriveKey`.
    fn C_DeriveKey(session: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, base_key: CK_OBJECT_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, key: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        if key.is_null() {
            return Err(Error::ArgumentsBad("NULL output pointer"));
        }
        // The places of the additional keys' handles (SP 800-108), found
        // first, so that they say CK_INVALID_HANDLE whatever fails after.
        // SAFETY: as the comment at the top of the file says.
        let additional = unsafe { additional_key_outputs(mech) }?;
        let derived = (|| {
            // SAFETY: as the comment at the top of the file says.
            let (mechanism, template) = unsafe { (mechanism(mech)?, template(attributes, count)?) };
            provider.derive_key(session, DeriveRequest { mechanism: &mechanism, base_key, template: &template })
        })();
        let handles = match &derived {
            Ok(keys) => keys.additional.clone(),
            Err(_) => vec![CK_INVALID_HANDLE; additional.len()],
        };
        // Written through the raw pointers, after the derivation, so that no
        // reference is held to a place the caller may have given twice.
        for (place, handle) in additional.iter().zip(handles) {
            // SAFETY: as the comment at the top of the file says; each `phKey` is
            // non-NULL (checked by `additional_key_outputs`).
            unsafe { place.write_unaligned(handle) };
        }
        let keys = derived?;
        // SAFETY: as the comment at the top of the file says; `key` is non-NULL.
        unsafe { key.write_unaligned(keys.key) };
        Ok(())
    }    /// `C_EncapsulateKey` (PKCS#11 3.2): the ciphertext by the buffer rules
    /// of §5.2 (a NULL `pCiphertext` asks for its length, a short buffer is
    /// `CKR_BUFFER_TOO_SMALL`; neither makes a key), then the new key.
    fn C_EncapsulateKey(session: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, public_key: CK_OBJECT_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, ciphertext: *mut CK_BYTE, ciphertext_len: *mut CK_ULONG, key: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        // SAFETY: as the comment at the top of the file says.
        let (mechanism, template) = unsafe { (mechanism(mech)?, template(attributes, count)?) };
        // SAFETY: as the comment at the top of the file says; `capacity` refuses a NULL length.
        let capacity = unsafe { capacity(ciphertext, ciphertext_len) }?;
        if capacity.is_some() && key.is_null() {
            return Err(Error::ArgumentsBad("NULL phKey"));
        }
        let request = EncapsulateRequest { mechanism: &mechanism, public_key, template: &template, capacity };
        match provider.encapsulate_key(session, request)? {
            Encapsulated::Length(len) => {
                // SAFETY: as the comment at the top of the file says; `ciphertext_len` is non-NULL.
                unsafe { ciphertext_len.write_unaligned(len as CK_ULONG) };
                if ciphertext.is_null() { Ok(()) } else { Err(Error::BufferTooSmall) }
            }
            Encapsulated::Key { ciphertext: made, key: handle } => {
                if capacity.is_none_or(|capacity| capacity < made.len()) {
                    return Err(Error::Internal("a ciphertext longer than the buffer the device was given"));
                }
                // SAFETY: as the comment at the top of the file says; the device made the key
                // only because the caller's buffer holds `made.len()` bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(made.as_ptr(), ciphertext, made.len());
                    ciphertext_len.write_unaligned(made.len() as CK_ULONG);
                    key.write_unaligned(handle);
                }
                Ok(())
            }
        }
    }
    /// `C_DecapsulateKey` (PKCS#11 3.2).
    fn C_DecapsulateKey(session: CK_SESSION_HANDLE, mech: *mut CK_MECHANISM, private_key: CK_OBJECT_HANDLE, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, ciphertext: *mut CK_BYTE, ciphertext_len: CK_ULONG, key: *mut CK_OBJECT_HANDLE) {
        let provider = session_provider(session)?;
        // SAFETY: as the comment at the top of the file says.
        let (mechanism, template) = unsafe { (mechanism(mech)?, template(attributes, count)?) };
        // SAFETY: as the comment at the top of the file says.
        let ciphertext = unsafe { bytes(ciphertext, ciphertext_len) }?;
        let request = DecapsulateRequest { mechanism: &mechanism, private_key, template: &template, ciphertext };
        // SAFETY: as the comment at the top of the file says.
        unsafe { returning(key, || provider.decapsulate_key(session, request)) }
    }

}
