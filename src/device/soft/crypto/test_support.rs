//! Keys shared by the unit tests, generated once per test run.
#![allow(dead_code)] // each test module uses a different subset

use super::{keys, KeyMaterial, LoadedKey};
use cryptoki_sys::*;
use openssl::pkey::{PKey, Private};
use std::sync::{Arc, OnceLock};

pub(super) const P256: &[u8] = super::der::P256_PARAMS;
pub(super) const P384: &[u8] = super::der::P384_PARAMS;
pub(super) const P521: &[u8] = super::der::P521_PARAMS;
pub(super) const ED25519: &[u8] = super::der::ED25519_PARAMS;
pub(super) const P224: &[u8] = super::der::P224_PARAMS;
pub(super) const SECP256K1: &[u8] = super::der::SECP256K1_PARAMS;
pub(super) const ED448: &[u8] = super::der::ED448_PARAMS;
pub(super) const X25519: &[u8] = super::der::X25519_PARAMS;
pub(super) const X448: &[u8] = super::der::X448_PARAMS;
/// brainpoolP256r1 (OID 1.3.36.3.3.2.8.1.1.7): a named curve the device
/// does not support.
pub(super) const BRAINPOOL_P256R1: &[u8] = &[
    0x06, 0x09, 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
];
/// Every curve the device supports.
pub(super) const EVERY_CURVE: [&[u8]; 9] = [
    P224, P256, P384, P521, SECP256K1, ED25519, ED448, X25519, X448,
];

/// An 8192-bit RSA private key (the largest the device imports), made
/// once with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:8192`.
pub(super) fn rsa_8192() -> PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| PKey::private_key_from_pem(include_bytes!("testdata/rsa8192.pem")).unwrap())
        .clone()
}

/// A 16384-bit RSA key, made once the same way: the device imports its
/// public half (the largest it verifies and encrypts with); the tests sign
/// and decrypt with OpenSSL directly.
pub(super) fn rsa_16384() -> PKey<Private> {
    PKey::private_key_from_pem(include_bytes!("testdata/rsa16384.pem")).unwrap()
}

/// A 2048-bit RSA key, generated once.
pub(super) fn rsa_private() -> PKey<Private> {
    static KEY: OnceLock<PKey<Private>> = OnceLock::new();
    KEY.get_or_init(|| keys::generate_rsa(2048, &[]).unwrap())
        .clone()
}

/// An EC, Edwards or Montgomery key on `params`, generated once per curve.
pub(super) fn ec_private(params: &[u8]) -> PKey<Private> {
    static KEYS: OnceLock<Vec<(Vec<u8>, PKey<Private>)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        EVERY_CURVE
            .iter()
            .map(|p| (p.to_vec(), keys::generate_ec(p).unwrap()))
            .collect()
    });
    keys.iter().find(|(p, _)| p == params).unwrap().1.clone()
}

pub(super) fn loaded_private(key: PKey<Private>) -> Arc<LoadedKey> {
    let key_type = keys::key_type_of(&key).unwrap();
    Arc::new(LoadedKey {
        key_type,
        material: KeyMaterial::Private(key),
    })
}

/// A private key of `key_type`, as the device loads it.
pub(super) fn loaded_key(key_type: CK_KEY_TYPE, key: PKey<Private>) -> Arc<LoadedKey> {
    Arc::new(LoadedKey {
        key_type,
        material: KeyMaterial::Private(key),
    })
}

pub(super) fn loaded_public(key: &PKey<Private>) -> Arc<LoadedKey> {
    let key_type = keys::key_type_of(key).unwrap();
    Arc::new(LoadedKey {
        key_type,
        material: KeyMaterial::Public(keys::public_from_private(key).unwrap()),
    })
}

pub(super) fn loaded_secret(key_type: CK_KEY_TYPE, value: &[u8]) -> Arc<LoadedKey> {
    Arc::new(LoadedKey {
        key_type,
        material: KeyMaterial::Secret(value.to_vec().into()),
    })
}

pub(super) fn rsa() -> Arc<LoadedKey> {
    loaded_private(rsa_private())
}

pub(super) fn ec(params: &[u8]) -> Arc<LoadedKey> {
    loaded_private(ec_private(params))
}

pub(super) fn aes(len: usize) -> Arc<LoadedKey> {
    loaded_secret(CKK_AES, &vec![0x42; len])
}

pub(super) fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// `kind` with raw parameter bytes, as a caller passes them.
pub(super) fn with_raw_parameter(
    kind: CK_MECHANISM_TYPE,
    parameter: Vec<u8>,
) -> crate::device::Mechanism {
    crate::device::Mechanism {
        kind,
        parameter: crate::device::MechanismParameter::Raw(parameter),
        caller_parameter: None,
    }
}

/// Asserts that `$result` is an `Err` matching `$error`; a failure shows
/// the expression and what it gave instead.
macro_rules! assert_fails {
    ($result:expr, $error:pat) => {{
        let result = $result;
        assert!(
            matches!(result, Err($error)),
            "{}: {:?}",
            stringify!($result),
            result.map(drop)
        );
    }};
    ($result:expr, $error:pat, $($message:tt)+) => {{
        let result = $result;
        assert!(
            matches!(result, Err($error)),
            "{}: {:?}",
            format!($($message)+),
            result.map(drop)
        );
    }};
}
pub(crate) use assert_fails;

/// Each of `mechanisms` is refused by `init` for its parameter.
pub(super) fn assert_parameters_refused<T>(
    mechanisms: impl IntoIterator<Item = crate::device::Mechanism>,
    init: impl Fn(&crate::device::Mechanism) -> crate::error::Result<T>,
) {
    for mechanism in mechanisms {
        assert_fails!(
            init(&mechanism),
            crate::error::Error::MechanismParamInvalid(_),
            "{mechanism:?}"
        );
    }
}
