//! The shared harness of the integration tests: load the built cdylib, give
//! each test a fresh token in its own temporary directory, and offer the raw
//! C ABI for the calls a safe client cannot make (NULL pointers, bad handles).
//!
//! The provider is a process-wide singleton (one `C_Initialize` per process)
//! while `cargo test` runs the tests of one binary as threads of one process,
//! so every [`TestToken`] holds [`LOCK`] for its whole life.
//!
//! Two-process tests re-run the test executable with one `#[ignore]`d worker
//! test selected (`--exact <name> --include-ignored`); a worker panics when
//! run without its environment, so CI must never pass `--include-ignored`.
#![allow(dead_code)]

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The SO PIN every test token is initialised with.
pub const SO_PIN: &str = "so-pin-1234";
/// The user PIN, in the vendor's `<username>:<password>` form.
pub const USER_PIN: &str = "cu1:user1234";
/// The label of every test token.
pub const TOKEN_LABEL: &str = "test";
/// The slot the Azure Cloud HSM samples hard-code.
pub const SLOT_ID: u64 = 1;
/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "AZCLOUDHSM_CONFIG";

/// Serialises the tests of one binary: the provider is one per process.
static LOCK: Mutex<()> = Mutex::new(());

/// Takes the process-wide test lock, surviving a test that panicked with it.
pub fn lock() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The built `libazcloudhsm_pkcs11.so`: `AZCLOUDHSM_PKCS11_LIB`, else beside
/// the test executable (`target/release/deps`), else its parent.
pub fn library_path() -> PathBuf {
    const NAME: &str = "libazcloudhsm_pkcs11.so";
    if let Some(path) = std::env::var_os("AZCLOUDHSM_PKCS11_LIB").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "AZCLOUDHSM_PKCS11_LIB names {} which is not a file",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the test executable's directory");
    let mut tried = Vec::new();
    for dir in [Some(deps), deps.parent()].into_iter().flatten() {
        let candidate = dir.join(NAME);
        if candidate.is_file() {
            return candidate;
        }
        tried.push(candidate);
    }
    panic!(
        "cannot find {NAME}: set AZCLOUDHSM_PKCS11_LIB or build with `cargo test --release` (tried {tried:?})"
    );
}

/// What a [`TestToken`] sets up.
#[derive(Clone, Debug)]
pub struct TokenOptions {
    /// Initialise the token (SO PIN, label) and the user PIN.
    pub initialize_token: bool,
    /// Extra `KEY=VALUE` lines for the configuration file.
    pub extra_config: Vec<(String, String)>,
    /// Use this directory instead of a new temporary one (two-process tests).
    pub shared_dir: Option<PathBuf>,
}

impl Default for TokenOptions {
    fn default() -> Self {
        TokenOptions {
            initialize_token: true,
            extra_config: Vec::new(),
            shared_dir: None,
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
}

/// A fresh token in its own directory, the provider initialised over it.
/// Dropping it finalises the provider and removes the directory.
pub struct TestToken {
    pub pkcs11: Pkcs11,
    pub slot: Slot,
    root: PathBuf,
    log_start: u64,
    _temp: Option<tempfile::TempDir>,
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

    pub fn with_options(options: TokenOptions) -> TestToken {
        let lock = lock();
        let (temp, root) = match &options.shared_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("azcloudhsm-itest-")
                    .tempdir()
                    .expect("a temporary directory");
                let root = temp.path().to_path_buf();
                (Some(temp), root)
            }
        };
        write_config(&root, &options.extra_config);
        std::env::set_var(CONFIG_ENV, config_path(&root));
        let log_start = process_log_length();
        let pkcs11 = load_and_initialize();
        let slot = slot_one(&pkcs11);
        let token = TestToken {
            pkcs11,
            slot,
            root,
            log_start,
            _temp: temp,
            _lock: lock,
        };
        if options.initialize_token {
            token.initialize_token_and_user_pin();
        }
        token
    }

