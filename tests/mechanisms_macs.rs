//! SHA-3 (digests, HMACs, RSA PKCS #1 v1.5 and PSS, ECDSA), HMAC key
//! generation (`CKM_SHA*_KEY_GEN` giving `CKK_SHA*_HMAC` keys) and AES-CMAC
//! (`CKM_AES_CMAC`, `CKM_AES_CMAC_GENERAL`), end to end through the C ABI.
//! Each result is checked against a standard's known answer (FIPS 202,
//! RFC 4493) or against the `openssl` crate.

#[macro_use]
mod common;

use common::*;
use cryptoki::session::Session;
use cryptoki_sys::*;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use openssl::symm::Cipher;

const DATA: &[u8] = b"SHA-3, HMAC and CMAC through PKCS#11, in more than one block of input.";

/// The SHA-3 digests: the digest mechanism, the openssl digest, and the
/// mechanisms built on it (HMAC and its key type, RSA PKCS #1 v1.5, RSA
/// PSS with its MGF, ECDSA).
struct Sha3 {
    digest: CK_MECHANISM_TYPE,
    md: MessageDigest,
    hmac: CK_MECHANISM_TYPE,
    hmac_key_type: CK_KEY_TYPE,
    key_gen: CK_MECHANISM_TYPE,
    rsa_pkcs: CK_MECHANISM_TYPE,
    rsa_pss: CK_MECHANISM_TYPE,
    mgf: CK_RSA_PKCS_MGF_TYPE,
    ecdsa: CK_MECHANISM_TYPE,
    /// FIPS 202 (and the NIST examples of SHA-3) for the message "abc".
    abc: &'static str,
}

fn sha3() -> [Sha3; 4] {
    [
        Sha3 {
            digest: CKM_SHA3_224,
            md: MessageDigest::sha3_224(),
            hmac: CKM_SHA3_224_HMAC,
            hmac_key_type: CKK_SHA3_224_HMAC,
            key_gen: CKM_SHA3_224_KEY_GEN,
            rsa_pkcs: CKM_SHA3_224_RSA_PKCS,
            rsa_pss: CKM_SHA3_224_RSA_PKCS_PSS,
            mgf: CKG_MGF1_SHA3_224,
            ecdsa: CKM_ECDSA_SHA3_224,
            abc: "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
        },
        Sha3 {
            digest: CKM_SHA3_256,
            md: MessageDigest::sha3_256(),
            hmac: CKM_SHA3_256_HMAC,
            hmac_key_type: CKK_SHA3_256_HMAC,
            key_gen: CKM_SHA3_256_KEY_GEN,
            rsa_pkcs: CKM_SHA3_256_RSA_PKCS,
            rsa_pss: CKM_SHA3_256_RSA_PKCS_PSS,
            mgf: CKG_MGF1_SHA3_256,
            ecdsa: CKM_ECDSA_SHA3_256,
            abc: "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
        },
        Sha3 {
            digest: CKM_SHA3_384,
            md: MessageDigest::sha3_384(),
            hmac: CKM_SHA3_384_HMAC,
            hmac_key_type: CKK_SHA3_384_HMAC,
            key_gen: CKM_SHA3_384_KEY_GEN,
            rsa_pkcs: CKM_SHA3_384_RSA_PKCS,
            rsa_pss: CKM_SHA3_384_RSA_PKCS_PSS,
            mgf: CKG_MGF1_SHA3_384,
            ecdsa: CKM_ECDSA_SHA3_384,
            abc: "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0\
                  e49be4b298d88cea927ac7f539f1edf228376d25",
        },
        Sha3 {
            digest: CKM_SHA3_512,
            md: MessageDigest::sha3_512(),
            hmac: CKM_SHA3_512_HMAC,
            hmac_key_type: CKK_SHA3_512_HMAC,
            key_gen: CKM_SHA3_512_KEY_GEN,
            rsa_pkcs: CKM_SHA3_512_RSA_PKCS,
            rsa_pss: CKM_SHA3_512_RSA_PKCS_PSS,
            mgf: CKG_MGF1_SHA3_512,
            ecdsa: CKM_ECDSA_SHA3_512,
            abc: "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d02\
                  40d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a5\
                  6592f8274eec53f0",
        },
    ]
}

