//! The parameters of the SP 800-108 key derivations (PKCS#11 3.0 §2.42):
//! `CK_SP800_108_KDF_PARAMS` and `CK_SP800_108_FEEDBACK_KDF_PARAMS`, their
//! `CK_PRF_DATA_PARAM` arrays and the `CK_DERIVED_KEY`s of additional keys,
//! whose handles `C_DeriveKey` writes back.

use super::convert::{array, inner_bytes, parameter_struct, template, MAX_ATTRIBUTE_VALUE_LEN};
use crate::device::{KbkdfData, KbkdfInteger, KbkdfParameter, MechanismParameter};
use crate::error::{Error, Result};
use cryptoki_sys::*;

/// The most additional keys one derivation makes, and the most data
/// parameters it takes: far above any protocol's needs, far below what
/// could exhaust memory.
const MAX_ADDITIONAL_KEYS: CK_ULONG = 64;
const MAX_DATA_PARAMS: CK_ULONG = 256;

/// The fields both parameter structures share.
struct Fields {
    prf: CK_MECHANISM_TYPE,
    data: (*const CK_PRF_DATA_PARAM, CK_ULONG),
    iv: (*const u8, CK_ULONG),
    keys: (*const CK_DERIVED_KEY, CK_ULONG),
}

/// The fields of `raw`'s structure, by its mechanism.
///
/// # Safety
///
/// `raw`'s parameter is NULL or valid for reading its length.
unsafe fn fields(raw: &CK_MECHANISM) -> Result<Fields> {
    Ok(if raw.mechanism == CKM_SP800_108_FEEDBACK_KDF {
        // SAFETY: this function's contract; `parameter_struct` checks the size.
        let p: CK_SP800_108_FEEDBACK_KDF_PARAMS = unsafe { parameter_struct(raw) }?;
        Fields {
            prf: p.prfType,
            data: (p.pDataParams, p.ulNumberOfDataParams),
            iv: (p.pIV, p.ulIVLen),
            keys: (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys),
        }
    } else {
        // SAFETY: this function's contract; `parameter_struct` checks the size.
        let p: CK_SP800_108_KDF_PARAMS = unsafe { parameter_struct(raw) }?;
        Fields {
            prf: p.prfType,
            data: (p.pDataParams, p.ulNumberOfDataParams),
            iv: (std::ptr::null(), 0),
            keys: (p.pAdditionalDerivedKeys, p.ulAdditionalDerivedKeys),
        }
    })
}

/// The structure at a data parameter's `pValue`, which must be exactly one.
///
/// # Safety
///
/// `item.pValue` is NULL or valid for reading `item.ulValueLen` bytes.
unsafe fn value_struct<T: Copy>(item: &CK_PRF_DATA_PARAM) -> Result<T> {
    if item.pValue.is_null() || item.ulValueLen as usize != std::mem::size_of::<T>() {
        return Err(Error::MechanismParamInvalid(
            "a CK_PRF_DATA_PARAM value missing or of the wrong size",
        ));
    }
    // SAFETY: non-NULL and of T's size, per this function's contract.
    Ok(unsafe { std::ptr::read_unaligned(item.pValue as *const T) })
}

fn integer(little_endian: CK_BBOOL, width_bits: CK_ULONG) -> KbkdfInteger {
    KbkdfInteger {
        little_endian: little_endian != 0,
        width_bits,
    }
}

/// One `CK_PRF_DATA_PARAM`.
///
/// # Safety
///
/// As for [`value_struct`].
unsafe fn data_param(feedback: bool, item: &CK_PRF_DATA_PARAM) -> Result<KbkdfData> {
    Ok(match item.type_ {
        CK_SP800_108_ITERATION_VARIABLE if feedback => {
            if !item.pValue.is_null() || item.ulValueLen != 0 {
                return Err(Error::MechanismParamInvalid(
                    "the feedback mode's iteration variable has no value",
                ));
            }
            KbkdfData::Iteration(None)
        }
        CK_SP800_108_ITERATION_VARIABLE | CK_SP800_108_COUNTER => {
            // SAFETY: this function's contract.
            let f: CK_SP800_108_COUNTER_FORMAT = unsafe { value_struct(item) }?;
            let format = integer(f.bLittleEndian, f.ulWidthInBits);
            match item.type_ {
                CK_SP800_108_COUNTER => KbkdfData::Counter(format),
                _ => KbkdfData::Iteration(Some(format)),
            }
        }
        CK_SP800_108_DKM_LENGTH => {
            // SAFETY: this function's contract.
            let f: CK_SP800_108_DKM_LENGTH_FORMAT = unsafe { value_struct(item) }?;
            let sum_of_segments = match f.dkmLengthMethod {
                CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => false,
                CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => true,
                _ => {
                    return Err(Error::MechanismParamInvalid(
                        "an unknown CK_SP800_108_DKM_LENGTH_METHOD",
                    ))
                }
            };
            KbkdfData::DkmLength {
                sum_of_segments,
                format: integer(f.bLittleEndian, f.ulWidthInBits),
            }
        }
        CK_SP800_108_BYTE_ARRAY if item.ulValueLen > MAX_ATTRIBUTE_VALUE_LEN => {
            return Err(Error::MechanismParamInvalid("a byte array over 64 MiB"))
        }
        CK_SP800_108_BYTE_ARRAY => {
            // SAFETY: this function's contract.
            KbkdfData::Bytes(unsafe { inner_bytes(item.pValue as *const u8, item.ulValueLen) }?)
        }
        _ => {
            return Err(Error::MechanismParamInvalid(
                "CK_PRF_DATA_PARAM: iteration variable, counter, DKM length or byte array \
                 (CK_SP800_108_KEY_HANDLE is not supported)",
            ))
        }
    })
}

