//! A token for one test: its directory and configuration, the initialised
//! provider over it, and the process log the provider writes.

use super::{
    azure_storage_config, azurite_url, library_path, lock, open_blob_store, unique_container,
    vendor_device, worker_env, AzuriteContainer, SoftHsm, Store, CONFIG_ENV, SLOT_ID, SO_PIN,
    TOKEN_LABEL, USER_PIN, WORKER_CONTAINER_ENV, WORKER_DIR_ENV, WORKER_STORE_ENV,
};
use azcloudhsm_pkcs11::certstore::azure::EMULATOR_ACCOUNT_KEY;
use azcloudhsm_pkcs11::certstore::{BlobStore, BLOB_PREFIX};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::collections::BTreeSet;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{MutexGuard, OnceLock};

// ----- the process log -----

/// The log file of this process. The provider installs its log subscriber
/// once per process (the first `C_Initialize` wins), so every test of a
/// process logs to this one file, named through `AZCLOUDHSM_LOG_FILE`
/// (which overrides the configuration's `LOG_FILE`); a [`LogMark`] reads
/// what one test added.
pub fn process_log_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "azcloudhsm-itest-{}-{}.log",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::env::set_var("AZCLOUDHSM_LOG_FILE", &path);
        std::env::set_var("AZCLOUDHSM_LOG", "info");
        path
    })
    .clone()
}

/// A position in the process log; [`LogMark::since`] is what came after it.
pub struct LogMark(u64);

impl LogMark {
    pub fn now() -> LogMark {
        LogMark(
            std::fs::metadata(process_log_path())
                .map(|m| m.len())
                .unwrap_or(0),
        )
    }

    pub fn since(&self) -> String {
        let text = std::fs::read(process_log_path()).unwrap_or_default();
        let start = (self.0 as usize).min(text.len());
        String::from_utf8_lossy(&text[start..]).into_owned()
    }
}

// ----- the token directory and its configuration -----

/// Where the provider keeps certificates.
#[derive(Clone, Copy, Debug)]
pub enum CertificateStorage<'a> {
    /// Files in the token directory's `certificates` folder.
    Local,
    /// A container of an Azure Storage account (Azurite), reached with a
    /// connection string holding `account_key`.
    Azure {
        account_url: &'a str,
        container: &'a str,
        account_key: &'a str,
    },
    /// These configuration lines (`CERTSTORAGE_URL=...` and the rest).
    Lines(&'a str),
}

