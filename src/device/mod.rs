//! The HSM device channel: everything that touches key material.
//!
//! A device owns key objects (token and session ones), the PINs and the
//! login check, and performs cryptographic operations. The provider routes
//! every handle below [`crate::object::FIRST_CERTIFICATE_HANDLE`] here.

pub mod mechanism;
pub mod soft;

use crate::error::Result;
use crate::object::{Access, AttributeResult, AttributeType, Handle, Template};
use cryptoki_sys::*;
use std::sync::Arc;

pub use mechanism::{Mechanism, MechanismInfo, MechanismParameter};

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
}

/// The device's key that signs certificate blobs (RS512): held by the
/// device, usable only while the normal user is logged in; its public half
/// is readable by anyone so that blobs verify before login.
pub trait BlobSigningKey: Send + Sync {
    /// A stable identifier of this key, written as the JWS `kid`.
    fn key_id(&self) -> String;
    /// DER SubjectPublicKeyInfo of the RSA public key.
    fn public_key_der(&self) -> Vec<u8>;
    /// RSASSA-PKCS1-v1_5 with SHA-512 over `message`.
    /// `Error::UserNotLoggedIn` when the user is not logged in.
    fn sign_rs512(&self, message: &[u8]) -> Result<Vec<u8>>;
}

/// The device channel. All methods are callable from any thread.
pub trait Device: Send + Sync {
    // ----- token and PINs (PKCS#11 3.0 §5.5, §5.6) -----
    fn token_status(&self) -> TokenStatus;
    /// Initialises (or re-initialises) the token: destroys its objects, sets the SO PIN and label.
    fn init_token(&self, so_pin: &[u8], label: &str) -> Result<()>;
    /// Checks a PIN and unlocks the key material for `user`. Consecutive
    /// failures lock the PIN (`Error::PinLocked`).
    fn login(&self, user: UserType, pin: &[u8]) -> Result<()>;
    /// Forgets unlocked key material.
    fn logout(&self);
    /// Sets the normal user's PIN (the SO is logged in).
    fn init_pin(&self, pin: &[u8]) -> Result<()>;
    /// Changes the PIN of `user` (that user is logged in, or no one is and `user` is `User`).
    fn set_pin(&self, user: UserType, old_pin: &[u8], new_pin: &[u8]) -> Result<()>;

    // ----- mechanisms and random (§5.5, §5.17) -----
    fn mechanisms(&self) -> Vec<MechanismInfo>;
    fn generate_random(&self, out: &mut [u8]) -> Result<()>;

    // ----- objects (§5.7) -----
    fn create_object(&self, access: &Access, template: &Template) -> Result<Handle>;
    fn copy_object(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle>;
    fn destroy_object(&self, access: &Access, handle: Handle) -> Result<()>;
    fn object_size(&self, access: &Access, handle: Handle) -> Result<CK_ULONG>;
    fn get_attributes(
        &self,
        access: &Access,
        handle: Handle,
        kinds: &[AttributeType],
    ) -> Result<Vec<AttributeResult>>;
    fn set_attributes(&self, access: &Access, handle: Handle, template: &Template) -> Result<()>;
    /// Handles of the visible objects matching `template`.
    fn find_objects(&self, access: &Access, template: &Template) -> Result<Vec<Handle>>;
    /// Destroys the session objects owned by `session`.
    fn close_session(&self, session: CK_SESSION_HANDLE);

    // ----- cryptographic operations (§5.8 to §5.16) -----
    fn encrypt_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn CipherOperation>>;
    fn decrypt_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn CipherOperation>>;
    fn digest_init(&self, mechanism: &Mechanism) -> Result<Box<dyn DigestOperation>>;
    fn sign_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn SignOperation>>;
    fn verify_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn VerifyOperation>>;
    fn generate_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        template: &Template,
    ) -> Result<Handle>;
    fn generate_key_pair(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(Handle, Handle)>;
    fn wrap_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        wrapping_key: Handle,
        key: Handle,
    ) -> Result<Vec<u8>>;
    fn unwrap_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        unwrapping_key: Handle,
        wrapped: &[u8],
        template: &Template,
    ) -> Result<Handle>;
    fn derive_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        base_key: Handle,
        template: &Template,
    ) -> Result<Handle>;

    // ----- certificate storage support -----
    /// The key that signs certificate blobs. With `key_id`, the RSA key pair
    /// whose `CKA_ID` is that text; without, a key the device provides itself.
    fn blob_signing_key(&self, key_id: Option<&str>) -> Result<Arc<dyn BlobSigningKey>>;
}
