//! Tests of signatures and MACs, checked against plain OpenSSL.

use super::test_support::*;
use super::{der, sign_init, verify_init, LoadedKey, HMAC_MIN_KEY_LEN};
use crate::device::{Mechanism, MechanismParameter};
use crate::error::Error;
use cryptoki_sys::*;
use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use std::sync::Arc;

const MESSAGE: &[u8] = b"The quick brown fox jumps over the lazy dog";

fn mechanism(kind: CK_MECHANISM_TYPE) -> Mechanism {
    Mechanism::new(kind)
}

fn pss(
    kind: CK_MECHANISM_TYPE,
    hash: CK_MECHANISM_TYPE,
    mgf: CK_ULONG,
    salt_len: CK_ULONG,
) -> Mechanism {
    Mechanism {
        kind,
        parameter: MechanismParameter::Pss {
            hash,
            mgf,
            salt_len,
        },
        caller_parameter: None,
    }
}

fn sign(key: &Arc<LoadedKey>, mechanism: &Mechanism, data: &[u8]) -> Vec<u8> {
    sign_init(key.clone(), mechanism)
        .unwrap()
        .sign(data)
        .unwrap()
}

fn sign_in_parts(key: &Arc<LoadedKey>, mechanism: &Mechanism, data: &[u8]) -> Vec<u8> {
    let mut operation = sign_init(key.clone(), mechanism).unwrap();
    for part in data.chunks(7) {
        operation.update(part).unwrap();
    }
    operation.finish().unwrap()
}

fn verify(
    key: &Arc<LoadedKey>,
    mechanism: &Mechanism,
    data: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    verify_init(key.clone(), mechanism)?.verify(data, signature)
}

/// `one_shot` verifies in one call, and `in_parts` fed in parts.
fn verifies_both_ways(
    key: &Arc<LoadedKey>,
    mechanism: &Mechanism,
    data: &[u8],
    (one_shot, in_parts): (&[u8], &[u8]),
) {
    verify(key, mechanism, data, one_shot).expect("one-shot verification");
    let mut operation = verify_init(key.clone(), mechanism).unwrap();
    for part in data.chunks(5) {
        operation.update(part).unwrap();
    }
    operation.finish(in_parts).expect("verification in parts");
}

/// Signs one-shot and in parts, verifies both ways with the private and the
/// public key, and checks that a flipped bit is refused.
fn round_trip(private: &PKey<Private>, mechanism: &Mechanism, data: &[u8]) -> Vec<u8> {
    let key = loaded_private(private.clone());
    let public = loaded_public(private);
    let signature = sign(&key, mechanism, data);
    let in_parts = sign_in_parts(&key, mechanism, data);
    for verifier in [&key, &public] {
        verifies_both_ways(verifier, mechanism, data, (&signature, &in_parts));
        let mut bad = signature.clone();
        bad[signature.len() / 2] ^= 1;
        assert_fails!(
            verify(verifier, mechanism, data, &bad),
            Error::SignatureInvalid
        );
        assert_fails!(
            verify(verifier, mechanism, data, &signature[1..]),
            Error::SignatureLenRange
        );
    }
    signature
}

fn openssl_verifier<'a>(digest: MessageDigest, key: &'a PKey<Private>) -> Verifier<'a> {
    Verifier::new(digest, key).unwrap()
}

/// Each hash with its RSA PKCS #1 v1.5 and its ECDSA mechanism.
const HASHES: [(MessageDigestFn, CK_MECHANISM_TYPE, CK_MECHANISM_TYPE); 5] = [
    (MessageDigest::sha1, CKM_SHA1_RSA_PKCS, CKM_ECDSA_SHA1),
    (MessageDigest::sha224, CKM_SHA224_RSA_PKCS, CKM_ECDSA_SHA224),
    (MessageDigest::sha256, CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA256),
    (MessageDigest::sha384, CKM_SHA384_RSA_PKCS, CKM_ECDSA_SHA384),
    (MessageDigest::sha512, CKM_SHA512_RSA_PKCS, CKM_ECDSA_SHA512),
];

type MessageDigestFn = fn() -> MessageDigest;

#[test]
fn rsa_pkcs1_hash_and_sign_verifies_with_openssl() {
    let private = rsa_private();
    for (digest, kind, _) in HASHES {
        let signature = round_trip(&private, &mechanism(kind), MESSAGE);
        assert_eq!(signature.len(), 256);
        assert!(openssl_verifier(digest(), &private)
            .verify_oneshot(&signature, MESSAGE)
            .unwrap());
        // PKCS#1 v1.5 is deterministic: multi-part gives the same bytes.
        assert_eq!(
            sign_in_parts(&loaded_private(private.clone()), &mechanism(kind), MESSAGE),
            signature
        );
    }
}

