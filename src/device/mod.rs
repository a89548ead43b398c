//! The HSM device channel: everything that touches key material.
//!
//! A device owns key objects (token and session ones), the PINs and the
//! login check, and performs cryptographic operations. The provider routes
//! every handle below [`crate::object::FIRST_CERTIFICATE_HANDLE`] here.

pub mod mechanism;
pub mod pkcs11;
pub mod soft;

use crate::error::{Error, Result};
use crate::object::{Access, Handle, ObjectStore, Template};
use cryptoki_sys::*;
use std::sync::Arc;

pub use mechanism::{
    KbkdfData, KbkdfInteger, KbkdfParameter, Mechanism, MechanismInfo, MechanismParameter,
};

/// The two users of PKCS#11 (`CKU_CONTEXT_SPECIFIC` is handled by the provider).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserType {
    SecurityOfficer,
    User,
}

/// What the token reports about itself in `CK_TOKEN_INFO`.
#[derive(Clone, Debug, Default)]
pub struct TokenStatus {
    /// Label (at most 32 bytes when shown).
    pub label: String,
    /// Serial number (at most 16 characters).
    pub serial: String,
    pub initialized: bool,
    pub user_pin_initialized: bool,
    pub user_pin_count_low: bool,
    pub user_pin_final_try: bool,
    pub user_pin_locked: bool,
    pub so_pin_count_low: bool,
    pub so_pin_final_try: bool,
    pub so_pin_locked: bool,
    pub min_pin_len: usize,
    pub max_pin_len: usize,
    /// The rest of `CK_TOKEN_INFO`, as the device gives it.
    pub details: TokenDetails,
}

/// The rest of `CK_TOKEN_INFO`: the embedded device's own values, or a
/// vendor token's, shown as the device gives them.
#[derive(Clone, Debug, Default)]
pub struct TokenDetails {
    pub manufacturer: String,
    pub model: String,
    /// The flags beyond those [`TokenStatus`] names one by one
    /// (`CKF_RNG`, `CKF_LOGIN_REQUIRED`, `CKF_WRITE_PROTECTED`, ...).
    pub other_flags: CK_FLAGS,
    pub max_session_count: CK_ULONG,
    pub max_rw_session_count: CK_ULONG,
    pub total_public_memory: CK_ULONG,
    pub free_public_memory: CK_ULONG,
    pub total_private_memory: CK_ULONG,
    pub free_private_memory: CK_ULONG,
    pub hardware_version: (u8, u8),
    pub firmware_version: (u8, u8),
    /// `utcTime`, 16 characters when the token has a clock.
    pub utc_time: String,
}

/// This library's version as a PKCS#11 `CK_VERSION` (major, minor).
pub fn package_version() -> (u8, u8) {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    (major, minor)
}

/// The JWS `kid` of a blob-signing key: `hex(SHA-256(SPKI DER)[..16])`,
/// the same for every device.
pub fn blob_key_id(public_der: &[u8]) -> String {
    openssl::sha::sha256(public_der)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The public half of a blob-signing key and its `kid`.
pub struct PublicHalf {
    key_id: String,
    der: Vec<u8>,
}

impl PublicHalf {
    /// `der` (a SubjectPublicKeyInfo), named by [`blob_key_id`].
    pub fn new(der: Vec<u8>) -> Self {
        PublicHalf {
            key_id: blob_key_id(&der),
            der,
        }
    }

    /// The SubjectPublicKeyInfo.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// `der` under a name of the caller's.
    pub fn named(key_id: &str, der: Vec<u8>) -> Self {
        PublicHalf {
            key_id: key_id.to_string(),
            der,
        }
    }
}

/// A multi-part or one-shot signing operation (PKCS#11 3.0 §5.13).
pub trait SignOperation: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self) -> Result<Vec<u8>>;
    /// One-shot signature of `data`; the operation ends.
    fn sign(&mut self, data: &[u8]) -> Result<Vec<u8>>;
}

/// A multi-part or one-shot verification (PKCS#11 3.0 §5.14).
/// A wrong signature is `Error::SignatureInvalid`.
pub trait VerifyOperation: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self, signature: &[u8]) -> Result<()>;
    fn verify(&mut self, data: &[u8], signature: &[u8]) -> Result<()>;
}

/// An encryption or decryption (PKCS#11 3.0 §5.8, §5.9).
pub trait CipherOperation: Send {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>>;
    fn finish(&mut self) -> Result<Vec<u8>>;
    /// One-shot: all of `data`, then the final block.
    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>>;
}

/// A message digest (PKCS#11 3.0 §5.12).
pub trait DigestOperation: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self) -> Result<Vec<u8>>;
    /// One-shot digest of `data` (`C_Digest`); the operation ends.
    fn digest(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.update(data)?;
        self.finish()
    }
    /// `C_DigestKey` done by the device itself, when it can digest a key
    /// it holds; `None` leaves it to the provider, which digests the value
    /// of a non-sensitive secret key.
    fn digest_key(&mut self, _key: Handle) -> Option<Result<()>> {
        None
    }
}

