//! Tests of the software device through the `Device` trait, on temporary
//! token directories, with a low PBKDF2 iteration count.

mod at_rest;
mod attributes;
mod binding;
mod errors;
mod objects;
mod operations;
mod sharing;
mod signing;
mod token;

use super::{SoftDevice, SoftOptions};
use crate::device::{KeyManagement, KeyPairRequest, Operations, TokenControl, UserType};
use crate::object::{Access, Attribute, Handle, ObjectStore};
use cryptoki_sys::*;
use std::path::Path;
use tempfile::TempDir;

pub(crate) use crate::object::test_support::{
    boolean, bytes, public as public_rw, ulong, user as user_rw, user_read_only as user_ro,
    value_of, Refusals,
};

pub(super) const SO_PIN: &[u8] = b"so-secret";
/// The Azure form of a user PIN.
pub(super) const USER_PIN: &[u8] = b"cu1:user1234";
/// Consecutive failures before a PIN locks, in these tests.
pub(super) const MAX_FAILURES: u32 = 3;

/// A P-256 `CKA_EC_PARAMS` (the OID 1.2.840.10045.3.1.7).
pub(super) const P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// The Ed25519 `CKA_EC_PARAMS` (OID 1.3.101.112).
pub(super) const ED25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];

pub(super) fn options(dir: &Path) -> SoftOptions {
    SoftOptions {
        token_dir: dir.to_path_buf(),
        max_pin_failures: MAX_FAILURES,
        kdf_iterations: 1000,
        fips_approved_only: false,
    }
}

/// A device on `dir`, opened as is.
pub(super) fn open(dir: &Path) -> SoftDevice {
    SoftDevice::open(options(dir)).expect("open")
}

/// Another device on `dir` (another process), with the user logged in.
pub(super) fn open_logged_in(dir: &Path) -> SoftDevice {
    let device = open(dir);
    device
        .login(0, UserType::User, USER_PIN)
        .expect("user login");
    device
}

/// A new token: initialised, user PIN set, nobody logged in.
pub(super) fn initialized() -> (TempDir, SoftDevice) {
    let dir = TempDir::new().expect("tempdir");
    let device = open(dir.path());
    device.init_token(SO_PIN, "test token").expect("init_token");
    device
        .login(0, UserType::SecurityOfficer, SO_PIN)
        .expect("so login");
    device.init_pin(0, USER_PIN).expect("init_pin");
    device.logout();
    (dir, device)
}

/// A new token with the user logged in.
pub(super) fn logged_in() -> (TempDir, SoftDevice) {
    let (dir, device) = initialized();
    device
        .login(0, UserType::User, USER_PIN)
        .expect("user login");
    (dir, device)
}

/// A token AES-256 key with `value`, plus `extra` attributes.
pub(super) fn aes_template(value: &[u8], extra: &[Attribute]) -> Vec<Attribute> {
    let mut template = vec![
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, CKK_AES),
        boolean(CKA_TOKEN, true),
        bytes(CKA_VALUE, value),
    ];
    template.extend_from_slice(extra);
    template
}

/// The attributes that leave a secret key's value readable.
pub(super) fn readable() -> [Attribute; 2] {
    [
        boolean(CKA_SENSITIVE, false),
        boolean(CKA_EXTRACTABLE, true),
    ]
}

/// `template`, created by the user in R/W session 1, or a panic.
pub(super) fn create(device: &SoftDevice, template: &[Attribute]) -> Handle {
    device
        .create_object(&user_rw(), template)
        .expect("create_object")
}

/// A readable token AES key with `value`, created by the user.
pub(super) fn create_readable_aes(device: &SoftDevice, value: &[u8]) -> Handle {
    create(device, &aes_template(value, &readable()))
}

/// Every object `access` finds (an empty template).
pub(super) fn find_all(device: &SoftDevice, access: &Access) -> Vec<Handle> {
    device.find_objects(access, &[]).expect("find_objects")
}

/// `result` is the error `expected`; a failure names the case `what`.
pub(super) fn assert_refused<T: std::fmt::Debug + PartialEq>(
    result: crate::error::Result<T>,
    expected: CK_RV,
    what: &str,
) {
    assert_eq!(result.map_err(|e| e.rv()), Err(expected), "{what}");
}

/// The user sees no object at all: the refused calls created nothing.
pub(super) fn assert_nothing_created(device: &SoftDevice) {
    assert_eq!(
        find_all(device, &user_rw()),
        Vec::<Handle>::new(),
        "nothing was created"
    );
}

/// A public token data object labelled `label`.
pub(super) fn data_template(label: &str) -> Vec<Attribute> {
    vec![
        ulong(CKA_CLASS, CKO_DATA),
        boolean(CKA_TOKEN, true),
        boolean(CKA_PRIVATE, false),
        bytes(CKA_LABEL, label.as_bytes()),
        bytes(CKA_VALUE, b"payload"),
    ]
}

/// `kind` of `handle`, as the user sees it, is `expected`.
pub(super) fn assert_value(
    device: &SoftDevice,
    handle: Handle,
    kind: CK_ATTRIBUTE_TYPE,
    expected: impl AsRef<[u8]>,
) {
    let value = value_of(device, &user_rw(), handle, kind);
    assert_eq!(value, expected.as_ref(), "attribute 0x{kind:x}");
}

/// `left` and `right`, each a handle and an attribute, have one value as
/// `access` sees them.
pub(super) fn assert_same_value(
    device: &SoftDevice,
    access: &Access,
    left: (Handle, CK_ATTRIBUTE_TYPE),
    right: (Handle, CK_ATTRIBUTE_TYPE),
) {
    let value = |(handle, kind)| value_of(device, access, handle, kind);
    assert_eq!(value(left), value(right), "{left:x?} and {right:x?}");
}

/// Generates a key pair with `mechanism` in the user's session 1; returns
/// (public, private).
pub(super) fn generate_pair(
    device: &SoftDevice,
    mechanism: &crate::device::Mechanism,
    public: &[Attribute],
    private: &[Attribute],
) -> (Handle, Handle) {
    device
        .generate_key_pair(
            &user_rw(),
            KeyPairRequest {
                mechanism,
                public_template: public,
                private_template: private,
            },
        )
        .expect("generate_key_pair")
}

/// Generates an RSA-2048 token key pair with `id`; returns (public, private).
pub(super) fn rsa_pair(device: &SoftDevice, id: &[u8]) -> (Handle, Handle) {
    let public = [
        boolean(CKA_TOKEN, true),
        ulong(CKA_MODULUS_BITS, 2048),
        bytes(CKA_ID, id),
    ];
    let private = [boolean(CKA_TOKEN, true), bytes(CKA_ID, id)];
    let mechanism = crate::device::Mechanism::new(CKM_RSA_PKCS_KEY_PAIR_GEN);
    generate_pair(device, &mechanism, &public, &private)
}

/// Generates a P-256 token key pair, with `public_extra` and `private_extra`
/// added to the templates; returns (public, private).
pub(super) fn ec_pair(
    device: &SoftDevice,
    public_extra: &[Attribute],
    private_extra: &[Attribute],
) -> (Handle, Handle) {
    let public = [
        &[boolean(CKA_TOKEN, true), bytes(CKA_EC_PARAMS, P256)],
        public_extra,
    ]
    .concat();
    let private = [&[boolean(CKA_TOKEN, true)], private_extra].concat();
    let mechanism = crate::device::Mechanism::new(CKM_EC_KEY_PAIR_GEN);
    generate_pair(device, &mechanism, &public, &private)
}
