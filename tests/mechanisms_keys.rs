//! The key types and sizes the vendor library offers beyond the common
//! ones, end to end through the C ABI: Triple DES (generated `CKK_DES3`,
//! imported `CKK_DES2`), the curves P-224 and secp256k1, X25519 and X448
//! (`CKK_EC_MONTGOMERY`), Ed448, curves named by PrintableString, and RSA
//! from 1024 to 16384 bits. Each result is checked against a standard's
//! known answer or against the `openssl` crate.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use openssl::bn::{BigNum, BigNumContext};
use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::{Signer, Verifier};
use openssl::symm::{Cipher, Crypter, Mode};

const DATA: &[u8] = b"Forty-eight bytes of plaintext, six DES blocks..";

/// `CKA_EC_PARAMS` naming a curve by PrintableString, as PKCS#11 3.0
/// §2.3.3 allows next to the OID.
fn printable_string(name: &str) -> Vec<u8> {
    let mut der = vec![0x13, name.len() as u8];
    der.extend_from_slice(name.as_bytes());
    der
}

fn generate_pair(
    session: &Session,
    mechanism: &Mechanism,
    params: &[u8],
    usage: &[Attribute],
) -> KeyPair {
    let public = [
        Attribute::Token(false),
        Attribute::EcParams(params.to_vec()),
    ];
    let mut private = vec![
        Attribute::Token(false),
        Attribute::Private(true),
        Attribute::Sensitive(true),
    ];
    private.extend_from_slice(usage);
    let (public, private) = session
        .generate_key_pair(mechanism, &public, &private)
        .unwrap_or_else(|e| panic!("C_GenerateKeyPair {mechanism:?} {params:02x?}: {e}"));
    KeyPair { public, private }
}

fn point_of(session: &Session, public: ObjectHandle) -> Vec<u8> {
    ec_point_octets(&attribute_bytes(session, public, AttributeType::EcPoint))
}

fn key_type_of(session: &Session, object: ObjectHandle) -> KeyType {
    match session
        .get_attributes(object, &[AttributeType::KeyType])
        .unwrap()
        .pop()
    {
        Some(Attribute::KeyType(t)) => t,
        other => panic!("CKA_KEY_TYPE: {other:?}"),
    }
}

fn ecdh(session: &Session, private: ObjectHandle, peer: &[u8], len: u64) -> Vec<u8> {
    let params = Ecdh1DeriveParams::new(EcKdf::null(), peer);
    let template = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::ValueLen(len.into()),
    ];
    let key = session
        .derive_key(&Mechanism::Ecdh1Derive(params), private, &template)
        .unwrap_or_else(|e| panic!("C_DeriveKey CKM_ECDH1_DERIVE: {e}"));
    attribute_bytes(session, key, AttributeType::Value)
}

fn openssl_derive(private: &PKey<Private>, peer: &PKey<openssl::pkey::Public>) -> Vec<u8> {
    let mut deriver = Deriver::new(private).unwrap();
    deriver.set_peer(peer).unwrap();
    deriver.derive_to_vec().unwrap()
}

// ----- Triple DES -----

fn import_des(session: &Session, key_type: KeyType, value: &[u8]) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(false),
            Attribute::Value(value.to_vec()),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ])
        .unwrap_or_else(|e| panic!("C_CreateObject {key_type:?}: {e}"))
}

/// What the token's mechanism means in openssl: the cipher and whether it pads.
fn openssl_des3(mechanism: &Mechanism) -> (Cipher, Option<[u8; 8]>, bool) {
    match mechanism {
        Mechanism::Des3Ecb => (Cipher::des_ede3(), None, false),
        Mechanism::Des3Cbc(iv) => (Cipher::des_ede3_cbc(), Some(*iv), false),
        Mechanism::Des3CbcPad(iv) => (Cipher::des_ede3_cbc(), Some(*iv), true),
        other => panic!("not a Triple DES mechanism: {other:?}"),
    }
}