    /// `C_InitToken`, then the SO sets the user PIN with `C_InitPIN`.
    pub fn initialize_token_and_user_pin(&self) {
        self.pkcs11
            .init_token(self.slot, &AuthPin::from(SO_PIN), TOKEN_LABEL)
            .expect("C_InitToken of a fresh token");
        let session = self.rw_session();
        session
            .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
            .expect("C_Login as SO");
        session
            .init_pin(&AuthPin::from(USER_PIN))
            .expect("C_InitPIN");
        session.logout().expect("C_Logout");
    }

    /// The directory holding everything of this test.
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn config_path(&self) -> PathBuf {
        config_path(&self.root)
    }
    pub fn token_dir(&self) -> PathBuf {
        self.root.join("token")
    }
    pub fn certificates_dir(&self) -> PathBuf {
        self.root.join("certificates")
    }
    /// What the provider logged since this token was set up. The provider
    /// installs its log subscriber once per process (the first `C_Initialize`
    /// wins), so every test of a process logs to one file, named through
    /// `AZCLOUDHSM_LOG_FILE`; this is this test's part of it.
    pub fn log_text(&self) -> String {
        let text = std::fs::read(process_log_path()).unwrap_or_default();
        let start = (self.log_start as usize).min(text.len());
        String::from_utf8_lossy(&text[start..]).into_owned()
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
    /// A R/W session with the normal user logged in.
    pub fn user_session(&self) -> Session {
        let session = self.rw_session();
        session
            .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
            .expect("C_Login as user");
        session
    }

    /// `C_Finalize` then `C_Initialize` over the same directory and
    /// configuration (every session and login is gone afterwards).
    pub fn reinitialize(&mut self) {
        finalize(&self.pkcs11);
        std::env::set_var(CONFIG_ENV, self.config_path());
        self.pkcs11 = load_and_initialize();
        self.slot = slot_one(&self.pkcs11);
    }
}

impl Default for TestToken {
    fn default() -> Self {
        TestToken::new()
    }
}

impl Drop for TestToken {
    fn drop(&mut self) {
        finalize(&self.pkcs11);
    }
}

/// The log file of this test process (see [`TestToken::log_text`]).
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

fn process_log_length() -> u64 {
    std::fs::metadata(process_log_path())
        .map(|m| m.len())
        .unwrap_or(0)
}

fn finalize(pkcs11: &Pkcs11) {
    // CKR_CRYPTOKI_NOT_INITIALIZED is fine: a test may have finalised itself.
    let _ = pkcs11.clone().finalize();
}

fn config_path(root: &Path) -> PathBuf {
    root.join("azcloudhsm_application.cfg")
}

/// Writes the test configuration (and the token and certificate
/// directories) under `root`, as [`TestToken`] does, and points
/// `AZCLOUDHSM_CONFIG` at it; for tests that call `C_Initialize` themselves.
pub fn prepare_config(root: &Path, extra: &[(&str, &str)]) {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    write_config(root, &extra);
    process_log_path();
    std::env::set_var(CONFIG_ENV, config_path(root));
}

fn write_config(root: &Path, extra: &[(String, String)]) {
    std::fs::create_dir_all(root.join("token")).expect("token dir");
    std::fs::create_dir_all(root.join("certificates")).expect("certificates dir");
    let mut text = format!(
        "SOFT_TOKEN_DIR={}\nCERTSTORAGE_URL=file://{}\nSOFT_KDF_ITERATIONS=1000\nLOG_LEVEL=info\nLOG_FILE={}\n",
        root.join("token").display(),
        root.join("certificates").display(),
        root.join("provider.log").display(),
    );
    for (key, value) in extra {
        text.push_str(&format!("{key}={value}\n"));
    }
    std::fs::write(config_path(root), text).expect("write the configuration");
}

/// Loads the library and calls `C_Initialize` with `CKF_OS_LOCKING_OK`.
pub fn load_and_initialize() -> Pkcs11 {
    let pkcs11 = load();
    pkcs11
        .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap_or_else(|e| panic!("C_Initialize: {e} (see {})", process_log_path().display()));
    pkcs11
}

/// Loads the library without initialising it.
pub fn load() -> Pkcs11 {
    Pkcs11::new(library_path()).expect("load libazcloudhsm_pkcs11.so")
}

fn slot_one(pkcs11: &Pkcs11) -> Slot {
    let slots = pkcs11.get_slots_with_token().expect("C_GetSlotList");
    assert_eq!(slots.len(), 1, "exactly one slot with a token: {slots:?}");
    assert_eq!(slots[0].id(), SLOT_ID, "the slot is ID 1");
    slots[0]
}

/// The PKCS#11 error code of a failed call, for assertions.
pub fn rv_of<T: std::fmt::Debug>(result: cryptoki::error::Result<T>) -> RvError {
    match result {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error, got {other:?}"),
    }
}

/// Asserts that `result` failed with `expected`.
#[track_caller]
pub fn assert_rv<T: std::fmt::Debug>(result: cryptoki::error::Result<T>, expected: RvError) {
    match result {
        Err(Error::Pkcs11(rv, function)) => assert_eq!(
            rv, expected,
            "{function:?} returned {rv:?}, expected {expected:?}"
        ),
        other => panic!("expected {expected:?}, got {other:?}"),
    }
}

// ----- the raw C ABI -----

struct RawLibrary {
    loader: &'static cryptoki_sys::Pkcs11,
    list: *const CK_FUNCTION_LIST,
}
// SAFETY: the function list is an immutable static of the loaded library,
// which is never unloaded (the loader is leaked).
unsafe impl Send for RawLibrary {}
unsafe impl Sync for RawLibrary {}

static RAW: OnceLock<RawLibrary> = OnceLock::new();

/// The library's PKCS#11 2.40 `CK_FUNCTION_LIST`, from `C_GetFunctionList`.
/// The library is the same one `cryptoki` loaded (same path, same process),
/// so raw calls see the same provider state.
pub fn raw() -> &'static CK_FUNCTION_LIST {
    let library = RAW.get_or_init(|| {
        // SAFETY: loading a PKCS#11 module runs no initialisers that need arguments.
        let loader = unsafe { cryptoki_sys::Pkcs11::new(library_path()) }
            .unwrap_or_else(|e| panic!("dlopen the library: {e}"));
        let loader: &'static cryptoki_sys::Pkcs11 = Box::leak(Box::new(loader));
        let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
        // SAFETY: a valid out pointer.
        let rv = unsafe { loader.C_GetFunctionList(&mut list) };
        assert_eq!(rv, CKR_OK, "C_GetFunctionList");
        assert!(!list.is_null(), "C_GetFunctionList gave NULL");
        RawLibrary { loader, list }
    });
    // SAFETY: non-NULL, pointing to the library's static list (see RawLibrary).
    unsafe { &*library.list }
}

