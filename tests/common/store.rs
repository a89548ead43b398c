//! The certificate store a test runs against, so one test body can run
//! over the local directory store and over an Azurite container, and look
//! at its blobs through the library's own `BlobStore` either way.

use super::azurite_url;
use azcloudhsm_pkcs11::certstore::azure::{AzureBlobStore, AzureSettings};
use azcloudhsm_pkcs11::certstore::local::LocalStore;
use azcloudhsm_pkcs11::certstore::BlobStore;
use azcloudhsm_pkcs11::config::Config;
use std::path::Path;

/// Where a [`super::TestToken`] keeps its certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// Files in the token directory's `certificates` folder.
    Local,
    /// A container of its own on the Azurite that `AZURITE_BLOB_URL` names.
    Azurite,
}

/// The variable telling a worker process which store its parent's token uses.
pub const WORKER_STORE_ENV: &str = "AZCLOUDHSM_ITEST_STORE";
/// The variable naming the parent's token directory for a worker.
pub const WORKER_DIR_ENV: &str = "AZCLOUDHSM_ITEST_TOKEN_DIR";
/// The variable naming the parent's Azurite container for a worker.
pub const WORKER_CONTAINER_ENV: &str = "AZCLOUDHSM_ITEST_CONTAINER";

impl Store {
    /// Whether a test on this store can run here: always for the local
    /// store; for Azurite when `AZURITE_BLOB_URL` is set (a missing Azurite
    /// panics under `CI` and prints "skipping" otherwise, see
    /// [`azurite_url`]).
    pub fn is_available(self) -> bool {
        match self {
            Store::Local => true,
            Store::Azurite => azurite_url().is_some(),
        }
    }

    /// The store's name in worker environments and messages.
    pub fn name(self) -> &'static str {
        match self {
            Store::Local => "local",
            Store::Azurite => "azurite",
        }
    }

    /// The store [`Store::name`] names.
    pub fn from_name(name: &str) -> Store {
        match name {
            "local" => Store::Local,
            "azurite" => Store::Azurite,
            other => panic!("no test store is called {other:?}"),
        }
    }
}

/// The Azurite container of a token.
#[derive(Clone, Debug)]
pub struct AzuriteContainer {
    pub account_url: String,
    pub container: String,
}

/// The library's own store over the blobs a configuration names (a
/// directory or a container), for a test to inspect or tamper with them
/// the way the provider sees them.
pub fn open_blob_store(config_path: &Path) -> Box<dyn BlobStore> {
    let text = std::fs::read_to_string(config_path).expect("read the configuration");
    let url = text
        .lines()
        .find_map(|line| line.strip_prefix("CERTSTORAGE_URL="))
        .expect("the configuration names a certificate store");
    if url.starts_with("file:") {
        Box::new(LocalStore::from_url(url).expect("the local store opens"))
    } else {
        let config = Config::parse(&text, config_path).expect("a valid configuration");
        let settings = AzureSettings::from_config(&config).expect("valid Azure settings");
        Box::new(AzureBlobStore::open(&settings).expect("the Azure store opens"))
    }
}