#[test]
fn raw_rsa_pkcs_over_a_digest_info_equals_sha256_rsa_pkcs() {
    let digest = openssl::sha::sha256(MESSAGE);
    let mut digest_info = hex("3031300d060960864801650304020105000420");
    digest_info.extend_from_slice(&digest);
    let private = rsa_private();
    let raw = round_trip(&private, &mechanism(CKM_RSA_PKCS), &digest_info);
    assert_eq!(raw, sign(&rsa(), &mechanism(CKM_SHA256_RSA_PKCS), MESSAGE));
}

#[test]
fn raw_rsa_pkcs_input_longer_than_k_minus_11_is_a_data_length_error() {
    let key = rsa();
    let operation = || sign_init(key.clone(), &mechanism(CKM_RSA_PKCS)).unwrap();
    assert!(operation().sign(&[1; 245]).is_ok());
    assert_fails!(operation().sign(&[1; 246]), Error::DataLenRange);
    let mut in_parts = operation();
    in_parts.update(&[1; 200]).unwrap();
    assert_fails!(in_parts.update(&[1; 46]), Error::DataLenRange);
    assert_fails!(
        verify(&key, &mechanism(CKM_RSA_PKCS), &[1; 246], &[0; 256]),
        Error::DataLenRange
    );
}

/// A PSS mechanism, its hash, MGF and digest.
type PssCase = (
    CK_MECHANISM_TYPE,
    CK_MECHANISM_TYPE,
    CK_ULONG,
    fn() -> MessageDigest,
);

const PSS_HASHES: [PssCase; 5] = [
    (
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA_1,
        CKG_MGF1_SHA1,
        MessageDigest::sha1,
    ),
    (
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA224,
        CKG_MGF1_SHA224,
        MessageDigest::sha224,
    ),
    (
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA256,
        CKG_MGF1_SHA256,
        MessageDigest::sha256,
    ),
    (
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA384,
        CKG_MGF1_SHA384,
        MessageDigest::sha384,
    ),
    (
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_SHA512,
        CKG_MGF1_SHA512,
        MessageDigest::sha512,
    ),
];

fn openssl_pss_verifies(
    private: &PKey<Private>,
    digest: MessageDigest,
    salt: i32,
    data: &[u8],
    signature: &[u8],
) -> bool {
    let mut verifier = openssl_verifier(digest, private);
    verifier.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
    verifier.set_rsa_mgf1_md(digest).unwrap();
    verifier
        .set_rsa_pss_saltlen(RsaPssSaltlen::custom(salt))
        .unwrap();
    verifier.verify_oneshot(signature, data).unwrap()
}

#[test]
fn rsa_pss_hash_and_sign_verifies_with_openssl() {
    let private = rsa_private();
    for (kind, hash, mgf, digest) in PSS_HASHES {
        let salt = digest().size() as CK_ULONG;
        let signature = round_trip(&private, &pss(kind, hash, mgf, salt), MESSAGE);
        assert!(openssl_pss_verifies(
            &private,
            digest(),
            salt as i32,
            MESSAGE,
            &signature
        ));
    }
}

#[test]
fn rsa_pss_over_a_hash_verifies_with_openssl() {
    let private = rsa_private();
    for (_, hash, mgf, digest) in PSS_HASHES {
        let hashed = openssl::hash::hash(digest(), MESSAGE).unwrap();
        let signature = round_trip(&private, &pss(CKM_RSA_PKCS_PSS, hash, mgf, 20), &hashed);
        assert!(openssl_pss_verifies(
            &private,
            digest(),
            20,
            MESSAGE,
            &signature
        ));
    }
}

#[test]
fn rsa_pss_over_a_hash_of_the_wrong_length_is_a_data_length_error() {
    let mechanism = pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32);
    let result = sign_init(rsa(), &mechanism).unwrap().sign(&[0; 31]);
    assert_fails!(result, Error::DataLenRange);
}

#[test]
fn rsa_pss_with_bad_parameters_is_refused() {
    let cases = [
        Mechanism::new(CKM_RSA_PKCS_PSS),
        Mechanism::new(CKM_SHA256_RSA_PKCS_PSS),
        pss(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA1, 32),
        pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 32),
        pss(CKM_RSA_PKCS_PSS, CKM_MD5, CKG_MGF1_SHA1, 16),
        pss(CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, CKG_MGF1_SHA512, 256),
        // The largest salt lengths: the size check must not wrap around
        // (found by the mechanism_parameters fuzz target).
        pss(
            CKM_SHA256_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            CK_ULONG::MAX,
        ),
        pss(
            CKM_RSA_PKCS_PSS,
            CKM_SHA256,
            CKG_MGF1_SHA256,
            CK_ULONG::MAX - 33,
        ),
        with_raw_parameter(CKM_RSA_PKCS, vec![1]),
    ];
    assert_parameters_refused(cases, |mechanism| sign_init(rsa(), mechanism));
}

