//! The keyed hash contexts of the MAC mechanisms: HMAC (PKCS#11 3.0 §2.20,
//! §2.25) and AES-CMAC (§2.11.5, NIST SP 800-38B). [`super::sign`] streams
//! through them and truncates or compares the result.

use super::mechanisms::Hash;
use super::LoadedKey;
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::md_ctx::MdCtx;
use openssl::pkey::PKey;
use openssl::symm::Cipher;

/// An AES-CMAC is one block (NIST SP 800-38B).
pub(super) const CMAC_LEN: usize = 16;

/// The shortest HMAC key: 112 bits, the smallest security strength NIST
/// SP 800-131A allows an HMAC key. A shorter key, whether given or made by
/// a derivation, could be found by trying every value.
pub const HMAC_MIN_KEY_LEN: usize = 14;

/// An HMAC context on a secret of 14 to 3072 bytes: a generic secret, or
/// an HMAC key of the hash's own type (`CKK_SHA256_HMAC` for SHA-256).
pub(super) fn hmac_context(key: &LoadedKey, hash: Hash) -> Result<MdCtx> {
    let value = match key.key_type {
        kind if kind == hash.hmac_key_type => key.secret(kind)?,
        _ => key.secret(CKK_GENERIC_SECRET)?,
    };
    if !(HMAC_MIN_KEY_LEN..=super::keys::SECRET_MAX_LEN).contains(&value.len()) {
        tracing::info!(
            "an HMAC key of {} bytes is refused: HMAC keys are {HMAC_MIN_KEY_LEN} to {} bytes",
            value.len(),
            super::keys::SECRET_MAX_LEN
        );
        return Err(Error::KeySizeRange);
    }
    let mut context = MdCtx::new()?;
    let mac_key = PKey::hmac(value)?;
    context.digest_sign_init(Some(hash.md), &mac_key)?;
    Ok(context)
}

/// An AES-CMAC context (NIST SP 800-38B) on an AES key.
pub(super) fn cmac_context(key: &LoadedKey) -> Result<MdCtx> {
    let value = key.aes_key()?;
    let cipher = match value.len() {
        16 => Cipher::aes_128_cbc(),
        24 => Cipher::aes_192_cbc(),
        _ => Cipher::aes_256_cbc(),
    };
    let mut context = MdCtx::new()?;
    let mac_key = PKey::cmac(&cipher, value)?;
    context.digest_sign_init(None, &mac_key)?;
    Ok(context)
}