/// The device's key that signs certificate blobs (RS512): held by the
/// device, usable only while the normal user is logged in; its public half
/// is readable by anyone so that blobs verify before login.
pub trait BlobSigningKey: Send + Sync {
    /// The public half, with its `kid`.
    fn public_half(&self) -> &PublicHalf;
    /// A stable identifier of this key, written as the JWS `kid`.
    fn key_id(&self) -> String {
        self.public_half().key_id.clone()
    }
    /// DER SubjectPublicKeyInfo of the RSA public key.
    fn public_key_der(&self) -> Vec<u8> {
        self.public_half().der.clone()
    }
    /// RSASSA-PKCS1-v1_5 with SHA-512 over `message`.
    /// `Error::UserNotLoggedIn` when the user is not logged in.
    fn sign_rs512(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// Token, sessions, PINs, mechanisms and random (PKCS#11 3.0 §5.5, §5.6,
/// §5.17): the part of a device that knows who may use its keys.
pub trait TokenControl: Send + Sync {
    fn token_status(&self) -> Result<TokenStatus>;
    /// Initialises (or re-initialises) the token: destroys its objects, sets the SO PIN and label.
    fn init_token(&self, so_pin: &[u8], label: &str) -> Result<()>;
    /// A session was opened (the provider has checked its flags); a device
    /// with sessions of its own opens one for it here.
    fn open_session(&self, _session: CK_SESSION_HANDLE, _read_write: bool) -> Result<()> {
        Ok(())
    }
    /// Destroys the session objects owned by `session`.
    fn close_session(&self, session: CK_SESSION_HANDLE);
    /// Checks a PIN and unlocks the key material for `user`, through
    /// `session`. Consecutive failures lock the PIN (`Error::PinLocked`).
    fn login(&self, session: CK_SESSION_HANDLE, user: UserType, pin: &[u8]) -> Result<()>;
    /// `C_Login` with `CKU_CONTEXT_SPECIFIC` for the operation active in
    /// `session` (the provider has checked that one is, and that the user
    /// is logged in).
    fn login_context_specific(&self, session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        self.login(session, UserType::User, pin)
    }
    /// Forgets unlocked key material.
    fn logout(&self);
    /// Sets the normal user's PIN (the SO is logged in, in `session`).
    fn init_pin(&self, session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()>;
    /// Changes the PIN of `change.user` (that user is logged in, or no one
    /// is and it is `User`).
    fn set_pin(&self, session: CK_SESSION_HANDLE, change: PinChange<'_>) -> Result<()>;
    fn mechanisms(&self) -> Vec<MechanismInfo>;
    fn generate_random(&self, access: &Access, out: &mut [u8]) -> Result<()>;
    /// `C_SeedRandom`: mixes `seed` into the generator; `Ok(false)` when the
    /// device's generator takes no seed (`CKR_RANDOM_SEED_NOT_SUPPORTED`).
    fn seed_random(&self, _access: &Access, _seed: &[u8]) -> Result<bool> {
        Ok(false)
    }
}

/// What `C_SetPIN` asks for (§5.6): whose PIN, the old one and the new one.
pub struct PinChange<'a> {
    /// The user whose PIN changes.
    pub user: UserType,
    /// The PIN now.
    pub old_pin: &'a [u8],
    /// The PIN to set.
    pub new_pin: &'a [u8],
}

/// What `C_GenerateKey` asks for (§5.15).
pub struct KeyRequest<'a> {
    /// The key generation mechanism.
    pub mechanism: &'a Mechanism,
    /// The new key's template.
    pub template: &'a Template,
}

/// What `C_GenerateKeyPair` asks for (§5.15).
pub struct KeyPairRequest<'a> {
    /// The key-pair generation mechanism.
    pub mechanism: &'a Mechanism,
    /// The public key's template.
    pub public_template: &'a Template,
    /// The private key's template.
    pub private_template: &'a Template,
}

/// A new key pair's handles: (public, private).
pub type KeyPair = Result<(Handle, Handle)>;

/// What `C_WrapKey` asks for (§5.15): `key` wrapped with `wrapping_key`.
pub struct WrapRequest<'a> {
    /// The wrapping mechanism.
    pub mechanism: &'a Mechanism,
    /// The key that wraps.
    pub wrapping_key: Handle,
    /// The key to wrap.
    pub key: Handle,
}

/// What `C_UnwrapKey` asks for (§5.15): `wrapped` unwrapped with
/// `unwrapping_key` into a new key made by `template`.
pub struct UnwrapRequest<'a> {
    /// The unwrapping mechanism.
    pub mechanism: &'a Mechanism,
    /// The key that unwraps.
    pub unwrapping_key: Handle,
    /// The wrapped key.
    pub wrapped: &'a [u8],
    /// The new key's template.
    pub template: &'a Template,
}

