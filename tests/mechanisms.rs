//! Every mechanism the library lists: its `C_GetMechanismInfo`, key
//! generation, signing and verification checked against the `openssl`
//! crate with the exported public key, digests, random, and the two-call
//! output length convention. Encryption, wrapping, derivation and key
//! import are in `mechanisms_encryption.rs`.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::md::Md;
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::sign::RsaPssSaltlen;
use openssl::sign::Verifier;

/// Every mechanism the provider may list, the `C_GetMechanismInfo` flags its
/// round trip relies on, and the test (in this file,
/// `mechanisms_encryption.rs`, `mechanisms_keys.rs`, `mechanisms_macs.rs`,
/// `mechanisms_derive.rs`, `mechanisms_kdf.rs`, `mechanisms_wrap.rs` or
/// `mechanisms_post_quantum.rs`) that exercises it
/// end to end.
#[rustfmt::skip]
const COVERED: &[(CK_MECHANISM_TYPE, CK_FLAGS, &str)] = &[
    (CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "rsa_key_pair_generation_gives_the_requested_modulus"),
    (CKM_ML_DSA_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "ml_dsa_key_pairs_of_every_set_sign_verifiably_for_rustcrypto"),
    (CKM_ML_DSA, CKF_SIGN | CKF_VERIFY, "ml_dsa_key_pairs_of_every_set_sign_verifiably_for_rustcrypto"),
    (CKM_ML_KEM_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "encapsulation_follows_the_buffer_rules_and_makes_no_key_until_the_ciphertext_fits"),
    (CKM_ML_KEM, CKF_ENCAPSULATE | CKF_DECAPSULATE, "ml_kem_of_every_set_agrees_with_rustcrypto_both_ways"),
    (CKM_RSA_PKCS, CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT, "rsa_pkcs_raw_signature_verifies_with_openssl"),
    (CKM_SHA1_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "rsa_pkcs1_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA224_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "rsa_pkcs1_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA256_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "rsa_pkcs1_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA384_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "rsa_pkcs1_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA512_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "rsa_pkcs1_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "rsa_pss_signature_of_a_digest_verifies_with_openssl"),
    (CKM_SHA1_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "rsa_pss_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA224_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "rsa_pss_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA256_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "rsa_pss_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA384_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "rsa_pss_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_SHA512_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "rsa_pss_hash_and_sign_signatures_verify_with_openssl"),
    (CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP, "rsa_oaep_ciphertext_from_openssl_decrypts_on_the_token"),
    (CKM_RSA_PKCS, CKF_WRAP | CKF_UNWRAP, "rsa_pkcs_wrapping_round_trips_through_openssl"),
    (CKM_RSA_AES_KEY_WRAP, CKF_WRAP | CKF_UNWRAP, "rsa_aes_key_wrap_round_trips_through_openssl"),
    (CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "ec_key_pair_generation_covers_every_curve"),
    (CKM_ECDSA, CKF_SIGN | CKF_VERIFY, "ecdsa_signatures_verify_with_openssl_on_every_curve"),
    (CKM_ECDSA_SHA1, CKF_SIGN | CKF_VERIFY, "ecdsa_signatures_verify_with_openssl_on_every_curve"),
    (CKM_ECDSA_SHA224, CKF_SIGN | CKF_VERIFY, "ecdsa_signatures_verify_with_openssl_on_every_curve"),
    (CKM_ECDSA_SHA256, CKF_SIGN | CKF_VERIFY, "ecdsa_signatures_verify_with_openssl_on_every_curve"),
    (CKM_ECDSA_SHA384, CKF_SIGN | CKF_VERIFY, "ecdsa_signatures_verify_with_openssl_on_every_curve"),
    (CKM_ECDSA_SHA512, CKF_SIGN | CKF_VERIFY, "ecdsa_signatures_verify_with_openssl_on_every_curve"),
    (CKM_ECDH1_DERIVE, CKF_DERIVE, "ecdh_derivation_gives_both_sides_the_same_secret"),
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "ed25519_key_pair_generation_gives_a_32_byte_point"),
    (CKM_EDDSA, CKF_SIGN | CKF_VERIFY, "eddsa_signature_verifies_with_openssl"),
    (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, "montgomery_key_pairs_derive_the_secret_openssl_derives"),
    (CKM_AES_KEY_GEN, CKF_GENERATE, "aes_key_generation_gives_the_requested_length"),
    (CKM_AES_ECB, CKF_ENCRYPT | CKF_DECRYPT, "aes_encryption_on_the_token_matches_openssl"),
    (CKM_AES_CBC, CKF_ENCRYPT | CKF_DECRYPT, "aes_encryption_on_the_token_matches_openssl"),
    (CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT, "aes_encryption_on_the_token_matches_openssl"),
    (CKM_AES_CTR, CKF_ENCRYPT | CKF_DECRYPT, "aes_encryption_on_the_token_matches_openssl"),
    (CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT, "aes_encryption_on_the_token_matches_openssl"),
    (CKM_AES_GCM, CKF_WRAP | CKF_UNWRAP, "aes_gcm_wrapping_round_trips_through_openssl_and_checks_the_tag"),
    (CKM_AES_KEY_WRAP, CKF_WRAP | CKF_UNWRAP, "aes_key_wrap_matches_the_rfc_3394_vector"),
    (CKM_AES_KEY_WRAP_PAD, CKF_WRAP | CKF_UNWRAP, "aes_key_wrap_pad_matches_openssl"),
    (CKM_DES3_KEY_GEN, CKF_GENERATE, "des3_key_generation_gives_24_bytes_of_odd_parity"),
    (CKM_DES3_ECB, CKF_ENCRYPT | CKF_DECRYPT, "des3_ecb_matches_the_sp_800_67_example"),
    (CKM_DES3_CBC, CKF_ENCRYPT | CKF_DECRYPT, "des3_and_des2_encryption_on_the_token_matches_openssl"),
    (CKM_DES3_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT, "des3_and_des2_encryption_on_the_token_matches_openssl"),
    (CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE, "generic_secret_generation_gives_the_requested_length"),
    (CKM_SHA_1_HMAC, CKF_SIGN | CKF_VERIFY, "hmac_matches_openssl"),
    (CKM_SHA224_HMAC, CKF_SIGN | CKF_VERIFY, "hmac_matches_openssl"),
    (CKM_SHA256_HMAC, CKF_SIGN | CKF_VERIFY, "hmac_matches_openssl"),
    (CKM_SHA384_HMAC, CKF_SIGN | CKF_VERIFY, "hmac_matches_openssl"),
    (CKM_SHA512_HMAC, CKF_SIGN | CKF_VERIFY, "hmac_matches_openssl"),
    (CKM_SHA_1, CKF_DIGEST, "digests_match_openssl"),
    (CKM_SHA224, CKF_DIGEST, "digests_match_openssl"),
    (CKM_SHA256, CKF_DIGEST, "digests_match_openssl"),
    (CKM_SHA384, CKF_DIGEST, "digests_match_openssl"),
    (CKM_SHA512, CKF_DIGEST, "digests_match_openssl"),
    (CKM_SHA3_224_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_SHA3_224_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_ECDSA_SHA3_224, CKF_SIGN | CKF_VERIFY, "ecdsa_sha3_signatures_verify_with_openssl"),
    (CKM_SHA3_224_HMAC, CKF_SIGN | CKF_VERIFY, "sha3_hmacs_match_openssl_with_generic_and_hmac_keys"),
    (CKM_SHA3_224, CKF_DIGEST, "sha3_digests_match_the_fips_202_examples_and_openssl"),
    (CKM_SHA3_224_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA3_256_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_SHA3_256_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_ECDSA_SHA3_256, CKF_SIGN | CKF_VERIFY, "ecdsa_sha3_signatures_verify_with_openssl"),
    (CKM_SHA3_256_HMAC, CKF_SIGN | CKF_VERIFY, "sha3_hmacs_match_openssl_with_generic_and_hmac_keys"),
    (CKM_SHA3_256, CKF_DIGEST, "sha3_digests_match_the_fips_202_examples_and_openssl"),
    (CKM_SHA3_256_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA3_384_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_SHA3_384_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_ECDSA_SHA3_384, CKF_SIGN | CKF_VERIFY, "ecdsa_sha3_signatures_verify_with_openssl"),
    (CKM_SHA3_384_HMAC, CKF_SIGN | CKF_VERIFY, "sha3_hmacs_match_openssl_with_generic_and_hmac_keys"),
    (CKM_SHA3_384, CKF_DIGEST, "sha3_digests_match_the_fips_202_examples_and_openssl"),
    (CKM_SHA3_384_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA3_512_RSA_PKCS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_SHA3_512_RSA_PKCS_PSS, CKF_SIGN | CKF_VERIFY, "sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl"),
    (CKM_ECDSA_SHA3_512, CKF_SIGN | CKF_VERIFY, "ecdsa_sha3_signatures_verify_with_openssl"),
    (CKM_SHA3_512_HMAC, CKF_SIGN | CKF_VERIFY, "sha3_hmacs_match_openssl_with_generic_and_hmac_keys"),
    (CKM_SHA3_512, CKF_DIGEST, "sha3_digests_match_the_fips_202_examples_and_openssl"),
    (CKM_SHA3_512_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA_1_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA224_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA256_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA384_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_SHA512_KEY_GEN, CKF_GENERATE, "hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts"),
    (CKM_AES_CMAC, CKF_SIGN | CKF_VERIFY, "aes_cmac_matches_the_rfc_4493_examples"),
    (CKM_AES_CMAC_GENERAL, CKF_SIGN | CKF_VERIFY, "aes_cmac_general_gives_the_leading_bytes_of_the_mac"),
    (CKM_CONCATENATE_BASE_AND_KEY, CKF_DERIVE, "concatenation_and_xor_give_the_specified_bytes"),
    (CKM_CONCATENATE_BASE_AND_DATA, CKF_DERIVE, "concatenation_and_xor_give_the_specified_bytes"),
    (CKM_CONCATENATE_DATA_AND_BASE, CKF_DERIVE, "concatenation_and_xor_give_the_specified_bytes"),
    (CKM_XOR_BASE_AND_DATA, CKF_DERIVE, "concatenation_and_xor_give_the_specified_bytes"),
    (CKM_EXTRACT_KEY_FROM_KEY, CKF_DERIVE, "extraction_matches_the_specifications_example"),
    (CKM_AES_ECB_ENCRYPT_DATA, CKF_DERIVE, "aes_encryption_of_data_matches_fips_197_and_openssl"),
    (CKM_AES_CBC_ENCRYPT_DATA, CKF_DERIVE, "aes_encryption_of_data_matches_fips_197_and_openssl"),
    (CKM_SP800_108_COUNTER_KDF, CKF_DERIVE, "counter_mode_matches_openssl_kbkdf_for_each_prf"),
    (CKM_SP800_108_FEEDBACK_KDF, CKF_DERIVE, "feedback_mode_matches_openssl_kbkdf_for_each_prf"),
];