/// The HMAC key generations of SHA-1 and SHA-2: mechanism, key type, HMAC
/// and openssl digest.
const SHA2_KEY_GENS: [(CK_MECHANISM_TYPE, CK_KEY_TYPE, CK_MECHANISM_TYPE); 5] = [
    (CKM_SHA_1_KEY_GEN, CKK_SHA_1_HMAC, CKM_SHA_1_HMAC),
    (CKM_SHA224_KEY_GEN, CKK_SHA224_HMAC, CKM_SHA224_HMAC),
    (CKM_SHA256_KEY_GEN, CKK_SHA256_HMAC, CKM_SHA256_HMAC),
    (CKM_SHA384_KEY_GEN, CKK_SHA384_HMAC, CKM_SHA384_HMAC),
    (CKM_SHA512_KEY_GEN, CKK_SHA512_HMAC, CKM_SHA512_HMAC),
];

fn sha2_md(hmac: CK_MECHANISM_TYPE) -> MessageDigest {
    match hmac {
        CKM_SHA_1_HMAC => MessageDigest::sha1(),
        CKM_SHA224_HMAC => MessageDigest::sha224(),
        CKM_SHA256_HMAC => MessageDigest::sha256(),
        CKM_SHA384_HMAC => MessageDigest::sha384(),
        _ => MessageDigest::sha512(),
    }
}

/// `C_DigestInit` + `C_Digest` through the raw ABI, or the digest of the
/// parts given to `C_DigestUpdate` in `chunk`-byte pieces.
fn raw_digest(session: &Session, kind: CK_MECHANISM_TYPE, data: &[u8], chunk: usize) -> Vec<u8> {
    let h = session.handle();
    let mut mechanism = raw_mechanism(kind);
    assert_ck!(ck!(C_DigestInit(h, &mut mechanism)), CKR_OK);
    let mut data = data.to_vec();
    let mut digest = vec![0u8; 64];
    let mut length = digest.len() as CK_ULONG;
    if chunk == 0 {
        assert_ck!(
            ck!(C_Digest(
                h,
                data.as_mut_ptr(),
                data.len() as CK_ULONG,
                digest.as_mut_ptr(),
                &mut length
            )),
            CKR_OK
        );
    } else {
        for part in data.chunks_mut(chunk) {
            assert_ck!(
                ck!(C_DigestUpdate(h, part.as_mut_ptr(), part.len() as CK_ULONG)),
                CKR_OK
            );
        }
        assert_ck!(
            ck!(C_DigestFinal(h, digest.as_mut_ptr(), &mut length)),
            CKR_OK
        );
    }
    digest.truncate(length as usize);
    digest
}

/// A session secret key of `key_type` with `value`, extractable and not
/// sensitive (so that the tests can compare with openssl), signing and
/// verifying.
fn create_secret(session: &Session, key_type: CK_KEY_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    let extra = Template::default()
        .bool(CKA_SIGN, true)
        .bool(CKA_VERIFY, true);
    raw_secret(session, key_type, value, extra)
}

fn sign(
    session: &Session,
    mechanism: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
) -> Vec<u8> {
    let kind = mechanism.mechanism;
    raw_sign(session.handle(), mechanism, key, data)
        .unwrap_or_else(|rv| panic!("C_Sign {kind:#x}: {}", rv_name(rv)))
}

/// `C_SignInit`, `C_SignUpdate` in `chunk`-byte pieces and `C_SignFinal`.
fn sign_in_parts(
    session: &Session,
    mechanism: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let h = session.handle();
    assert_ck!(ck!(C_SignInit(h, mechanism, key)), CKR_OK);
    let mut data = data.to_vec();
    for part in data.chunks_mut(chunk) {
        assert_ck!(
            ck!(C_SignUpdate(h, part.as_mut_ptr(), part.len() as CK_ULONG)),
            CKR_OK
        );
    }
    let mut mac = vec![0u8; 64];
    let mut length = mac.len() as CK_ULONG;
    assert_ck!(ck!(C_SignFinal(h, mac.as_mut_ptr(), &mut length)), CKR_OK);
    mac.truncate(length as usize);
    mac
}

