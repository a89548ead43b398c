//! Azurite, the Azure Storage emulator: finding the shared instance, a
//! container per test, a token whose certificates live there, a private
//! instance a test may freeze and stop, and certificates shaped like the
//! vendor's reference sample.

use super::{initialize_token, manifest_dir, CertificateStorage, TokenDirectory};
use azcloudhsm_pkcs11::certstore::azure::{
    AzureBlobStore, AzureSettings, EMULATOR_ACCOUNT, EMULATOR_ACCOUNT_KEY,
};
use azcloudhsm_pkcs11::certstore::{BlobStore, BLOB_PREFIX};
use azcloudhsm_pkcs11::config::Config;
use cryptoki::object::{Attribute, CertificateType, ObjectClass};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use tempfile::TempDir;

/// The Azurite account URL from `AZURITE_BLOB_URL`, or `None` (after saying
/// so) when the test must skip. Under `CI` a missing Azurite is a failure,
/// never a skip.
pub fn azurite_url() -> Option<String> {
    match std::env::var("AZURITE_BLOB_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_string()),
        _ if std::env::var_os("CI").is_some() => panic!(
            "AZURITE_BLOB_URL is not set under CI: run `eval \"$(.ci/azurite.sh start)\"` before the tests"
        ),
        _ => {
            eprintln!("skipping: AZURITE_BLOB_URL is not set (see .ci/azurite.sh)");
            None
        }
    }
}

/// A container name no other test, process or earlier run uses.
pub fn unique_container(purpose: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{purpose}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// The configuration lines that keep certificates in `container` of the
/// Azurite account at `account_url`, reached with a connection string
/// holding `account_key`.
pub fn azure_storage_config(account_url: &str, container: &str, account_key: &str) -> String {
    format!(
        "CERTSTORAGE_URL={account_url}/{container}\n\
         CERTSTORAGE_AUTH=connection_string\n\
         CERTSTORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};\
         AccountKey={account_key};BlobEndpoint={account_url};\n"
    )
}

/// A fresh token directory and a fresh Azurite container, with the
/// configuration naming them and the token initialised. The provider is
/// left finalised: the test opens a [`super::Provider`] over `config`
/// (in this process or a worker) as often as it needs.
pub struct AzuriteEnvironment {
    pub directory: TokenDirectory,
    pub config: PathBuf,
    pub account_url: String,
    pub container: String,
}

impl AzuriteEnvironment {
    /// A new container with the right account key and the defaults for
    /// everything else.
    pub fn new(account_url: &str, purpose: &str) -> AzuriteEnvironment {
        AzuriteEnvironment::with(account_url, purpose, EMULATOR_ACCOUNT_KEY, &[])
    }

    /// A new container reached with `account_key`, and `extra`
    /// configuration lines. The caller holds [`super::lock`].
    pub fn with(
        account_url: &str,
        purpose: &str,
        account_key: &str,
        extra: &[(&str, &str)],
    ) -> AzuriteEnvironment {
        let directory = TokenDirectory::new();
        let container = unique_container(purpose);
        let config = directory.write_config(
            CertificateStorage::Azure {
                account_url,
                container: &container,
                account_key,
            },
            extra,
        );
        initialize_token(&config);
        AzuriteEnvironment {
            directory,
            config,
            account_url: account_url.to_string(),
            container,
        }
    }

    /// The container through the library's own store, with the right key.
    pub fn store(&self) -> AzureBlobStore {
        let text = std::fs::read_to_string(&self.config).expect("read configuration");
        let mut text: String = text
            .lines()
            .filter(|line| {
                ![
                    "CERTSTORAGE_URL=",
                    "CERTSTORAGE_AUTH=",
                    "CERTSTORAGE_CONNECTION_STRING=",
                ]
                .iter()
                .any(|key| line.starts_with(key))
            })
            .map(|line| format!("{line}\n"))
            .collect();
        text.push_str(&azure_storage_config(
            &self.account_url,
            &self.container,
            EMULATOR_ACCOUNT_KEY,
        ));
        let config = Config::parse(&text, &self.config).expect("valid configuration");
        let settings = AzureSettings::from_config(&config).expect("valid Azure settings");
        AzureBlobStore::open(&settings).expect("the store opens")
    }

    /// The certificate blobs in the container, sorted.
    pub fn blob_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .store()
            .list(BLOB_PREFIX)
            .expect("list the container")
            .into_iter()
            .map(|entry| entry.name)
            .collect();
        names.sort();
        names
    }
}