fn openssl_crypt(mechanism: &Mechanism, key: &[u8], input: &[u8], mode: Mode) -> Vec<u8> {
    let (cipher, iv, pad) = openssl_des3(mechanism);
    let mut crypter = Crypter::new(cipher, mode, key, iv.as_ref().map(|iv| &iv[..])).unwrap();
    crypter.pad(pad);
    let mut out = vec![0u8; input.len() + 16];
    let mut len = crypter.update(input, &mut out).unwrap();
    len += crypter.finalize(&mut out[len..]).unwrap();
    out.truncate(len);
    out
}

fn des3_mechanisms() -> [Mechanism<'static>; 3] {
    let iv = *b"\x01\x23\x45\x67\x89\xAB\xCD\xEF";
    [
        Mechanism::Des3Ecb,
        Mechanism::Des3Cbc(iv),
        Mechanism::Des3CbcPad(iv),
    ]
}

/// SP 800-67 Rev. 2 (Appendix B): the TDEA ECB example with three keys.
#[test]
fn des3_ecb_matches_the_sp_800_67_example() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = unhex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123");
    let plaintext = b"The qufck brown fox jump";
    let expected = unhex("A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900");
    let des3 = import_des(&session, KeyType::DES3, &key);
    assert_eq!(
        session
            .encrypt(&Mechanism::Des3Ecb, des3, plaintext)
            .unwrap(),
        expected
    );
    assert_eq!(
        session
            .decrypt(&Mechanism::Des3Ecb, des3, &expected)
            .unwrap(),
        plaintext
    );
}

#[test]
fn des3_key_generation_gives_24_bytes_of_odd_parity() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = session
        .generate_key(
            &Mechanism::Des3KeyGen,
            &[
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
            ],
        )
        .expect("C_GenerateKey CKM_DES3_KEY_GEN");
    assert_eq!(key_type_of(&session, key), KeyType::DES3);
    let value = attribute_bytes(&session, key, AttributeType::Value);
    assert_eq!(value.len(), 24);
    for (i, byte) in value.iter().enumerate() {
        assert_eq!(
            byte.count_ones() % 2,
            1,
            "byte {i} ({byte:#04x}) has even parity"
        );
    }
    assert!(
        value[..8] != value[8..16] && value[8..16] != value[16..],
        "three distinct DES keys"
    );
    let ciphertext = session
        .encrypt(&Mechanism::Des3Cbc([7; 8]), key, DATA)
        .unwrap();
    assert_eq!(
        ciphertext,
        openssl_crypt(&Mechanism::Des3Cbc([7; 8]), &value, DATA, Mode::Encrypt)
    );
}

/// Every Triple DES mode, with a generated-in-openssl `CKK_DES3` key and a
/// `CKK_DES2` key (which is K1 K2 K1), both directions, one-shot and in parts.
#[test]
fn des3_and_des2_encryption_on_the_token_matches_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let mut des3_key = [0u8; 24];
    openssl::rand::rand_bytes(&mut des3_key).unwrap();
    let des2_key = des3_key[..16].to_vec();
    let mut des2_as_des3 = des2_key.clone();
    des2_as_des3.extend_from_slice(&des3_key[..8]);
    let cases = [
        (KeyType::DES3, des3_key.to_vec(), des3_key.to_vec()),
        (KeyType::DES2, des2_key, des2_as_des3),
    ];
    for (key_type, value, openssl_key) in cases {
        let key = import_des(&session, key_type, &value);
        for mechanism in des3_mechanisms() {
            let what = format!("{key_type:?} {mechanism:?}");
            let expected = openssl_crypt(&mechanism, &openssl_key, DATA, Mode::Encrypt);
            let ciphertext = session.encrypt(&mechanism, key, DATA).unwrap();
            assert_eq!(ciphertext, expected, "{what}: C_Encrypt");
            assert_eq!(
                session.decrypt(&mechanism, key, &expected).unwrap(),
                DATA,
                "{what}: C_Decrypt"
            );

            session.encrypt_init(&mechanism, key).unwrap();
            let mut parts = Vec::new();
            for chunk in DATA.chunks(13) {
                parts.extend(session.encrypt_update(chunk).unwrap());
            }
            parts.extend(session.encrypt_final().unwrap());
            assert_eq!(parts, expected, "{what}: in parts");

            session.decrypt_init(&mechanism, key).unwrap();
            let mut plain = Vec::new();
            for chunk in expected.chunks(11) {
                plain.extend(session.decrypt_update(chunk).unwrap());
            }
            plain.extend(session.decrypt_final().unwrap());
            assert_eq!(plain, DATA, "{what}: decrypted in parts");
        }
    }
}

