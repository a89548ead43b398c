//! Tests of the certificate store over a temporary directory and a device
//! double whose only real method is `blob_signing_key`.

mod change_detection;
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

pub(super) use crate::object::test_support::{
    boolean, bytes, public, so, ulong, user, value_of, Refusals,
};

/// An in-memory RSA key standing in for the device's blob-signing key.
pub(super) struct TestKey {
    key: PKey<Private>,
    public_half: PublicHalf,
    logged_in: Arc<AtomicBool>,
    /// When set, every signature waits here first, so that refusals overlap.
    together: Option<std::sync::Barrier>,
}

impl TestKey {
    /// A key whose device nobody is logged in to, letting `threads` callers
    /// out together so that their refusals overlap.
    pub(super) fn refusing_together(threads: usize) -> Arc<Self> {
        let key = shared_rsa(0);
        Arc::new(TestKey {
            public_half: named_public_half("blob-signing-key", &key),
            key,
            logged_in: Arc::new(AtomicBool::new(false)),
            together: Some(std::sync::Barrier::new(threads)),
        })
    }
}

impl BlobSigningKey for TestKey {
    fn public_half(&self) -> &PublicHalf {
        &self.public_half
    }
    fn sign_rs512(&self, message: &[u8]) -> Result<Vec<u8>> {
        if let Some(together) = &self.together {
            together.wait();
        }
        if !self.logged_in.load(Ordering::SeqCst) {
            return Err(Error::UserNotLoggedIn);
        }
        let mut signer = Signer::new(MessageDigest::sha512(), &self.key)?;
        signer.update(message)?;
        Ok(signer.sign_to_vec()?)
    }
}

