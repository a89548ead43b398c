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

/// The length of a caller's array of `count` items at a pointer that is
/// NULL when `null`: `None` (an empty array) when `count` is 0, whatever
/// the pointer; `CKR_ARGUMENTS_BAD` (`refusal`) for NULL otherwise.
fn array_length<T>(null: bool, count: CK_ULONG, refusal: &'static str) -> Result<Option<usize>> {
    if count == 0 {
        return Ok(None);
    }
    if null {
        return Err(Error::ArgumentsBad(refusal));
    }
    slice_length::<T>(count).map(Some)
}

/// The caller's `count` items at `pointer`, checked by [`array_length`].
///
/// # Safety
///
/// `pointer` is NULL or valid for reading `count` items for `'a`.
pub(super) unsafe fn array<'a, T>(
    pointer: *const T,
    count: CK_ULONG,
    refusal: &'static str,
) -> Result<&'a [T]> {
    Ok(
        match array_length::<T>(pointer.is_null(), count, refusal)? {
            None => &[],
            // SAFETY: the caller promises `pointer` is valid for `count` items
            // (PKCS#11 contract), and `count` fits a slice (checked above).
            Some(count) => unsafe { std::slice::from_raw_parts(pointer, count) },
        },
    )
}

/// The caller's `count` items at `pointer`, to write, checked by [`array_length`].
///
/// # Safety
///
/// `pointer` is NULL or valid for reading and writing `count` items for
/// `'a`, and nothing else refers to them meanwhile.
unsafe fn array_mut<'a, T>(
    pointer: *mut T,
    count: CK_ULONG,
    refusal: &'static str,
) -> Result<&'a mut [T]> {
    Ok(
        match array_length::<T>(pointer.is_null(), count, refusal)? {
            None => &mut [],
            // SAFETY: the caller promises `pointer` is valid for writing `count`
            // items (PKCS#11 contract), and `count` fits a slice (checked above).
            Some(count) => unsafe { std::slice::from_raw_parts_mut(pointer, count) },
        },
    )
}

/// The bytes at `pointer`: empty when `length` is 0, `CKR_ARGUMENTS_BAD` when NULL otherwise.
///
/// # Safety
///
/// `pointer` is NULL or valid for reading `length` bytes for `'a`.
pub(super) unsafe fn bytes<'a>(pointer: *const u8, length: CK_ULONG) -> Result<&'a [u8]> {
    // SAFETY: this function's contract is `array`'s.
    unsafe { array(pointer, length, "NULL buffer with a non-zero length") }
}

/// The caller's output buffer of `length` bytes: empty when `length` is 0,
/// `CKR_ARGUMENTS_BAD` when NULL otherwise.
///
/// # Safety
///
/// `pointer` is NULL or valid for reading and writing `length` bytes for
/// `'a`, and nothing else refers to them meanwhile.
pub(super) unsafe fn bytes_mut<'a>(pointer: *mut u8, length: CK_ULONG) -> Result<&'a mut [u8]> {
    // SAFETY: this function's contract is `array_mut`'s.
    unsafe { array_mut(pointer, length, "NULL buffer with a non-zero length") }
}

/// A mutable reference to an output argument, or `CKR_ARGUMENTS_BAD` for NULL.
///
/// # Safety
///
/// `pointer` is NULL or valid for reading and writing one `T` for `'a`,
/// and nothing else refers to it meanwhile.
pub(super) unsafe fn out<'a, T>(pointer: *mut T) -> Result<&'a mut T> {
    // SAFETY: non-NULL output pointers are valid per the PKCS#11 contract.
    unsafe { pointer.as_mut() }.ok_or(Error::ArgumentsBad("NULL output pointer"))
}

/// Writes what `make` returns (a new handle, a size) to the caller's
/// output argument. A NULL one is refused with `CKR_ARGUMENTS_BAD` before
/// `make` runs.
///
/// # Safety
///
/// As for [`out`].
pub(super) unsafe fn returning<T>(pointer: *mut T, make: impl FnOnce() -> Result<T>) -> Result<()> {
    // SAFETY: this function's contract is `out`'s.
    let place = unsafe { out(pointer) }?;
    *place = make()?;
    Ok(())
}

/// A PIN as bytes (NULL with length 0 is an empty PIN).
///
/// # Safety
///
/// As for [`bytes`].
pub(super) unsafe fn pin<'a>(pointer: *const CK_UTF8CHAR, length: CK_ULONG) -> Result<&'a [u8]> {
    // SAFETY: this function's contract is `bytes`'s.
    unsafe { bytes(pointer, length) }
}

