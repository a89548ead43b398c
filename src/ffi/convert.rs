//! Checked conversions between C arguments and Rust values.

use crate::device::{Mechanism, MechanismParameter};
use crate::error::{Error, Result};
use crate::object::Attribute;
use crate::session::Output;
use cryptoki_sys::*;

/// `count` elements of `T` as a slice length. A count whose slice would
/// span more than `isize::MAX` bytes cannot describe real memory, and
/// building such a slice is undefined behaviour, so it is refused.
fn slice_length<T>(count: CK_ULONG) -> Result<usize> {
    let count = usize::try_from(count).map_err(|_| Error::ArgumentsBad("length too large"))?;
    let limit = isize::MAX as usize / std::mem::size_of::<T>().max(1);
    if count > limit {
        return Err(Error::ArgumentsBad("length too large"));
    }
    Ok(count)
}

/// The bytes at `pointer`: empty when `length` is 0, `CKR_ARGUMENTS_BAD` when NULL otherwise.
pub unsafe fn bytes<'a>(pointer: *const u8, length: CK_ULONG) -> Result<&'a [u8]> {
    if length == 0 {
        return Ok(&[]);
    }
    if pointer.is_null() {
        return Err(Error::ArgumentsBad("NULL buffer with a non-zero length"));
    }
    let length = slice_length::<u8>(length)?;
    // SAFETY: the caller promises `pointer` is valid for `length` bytes
    // (PKCS#11 contract), and `length` fits a slice (checked above).
    Ok(unsafe { std::slice::from_raw_parts(pointer, length) })
}

/// The caller's output buffer of `length` bytes: empty when `length` is 0,
/// `CKR_ARGUMENTS_BAD` when NULL otherwise.
pub unsafe fn bytes_mut<'a>(pointer: *mut u8, length: CK_ULONG) -> Result<&'a mut [u8]> {
    if length == 0 {
        return Ok(&mut []);
    }
    if pointer.is_null() {
        return Err(Error::ArgumentsBad("NULL buffer with a non-zero length"));
    }
    let length = slice_length::<u8>(length)?;
    // SAFETY: the caller promises `pointer` is valid for writing `length`
    // bytes (PKCS#11 contract), and `length` fits a slice (checked above).
    Ok(unsafe { std::slice::from_raw_parts_mut(pointer, length) })
}

/// A mutable reference to an output argument, or `CKR_ARGUMENTS_BAD` for NULL.
pub unsafe fn out<'a, T>(pointer: *mut T) -> Result<&'a mut T> {
    // SAFETY: non-NULL output pointers are valid per the PKCS#11 contract.
    unsafe { pointer.as_mut() }.ok_or(Error::ArgumentsBad("NULL output pointer"))
}

/// A PIN as bytes (NULL with length 0 is an empty PIN).
pub unsafe fn pin<'a>(pointer: *const CK_UTF8CHAR, length: CK_ULONG) -> Result<&'a [u8]> {
    unsafe { bytes(pointer, length) }
}

/// Copies a caller's template.
pub unsafe fn template(pointer: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Vec<Attribute>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if pointer.is_null() {
        return Err(Error::ArgumentsBad("NULL template with a non-zero count"));
    }
    let count = slice_length::<CK_ATTRIBUTE>(count)?;
    // SAFETY: the caller promises `count` attributes at `pointer`, and
    // `count` fits a slice (checked above).
    let raw = unsafe { std::slice::from_raw_parts(pointer, count) };
    raw.iter()
        .map(|a| {
            if a.ulValueLen > MAX_ATTRIBUTE_VALUE_LEN {
                // Copying it could only fail by aborting the process.
                return Err(Error::AttributeValueInvalid(a.type_));
            }
            // SAFETY: each attribute's pValue is valid for ulValueLen bytes.
            let value = unsafe { bytes(a.pValue as *const u8, a.ulValueLen) }?;
            Ok(Attribute::new(a.type_, value.to_vec()))
        })
        .collect()
}

/// The largest attribute value a template may carry (64 MiB): far above
/// any certificate or key, far below what an allocation could fail on.
pub const MAX_ATTRIBUTE_VALUE_LEN: CK_ULONG = 64 << 20;

/// The attribute array of a `C_GetAttributeValue` call.
pub unsafe fn attribute_array<'a>(
    pointer: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<&'a mut [CK_ATTRIBUTE]> {
    if count == 0 {
        return Ok(&mut []);
    }
    if pointer.is_null() {
        return Err(Error::ArgumentsBad("NULL template with a non-zero count"));
    }
    let count = slice_length::<CK_ATTRIBUTE>(count)?;
    // SAFETY: the caller promises `count` attributes at `pointer`, and
    // `count` fits a slice (checked above).
    Ok(unsafe { std::slice::from_raw_parts_mut(pointer, count) })
}

/// The caller's output capacity: `None` for a length query (NULL buffer).
pub unsafe fn capacity(buffer: *mut u8, length: *mut CK_ULONG) -> Result<Option<usize>> {
    let length = unsafe { out(length) }?;
    Ok(if buffer.is_null() {
        None
    } else {
        Some(*length as usize)
    })
}

/// Delivers an operation's output by the PKCS#11 buffer rules: the length
/// always; the bytes when they fit; `CKR_BUFFER_TOO_SMALL` when a buffer
/// was given but is too small.
pub unsafe fn deliver(output: Output, buffer: *mut u8, length: *mut CK_ULONG) -> Result<()> {
    let length = unsafe { out(length) }?;
    match output {
        Output::Ready(data) => {
            if !data.is_empty() {
                // SAFETY: `buffer` holds at least `*length >= data.len()` bytes (checked by `produce`).
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buffer, data.len()) };
            }
            *length = data.len() as CK_ULONG;
            Ok(())
        }
        Output::Pending(needed) => {
            let query = buffer.is_null();
            *length = needed as CK_ULONG;
            if query {
                Ok(())
            } else {
                Err(Error::BufferTooSmall)
            }
        }
    }
}