/// A private Azurite on its own port and data directory, stopped (and
/// resumed first, if frozen) when dropped.
pub struct PrivateAzurite {
    pub port: u16,
    run_dir: TempDir,
    pub location: TempDir,
    /// `.ci/azurite.sh`'s options (`AZURITE_CERT`, `AZURITE_KEY`, `AZURITE_OAUTH`).
    options: Vec<(String, String)>,
}

impl PrivateAzurite {
    /// Starts an instance on a free port.
    pub fn start() -> PrivateAzurite {
        PrivateAzurite::start_with(&[])
    }

    /// Starts an instance on a free port with `.ci/azurite.sh`'s `options`;
    /// with `AZURITE_CERT` and `AZURITE_KEY` it serves HTTPS.
    pub fn start_with(options: &[(&str, &str)]) -> PrivateAzurite {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let azurite = PrivateAzurite {
            port,
            run_dir: tempfile::tempdir().unwrap(),
            location: tempfile::tempdir().unwrap(),
            options: options
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        };
        azurite.command("start");
        azurite
    }

    /// `.ci/azurite.sh start|stop <port>` with this instance's data and run directories.
    pub fn command(&self, action: &str) {
        let status = Command::new("bash")
            .arg(manifest_dir().join(".ci/azurite.sh"))
            .arg(action)
            .arg(self.port.to_string())
            .env("AZURITE_LOCATION", self.location.path())
            .env("AZURITE_RUN_DIR", self.run_dir.path())
            .envs(self.options.iter().map(|(key, value)| (key, value)))
            .stdout(Stdio::null())
            .status()
            .expect("run .ci/azurite.sh");
        assert!(status.success(), "azurite.sh {action} {} failed", self.port);
    }

    fn pid_file(&self) -> PathBuf {
        self.run_dir
            .path()
            .join(format!("azurite-{}.pid", self.port))
    }

    /// Freezes (`STOP`) or resumes (`CONT`) the service by its PID: a frozen
    /// service accepts connections but never answers, the worst case for a
    /// client.
    pub fn signal(&self, signal: &str) {
        assert!(self.send(signal), "kill -{signal} azurite on {}", self.port);
    }

    fn send(&self, signal: &str) -> bool {
        let pid = std::fs::read_to_string(self.pid_file()).expect("PID file");
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.trim())
            .status()
            .is_ok_and(|status| status.success())
    }

    pub fn is_running(&self) -> bool {
        self.pid_file().exists()
    }

    pub fn url(&self) -> String {
        let scheme = if self.options.iter().any(|(key, _)| key == "AZURITE_CERT") {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}/{EMULATOR_ACCOUNT}", self.port)
    }
}

impl PrivateAzurite {
    /// Stops the instance and removes its directories, for an instance that
    /// lives until the process exits (an `atexit` handler): never panics.
    pub fn stop_quietly(&self) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if self.is_running() {
                self.send("CONT");
                self.command("stop");
            }
        }));
        let _ = std::fs::remove_dir_all(self.location.path());
        let _ = std::fs::remove_dir_all(self.run_dir.path());
    }
}

impl Drop for PrivateAzurite {
    fn drop(&mut self) {
        if self.is_running() {
            // A test that failed while the service was frozen must not leave it frozen.
            self.send("CONT");
            self.command("stop");
        }
    }
}

// ----- certificates shaped like the reference sample's -----

/// The first certificate handle (0xFFF00000), the reference's first blob.
pub const FIRST_CERTIFICATE_HANDLE: u64 = 0xFFF0_0000;

/// The reference sample's subject: DER of `CN=MyCertificate-Bbj`.
pub const REFERENCE_SUBJECT: &[u8] = &[
    0x30, 0x1D, 0x31, 0x1B, 0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x12, b'M', b'y', b'C',
    b'e', b'r', b't', b'i', b'f', b'i', b'c', b'a', b't', b'e', b'-', b'B', b'b', b'j',
];
/// The reference sample's 8 dummy certificate bytes.
pub const REFERENCE_VALUE: &[u8] = &[0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0];

/// The blob name of a certificate handle.
pub fn blob_name(handle: u64) -> String {
    format!("{BLOB_PREFIX}{handle}")
}

/// A token X.509 certificate template shaped like the reference's, with
/// its own label and value.
pub fn certificate_template(label: &str, value: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(REFERENCE_SUBJECT.to_vec()),
        Attribute::Id(vec![123]),
        Attribute::Value(value.to_vec()),
    ]
}

/// The search template of the reference: class, type and label.
pub fn label_search(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}