const DATA: &[u8] = b"The quick brown fox jumps over the lazy dog, signed through PKCS#11.";

/// A mechanism given by type and a raw `CK_*_PARAMS` (for the mechanisms
/// `cryptoki` has no variant for, such as `CKM_SHA224_RSA_PKCS_PSS`).
fn raw<'a, T>(kind: CK_MECHANISM_TYPE, params: Option<&'a T>) -> Mechanism<'a> {
    let kind = MechanismType::try_from(kind).expect("a mechanism cryptoki knows by number");
    Mechanism::VendorDefined(VendorDefinedMechanism::new(kind, params))
}

fn digest_of(md: MessageDigest, data: &[u8]) -> Vec<u8> {
    hash(md, data).unwrap().to_vec()
}

fn hash_mechanism(md: MessageDigest) -> (CK_MECHANISM_TYPE, CK_RSA_PKCS_MGF_TYPE) {
    match md.size() {
        20 => (CKM_SHA_1, CKG_MGF1_SHA1),
        28 => (CKM_SHA224, CKG_MGF1_SHA224),
        32 => (CKM_SHA256, CKG_MGF1_SHA256),
        48 => (CKM_SHA384, CKG_MGF1_SHA384),
        64 => (CKM_SHA512, CKG_MGF1_SHA512),
        n => panic!("no hash of {n} bytes"),
    }
}