/// The library's exported symbols, for the functions outside the 2.40
/// function list (`C_GetInterfaceList`, `C_GetInterface`).
pub fn raw_exports() -> &'static cryptoki_sys::Pkcs11 {
    raw();
    RAW.get().expect("loaded by raw()").loader
}

/// Calls a function of the raw function list: `ck!(C_Sign(session, ...))`.
/// Every call through the raw ABI is unsafe by nature (that is what these
/// tests exercise: NULL and dangling-free but wrong arguments), so the
/// arguments are evaluated inside the `unsafe` block on purpose.
#[macro_export]
macro_rules! ck {
    ($function:ident ( $($argument:expr),* $(,)? )) => {{
        let f = $crate::common::raw().$function.expect(stringify!($function));
        #[allow(unused_unsafe, clippy::macro_metavars_in_unsafe)]
        // SAFETY: the caller passes arguments valid for the C function, or
        // deliberately bad ones the PKCS#11 contract says are refused.
        unsafe {
            f($($argument),*)
        }
    }};
}

/// The name of a return value, for readable assertion messages.
pub fn rv_name(rv: CK_RV) -> String {
    match cryptoki::error::Rv::from(rv) {
        cryptoki::error::Rv::Ok => "CKR_OK".to_string(),
        cryptoki::error::Rv::Error(e) => format!("{e:?} (0x{rv:x})"),
    }
}

