//! Access to a [`LoadedKey`] for the operations: the right kind of
//! material for the mechanism, or `Error::KeyTypeInconsistent`.

use super::keys::{DES2_KEY_LEN, DES3_KEY_LEN, RSA_MIN_BITS, RSA_PUBLIC_MAX_BITS};
use super::{KeyMaterial, LoadedKey};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use zeroize::Zeroizing;

/// An asymmetric key usable where only the public half is needed.
#[derive(Clone, Copy)]
pub(super) enum AsymmetricKey<'a> {
    Private(&'a PKey<Private>),
    Public(&'a PKey<Public>),
}

impl AsymmetricKey<'_> {
    /// Size in bits (RSA modulus, EC order).
    pub(super) fn bits(self) -> u32 {
        match self {
            AsymmetricKey::Private(key) => key.bits(),
            AsymmetricKey::Public(key) => key.bits(),
        }
    }

    /// The algorithm.
    pub(super) fn id(self) -> Id {
        match self {
            AsymmetricKey::Private(key) => key.id(),
            AsymmetricKey::Public(key) => key.id(),
        }
    }

    /// The ML-DSA or ML-KEM parameter set, `None` for other keys.
    pub(super) fn parameter_set(self) -> Option<super::pqc::ParameterSet> {
        match self {
            AsymmetricKey::Private(key) => super::pqc::ParameterSet::of_key(key),
            AsymmetricKey::Public(key) => super::pqc::ParameterSet::of_key(key),
        }
    }

    /// A fresh public-key context on this key.
    pub(super) fn context(self) -> Result<KeyContext> {
        Ok(match self {
            AsymmetricKey::Private(key) => KeyContext::Private(PkeyCtx::new(key)?),
            AsymmetricKey::Public(key) => KeyContext::Public(PkeyCtx::new(key)?),
        })
    }
}

impl LoadedKey {
    /// The private key, when this is a private key of `key_type`.
    pub(super) fn private_key(&self, key_type: CK_KEY_TYPE) -> Result<&PKey<Private>> {
        match &self.material {
            KeyMaterial::Private(key) if self.key_type == key_type => Ok(key),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The private or public key, when this is an asymmetric key of `key_type`.
    pub(super) fn asymmetric_key(&self, key_type: CK_KEY_TYPE) -> Result<AsymmetricKey<'_>> {
        match &self.material {
            _ if self.key_type != key_type => Err(Error::KeyTypeInconsistent),
            KeyMaterial::Private(key) => Ok(AsymmetricKey::Private(key)),
            KeyMaterial::Public(key) => Ok(AsymmetricKey::Public(key)),
            KeyMaterial::Secret(_) => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The secret value, when this is a secret key of `key_type`.
    pub(super) fn secret(&self, key_type: CK_KEY_TYPE) -> Result<&[u8]> {
        match &self.material {
            KeyMaterial::Secret(value) if self.key_type == key_type => Ok(value),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// An AES key value (16, 24 or 32 bytes).
    pub(super) fn aes_key(&self) -> Result<&[u8]> {
        let value = self.secret(CKK_AES)?;
        match value.len() {
            16 | 24 | 32 => Ok(value),
            _ => Err(Error::KeySizeRange),
        }
    }

    /// A Triple DES key as the three-key cipher takes it: a `CKK_DES3`
    /// value as it is, a `CKK_DES2` value as K1 K2 K1 (PKCS#11 3.0 §2.16).
    pub(super) fn des3_key(&self) -> Result<Zeroizing<Vec<u8>>> {
        let value = match self.key_type {
            CKK_DES2 => self.secret(CKK_DES2)?,
            _ => self.secret(CKK_DES3)?,
        };
        match (self.key_type, value.len()) {
            (CKK_DES3, DES3_KEY_LEN) => Ok(Zeroizing::new(value.to_vec())),
            (CKK_DES2, DES2_KEY_LEN) => Ok(Zeroizing::new([value, &value[..8]].concat())),
            _ => Err(Error::KeySizeRange),
        }
    }
}

/// RSA keys the operations accept: 1024 to 16384 bits (a private key over
/// 8192 bits is never made or imported, so signing stops there).
pub(super) fn check_rsa_size(bits: u32) -> Result<()> {
    if (RSA_MIN_BITS..=RSA_PUBLIC_MAX_BITS).contains(&(bits as CK_ULONG)) {
        Ok(())
    } else {
        Err(Error::KeySizeRange)
    }
}

/// A public-key operation context on a private or a public key.
pub(super) enum KeyContext {
    Private(PkeyCtx<Private>),
    Public(PkeyCtx<Public>),
}

macro_rules! on_context {
    ($self:expr, $context:ident => $body:expr) => {
        match $self {
            KeyContext::Private($context) => $body,
            KeyContext::Public($context) => $body,
        }
    };
}

impl KeyContext {
    pub(super) fn sign_init(&mut self) -> Result<()> {
        match self {
            KeyContext::Private(context) => Ok(context.sign_init()?),
            KeyContext::Public(_) => Err(Error::KeyTypeInconsistent),
        }
    }

    pub(super) fn sign(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let mut signature = Vec::new();
        match self {
            KeyContext::Private(context) => context.sign_to_vec(data, &mut signature)?,
            KeyContext::Public(_) => return Err(Error::KeyTypeInconsistent),
        };
        Ok(signature)
    }

    pub(super) fn verify_init(&mut self) -> Result<()> {
        on_context!(self, context => Ok(context.verify_init()?))
    }

    /// True when `signature` is valid; a malformed one is simply invalid.
    pub(super) fn verify(&mut self, data: &[u8], signature: &[u8]) -> bool {
        on_context!(self, context => context.verify(data, signature).unwrap_or(false))
    }

    pub(super) fn encrypt_init(&mut self) -> Result<()> {
        on_context!(self, context => Ok(context.encrypt_init()?))
    }

    pub(super) fn encrypt(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        on_context!(self, context => context.encrypt_to_vec(data, &mut out))?;
        Ok(out)
    }

    pub(super) fn decrypt_init(&mut self) -> Result<()> {
        match self {
            KeyContext::Private(context) => Ok(context.decrypt_init()?),
            KeyContext::Public(_) => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The plaintext, or `None` when the ciphertext does not decrypt.
    pub(super) fn decrypt(&mut self, data: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        match self {
            KeyContext::Private(context) => {
                Ok(context.decrypt_to_vec(data, &mut out).ok().map(|_| out))
            }
            KeyContext::Public(_) => Err(Error::KeyTypeInconsistent),
        }
    }
}