fn verify_pkcs1(public: &PKey<Public>, md: MessageDigest, data: &[u8], signature: &[u8]) -> bool {
    let mut verifier = Verifier::new(md, public).unwrap();
    verifier.update(data).unwrap();
    verifier.verify(signature).unwrap_or(false)
}

fn verify_pss(public: &PKey<Public>, md: MessageDigest, data: &[u8], signature: &[u8]) -> bool {
    let mut verifier = Verifier::new(md, public).unwrap();
    verifier.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
    verifier
        .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
        .unwrap();
    verifier.set_rsa_mgf1_md(md).unwrap();
    verifier.update(data).unwrap();
    verifier.verify(signature).unwrap_or(false)
}

/// ECDSA `r || s` (PKCS#11's format) checked against the digest.
fn verify_ecdsa(public: &PKey<Public>, digest: &[u8], signature: &[u8]) -> bool {
    let half = signature.len() / 2;
    let sig = EcdsaSig::from_private_components(
        BigNum::from_slice(&signature[..half]).unwrap(),
        BigNum::from_slice(&signature[half..]).unwrap(),
    )
    .unwrap();
    sig.verify(digest, &public.ec_key().unwrap()).unwrap()
}

fn sign(session: &Session, mechanism: &Mechanism, key: ObjectHandle, data: &[u8]) -> Vec<u8> {
    session
        .sign(mechanism, key, data)
        .unwrap_or_else(|e| panic!("C_Sign {mechanism:?}: {e}"))
}

// ----- the list and the info -----

#[test]
fn every_listed_mechanism_has_a_round_trip_test() {
    let _token = TestToken::new();
    let listed = raw_mechanism_list();
    assert!(!listed.is_empty(), "C_GetMechanismList lists nothing");
    let untested: Vec<String> = listed
        .iter()
        .filter(|m| !COVERED.iter().any(|(covered, _, _)| covered == *m))
        .map(|m| format!("{m:#x}"))
        .collect();
    assert!(
        untested.is_empty(),
        "listed without a round-trip test: {untested:?}"
    );
}

/// The sources of the files `COVERED` names tests in.
const ROUND_TRIP_SOURCES: &[&str] = &[
    include_str!("mechanisms.rs"),
    include_str!("mechanisms_encryption.rs"),
    include_str!("mechanisms_keys.rs"),
    include_str!("mechanisms_wrap.rs"),
    include_str!("mechanisms_macs.rs"),
    include_str!("mechanisms_derive.rs"),
    include_str!("mechanisms_kdf.rs"),
    include_str!("mechanisms_post_quantum.rs"),
];

#[test]
fn every_covered_round_trip_test_exists() {
    let missing: Vec<&str> = COVERED
        .iter()
        .map(|(_, _, test)| *test)
        .filter(|test| {
            let definition = format!("#[test]\nfn {test}() {{");
            !ROUND_TRIP_SOURCES.iter().any(|s| s.contains(&definition))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "COVERED names tests that do not exist: {missing:?}"
    );
}

/// The `CKM_*` names of `mechanism` in the C header the provider ships.
fn mechanism_names(mechanism: CK_MECHANISM_TYPE) -> Vec<&'static str> {
    include_str!("../include/pkcs11t.h")
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("#define ")?.split_whitespace();
            let name = words.next().filter(|n| n.starts_with("CKM_"))?;
            let value = words.next()?.trim_end_matches("UL");
            let value = match value.strip_prefix("0x") {
                Some(hex) => CK_MECHANISM_TYPE::from_str_radix(hex, 16).ok()?,
                None => value.parse().ok()?,
            };
            (value == mechanism).then_some(name)
        })
        .collect()
}

