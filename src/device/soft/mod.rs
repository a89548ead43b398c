//! The embedded software HSM, the default device: token state and key
//! objects in a SQLite database in the token directory, private and secret
//! key material sealed under a token key that only the PINs unlock.
//!
//! - [`database`]: the SQLite file, shared safely by several processes.
//! - [`pins`] and `token`: the token key, PIN checks, lockout.
//! - [`objects`]: objects built by the rules of [`crate::object::tables`].
//! - `store`: token and session objects and the cache of parsed keys.
//! - `object_functions`, `key_functions`: the PKCS#11 functions on top.
//! - `signing_key`: the key that signs certificate blobs.
//!
//! Choices where PKCS#11 leaves the token free: `CKA_SENSITIVE` defaults to
//! true and `CKA_EXTRACTABLE` to false for private and secret keys, however
//! they are made (generated, imported, unwrapped, derived), as in SoftHSM2:
//! a key leaves the token, wrapped or in clear, only if its creator asked
//! for it; `CKA_TRUSTED` (public and secret keys) is made true only by the
//! security officer; a private key used for an operation without login
//! is `UserNotLoggedIn`, while object functions treat it as an invalid handle.

pub mod crypto;
pub mod database;
mod key_functions;
mod object_functions;
pub mod objects;
pub mod pins;
mod signing_key;
mod store;
mod token;

#[cfg(test)]
mod tests;

use crate::device::*;
use crate::error::{Error, Result};
use crate::object::{Access, AttributeResult, AttributeType, Handle, ObjectStore, Template};
use crate::owner_only;
use cryptoki_sys::CK_SESSION_HANDLE;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::Inner;

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

/// The software device. Any number of instances, in one process or many,
/// may open the same token directory.
pub struct SoftDevice {
    inner: Arc<Inner>,
}

impl SoftDevice {
    /// Opens (creating when absent, with mode 0700) the token directory and
    /// its database; an existing directory is refused if it is a symbolic
    /// link, belongs to another user, or the group or others may write it. A new token gets a random serial number and is not
    /// initialised.
    pub fn open(options: SoftOptions) -> Result<Self> {
        create_private_dir(&options.token_dir)?;
        let mut serial = [0u8; 8];
        openssl::rand::rand_bytes(&mut serial).map_err(|_| Error::RandomNoRng)?;
        let database = database::Database::open(&options.token_dir, &objects::hex(&serial))?;
        Ok(SoftDevice {
            inner: Arc::new(Inner::new(options, database)),
        })
    }

    /// The token directory.
    pub fn token_dir(&self) -> &Path {
        &self.inner.options.token_dir
    }
}

/// Creates `dir` (mode 0700) when absent, and refuses a directory that
/// another user could change or that is a symbolic link.
fn create_private_dir(dir: &Path) -> Result<()> {
    let refused = |reason: String| {
        tracing::error!("token directory {} refused: {reason}", dir.display());
        Error::UnsafeDirectory {
            path: dir.to_path_buf(),
            reason,
        }
    };
    // A symbolic link is refused before anything is created through it.
    if std::fs::symlink_metadata(dir).is_ok() {
        return owner_only::check_dir(dir).map_err(refused);
    }
    owner_only::create_dir(dir).map_err(|error| refused(error.to_string()))?;
    owner_only::check_dir(dir).map_err(refused)
}

impl Device for SoftDevice {
    fn token_status(&self) -> Result<TokenStatus> {
        Ok(self.inner.token_status())
    }
    fn init_token(&self, so_pin: &[u8], label: &str) -> Result<()> {
        self.inner.init_token(so_pin, label)
    }
    fn login(&self, _session: CK_SESSION_HANDLE, user: UserType, pin: &[u8]) -> Result<()> {
        self.inner.login(user, pin)
    }
    /// Forgets the token key and every parsed private or secret key, and
    /// destroys private session objects, as SoftHSM does.
    fn logout(&self) {
        self.inner.forget_keys();
        self.inner.drop_private_session_objects();
    }
    fn init_pin(&self, _session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        self.inner.init_pin(pin)
    }
    fn set_pin(
        &self,
        _session: CK_SESSION_HANDLE,
        user: UserType,
        old_pin: &[u8],
        new_pin: &[u8],
    ) -> Result<()> {
        self.inner.set_pin(user, old_pin, new_pin)
    }
    fn mechanisms(&self) -> Vec<MechanismInfo> {
        crypto::mechanism_infos()
    }
    fn generate_random(&self, _access: &Access, out: &mut [u8]) -> Result<()> {
        openssl::rand::rand_bytes(out).map_err(|_| Error::RandomNoRng)
    }
    fn close_session(&self, session: cryptoki_sys::CK_SESSION_HANDLE) {
        self.inner.close_session(session)
    }
    fn encrypt_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn CipherOperation>> {
        self.inner.encrypt_init(access, mechanism, key)
    }
    fn decrypt_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn CipherOperation>> {
        self.inner.decrypt_init(access, mechanism, key)
    }
    fn digest_init(
        &self,
        _access: &Access,
        mechanism: &Mechanism,
    ) -> Result<Box<dyn DigestOperation>> {
        crypto::digest_init(mechanism)
    }
    fn sign_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn SignOperation>> {
        self.inner.sign_init(access, mechanism, key)
    }
    fn verify_init(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<Box<dyn VerifyOperation>> {
        self.inner.verify_init(access, mechanism, key)
    }
    fn generate_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        template: &Template,
    ) -> Result<Handle> {
        self.inner.generate_key(access, mechanism, template)
    }
    fn generate_key_pair(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(Handle, Handle)> {
        self.inner
            .generate_key_pair(access, mechanism, public_template, private_template)
    }
    fn wrap_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        wrapping_key: Handle,
        key: Handle,
    ) -> Result<Vec<u8>> {
        self.inner.wrap_key(access, mechanism, wrapping_key, key)
    }
    fn unwrap_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        unwrapping_key: Handle,
        wrapped: &[u8],
        template: &Template,
    ) -> Result<Handle> {
        self.inner
            .unwrap_key(access, mechanism, unwrapping_key, wrapped, template)
    }
    fn derive_key(
        &self,
        access: &Access,
        mechanism: &Mechanism,
        base_key: Handle,
        template: &Template,
    ) -> Result<Handle> {
        self.inner.derive_key(access, mechanism, base_key, template)
    }
    fn blob_signing_key(&self, key_id: Option<&str>) -> Result<Arc<dyn BlobSigningKey>> {
        signing_key::blob_signing_key(&self.inner, key_id)
    }
}

impl ObjectStore for SoftDevice {
    fn create_object(&self, access: &Access, template: &Template) -> Result<Handle> {
        self.inner.create_object(access, template)
    }
    fn find_objects(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        self.inner.find(access, template)
    }
    fn copy_object(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle> {
        self.inner.copy_object(access, handle, template)
    }
    fn destroy_object(&self, access: &Access, handle: Handle) -> Result<()> {
        self.inner.destroy_object(access, handle)
    }
    fn object_size(&self, access: &Access, handle: Handle) -> Result<cryptoki_sys::CK_ULONG> {
        self.inner.object_size(access, handle)
    }
    fn get_attributes(
        &self,
        access: &Access,
        handle: Handle,
        kinds: &[AttributeType],
    ) -> Result<Vec<AttributeResult>> {
        self.inner.get_attributes(access, handle, kinds)
    }
    fn set_attributes(&self, access: &Access, handle: Handle, template: &Template) -> Result<()> {
        self.inner.set_attributes(access, handle, template)
    }
}
