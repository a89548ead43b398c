//! Chooses and opens the device and the certificate store named by the
//! configuration. Adding a backend touches its own folder and this match.

use crate::certstore::{BlobStore, Certificates};
use crate::config::{Config, DeviceKind};
use crate::device::soft::{SoftDevice, SoftOptions};
use crate::device::Device;
use crate::error::{Error, Result};
use std::sync::Arc;

/// Opens the device named by `DEVICE`.
pub fn open_device(config: &Config) -> Result<Arc<dyn Device>> {
    match config.device {
        DeviceKind::Soft => {
            let options = SoftOptions {
                token_dir: config.soft_token_dir.clone(),
                max_pin_failures: config.pin_max_failures,
                kdf_iterations: config.soft_kdf_iterations,
            };
            let device = SoftDevice::open(options).map_err(|e| {
                tracing::error!(
                    "cannot open the token in {}: {e}",
                    config.soft_token_dir.display()
                );
                e
            })?;
            Ok(Arc::new(device))
        }
    }
}

/// Opens the blob store named by `CERTSTORAGE_URL` and the certificate manager over it.
pub fn open_certificates(config: &Config, device: Arc<dyn Device>) -> Result<Certificates> {
    let store = open_blob_store(config)?;
    Certificates::open(store, device, config.certstorage_signing_key_id.clone())
}

fn open_blob_store(config: &Config) -> Result<Arc<dyn BlobStore>> {
    let url = config.effective_certstorage_url();
    let _ = url;
    Err(Error::GeneralError("no certificate store yet".to_string()))
}