#[test]
fn ecdsa_signatures_are_r_and_s_padded_to_the_order_length() {
    for (params, scalar_len) in [(P256, 32), (P384, 48), (P521, 66)] {
        let private = ec_private(params);
        for (digest, _, kind) in HASHES {
            let signature = round_trip(&private, &mechanism(kind), MESSAGE);
            assert_eq!(signature.len(), 2 * scalar_len);
            let der_signature = der::ecdsa_raw_to_der(&signature);
            assert!(openssl_verifier(digest(), &private)
                .verify_oneshot(&der_signature, MESSAGE)
                .unwrap());
        }
    }
}

#[test]
fn ecdsa_over_a_hash_of_any_length_verifies_with_openssl() {
    for params in [P256, P384, P521] {
        let private = ec_private(params);
        for hashed in [
            vec![0x5A; 20],
            openssl::sha::sha256(MESSAGE).to_vec(),
            vec![0xA5; 64],
        ] {
            let signature = round_trip(&private, &mechanism(CKM_ECDSA), &hashed);
            let der_signature = der::ecdsa_raw_to_der(&signature);
            let sig = openssl::ecdsa::EcdsaSig::from_der(&der_signature).unwrap();
            assert!(sig.verify(&hashed, &private.ec_key().unwrap()).unwrap());
        }
    }
}

#[test]
fn eddsa_signs_pure_ed25519_verifiable_by_openssl() {
    let private = ec_private(ED25519);
    let signature = round_trip(&private, &mechanism(CKM_EDDSA), MESSAGE);
    assert_eq!(signature.len(), 64);
    let mut verifier = Verifier::new_without_digest(&private).unwrap();
    assert!(verifier.verify_oneshot(&signature, MESSAGE).unwrap());
    let no_context = Mechanism {
        kind: CKM_EDDSA,
        parameter: MechanismParameter::EdDsa {
            prehash: false,
            context: vec![],
        },
        caller_parameter: None,
    };
    assert_eq!(sign(&ec(ED25519), &no_context, MESSAGE), signature);
}

#[test]
fn eddsa_matches_the_rfc_8032_test_vector() {
    // RFC 8032 §7.1, TEST 1 (empty message).
    let secret = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let key = loaded_private(
        PKey::private_key_from_raw_bytes(&secret, openssl::pkey::Id::ED25519).unwrap(),
    );
    let expected = hex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155
         5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
    assert_eq!(sign(&key, &mechanism(CKM_EDDSA), b""), expected);
}

fn eddsa(prehash: bool, context: &[u8]) -> Mechanism {
    Mechanism {
        kind: CKM_EDDSA,
        parameter: MechanismParameter::EdDsa {
            prehash,
            context: context.to_vec(),
        },
        caller_parameter: None,
    }
}

/// RFC 8032 §7.2 (Ed25519ctx, TEST foo), §7.3 (Ed25519ph, TEST abc),
/// §7.4 (Ed448 with a context, 1 octet) and §7.5 (Ed448ph, TEST abc and
/// TEST abc with context "foo"): (key type, secret, public, message,
/// phFlag, context, signature).
type Rfc8032Case = (
    Id,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [u8],
    &'static str,
);

