//! What every command starts from: the configuration, the certificate
//! store it names (or `--store`), and, when a command needs it, the device
//! that holds the blob-signing key.

use crate::args::Globals;
use crate::{Failure, Result};
use azcloudhsm_pkcs11::backends;
use azcloudhsm_pkcs11::certstore::jws::BlobVerifier;
use azcloudhsm_pkcs11::certstore::BlobStore;
use azcloudhsm_pkcs11::config::{Config, DeviceKind};
use azcloudhsm_pkcs11::device::{BlobSigningKey, Device, UserType};
use azcloudhsm_pkcs11::error::Error;
use cryptoki_sys::CK_SESSION_HANDLE;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The configuration and the store of one run.
pub struct Context {
    pub config: Config,
    pub store: Arc<dyn BlobStore>,
    device: OnceLock<Arc<dyn Device>>,
}

impl Context {
    /// Reads the configuration (`--config`, else the library's search) and
    /// opens its store (`--store` replaces `CERTSTORAGE_URL`).
    pub fn open(globals: &Globals) -> Result<Context> {
        let mut config = match &globals.config {
            Some(path) => read_config(path)?,
            None => Config::load().map_err(|e| Failure::new(format!("configuration: {e}")))?,
        };
        install_logging(&config);
        if let Some(url) = &globals.store {
            config.certstorage_url = Some(url.clone());
        }
        let url = config.effective_certstorage_url().ok_or_else(|| {
            Failure::new(format!(
                "no certificate store: give --store or set CERTSTORAGE_URL ({})",
                azcloudhsm_pkcs11::config::NO_TOKEN_DIR
            ))
        })?;
        require_local_directory(&url)?;
        let store = open_store(&config)?;
        Ok(Context {
            config,
            store,
            device: OnceLock::new(),
        })
    }

    /// Another store, reached with this configuration's authentication keys.
    pub fn store_at(&self, url: &str) -> Result<Arc<dyn BlobStore>> {
        let mut config = self.config.clone();
        config.certstorage_url = Some(url.to_string());
        open_store(&config)
    }

    /// Where the configuration came from, for messages.
    pub fn config_name(&self) -> String {
        match &self.config.source {
            Some(path) => path.display().to_string(),
            None => "the embedded defaults (no configuration file)".to_string(),
        }
    }

    /// The device that holds the blob-signing keys. The soft device's token
    /// directory must exist: a tool pointed at the wrong configuration must
    /// not create an empty token.
    pub fn device(&self) -> Result<Arc<dyn Device>> {
        if let Some(device) = self.device.get() {
            return Ok(device.clone());
        }
        match self.config.device {
            DeviceKind::Soft => {
                let Some(dir) = &self.config.soft_token_dir else {
                    return Err(Failure::new(
                        azcloudhsm_pkcs11::config::NO_TOKEN_DIR.to_string(),
                    ));
                };
                if !dir.is_dir() {
                    return Err(Failure::new(format!(
                        "no token at {} (SOFT_TOKEN_DIR in {}): the blob-signing key lives on the device",
                        dir.display(),
                        self.config_name()
                    )));
                }
            }
            // The vendor module finds (or refuses) its own token.
            DeviceKind::Pkcs11 => {}
        }
        let device = backends::open_device(&self.config, true)?;
        Ok(self.device.get_or_init(|| device).clone())
    }

    /// The key that signs and verifies blobs for the library with this
    /// configuration: the key pair whose CKA_ID is `key_id`, or with `None`
    /// the configured one (`CERTSTORAGE_SIGNING_KEYID`, else the device's own).
    pub fn signing_key(&self, key_id: Option<&str>) -> Result<Arc<dyn BlobSigningKey>> {
        let device = self.device()?;
        let key_id = key_id.or(self.config.certstorage_signing_key_id.as_deref());
        device.blob_signing_key(key_id).map_err(|error| match (error, key_id) {
            (Error::UserNotLoggedIn, None) => Failure::new(format!(
                "the device in {} has no blob-signing key of its own yet (no certificate was ever stored with it) and CERTSTORAGE_SIGNING_KEYID is not set",
                self.config
                    .soft_token_dir
                    .as_deref()
                    .unwrap_or(std::path::Path::new("?"))
                    .display()
            )),
            (error, _) => Failure::from(error),
        })
    }

    /// The verifier the library uses with this configuration.
    pub fn verifier(&self) -> Result<BlobVerifier> {
        Ok(BlobVerifier::new(self.signing_key(None)?.as_ref())?)
    }

    /// Logs the normal user in on the device with `pin`.
    pub fn log_in(&self, pin: &[u8]) -> Result<Arc<dyn Device>> {
        let device = self.device()?;
        // The tool's one session (a vendor device logs in through a session
        // of its own; the embedded one has none).
        const TOOL_SESSION: CK_SESSION_HANDLE = 1;
        device
            .open_session(TOOL_SESSION, true)
            .and_then(|()| device.login(TOOL_SESSION, UserType::User, pin))
            .map_err(|error| match error {
                Error::PinIncorrect => Failure::new("the user PIN is incorrect"),
                Error::PinLocked => Failure::new("the user PIN is locked"),
                Error::UserPinNotInitialized => {
                    Failure::new("the token's user PIN is not initialised")
                }
                other => Failure::new(format!("login: {other}")),
            })?;
        Ok(device)
    }
}

fn read_config(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("configuration {}: {e}", path.display())))?;
    Config::parse(&text, path).map_err(|e| Failure::new(format!("configuration: {e}")))
}

/// The library's log lines go where the configuration sends them, at
/// `error` unless `AZCLOUDHSM_LOG` asks for more: the tool reports every
/// problem itself, so the library's warnings would say it twice.
fn install_logging(config: &Config) {
    let mut quiet = config.clone();
    quiet.log_level = "error".to_string();
    azcloudhsm_pkcs11::logging::init(&quiet);
}

/// A local store to read from must exist: opening it would create an empty
/// directory, and a wrong path would look like an empty store.
fn require_local_directory(url: &str) -> Result<()> {
    if !url.starts_with("file:") {
        return Ok(());
    }
    let directory = url::Url::parse(url)
        .ok()
        .and_then(|u| u.to_file_path().ok());
    match directory {
        Some(directory) if !directory.is_dir() => Err(Failure::new(format!(
            "certificate store {url}: {} is not a directory",
            directory.display()
        ))),
        _ => Ok(()),
    }
}

fn open_store(config: &Config) -> Result<Arc<dyn BlobStore>> {
    let url = config.effective_certstorage_url().unwrap_or_default();
    backends::open_blob_store(config, true)
        .map_err(|e| Failure::new(format!("certificate store {}: {e}", shown_url(&url))))
}

/// A store URL without its query (a SAS token is a secret).
pub fn shown_url(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}