#[test]
fn the_readme_names_every_listed_mechanism() {
    let _token = TestToken::new();
    let readme = include_str!("../README.md");
    let missing: Vec<String> = raw_mechanism_list()
        .into_iter()
        .filter(|&m| {
            !mechanism_names(m)
                .iter()
                .any(|name| readme.contains(&format!("`{name}`")))
        })
        .map(|m| format!("{m:#x} {:?}", mechanism_names(m)))
        .collect();
    assert!(missing.is_empty(), "README.md does not name {missing:?}");
}

#[test]
fn mechanism_info_flags_include_what_the_round_trip_tests_use() {
    let _token = TestToken::new();
    for mechanism in raw_mechanism_list() {
        let mut info = CK_MECHANISM_INFO::default();
        assert_ck!(
            ck!(C_GetMechanismInfo(SLOT_ID, mechanism, &mut info)),
            CKR_OK
        );
        // Over SoftHSM2, a row whose test the skip list leaves out claims
        // nothing of SoftHSM2's flags.
        let rows = COVERED.iter().filter(|(m, _, test)| {
            *m == mechanism && !(vendor_device() && skipped_tests().contains(test))
        });
        for (_, needed, test) in rows {
            assert_eq!(
                info.flags & needed,
                *needed,
                "{mechanism:#x}: flags {:#x} lack what {test} uses",
                info.flags
            );
        }
        assert!(
            info.ulMinKeySize <= info.ulMaxKeySize,
            "{mechanism:#x}: min {} > max {}",
            info.ulMinKeySize,
            info.ulMaxKeySize
        );
    }
}

#[test]
fn unlisted_mechanism_info_is_mechanism_invalid() {
    let _token = TestToken::new();
    let listed = raw_mechanism_list();
    let unlisted = [CKM_DES_CBC, CKM_VENDOR_DEFINED | 0x7A5C]
        .into_iter()
        .find(|m| !listed.contains(m))
        .expect("a mechanism the token does not list");
    let mut info = CK_MECHANISM_INFO::default();
    assert_ck!(
        ck!(C_GetMechanismInfo(SLOT_ID, unlisted, &mut info)),
        CKR_MECHANISM_INVALID
    );
}

// ----- key generation -----

#[test]
fn rsa_key_pair_generation_gives_the_requested_modulus() {
    let token = TestToken::new();
    let session = token.user_session();
    for bits in [2048u64, 3072, 4096] {
        let pair = generate_rsa(&session, bits, false, b"rsa");
        let attributes = session
            .get_attributes(pair.public, &[AttributeType::ModulusBits])
            .unwrap();
        assert_eq!(attributes, vec![Attribute::ModulusBits(bits.into())]);
        let modulus = attribute_bytes(&session, pair.public, AttributeType::Modulus);
        assert_eq!(modulus.len() as u64 * 8, bits);
        assert_eq!(
            attribute_bytes(&session, pair.public, AttributeType::PublicExponent),
            vec![1, 0, 1]
        );
        let public = openssl_public_key(&session, pair.public);
        let signature = sign(&session, &Mechanism::Sha256RsaPkcs, pair.private, DATA);
        assert!(
            verify_pkcs1(&public, MessageDigest::sha256(), DATA, &signature),
            "RSA-{bits}"
        );
    }
}

#[test]
fn rsa_key_pair_generation_outside_the_advertised_sizes_is_key_size_range() {
    let token = TestToken::new();
    let session = token.user_session();
    let info = token
        .pkcs11
        .get_mechanism_info(token.slot, MechanismType::RSA_PKCS_KEY_PAIR_GEN)
        .unwrap();
    let (min, max) = (info.min_key_size() as u64, info.max_key_size() as u64);
    for bits in [min / 2, max + 1024] {
        let result = session.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::ModulusBits(bits.into()),
                Attribute::Verify(true),
            ],
            &[Attribute::Token(false), Attribute::Sign(true)],
        );
        assert_eq!(
            rv_of(result),
            RvError::KeySizeRange,
            "{bits} bits (range {min}..={max})"
        );
    }
}

#[test]
fn ec_key_pair_generation_covers_every_curve() {
    let token = TestToken::new();
    let session = token.user_session();
    for (params, point_len) in [(P256, 65), (P384, 97), (P521, 133)] {
        let pair = generate_ec(&session, params, false, b"ec");
        assert_eq!(
            attribute_bytes(&session, pair.public, AttributeType::EcParams),
            params
        );
        let point = ec_point_octets(&attribute_bytes(
            &session,
            pair.public,
            AttributeType::EcPoint,
        ));
        assert_eq!(
            point.len(),
            point_len,
            "uncompressed point for {params:02x?}"
        );
        assert_eq!(point[0], 0x04);
        let public = openssl_public_key(&session, pair.public);
        public
            .ec_key()
            .unwrap()
            .check_key()
            .expect("a valid public key");
    }
}

#[test]
fn ec_key_pair_generation_on_an_unsupported_curve_is_curve_not_supported() {
    let token = TestToken::new();
    let session = token.user_session();
    let brainpool_p256r1 = [
        0x06, 0x09, 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
    ];
    let result = session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(false),
            Attribute::EcParams(brainpool_p256r1.to_vec()),
        ],
        &[Attribute::Token(false), Attribute::Sign(true)],
    );
    assert_rv(result, RvError::CurveNotSupported);
}

