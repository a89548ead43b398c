//! Tests of key wrapping, ECDH derivation and digests.

use super::test_support::*;
use super::{der, digest_init, ecdh_derive, public_attributes_of_private, unwrap, wrap};
use crate::device::{Mechanism, MechanismParameter};
use crate::error::Error;
use cryptoki_sys::*;
use openssl::derive::Deriver;

fn with_iv(kind: CK_MECHANISM_TYPE, iv: &[u8]) -> Mechanism {
    Mechanism {
        kind,
        parameter: MechanismParameter::Raw(iv.to_vec()),
    }
}

#[test]
fn aes_key_wrap_matches_the_rfc_3394_vector() {
    // RFC 3394 §4.1: 128 bits of key data with a 128-bit KEK.
    let kek = loaded_secret(CKK_AES, &hex("000102030405060708090A0B0C0D0E0F"));
    let key_data = hex("00112233445566778899AABBCCDDEEFF");
    let expected = hex("1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5");
    let mechanism = Mechanism::new(CKM_AES_KEY_WRAP);
    assert_eq!(wrap(&mechanism, &kek, &key_data).unwrap(), expected);
    assert_eq!(unwrap(&mechanism, &kek, &expected).unwrap(), key_data);
}

#[test]
fn aes_key_wrap_with_padding_matches_the_rfc_5649_vectors() {
    // RFC 5649 §6.
    let kek = loaded_secret(
        CKK_AES,
        &hex("5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8"),
    );
    let mechanism = Mechanism::new(CKM_AES_KEY_WRAP_PAD);
    let cases = [
        (
            "c37b7e6492584340 bed1220780894115 5068f738",
            "138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a",
        ),
        ("466f7250617369", "afbeb0f07dfbf541 9200f2ccb50bb24f"),
    ];
    for (key_data, expected) in cases {
        assert_eq!(
            wrap(&mechanism, &kek, &hex(key_data)).unwrap(),
            hex(expected)
        );
        assert_eq!(
            unwrap(&mechanism, &kek, &hex(expected)).unwrap(),
            hex(key_data)
        );
    }
}

#[test]
fn aes_key_wraps_round_trip_every_key_size() {
    for len in [16, 24, 32] {
        let kek = aes(len);
        for (mechanism, key_data) in [
            (Mechanism::new(CKM_AES_KEY_WRAP), vec![9u8; 40]),
            (with_iv(CKM_AES_KEY_WRAP, &[0xA5; 8]), vec![9u8; 16]),
            (Mechanism::new(CKM_AES_KEY_WRAP_PAD), vec![9u8; 1]),
            (Mechanism::new(CKM_AES_KEY_WRAP_PAD), vec![9u8; 1217]),
        ] {
            let wrapped = wrap(&mechanism, &kek, &key_data).unwrap();
            assert_eq!(unwrap(&mechanism, &kek, &wrapped).unwrap(), key_data);
        }
    }
}

#[test]
fn aes_key_wrap_needs_whole_semiblocks_of_at_least_16_bytes() {
    let mechanism = Mechanism::new(CKM_AES_KEY_WRAP);
    for len in [0, 8, 15, 17, 23] {
        assert!(
            matches!(
                wrap(&mechanism, &aes(16), &vec![1; len]),
                Err(Error::KeySizeRange)
            ),
            "{len}"
        );
    }
    assert!(matches!(
        wrap(&Mechanism::new(CKM_AES_KEY_WRAP_PAD), &aes(16), &[]),
        Err(Error::KeySizeRange)
    ));
}

#[test]
fn corrupted_or_foreign_aes_wrapped_keys_are_invalid() {
    for mechanism in [
        Mechanism::new(CKM_AES_KEY_WRAP),
        Mechanism::new(CKM_AES_KEY_WRAP_PAD),
    ] {
        let wrapped = wrap(&mechanism, &aes(32), &[7; 32]).unwrap();
        let mut corrupted = wrapped.clone();
        corrupted[20] ^= 1;
        assert!(matches!(
            unwrap(&mechanism, &aes(32), &corrupted),
            Err(Error::WrappedKeyInvalid)
        ));
        let other = loaded_secret(CKK_AES, &[1; 32]);
        assert!(matches!(
            unwrap(&mechanism, &other, &wrapped),
            Err(Error::WrappedKeyInvalid)
        ));
        assert!(matches!(
            unwrap(&mechanism, &aes(32), &wrapped[..wrapped.len() - 1]),
            Err(Error::WrappedKeyInvalid)
        ));
        assert!(matches!(
            unwrap(&mechanism, &aes(32), &[0; 8]),
            Err(Error::WrappedKeyInvalid)
        ));
    }
}

#[test]
fn aes_key_wrap_with_a_bad_parameter_is_refused() {
    for mechanism in [
        with_iv(CKM_AES_KEY_WRAP, &[0; 7]),
        with_iv(CKM_AES_KEY_WRAP_PAD, &[0; 8]),
    ] {
        assert!(matches!(
            wrap(&mechanism, &aes(16), &[0; 16]),
            Err(Error::MechanismParamInvalid(_))
        ));
    }
}