/// Asserts a raw return value, naming both sides.
#[macro_export]
macro_rules! assert_ck {
    ($actual:expr, $expected:expr) => {{
        let actual: cryptoki_sys::CK_RV = $actual;
        let expected: cryptoki_sys::CK_RV = $expected;
        assert!(
            actual == expected,
            "got {}, expected {}",
            $crate::common::rv_name(actual),
            $crate::common::rv_name(expected)
        );
    }};
}

/// Asserts that every `(name, rv)` of a table is `expected`, listing all
/// the cases that are not.
#[track_caller]
pub fn assert_all_rv(cases: Vec<(&str, CK_RV)>, expected: CK_RV) {
    let wrong: Vec<String> = cases
        .into_iter()
        .filter(|(_, rv)| *rv != expected)
        .map(|(name, rv)| format!("{name}: {}", rv_name(rv)))
        .collect();
    assert!(
        wrong.is_empty(),
        "expected {} from every case, but: {wrong:#?}",
        rv_name(expected)
    );
}

/// A `CK_ULONG` as the C ABI lays it out (an attribute value).
pub fn ulong_bytes(value: CK_ULONG) -> Vec<u8> {
    value.to_ne_bytes().to_vec()
}

/// A `CK_ATTRIBUTE` over a caller-owned buffer.
pub fn raw_attribute(kind: CK_ATTRIBUTE_TYPE, value: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: if value.is_empty() {
            std::ptr::null_mut()
        } else {
            value.as_mut_ptr() as *mut std::ffi::c_void
        },
        ulValueLen: value.len() as CK_ULONG,
    }
}

/// A `CK_ATTRIBUTE` asking for a length only.
pub fn length_query(kind: CK_ATTRIBUTE_TYPE) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    }
}

/// A `CK_MECHANISM` without a parameter.
pub fn raw_mechanism(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    }
}

/// A `CK_MECHANISM` whose parameter is `parameter`.
pub fn raw_mechanism_with<T>(kind: CK_MECHANISM_TYPE, parameter: &mut T) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: parameter as *mut T as *mut std::ffi::c_void,
        ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

/// Every mechanism of slot 1 through the raw ABI (cryptoki drops the ones it
/// does not know, which would hide an untested mechanism).
pub fn raw_mechanism_list() -> Vec<CK_MECHANISM_TYPE> {
    let mut count: CK_ULONG = 0;
    assert_ck!(
        ck!(C_GetMechanismList(
            SLOT_ID,
            std::ptr::null_mut(),
            &mut count
        )),
        CKR_OK
    );
    let mut list = vec![0; count as usize];
    assert_ck!(
        ck!(C_GetMechanismList(SLOT_ID, list.as_mut_ptr(), &mut count)),
        CKR_OK
    );
    list.truncate(count as usize);
    list
}

// ----- keys -----

/// The DER `CKA_EC_PARAMS` (a named-curve OID) of the curves the tests use.
pub const P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
pub const P384: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
pub const P521: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23];
pub const ED25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];

/// A key pair's two handles.
#[derive(Clone, Copy, Debug)]
pub struct KeyPair {
    pub public: ObjectHandle,
    pub private: ObjectHandle,
}

