//! Key wrapping (PKCS#11 3.0 §5.18): AES key wrap (RFC 3394) and with
//! padding (RFC 5649), §2.14; AES-GCM, §2.12; RSA PKCS#1 v1.5 and OAEP,
//! §2.1.6 and §2.1.8; RSA-AES key wrap, §2.1.21. And ECDH key derivation
//! (`CKM_ECDH1_DERIVE`, §2.3.16) with the ANSI X9.63 KDFs.

use super::cipher::{cipher_init, rsa_context, RsaPadding};
use super::curves::Curve;
use super::implicit_rejection;
use super::keys::{public_key_from_point, SECRET_MAX_LEN};
use super::loaded::AsymmetricKey;
use super::mechanisms::Hash;
use super::LoadedKey;
use crate::device::{Mechanism, MechanismParameter};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::{CipherCtx, CipherCtxFlags};
use openssl::md_ctx::MdCtx;
use openssl::pkey_ctx::PkeyCtx;
use std::sync::Arc;
use zeroize::Zeroizing;

/// The semiblock of the AES key wrap (RFC 3394 §2).
const SEMIBLOCK: usize = 8;

fn aes_wrap_cipher(padded: bool, key_len: usize) -> &'static CipherRef {
    match (padded, key_len) {
        (false, 16) => Cipher::aes_128_wrap(),
        (false, 24) => Cipher::aes_192_wrap(),
        (false, _) => Cipher::aes_256_wrap(),
        (true, 16) => Cipher::aes_128_wrap_pad(),
        (true, 24) => Cipher::aes_192_wrap_pad(),
        (true, _) => Cipher::aes_256_wrap_pad(),
    }
}

/// The initial value of `CKM_AES_KEY_WRAP`: RFC 3394's default, or 8 bytes given as the parameter.
fn aes_wrap_iv(mechanism: &Mechanism) -> Result<Option<&[u8]>> {
    match (&mechanism.parameter, mechanism.kind) {
        (MechanismParameter::None, _) => Ok(None),
        (MechanismParameter::Raw(iv), _) if iv.is_empty() => Ok(None),
        (MechanismParameter::Raw(iv), CKM_AES_KEY_WRAP) if iv.len() == SEMIBLOCK => Ok(Some(iv)),
        _ => Err(Error::MechanismParamInvalid(
            "AES key wrap takes no parameter or an 8-byte IV",
        )),
    }
}

/// Runs the AES key wrap cipher once over `input`; `None` when OpenSSL refuses
/// (for unwrapping: the integrity check failed).
fn aes_wrap_once(
    key: &[u8],
    mechanism: &Mechanism,
    input: &[u8],
    wrap: bool,
) -> Result<Option<Vec<u8>>> {
    let iv = aes_wrap_iv(mechanism)?;
    let cipher = aes_wrap_cipher(mechanism.kind == CKM_AES_KEY_WRAP_PAD, key.len());
    let mut context = CipherCtx::new()?;
    context.set_flags(CipherCtxFlags::FLAG_WRAP_ALLOW);
    if wrap {
        context.encrypt_init(Some(cipher), Some(key), iv)?;
    } else {
        context.decrypt_init(Some(cipher), Some(key), iv)?;
    }
    let mut output = Vec::with_capacity(input.len() + 2 * SEMIBLOCK);
    if context.cipher_update_vec(input, &mut output).is_err()
        || context.cipher_final_vec(&mut output).is_err()
    {
        output.fill(0);
        return Ok(None);
    }
    Ok(Some(output))
}

