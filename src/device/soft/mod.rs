//! The embedded software HSM, the default device: token state and key
//! objects in a SQLite database in the token directory, private and secret
//! key material sealed under a token key that only the PINs unlock.
//!
//! - [`database`]: the SQLite file, shared safely by several processes.
//! - [`pins`] and `token`: the token key, PIN checks, lockout.
//! - [`objects`]: objects built by the rules of [`crate::object::tables`].
//! - `store`: the device's state (`Inner`), made of its parts: token
//!   objects over `cache` (parsed keys by row version), `session_objects`,
//!   the token key of `token`, the signing key's cache of `signing_key`.
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

mod cache;
pub mod crypto;
pub mod database;
mod derive;
mod kbkdf;
mod key_functions;
mod object_functions;
pub mod objects;
pub mod pins;
mod session_objects;
mod signing_key;
mod store;
mod token;

#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::owner_only;
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
    /// Only what FIPS 140-3 approves is offered and used
    /// (`FIPS_APPROVED_ONLY`, [`crypto::fips`]).
    pub fips_approved_only: bool,
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
        self.inner.token_dir()
    }

    /// Whether only FIPS 140-3 approved mechanisms and keys are used.
    pub fn fips_approved_only(&self) -> bool {
        self.inner.fips_approved_only
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
