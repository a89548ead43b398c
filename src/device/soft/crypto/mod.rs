//! The cryptography of the software device, on OpenSSL: key generation,
//! import/export of key material as PKCS#11 attributes, and the operations
//! behind every mechanism the device advertises.
//!
//! Nothing here knows about storage, PINs or sessions: it is given key
//! material and a mechanism and does the math.

mod at_rest;
mod cipher;
#[cfg(test)]
mod cipher_tests;
mod curves;
mod der;
mod derive;
#[cfg(test)]
mod derive_tests;
mod digest;
#[cfg(test)]
mod ecdh_tests;
pub mod fips;
pub mod implicit_rejection;
mod kbkdf;
mod keys;
#[cfg(test)]
mod keys_tests;
mod loaded;
mod mac;
#[cfg(test)]
mod mechanism_tests;
mod mechanisms;
mod pqc;
#[cfg(test)]
mod pqc_tests;
mod sign;
#[cfg(test)]
mod sign_tests;
#[cfg(test)]
mod test_support;
mod wrap;
#[cfg(test)]
mod wrap_tests;

use crate::device::{
    CipherOperation, DigestOperation, Mechanism, MechanismParameter, SignOperation, VerifyOperation,
};
use crate::error::{Error, Result};
use crate::object::Attributes;
use cryptoki_sys::*;
use openssl::pkey::{PKey, Private, Public};
use std::sync::Arc;
use zeroize::Zeroizing;

pub use at_rest::{derive_pin_key, open, seal};
pub use derive::{bytes_kept, derive_value, is_simple_derivation};
pub use kbkdf::{check_kbkdf, kbkdf};
pub use keys::{
    generate_des3, generate_ec, generate_post_quantum, generate_rsa, generate_secret,
    import_private, import_public, private_from_der, private_to_der, public_from_der,
    public_from_private, public_to_der,
};
pub use mac::HMAC_MIN_KEY_LEN;
pub use mechanisms::{hmac_key_generated_by, mechanism_infos};
pub use wrap::{unwrap, wrap};

/// Key material ready for use: parsed once, shared by every operation.
pub enum KeyMaterial {
    /// An RSA, EC, Edwards or Montgomery private key.
    Private(PKey<Private>),
    /// An RSA, EC, Edwards or Montgomery public key.
    Public(PKey<Public>),
    /// An AES, Triple DES or generic secret key value, wiped when dropped.
    Secret(Zeroizing<Vec<u8>>),
}

/// A key as the operations need it.
pub struct LoadedKey {
    /// `CKK_RSA`, `CKK_EC`, `CKK_EC_EDWARDS`, `CKK_EC_MONTGOMERY`, `CKK_AES`,
    /// `CKK_DES2`, `CKK_DES3`, `CKK_GENERIC_SECRET` or an HMAC key type
    /// (`CKK_SHA256_HMAC`, ...).
    pub key_type: CK_KEY_TYPE,
    pub material: KeyMaterial,
}

/// The public attributes that describe `key`: for RSA `CKA_MODULUS`,
/// `CKA_MODULUS_BITS`, `CKA_PUBLIC_EXPONENT`; for EC, Edwards and Montgomery keys `CKA_EC_PARAMS`
/// and `CKA_EC_POINT` (DER OCTET STRING); for all, `CKA_PUBLIC_KEY_INFO` (SPKI DER)
/// and `CKA_KEY_TYPE`.
pub fn public_attributes_of_private(key: &PKey<Private>) -> Result<Attributes> {
    keys::public_attributes(key)
}

/// As [`public_attributes_of_private`], for a public key; an ML-DSA or
/// ML-KEM public key also has its `CKA_VALUE` (pk, ek).
pub fn public_attributes_of_public(key: &PKey<Public>) -> Result<Attributes> {
    let mut attributes = keys::public_attributes(key)?;
    if let Some(value) = keys::public_value_attribute(key)? {
        attributes.set(CKA_VALUE, value);
    }
    Ok(attributes)
}

/// A sensitive value of an ML-DSA or ML-KEM private key: `CKA_VALUE` (the
/// expanded sk or dk) or `CKA_SEED`; `None` for another attribute, or a
/// seed the key was imported without.
pub fn post_quantum_private_value(key: &PKey<Private>, kind: CK_ATTRIBUTE_TYPE) -> Option<Vec<u8>> {
    match kind {
        CKA_VALUE => pqc::private_value(key),
        CKA_SEED => pqc::seed(key),
        _ => None,
    }
}

/// The length of an ML-KEM shared secret.
pub const KEM_SHARED_SECRET_LEN: usize = pqc::SHARED_SECRET_LEN;

/// The ciphertext length of `key`'s ML-KEM parameter set; another key is
/// `KeyTypeInconsistent`.
pub fn ciphertext_len(key: &LoadedKey) -> Result<usize> {
    key.asymmetric_key(CKK_ML_KEM)?
        .parameter_set()
        .map(pqc::ParameterSet::output_len)
        .ok_or(Error::KeyTypeInconsistent)
}