fn openssl_hmac(md: MessageDigest, key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = PKey::hmac(key).unwrap();
    let mut signer = Signer::new(md, &key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap()
}

fn openssl_cmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let cipher = match key.len() {
        16 => Cipher::aes_128_cbc(),
        24 => Cipher::aes_192_cbc(),
        _ => Cipher::aes_256_cbc(),
    };
    let key = PKey::cmac(&cipher, key).unwrap();
    let mut signer = Signer::new_without_digest(&key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap()
}

// ----- SHA-3 -----

#[test]
fn sha3_digests_match_the_fips_202_examples_and_openssl() {
    let token = TestToken::new();
    let session = token.ro_session();
    for sha3 in sha3() {
        let name = format!("{:#x}", sha3.digest);
        assert_eq!(
            raw_digest(&session, sha3.digest, b"abc", 0),
            unhex(sha3.abc),
            "{name} of \"abc\""
        );
        let expected = hash(sha3.md, DATA).unwrap().to_vec();
        assert_eq!(
            raw_digest(&session, sha3.digest, DATA, 0),
            expected,
            "{name}"
        );
        assert_eq!(
            raw_digest(&session, sha3.digest, DATA, 7),
            expected,
            "{name} multi-part"
        );
    }
}

#[test]
fn sha3_hmacs_match_openssl_with_generic_and_hmac_keys() {
    let token = TestToken::new();
    let session = token.user_session();
    let secret: Vec<u8> = (0u8..48).collect();
    let generic = create_secret(&session, CKK_GENERIC_SECRET, &secret);
    for sha3 in sha3() {
        let typed = create_secret(&session, sha3.hmac_key_type, &secret);
        let expected = openssl_hmac(sha3.md, &secret, DATA);
        for key in [generic, typed] {
            let mut mechanism = raw_mechanism(sha3.hmac);
            assert_eq!(
                sign(&session, &mut mechanism, key, DATA),
                expected,
                "{:#x}",
                sha3.hmac
            );
            assert_eq!(
                sign_in_parts(&session, &mut mechanism, key, DATA, 11),
                expected,
                "{:#x} multi-part",
                sha3.hmac
            );
            assert_ck!(
                raw_verify(session.handle(), &mut mechanism, key, DATA, &expected),
                CKR_OK
            );
        }
    }
}

fn verify_with_openssl(
    public: &PKey<Public>,
    md: MessageDigest,
    pss: bool,
    signature: &[u8],
) -> bool {
    let mut verifier = Verifier::new(md, public).unwrap();
    if pss {
        verifier.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
        verifier
            .set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
            .unwrap();
        verifier.set_rsa_mgf1_md(md).unwrap();
    }
    verifier.update(DATA).unwrap();
    verifier.verify(signature).unwrap_or(false)
}

#[test]
fn sha3_rsa_pkcs1_and_pss_signatures_verify_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa-sha3");
    let public = openssl_public_key(&session, pair.public);
    for sha3 in sha3() {
        let mut pkcs1 = raw_mechanism(sha3.rsa_pkcs);
        let signature = sign(&session, &mut pkcs1, pair.private.handle(), DATA);
        assert!(
            verify_with_openssl(&public, sha3.md, false, &signature),
            "{:#x}",
            sha3.rsa_pkcs
        );
        assert_ck!(
            raw_verify(
                session.handle(),
                &mut pkcs1,
                pair.public.handle(),
                DATA,
                &signature
            ),
            CKR_OK
        );

        let mut params = CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: sha3.digest,
            mgf: sha3.mgf,
            sLen: sha3.md.size() as CK_ULONG,
        };
        let mut pss = raw_mechanism_with(sha3.rsa_pss, &mut params);
        let signature = sign(&session, &mut pss, pair.private.handle(), DATA);
        assert!(
            verify_with_openssl(&public, sha3.md, true, &signature),
            "{:#x}",
            sha3.rsa_pss
        );
        assert_ck!(
            raw_verify(
                session.handle(),
                &mut pss,
                pair.public.handle(),
                DATA,
                &signature
            ),
            CKR_OK
        );
    }
}

#[test]
fn ecdsa_sha3_signatures_verify_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_ec(&session, P256, false, b"ec-sha3");
    let public = openssl_public_key(&session, pair.public);
    for sha3 in sha3() {
        let mut mechanism = raw_mechanism(sha3.ecdsa);
        let signature = sign(&session, &mut mechanism, pair.private.handle(), DATA);
        assert_eq!(signature.len(), 64, "{:#x}: r || s", sha3.ecdsa);
        let der = EcdsaSig::from_private_components(
            BigNum::from_slice(&signature[..32]).unwrap(),
            BigNum::from_slice(&signature[32..]).unwrap(),
        )
        .unwrap();
        let digest = hash(sha3.md, DATA).unwrap();
        assert!(
            der.verify(&digest, &public.ec_key().unwrap()).unwrap(),
            "{:#x}",
            sha3.ecdsa
        );
        assert_ck!(
            raw_verify(
                session.handle(),
                &mut mechanism,
                pair.public.handle(),
                DATA,
                &signature
            ),
            CKR_OK
        );
    }
}