/// What `C_DeriveKey` asks for (§5.15): a new key made by `template` from
/// `base_key`.
pub struct DeriveRequest<'a> {
    /// The derivation mechanism.
    pub mechanism: &'a Mechanism,
    /// The key derived from.
    pub base_key: Handle,
    /// The new key's template.
    pub template: &'a Template,
}

/// `C_EncapsulateKey` (PKCS#11 3.2 §5.18): a KEM with a public key makes a
/// ciphertext and a new secret key of the template.
pub struct EncapsulateRequest<'a> {
    pub mechanism: &'a Mechanism,
    pub public_key: Handle,
    pub template: &'a Template,
    /// The caller's ciphertext buffer length; `None` for a length query
    /// (a NULL `pCiphertext`).
    pub capacity: Option<usize>,
}

/// What `C_EncapsulateKey` gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Encapsulated {
    /// The ciphertext length, for a length query or a buffer too small:
    /// nothing was made.
    Length(usize),
    /// The ciphertext and the new key.
    Key { ciphertext: Vec<u8>, key: Handle },
}

/// `C_DecapsulateKey` (PKCS#11 3.2 §5.18): a KEM with a private key turns
/// a ciphertext back into the secret key of the template.
pub struct DecapsulateRequest<'a> {
    pub mechanism: &'a Mechanism,
    pub private_key: Handle,
    pub template: &'a Template,
    pub ciphertext: &'a [u8],
}

/// What `C_DeriveKey` made: the key of its template, then the additional
/// keys of an SP 800-108 derivation, in the order of their templates.
#[derive(Debug, PartialEq, Eq)]
pub struct DerivedKeys {
    pub key: Handle,
    pub additional: Vec<Handle>,
}

impl From<Handle> for DerivedKeys {
    fn from(key: Handle) -> Self {
        DerivedKeys {
            key,
            additional: Vec::new(),
        }
    }
}

/// A new encryption or decryption.
pub type Cipher = Result<Box<dyn CipherOperation>>;
/// A new signing operation.
pub type Signing = Result<Box<dyn SignOperation>>;
/// A new verification.
pub type Verifying = Result<Box<dyn VerifyOperation>>;
/// A new digest.
pub type Digesting = Result<Box<dyn DigestOperation>>;

/// The cryptographic operations on a key the device holds (§5.8 to §5.14).
pub trait Operations: Send + Sync {
    fn encrypt_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Cipher;
    fn decrypt_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Cipher;
    fn digest_init(&self, access: &Access, mechanism: &Mechanism) -> Digesting;
    fn sign_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Signing;
    fn verify_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Verifying;
}

/// Keys made, wrapped, unwrapped and derived (§5.15, §5.16), and the key
/// that signs certificate blobs.
pub trait KeyManagement: Send + Sync {
    /// `C_GenerateKey`: the new key's handle.
    fn generate_key(&self, access: &Access, request: KeyRequest<'_>) -> Result<Handle>;
    /// `C_GenerateKeyPair`: returns (public, private).
    fn generate_key_pair(&self, access: &Access, request: KeyPairRequest<'_>) -> KeyPair;
    /// `C_WrapKey`: the wrapped key.
    fn wrap_key(&self, access: &Access, request: WrapRequest<'_>) -> Result<Vec<u8>>;
    /// `C_UnwrapKey`: the new key's handle.
    fn unwrap_key(&self, access: &Access, request: UnwrapRequest<'_>) -> Result<Handle>;
    /// `C_DeriveKey`: the new keys' handles.
    fn derive_key(&self, access: &Access, request: DeriveRequest<'_>) -> Result<DerivedKeys>;
    /// `C_EncapsulateKey`; a device without KEMs has no such mechanism.
    fn encapsulate_key(
        &self,
        _access: &Access,
        request: EncapsulateRequest<'_>,
    ) -> Result<Encapsulated> {
        Err(Error::MechanismInvalid(request.mechanism.kind))
    }
    /// `C_DecapsulateKey`; a device without KEMs has no such mechanism.
    fn decapsulate_key(&self, _access: &Access, request: DecapsulateRequest<'_>) -> Result<Handle> {
        Err(Error::MechanismInvalid(request.mechanism.kind))
    }
    /// The key that signs certificate blobs. With `key_id`, the RSA key pair
    /// whose `CKA_ID` is that text; without, a key the device provides itself.
    fn blob_signing_key(&self, key_id: Option<&str>) -> Result<Arc<dyn BlobSigningKey>>;
}

/// The device channel: the sum of its parts, each implemented by the
/// device directly. All methods are callable from any thread. The object
/// functions on existing handles are those of [`ObjectStore`].
pub trait Device: TokenControl + Operations + KeyManagement + ObjectStore + Send + Sync {}

impl<T> Device for T where T: TokenControl + Operations + KeyManagement + ObjectStore + Send + Sync {}
