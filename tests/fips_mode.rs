//! `FIPS_APPROVED_ONLY=true` through the C ABI: the mechanism list shows
//! only what FIPS 140-3 approves, with its sizes and flags; what it leaves
//! out is refused when used; what it keeps works; the token's model says
//! so. The same calls on a default token succeed, so every refusal here is
//! the policy's.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;

fn fips_token() -> TestToken {
    TestToken::with_options(TokenOptions::default().with("FIPS_APPROVED_ONLY", "true"))
}

fn rv(result: Result<impl Sized, CkError>) -> Option<RvError> {
    match result {
        Err(CkError::Pkcs11(rv, _)) => Some(rv),
        Err(other) => panic!("not a PKCS#11 error: {other}"),
        Ok(_) => None,
    }
}

/// An RSA public key of `bits` made by OpenSSL, imported as a session
/// object, with the OpenSSL key that signs for it.
fn imported_rsa_public(
    session: &Session,
    bits: u32,
) -> (ObjectHandle, PKey<openssl::pkey::Private>) {
    let rsa = Rsa::generate(bits).unwrap();
    let public = session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::Modulus(rsa.n().to_vec()),
            Attribute::PublicExponent(rsa.e().to_vec()),
        ])
        .expect("C_CreateObject of an RSA public key");
    (public, PKey::from_rsa(rsa).unwrap())
}

fn openssl_sign(key: &PKey<openssl::pkey::Private>, digest: MessageDigest, data: &[u8]) -> Vec<u8> {
    let mut signer = Signer::new(digest, key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap()
}

#[test]
fn the_mechanism_list_keeps_only_what_fips_approves() {
    let token = fips_token();
    let info = |kind| token.pkcs11.get_mechanism_info(token.slot, kind);
    let sha1 = info(MechanismType::SHA1_RSA_PKCS).unwrap();
    assert!(
        sha1.verify() && !sha1.sign(),
        "SHA-1 signatures only verify"
    );
    let pkcs1 = info(MechanismType::RSA_PKCS).unwrap();
    assert!(pkcs1.sign() && !pkcs1.encrypt() && !pkcs1.wrap());
    for mechanism in token.pkcs11.get_mechanism_list(token.slot).unwrap() {
        let details = info(mechanism).unwrap();
        let rsa = [
            MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            MechanismType::SHA256_RSA_PKCS,
        ];
        if rsa.contains(&mechanism) {
            assert!(details.min_key_size() >= 2048, "{mechanism}");
        }
    }
    let model = token.pkcs11.get_token_info(token.slot).unwrap();
    assert_eq!(model.model().trim(), "soft device FIPS");
    // One token at a time: each holds the test lock while it lives.
    drop(token);
    let default = TestToken::new();
    let sha1 = default
        .pkcs11
        .get_mechanism_info(default.slot, MechanismType::SHA1_RSA_PKCS)
        .unwrap();
    assert!(sha1.sign(), "without the policy SHA-1 signs");
    assert_eq!(
        default
            .pkcs11
            .get_token_info(default.slot)
            .unwrap()
            .model()
            .trim(),
        "soft device"
    );
}

#[test]
fn what_fips_leaves_out_is_refused_and_what_it_keeps_works() {
    let token = fips_token();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"fips");
    let data = b"approved data";
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, pair.private, data)
        .expect("SHA-256 RSA signs");
    session
        .verify(&Mechanism::Sha256RsaPkcs, pair.public, data, &signature)
        .expect("and verifies");
    assert_eq!(
        rv(session.sign(&Mechanism::Sha1RsaPkcs, pair.private, data)),
        Some(RvError::MechanismInvalid),
        "SHA-1 signature generation"
    );
    assert_eq!(
        rv(session.encrypt(&Mechanism::RsaPkcs, pair.public, data)),
        Some(RvError::MechanismInvalid),
        "PKCS#1 v1.5 encryption"
    );
    // An old SHA-1 signature still verifies.
    let (public, openssl_key) = imported_rsa_public(&session, 2048);
    let old = openssl_sign(&openssl_key, MessageDigest::sha1(), data);
    session
        .verify(&Mechanism::Sha1RsaPkcs, public, data, &old)
        .expect("SHA-1 verification stays");
    // A 1024-bit key does not, whatever the hash.
    let (small, small_key) = imported_rsa_public(&session, 1024);
    let signature = openssl_sign(&small_key, MessageDigest::sha256(), data);
    assert_eq!(
        rv(session.verify(&Mechanism::Sha256RsaPkcs, small, data, &signature)),
        Some(RvError::KeySizeRange),
        "RSA-1024"
    );
    // HMAC keys below 112 bits.
    let short = import_secret(&session, KeyType::GENERIC_SECRET, &[7; 13]);
    assert_eq!(
        rv(session.sign(&Mechanism::Sha256Hmac, short, data)),
        Some(RvError::KeySizeRange),
        "a 13-byte HMAC key"
    );
    let long = import_secret(&session, KeyType::GENERIC_SECRET, &[7; 14]);
    session
        .sign(&Mechanism::Sha256Hmac, long, data)
        .expect("a 14-byte HMAC key");
    let generate = |len: u64| {
        session.generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::Token(false), Attribute::ValueLen(len.into())],
        )
    };
    assert_eq!(rv(generate(13)), Some(RvError::AttributeValueInvalid));
    generate(14).expect("a 14-byte generic secret");
}

#[test]
fn without_the_policy_the_same_calls_succeed() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"default");
    let data = b"approved data";
    session
        .sign(&Mechanism::Sha1RsaPkcs, pair.private, data)
        .expect("SHA-1 signs");
    session
        .encrypt(&Mechanism::RsaPkcs, pair.public, data)
        .expect("PKCS#1 v1.5 encrypts");
    let (small, small_key) = imported_rsa_public(&session, 1024);
    let signature = openssl_sign(&small_key, MessageDigest::sha256(), data);
    session
        .verify(&Mechanism::Sha256RsaPkcs, small, data, &signature)
        .expect("RSA-1024 verifies");
    // A generic secret below 112 bits generates (no HMAC takes it, with or
    // without the policy, but a derivation may).
    session
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::Token(false), Attribute::ValueLen(13.into())],
        )
        .expect("a 13-byte generic secret");
}