// ----- HMAC keys -----

#[test]
fn hmac_key_generation_gives_keys_of_the_hmac_type_that_hmac_accepts() {
    let token = TestToken::new();
    let session = token.user_session();
    let key_gens = SHA2_KEY_GENS
        .iter()
        .map(|&(key_gen, key_type, hmac)| (key_gen, key_type, hmac, sha2_md(hmac)))
        .chain(
            sha3()
                .into_iter()
                .map(|sha3| (sha3.key_gen, sha3.hmac_key_type, sha3.hmac, sha3.md)),
        );
    for (key_gen, key_type, hmac, md) in key_gens {
        let template = Template::default()
            .ulong(CKA_VALUE_LEN, 32)
            .bool(CKA_TOKEN, false)
            .bool(CKA_SENSITIVE, false)
            .bool(CKA_EXTRACTABLE, true);
        let key = raw_generate_key(&session, key_gen, template)
            .unwrap_or_else(|rv| panic!("C_GenerateKey {key_gen:#x}: {}", rv_name(rv)));
        assert_eq!(
            raw_ulong(&session, key, CKA_KEY_TYPE),
            key_type,
            "{key_gen:#x}"
        );
        assert_eq!(raw_ulong(&session, key, CKA_CLASS), CKO_SECRET_KEY);
        assert_eq!(raw_ulong(&session, key, CKA_VALUE_LEN), 32);
        assert_eq!(raw_ulong(&session, key, CKA_KEY_GEN_MECHANISM), key_gen);
        let value = raw_secret_value(&session, key).expect("the value of a readable key");
        assert_eq!(value.len(), 32);
        // Signing is on by default for an HMAC key.
        let mut mechanism = raw_mechanism(hmac);
        assert_eq!(
            sign(&session, &mut mechanism, key, DATA),
            openssl_hmac(md, &value, DATA),
            "{hmac:#x} with a key of {key_gen:#x}"
        );
    }
}

#[test]
fn an_hmac_key_works_only_with_its_own_hash() {
    let token = TestToken::new();
    let session = token.user_session();
    let secret = [0x5Au8; 32];
    let sha256_key = create_secret(&session, CKK_SHA256_HMAC, &secret);
    let h = session.handle();
    let mut others = vec![CKM_SHA_1_HMAC, CKM_SHA384_HMAC, CKM_AES_CMAC];
    if !skipped_over_softhsm2("CKM_SHA3_256_HMAC") {
        others.push(CKM_SHA3_256_HMAC);
    }
    let names: Vec<String> = others.iter().map(|kind| format!("{kind:#x}")).collect();
    let cases = others
        .iter()
        .zip(&names)
        .map(|(&kind, name)| {
            let mut mechanism = raw_mechanism(kind);
            (
                name.as_str(),
                ck!(C_SignInit(h, &mut mechanism, sha256_key)),
            )
        })
        .collect();
    assert_all_rv(cases, CKR_KEY_TYPE_INCONSISTENT);
    let mut mechanism = raw_mechanism(CKM_SHA256_HMAC);
    assert_eq!(
        sign(&session, &mut mechanism, sha256_key, DATA),
        openssl_hmac(MessageDigest::sha256(), &secret, DATA)
    );
}

/// The SHA-2 HMACs, and the SHA-3 ones where the device has them.
fn hmacs() -> Vec<(CK_MECHANISM_TYPE, MessageDigest)> {
    let mut hmacs: Vec<_> = SHA2_KEY_GENS
        .iter()
        .map(|&(_, _, hmac)| (hmac, sha2_md(hmac)))
        .collect();
    if !skipped_over_softhsm2("CKM_SHA3_256_HMAC") {
        hmacs.extend(sha3().into_iter().map(|sha3| (sha3.hmac, sha3.md)));
    }
    hmacs
}