#[test]
fn ed25519_key_pair_generation_gives_a_32_byte_point() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_ec(&session, ED25519, false, b"ed");
    let point = ec_point_octets(&attribute_bytes(
        &session,
        pair.public,
        AttributeType::EcPoint,
    ));
    assert_eq!(point.len(), 32);
    let key_type = session
        .get_attributes(pair.public, &[AttributeType::KeyType])
        .unwrap();
    assert_eq!(key_type, vec![Attribute::KeyType(KeyType::EC_EDWARDS)]);
}

#[test]
fn aes_key_generation_gives_the_requested_length() {
    let token = TestToken::new();
    let session = token.user_session();
    for len in [16u64, 24, 32] {
        let key = session
            .generate_key(
                &Mechanism::AesKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::ValueLen(len.into()),
                    Attribute::Sensitive(false),
                    Attribute::Extractable(true),
                    Attribute::Encrypt(true),
                ],
            )
            .unwrap_or_else(|e| panic!("AES-{}: {e}", len * 8));
        assert_eq!(
            attribute_bytes(&session, key, AttributeType::Value).len() as u64,
            len
        );
        let attributes = session
            .get_attributes(key, &[AttributeType::ValueLen])
            .unwrap();
        assert_eq!(attributes, vec![Attribute::ValueLen(len.into())]);
    }
}

#[test]
fn aes_key_generation_with_an_invalid_length_is_refused() {
    let token = TestToken::new();
    let session = token.user_session();
    let result = session.generate_key(
        &Mechanism::AesKeyGen,
        &[Attribute::Token(false), Attribute::ValueLen(17.into())],
    );
    let rv = rv_of(result);
    assert!(
        matches!(
            rv,
            RvError::KeySizeRange | RvError::AttributeValueInvalid | RvError::TemplateInconsistent
        ),
        "AES key of 17 bytes: {rv:?}"
    );
}

#[test]
fn generic_secret_generation_gives_the_requested_length() {
    let token = TestToken::new();
    let session = token.user_session();
    for len in [1u64, 32, 64, 200] {
        let key = session
            .generate_key(
                &Mechanism::GenericSecretKeyGen,
                &[
                    Attribute::Token(false),
                    Attribute::ValueLen(len.into()),
                    Attribute::Sensitive(false),
                    Attribute::Extractable(true),
                    Attribute::Sign(true),
                ],
            )
            .unwrap_or_else(|e| panic!("generic secret of {len}: {e}"));
        assert_eq!(
            attribute_bytes(&session, key, AttributeType::Value).len() as u64,
            len
        );
    }
}

#[test]
fn secret_key_generation_works_at_the_advertised_limits_and_not_beyond() {
    let token = TestToken::new();
    let session = token.user_session();
    for (mechanism, kind) in [
        (Mechanism::AesKeyGen, MechanismType::AES_KEY_GEN),
        (
            Mechanism::GenericSecretKeyGen,
            MechanismType::GENERIC_SECRET_KEY_GEN,
        ),
    ] {
        let info = token.pkcs11.get_mechanism_info(token.slot, kind).unwrap();
        let (min, max) = (info.min_key_size() as u64, info.max_key_size() as u64);
        let generate = |len: u64| {
            session.generate_key(
                &mechanism,
                &[Attribute::Token(false), Attribute::ValueLen(len.into())],
            )
        };
        for len in [min, max] {
            generate(len).unwrap_or_else(|e| panic!("{kind} of {len} bytes ({min}..={max}): {e}"));
        }
        let rv = rv_of(generate(max + 1));
        assert!(
            matches!(
                rv,
                RvError::KeySizeRange
                    | RvError::AttributeValueInvalid
                    | RvError::TemplateInconsistent
            ),
            "{kind} of {} bytes, beyond the advertised {max}: {rv:?}",
            max + 1
        );
    }
}

// ----- RSA signatures -----

#[test]
fn rsa_pkcs1_hash_and_sign_signatures_verify_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let public = openssl_public_key(&session, pair.public);
    for (mechanism, md) in [
        (Mechanism::Sha1RsaPkcs, MessageDigest::sha1()),
        (Mechanism::Sha224RsaPkcs, MessageDigest::sha224()),
        (Mechanism::Sha256RsaPkcs, MessageDigest::sha256()),
        (Mechanism::Sha384RsaPkcs, MessageDigest::sha384()),
        (Mechanism::Sha512RsaPkcs, MessageDigest::sha512()),
    ] {
        let signature = sign(&session, &mechanism, pair.private, DATA);
        assert_eq!(signature.len(), 256);
        assert!(verify_pkcs1(&public, md, DATA, &signature), "{mechanism:?}");
        session
            .verify(&mechanism, pair.public, DATA, &signature)
            .unwrap_or_else(|e| panic!("C_Verify {mechanism:?}: {e}"));
    }
}

#[test]
fn rsa_pkcs_raw_signature_verifies_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let public = openssl_public_key(&session, pair.public);
    // DigestInfo for SHA-256, then the digest: what the caller of CKM_RSA_PKCS signs.
    let mut digest_info = vec![
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    digest_info.extend(digest_of(MessageDigest::sha256(), DATA));
    let signature = sign(&session, &Mechanism::RsaPkcs, pair.private, &digest_info);
    let rsa = public.rsa().unwrap();
    let mut recovered = vec![0; rsa.size() as usize];
    let n = rsa
        .public_decrypt(&signature, &mut recovered, Padding::PKCS1)
        .unwrap();
    assert_eq!(&recovered[..n], digest_info.as_slice());
    assert!(verify_pkcs1(
        &public,
        MessageDigest::sha256(),
        DATA,
        &signature
    ));
    session
        .verify(&Mechanism::RsaPkcs, pair.public, &digest_info, &signature)
        .expect("C_Verify CKM_RSA_PKCS");
}

