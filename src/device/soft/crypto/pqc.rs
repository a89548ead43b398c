//! The post-quantum keys of PKCS#11 3.2: ML-DSA (FIPS 204, `CKK_ML_DSA`)
//! and ML-KEM (FIPS 203, `CKK_ML_KEM`), each in three parameter sets
//! (`CKA_PARAMETER_SET`), on OpenSSL 3.5 or later.
//!
//! Key material in PKCS#11 form: a public key's `CKA_VALUE` is the FIPS
//! encoding of pk (ek for ML-KEM); a private key's `CKA_VALUE` is the
//! expanded sk (dk), and its `CKA_SEED` the seed it was made from (ξ for
//! ML-DSA, d || z for ML-KEM), when the key has one.

use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::pkey::{HasParams, HasPrivate, HasPublic, KeyType, PKey, PKeyRef, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use zeroize::Zeroizing;

/// An ML-KEM shared secret is 32 bytes (FIPS 203 §7).
pub(super) const SHARED_SECRET_LEN: usize = 32;

/// An ML-DSA or ML-KEM parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ParameterSet {
    MlDsa44,
    MlDsa65,
    MlDsa87,
    MlKem512,
    MlKem768,
    MlKem1024,
}

use ParameterSet::*;

const EVERY_SET: [ParameterSet; 6] = [MlDsa44, MlDsa65, MlDsa87, MlKem512, MlKem768, MlKem1024];

impl ParameterSet {
    /// The parameter set `value` (`CKP_ML_DSA_44`, ...) names for a key of
    /// `key_type`; another value is `AttributeValueInvalid(CKA_PARAMETER_SET)`.
    pub(super) fn of(key_type: CK_KEY_TYPE, value: CK_ULONG) -> Result<ParameterSet> {
        EVERY_SET
            .into_iter()
            .find(|set| set.key_type() == key_type && set.value() == value)
            .ok_or(Error::AttributeValueInvalid(CKA_PARAMETER_SET))
    }

    /// The parameter set of an OpenSSL key, `None` for any other algorithm.
    pub(super) fn of_key<T: HasParams>(key: &PKeyRef<T>) -> Option<ParameterSet> {
        EVERY_SET.into_iter().find(|set| key.is_a(set.algorithm()))
    }

    pub(super) fn key_type(self) -> CK_KEY_TYPE {
        match self {
            MlDsa44 | MlDsa65 | MlDsa87 => CKK_ML_DSA,
            MlKem512 | MlKem768 | MlKem1024 => CKK_ML_KEM,
        }
    }

    /// The `CKA_PARAMETER_SET` value.
    pub(super) fn value(self) -> CK_ULONG {
        match self {
            MlDsa44 => CKP_ML_DSA_44,
            MlDsa65 => CKP_ML_DSA_65,
            MlDsa87 => CKP_ML_DSA_87,
            MlKem512 => CKP_ML_KEM_512,
            MlKem768 => CKP_ML_KEM_768,
            MlKem1024 => CKP_ML_KEM_1024,
        }
    }

    fn algorithm(self) -> KeyType {
        match self {
            MlDsa44 => KeyType::ML_DSA_44,
            MlDsa65 => KeyType::ML_DSA_65,
            MlDsa87 => KeyType::ML_DSA_87,
            MlKem512 => KeyType::ML_KEM_512,
            MlKem768 => KeyType::ML_KEM_768,
            MlKem1024 => KeyType::ML_KEM_1024,
        }
    }

    /// The length of pk (ek) in bytes (FIPS 204 Table 2, FIPS 203 Table 3).
    pub(super) fn public_len(self) -> usize {
        match self {
            MlDsa44 => 1312,
            MlDsa65 => 1952,
            MlDsa87 => 2592,
            MlKem512 => 800,
            MlKem768 => 1184,
            MlKem1024 => 1568,
        }
    }

    /// The length of the expanded sk (dk) in bytes.
    pub(super) fn private_len(self) -> usize {
        match self {
            MlDsa44 => 2560,
            MlDsa65 => 4032,
            MlDsa87 => 4896,
            MlKem512 => 1632,
            MlKem768 => 2400,
            MlKem1024 => 3168,
        }
    }

    /// The length of the key generation seed: ξ (32 bytes) or d || z (64).
    pub(super) fn seed_len(self) -> usize {
        match self.key_type() {
            CKK_ML_DSA => 32,
            _ => 64,
        }
    }

    /// The length of a signature (ML-DSA) or a ciphertext (ML-KEM).
    pub(super) fn output_len(self) -> usize {
        match self {
            MlDsa44 => 2420,
            MlDsa65 => 3309,
            MlDsa87 => 4627,
            MlKem512 => 768,
            MlKem768 => 1088,
            MlKem1024 => 1568,
        }
    }
}