#[test]
fn hmac_verify_refuses_a_changed_mac_and_a_mac_of_the_wrong_length() {
    let token = TestToken::new();
    let session = token.user_session();
    let secret = [0x3Cu8; 64];
    let key = create_secret(&session, CKK_GENERIC_SECRET, &secret);
    let h = session.handle();
    for (hmac, md) in hmacs() {
        let mac = openssl_hmac(md, &secret, DATA);
        let mut mechanism = raw_mechanism(hmac);
        assert_ck!(raw_verify(h, &mut mechanism, key, DATA, &mac), CKR_OK);
        for bit in [0, mac.len() * 8 - 1] {
            let mut changed = mac.clone();
            changed[bit / 8] ^= 0x80 >> (bit % 8);
            assert_eq!(
                rv_name(raw_verify(h, &mut mechanism, key, DATA, &changed)),
                rv_name(CKR_SIGNATURE_INVALID),
                "{hmac:#x}, bit {bit} changed"
            );
        }
        let mut other_data = DATA.to_vec();
        other_data[0] ^= 1;
        assert_eq!(
            rv_name(raw_verify(h, &mut mechanism, key, &other_data, &mac)),
            rv_name(CKR_SIGNATURE_INVALID),
            "{hmac:#x}, other data"
        );
        let longer = [&mac[..], &[0]].concat();
        for wrong_length in [&mac[..mac.len() - 1], &longer[..]] {
            assert_eq!(
                rv_name(raw_verify(h, &mut mechanism, key, DATA, wrong_length)),
                rv_name(CKR_SIGNATURE_LEN_RANGE),
                "{hmac:#x}, {} bytes",
                wrong_length.len()
            );
        }
    }
}

/// `C_GetMechanismInfo` through the raw ABI.
fn mechanism_info(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM_INFO {
    let mut info = CK_MECHANISM_INFO {
        ulMinKeySize: 0,
        ulMaxKeySize: 0,
        flags: 0,
    };
    assert_ck!(ck!(C_GetMechanismInfo(SLOT_ID, kind, &mut info)), CKR_OK);
    info
}

#[test]
fn hmac_keys_shorter_than_the_advertised_minimum_of_at_least_14_bytes_are_key_size_range() {
    let token = TestToken::new();
    let session = token.user_session();
    let h = session.handle();
    for (hmac, md) in hmacs() {
        let min = mechanism_info(hmac).ulMinKeySize as usize;
        assert!(min >= 14, "{hmac:#x} takes keys of {min} bytes");
        for len in [1, min - 1] {
            let short = create_secret(&session, CKK_GENERIC_SECRET, &vec![7; len]);
            let mut mechanism = raw_mechanism(hmac);
            let cases = vec![
                ("C_SignInit", ck!(C_SignInit(h, &mut mechanism, short))),
                ("C_VerifyInit", ck!(C_VerifyInit(h, &mut mechanism, short))),
            ];
            assert_all_rv(cases, CKR_KEY_SIZE_RANGE);
        }
        let shortest = vec![7; min];
        let key = create_secret(&session, CKK_GENERIC_SECRET, &shortest);
        let mut mechanism = raw_mechanism(hmac);
        assert_eq!(
            sign(&session, &mut mechanism, key, DATA),
            openssl_hmac(md, &shortest, DATA),
            "{hmac:#x} with a key of {min} bytes"
        );
    }
}

#[test]
fn hmac_key_generation_below_14_bytes_is_attribute_value_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    for &(key_gen, _, _) in &SHA2_KEY_GENS {
        assert_eq!(mechanism_info(key_gen).ulMinKeySize, 14, "{key_gen:#x}");
        for (len, expected) in [(13, CKR_ATTRIBUTE_VALUE_INVALID), (14, CKR_OK)] {
            let template = Template::default()
                .bool(CKA_TOKEN, false)
                .ulong(CKA_VALUE_LEN, len);
            let result = raw_generate_key(&session, key_gen, template).map(|_| ());
            assert_eq!(
                result.map_err(rv_name),
                if expected == CKR_OK {
                    Ok(())
                } else {
                    Err(rv_name(expected))
                },
                "{key_gen:#x}, {len} bytes"
            );
        }
    }
}

#[test]
fn hmac_key_generation_without_a_length_is_template_incomplete() {
    let token = TestToken::new();
    let session = token.user_session();
    let no_length = Template::default().bool(CKA_TOKEN, false);
    assert_eq!(
        raw_generate_key(&session, CKM_SHA256_KEY_GEN, no_length.clone()).map_err(rv_name),
        Err(rv_name(CKR_TEMPLATE_INCOMPLETE))
    );
    let zero_length = no_length.ulong(CKA_VALUE_LEN, 0);
    assert_eq!(
        raw_generate_key(&session, CKM_SHA256_KEY_GEN, zero_length).map_err(rv_name),
        Err(rv_name(CKR_ATTRIBUTE_VALUE_INVALID))
    );
}

// ----- AES-CMAC -----

/// RFC 4493 §4: the AES-128 key and the four examples.
const RFC_4493_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const RFC_4493_MESSAGE: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51\
                                30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