/// `C_WrapKey`: `key_bytes` (a secret key's value, or a private key's
/// PKCS#8 DER) encrypted under `wrapping_key` with `CKM_AES_KEY_WRAP`,
/// `CKM_AES_KEY_WRAP_PAD`, `CKM_AES_GCM`, `CKM_RSA_PKCS`,
/// `CKM_RSA_PKCS_OAEP` or `CKM_RSA_AES_KEY_WRAP`.
pub fn wrap(
    mechanism: &Mechanism,
    wrapping_key: &Arc<LoadedKey>,
    key_bytes: &[u8],
) -> Result<Vec<u8>> {
    match mechanism.kind {
        CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_PAD => {
            let key = wrapping_aes_key(wrapping_key, Error::WrappingKeyTypeInconsistent)?;
            aes_key_wrap(key, mechanism, key_bytes)
        }
        CKM_AES_GCM => {
            wrapping_aes_key(wrapping_key, Error::WrappingKeyTypeInconsistent)?;
            cipher_init(wrapping_key.clone(), mechanism, true)?.one_shot(key_bytes)
        }
        CKM_RSA_PKCS | CKM_RSA_PKCS_OAEP => rsa_wrap(mechanism, wrapping_key, key_bytes),
        CKM_RSA_AES_KEY_WRAP => {
            let (aes_key_len, oaep) = rsa_aes_parameters(mechanism)?;
            wrapping_key
                .asymmetric_key(CKK_RSA)
                .map_err(|_| Error::WrappingKeyTypeInconsistent)?;
            let mut temporary = Zeroizing::new(vec![0u8; aes_key_len]);
            openssl::rand::rand_bytes(&mut temporary)?;
            let mut wrapped = rsa_wrap(&oaep, wrapping_key, &temporary)?;
            wrapped.extend(aes_key_wrap(
                &temporary,
                &Mechanism::new(CKM_AES_KEY_WRAP_PAD),
                key_bytes,
            )?);
            Ok(wrapped)
        }
        other => Err(Error::MechanismInvalid(other)),
    }
}

/// `C_UnwrapKey`: the inverse of [`wrap`]. A wrapped key whose length alone
/// shows it is wrong is `Error::WrappedKeyLenRange`; one that fails its
/// integrity check (or, for OAEP, its padding), `Error::WrappedKeyInvalid`.
pub fn unwrap(
    mechanism: &Mechanism,
    unwrapping_key: &Arc<LoadedKey>,
    wrapped: &[u8],
) -> Result<Vec<u8>> {
    match mechanism.kind {
        CKM_AES_KEY_WRAP | CKM_AES_KEY_WRAP_PAD => {
            let key = wrapping_aes_key(unwrapping_key, Error::UnwrappingKeyTypeInconsistent)?;
            aes_key_unwrap(key, mechanism, wrapped)
        }
        CKM_AES_GCM => {
            wrapping_aes_key(unwrapping_key, Error::UnwrappingKeyTypeInconsistent)?;
            cipher_init(unwrapping_key.clone(), mechanism, false)?
                .one_shot(wrapped)
                .map_err(|error| match error {
                    Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
                    Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
                    other => other,
                })
        }
        CKM_RSA_PKCS | CKM_RSA_PKCS_OAEP => {
            rsa_unwrap(mechanism, unwrapping_key, wrapped).map(|plain| plain.to_vec())
        }
        CKM_RSA_AES_KEY_WRAP => {
            let (aes_key_len, oaep) = rsa_aes_parameters(mechanism)?;
            let private = unwrapping_key
                .private_key(CKK_RSA)
                .map_err(|_| Error::UnwrappingKeyTypeInconsistent)?;
            let modulus_len = (private.bits() as usize).div_ceil(8);
            if wrapped.len() <= modulus_len {
                return Err(Error::WrappedKeyLenRange);
            }
            let (rsa_part, aes_part) = wrapped.split_at(modulus_len);
            let temporary = rsa_unwrap(&oaep, unwrapping_key, rsa_part)?;
            if temporary.len() != aes_key_len {
                return Err(Error::WrappedKeyInvalid);
            }
            aes_key_unwrap(&temporary, &Mechanism::new(CKM_AES_KEY_WRAP_PAD), aes_part)
        }
        other => Err(Error::MechanismInvalid(other)),
    }
}

/// `CKM_AES_KEY_WRAP` (RFC 3394: whole semiblocks, at least two) or
/// `CKM_AES_KEY_WRAP_PAD` (RFC 5649: any non-empty input) of `key_bytes`.
fn aes_key_wrap(key: &[u8], mechanism: &Mechanism, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let fits = match mechanism.kind {
        CKM_AES_KEY_WRAP => {
            key_bytes.len() >= 2 * SEMIBLOCK && key_bytes.len().is_multiple_of(SEMIBLOCK)
        }
        _ => !key_bytes.is_empty(),
    };
    if !fits {
        return Err(Error::KeySizeRange);
    }
    aes_wrap_once(key, mechanism, key_bytes, true)?
        .ok_or_else(|| Error::Internal("AES key wrap failed"))
}