/// Delivers a complete array (bytes, slot IDs, mechanism types,
/// interfaces) by the same rules: a NULL buffer gets the count only; a
/// buffer too small gets the count and `CKR_BUFFER_TOO_SMALL`; otherwise
/// the items and their count.
pub unsafe fn deliver_slice<T: Copy>(
    items: &[T],
    buffer: *mut T,
    length: *mut CK_ULONG,
) -> Result<()> {
    let length = unsafe { out(length) }?;
    let capacity = *length as usize;
    *length = items.len() as CK_ULONG;
    if buffer.is_null() {
        return Ok(());
    }
    if capacity < items.len() {
        return Err(Error::BufferTooSmall);
    }
    // SAFETY: the caller's buffer holds `capacity >= items.len()` items.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), buffer, items.len()) };
    Ok(())
}

/// Fills a blank-padded fixed-size text field of an info structure.
pub fn pad(field: &mut [u8], text: &str) {
    field.fill(b' ');
    let mut end = text.len().min(field.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&text.as_bytes()[..end]);
}

unsafe fn parameter_struct<T: Copy>(mechanism: &CK_MECHANISM) -> Result<T> {
    if mechanism.pParameter.is_null()
        || mechanism.ulParameterLen as usize != std::mem::size_of::<T>()
    {
        return Err(Error::MechanismParamInvalid(
            "parameter missing or of the wrong size",
        ));
    }
    // SAFETY: the pointer is non-NULL and the caller says it holds a T.
    Ok(unsafe { std::ptr::read_unaligned(mechanism.pParameter as *const T) })
}

/// Parses a `CK_MECHANISM` into the core's [`Mechanism`].
pub unsafe fn mechanism(pointer: *const CK_MECHANISM) -> Result<Mechanism> {
    // SAFETY: non-NULL per check; valid per the PKCS#11 contract.
    let raw = unsafe { pointer.as_ref() }.ok_or(Error::ArgumentsBad("NULL mechanism"))?;
    let kind = raw.mechanism;
    let invalid = |_| Error::MechanismParamInvalid("bad pointer in parameter");
    let parameter = match kind {
        CKM_AES_GCM => {
            let p: CK_GCM_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Gcm {
                iv: unsafe { bytes(p.pIv, p.ulIvLen) }
                    .map_err(invalid)?
                    .to_vec(),
                aad: unsafe { bytes(p.pAAD, p.ulAADLen) }
                    .map_err(invalid)?
                    .to_vec(),
                tag_bits: p.ulTagBits,
            }
        }
        CKM_AES_CTR => {
            let p: CK_AES_CTR_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Ctr {
                counter_bits: p.ulCounterBits,
                block: p.cb,
            }
        }
        CKM_RSA_PKCS_OAEP => {
            let p: CK_RSA_PKCS_OAEP_PARAMS = unsafe { parameter_struct(raw) }?;
            let label = if p.source == CKZ_DATA_SPECIFIED {
                unsafe { bytes(p.pSourceData as *const u8, p.ulSourceDataLen) }
                    .map_err(invalid)?
                    .to_vec()
            } else if p.source == 0 && p.ulSourceDataLen == 0 {
                Vec::new()
            } else {
                return Err(Error::MechanismParamInvalid(
                    "OAEP source must be CKZ_DATA_SPECIFIED",
                ));
            };
            MechanismParameter::Oaep {
                hash: p.hashAlg,
                mgf: p.mgf,
                label,
            }
        }
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS => {
            let p: CK_RSA_PKCS_PSS_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Pss {
                hash: p.hashAlg,
                mgf: p.mgf,
                salt_len: p.sLen,
            }
        }
        CKM_ECDH1_DERIVE => {
            let p: CK_ECDH1_DERIVE_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Ecdh {
                kdf: p.kdf,
                shared_data: unsafe { bytes(p.pSharedData, p.ulSharedDataLen) }
                    .map_err(invalid)?
                    .to_vec(),
                public_data: unsafe { bytes(p.pPublicData, p.ulPublicDataLen) }
                    .map_err(invalid)?
                    .to_vec(),
            }
        }
        CKM_EDDSA if !raw.pParameter.is_null() && raw.ulParameterLen != 0 => {
            let p: CK_EDDSA_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::EdDsa {
                prehash: p.phFlag != 0,
                context: unsafe { bytes(p.pContextData, p.ulContextDataLen) }
                    .map_err(invalid)?
                    .to_vec(),
            }
        }
        _ if raw.pParameter.is_null() || raw.ulParameterLen == 0 => MechanismParameter::None,
        _ => MechanismParameter::Raw(
            unsafe { bytes(raw.pParameter as *const u8, raw.ulParameterLen) }?.to_vec(),
        ),
    };
    let caller_parameter = if raw.pParameter.is_null() {
        None
    } else if raw.ulParameterLen > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(Error::MechanismParamInvalid("parameter over 64 MiB"));
    } else {
        // SAFETY: the caller promises `ulParameterLen` bytes at `pParameter`.
        Some(unsafe { bytes(raw.pParameter as *const u8, raw.ulParameterLen) }?.to_vec())
    };
    Ok(Mechanism {
        kind,
        parameter,
        caller_parameter,
    })
}