/// The public half of `key`, named `key_id`.
fn named_public_half(key_id: &str, key: &PKey<Private>) -> PublicHalf {
    PublicHalf::named(key_id, key.public_key_to_der().expect("public key DER"))
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
pub(super) struct TestDevice {
    key: parking_lot::Mutex<Arc<TestKey>>,
    pub logged_in: Arc<AtomicBool>,
}

impl TestDevice {
    /// A device with the first shared key, logged in.
    pub(super) fn new() -> Arc<Self> {
        TestDevice::with_key(0, "blob-signing-key")
    }
    /// A device with shared key `which` and key id `key_id`, logged in.
    pub(super) fn with_key(which: usize, key_id: &str) -> Arc<Self> {
        let logged_in = Arc::new(AtomicBool::new(true));
        let key = TestDevice::make_key(which, key_id, &logged_in);
        Arc::new(TestDevice {
            key: parking_lot::Mutex::new(key),
            logged_in,
        })
    }
    fn make_key(which: usize, key_id: &str, logged_in: &Arc<AtomicBool>) -> Arc<TestKey> {
        let key = shared_rsa(which);
        Arc::new(TestKey {
            public_half: named_public_half(key_id, &key),
            key,
            logged_in: logged_in.clone(),
            together: None,
        })
    }
    /// The signing key, for tests that write blobs directly.
    pub(super) fn key(&self) -> Arc<TestKey> {
        self.key.lock().clone()
    }
    /// Replaces the blob-signing key, as `C_InitToken` in another process does.
    pub(super) fn replace_key(&self, which: usize, key_id: &str) {
        *self.key.lock() = TestDevice::make_key(which, key_id, &self.logged_in);
    }
}

const NOT_HERE: Error = Error::FunctionNotSupported("test device");

/// Methods of the test device that the certificate store never calls: each
/// fails with [`NOT_HERE`].
macro_rules! not_here {
    ($(fn $name:ident(&self $(, $argument:ty)*) -> $output:ty;)*) => {
        $(fn $name(&self $(, _: $argument)*) -> $output {
            Err(NOT_HERE)
        })*
    };
}

impl TokenControl for TestDevice {
    fn token_status(&self) -> Result<TokenStatus> {
        Ok(TokenStatus::default())
    }
    fn logout(&self) {}
    fn mechanisms(&self) -> Vec<MechanismInfo> {
        Vec::new()
    }
    fn close_session(&self, _: CK_SESSION_HANDLE) {}
    not_here! {
        fn init_token(&self, &[u8], &str) -> Result<()>;
        fn login(&self, CK_SESSION_HANDLE, UserType, &[u8]) -> Result<()>;
        fn init_pin(&self, CK_SESSION_HANDLE, &[u8]) -> Result<()>;
        fn set_pin(&self, CK_SESSION_HANDLE, PinChange<'_>) -> Result<()>;
        fn generate_random(&self, &Access, &mut [u8]) -> Result<()>;
    }
}

impl Operations for TestDevice {
    not_here! {
        fn encrypt_init(&self, &Access, &Mechanism, Handle) -> Result<Box<dyn CipherOperation>>;
        fn decrypt_init(&self, &Access, &Mechanism, Handle) -> Result<Box<dyn CipherOperation>>;
        fn digest_init(&self, &Access, &Mechanism) -> Result<Box<dyn DigestOperation>>;
        fn sign_init(&self, &Access, &Mechanism, Handle) -> Result<Box<dyn SignOperation>>;
        fn verify_init(&self, &Access, &Mechanism, Handle) -> Result<Box<dyn VerifyOperation>>;
    }
}

impl KeyManagement for TestDevice {
    fn blob_signing_key(&self, _: Option<&str>) -> Result<Arc<dyn BlobSigningKey>> {
        Ok(self.key())
    }
    not_here! {
        fn generate_key(&self, &Access, KeyRequest<'_>) -> Result<Handle>;
        fn generate_key_pair(&self, &Access, KeyPairRequest<'_>) -> KeyPair;
        fn wrap_key(&self, &Access, WrapRequest<'_>) -> Result<Vec<u8>>;
        fn unwrap_key(&self, &Access, UnwrapRequest<'_>) -> Result<Handle>;
        fn derive_key(&self, &Access, DeriveRequest<'_>) -> Result<DerivedKeys>;
    }
}

/// A certificate store over a fresh temporary directory.
pub(super) struct Fixture {
    pub dir: tempfile::TempDir,
    pub device: Arc<TestDevice>,
    pub certificates: Certificates,
}

impl Fixture {
    pub(super) fn new() -> Self {
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
    pub(super) fn reopen(&self) -> Certificates {
        open_over(self.dir.path(), self.device.clone())
    }
    /// The path of a handle's blob file.
    pub(super) fn blob_path(&self, handle: Handle) -> std::path::PathBuf {
        self.dir.path().join(super::blob_name(handle))
    }
    /// The content of a handle's blob file.
    pub(super) fn blob(&self, handle: Handle) -> Vec<u8> {
        std::fs::read(self.blob_path(handle)).expect("blob file")
    }
    /// The names of the files in the directory, but the index cache's
    /// directory (which opening the store makes).
    pub(super) fn file_names(&self) -> Vec<String> {
        std::fs::read_dir(self.dir.path())
            .expect("read_dir")
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name != crate::certstore::local::CACHE_DIR)
            .collect()
    }
    /// `template`, created by the user in session 1.
    pub(super) fn create(&self, template: &[Attribute]) -> Handle {
        self.certificates.create(&user(), template).expect("create")
    }
    /// The reference certificate labelled `label`, created by the user.
    pub(super) fn create_reference(&self, token: bool, label: &str) -> Handle {
        self.create(&reference_template(token, label))
    }
    /// C_SetAttributeValue by `access`.
    pub(super) fn set(
        &self,
        access: &Access,
        handle: Handle,
        template: &[Attribute],
    ) -> Result<()> {
        self.certificates.set_attributes(access, handle, template)
    }
    /// C_CopyObject by `access`.
    pub(super) fn copy(
        &self,
        access: &Access,
        handle: Handle,
        template: &[Attribute],
    ) -> Result<Handle> {
        self.certificates.copy(access, handle, template)
    }
    /// One attribute's value as `access` sees it, or a panic.
    pub(super) fn value(&self, access: &Access, handle: Handle, kind: AttributeType) -> Vec<u8> {
        value_of(&self.certificates, access, handle, kind)
    }
}

/// Every certificate `access` finds (an empty template).
pub(super) fn find_all(certificates: &Certificates, access: &Access) -> Vec<Handle> {
    certificates.find(access, &[]).expect("find")
}

/// The error code of a call that must fail.
pub(super) fn rv_of<T: std::fmt::Debug>(result: Result<T>) -> CK_RV {
    result.expect_err("the call must fail").rv()
}

pub(super) fn open_over(dir: &std::path::Path, device: Arc<TestDevice>) -> Certificates {
    let store: Arc<dyn BlobStore> = Arc::new(LocalStore::open(dir).expect("store"));
    Certificates::open(store, device, None).expect("open")
}

/// The reference's subject name (`CN=MyCertificate-Bbj`).
pub(super) const REFERENCE_SUBJECT: &[u8] = &[
    0x30, 0x1D, 0x31, 0x1B, 0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x12, b'M', b'y', b'C',
    b'e', b'r', b't', b'i', b'f', b'i', b'c', b'a', b't', b'e', b'-', b'B', b'b', b'j',
];

/// The reference's 8 dummy certificate bytes.
pub(super) const REFERENCE_VALUE: &[u8] = &[0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0];

/// The reference's `create_cert` template, with `token` and `label` chosen.
pub(super) fn reference_template(token: bool, label: &str) -> Vec<Attribute> {
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

/// Captures the log lines emitted while `body` runs on this thread.
pub(super) fn capture_logs<T>(body: impl FnOnce() -> T) -> (T, String) {
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
pub(super) fn sample_object(label: &str) -> crate::object::Attributes {
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
pub(super) fn write_signed_blob(fixture: &Fixture, handle: Handle, label: &str) {
    write_blob_signed_by(fixture, &fixture.device, handle, label);
}

/// Writes a blob for `handle` signed with `device`'s key, which may not be
/// the store's.
pub(super) fn write_blob_signed_by(
    fixture: &Fixture,
    device: &TestDevice,
    handle: Handle,
    label: &str,
) {
    let signer = super::jws::DeviceSigner::new(device.key()).unwrap();
    let blob = super::jws::sign_blob(&signer, handle, &sample_object(label)).unwrap();
    std::fs::write(fixture.blob_path(handle), blob).unwrap();
}

impl ObjectStore for TestDevice {
    not_here! {
        fn create_object(&self, &Access, &Template) -> Result<Handle>;
        fn find_objects(&self, &Access, &Template) -> Result<Vec<Handle>>;
        fn copy_object(&self, &Access, Handle, &Template) -> Result<Handle>;
        fn destroy_object(&self, &Access, Handle) -> Result<()>;
        fn object_size(&self, &Access, Handle) -> Result<CK_ULONG>;
        fn get_attributes(&self, &Access, Handle, &[AttributeType])
            -> Result<Vec<AttributeResult>>;
        fn set_attributes(&self, &Access, Handle, &Template) -> Result<()>;
    }
}
