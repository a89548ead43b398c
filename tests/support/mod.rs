//! Shared helpers for driving the built provider through its C ABI (with the
//! `cryptoki` crate) against Azurite: finding Azurite and the library, a
//! fresh token and container per test, a provider handle that always
//! finalises, child processes, a private Azurite instance, and the log.
//!
//! Used by `tests/azure_certificates.rs` and `benches/azure_certificates.rs`;
//! not every user needs every helper.
#![allow(dead_code)]

use azcloudhsm_pkcs11::certstore::azure::{
    AzureBlobStore, AzureSettings, EMULATOR_ACCOUNT, EMULATOR_ACCOUNT_KEY,
};
use azcloudhsm_pkcs11::certstore::{BlobStore, BLOB_PREFIX};
use azcloudhsm_pkcs11::config::Config;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CryptokiError, RvError};
use cryptoki::object::{Attribute, CertificateType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const LIBRARY_NAME: &str = "libazcloudhsm_pkcs11.so";
pub const SLOT_ID: u64 = 1;
pub const USER_PIN: &str = "cu1:user1234";
pub const SO_PIN: &str = "admin:admin1234";
/// The first certificate handle (0xFFF00000), the reference's first blob.
pub const FIRST_CERTIFICATE_HANDLE: u64 = 0xFFF0_0000;

/// The reference sample's subject: DER of `CN=MyCertificate-Bbj`.
pub const REFERENCE_SUBJECT: &[u8] = &[
    0x30, 0x1D, 0x31, 0x1B, 0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x12, b'M', b'y', b'C',
    b'e', b'r', b't', b'i', b'f', b'i', b'c', b'a', b't', b'e', b'-', b'B', b'b', b'j',
];
/// The reference sample's 8 dummy certificate bytes.
pub const REFERENCE_VALUE: &[u8] = &[0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0];

/// The provider is one per process: every test holds this for its whole run.
static PROVIDER_LOCK: Mutex<()> = Mutex::new(());

/// Serialises the tests of this process (the provider is a process-wide singleton).
pub fn serial() -> MutexGuard<'static, ()> {
    PROVIDER_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The Azurite account URL, or `None` (after saying so) when the test must skip.
/// Under `CI` a missing Azurite is a failure, never a skip.
pub fn azurite_url() -> Option<String> {
    match std::env::var("AZURITE_BLOB_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().trim_end_matches('/').to_string()),
        _ if std::env::var_os("CI").is_some() => panic!(
            "AZURITE_BLOB_URL is not set under CI: run `eval \"$(.ci/azurite.sh start)\"` first"
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

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The provider library under test: `AZCLOUDHSM_PKCS11_LIB`, else next to
/// this executable (cargo builds the cdylib into `target/*/deps`), else
/// `target/release` or `target/debug`.
pub fn library() -> PathBuf {
    if let Some(path) = std::env::var_os("AZCLOUDHSM_PKCS11_LIB") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("path of this executable");
    let deps = exe.parent().expect("directory of this executable");
    let candidates = [
        deps.join(LIBRARY_NAME),
        deps.parent()
            .map(|p| p.join(LIBRARY_NAME))
            .unwrap_or_default(),
        manifest_dir().join("target/release").join(LIBRARY_NAME),
        manifest_dir().join("target/debug").join(LIBRARY_NAME),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!("{LIBRARY_NAME} not found; looked at {candidates:?}; set AZCLOUDHSM_PKCS11_LIB")
        })
}

/// The log file of this process. The provider installs its logger once per
/// process (the first `C_Initialize` wins), so every configuration this
/// process writes names the same file; a [`LogMark`] reads what one test added.
pub fn process_log() -> PathBuf {
    std::env::temp_dir().join(format!("azcloudhsm-aztests-{}.log", std::process::id()))
}

/// A position in the process log; [`LogMark::since`] is what came after it.
pub struct LogMark(u64);

impl LogMark {
    pub fn now() -> LogMark {
        LogMark(fs::metadata(process_log()).map(|m| m.len()).unwrap_or(0))
    }

    pub fn since(&self) -> String {
        let text = fs::read(process_log()).unwrap_or_default();
        let start = (self.0 as usize).min(text.len());
        String::from_utf8_lossy(&text[start..]).into_owned()
    }
}

/// A fresh token directory and a fresh Azurite container, with the
/// configuration naming them.
pub struct Environment {
    pub dir: TempDir,
    pub config: PathBuf,
    pub account_url: String,
    pub container: String,
}

impl Environment {
    /// A new container with the right account key, the defaults for
    /// everything else, and an initialised token.
    pub fn new(account_url: &str, purpose: &str) -> Environment {
        Environment::with(account_url, purpose, EMULATOR_ACCOUNT_KEY, "")
    }

    /// A new container reached with `account_key`, `extra` configuration
    /// lines, and an initialised token (SO PIN, then the user PIN), set up
    /// through the C ABI.
    pub fn with(account_url: &str, purpose: &str, account_key: &str, extra: &str) -> Environment {
        let dir = tempfile::tempdir().expect("temporary directory");
        let token = dir.path().join("token");
        fs::create_dir_all(&token).expect("token directory");
        let container = unique_container(purpose);
        let config = dir.path().join("azcloudhsm_application.cfg");
        fs::write(
            &config,
            format!(
                "SOFT_TOKEN_DIR={token}\n\
                 SOFT_KDF_ITERATIONS=1000\n\
                 CERTSTORAGE_URL={account_url}/{container}\n\
                 CERTSTORAGE_AUTH=connection_string\n\
                 CERTSTORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};\
                 AccountKey={account_key};BlobEndpoint={account_url};\n\
                 LOG_FILE={log}\n\
                 {extra}\n",
                token = token.display(),
                log = process_log().display(),
            ),
        )
        .expect("write configuration");
        let environment = Environment {
            dir,
            config,
            account_url: account_url.to_string(),
            container,
        };
        environment.initialise_token();
        environment
    }

    fn initialise_token(&self) {
        let provider = Provider::open(&self.config);
        let so_pin = AuthPin::from(SO_PIN);
        provider
            .pkcs11()
            .init_token(provider.slot, &so_pin, "aztests")
            .expect("C_InitToken");
        let session = provider.rw_session();
        session
            .login(UserType::So, Some(&so_pin))
            .expect("C_Login as SO");
        session
            .init_pin(&AuthPin::from(USER_PIN))
            .expect("C_InitPIN");
        session.logout().expect("C_Logout");
        drop(session);
        provider.finalize();
    }

    /// The container through the library's own store, with the right key.
    pub fn store(&self) -> AzureBlobStore {
        let text = fs::read_to_string(&self.config).expect("read configuration");
        let text = text
            .lines()
            .filter(|line| !line.starts_with("CERTSTORAGE_CONNECTION_STRING="))
            .collect::<Vec<_>>()
            .join("\n");
        let text = format!(
            "{text}\nCERTSTORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};\
             AccountKey={EMULATOR_ACCOUNT_KEY};BlobEndpoint={};\n",
            self.account_url
        );
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

/// The blob name of a certificate handle.
pub fn blob_name(handle: u64) -> String {
    format!("{BLOB_PREFIX}{handle}")
}

/// The initialised provider; finalised when dropped, so a failing test does
/// not leave the next one with `CKR_CRYPTOKI_ALREADY_INITIALIZED`.
pub struct Provider {
    pkcs11: Option<Pkcs11>,
    pub slot: Slot,
}

impl Provider {
    /// Loads the library and calls `C_Initialize` with `config`.
    pub fn open(config: &Path) -> Provider {
        std::env::set_var("AZCLOUDHSM_CONFIG", config);
        std::env::set_var("AZCLOUDHSM_LOG_FILE", process_log());
        std::env::remove_var("AZCLOUDHSM_LOG");
        let library = library();
        let pkcs11 =
            Pkcs11::new(&library).unwrap_or_else(|e| panic!("load {}: {e}", library.display()));
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        let slot = pkcs11
            .get_all_slots()
            .expect("C_GetSlotList")
            .into_iter()
            .find(|slot| slot.id() == SLOT_ID)
            .expect("slot 1 exists");
        Provider {
            pkcs11: Some(pkcs11),
            slot,
        }
    }

    pub fn pkcs11(&self) -> &Pkcs11 {
        self.pkcs11.as_ref().expect("initialised")
    }

    pub fn rw_session(&self) -> Session {
        self.pkcs11()
            .open_rw_session(self.slot)
            .expect("C_OpenSession")
    }

    /// A R/W session with the user logged in (login is per application,
    /// so a second session of a logged-in application is logged in already).
    pub fn user_session(&self) -> Session {
        let session = self.rw_session();
        match session.login(UserType::User, Some(&AuthPin::from(USER_PIN))) {
            Ok(()) | Err(CryptokiError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => session,
            Err(error) => panic!("C_Login as user: {error}"),
        }
    }

    /// `C_Finalize`.
    pub fn finalize(mut self) {
        if let Some(pkcs11) = self.pkcs11.take() {
            pkcs11.finalize().expect("C_Finalize");
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(pkcs11) = self.pkcs11.take() {
            let _ = pkcs11.finalize();
        }
    }
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

/// The PKCS#11 return value of a call that must fail.
pub fn rv_of<T: std::fmt::Debug>(result: cryptoki::error::Result<T>) -> RvError {
    match result {
        Err(CryptokiError::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

/// Runs this test executable again as a child process running only
/// `worker` (an `#[ignore]`d test, hence `--include-ignored`), with `env`,
/// and returns its stdout. Panics with the child's output when it fails or
/// runs longer than `limit`.
pub fn run_worker(worker: &str, env: &[(&str, String)], limit: Duration) -> String {
    let child = spawn_worker(worker, env);
    wait_worker(worker, child, limit)
}

pub fn spawn_worker(worker: &str, env: &[(&str, String)]) -> std::process::Child {
    let exe = std::env::current_exe().expect("path of this test executable");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            worker,
            "--nocapture",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env_remove("AZCLOUDHSM_LOG_FILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("spawn the worker process")
}

pub fn wait_worker(worker: &str, mut child: std::process::Child, limit: Duration) -> String {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait for the worker").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("worker output");
            panic!(
                "worker {worker} ran longer than {limit:?}:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("worker output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "worker {worker} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The harness prints "running 1 test" / "1 passed": make sure the worker ran.
    assert!(
        stdout.contains("1 passed"),
        "worker {worker} did not run:\n{stdout}"
    );
    stdout
}

/// A private Azurite on its own port and data directory, stopped when dropped.
pub struct PrivateAzurite {
    pub port: u16,
    run_dir: TempDir,
    pub location: TempDir,
}

impl PrivateAzurite {
    fn script() -> PathBuf {
        manifest_dir().join(".ci/azurite.sh")
    }

    /// `.ci/azurite.sh start|stop <port>` with this instance's data and run directories.
    pub fn command(&self, action: &str) {
        let status = Command::new("bash")
            .arg(Self::script())
            .arg(action)
            .arg(self.port.to_string())
            .env("AZURITE_LOCATION", self.location.path())
            .env("AZURITE_RUN_DIR", self.run_dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("run .ci/azurite.sh");
        assert!(status.success(), "azurite.sh {action} {} failed", self.port);
    }

    pub fn start() -> PrivateAzurite {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let azurite = PrivateAzurite {
            port,
            run_dir: tempfile::tempdir().unwrap(),
            location: tempfile::tempdir().unwrap(),
        };
        azurite.command("start");
        azurite
    }

    /// Freezes (`STOP`) or resumes (`CONT`) the service by its PID: a frozen
    /// service accepts connections but never answers.
    pub fn signal(&self, signal: &str) {
        let pid_file = self
            .run_dir
            .path()
            .join(format!("azurite-{}.pid", self.port));
        let pid = fs::read_to_string(pid_file).expect("PID file");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.trim())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    pub fn is_running(&self) -> bool {
        self.run_dir
            .path()
            .join(format!("azurite-{}.pid", self.port))
            .exists()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/{EMULATOR_ACCOUNT}", self.port)
    }
}

impl Drop for PrivateAzurite {
    fn drop(&mut self) {
        if self.is_running() {
            // A test that failed while the service was frozen must not leave it frozen.
            self.signal("CONT");
            self.command("stop");
        }
    }
}