#[test]
fn des3_input_that_is_not_whole_blocks_is_data_len_range() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = import_des(&session, KeyType::DES3, &[0x5Bu8; 24]);
    for mechanism in [Mechanism::Des3Ecb, Mechanism::Des3Cbc([0; 8])] {
        assert_rv(
            session.encrypt(&mechanism, key, &DATA[..20]),
            RvError::DataLenRange,
        );
    }
    assert_rv(
        session.decrypt(&Mechanism::Des3CbcPad([0; 8]), key, &[0u8; 20]),
        RvError::EncryptedDataLenRange,
    );
}

#[test]
fn des_keys_of_the_wrong_length_are_refused() {
    let token = TestToken::new();
    let session = token.user_session();
    for (key_type, len) in [
        (KeyType::DES3, 16),
        (KeyType::DES3, 32),
        (KeyType::DES2, 24),
    ] {
        let result = session.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(key_type),
            Attribute::Token(false),
            Attribute::Value(vec![0x5B; len]),
        ]);
        assert_rv(result, RvError::AttributeValueInvalid);
    }
}

// ----- P-224 and secp256k1 -----

#[test]
fn p224_and_secp256k1_sign_and_derive_like_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    for (params, nid, field) in [(P224, Nid::SECP224R1, 28), (SECP256K1, Nid::SECP256K1, 32)] {
        let pair = generate_pair(
            &session,
            &Mechanism::EccKeyPairGen,
            params,
            &[Attribute::Sign(true), Attribute::Derive(true)],
        );
        let point = point_of(&session, pair.public);
        assert_eq!(point.len(), 2 * field + 1, "{nid:?}: uncompressed point");
        let public = openssl_public_key(&session, pair.public);
        public.ec_key().unwrap().check_key().unwrap();

        let digest = hash(MessageDigest::sha256(), DATA).unwrap();
        let signature = session
            .sign(&Mechanism::Ecdsa, pair.private, &digest)
            .unwrap();
        assert_eq!(signature.len(), 2 * field, "{nid:?}: r || s");
        let sig = EcdsaSig::from_private_components(
            BigNum::from_slice(&signature[..field]).unwrap(),
            BigNum::from_slice(&signature[field..]).unwrap(),
        )
        .unwrap();
        assert!(
            sig.verify(&digest, &public.ec_key().unwrap()).unwrap(),
            "{nid:?}: ECDSA-SHA256 signature"
        );

        let group = EcGroup::from_curve_name(nid).unwrap();
        let peer = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut context = BigNumContext::new().unwrap();
        let peer_point = peer
            .ec_key()
            .unwrap()
            .public_key()
            .to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut context)
            .unwrap();
        let secret = ecdh(&session, pair.private, &peer_point, field as u64);
        assert_eq!(secret, openssl_derive(&peer, &public), "{nid:?}: ECDH");
    }
}

// ----- X25519 and X448 -----

/// RFC 7748 §6.1: Alice's private key and Bob's public key give the
/// published shared secret, through an imported `CKK_EC_MONTGOMERY` key.
#[test]
fn x25519_derivation_matches_the_rfc_7748_example() {
    let token = TestToken::new();
    let session = token.user_session();
    let alice = session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC_MONTGOMERY),
            Attribute::Token(false),
            Attribute::Derive(true),
            Attribute::EcParams(X25519.to_vec()),
            Attribute::Value(unhex(
                "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
            )),
        ])
        .expect("C_CreateObject X25519 private key");
    let bob_public = unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    assert_eq!(
        ecdh(&session, alice, &bob_public, 32),
        unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    );
}