#[test]
fn rsa_pss_hash_and_sign_signatures_verify_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let public = openssl_public_key(&session, pair.public);
    for (kind, md) in [
        (CKM_SHA1_RSA_PKCS_PSS, MessageDigest::sha1()),
        (CKM_SHA224_RSA_PKCS_PSS, MessageDigest::sha224()),
        (CKM_SHA256_RSA_PKCS_PSS, MessageDigest::sha256()),
        (CKM_SHA384_RSA_PKCS_PSS, MessageDigest::sha384()),
        (CKM_SHA512_RSA_PKCS_PSS, MessageDigest::sha512()),
    ] {
        let (hash_alg, mgf) = hash_mechanism(md);
        let mut params = CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: hash_alg,
            mgf,
            sLen: md.size() as CK_ULONG,
        };
        // By number: cryptoki has no name for CKM_SHA224_RSA_PKCS_PSS.
        let mut mechanism = raw_mechanism_with(kind, &mut params);
        let h = session.handle();
        let signature = raw_sign(h, &mut mechanism, pair.private.handle(), DATA)
            .unwrap_or_else(|rv| panic!("C_Sign {kind:#x}: {}", rv_name(rv)));
        assert!(verify_pss(&public, md, DATA, &signature), "{kind:#x}");
        assert_ck!(
            raw_verify(h, &mut mechanism, pair.public.handle(), DATA, &signature),
            CKR_OK
        );
    }
}

#[test]
fn rsa_pss_signature_of_a_digest_verifies_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let public = openssl_public_key(&session, pair.public);
    let digest = digest_of(MessageDigest::sha256(), DATA);
    let mechanism = Mechanism::RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    });
    let signature = sign(&session, &mechanism, pair.private, &digest);
    let mut ctx = PkeyCtx::new(&public).unwrap();
    ctx.verify_init().unwrap();
    ctx.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
    ctx.set_signature_md(Md::sha256()).unwrap();
    ctx.set_rsa_mgf1_md(Md::sha256()).unwrap();
    ctx.set_rsa_pss_saltlen(RsaPssSaltlen::custom(32)).unwrap();
    assert!(ctx.verify(&digest, &signature).unwrap_or(false));
    session
        .verify(&mechanism, pair.public, &digest, &signature)
        .expect("C_Verify CKM_RSA_PKCS_PSS");
}

#[test]
fn rsa_pss_with_a_hash_other_than_the_mechanisms_is_mechanism_param_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let params = CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: CKM_SHA_1,
        mgf: CKG_MGF1_SHA1,
        sLen: 20,
    };
    let result = session.sign(
        &raw(CKM_SHA256_RSA_PKCS_PSS, Some(&params)),
        pair.private,
        DATA,
    );
    assert_rv(result, RvError::MechanismParamInvalid);
}

// ----- ECDSA and EdDSA -----

#[test]
fn ecdsa_signatures_verify_with_openssl_on_every_curve() {
    let token = TestToken::new();
    let session = token.user_session();
    for (curve, size) in [(P256, 32), (P384, 48), (P521, 66)] {
        let pair = generate_ec(&session, curve, false, b"ec");
        let public = openssl_public_key(&session, pair.public);
        let raw_input = digest_of(MessageDigest::sha256(), DATA);
        let cases = [
            (Mechanism::Ecdsa, raw_input.clone(), raw_input.clone()),
            (
                Mechanism::EcdsaSha1,
                DATA.to_vec(),
                digest_of(MessageDigest::sha1(), DATA),
            ),
            (
                Mechanism::EcdsaSha224,
                DATA.to_vec(),
                digest_of(MessageDigest::sha224(), DATA),
            ),
            (
                Mechanism::EcdsaSha256,
                DATA.to_vec(),
                digest_of(MessageDigest::sha256(), DATA),
            ),
            (
                Mechanism::EcdsaSha384,
                DATA.to_vec(),
                digest_of(MessageDigest::sha384(), DATA),
            ),
            (
                Mechanism::EcdsaSha512,
                DATA.to_vec(),
                digest_of(MessageDigest::sha512(), DATA),
            ),
        ];
        for (mechanism, input, digest) in cases {
            if skipped_over_softhsm2(&mechanism.mechanism_type().to_string()) {
                continue;
            }
            let signature = sign(&session, &mechanism, pair.private, &input);
            assert_eq!(
                signature.len(),
                2 * size,
                "{mechanism:?} on {curve:02x?}: r || s"
            );
            assert!(
                verify_ecdsa(&public, &digest, &signature),
                "{mechanism:?} on {curve:02x?}"
            );
            session
                .verify(&mechanism, pair.public, &input, &signature)
                .unwrap_or_else(|e| panic!("C_Verify {mechanism:?}: {e}"));
        }
    }
}

#[test]
fn eddsa_signature_verifies_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_ec(&session, ED25519, false, b"ed");
    let public = openssl_public_key(&session, pair.public);
    let mechanism = raw::<()>(CKM_EDDSA, None);
    let signature = sign(&session, &mechanism, pair.private, DATA);
    assert_eq!(signature.len(), 64);
    let mut verifier = Verifier::new_without_digest(&public).unwrap();
    assert!(verifier.verify_oneshot(&signature, DATA).unwrap());
    session
        .verify(&mechanism, pair.public, DATA, &signature)
        .expect("C_Verify CKM_EDDSA");
}

