//! Chooses and opens the device and the certificate store named by the
//! configuration. Adding a backend touches its own folder and this match.

use crate::certstore::azure::{AzureBlobStore, AzureSettings};
use crate::certstore::local::LocalStore;
use crate::certstore::{BlobStore, Certificates};
use crate::config::{Config, DeviceKind, NO_TOKEN_DIR};
use crate::device::pkcs11::{Pkcs11Device, Pkcs11Options};
use crate::device::soft::{SoftDevice, SoftOptions};
use crate::device::Device;
use crate::error::{Error, Result};
use std::sync::Arc;

/// Opens the device named by `DEVICE`. `may_create_threads` is false when
/// the application forbids the library (and so its device) to create threads.
pub fn open_device(config: &Config, may_create_threads: bool) -> Result<Arc<dyn Device>> {
    match config.device {
        DeviceKind::Soft => {
            let Some(token_dir) = config.soft_token_dir.clone() else {
                tracing::error!("{NO_TOKEN_DIR}");
                return Err(Error::Configuration(NO_TOKEN_DIR.to_string()));
            };
            let options = SoftOptions {
                token_dir,
                max_pin_failures: config.pin_max_failures,
                kdf_iterations: config.soft_kdf_iterations,
                fips_approved_only: config.fips_approved_only,
            };
            let device = SoftDevice::open(options.clone()).map_err(|e| {
                tracing::error!(
                    "cannot open the token in {}: {e}",
                    options.token_dir.display()
                );
                e
            })?;
            if options.fips_approved_only {
                tracing::info!(
                    "FIPS_APPROVED_ONLY=true: the embedded device offers and uses only FIPS 140-3 approved mechanisms and key sizes"
                );
            }
            Ok(Arc::new(device))
        }
        DeviceKind::Pkcs11 if config.fips_approved_only => {
            // The vendor module's own FIPS mode decides what it offers; a
            // policy this library cannot enforce is refused, not ignored.
            let message = "FIPS_APPROVED_ONLY=true applies to the embedded device; with DEVICE=pkcs11 use the vendor module's FIPS mode and leave it false";
            tracing::error!("{message}");
            Err(Error::Configuration(message.to_string()))
        }
        DeviceKind::Pkcs11 => {
            let options = Pkcs11Options {
                module: config.device_module.clone().ok_or_else(|| {
                    Error::Configuration("DEVICE=pkcs11 needs DEVICE_MODULE".to_string())
                })?,
                token_label: config.device_token_label.clone(),
                may_create_threads,
            };
            Ok(Arc::new(Pkcs11Device::open(&options)?))
        }
    }
}

/// Opens the blob store named by `CERTSTORAGE_URL` and the certificate manager over it.
pub fn open_certificates(
    config: &Config,
    device: Arc<dyn Device>,
    may_create_threads: bool,
) -> Result<Certificates> {
    let store = open_blob_store(config, may_create_threads)?;
    let certificates =
        Certificates::open(store, device, config.certstorage_signing_key_id.clone())?;
    certificates.set_freshness(config.certstorage_cache_freshness);
    certificates.set_full_listing_interval(config.certstorage_listing_interval);
    certificates.set_worker_threads(worker_threads(may_create_threads));
    certificates.set_background_listing(may_create_threads);
    Ok(certificates)
}

/// Threads the certificate store may use to read a large store at start-up:
/// none of its own when the application forbids the library to create any.
fn worker_threads(may_create_threads: bool) -> usize {
    if !may_create_threads {
        return 1;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Opens the blob store named by `CERTSTORAGE_URL` (the default directory
/// beside the soft token when unset), with the configuration's
/// authentication keys for an Azure container.
pub fn open_blob_store(config: &Config, may_create_threads: bool) -> Result<Arc<dyn BlobStore>> {
    let Some(url) = config.effective_certstorage_url() else {
        tracing::error!("no certificate store: set CERTSTORAGE_URL, or {NO_TOKEN_DIR}");
        return Err(Error::Configuration(NO_TOKEN_DIR.to_string()));
    };
    if url.starts_with("file:") {
        // One parser for every file URL (RFC 8089): absolute paths only,
        // `localhost` as the host, percent-escapes decoded.
        let store = LocalStore::from_url(&url).map_err(|e| {
            tracing::error!("cannot open the certificate directory of {url}: {e}");
            e
        })?;
        store.set_worker_threads(worker_threads(may_create_threads));
        return Ok(Arc::new(store));
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        let mut settings = AzureSettings::from_config(config).map_err(|e| {
            tracing::error!("certificate storage {e}");
            e
        })?;
        // CKF_LIBRARY_CANT_CREATE_OS_THREADS: requests run on the calling thread.
        settings.own_threads = may_create_threads;
        return Ok(Arc::new(AzureBlobStore::open(&settings)?));
    }
    tracing::error!("CERTSTORAGE_URL must be https://, http:// (loopback only) or file://");
    Err(Error::Configuration(format!(
        "CERTSTORAGE_URL {url}: an unsupported scheme"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The policy cannot be enforced on a vendor module's mechanisms: the
    /// configuration is refused before the module is loaded.
    #[test]
    fn fips_approved_only_with_a_vendor_device_is_a_configuration_error() {
        let text =
            "DEVICE=pkcs11\nDEVICE_MODULE=/nonexistent/libvendor.so\nFIPS_APPROVED_ONLY=true\n";
        let config = Config::parse(text, Path::new("test.cfg")).unwrap();
        let error = open_device(&config, true).err().expect("refused");
        assert!(
            matches!(&error, Error::Configuration(m) if m.contains("FIPS_APPROVED_ONLY")),
            "{error}"
        );
    }

    #[test]
    fn fips_approved_only_takes_true_or_false_only() {
        let parse =
            |value: &str| Config::parse(&format!("FIPS_APPROVED_ONLY={value}\n"), Path::new("t"));
        assert!(parse("true").unwrap().fips_approved_only);
        assert!(parse("TRUE").unwrap().fips_approved_only);
        assert!(!parse("false").unwrap().fips_approved_only);
        assert!(parse("yes").is_err());
    }
}