fn aes_key_unwrap(key: &[u8], mechanism: &Mechanism, wrapped: &[u8]) -> Result<Vec<u8>> {
    // RFC 3394 output is n+1 semiblocks with n >= 2; RFC 5649's at least 2.
    let minimum = if mechanism.kind == CKM_AES_KEY_WRAP {
        3 * SEMIBLOCK
    } else {
        2 * SEMIBLOCK
    };
    if wrapped.len() < minimum || !wrapped.len().is_multiple_of(SEMIBLOCK) {
        return Err(Error::WrappedKeyLenRange);
    }
    aes_wrap_once(key, mechanism, wrapped, false)?.ok_or(Error::WrappedKeyInvalid)
}

/// RSA encryption of a key, `CKM_RSA_PKCS` (PKCS#1 v1.5) or `CKM_RSA_PKCS_OAEP`.
fn rsa_wrap(mechanism: &Mechanism, wrapping_key: &LoadedKey, key_bytes: &[u8]) -> Result<Vec<u8>> {
    let padding = RsaPadding::of(mechanism)?;
    let key = wrapping_key
        .asymmetric_key(CKK_RSA)
        .map_err(|_| Error::WrappingKeyTypeInconsistent)?;
    let (mut context, _, max_plaintext) = rsa_context(key, &padding, true)?;
    if key_bytes.len() > max_plaintext {
        return Err(Error::KeySizeRange);
    }
    context.encrypt(key_bytes)
}

/// RSA decryption of a wrapped key. PKCS#1 v1.5 is no padding oracle here
/// either: a bad padding unwraps, like a good one, to the synthetic message
/// of implicit rejection, which the caller's template then takes or refuses
/// by its length alone.
fn rsa_unwrap(
    mechanism: &Mechanism,
    unwrapping_key: &LoadedKey,
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let padding = RsaPadding::of(mechanism)?;
    let key = unwrapping_key
        .private_key(CKK_RSA)
        .map_err(|_| Error::UnwrappingKeyTypeInconsistent)?;
    let (mut context, modulus_len, _) = rsa_context(AsymmetricKey::Private(key), &padding, false)?;
    if wrapped.len() != modulus_len {
        return Err(Error::WrappedKeyLenRange);
    }
    let decrypted = Zeroizing::new(context.decrypt(wrapped)?.ok_or(Error::WrappedKeyInvalid)?);
    match padding {
        RsaPadding::Pkcs1 => implicit_rejection::decode_with_key(key, wrapped, &decrypted),
        RsaPadding::Oaep { .. } => Ok(decrypted),
    }
}

/// The temporary AES key length (bytes) and the OAEP mechanism of a
/// `CK_RSA_AES_KEY_WRAP_PARAMS` (PKCS#11 3.0 §2.1.21).
fn rsa_aes_parameters(mechanism: &Mechanism) -> Result<(usize, Mechanism)> {
    let MechanismParameter::RsaAesKeyWrap {
        aes_key_bits,
        hash,
        mgf,
        label,
    } = &mechanism.parameter
    else {
        return Err(Error::MechanismParamInvalid(
            "CKM_RSA_AES_KEY_WRAP needs CK_RSA_AES_KEY_WRAP_PARAMS",
        ));
    };
    if !matches!(aes_key_bits, 128 | 192 | 256) {
        return Err(Error::MechanismParamInvalid(
            "ulAESKeyBits must be 128, 192 or 256",
        ));
    }
    let oaep = Mechanism::with(
        CKM_RSA_PKCS_OAEP,
        MechanismParameter::Oaep {
            hash: *hash,
            mgf: *mgf,
            label: label.clone(),
        },
    );
    Ok((*aes_key_bits as usize / 8, oaep))
}

fn wrapping_aes_key(key: &LoadedKey, inconsistent: Error) -> Result<&[u8]> {
    match key.aes_key() {
        Err(Error::KeyTypeInconsistent) => Err(inconsistent),
        other => other,
    }
}