/// A directory holding one test's token, certificates and configuration: a
/// new temporary one (removed when dropped), or one another process shares.
pub struct TokenDirectory {
    root: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TokenDirectory {
    pub fn new() -> TokenDirectory {
        let temp = tempfile::Builder::new()
            .prefix("azcloudhsm-itest-")
            .tempdir()
            .expect("a temporary directory");
        TokenDirectory {
            root: temp.path().to_path_buf(),
            _temp: Some(temp),
        }
    }

    /// An existing directory, left in place when dropped.
    pub fn shared(root: &Path) -> TokenDirectory {
        TokenDirectory {
            root: root.to_path_buf(),
            _temp: None,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        self.root.join("azcloudhsm_application.cfg")
    }
    pub fn token_dir(&self) -> PathBuf {
        self.root.join("token")
    }
    pub fn certificates_dir(&self) -> PathBuf {
        self.root.join("certificates")
    }

    /// Writes the configuration (and creates the token and certificate
    /// directories): the token here, a cheap PIN key derivation,
    /// `storage`, logging at `info` to `provider.log` here (a process that
    /// sets `AZCLOUDHSM_LOG_FILE` logs there instead), then `extra`.
    /// Returns the configuration's path.
    pub fn write_config(&self, storage: CertificateStorage, extra: &[(&str, &str)]) -> PathBuf {
        std::fs::create_dir_all(self.token_dir()).expect("token dir");
        std::fs::create_dir_all(self.certificates_dir()).expect("certificates dir");
        let mut text = format!(
            "SOFT_TOKEN_DIR={}\nSOFT_KDF_ITERATIONS=1000\n",
            self.token_dir().display()
        );
        match storage {
            CertificateStorage::Local => text.push_str(&format!(
                "CERTSTORAGE_URL=file://{}\n",
                self.certificates_dir().display()
            )),
            CertificateStorage::Azure {
                account_url,
                container,
                account_key,
            } => text.push_str(&azure_storage_config(account_url, container, account_key)),
            CertificateStorage::Lines(lines) => text.push_str(lines),
        }
        text.push_str(&format!(
            "LOG_LEVEL=info\nLOG_FILE={}\n",
            self.root.join("provider.log").display()
        ));
        if vendor_device() {
            // SoftHSM2 stands in for the vendor HSM: the token is the one
            // initialised there (the first initialised one, by default).
            let softhsm = SoftHsm::in_dir(&self.root);
            softhsm.select();
            for (key, value) in softhsm.config_lines(None) {
                text.push_str(&format!("{key}={value}\n"));
            }
        }
        for (key, value) in extra {
            text.push_str(&format!("{key}={value}\n"));
        }
        let path = self.config_path();
        // Written aside and renamed into place: a worker process sharing
        // this directory rewrites the same file while another one may be
        // reading it in C_Initialize, and must never see it half-written.
        let temporary = self
            .root
            .join(format!(".config-{}.tmp", std::process::id()));
        std::fs::write(&temporary, text).expect("write the configuration");
        std::fs::rename(&temporary, &path).expect("move the configuration into place");
        path
    }
}

impl Default for TokenDirectory {
    fn default() -> Self {
        TokenDirectory::new()
    }
}

/// Writes a local-storage configuration under `root`, as [`TestToken`]
/// does, and points `AZCLOUDHSM_CONFIG` at it; for tests that call
/// `C_Initialize` themselves.
pub fn prepare_config(root: &Path, extra: &[(&str, &str)]) {
    let config = TokenDirectory::shared(root).write_config(CertificateStorage::Local, extra);
    process_log_path();
    std::env::set_var(CONFIG_ENV, config);
}

/// Initialises the token `config` names (SO PIN, label, then the user PIN)
/// through the C ABI, and finalises the provider again; for tests whose
/// token is used by another process or opened several times. The caller
/// holds [`lock`].
pub fn initialize_token(config: &Path) {
    let provider = Provider::open(config);
    provider.initialize_token_and_user_pin();
    provider.finalize();
}

// ----- the provider -----

/// Loads the library and calls `C_Initialize` with `CKF_OS_LOCKING_OK`.
pub fn load_and_initialize() -> Pkcs11 {
    let pkcs11 = load();
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap_or_else(|e| panic!("C_Initialize: {e} (see {})", process_log_path().display()));
    pkcs11
}

/// Points `AZCLOUDHSM_CONFIG` at `config`, loads the library and calls
/// `C_Initialize` as GnuTLS does, with `CKF_LIBRARY_CANT_CREATE_OS_THREADS`
/// (and `CKF_OS_LOCKING_OK`). Returns the library and how many threads
/// this process had just before `C_Initialize`.
pub fn load_and_initialize_without_threads(config: &Path) -> (Pkcs11, usize) {
    std::env::set_var(CONFIG_ENV, config);
    process_log_path();
    let pkcs11 = load();
    let before = thread_count();
    let flags = CInitializeFlags::LIBRARY_CANT_CREATE_OS_THREADS | CInitializeFlags::OS_LOCKING_OK;
    pkcs11
        .initialize(CInitializeArgs::new(flags))
        .expect("C_Initialize forbidding threads");
    (pkcs11, before)
}

/// The threads of this process, from `/proc/self/task`.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// Loads the library without initialising it.
pub fn load() -> Pkcs11 {
    let library = library_path();
    Pkcs11::new(&library).unwrap_or_else(|e| panic!("load {}: {e}", library.display()))
}

pub fn slot_one(pkcs11: &Pkcs11) -> Slot {
    let slots = pkcs11.get_slots_with_token().expect("C_GetSlotList");
    assert_eq!(slots.len(), 1, "exactly one slot with a token: {slots:?}");
    assert_eq!(slots[0].id(), SLOT_ID, "the slot is ID 1");
    slots[0]
}

/// The provider initialised over one configuration; finalised when dropped,
/// so a failing test does not leave the next one with
/// `CKR_CRYPTOKI_ALREADY_INITIALIZED`.
pub struct Provider {
    pub pkcs11: Pkcs11,
    pub slot: Slot,
    finalized: bool,
}

impl Provider {
    /// Points `AZCLOUDHSM_CONFIG` at `config`, loads the library and calls
    /// `C_Initialize`; the provider logs to [`process_log_path`].
    pub fn open(config: &Path) -> Provider {
        std::env::set_var(CONFIG_ENV, config);
        if vendor_device() {
            if let Some(dir) = config.parent() {
                SoftHsm::in_dir(dir).select();
            }
        }
        process_log_path();
        let pkcs11 = load_and_initialize();
        let slot = slot_one(&pkcs11);
        Provider {
            pkcs11,
            slot,
            finalized: false,
        }
    }

    /// `C_InitToken`, then the SO sets the user PIN with `C_InitPIN`.
    pub fn initialize_token_and_user_pin(&self) {
        let so_pin = AuthPin::from(SO_PIN);
        self.pkcs11
            .init_token(self.slot, &so_pin, TOKEN_LABEL)
            .expect("C_InitToken of a fresh token");
        let session = self.rw_session();
        session
            .login(UserType::So, Some(&so_pin))
            .expect("C_Login as SO");
        session
            .init_pin(&AuthPin::from(USER_PIN))
            .expect("C_InitPIN");
        session.logout().expect("C_Logout");
        if vendor_device() {
            // The token was initialised through the provider; the vendor's
            // administrator then adds the storage-signing key on the HSM.
            drop(session);
            let conf = std::env::var_os("SOFTHSM2_CONF").expect("SOFTHSM2_CONF is set");
            let root = Path::new(&conf)
                .parent()
                .expect("softhsm2.conf's directory");
            SoftHsm::in_dir(root).create_signing_key(TOKEN_LABEL, USER_PIN);
        }
    }

    pub fn rw_session(&self) -> Session {
        self.pkcs11
            .open_rw_session(self.slot)
            .expect("C_OpenSession R/W")
    }
    pub fn ro_session(&self) -> Session {
        self.pkcs11
            .open_ro_session(self.slot)
            .expect("C_OpenSession R/O")
    }
    /// A R/W session with the normal user logged in (login is per
    /// application, so a second session of a logged-in application is
    /// logged in already).
    ///
    /// Over SoftHSM2 (`DEVICE=pkcs11`), a `CKR_GENERAL_ERROR` from the
    /// vendor's `C_Login` is tried again, at most twice: SoftHSM2 2.6.1
    /// answers so when another process logs in to the same token at the
    /// same moment (seen in the two-process tests; the provider passes the
    /// vendor's answer on, as it must).
    pub fn user_session(&self) -> Session {
        let session = self.rw_session();
        let mut tries = if vendor_device() { 3 } else { 1 };
        loop {
            tries -= 1;
            match session.login(UserType::User, Some(&AuthPin::from(USER_PIN))) {
                Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => return session,
                Err(Error::Pkcs11(RvError::GeneralError, _)) if tries > 0 => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(error) => panic!("C_Login as user: {error}"),
            }
        }
    }

    /// `C_Finalize`, which must succeed.
    pub fn finalize(mut self) {
        self.finalized = true;
        self.pkcs11.clone().finalize().expect("C_Finalize");
    }

    /// `C_Finalize`, ignoring `CKR_CRYPTOKI_NOT_INITIALIZED`: a test may
    /// have finalised itself.
    fn close(&mut self) {
        if !std::mem::replace(&mut self.finalized, true) {
            let _ = self.pkcs11.clone().finalize();
        }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.close();
    }
}

// ----- a test's token -----

/// What a [`TestToken`] sets up.
#[derive(Clone, Debug)]
pub struct TokenOptions {
    /// Initialise the token (SO PIN, label) and the user PIN.
    pub initialize_token: bool,
    /// Extra `KEY=VALUE` lines for the configuration file.
    pub extra_config: Vec<(String, String)>,
    /// Use this directory instead of a new temporary one (two-process tests).
    pub shared_dir: Option<PathBuf>,
    /// Where certificates are kept.
    pub store: Store,
    /// With [`Store::Azurite`]: use this container instead of a new one
    /// (two-process tests).
    pub shared_container: Option<String>,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            initialize_token: true,
            extra_config: Vec::new(),
            shared_dir: None,
            store: Store::Local,
            shared_container: None,
        }
    }
}