fn oaep() -> Mechanism {
    Mechanism {
        kind: CKM_RSA_PKCS_OAEP,
        parameter: MechanismParameter::Oaep {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            label: vec![],
        },
    }
}

#[test]
fn rsa_oaep_wraps_with_the_public_key_and_unwraps_with_the_private_key() {
    let secret = [0x3C; 32];
    for wrapping in [rsa(), loaded_public(&rsa_private())] {
        let wrapped = wrap(&oaep(), &wrapping, &secret).unwrap();
        assert_eq!(wrapped.len(), 256);
        assert_eq!(unwrap(&oaep(), &rsa(), &wrapped).unwrap(), secret);
    }
}

#[test]
fn rsa_oaep_unwrap_of_corrupted_input_is_invalid() {
    let mut wrapped = wrap(&oaep(), &rsa(), &[1; 16]).unwrap();
    wrapped[0] ^= 1;
    assert!(matches!(
        unwrap(&oaep(), &rsa(), &wrapped),
        Err(Error::WrappedKeyInvalid)
    ));
    assert!(matches!(
        unwrap(&oaep(), &rsa(), &wrapped[1..]),
        Err(Error::WrappedKeyInvalid)
    ));
}

#[test]
fn rsa_oaep_wrap_of_a_key_too_long_for_the_modulus_is_a_key_size_error() {
    assert!(matches!(
        wrap(&oaep(), &rsa(), &[1; 191]),
        Err(Error::KeySizeRange)
    ));
}

#[test]
fn wrapping_keys_of_the_wrong_type_are_inconsistent() {
    assert!(matches!(
        wrap(&Mechanism::new(CKM_AES_KEY_WRAP), &rsa(), &[0; 16]),
        Err(Error::WrappingKeyTypeInconsistent)
    ));
    assert!(matches!(
        wrap(&oaep(), &aes(16), &[0; 16]),
        Err(Error::WrappingKeyTypeInconsistent)
    ));
    let public = loaded_public(&rsa_private());
    assert!(matches!(
        unwrap(&oaep(), &public, &[0; 256]),
        Err(Error::UnwrappingKeyTypeInconsistent)
    ));
    assert!(matches!(
        unwrap(&Mechanism::new(CKM_AES_KEY_WRAP_PAD), &ec(P256), &[0; 16]),
        Err(Error::UnwrappingKeyTypeInconsistent)
    ));
    assert!(matches!(
        wrap(&Mechanism::new(CKM_AES_CBC_PAD), &aes(16), &[0; 16]),
        Err(Error::MechanismInvalid(CKM_AES_CBC_PAD))
    ));
}

fn ecdh(kdf: CK_ULONG, shared_data: &[u8], public_data: &[u8]) -> Mechanism {
    Mechanism {
        kind: CKM_ECDH1_DERIVE,
        parameter: MechanismParameter::Ecdh {
            kdf,
            shared_data: shared_data.to_vec(),
            public_data: public_data.to_vec(),
        },
    }
}

/// The CKA_EC_POINT of a key, DER-wrapped and raw.
fn points(params: &[u8], index: usize) -> (Vec<u8>, Vec<u8>) {
    let key = if index == 0 {
        ec_private(params)
    } else {
        super::generate_ec(params).unwrap()
    };
    let der_point = public_attributes_of_private(&key)
        .unwrap()
        .get(CKA_EC_POINT)
        .unwrap()
        .to_vec();
    let raw = der::decode_octet_string(&der_point).unwrap().to_vec();
    (der_point, raw)
}

#[test]
fn ecdh_gives_both_sides_the_same_secret_as_openssl() {
    for (params, len) in [(P256, 32), (P384, 48), (P521, 66)] {
        let alice = ec_private(params);
        let bob = super::generate_ec(params).unwrap();
        let bob_point = public_attributes_of_private(&bob)
            .unwrap()
            .get(CKA_EC_POINT)
            .unwrap()
            .to_vec();
        let alice_point = public_attributes_of_private(&alice)
            .unwrap()
            .get(CKA_EC_POINT)
            .unwrap()
            .to_vec();
        let from_alice = ecdh_derive(
            &ecdh(CKD_NULL, &[], &bob_point),
            &loaded_private(alice.clone()),
            0,
        )
        .unwrap();
        let raw_alice_point = der::decode_octet_string(&alice_point).unwrap();
        let from_bob = ecdh_derive(
            &ecdh(CKD_NULL, &[], raw_alice_point),
            &loaded_private(bob.clone()),
            0,
        )
        .unwrap();
        assert_eq!(from_alice.len(), len);
        assert_eq!(from_alice, from_bob);
        let mut deriver = Deriver::new(&alice).unwrap();
        deriver.set_peer(&bob).unwrap();
        assert_eq!(deriver.derive_to_vec().unwrap(), from_alice);
    }
}