#[test]
fn montgomery_key_pairs_derive_the_secret_openssl_derives() {
    let token = TestToken::new();
    let session = token.user_session();
    let cases = [
        (X25519.to_vec(), Id::X25519, 32),
        (printable_string("curve25519"), Id::X25519, 32),
        (X448.to_vec(), Id::X448, 56),
        (printable_string("curve448"), Id::X448, 56),
    ];
    for (params, id, len) in cases {
        let pair = generate_pair(
            &session,
            &Mechanism::EccMontgomeryKeyPairGen,
            &params,
            &[Attribute::Derive(true)],
        );
        assert_eq!(key_type_of(&session, pair.private), KeyType::EC_MONTGOMERY);
        let point = point_of(&session, pair.public);
        assert_eq!(point.len(), len, "{id:?}: the RFC 7748 u-coordinate");
        let token_public = PKey::public_key_from_raw_bytes(&point, id).unwrap();
        let peer = match id {
            Id::X25519 => PKey::generate_x25519().unwrap(),
            _ => PKey::generate_x448().unwrap(),
        };
        let peer_point = peer.raw_public_key().unwrap();
        for peer_encoding in [peer_point.clone(), der_octet_string(&peer_point)] {
            let secret = ecdh(&session, pair.private, &peer_encoding, len as u64);
            assert_eq!(
                secret,
                openssl_derive(&peer, &token_public),
                "{id:?} with {params:02x?}"
            );
        }
    }
}

#[test]
fn x25519_peer_of_small_order_is_mechanism_param_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_pair(
        &session,
        &Mechanism::EccMontgomeryKeyPairGen,
        X25519,
        &[Attribute::Derive(true)],
    );
    // u = 0 is of small order: the shared secret would be all zeros (RFC 7748 §6.1).
    let zero = [0u8; 32];
    let params = Ecdh1DeriveParams::new(EcKdf::null(), &zero);
    let result = session.derive_key(
        &Mechanism::Ecdh1Derive(params),
        pair.private,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::ValueLen(32.into()),
        ],
    );
    assert_rv(result, RvError::MechanismParamInvalid);
}

// ----- Ed448 and curve names -----

/// `CKM_EDDSA` with no parameter: pure Ed25519 or Ed448.
fn pure_eddsa() -> Mechanism<'static> {
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(
        MechanismType::EDDSA,
        None,
    ))
}

#[test]
fn ed448_signatures_verify_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    for params in [ED448.to_vec(), printable_string("edwards448")] {
        let pair = generate_pair(
            &session,
            &Mechanism::EccEdwardsKeyPairGen,
            &params,
            &[Attribute::Sign(true)],
        );
        let point = point_of(&session, pair.public);
        assert_eq!(point.len(), 57, "an RFC 8032 Ed448 public key");
        let public = PKey::public_key_from_raw_bytes(&point, Id::ED448).unwrap();
        let signature = session.sign(&pure_eddsa(), pair.private, DATA).unwrap();
        assert_eq!(signature.len(), 114);
        let mut verifier = Verifier::new_without_digest(&public).unwrap();
        assert!(verifier.verify_oneshot(&signature, DATA).unwrap());
        let mut tampered = signature.clone();
        tampered[3] ^= 1;
        let mut verifier = Verifier::new_without_digest(&public).unwrap();
        assert!(!verifier.verify_oneshot(&tampered, DATA).unwrap_or(false));
    }
}

/// RFC 8032 §7.4 "blank": Ed448 is deterministic, so the imported secret
/// key signs the empty message with exactly the published signature.
#[test]
fn ed448_signature_matches_the_rfc_8032_example() {
    let token = TestToken::new();
    let session = token.user_session();
    let secret = unhex(concat!(
        "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3",
        "528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b"
    ));
    let key = session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::EcParams(ED448.to_vec()),
            Attribute::Value(secret),
        ])
        .expect("C_CreateObject Ed448 private key");
    let expected = unhex(concat!(
        "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f",
        "2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a",
        "9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4db",
        "b61149f05a7363268c71d95808ff2e652600"
    ));
    assert_eq!(session.sign(&pure_eddsa(), key, b"").unwrap(), expected);
}