impl TokenOptions {
    pub fn uninitialized() -> Self {
        TokenOptions {
            initialize_token: false,
            ..TokenOptions::default()
        }
    }
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.extra_config.push((key.to_string(), value.to_string()));
        self
    }
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.shared_dir = Some(dir.to_path_buf());
        self
    }
    /// Certificates in `store` (with Azurite, a new container unless
    /// [`TokenOptions::in_container`] names one). The caller has checked
    /// [`Store::is_available`].
    pub fn on(mut self, store: Store) -> Self {
        self.store = store;
        self
    }
    pub fn in_container(mut self, container: &str) -> Self {
        self.shared_container = Some(container.to_string());
        self
    }

    /// In a worker process: the token directory and store of the parent's
    /// [`TestToken::share_with_worker`], left uninitialised (the parent did that).
    pub fn from_worker_env() -> Self {
        let store = Store::from_name(&worker_env(WORKER_STORE_ENV));
        let options = TokenOptions::uninitialized()
            .in_dir(Path::new(&worker_env(WORKER_DIR_ENV)))
            .on(store);
        match store {
            Store::Local => options,
            Store::Azurite => options.in_container(&worker_env(WORKER_CONTAINER_ENV)),
        }
    }
}

/// A fresh token in its own directory with local certificate storage (or,
/// with [`TokenOptions::on`], a container of its own on Azurite), the
/// provider initialised over it, [`lock`] held. Dropping it finalises the
/// provider and removes the directory (an Azurite container is left to the
/// throw-away Azurite). Its [`Provider`] is reached through `Deref`
/// (`token.pkcs11`, `token.slot`, `token.user_session()`).
pub struct TestToken {
    // Dropped in this order: finalise, remove the directory, release the lock.
    provider: Provider,
    directory: TokenDirectory,
    store: Store,
    /// With [`Store::Azurite`]: the token's container.
    azurite: Option<AzuriteContainer>,
    log: LogMark,
    _lock: MutexGuard<'static, ()>,
}