/// `CKM_ML_KEM` with `C_EncapsulateKey` (PKCS#11 3.2): a ciphertext for
/// `key`'s public half and the shared secret (32 bytes) in it.
pub fn encapsulate(key: &LoadedKey) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>)> {
    match key.asymmetric_key(CKK_ML_KEM)? {
        loaded::AsymmetricKey::Private(key) => pqc::encapsulate(key, None),
        loaded::AsymmetricKey::Public(key) => pqc::encapsulate(key, None),
    }
}

/// `CKM_ML_KEM` with `C_DecapsulateKey`: the shared secret of
/// `ciphertext` (the implicit-rejection one for a ciphertext not made for
/// this key); a ciphertext of the wrong length is `EncryptedDataLenRange`.
pub fn decapsulate(key: &LoadedKey, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    pqc::decapsulate(key.private_key(CKK_ML_KEM)?, ciphertext)
}

/// Whether two `CKA_EC_PARAMS` values name the same supported curve (an
/// OID and its PrintableString name do).
pub fn same_curve(a: &[u8], b: &[u8]) -> bool {
    matches!(
        (curves::Curve::from_params(a), curves::Curve::from_params(b)),
        (Ok(x), Ok(y)) if x == y
    )
}

/// Starts a signature with `key` (a private key, or a secret for HMAC).
/// A mechanism that does not fit the key is `Error::KeyTypeInconsistent`;
/// one the device lacks, `Error::MechanismInvalid`; a bad parameter,
/// `Error::MechanismParamInvalid`; a public key, `Error::KeyTypeInconsistent`.
/// The single-part mechanisms (`CKM_RSA_PKCS`, `CKM_RSA_PKCS_PSS`,
/// `CKM_ECDSA`, `CKM_EDDSA`) collect `update` data and sign it at `finish`
/// (PKCS#11 allows refusing; collecting is friendlier). Input over the
/// mechanism's limit is `Error::DataLenRange`.
pub fn sign_init(key: Arc<LoadedKey>, mechanism: &Mechanism) -> Result<Box<dyn SignOperation>> {
    sign::sign_init(key, mechanism)
}

/// Starts a verification with `key` (a public key, a private key, or a secret for HMAC).
/// A wrong signature is `Error::SignatureInvalid`; one of the wrong length,
/// `Error::SignatureLenRange`; HMACs are compared in constant time.
pub fn verify_init(key: Arc<LoadedKey>, mechanism: &Mechanism) -> Result<Box<dyn VerifyOperation>> {
    sign::verify_init(key, mechanism)
}

/// Starts an encryption. RSA is single-part (`update` collects, `finish`
/// encrypts); AES and Triple DES stream. Input the mechanism cannot take is `Error::DataLenRange`.
pub fn encrypt_init(
    key: Arc<LoadedKey>,
    mechanism: &Mechanism,
) -> Result<Box<dyn CipherOperation>> {
    cipher::cipher_init(key, mechanism, true)
}

/// Starts a decryption. A ciphertext of the wrong length is
/// `Error::EncryptedDataLenRange`; bad padding or a bad GCM tag,
/// `Error::EncryptedDataInvalid`. GCM releases no plaintext before `finish`
/// has verified the tag.
pub fn decrypt_init(
    key: Arc<LoadedKey>,
    mechanism: &Mechanism,
) -> Result<Box<dyn CipherOperation>> {
    cipher::cipher_init(key, mechanism, false)
}

/// Starts a digest (SHA-1, SHA-224, SHA-256, SHA-384, SHA-512, SHA3-224,
/// SHA3-256, SHA3-384, SHA3-512).
pub fn digest_init(mechanism: &Mechanism) -> Result<Box<dyn DigestOperation>> {
    digest::digest_init(mechanism)
}

/// `CKM_ECDH1_DERIVE` (`CKD_NULL`, and `CKD_SHA*_KDF`): the shared secret
/// between `private_key` (EC or Montgomery) and the peer point in the
/// parameter (raw, for X25519/X448 the u-coordinate, or in a DER OCTET STRING). With `CKD_NULL`, the last `value_len` bytes of the
/// secret (0 = all of it; more than there is, `Error::KeySizeRange`); with
/// a KDF, `value_len` bytes of ANSI X9.63 output (0 = one hash length, at
/// most 3072).
pub fn ecdh_derive(
    mechanism: &Mechanism,
    private_key: &LoadedKey,
    value_len: usize,
) -> Result<Vec<u8>> {
    wrap::ecdh_derive(mechanism, private_key, value_len)
}

/// Mechanisms without a parameter accept none, or an empty one (some
/// callers pass a non-null pointer with a zero length).
fn no_parameter(mechanism: &Mechanism) -> Result<()> {
    match &mechanism.parameter {
        MechanismParameter::None => Ok(()),
        MechanismParameter::Raw(bytes) if bytes.is_empty() => Ok(()),
        _ => Err(Error::MechanismParamInvalid(
            "this mechanism takes no parameter",
        )),
    }
}