const RFC_4493_EXAMPLES: [(usize, &str); 4] = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
];

fn create_aes(session: &Session, value: &[u8]) -> CK_OBJECT_HANDLE {
    create_secret(session, CKK_AES, value)
}

#[test]
fn aes_cmac_matches_the_rfc_4493_examples() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = create_aes(&session, &unhex(RFC_4493_KEY));
    let message = unhex(RFC_4493_MESSAGE);
    for (len, expected) in RFC_4493_EXAMPLES {
        let mut mechanism = raw_mechanism(CKM_AES_CMAC);
        let data = &message[..len];
        assert_eq!(
            sign(&session, &mut mechanism, key, data),
            unhex(expected),
            "Mlen {len}"
        );
        if len > 0 {
            assert_eq!(
                sign_in_parts(&session, &mut mechanism, key, data, 7),
                unhex(expected),
                "Mlen {len} multi-part"
            );
        }
        assert_ck!(
            raw_verify(
                session.handle(),
                &mut mechanism,
                key,
                data,
                &unhex(expected)
            ),
            CKR_OK
        );
    }
}

#[test]
fn aes_cmac_with_192_and_256_bit_keys_matches_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    for len in [24usize, 32] {
        let value: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(29)).collect();
        let key = create_aes(&session, &value);
        let mut mechanism = raw_mechanism(CKM_AES_CMAC);
        assert_eq!(
            sign(&session, &mut mechanism, key, DATA),
            openssl_cmac(&value, DATA),
            "AES-{}",
            len * 8
        );
    }
}

#[test]
fn aes_cmac_general_gives_the_leading_bytes_of_the_mac() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = create_aes(&session, &unhex(RFC_4493_KEY));
    let full = unhex(RFC_4493_EXAMPLES[3].1);
    let message = unhex(RFC_4493_MESSAGE);
    for len in [1usize, 4, 8, 12, 16] {
        let mut params: CK_MAC_GENERAL_PARAMS = len as CK_ULONG;
        let mut mechanism = raw_mechanism_with(CKM_AES_CMAC_GENERAL, &mut params);
        let mac = sign(&session, &mut mechanism, key, &message);
        assert_eq!(mac, full[..len], "length {len}");
        assert_ck!(
            raw_verify(session.handle(), &mut mechanism, key, &message, &mac),
            CKR_OK
        );
        let mut wrong = mac.clone();
        wrong[0] ^= 1;
        assert_ck!(
            raw_verify(session.handle(), &mut mechanism, key, &message, &wrong),
            CKR_SIGNATURE_INVALID
        );
        assert_ck!(
            raw_verify(session.handle(), &mut mechanism, key, &message, &full),
            if len == 16 {
                CKR_OK
            } else {
                CKR_SIGNATURE_LEN_RANGE
            }
        );
    }
}

#[test]
fn aes_cmac_general_outside_1_to_16_bytes_is_mechanism_param_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = create_aes(&session, &unhex(RFC_4493_KEY));
    let h = session.handle();
    let mut cases = Vec::new();
    for len in [0 as CK_ULONG, 17, CK_ULONG::MAX] {
        let mut params: CK_MAC_GENERAL_PARAMS = len;
        let mut mechanism = raw_mechanism_with(CKM_AES_CMAC_GENERAL, &mut params);
        cases.push((len, ck!(C_SignInit(h, &mut mechanism, key))));
    }
    let mut missing = raw_mechanism(CKM_AES_CMAC_GENERAL);
    let missing = ck!(C_SignInit(h, &mut missing, key));
    let names: Vec<String> = cases
        .iter()
        .map(|(len, _)| format!("length {len}"))
        .collect();
    let mut table: Vec<(&str, CK_RV)> = names
        .iter()
        .zip(&cases)
        .map(|(name, (_, rv))| (name.as_str(), *rv))
        .collect();
    table.push(("no parameter", missing));
    assert_all_rv(table, CKR_MECHANISM_PARAM_INVALID);
}

#[test]
fn aes_cmac_with_a_key_that_is_not_aes_is_key_type_inconsistent() {
    let token = TestToken::new();
    let session = token.user_session();
    let generic = create_secret(&session, CKK_GENERIC_SECRET, &[7u8; 16]);
    let mut mechanism = raw_mechanism(CKM_AES_CMAC);
    assert_ck!(
        ck!(C_SignInit(session.handle(), &mut mechanism, generic)),
        CKR_KEY_TYPE_INCONSISTENT
    );
}