/// Copies a caller's template.
///
/// # Safety
///
/// `pointer` is NULL or valid for reading `count` attributes, and each
/// attribute's `pValue` is NULL or valid for reading `ulValueLen` bytes.
pub(super) unsafe fn template(
    pointer: *const CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<Vec<Attribute>> {
    // SAFETY: the caller promises `count` attributes at `pointer` (this function's contract).
    let raw = unsafe { array(pointer, count, "NULL template with a non-zero count") }?;
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
pub(super) const MAX_ATTRIBUTE_VALUE_LEN: CK_ULONG = 64 << 20;

/// The attribute array of a `C_GetAttributeValue` call.
///
/// # Safety
///
/// `pointer` is NULL or valid for reading and writing `count` attributes
/// for `'a`, and nothing else refers to them meanwhile.
pub(super) unsafe fn attribute_array<'a>(
    pointer: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<&'a mut [CK_ATTRIBUTE]> {
    // SAFETY: this function's contract is `array_mut`'s.
    unsafe { array_mut(pointer, count, "NULL template with a non-zero count") }
}

/// The caller's output capacity: `None` for a length query (NULL buffer).
///
/// # Safety
///
/// `length` is NULL or valid for reading and writing one `CK_ULONG`.
/// `buffer` is only compared with NULL.
pub(super) unsafe fn capacity(buffer: *mut u8, length: *mut CK_ULONG) -> Result<Option<usize>> {
    // SAFETY: `length` is NULL or the caller's length word (this function's contract).
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
///
/// The capacity is read from `*length` here, not trusted from the session
/// layer: output that does not fit is never written, whatever the layer
/// above decided.
///
/// # Safety
///
/// `length` is NULL or valid for reading and writing one `CK_ULONG`;
/// `buffer` is NULL or valid for writing `*length` bytes.
pub(super) unsafe fn deliver(output: Output, buffer: *mut u8, length: *mut CK_ULONG) -> Result<()> {
    // SAFETY: `length` is NULL or the caller's length word (this function's contract).
    let length = unsafe { out(length) }?;
    let capacity = usize::try_from(*length).unwrap_or(usize::MAX);
    match output {
        // Empty output needs no buffer: it was delivered so before the
        // capacity was checked here.
        Output::Ready(data) if capacity >= data.len() && (data.is_empty() || !buffer.is_null()) => {
            if !data.is_empty() {
                // SAFETY: `buffer` is valid for `capacity >= data.len()`
                // bytes (this function's contract, the size checked above),
                // and `data` is a distinct allocation of ours.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buffer, data.len()) };
            }
            *length = data.len() as CK_ULONG;
            Ok(())
        }
        Output::Ready(data) => {
            // The session layer keeps output that does not fit; reaching
            // here means it did not, and the output is lost.
            tracing::error!(
                "{} bytes of output were ready for a buffer of {}: not written",
                data.len(),
                if buffer.is_null() {
                    "none".to_string()
                } else {
                    capacity.to_string()
                }
            );
            *length = data.len() as CK_ULONG;
            Err(Error::BufferTooSmall)
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
///
/// # Safety
///
/// `length` is NULL or valid for reading and writing one `CK_ULONG`;
/// `buffer` is NULL or valid for writing `*length` items.
pub(super) unsafe fn deliver_slice<T: Copy>(
    items: &[T],
    buffer: *mut T,
    length: *mut CK_ULONG,
) -> Result<()> {
    // SAFETY: `length` is NULL or the caller's count word (this function's contract).
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
pub(super) fn pad(field: &mut [u8], text: &str) {
    field.fill(b' ');
    let mut end = text.len().min(field.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&text.as_bytes()[..end]);
}

/// The caller's parameter structure, copied.
///
/// # Safety
///
/// `mechanism.pParameter` is NULL or valid for reading
/// `mechanism.ulParameterLen` bytes.
pub(super) unsafe fn parameter_struct<T: Copy>(mechanism: &CK_MECHANISM) -> Result<T> {
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
///
/// # Safety
///
/// `pointer` is NULL or a valid `CK_MECHANISM` whose parameter is NULL or
/// valid for reading its length, and whose pointers inside a known
/// parameter structure are NULL or valid for the lengths given beside them.
pub(super) unsafe fn mechanism(pointer: *const CK_MECHANISM) -> Result<Mechanism> {
    // SAFETY: NULL is refused; otherwise a valid CK_MECHANISM (this
    // function's contract).
    let raw = unsafe { pointer.as_ref() }.ok_or(Error::ArgumentsBad("NULL mechanism"))?;
    if !raw.pParameter.is_null() && raw.ulParameterLen > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(Error::MechanismParamInvalid("parameter over 64 MiB"));
    }
    // SAFETY: the parameter and the pointers inside it are valid for their
    // lengths (this function's contract).
    let parameter = unsafe { parameter(raw) }?;
    let caller_parameter = if raw.pParameter.is_null() {
        None
    } else {
        // SAFETY: the caller promises `ulParameterLen` bytes at `pParameter`.
        Some(unsafe { bytes(raw.pParameter as *const u8, raw.ulParameterLen) }?.to_vec())
    };
    Ok(Mechanism {
        kind: raw.mechanism,
        parameter,
        caller_parameter,
    })
}

/// A copy of the `length` bytes at `pointer`, a buffer a parameter
/// structure points to: `CKR_MECHANISM_PARAM_INVALID` when it is NULL with
/// a non-zero length.
///
/// # Safety
///
/// As for [`bytes`].
pub(super) unsafe fn inner_bytes(pointer: *const u8, length: CK_ULONG) -> Result<Vec<u8>> {
    // SAFETY: this function's contract is `bytes`'s.
    match unsafe { bytes(pointer, length) } {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(_) => Err(Error::MechanismParamInvalid("bad pointer in parameter")),
    }
}

/// The label of an OAEP parameter: only `CKZ_DATA_SPECIFIED` (or no
/// source and no data) is a source of one.
///
/// # Safety
///
/// `p.pSourceData` is NULL or valid for reading `p.ulSourceDataLen` bytes.
unsafe fn oaep_label(p: &CK_RSA_PKCS_OAEP_PARAMS) -> Result<Vec<u8>> {
    if p.source == CKZ_DATA_SPECIFIED {
        // SAFETY: this function's contract.
        unsafe { inner_bytes(p.pSourceData as *const u8, p.ulSourceDataLen) }
    } else if p.source == 0 && p.ulSourceDataLen == 0 {
        Ok(Vec::new())
    } else {
        Err(Error::MechanismParamInvalid(
            "OAEP source must be CKZ_DATA_SPECIFIED",
        ))
    }
}

/// The parameter of `raw`, read by its mechanism's structure; a mechanism
/// with no structure known here keeps its bytes.
///
/// # Safety
///
/// As for [`mechanism`].
unsafe fn parameter(raw: &CK_MECHANISM) -> Result<MechanismParameter> {
    // SAFETY (of every block below): `raw`'s parameter, and each pointer
    // inside it, are valid for the lengths given beside them (this
    // function's contract); `parameter_struct` checks the parameter's size.
    Ok(match raw.mechanism {
        CKM_AES_GCM => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_GCM_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Gcm {
                // SAFETY: as the comment at the top of `parameter` says.
                iv: unsafe { inner_bytes(p.pIv, p.ulIvLen) }?,
                // SAFETY: as the comment at the top of `parameter` says.
                aad: unsafe { inner_bytes(p.pAAD, p.ulAADLen) }?,
                tag_bits: p.ulTagBits,
            }
        }
        CKM_AES_CTR => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_AES_CTR_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Ctr {
                counter_bits: p.ulCounterBits,
                block: p.cb,
            }
        }
        CKM_RSA_PKCS_OAEP => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_RSA_PKCS_OAEP_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Oaep {
                hash: p.hashAlg,
                mgf: p.mgf,
                // SAFETY: as the comment at the top of `parameter` says.
                label: unsafe { oaep_label(&p) }?,
            }
        }
        CKM_RSA_AES_KEY_WRAP => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_RSA_AES_KEY_WRAP_PARAMS = unsafe { parameter_struct(raw) }?;
            if p.pOAEPParams.is_null() {
                return Err(Error::MechanismParamInvalid(
                    "CK_RSA_AES_KEY_WRAP_PARAMS without OAEP parameters",
                ));
            }
            // SAFETY: as the comment at the top of `parameter` says: the
            // non-NULL OAEP pointer is a valid structure.
            let oaep = unsafe { std::ptr::read_unaligned(p.pOAEPParams) };
            MechanismParameter::RsaAesKeyWrap {
                aes_key_bits: p.ulAESKeyBits,
                hash: oaep.hashAlg,
                mgf: oaep.mgf,
                // SAFETY: as the comment at the top of `parameter` says.
                label: unsafe { oaep_label(&oaep) }?,
            }
        }
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_SHA3_224_RSA_PKCS_PSS
        | CKM_SHA3_256_RSA_PKCS_PSS
        | CKM_SHA3_384_RSA_PKCS_PSS
        | CKM_SHA3_512_RSA_PKCS_PSS => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_RSA_PKCS_PSS_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Pss {
                hash: p.hashAlg,
                mgf: p.mgf,
                salt_len: p.sLen,
            }
        }
        CKM_ECDH1_DERIVE => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_ECDH1_DERIVE_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::Ecdh {
                kdf: p.kdf,
                // SAFETY: as the comment at the top of `parameter` says.
                shared_data: unsafe { inner_bytes(p.pSharedData, p.ulSharedDataLen) }?,
                // SAFETY: as the comment at the top of `parameter` says.
                public_data: unsafe { inner_bytes(p.pPublicData, p.ulPublicDataLen) }?,
            }
        }
        CKM_AES_CMAC_GENERAL => {
            // SAFETY: as the comment at the top of `parameter` says.
            let len: CK_MAC_GENERAL_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::MacLength(len)
        }
        CKM_CONCATENATE_BASE_AND_KEY => {
            // SAFETY: as the comment at the top of `parameter` says.
            let handle: CK_OBJECT_HANDLE = unsafe { parameter_struct(raw) }?;
            MechanismParameter::KeyHandle(handle)
        }
        CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_AES_ECB_ENCRYPT_DATA => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_KEY_DERIVATION_STRING_DATA = unsafe { parameter_struct(raw) }?;
            // SAFETY: as the comment at the top of `parameter` says.
            MechanismParameter::DerivationData(unsafe { inner_bytes(p.pData, p.ulLen) }?)
        }
        CKM_EXTRACT_KEY_FROM_KEY => {
            // SAFETY: as the comment at the top of `parameter` says.
            let first: CK_EXTRACT_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::ExtractBit(first)
        }
        CKM_AES_CBC_ENCRYPT_DATA => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_AES_CBC_ENCRYPT_DATA_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::CbcEncryptData {
                iv: p.iv,
                // SAFETY: as the comment at the top of `parameter` says.
                data: unsafe { inner_bytes(p.pData, p.length) }?,
            }
        }
        CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF => {
            // SAFETY: as the comment at the top of `parameter` says.
            unsafe { super::kdf_params::kbkdf_parameter(raw) }?
        }
        CKM_EDDSA if !raw.pParameter.is_null() && raw.ulParameterLen != 0 => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_EDDSA_PARAMS = unsafe { parameter_struct(raw) }?;
            MechanismParameter::EdDsa {
                prehash: p.phFlag != 0,
                // SAFETY: as the comment at the top of `parameter` says.
                context: unsafe { inner_bytes(p.pContextData, p.ulContextDataLen) }?,
            }
        }
        CKM_ML_DSA if !raw.pParameter.is_null() && raw.ulParameterLen != 0 => {
            // SAFETY: as the comment at the top of `parameter` says.
            let p: CK_SIGN_ADDITIONAL_CONTEXT = unsafe { parameter_struct(raw) }?;
            MechanismParameter::SignContext {
                hedge: p.hedgeVariant,
                // SAFETY: as the comment at the top of `parameter` says.
                context: unsafe { inner_bytes(p.pContext, p.ulContextLen) }?,
            }
        }
        _ if raw.pParameter.is_null() || raw.ulParameterLen == 0 => MechanismParameter::None,
        _ => MechanismParameter::Raw(
            // SAFETY: as the comment at the top of `parameter` says.
            unsafe { bytes(raw.pParameter as *const u8, raw.ulParameterLen) }?.to_vec(),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliver_never_writes_past_the_callers_length_whatever_it_is_handed() {
        let mut buffer = [0u8; 4];
        let mut length: CK_ULONG = 2;
        // SAFETY: `buffer` holds 4 >= `length` bytes; `length` is ours.
        let result =
            unsafe { deliver(Output::Ready(vec![9; 4]), buffer.as_mut_ptr(), &mut length) };
        assert!(matches!(result, Err(Error::BufferTooSmall)), "{result:?}");
        assert_eq!(length, 4, "the length needed is reported");
        assert_eq!(buffer, [0; 4], "no byte was written");

        let mut length: CK_ULONG = 4;
        // SAFETY: as above.
        let result =
            unsafe { deliver(Output::Ready(vec![9; 3]), buffer.as_mut_ptr(), &mut length) };
        assert!(result.is_ok(), "{result:?}");
        assert_eq!((length, buffer), (3, [9, 9, 9, 0]));

        let mut length: CK_ULONG = 0;
        // SAFETY: nothing is written through the NULL buffer (no output).
        let result =
            unsafe { deliver(Output::Ready(Vec::new()), std::ptr::null_mut(), &mut length) };
        assert!(result.is_ok(), "empty output needs no buffer: {result:?}");
        assert_eq!(length, 0);
    }

    #[test]
    fn a_raw_parameter_over_64_mib_is_refused_before_it_is_copied() {
        let byte = 0u8;
        let raw = CK_MECHANISM {
            mechanism: CKM_AES_CBC,
            // Only the length is looked at: it is refused first.
            pParameter: &byte as *const u8 as *mut _,
            ulParameterLen: MAX_ATTRIBUTE_VALUE_LEN + 1,
        };
        // SAFETY: the parameter is never read (its length is refused).
        let result = unsafe { mechanism(&raw) };
        assert!(
            matches!(result, Err(Error::MechanismParamInvalid(_))),
            "{result:?}"
        );
    }
}
