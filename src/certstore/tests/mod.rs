//! Tests of the certificate store over a temporary directory and a device
//! double whose only real method is `blob_signing_key`.

mod concurrency;
mod create_rules;
mod from_der;
mod lifecycle;
mod local_store;
mod metadata_store;
mod tampering;

use super::local::LocalStore;
use super::{BlobStore, Certificates};
use crate::device::*;
use crate::error::{Error, Result};
use crate::object::{
    Access, Attribute, AttributeResult, AttributeType, Handle, ObjectStore, Template,
};
use cryptoki_sys::*;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// An in-memory RSA key standing in for the device's blob-signing key.
pub struct TestKey {
    key: PKey<Private>,
    key_id: String,
    logged_in: Arc<AtomicBool>,
}

impl BlobSigningKey for TestKey {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }
    fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key_to_der().expect("public key DER")
    }
    fn sign_rs512(&self, message: &[u8]) -> Result<Vec<u8>> {
        if !self.logged_in.load(Ordering::SeqCst) {
            return Err(Error::UserNotLoggedIn);
        }
        let mut signer = Signer::new(MessageDigest::sha512(), &self.key)?;
        signer.update(message)?;
        Ok(signer.sign_to_vec()?)
    }
}

/// RSA-2048 generation is slow; the tests share two keys.
fn shared_rsa(which: usize) -> PKey<Private> {
    static KEYS: OnceLock<Vec<PKey<Private>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..2)
            .map(|_| PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap())
            .collect()
    })[which]
        .clone()
}

/// A device whose blob-signing key is usable while `logged_in` is true.
pub struct TestDevice {
    key: Arc<TestKey>,
    pub logged_in: Arc<AtomicBool>,
}

impl TestDevice {
    /// A device with the first shared key, logged in.
    pub fn new() -> Arc<Self> {
        TestDevice::with_key(0, "blob-signing-key")
    }
    /// A device with shared key `which` and key id `key_id`, logged in.
    pub fn with_key(which: usize, key_id: &str) -> Arc<Self> {
        let logged_in = Arc::new(AtomicBool::new(true));
        let key = Arc::new(TestKey {
            key: shared_rsa(which),
            key_id: key_id.into(),
            logged_in: logged_in.clone(),
        });
        Arc::new(TestDevice { key, logged_in })
    }
    /// The signing key, for tests that write blobs directly.
    pub fn key(&self) -> Arc<TestKey> {
        self.key.clone()
    }
}

const NOT_HERE: Error = Error::FunctionNotSupported("test device");

impl Device for TestDevice {
    fn token_status(&self) -> Result<TokenStatus> {
        Ok(TokenStatus::default())
    }
    fn init_token(&self, _: &[u8], _: &str) -> Result<()> {
        Err(NOT_HERE)
    }
    fn login(&self, _: CK_SESSION_HANDLE, _: UserType, _: &[u8]) -> Result<()> {
        Err(NOT_HERE)
    }
    fn logout(&self) {}
    fn init_pin(&self, _: CK_SESSION_HANDLE, _: &[u8]) -> Result<()> {
        Err(NOT_HERE)
    }
    fn set_pin(&self, _: CK_SESSION_HANDLE, _: UserType, _: &[u8], _: &[u8]) -> Result<()> {
        Err(NOT_HERE)
    }
    fn mechanisms(&self) -> Vec<MechanismInfo> {
        Vec::new()
    }
    fn generate_random(&self, _: &Access, _: &mut [u8]) -> Result<()> {
        Err(NOT_HERE)
    }
    fn close_session(&self, _: CK_SESSION_HANDLE) {}
    fn encrypt_init(
        &self,
        _: &Access,
        _: &Mechanism,
        _: Handle,
    ) -> Result<Box<dyn CipherOperation>> {
        Err(NOT_HERE)
    }
    fn decrypt_init(
        &self,
        _: &Access,
        _: &Mechanism,
        _: Handle,
    ) -> Result<Box<dyn CipherOperation>> {
        Err(NOT_HERE)
    }
    fn digest_init(&self, _: &Access, _: &Mechanism) -> Result<Box<dyn DigestOperation>> {
        Err(NOT_HERE)
    }
    fn sign_init(&self, _: &Access, _: &Mechanism, _: Handle) -> Result<Box<dyn SignOperation>> {
        Err(NOT_HERE)
    }
    fn verify_init(
        &self,
        _: &Access,
        _: &Mechanism,
        _: Handle,
    ) -> Result<Box<dyn VerifyOperation>> {
        Err(NOT_HERE)
    }
    fn generate_key(&self, _: &Access, _: &Mechanism, _: &Template) -> Result<Handle> {
        Err(NOT_HERE)
    }
    fn generate_key_pair(
        &self,
        _: &Access,
        _: &Mechanism,
        _: &Template,
        _: &Template,
    ) -> Result<(Handle, Handle)> {
        Err(NOT_HERE)
    }
    fn wrap_key(&self, _: &Access, _: &Mechanism, _: Handle, _: Handle) -> Result<Vec<u8>> {
        Err(NOT_HERE)
    }
    fn unwrap_key(
        &self,
        _: &Access,
        _: &Mechanism,
        _: Handle,
        _: &[u8],
        _: &Template,
    ) -> Result<Handle> {
        Err(NOT_HERE)
    }
    fn derive_key(&self, _: &Access, _: &Mechanism, _: Handle, _: &Template) -> Result<Handle> {
        Err(NOT_HERE)
    }
    fn blob_signing_key(&self, _: Option<&str>) -> Result<Arc<dyn BlobSigningKey>> {
        Ok(self.key.clone())
    }
}