impl TestToken {
    /// An initialised token with the user PIN set; the provider initialised.
    pub fn new() -> TestToken {
        TestToken::with_options(TokenOptions::default())
    }

    /// The provider initialised over a token directory nobody initialised yet.
    pub fn uninitialized() -> TestToken {
        TestToken::with_options(TokenOptions::uninitialized())
    }

    /// An initialised token whose certificates are kept in `store`; the
    /// caller has checked [`Store::is_available`].
    pub fn on(store: Store) -> TestToken {
        TestToken::with_options(TokenOptions::default().on(store))
    }

    pub fn with_options(options: TokenOptions) -> TestToken {
        let lock = lock();
        let directory = match &options.shared_dir {
            Some(dir) => TokenDirectory::shared(dir),
            None => TokenDirectory::new(),
        };
        let extra: Vec<(&str, &str)> = options
            .extra_config
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let azurite = match options.store {
            Store::Local => None,
            Store::Azurite => Some(AzuriteContainer {
                account_url: azurite_url()
                    .expect("an Azurite test checks Store::is_available before its token"),
                container: options
                    .shared_container
                    .clone()
                    .unwrap_or_else(|| unique_container("certificates")),
            }),
        };
        let storage = match &azurite {
            None => CertificateStorage::Local,
            Some(azurite) => CertificateStorage::Azure {
                account_url: &azurite.account_url,
                container: &azurite.container,
                account_key: EMULATOR_ACCOUNT_KEY,
            },
        };
        let config = directory.write_config(storage, &extra);
        let log = LogMark::now();
        let provider = Provider::open(&config);
        if options.initialize_token {
            provider.initialize_token_and_user_pin();
        }
        TestToken {
            provider,
            directory,
            store: options.store,
            azurite,
            log,
            _lock: lock,
        }
    }

    /// Where this token keeps its certificates.
    pub fn store(&self) -> Store {
        self.store
    }
    /// With [`Store::Azurite`]: the token's container.
    pub fn azurite_container(&self) -> Option<&AzuriteContainer> {
        self.azurite.as_ref()
    }

    /// The token's certificate blobs through the library's own store (the
    /// local directory or the Azurite container), for tests that inspect
    /// or tamper with them whatever the store.
    pub fn blob_store(&self) -> Box<dyn BlobStore> {
        open_blob_store(&self.config_path())
    }

    /// The names of the token's certificate blobs.
    pub fn blob_names(&self) -> BTreeSet<String> {
        self.blob_store()
            .list(BLOB_PREFIX)
            .expect("list the certificate blobs")
            .into_iter()
            .map(|entry| entry.name)
            .collect()
    }

    /// The environment a worker process needs to open this token's
    /// directory and store with [`TokenOptions::from_worker_env`].
    pub fn share_with_worker(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            (WORKER_STORE_ENV, self.store.name().to_string()),
            (WORKER_DIR_ENV, self.root().display().to_string()),
        ];
        if let Some(azurite) = &self.azurite {
            env.push((WORKER_CONTAINER_ENV, azurite.container.clone()));
        }
        env
    }

    /// The directory holding everything of this test.
    pub fn root(&self) -> &Path {
        self.directory.root()
    }
    pub fn config_path(&self) -> PathBuf {
        self.directory.config_path()
    }
    pub fn token_dir(&self) -> PathBuf {
        self.directory.token_dir()
    }
    pub fn certificates_dir(&self) -> PathBuf {
        self.directory.certificates_dir()
    }
    /// What the provider logged since this token was set up (this test's
    /// part of [`process_log_path`]).
    pub fn log_text(&self) -> String {
        self.log.since()
    }

    /// `C_Finalize` then `C_Initialize` over the same directory and
    /// configuration (every session and login is gone afterwards).
    pub fn reinitialize(&mut self) {
        self.provider.close();
        self.provider = Provider::open(&self.config_path());
    }
}

impl Default for TestToken {
    fn default() -> Self {
        TestToken::new()
    }
}

impl Deref for TestToken {
    type Target = Provider;
    fn deref(&self) -> &Provider {
        &self.provider
    }
}