const RFC_8032_INSTANCES: [Rfc8032Case; 5] = [
    (
        Id::ED25519,
        "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
        "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
        "f726936d19c800494e3fdaff20b276a8",
        false,
        b"foo",
        "55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a
         8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d",
    ),
    (
        Id::ED25519,
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        "616263",
        true,
        b"",
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41
         31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
    ),
    (
        Id::ED448,
        "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acda2c463a
         fbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
        "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6798c086
         6aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
        "03",
        false,
        b"foo",
        "d4f8f6131770dd46f40867d6fd5d5055de43541f8c5e35abbcd001b32a89f7d2
         151f7647f11d8ca2ae279fb842d607217fce6e042f6815ea000c85741de5c8da
         1144a6a1aba7f96de42505d7a7298524fda538fccbbb754f578c1cad10d54d0d
         5428407e85dcbc98a49155c13764e66c3c00",
    ),
    (
        Id::ED448,
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42
         ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49",
        "259b71c19f83ef77a7abd26524cbdb3161b590a48f7d17de3ee0ba9c52beb743
         c09428a131d6b1b57303d90d8132c276d5ed3d5d01c0f53880",
        "616263",
        true,
        b"",
        "822f6901f7480f3d5f562c592994d9693602875614483256505600bbc281ae38
         1f54d6bce2ea911574932f52a4e6cadd78769375ec3ffd1b801a0d9b3f4030cd
         433964b6457ea39476511214f97469b57dd32dbc560a9a94d00bff07620464a3
         ad203df7dc7ce360c3cd3696d9d9fab90f00",
    ),
    (
        Id::ED448,
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42
         ef7822e0d5104127dc05d6dbefde69e3ab2cec7c867c6e2c49",
        "259b71c19f83ef77a7abd26524cbdb3161b590a48f7d17de3ee0ba9c52beb743
         c09428a131d6b1b57303d90d8132c276d5ed3d5d01c0f53880",
        "616263",
        true,
        b"foo",
        "c32299d46ec8ff02b54540982814dce9a05812f81962b649d528095916a2aa48
         1065b1580423ef927ecf0af5888f90da0f6a9a85ad5dc3f280d91224ba9911a3
         653d00e484e2ce232521481c8658df304bb7745a73514cdb9bf3e15784ab7128
         4f8d0704a608c54a6b62d97beb511d132100",
    ),
];

#[test]
fn eddsa_instances_match_the_rfc_8032_test_vectors() {
    for (id, secret, public, message, prehash, context, expected) in RFC_8032_INSTANCES {
        let private = PKey::private_key_from_raw_bytes(&hex(secret), id).unwrap();
        assert_eq!(private.raw_public_key().unwrap(), hex(public));
        let key = loaded_private(private.clone());
        let mechanism = eddsa(prehash, context);
        let (message, expected) = (hex(message), hex(expected));
        assert_eq!(
            sign(&key, &mechanism, &message),
            expected,
            "{id:?} {prehash} {context:?}"
        );
        assert_eq!(sign_in_parts(&key, &mechanism, &message), expected);
        let public = loaded_public(&private);
        verifies_both_ways(&public, &mechanism, &message, (&expected, &expected));
    }
}

#[test]
fn an_eddsa_signature_verifies_only_with_its_instance_and_context() {
    for (id, secret, _, message, prehash, context, expected) in RFC_8032_INSTANCES {
        let private = PKey::private_key_from_raw_bytes(&hex(secret), id).unwrap();
        let public = loaded_public(&private);
        let (message, expected) = (hex(message), hex(expected));
        let wrong_context = eddsa(prehash, b"bar");
        let other_instance = eddsa(!prehash, context);
        let pure = mechanism(CKM_EDDSA);
        for wrong in [&wrong_context, &other_instance, &pure] {
            assert_fails!(
                verify(&public, wrong, &message, &expected),
                Error::SignatureInvalid
            );
        }
        let mut flipped = expected.clone();
        flipped[5] ^= 1;
        assert_fails!(
            verify(&public, &eddsa(prehash, context), &message, &flipped),
            Error::SignatureInvalid
        );
    }
}

#[test]
fn eddsa_without_a_context_and_without_phflag_is_pure() {
    // Ed448 pure is Ed448 with an empty context; Ed25519 pure has no dom2
    // prefix at all. A CK_EDDSA_PARAMS of phFlag FALSE and no context
    // signs as the NULL parameter does.
    for params in [ED25519, ED448] {
        let key = ec(params);
        let pure = sign(&key, &mechanism(CKM_EDDSA), MESSAGE);
        assert_eq!(sign(&key, &eddsa(false, b""), MESSAGE), pure);
    }
}

#[test]
fn eddsa_with_a_long_context_or_a_raw_parameter_is_refused() {
    for parameter in [
        MechanismParameter::EdDsa {
            prehash: true,
            context: vec![7; 256],
        },
        MechanismParameter::Raw(vec![0; 4]),
    ] {
        let mechanism = Mechanism {
            kind: CKM_EDDSA,
            parameter,
            caller_parameter: None,
        };
        assert_fails!(
            sign_init(ec(ED25519), &mechanism),
            Error::MechanismParamInvalid(_)
        );
    }
    // 255 bytes is the longest context RFC 8032 allows.
    let key = ec(ED448);
    let signature = sign(&key, &eddsa(true, &[7; 255]), MESSAGE);
    assert_eq!(signature.len(), 114);
}