/// The ANSI X9.63 KDF hash of a `CK_EC_KDF_TYPE`, `None` for `CKD_NULL`.
fn kdf_hash(kdf: CK_EC_KDF_TYPE) -> Result<Option<Hash>> {
    let digest = match kdf {
        CKD_NULL => return Ok(None),
        CKD_SHA1_KDF => CKM_SHA_1,
        CKD_SHA224_KDF => CKM_SHA224,
        CKD_SHA256_KDF => CKM_SHA256,
        CKD_SHA384_KDF => CKM_SHA384,
        CKD_SHA512_KDF => CKM_SHA512,
        _ => return Err(Error::MechanismParamInvalid("ECDH KDF not supported")),
    };
    Ok(Hash::from_mechanism(digest))
}

/// ANSI X9.63 §3.6.1: `Hash(Z || counter || SharedInfo)` for counter = 1, 2, ...
pub(super) fn x963_kdf(
    hash: Hash,
    secret: &[u8],
    shared_data: &[u8],
    len: usize,
) -> Result<Vec<u8>> {
    let mut output = Vec::with_capacity(len + hash.len());
    let mut counter: u32 = 1;
    while output.len() < len {
        let mut context = MdCtx::new()?;
        context.digest_init(hash.md)?;
        context.digest_update(secret)?;
        context.digest_update(&counter.to_be_bytes())?;
        context.digest_update(shared_data)?;
        let start = output.len();
        output.resize(start + hash.len(), 0);
        context.digest_final(&mut output[start..])?;
        counter += 1;
    }
    output.truncate(len);
    Ok(output)
}

/// `CKM_ECDH1_DERIVE`: the shared secret of `private_key` and the peer
/// point. With `CKD_NULL` it is the raw secret (`x` of the shared point),
/// cut to its last `value_len` bytes (0: all of it; longer: `Error::KeySizeRange`).
/// With `CKD_SHA*_KDF` it is `value_len` bytes of the X9.63 KDF (0: one hash
/// length), at most 3072 bytes.
pub(super) fn ecdh_derive(
    mechanism: &Mechanism,
    private_key: &LoadedKey,
    value_len: usize,
) -> Result<Vec<u8>> {
    if mechanism.kind != CKM_ECDH1_DERIVE {
        return Err(Error::MechanismInvalid(mechanism.kind));
    }
    let MechanismParameter::Ecdh {
        kdf,
        shared_data,
        public_data,
    } = &mechanism.parameter
    else {
        return Err(Error::MechanismParamInvalid(
            "ECDH needs CK_ECDH1_DERIVE_PARAMS",
        ));
    };
    let kdf = kdf_hash(*kdf)?;
    if kdf.is_none() && !shared_data.is_empty() {
        return Err(Error::MechanismParamInvalid(
            "CKD_NULL takes no shared data",
        ));
    }
    let key = match private_key.key_type {
        CKK_EC_MONTGOMERY => private_key.private_key(CKK_EC_MONTGOMERY)?,
        _ => private_key.private_key(CKK_EC)?,
    };
    let curve = Curve::of_key(key)?;
    let peer = public_key_from_point(curve, public_data).ok_or(Error::MechanismParamInvalid(
        "the peer's public point is not on the key's curve",
    ))?;
    let mut context = PkeyCtx::new(key)?;
    context.derive_init()?;
    context.derive_set_peer(&peer)?;
    let mut secret = Vec::with_capacity(curve.field_len());
    // RFC 7748 §6: a peer u-coordinate of small order gives the all-zero
    // secret, which OpenSSL refuses.
    context.derive_to_vec(&mut secret).map_err(|_| {
        Error::MechanismParamInvalid("the peer's public key gives no shared secret")
    })?;
    let result = match kdf {
        None if value_len > secret.len() => Err(Error::KeySizeRange),
        None if value_len == 0 => return Ok(secret),
        None => Ok(secret[secret.len() - value_len..].to_vec()),
        Some(_) if value_len > SECRET_MAX_LEN => Err(Error::KeySizeRange),
        Some(hash) => x963_kdf(
            hash,
            &secret,
            shared_data,
            if value_len == 0 {
                hash.len()
            } else {
                value_len
            },
        ),
    };
    secret.fill(0);
    result
}
