//! The embedded software HSM, the default device: token state and key
//! objects in a SQLite database in the token directory, private and secret
//! key material sealed under a token key that only the PINs unlock.

pub mod crypto;

use crate::device::*;
use crate::error::{Error, Result};
use crate::object::{Access, AttributeResult, AttributeType, Handle, Template};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Settings of the software device, from the configuration.
#[derive(Clone, Debug)]
pub struct SoftOptions {
    /// The token directory (`SOFT_TOKEN_DIR`).
    pub token_dir: PathBuf,
    /// Consecutive wrong PINs before the PIN locks (`PIN_MAX_FAILURES`).
    pub max_pin_failures: u32,
    /// PBKDF2 iterations for PIN-derived keys.
    pub kdf_iterations: u32,
}

/// The software device.
pub struct SoftDevice {
    options: SoftOptions,
}

impl SoftDevice {
    /// Opens (creating when absent) the token in `options.token_dir`.
    pub fn open(options: SoftOptions) -> Result<Self> {
        Ok(SoftDevice { options })
    }

    /// The token directory.
    pub fn token_dir(&self) -> &Path {
        &self.options.token_dir
    }
}

fn unsupported<T>() -> Result<T> {
    Err(Error::FunctionNotSupported("soft device"))
}

impl Device for SoftDevice {
    fn token_status(&self) -> TokenStatus {
        TokenStatus::default()
    }
    fn init_token(&self, _so_pin: &[u8], _label: &str) -> Result<()> {
        unsupported()
    }
    fn login(&self, _user: UserType, _pin: &[u8]) -> Result<()> {
        unsupported()
    }
    fn logout(&self) {}
    fn init_pin(&self, _pin: &[u8]) -> Result<()> {
        unsupported()
    }
    fn set_pin(&self, _user: UserType, _old_pin: &[u8], _new_pin: &[u8]) -> Result<()> {
        unsupported()
    }
    fn mechanisms(&self) -> Vec<MechanismInfo> {
        Vec::new()
    }
    fn generate_random(&self, out: &mut [u8]) -> Result<()> {
        openssl::rand::rand_bytes(out).map_err(|_| Error::RandomNoRng)
    }
    fn create_object(&self, _access: &Access, _template: &Template) -> Result<Handle> {
        unsupported()
    }
    fn copy_object(
        &self,
        _access: &Access,
        _handle: Handle,
        _template: &Template,
    ) -> Result<Handle> {
        unsupported()
    }
    fn destroy_object(&self, _access: &Access, _handle: Handle) -> Result<()> {
        unsupported()
    }
    fn object_size(&self, _access: &Access, _handle: Handle) -> Result<cryptoki_sys::CK_ULONG> {
        unsupported()
    }
    fn get_attributes(
        &self,
        _access: &Access,
        _handle: Handle,
        _kinds: &[AttributeType],
    ) -> Result<Vec<AttributeResult>> {
        unsupported()
    }
    fn set_attributes(
        &self,
        _access: &Access,
        _handle: Handle,
        _template: &Template,
    ) -> Result<()> {
        unsupported()
    }
    fn find_objects(&self, _access: &Access, _template: &Template) -> Result<Vec<Handle>> {
        Ok(Vec::new())
    }
    fn close_session(&self, _session: cryptoki_sys::CK_SESSION_HANDLE) {}
    fn encrypt_init(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _key: Handle,
    ) -> Result<Box<dyn CipherOperation>> {
        unsupported()
    }
    fn decrypt_init(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _key: Handle,
    ) -> Result<Box<dyn CipherOperation>> {
        unsupported()
    }
    fn digest_init(&self, mechanism: &Mechanism) -> Result<Box<dyn DigestOperation>> {
        crypto::digest_init(mechanism)
    }
    fn sign_init(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _key: Handle,
    ) -> Result<Box<dyn SignOperation>> {
        unsupported()
    }
    fn verify_init(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _key: Handle,
    ) -> Result<Box<dyn VerifyOperation>> {
        unsupported()
    }
    fn generate_key(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _template: &Template,
    ) -> Result<Handle> {
        unsupported()
    }
    fn generate_key_pair(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _public_template: &Template,
        _private_template: &Template,
    ) -> Result<(Handle, Handle)> {
        unsupported()
    }
    fn wrap_key(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _wrapping_key: Handle,
        _key: Handle,
    ) -> Result<Vec<u8>> {
        unsupported()
    }
    fn unwrap_key(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _unwrapping_key: Handle,
        _wrapped: &[u8],
        _template: &Template,
    ) -> Result<Handle> {
        unsupported()
    }
    fn derive_key(
        &self,
        _access: &Access,
        _mechanism: &Mechanism,
        _base_key: Handle,
        _template: &Template,
    ) -> Result<Handle> {
        unsupported()
    }
    fn blob_signing_key(&self, _key_id: Option<&str>) -> Result<Arc<dyn BlobSigningKey>> {
        unsupported()
    }
}