// ----- HMAC -----

#[test]
fn hmac_matches_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let secret: Vec<u8> = (0u8..48).collect();
    let key = import_secret(&session, KeyType::GENERIC_SECRET, &secret);
    let hmac_key = PKey::hmac(&secret).unwrap();
    for (mechanism, md) in [
        (Mechanism::Sha1Hmac, MessageDigest::sha1()),
        (Mechanism::Sha224Hmac, MessageDigest::sha224()),
        (Mechanism::Sha256Hmac, MessageDigest::sha256()),
        (Mechanism::Sha384Hmac, MessageDigest::sha384()),
        (Mechanism::Sha512Hmac, MessageDigest::sha512()),
    ] {
        if mechanism.mechanism_type() == MechanismType::SHA512_HMAC
            && skipped_over_softhsm2("CKM_SHA512_HMAC with a 48-byte key")
        {
            continue;
        }
        let mut signer = openssl::sign::Signer::new(md, &hmac_key).unwrap();
        signer.update(DATA).unwrap();
        let expected = signer.sign_to_vec().unwrap();
        assert_eq!(
            sign(&session, &mechanism, key, DATA),
            expected,
            "{mechanism:?}"
        );
        session.sign_init(&mechanism, key).unwrap();
        for chunk in DATA.chunks(7) {
            session.sign_update(chunk).unwrap();
        }
        assert_eq!(
            session.sign_final().unwrap(),
            expected,
            "{mechanism:?} multi-part"
        );
        session
            .verify(&mechanism, key, DATA, &expected)
            .unwrap_or_else(|e| panic!("C_Verify {mechanism:?}: {e}"));
    }
}

// ----- multi-part and failures -----

#[test]
fn multi_part_signing_equals_one_shot() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let one_shot = sign(&session, &Mechanism::Sha256RsaPkcs, pair.private, DATA);
    session
        .sign_init(&Mechanism::Sha256RsaPkcs, pair.private)
        .unwrap();
    for chunk in DATA.chunks(10) {
        session.sign_update(chunk).unwrap();
    }
    assert_eq!(session.sign_final().unwrap(), one_shot);
}

#[test]
fn multi_part_verification_accepts_a_one_shot_signature() {
    let token = TestToken::new();
    let session = token.user_session();
    for pair in [
        generate_rsa(&session, 2048, false, b"rsa"),
        generate_ec(&session, P256, false, b"ec"),
    ] {
        let mechanism = if session
            .get_attributes(pair.public, &[AttributeType::KeyType])
            .unwrap()
            == vec![Attribute::KeyType(KeyType::RSA)]
        {
            Mechanism::Sha256RsaPkcs
        } else {
            Mechanism::EcdsaSha256
        };
        if skipped_over_softhsm2(&mechanism.mechanism_type().to_string()) {
            continue;
        }
        let signature = sign(&session, &mechanism, pair.private, DATA);
        session.verify_init(&mechanism, pair.public).unwrap();
        for chunk in DATA.chunks(9) {
            session.verify_update(chunk).unwrap();
        }
        session
            .verify_final(&signature)
            .unwrap_or_else(|e| panic!("C_VerifyFinal {mechanism:?}: {e}"));
    }
}

#[test]
fn a_modified_signature_is_signature_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = generate_rsa(&session, 2048, false, b"rsa");
    let ec = generate_ec(&session, P256, false, b"ec");
    let ed = generate_ec(&session, ED25519, false, b"ed");
    let hmac = import_secret(&session, KeyType::GENERIC_SECRET, &[7u8; 32]);
    let eddsa = raw::<()>(CKM_EDDSA, None);
    for (mechanism, private, public) in [
        (Mechanism::Sha256RsaPkcs, rsa.private, rsa.public),
        (Mechanism::EcdsaSha256, ec.private, ec.public),
        (eddsa, ed.private, ed.public),
        (Mechanism::Sha256Hmac, hmac, hmac),
    ] {
        if skipped_over_softhsm2(&mechanism.mechanism_type().to_string()) {
            continue;
        }
        let mut signature = sign(&session, &mechanism, private, DATA);
        signature[5] ^= 0x01;
        assert_eq!(
            rv_of(session.verify(&mechanism, public, DATA, &signature)),
            RvError::SignatureInvalid,
            "{mechanism:?}"
        );
    }
}

#[test]
fn a_signature_of_the_wrong_length_is_signature_len_range() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = generate_rsa(&session, 2048, false, b"rsa");
    let signature = sign(&session, &Mechanism::Sha256RsaPkcs, rsa.private, DATA);
    assert_rv(
        session.verify(
            &Mechanism::Sha256RsaPkcs,
            rsa.public,
            DATA,
            &signature[..255],
        ),
        RvError::SignatureLenRange,
    );
}

#[test]
fn a_mechanism_that_does_not_fit_the_key_is_key_type_inconsistent() {
    let token = TestToken::new();
    let session = token.user_session();
    let ec = generate_ec(&session, P256, false, b"ec");
    assert_rv(
        session.sign_init(&Mechanism::Sha256RsaPkcs, ec.private),
        RvError::KeyTypeInconsistent,
    );
}

// ----- digests and random -----