/// A certificate store over a fresh temporary directory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub device: Arc<TestDevice>,
    pub certificates: Certificates,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let device = TestDevice::new();
        let certificates = open_over(dir.path(), device.clone());
        Fixture {
            dir,
            device,
            certificates,
        }
    }
    /// Another `Certificates` over the same directory (another process).
    pub fn reopen(&self) -> Certificates {
        open_over(self.dir.path(), self.device.clone())
    }
    /// The path of a handle's blob file.
    pub fn blob_path(&self, handle: Handle) -> std::path::PathBuf {
        self.dir.path().join(super::blob_name(handle))
    }
}

pub fn open_over(dir: &std::path::Path, device: Arc<TestDevice>) -> Certificates {
    let store: Arc<dyn BlobStore> = Arc::new(LocalStore::open(dir).expect("store"));
    Certificates::open(store, device, None).expect("open")
}

/// A logged-in user in a R/W session 1.
pub fn user() -> Access {
    Access {
        user: true,
        so: false,
        read_write: true,
        session: 1,
    }
}

/// Nobody logged in, R/W session 1.
pub fn public() -> Access {
    Access {
        user: false,
        so: false,
        read_write: true,
        session: 1,
    }
}

/// The SO logged in, R/W session 1.
pub fn so() -> Access {
    Access {
        user: false,
        so: true,
        read_write: true,
        session: 1,
    }
}

pub fn ulong(kind: AttributeType, value: CK_ULONG) -> Attribute {
    Attribute::from_ulong(kind, value)
}

pub fn boolean(kind: AttributeType, value: bool) -> Attribute {
    Attribute::from_bool(kind, value)
}

pub fn bytes(kind: AttributeType, value: &[u8]) -> Attribute {
    Attribute::new(kind, value.to_vec())
}

/// The reference's subject name (`CN=MyCertificate-Bbj`).
pub const REFERENCE_SUBJECT: &[u8] = &[
    0x30, 0x1D, 0x31, 0x1B, 0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x12, b'M', b'y', b'C',
    b'e', b'r', b't', b'i', b'f', b'i', b'c', b'a', b't', b'e', b'-', b'B', b'b', b'j',
];

/// The reference's 8 dummy certificate bytes.
pub const REFERENCE_VALUE: &[u8] = &[0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0];

/// The reference's `create_cert` template, with `token` and `label` chosen.
pub fn reference_template(token: bool, label: &str) -> Vec<Attribute> {
    vec![
        ulong(CKA_CLASS, CKO_CERTIFICATE),
        ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        boolean(CKA_TOKEN, token),
        bytes(CKA_LABEL, label.as_bytes()),
        bytes(CKA_SUBJECT, REFERENCE_SUBJECT),
        bytes(CKA_ID, &[123]),
        bytes(CKA_VALUE, REFERENCE_VALUE),
    ]
}

/// One attribute's value, or a panic naming what is missing.
pub fn value_of(
    certificates: &Certificates,
    access: &Access,
    handle: Handle,
    kind: AttributeType,
) -> Vec<u8> {
    match certificates
        .get_attributes(access, handle, &[kind])
        .expect("get")
        .remove(0)
    {
        AttributeResult::Value(value) => value,
        other => panic!("attribute 0x{kind:x}: {other:?}"),
    }
}

/// Captures the log lines emitted while `body` runs on this thread.
pub fn capture_logs<T>(body: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Sink(Arc<parking_lot::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0.lock().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let result = tracing::subscriber::with_default(subscriber, body);
    let text = String::from_utf8_lossy(&sink.0.lock()).into_owned();
    (result, text)
}

/// A complete certificate object, as `create` would build it, for blobs
/// written directly by tests.
pub fn sample_object(label: &str) -> crate::object::Attributes {
    let mut object = crate::object::Attributes::new();
    for attribute in reference_template(true, label) {
        object.set(attribute.kind, attribute.value);
    }
    object.set(CKA_CHECK_VALUE, super::x509::check_value(REFERENCE_VALUE));
    super::rules::fill_defaults(&mut object);
    object
}

/// Writes a validly signed blob for `handle` straight into the directory,
/// as another process would.
pub fn write_signed_blob(fixture: &Fixture, handle: Handle, label: &str) {
    let signer = super::jws::DeviceSigner::new(fixture.device.key()).unwrap();
    let blob = super::jws::sign_blob(&signer, handle, &sample_object(label)).unwrap();
    std::fs::write(fixture.blob_path(handle), blob).unwrap();
}

impl ObjectStore for TestDevice {
    fn create_object(&self, _: &Access, _: &Template) -> Result<Handle> {
        Err(NOT_HERE)
    }
    fn find_objects(&self, _: &Access, _: &Template) -> Result<Vec<Handle>> {
        Err(NOT_HERE)
    }
    fn copy_object(&self, _: &Access, _: Handle, _: &Template) -> Result<Handle> {
        Err(NOT_HERE)
    }
    fn destroy_object(&self, _: &Access, _: Handle) -> Result<()> {
        Err(NOT_HERE)
    }
    fn object_size(&self, _: &Access, _: Handle) -> Result<CK_ULONG> {
        Err(NOT_HERE)
    }
    fn get_attributes(
        &self,
        _: &Access,
        _: Handle,
        _: &[AttributeType],
    ) -> Result<Vec<AttributeResult>> {
        Err(NOT_HERE)
    }
    fn set_attributes(&self, _: &Access, _: Handle, _: &Template) -> Result<()> {
        Err(NOT_HERE)
    }
}