/// Generates an RSA key pair (e = 65537) usable for everything RSA does.
pub fn generate_rsa(session: &Session, bits: u64, token: bool, id: &[u8]) -> KeyPair {
    let public = [
        Attribute::Token(token),
        Attribute::ModulusBits(bits.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Wrap(true),
        Attribute::Id(id.to_vec()),
    ];
    let private = [
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
        Attribute::Unwrap(true),
        Attribute::Id(id.to_vec()),
    ];
    let (public, private) = session
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .unwrap_or_else(|e| panic!("C_GenerateKeyPair RSA-{bits}: {e}"));
    KeyPair { public, private }
}

/// Generates an EC (or, with [`ED25519`], an Edwards) key pair.
pub fn generate_ec(session: &Session, params: &[u8], token: bool, id: &[u8]) -> KeyPair {
    let edwards = params == ED25519;
    let mut public = vec![
        Attribute::Token(token),
        Attribute::EcParams(params.to_vec()),
        Attribute::Verify(true),
        Attribute::Id(id.to_vec()),
    ];
    let mut private = vec![
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Id(id.to_vec()),
    ];
    if !edwards {
        public.push(Attribute::Derive(true));
        private.push(Attribute::Derive(true));
    }
    let mechanism = if edwards {
        Mechanism::EccEdwardsKeyPairGen
    } else {
        Mechanism::EccKeyPairGen
    };
    let (public, private) = session
        .generate_key_pair(&mechanism, &public, &private)
        .unwrap_or_else(|e| panic!("C_GenerateKeyPair EC {params:02x?}: {e}"));
    KeyPair { public, private }
}

/// Imports a secret key of `key_type` with a known value, usable for everything.
pub fn import_secret(session: &Session, key_type: KeyType, value: &[u8]) -> ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::Value(value.to_vec()),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    if key_type == KeyType::AES {
        template.extend([
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
        ]);
    }
    session
        .create_object(&template)
        .unwrap_or_else(|e| panic!("C_CreateObject secret {key_type:?}: {e}"))
}

/// One attribute's bytes (panics when unavailable).
pub fn attribute_bytes(session: &Session, object: ObjectHandle, kind: AttributeType) -> Vec<u8> {
    let attributes = session
        .get_attributes(object, &[kind])
        .unwrap_or_else(|e| panic!("C_GetAttributeValue {kind:?}: {e}"));
    match attributes.into_iter().next() {
        Some(Attribute::Modulus(v))
        | Some(Attribute::PublicExponent(v))
        | Some(Attribute::EcPoint(v))
        | Some(Attribute::EcParams(v))
        | Some(Attribute::Value(v))
        | Some(Attribute::PublicKeyInfo(v))
        | Some(Attribute::Id(v))
        | Some(Attribute::Subject(v))
        | Some(Attribute::Issuer(v))
        | Some(Attribute::SerialNumber(v))
        | Some(Attribute::Label(v)) => v,
        other => panic!("{kind:?}: unexpected {other:?}"),
    }
}

/// Strips the DER OCTET STRING around a `CKA_EC_POINT`.
pub fn ec_point_octets(der: &[u8]) -> Vec<u8> {
    assert_eq!(
        der.first(),
        Some(&0x04),
        "CKA_EC_POINT is a DER OCTET STRING"
    );
    let (length, start) = match der[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (der[2] as usize, 3),
        0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
        n => panic!("unexpected DER length byte {n:#x}"),
    };
    assert_eq!(der.len(), start + length, "CKA_EC_POINT length");
    der[start..].to_vec()
}