/// A new key pair of `set` (ML-DSA.KeyGen, ML-KEM.KeyGen): a fresh random
/// seed, expanded.
pub(super) fn generate(set: ParameterSet) -> Result<PKey<Private>> {
    let mut seed = Zeroizing::new(vec![0u8; set.seed_len()]);
    openssl::rand::rand_bytes(&mut seed).map_err(|_| Error::RandomNoRng)?;
    Ok(PKey::private_key_from_seed(
        None,
        set.algorithm(),
        None,
        &seed,
    )?)
}

/// A public key of `set` from its FIPS encoding (`CKA_VALUE`).
pub(super) fn import_public(set: ParameterSet, value: &[u8]) -> Result<PKey<Public>> {
    if value.len() != set.public_len() {
        return Err(Error::AttributeValueInvalid(CKA_VALUE));
    }
    PKey::public_key_from_raw_bytes_ex(None, set.algorithm(), None, value)
        .map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))
}

/// A private key of `set` from its seed, its expanded encoding, or both
/// (which must then be the same key). PKCS#11 3.2 asks for at least one.
pub(super) fn import_private(
    set: ParameterSet,
    seed: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<PKey<Private>> {
    if let Some(value) = value.filter(|value| value.len() != set.private_len()) {
        tracing::debug!("a private key of {} bytes for {set:?}", value.len());
        return Err(Error::AttributeValueInvalid(CKA_VALUE));
    }
    match (seed, value) {
        (Some(seed), value) => {
            if seed.len() != set.seed_len() {
                return Err(Error::AttributeValueInvalid(CKA_SEED));
            }
            let key = PKey::private_key_from_seed(None, set.algorithm(), None, seed)
                .map_err(|_| Error::AttributeValueInvalid(CKA_SEED))?;
            if let Some(value) = value {
                let expanded = Zeroizing::new(key.raw_private_key()?);
                if !openssl::memcmp::eq(&expanded, value) {
                    return Err(Error::TemplateInconsistent(
                        "CKA_VALUE is not the private key CKA_SEED makes",
                    ));
                }
            }
            Ok(key)
        }
        (None, Some(value)) => {
            PKey::private_key_from_raw_bytes_ex(None, set.algorithm(), None, value)
                .map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))
        }
        (None, None) => Err(Error::TemplateIncomplete(CKA_VALUE)),
    }
}

/// The FIPS encoding of the public key (`CKA_VALUE` of the public object).
pub(super) fn public_value<T: HasPublic>(key: &PKeyRef<T>) -> Result<Vec<u8>> {
    Ok(key.raw_public_key()?)
}

/// The expanded private key (`CKA_VALUE` of the private object).
pub(super) fn private_value<T: HasPrivate>(key: &PKeyRef<T>) -> Option<Vec<u8>> {
    key.raw_private_key().ok()
}

/// The seed of a private key (`CKA_SEED`), `None` when the key was
/// imported without one.
pub(super) fn seed<T: HasPrivate>(key: &PKeyRef<T>) -> Option<Vec<u8>> {
    let set = ParameterSet::of_key(key)?;
    let mut seed = vec![0u8; set.seed_len()];
    let len = key.seed_into(&mut seed).ok()?;
    seed.truncate(len);
    Some(seed)
}

/// ML-KEM.Encaps with `key`'s ek: (ciphertext, shared secret). `entropy`
/// (tests only) is the 32-byte m of FIPS 203 Algorithm 17 instead of
/// fresh randomness.
pub(super) fn encapsulate<T: HasPublic>(
    key: &PKeyRef<T>,
    entropy: Option<&[u8]>,
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    let mut context = PkeyCtx::new(key)?;
    crate::ffi::openssl::encapsulate(&mut context, entropy)
}

/// ML-KEM.Decaps with `key`'s dk. A ciphertext of the wrong length is
/// `EncryptedDataLenRange`; any ciphertext of the right length gives a
/// secret (the implicit-rejection one when it was not made for this key).
pub(super) fn decapsulate<T: HasPrivate>(
    key: &PKeyRef<T>,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let set = ParameterSet::of_key(key).ok_or(Error::KeyTypeInconsistent)?;
    if ciphertext.len() != set.output_len() {
        return Err(Error::EncryptedDataLenRange);
    }
    let mut context = PkeyCtx::new(key)?;
    crate::ffi::openssl::decapsulate(&mut context, ciphertext, SHARED_SECRET_LEN)
}