/// The additional keys' entries: `CKR_MECHANISM_PARAM_INVALID` for a NULL
/// array with a count, or an entry without a place for its handle.
///
/// # Safety
///
/// The array is NULL or valid for reading its count.
unsafe fn derived_keys<'a>(
    keys: (*const CK_DERIVED_KEY, CK_ULONG),
) -> Result<&'a [CK_DERIVED_KEY]> {
    if keys.1 > MAX_ADDITIONAL_KEYS {
        return Err(Error::MechanismParamInvalid("more than 64 additional keys"));
    }
    // SAFETY: this function's contract.
    let keys = unsafe { array(keys.0, keys.1, "NULL pAdditionalDerivedKeys with a count") }
        .map_err(|_| Error::MechanismParamInvalid("NULL pAdditionalDerivedKeys with a count"))?;
    if keys.iter().any(|key| key.phKey.is_null()) {
        return Err(Error::MechanismParamInvalid(
            "a CK_DERIVED_KEY without a place for its handle",
        ));
    }
    Ok(keys)
}

/// The parameter of `CKM_SP800_108_COUNTER_KDF` or
/// `CKM_SP800_108_FEEDBACK_KDF`.
///
/// # Safety
///
/// `raw`'s parameter is NULL or valid for reading its length, and the
/// arrays, values and templates it points to are NULL or valid for the
/// lengths given beside them.
pub(super) unsafe fn kbkdf_parameter(raw: &CK_MECHANISM) -> Result<MechanismParameter> {
    let feedback = raw.mechanism == CKM_SP800_108_FEEDBACK_KDF;
    // SAFETY: this function's contract (and of every block below).
    let fields = unsafe { fields(raw) }?;
    if fields.data.1 > MAX_DATA_PARAMS {
        return Err(Error::MechanismParamInvalid(
            "more than 256 data parameters",
        ));
    }
    // SAFETY: as the comment above says.
    let items = unsafe {
        array(
            fields.data.0,
            fields.data.1,
            "NULL pDataParams with a count",
        )
    }
    .map_err(|_| Error::MechanismParamInvalid("NULL pDataParams with a count"))?;
    let data = items
        .iter()
        // SAFETY: as the comment above says.
        .map(|item| unsafe { data_param(feedback, item) })
        .collect::<Result<Vec<_>>>()?;
    if fields.iv.1 > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(Error::MechanismParamInvalid("an IV over 64 MiB"));
    }
    // SAFETY: as the comment above says.
    let iv = unsafe { inner_bytes(fields.iv.0, fields.iv.1) }?;
    // SAFETY: as the comment above says.
    let additional_keys = unsafe { derived_keys(fields.keys) }?
        .iter()
        // SAFETY: as the comment above says.
        .map(|key| unsafe { template(key.pTemplate, key.ulAttributeCount) })
        .map(|parsed| {
            parsed.map_err(|error| match error {
                Error::ArgumentsBad(_) => Error::MechanismParamInvalid(
                    "a CK_DERIVED_KEY with a NULL template and a count",
                ),
                other => other,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(MechanismParameter::Kbkdf(Box::new(KbkdfParameter {
        prf: fields.prf,
        data,
        iv,
        additional_keys,
    })))
}

/// Where `C_DeriveKey` writes the handles of the additional keys of the
/// mechanism at `pointer` (none for any other mechanism).
///
/// # Safety
///
/// As for [`kbkdf_parameter`], for a `pointer` that is NULL or a valid
/// `CK_MECHANISM`.
pub(super) unsafe fn additional_key_outputs(
    pointer: *const CK_MECHANISM,
) -> Result<Vec<*mut CK_OBJECT_HANDLE>> {
    // SAFETY: this function's contract.
    let Some(raw) = (unsafe { pointer.as_ref() }) else {
        return Ok(Vec::new());
    };
    if !matches!(
        raw.mechanism,
        CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF
    ) {
        return Ok(Vec::new());
    }
    // SAFETY: this function's contract.
    let fields = unsafe { fields(raw) }?;
    // SAFETY: this function's contract.
    let keys = unsafe { derived_keys(fields.keys) }?;
    Ok(keys.iter().map(|key| key.phKey).collect())
}