#[test]
fn digests_match_openssl() {
    let token = TestToken::new();
    let session = token.ro_session();
    for (mechanism, md) in [
        (Mechanism::Sha1, MessageDigest::sha1()),
        (Mechanism::Sha224, MessageDigest::sha224()),
        (Mechanism::Sha256, MessageDigest::sha256()),
        (Mechanism::Sha384, MessageDigest::sha384()),
        (Mechanism::Sha512, MessageDigest::sha512()),
    ] {
        let expected = digest_of(md, DATA);
        assert_eq!(
            session.digest(&mechanism, DATA).unwrap(),
            expected,
            "{mechanism:?}"
        );
        session.digest_init(&mechanism).unwrap();
        for chunk in DATA.chunks(5) {
            session.digest_update(chunk).unwrap();
        }
        assert_eq!(
            session.digest_final().unwrap(),
            expected,
            "{mechanism:?} multi-part"
        );
    }
}

#[test]
fn digest_of_empty_input_is_the_empty_string_hash() {
    let token = TestToken::new();
    let session = token.ro_session();
    assert_eq!(
        session.digest(&Mechanism::Sha256, &[]).unwrap(),
        digest_of(MessageDigest::sha256(), &[])
    );
}

#[test]
fn generate_random_gives_fresh_bytes_each_call() {
    let token = TestToken::new();
    let session = token.ro_session();
    let first = session.generate_random_vec(64).unwrap();
    let second = session.generate_random_vec(64).unwrap();
    assert_eq!(first.len(), 64);
    assert_ne!(first, second);
    assert!(first.iter().any(|b| *b != 0));
}

// ----- the output length convention (PKCS#11 3.0 §5.2) -----

/// Runs the two-call convention on one output-producing call: a NULL buffer
/// gives the length; a buffer one byte short gives CKR_BUFFER_TOO_SMALL and
/// the length, and the operation stays active; a big enough buffer gets the
/// output and ends the operation.
fn check_output_convention(name: &str, mut call: impl FnMut(*mut u8, &mut CK_ULONG) -> CK_RV) {
    let mut length: CK_ULONG = 0;
    let rv = call(std::ptr::null_mut(), &mut length);
    assert!(rv == CKR_OK, "{name} length query: {}", rv_name(rv));
    assert!(length > 0, "{name}: length 0");
    let needed = length;
    let mut buffer = vec![0u8; needed as usize];
    length = needed - 1;
    let rv = call(buffer.as_mut_ptr(), &mut length);
    assert!(
        rv == CKR_BUFFER_TOO_SMALL,
        "{name} short buffer: {}",
        rv_name(rv)
    );
    assert_eq!(
        length, needed,
        "{name}: the needed length after a short buffer"
    );
    length = needed;
    let rv = call(buffer.as_mut_ptr(), &mut length);
    assert!(
        rv == CKR_OK,
        "{name} with the right buffer: {}",
        rv_name(rv)
    );
    assert!(length <= needed);
    let rv = call(buffer.as_mut_ptr(), &mut length);
    assert!(
        rv == CKR_OPERATION_NOT_INITIALIZED,
        "{name} after the operation ended: {}",
        rv_name(rv)
    );
}

#[test]
fn output_buffers_follow_the_length_query_and_buffer_too_small_convention() {
    let token = TestToken::new();
    let session = token.user_session();
    let h = session.handle();
    let rsa = generate_rsa(&session, 2048, false, b"rsa");
    let aes = import_secret(&session, KeyType::AES, &[9u8; 16]);
    let mut data = DATA.to_vec();

    let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
    assert_ck!(
        ck!(C_SignInit(h, &mut mechanism, rsa.private.handle())),
        CKR_OK
    );
    check_output_convention("C_Sign", |buffer, length| {
        ck!(C_Sign(
            h,
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            buffer,
            length
        ))
    });

    assert_ck!(
        ck!(C_SignInit(h, &mut mechanism, rsa.private.handle())),
        CKR_OK
    );
    assert_ck!(
        ck!(C_SignUpdate(h, data.as_mut_ptr(), data.len() as CK_ULONG)),
        CKR_OK
    );
    check_output_convention("C_SignFinal", |buffer, length| {
        ck!(C_SignFinal(h, buffer, length))
    });

    let mut digest = raw_mechanism(CKM_SHA512);
    assert_ck!(ck!(C_DigestInit(h, &mut digest)), CKR_OK);
    check_output_convention("C_Digest", |buffer, length| {
        ck!(C_Digest(
            h,
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            buffer,
            length
        ))
    });

    let mut iv = [0u8; 16];
    let mut cbc_pad = raw_mechanism_with(CKM_AES_CBC_PAD, &mut iv);
    cbc_pad.ulParameterLen = 16;
    assert_ck!(ck!(C_EncryptInit(h, &mut cbc_pad, aes.handle())), CKR_OK);
    check_output_convention("C_Encrypt", |buffer, length| {
        ck!(C_Encrypt(
            h,
            data.as_mut_ptr(),
            data.len() as CK_ULONG,
            buffer,
            length
        ))
    });

    let mut ciphertext = session
        .encrypt(&Mechanism::AesCbcPad([0u8; 16]), aes, DATA)
        .unwrap();
    assert_ck!(ck!(C_DecryptInit(h, &mut cbc_pad, aes.handle())), CKR_OK);
    check_output_convention("C_Decrypt", |buffer, length| {
        ck!(C_Decrypt(
            h,
            ciphertext.as_mut_ptr(),
            ciphertext.len() as CK_ULONG,
            buffer,
            length
        ))
    });
}