/// DER OCTET STRING around `octets`.
pub fn der_octet_string(octets: &[u8]) -> Vec<u8> {
    let mut der = vec![0x04];
    match octets.len() {
        n if n < 0x80 => der.push(n as u8),
        n if n < 0x100 => der.extend([0x81, n as u8]),
        n => der.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    der.extend_from_slice(octets);
    der
}

/// The openssl public key of a token public key, built from the exported
/// attributes: `CKA_MODULUS`/`CKA_PUBLIC_EXPONENT` for RSA,
/// `CKA_EC_PARAMS`/`CKA_EC_POINT` for EC and Ed25519.
pub fn openssl_public_key(
    session: &Session,
    public: ObjectHandle,
) -> openssl::pkey::PKey<openssl::pkey::Public> {
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey, EcPoint};
    use openssl::nid::Nid;
    use openssl::pkey::{Id, PKey};
    use openssl::rsa::Rsa;
    let key_type = match session
        .get_attributes(public, &[AttributeType::KeyType])
        .expect("CKA_KEY_TYPE")
        .pop()
    {
        Some(Attribute::KeyType(t)) => t,
        other => panic!("CKA_KEY_TYPE: {other:?}"),
    };
    if key_type == KeyType::RSA {
        let n = attribute_bytes(session, public, AttributeType::Modulus);
        let e = attribute_bytes(session, public, AttributeType::PublicExponent);
        let rsa = Rsa::from_public_components(
            BigNum::from_slice(&n).unwrap(),
            BigNum::from_slice(&e).unwrap(),
        )
        .unwrap();
        return PKey::from_rsa(rsa).unwrap();
    }
    let params = attribute_bytes(session, public, AttributeType::EcParams);
    let point = ec_point_octets(&attribute_bytes(session, public, AttributeType::EcPoint));
    if params == ED25519 || key_type == KeyType::EC_EDWARDS {
        return PKey::public_key_from_raw_bytes(&point, Id::ED25519).unwrap();
    }
    let nid = match params.as_slice() {
        p if p == P256 => Nid::X9_62_PRIME256V1,
        p if p == P384 => Nid::SECP384R1,
        p if p == P521 => Nid::SECP521R1,
        other => panic!("unknown curve {other:02x?}"),
    };
    let group = EcGroup::from_curve_name(nid).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let point = EcPoint::from_bytes(&group, &point, &mut ctx).expect("a point on the curve");
    PKey::from_ec_key(EcKey::from_public_key(&group, &point).unwrap()).unwrap()
}

/// Finds objects matching `template`, all of them.
pub fn find(session: &Session, template: &[Attribute]) -> Vec<ObjectHandle> {
    session
        .find_objects(template)
        .unwrap_or_else(|e| panic!("C_FindObjects: {e}"))
}

// ----- two processes -----

/// Runs the worker test `name` of this test executable in a new process
/// with `env` set; its output is inherited.
pub fn spawn_worker(name: &str, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("the test executable");
    let mut command = Command::new(exe);
    command.args([
        "--exact",
        name,
        "--nocapture",
        "--include-ignored",
        "--test-threads=1",
    ]);
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("spawn the worker process")
}

/// The value of a worker's environment variable; a worker run without it
/// (for example by `cargo test -- --include-ignored`) fails loudly.
pub fn worker_env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| {
        panic!("this test is a worker of a two-process test and needs {key}; do not run ignored tests directly")
    })
}

/// `C_SignInit` + `C_Sign` through the raw ABI (for mechanisms `cryptoki`
/// has no name for), with the two-call length protocol.
pub fn raw_sign(
    session: CK_SESSION_HANDLE,
    mechanism: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
) -> Result<Vec<u8>, CK_RV> {
    let rv = ck!(C_SignInit(session, mechanism, key));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut data = data.to_vec();
    let mut length: CK_ULONG = 0;
    let rv = ck!(C_Sign(
        session,
        data.as_mut_ptr(),
        data.len() as CK_ULONG,
        std::ptr::null_mut(),
        &mut length
    ));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut signature = vec![0u8; length as usize];
    let rv = ck!(C_Sign(
        session,
        data.as_mut_ptr(),
        data.len() as CK_ULONG,
        signature.as_mut_ptr(),
        &mut length
    ));
    if rv != CKR_OK {
        return Err(rv);
    }
    signature.truncate(length as usize);
    Ok(signature)
}

/// `C_VerifyInit` + `C_Verify` through the raw ABI.
pub fn raw_verify(
    session: CK_SESSION_HANDLE,
    mechanism: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    signature: &[u8],
) -> CK_RV {
    let rv = ck!(C_VerifyInit(session, mechanism, key));
    if rv != CKR_OK {
        return rv;
    }
    let mut data = data.to_vec();
    let mut signature = signature.to_vec();
    ck!(C_Verify(
        session,
        data.as_mut_ptr(),
        data.len() as CK_ULONG,
        signature.as_mut_ptr(),
        signature.len() as CK_ULONG
    ))
}