/// RFC 8032 §7.3 (Ed25519ph, "abc") and §7.5 (Ed448ph, "abc" with the
/// context "foo"), and §7.2 (Ed25519ctx, context "foo"): imported secret
/// keys sign through `C_Sign` with a `CK_EDDSA_PARAMS` exactly as
/// published, and the public keys verify only with the same instance.
#[test]
fn eddsa_instances_with_ck_eddsa_params_match_rfc_8032() {
    let token = TestToken::new();
    let session = token.user_session();
    let cases: [(&[u8], &str, &str, EddsaSignatureScheme, &str); 3] = [
        (
            ED25519,
            "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            "616263",
            EddsaSignatureScheme::Ed25519ph(&[]),
            concat!(
                "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41",
                "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
            ),
        ),
        (
            ED25519,
            "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
            "f726936d19c800494e3fdaff20b276a8",
            EddsaSignatureScheme::Ed25519ctx(b"foo"),
            concat!(
                "55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a",
                "8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d"
            ),
        ),
        (
            ED448,
            concat!(
                "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
                "ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49"
            ),
            "616263",
            EddsaSignatureScheme::Ed448ph(b"foo"),
            concat!(
                "c32299d46ec8ff02b54540982814dce9a05812f81962b649d528095916a2aa48",
                "1065b1580423ef927ecf0af5888f90da0f6a9a85ad5dc3f280d91224ba9911a3",
                "653d00e484e2ce232521481c8658df304bb7745a73514cdb9bf3e15784ab7128",
                "4f8d0704a608c54a6b62d97beb511d132100"
            ),
        ),
    ];
    for (params, secret, message, scheme, expected) in cases {
        let key = session
            .create_object(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC_EDWARDS),
                Attribute::Token(false),
                Attribute::Sign(true),
                Attribute::EcParams(params.to_vec()),
                Attribute::Value(unhex(secret)),
            ])
            .expect("C_CreateObject EdDSA private key");
        let public = session
            .create_object(&[
                Attribute::Class(ObjectClass::PUBLIC_KEY),
                Attribute::KeyType(KeyType::EC_EDWARDS),
                Attribute::Token(false),
                Attribute::Verify(true),
                Attribute::EcParams(params.to_vec()),
                Attribute::EcPoint(point_of(&session, key)),
            ])
            .expect("C_CreateObject EdDSA public key");
        let mechanism = Mechanism::Eddsa(EddsaParams::new(scheme));
        let (message, expected) = (unhex(message), unhex(expected));
        let signature = session.sign(&mechanism, key, &message).expect("C_Sign");
        assert_eq!(signature, expected);
        session
            .verify(&mechanism, public, &message, &signature)
            .expect("C_Verify with the same instance");
        assert_rv(
            session.verify(&pure_eddsa(), public, &message, &signature),
            RvError::SignatureInvalid,
        );
    }
}

#[test]
fn curves_named_by_printable_string_work_like_their_oids() {
    let token = TestToken::new();
    let session = token.user_session();
    for (name, oid) in [
        ("prime256v1", P256),
        ("secp256r1", P256),
        ("secp384r1", P384),
        ("secp224r1", P224),
        ("secp256k1", SECP256K1),
    ] {
        let pair = generate_pair(
            &session,
            &Mechanism::EccKeyPairGen,
            &printable_string(name),
            &[Attribute::Sign(true)],
        );
        let signature = session.sign(&Mechanism::Ecdsa, pair.private, &[7u8; 32]);
        let point = point_of(&session, pair.public);
        let expected_field = match oid {
            p if p == P224 => 28,
            p if p == P384 => 48,
            _ => 32,
        };
        assert_eq!(point.len(), 2 * expected_field + 1, "{name}");
        for key in [pair.public, pair.private] {
            assert_eq!(
                attribute_bytes(&session, key, AttributeType::EcParams),
                printable_string(name),
                "{name}: CKA_EC_PARAMS reads back as given"
            );
        }
        assert_eq!(signature.unwrap().len(), 2 * expected_field, "{name}");
    }
    let result = session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::EcParams(printable_string("brainpoolP256r1")),
        ],
        &[Attribute::Token(false), Attribute::Sign(true)],
    );
    assert_rv(result, RvError::CurveNotSupported);
}

// ----- RSA from 1024 to 16384 bits -----