/// RFC 4231 test case 1 (and RFC 2202 test case 1 for SHA-1): twenty
/// 0x0b bytes. (Test case 2's key, "Jefe", is shorter than any HMAC takes.)
const HMAC_VECTORS: [(CK_MECHANISM_TYPE, &str); 5] = [
    (CKM_SHA_1_HMAC, "b617318655057264e28bc0b6fb378c8ef146be00"),
    (CKM_SHA224_HMAC, "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22"),
    (CKM_SHA256_HMAC, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        CKM_SHA384_HMAC,
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
    ),
    (
        CKM_SHA512_HMAC,
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
];

#[test]
fn hmac_matches_the_rfc_4231_vectors() {
    let key = loaded_secret(CKK_GENERIC_SECRET, &[0x0b; 20]);
    let data = b"Hi There";
    for (kind, expected) in HMAC_VECTORS {
        let mac = sign(&key, &mechanism(kind), data);
        assert_eq!(mac, hex(expected));
        assert_eq!(sign_in_parts(&key, &mechanism(kind), data), mac);
        verifies_both_ways(&key, &mechanism(kind), data, (&mac, &mac));
        let mut bad = mac.clone();
        bad[0] ^= 0x80;
        assert_fails!(
            verify(&key, &mechanism(kind), data, &bad),
            Error::SignatureInvalid
        );
        assert_fails!(
            verify(&key, &mechanism(kind), data, &mac[..12]),
            Error::SignatureLenRange
        );
    }
}

#[test]
fn hmac_needs_a_generic_secret_of_14_to_3072_bytes() {
    let mechanism = mechanism(CKM_SHA256_HMAC);
    assert_fails!(sign_init(aes(32), &mechanism), Error::KeyTypeInconsistent);
    for len in [0, 1, 4, HMAC_MIN_KEY_LEN - 1, 3073] {
        let key = loaded_secret(CKK_GENERIC_SECRET, &vec![1; len]);
        assert_fails!(
            sign_init(key.clone(), &mechanism),
            Error::KeySizeRange,
            "{len}"
        );
        assert_fails!(verify_init(key, &mechanism), Error::KeySizeRange, "{len}");
    }
    for len in [HMAC_MIN_KEY_LEN, 3072] {
        assert!(sign_init(loaded_secret(CKK_GENERIC_SECRET, &vec![1; len]), &mechanism).is_ok());
    }
}

#[test]
fn a_key_of_the_wrong_type_is_inconsistent() {
    let cases = [
        (aes(16), CKM_SHA256_RSA_PKCS),
        (rsa(), CKM_ECDSA),
        (ec(P256), CKM_RSA_PKCS),
        (ec(P256), CKM_EDDSA),
        (ec(ED25519), CKM_ECDSA_SHA256),
        (rsa(), CKM_SHA256_HMAC),
    ];
    for (key, kind) in cases {
        assert_fails!(
            sign_init(key.clone(), &mechanism(kind)),
            Error::KeyTypeInconsistent,
            "{kind:#x}"
        );
        assert_fails!(
            verify_init(key, &mechanism(kind)),
            Error::KeyTypeInconsistent,
            "{kind:#x}"
        );
    }
}

#[test]
fn signing_with_a_public_key_is_inconsistent() {
    for (private, kind) in [
        (rsa_private(), CKM_SHA256_RSA_PKCS),
        (ec_private(P256), CKM_ECDSA),
        (ec_private(ED25519), CKM_EDDSA),
    ] {
        let public = loaded_public(&private);
        assert_fails!(
            sign_init(public, &mechanism(kind)),
            Error::KeyTypeInconsistent
        );
    }
}

#[test]
fn mechanisms_that_do_not_sign_are_invalid() {
    for kind in [
        CKM_AES_CBC,
        CKM_SHA256,
        CKM_RSA_PKCS_OAEP,
        CKM_ECDH1_DERIVE,
        CKM_MD5_RSA_PKCS,
        CKM_RIPEMD160_RSA_PKCS,
        CKM_SHA512_224_HMAC,
    ] {
        assert!(
            matches!(sign_init(rsa(), &mechanism(kind)), Err(Error::MechanismInvalid(k)) if k == kind)
        );
        assert!(
            matches!(verify_init(rsa(), &mechanism(kind)), Err(Error::MechanismInvalid(k)) if k == kind)
        );
    }
}

#[test]
fn rsa_keys_outside_1024_to_4096_bits_are_refused() {
    let small = PKey::from_rsa(openssl::rsa::Rsa::generate(768).unwrap()).unwrap();
    let result = sign_init(loaded_private(small), &mechanism(CKM_SHA256_RSA_PKCS));
    assert_fails!(result, Error::KeySizeRange);
}