#[test]
fn ecdh_value_length_keeps_the_last_bytes_and_refuses_more_than_the_secret() {
    let (der_point, _) = points(P256, 1);
    let key = ec(P256);
    let whole = ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 0).unwrap();
    assert_eq!(
        ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 16).unwrap(),
        whole[16..]
    );
    assert_eq!(
        ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 32).unwrap(),
        whole
    );
    assert!(matches!(
        ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 33),
        Err(Error::KeySizeRange)
    ));
}

#[test]
fn ecdh_with_the_x963_kdfs_agrees_on_both_sides() {
    let alice = ec_private(P384);
    let bob = super::generate_ec(P384).unwrap();
    let alice_point = public_attributes_of_private(&alice)
        .unwrap()
        .get(CKA_EC_POINT)
        .unwrap()
        .to_vec();
    let bob_point = public_attributes_of_private(&bob)
        .unwrap()
        .get(CKA_EC_POINT)
        .unwrap()
        .to_vec();
    for (kdf, hash_len) in [
        (CKD_SHA1_KDF, 20),
        (CKD_SHA224_KDF, 28),
        (CKD_SHA256_KDF, 32),
        (CKD_SHA384_KDF, 48),
        (CKD_SHA512_KDF, 64),
    ] {
        let a = ecdh_derive(
            &ecdh(kdf, b"info", &bob_point),
            &loaded_private(alice.clone()),
            100,
        )
        .unwrap();
        let b = ecdh_derive(
            &ecdh(kdf, b"info", &alice_point),
            &loaded_private(bob.clone()),
            100,
        )
        .unwrap();
        assert_eq!(a.len(), 100);
        assert_eq!(a, b);
        let default = ecdh_derive(
            &ecdh(kdf, b"info", &bob_point),
            &loaded_private(alice.clone()),
            0,
        )
        .unwrap();
        assert_eq!(default, a[..hash_len]);
    }
}

#[test]
fn x963_kdf_matches_a_known_answer() {
    // The X9.63 KDF by hand: SHA-256(Z || 00000001 || info).
    let (der_point, _) = points(P256, 1);
    let key = ec(P256);
    let z = ecdh_derive(&ecdh(CKD_NULL, &[], &der_point), &key, 0).unwrap();
    let mut input = z.clone();
    input.extend_from_slice(&[0, 0, 0, 1]);
    input.extend_from_slice(b"info");
    let derived = ecdh_derive(&ecdh(CKD_SHA256_KDF, b"info", &der_point), &key, 32).unwrap();
    assert_eq!(derived, openssl::sha::sha256(&input));
}

#[test]
fn ecdh_with_bad_parameters_is_refused() {
    let (der_point, raw) = points(P256, 1);
    let (p384_point, _) = points(P384, 0);
    let mut off_curve = raw.clone();
    off_curve[5] ^= 1;
    for mechanism in [
        Mechanism::new(CKM_ECDH1_DERIVE),
        ecdh(CKD_NULL, b"shared", &der_point),
        ecdh(CKD_SHA1_KDF_ASN1, &[], &der_point),
        ecdh(CKD_SHA256_KDF_SP800, &[], &der_point),
        ecdh(CKD_NULL, &[], &off_curve),
        ecdh(CKD_NULL, &[], &p384_point),
        ecdh(CKD_NULL, &[], &[]),
    ] {
        assert!(
            matches!(
                ecdh_derive(&mechanism, &ec(P256), 0),
                Err(Error::MechanismParamInvalid(_))
            ),
            "{mechanism:?}"
        );
    }
}

#[test]
fn ecdh_needs_an_ec_private_key() {
    let (der_point, _) = points(P256, 1);
    let mechanism = ecdh(CKD_NULL, &[], &der_point);
    assert!(matches!(
        ecdh_derive(&mechanism, &rsa(), 0),
        Err(Error::KeyTypeInconsistent)
    ));
    assert!(matches!(
        ecdh_derive(&mechanism, &loaded_public(&ec_private(P256)), 0),
        Err(Error::KeyTypeInconsistent)
    ));
    assert!(matches!(
        ecdh_derive(&Mechanism::new(CKM_ECDH1_COFACTOR_DERIVE), &ec(P256), 0),
        Err(Error::MechanismInvalid(_))
    ));
}

#[test]
fn digests_match_the_fips_180_abc_vectors() {
    let vectors = [
        (CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (CKM_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
        (CKM_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (CKM_SHA384, "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"),
        (
            CKM_SHA512,
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        ),
    ];
    for (kind, expected) in vectors {
        let mut digest = digest_init(&Mechanism::new(kind)).unwrap();
        digest.update(b"a").unwrap();
        digest.update(b"bc").unwrap();
        assert_eq!(digest.finish().unwrap(), hex(expected));
    }
}

#[test]
fn digest_mechanisms_outside_sha1_and_sha2_are_invalid() {
    for kind in [CKM_MD5, CKM_SHA3_256, CKM_SHA256_HMAC] {
        assert!(
            matches!(digest_init(&Mechanism::new(kind)), Err(Error::MechanismInvalid(k)) if k == kind)
        );
    }
}