fn import_rsa_private(session: &Session, rsa: &Rsa<Private>) -> ObjectHandle {
    let bytes = |n: &openssl::bn::BigNumRef| n.to_vec();
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::Modulus(bytes(rsa.n())),
            Attribute::PublicExponent(bytes(rsa.e())),
            Attribute::PrivateExponent(bytes(rsa.d())),
            Attribute::Prime1(bytes(rsa.p().unwrap())),
            Attribute::Prime2(bytes(rsa.q().unwrap())),
            Attribute::Exponent1(bytes(rsa.dmp1().unwrap())),
            Attribute::Exponent2(bytes(rsa.dmq1().unwrap())),
            Attribute::Coefficient(bytes(rsa.iqmp().unwrap())),
        ])
        .unwrap_or_else(|e| panic!("C_CreateObject RSA-{}: {e}", rsa.size() * 8))
}

fn import_rsa_public(
    session: &Session,
    rsa: &Rsa<Private>,
) -> cryptoki::error::Result<ObjectHandle> {
    session.create_object(&[
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Verify(true),
        Attribute::Modulus(rsa.n().to_vec()),
        Attribute::PublicExponent(rsa.e().to_vec()),
    ])
}

fn openssl_sign(rsa: &Rsa<Private>, data: &[u8]) -> Vec<u8> {
    let key = PKey::from_rsa(rsa.clone()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap()
}

fn rsa_16384() -> Rsa<Private> {
    let rsa = Rsa::private_key_from_pem(include_bytes!(
        "../src/device/soft/crypto/testdata/rsa16384.pem"
    ))
    .unwrap();
    assert_eq!(rsa.size() * 8, 16384);
    rsa
}

#[test]
fn rsa_1024_keys_generate_and_sign() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 1024, false, b"rsa-1024");
    let modulus = attribute_bytes(&session, pair.public, AttributeType::Modulus);
    assert_eq!(modulus.len(), 128);
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, pair.private, DATA)
        .unwrap();
    let public = openssl_public_key(&session, pair.public);
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier.update(DATA).unwrap();
    assert!(verifier.verify(&signature).unwrap());
}

#[test]
fn rsa_8192_private_keys_import_and_sign_like_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = Rsa::private_key_from_pem(include_bytes!(
        "../src/device/soft/crypto/testdata/rsa8192.pem"
    ))
    .unwrap();
    assert_eq!(rsa.size() * 8, 8192);
    let private = import_rsa_private(&session, &rsa);
    assert_eq!(
        session
            .sign(&Mechanism::Sha256RsaPkcs, private, DATA)
            .unwrap(),
        openssl_sign(&rsa, DATA),
        "PKCS#1 v1.5 is deterministic"
    );
}

#[test]
fn rsa_16384_public_keys_import_and_verify() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = rsa_16384();
    let public = import_rsa_public(&session, &rsa).expect("C_CreateObject RSA-16384 public key");
    let signature = openssl_sign(&rsa, DATA);
    session
        .verify(&Mechanism::Sha256RsaPkcs, public, DATA, &signature)
        .expect("C_Verify with RSA-16384");
    let mut tampered = signature;
    tampered[100] ^= 1;
    assert_rv(
        session.verify(&Mechanism::Sha256RsaPkcs, public, DATA, &tampered),
        RvError::SignatureInvalid,
    );
}

#[test]
fn rsa_private_keys_beyond_8192_bits_are_attribute_value_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = rsa_16384();
    let bytes = |n: &openssl::bn::BigNumRef| n.to_vec();
    let result = session.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Modulus(bytes(rsa.n())),
        Attribute::PublicExponent(bytes(rsa.e())),
        Attribute::PrivateExponent(bytes(rsa.d())),
    ]);
    assert_rv(result, RvError::AttributeValueInvalid);
}

#[test]
fn rsa_mechanism_info_gives_the_vendor_sizes() {
    let token = TestToken::new();
    for (kind, min, max) in [
        (MechanismType::RSA_PKCS_KEY_PAIR_GEN, 1024, 4096),
        (MechanismType::SHA256_RSA_PKCS, 1024, 8192),
        (MechanismType::RSA_PKCS, 1024, 8192),
    ] {
        let info = token.pkcs11.get_mechanism_info(token.slot, kind).unwrap();
        assert_eq!(
            (info.min_key_size(), info.max_key_size()),
            (min, max),
            "{kind}"
        );
    }
}
