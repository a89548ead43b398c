//! The simple key derivations of PKCS#11 3.0 §2.43 (concatenation, XOR,
//! extraction) and AES encryption of data into a key (§2.11.4,
//! `CKM_AES_ECB_ENCRYPT_DATA` and `CKM_AES_CBC_ENCRYPT_DATA`).
//!
//! Here is only the value; which attributes the new key may have (a key
//! made from a sensitive one stays sensitive) is the device's rule.

use super::LoadedKey;
use crate::device::{Mechanism, MechanismParameter};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::symm::{Cipher, Crypter, Mode};
use zeroize::Zeroizing;

/// AES works on 16-byte blocks.
const AES_BLOCK: usize = 16;

/// Whether `kind` is one of the derivations here.
pub fn is_simple_derivation(kind: CK_MECHANISM_TYPE) -> bool {
    matches!(
        kind,
        CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
            | CKM_EXTRACT_KEY_FROM_KEY
            | CKM_AES_ECB_ENCRYPT_DATA
            | CKM_AES_CBC_ENCRYPT_DATA
    )
}

/// The secret value of a secret key of any type.
fn value_of(key: &LoadedKey) -> Result<&[u8]> {
    match &key.material {
        super::KeyMaterial::Secret(value) => Ok(value),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The data of a `CK_KEY_DERIVATION_STRING_DATA` parameter.
fn data_of(mechanism: &Mechanism) -> Result<&[u8]> {
    match &mechanism.parameter {
        MechanismParameter::DerivationData(data) => Ok(data),
        _ => Err(Error::MechanismParamInvalid(
            "this derivation needs a CK_KEY_DERIVATION_STRING_DATA",
        )),
    }
}

/// The value `mechanism` derives from `base` (and, for
/// `CKM_CONCATENATE_BASE_AND_KEY`, from `other`, the key its parameter
/// names): `len` bytes, or with `None` as many as the derivation gives (the
/// base key's length for an extraction). More than the derivation gives
/// is `Error::TemplateInconsistent`.
pub fn derive_value(
    mechanism: &Mechanism,
    base: &LoadedKey,
    other: Option<&LoadedKey>,
    len: Option<usize>,
) -> Result<Zeroizing<Vec<u8>>> {
    let value = match mechanism.kind {
        CKM_CONCATENATE_BASE_AND_KEY => {
            let other = other.ok_or(Error::MechanismParamInvalid(
                "CKM_CONCATENATE_BASE_AND_KEY needs the handle of a second key",
            ))?;
            Zeroizing::new([value_of(base)?, value_of(other)?].concat())
        }
        CKM_CONCATENATE_BASE_AND_DATA => {
            Zeroizing::new([value_of(base)?, data_of(mechanism)?].concat())
        }
        CKM_CONCATENATE_DATA_AND_BASE => {
            Zeroizing::new([data_of(mechanism)?, value_of(base)?].concat())
        }
        CKM_XOR_BASE_AND_DATA => {
            let (base, data) = (value_of(base)?, data_of(mechanism)?);
            Zeroizing::new(base.iter().zip(data).map(|(b, d)| b ^ d).collect())
        }
        CKM_EXTRACT_KEY_FROM_KEY => extract(mechanism, value_of(base)?, len)?,
        CKM_AES_ECB_ENCRYPT_DATA | CKM_AES_CBC_ENCRYPT_DATA => encrypt_data(mechanism, base)?,
        other => return Err(Error::MechanismInvalid(other)),
    };
    match len {
        Some(len) if len > value.len() => Err(Error::TemplateInconsistent(
            "CKA_VALUE_LEN is longer than the derivation gives",
        )),
        Some(len) => Ok(Zeroizing::new(value[..len].to_vec())),
        None => Ok(value),
    }
}

/// How many of the `len` bytes `mechanism` derived hold the base key's
/// bytes, and how many the second key's (`CKM_CONCATENATE_BASE_AND_KEY`),
/// each with that key's length: `[(kept, length) of the base, (kept,
/// length) of the other]`. A byte of AES encryption of data depends on
/// the whole base key, so each counts as one of the base's.
pub fn bytes_kept(
    mechanism: &Mechanism,
    base: &LoadedKey,
    other: Option<&LoadedKey>,
    len: usize,
) -> Result<[(usize, usize); 2]> {
    let base_len = value_of(base)?.len();
    let other_len = other.map(value_of).transpose()?.map_or(0, <[u8]>::len);
    let (from_base, from_other) = match mechanism.kind {
        CKM_CONCATENATE_DATA_AND_BASE => (len.saturating_sub(data_of(mechanism)?.len()), 0),
        CKM_CONCATENATE_BASE_AND_KEY => (len, len.saturating_sub(base_len)),
        _ => (len, 0),
    };
    Ok([
        (from_base.min(base_len), base_len),
        (from_other.min(other_len), other_len),
    ])
}

/// `CKM_EXTRACT_KEY_FROM_KEY` (§2.43.7): `len` bytes of the base key's
/// bits, from the bit the parameter names (bit 0 is the first byte's most
/// significant bit), wrapping around to the first bit at the end.
fn extract(mechanism: &Mechanism, base: &[u8], len: Option<usize>) -> Result<Zeroizing<Vec<u8>>> {
    let MechanismParameter::ExtractBit(first) = mechanism.parameter else {
        return Err(Error::MechanismParamInvalid(
            "CKM_EXTRACT_KEY_FROM_KEY needs a CK_EXTRACT_PARAMS",
        ));
    };
    let bits = base.len() * 8;
    let first = usize::try_from(first)
        .ok()
        .filter(|first| *first < bits)
        .ok_or(Error::MechanismParamInvalid(
            "CK_EXTRACT_PARAMS names a bit beyond the base key",
        ))?;
    let len = len.unwrap_or(base.len());
    if len > base.len() {
        return Err(Error::TemplateInconsistent(
            "CKM_EXTRACT_KEY_FROM_KEY gives at most the base key's length",
        ));
    }
    let bit = |index: usize| (base[index / 8] >> (7 - index % 8)) & 1;
    let mut value = Zeroizing::new(vec![0u8; len]);
    for (i, byte) in value.iter_mut().enumerate() {
        for j in 0..8 {
            *byte = (*byte << 1) | bit((first + i * 8 + j) % bits);
        }
    }
    Ok(value)
}

/// `CKM_AES_ECB_ENCRYPT_DATA` and `CKM_AES_CBC_ENCRYPT_DATA` (§2.11.4):
/// the data, whole blocks, encrypted under the base key without padding.
fn encrypt_data(mechanism: &Mechanism, base: &LoadedKey) -> Result<Zeroizing<Vec<u8>>> {
    let key = base.aes_key()?;
    let (mode_ecb, iv, data) = match (&mechanism.parameter, mechanism.kind) {
        (MechanismParameter::DerivationData(data), CKM_AES_ECB_ENCRYPT_DATA) => {
            (true, None, &data[..])
        }
        (MechanismParameter::CbcEncryptData { iv, data }, CKM_AES_CBC_ENCRYPT_DATA) => {
            (false, Some(&iv[..]), &data[..])
        }
        _ => {
            return Err(Error::MechanismParamInvalid(
                "AES ECB encryption of data needs CK_KEY_DERIVATION_STRING_DATA, \
                 CBC needs CK_AES_CBC_ENCRYPT_DATA_PARAMS",
            ))
        }
    };
    if data.is_empty() || data.len() % AES_BLOCK != 0 {
        return Err(Error::MechanismParamInvalid(
            "the data to encrypt into a key must be whole AES blocks",
        ));
    }
    let cipher = match (key.len(), mode_ecb) {
        (16, true) => Cipher::aes_128_ecb(),
        (24, true) => Cipher::aes_192_ecb(),
        (_, true) => Cipher::aes_256_ecb(),
        (16, false) => Cipher::aes_128_cbc(),
        (24, false) => Cipher::aes_192_cbc(),
        (_, false) => Cipher::aes_256_cbc(),
    };
    let mut crypter = Crypter::new(cipher, Mode::Encrypt, key, iv)?;
    crypter.pad(false);
    let mut value = Zeroizing::new(vec![0u8; data.len() + AES_BLOCK]);
    let written = crypter.update(data, &mut value)?;
    let total = written + crypter.finalize(&mut value[written..])?;
    value.truncate(total);
    Ok(value)
}
