//! Tests of key wrapping.

use super::test_support::*;
use super::{unwrap, wrap};
use crate::device::{Mechanism, MechanismParameter};
use crate::error::Error;
use cryptoki_sys::*;

fn with_iv(kind: CK_MECHANISM_TYPE, iv: &[u8]) -> Mechanism {
    Mechanism {
        kind,
        parameter: MechanismParameter::Raw(iv.to_vec()),
        caller_parameter: None,
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
        assert_fails!(
            wrap(&mechanism, &aes(16), &vec![1; len]),
            Error::KeySizeRange,
            "{len}"
        );
    }
    assert_fails!(
        wrap(&Mechanism::new(CKM_AES_KEY_WRAP_PAD), &aes(16), &[]),
        Error::KeySizeRange
    );
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
        assert_fails!(
            unwrap(&mechanism, &aes(32), &corrupted),
            Error::WrappedKeyInvalid
        );
        let other = loaded_secret(CKK_AES, &[1; 32]);
        assert_fails!(
            unwrap(&mechanism, &other, &wrapped),
            Error::WrappedKeyInvalid
        );
        assert_fails!(
            unwrap(&mechanism, &aes(32), &wrapped[..wrapped.len() - 1]),
            Error::WrappedKeyLenRange
        );
        assert_fails!(
            unwrap(&mechanism, &aes(32), &[0; 8]),
            Error::WrappedKeyLenRange
        );
    }
}

#[test]
fn aes_key_wrap_with_a_bad_parameter_is_refused() {
    for mechanism in [
        with_iv(CKM_AES_KEY_WRAP, &[0; 7]),
        with_iv(CKM_AES_KEY_WRAP_PAD, &[0; 8]),
    ] {
        assert_fails!(
            wrap(&mechanism, &aes(16), &[0; 16]),
            Error::MechanismParamInvalid(_)
        );
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
        caller_parameter: None,
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
    assert_fails!(unwrap(&oaep(), &rsa(), &wrapped), Error::WrappedKeyInvalid);
    assert_fails!(
        unwrap(&oaep(), &rsa(), &wrapped[1..]),
        Error::WrappedKeyLenRange
    );
}

#[test]
fn rsa_oaep_wrap_of_a_key_too_long_for_the_modulus_is_a_key_size_error() {
    assert_fails!(wrap(&oaep(), &rsa(), &[1; 191]), Error::KeySizeRange);
}

#[test]
fn wrapping_keys_of_the_wrong_type_are_inconsistent() {
    assert_fails!(
        wrap(&Mechanism::new(CKM_AES_KEY_WRAP), &rsa(), &[0; 16]),
        Error::WrappingKeyTypeInconsistent
    );
    assert_fails!(
        wrap(&oaep(), &aes(16), &[0; 16]),
        Error::WrappingKeyTypeInconsistent
    );
    let public = loaded_public(&rsa_private());
    assert_fails!(
        unwrap(&oaep(), &public, &[0; 256]),
        Error::UnwrappingKeyTypeInconsistent
    );
    assert_fails!(
        unwrap(&Mechanism::new(CKM_AES_KEY_WRAP_PAD), &ec(P256), &[0; 16]),
        Error::UnwrappingKeyTypeInconsistent
    );
    assert_fails!(
        wrap(&Mechanism::new(CKM_AES_CBC_PAD), &aes(16), &[0; 16]),
        Error::MechanismInvalid(CKM_AES_CBC_PAD)
    );
}

// ----- CKM_RSA_PKCS, CKM_RSA_AES_KEY_WRAP and CKM_AES_GCM wrapping -----

fn rsa_openssl() -> openssl::rsa::Rsa<openssl::pkey::Private> {
    rsa_private().rsa().unwrap()
}

#[test]
fn rsa_pkcs_wrapped_keys_decrypt_with_openssl_and_openssls_unwrap() {
    use openssl::rsa::Padding;
    let secret = [0x5Au8; 32];
    let mechanism = Mechanism::new(CKM_RSA_PKCS);
    let openssl_rsa = rsa_openssl();
    for wrapping in [rsa(), loaded_public(&rsa_private())] {
        let wrapped = wrap(&mechanism, &wrapping, &secret).unwrap();
        let mut plain = vec![0u8; 256];
        let len = openssl_rsa
            .private_decrypt(&wrapped, &mut plain, Padding::PKCS1)
            .unwrap();
        assert_eq!(plain[..len], secret);
    }
    let mut wrapped = vec![0u8; 256];
    openssl_rsa
        .public_encrypt(&secret, &mut wrapped, Padding::PKCS1)
        .unwrap();
    assert_eq!(unwrap(&mechanism, &rsa(), &wrapped).unwrap(), secret);
    assert_fails!(wrap(&mechanism, &rsa(), &[1; 246]), Error::KeySizeRange);
    assert_fails!(
        unwrap(&mechanism, &rsa(), &wrapped[1..]),
        Error::WrappedKeyLenRange
    );
}

/// A ciphertext whose PKCS#1 v1.5 padding is wrong unwraps, like a good
/// one, to the same synthetic message every time: the return code tells an
/// attacker nothing about the padding.
#[test]
fn rsa_pkcs_unwrap_of_a_bad_padding_is_no_padding_oracle() {
    use openssl::rsa::Padding;
    let openssl_rsa = rsa_openssl();
    let mut block = vec![0x33u8; 256];
    block[0] = 0;
    block[1] = 1; // a signature block type, not the encryption block type 2
    let mut wrapped = vec![0u8; 256];
    openssl_rsa
        .public_encrypt(&block, &mut wrapped, Padding::NONE)
        .unwrap();
    let mechanism = Mechanism::new(CKM_RSA_PKCS);
    let first = unwrap(&mechanism, &rsa(), &wrapped).unwrap();
    let second = unwrap(&mechanism, &rsa(), &wrapped).unwrap();
    assert_eq!(first, second, "the synthetic message is deterministic");
    assert_ne!(first, block[11..].to_vec());
}

fn rsa_aes(aes_key_bits: CK_ULONG, hash: CK_MECHANISM_TYPE, mgf: CK_ULONG) -> Mechanism {
    Mechanism::with(
        CKM_RSA_AES_KEY_WRAP,
        MechanismParameter::RsaAesKeyWrap {
            aes_key_bits,
            hash,
            mgf,
            label: b"rsa-aes".to_vec(),
        },
    )
}

fn openssl_oaep(
    encrypt: bool,
    rsa: &openssl::pkey::PKey<openssl::pkey::Private>,
    input: &[u8],
) -> Vec<u8> {
    use openssl::md::Md;
    use openssl::pkey_ctx::PkeyCtx;
    use openssl::rsa::Padding;
    let mut context = PkeyCtx::new(rsa).unwrap();
    if encrypt {
        context.encrypt_init().unwrap();
    } else {
        context.decrypt_init().unwrap();
    }
    context.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    context.set_rsa_oaep_md(Md::sha384()).unwrap();
    context.set_rsa_mgf1_md(Md::sha384()).unwrap();
    context.set_rsa_oaep_label(b"rsa-aes").unwrap();
    let mut output = Vec::new();
    if encrypt {
        context.encrypt_to_vec(input, &mut output).unwrap();
    } else {
        context.decrypt_to_vec(input, &mut output).unwrap();
    }
    output
}

fn openssl_wrap_pad(kek: &[u8], input: &[u8], encrypt: bool) -> Vec<u8> {
    use openssl::cipher::Cipher;
    use openssl::cipher_ctx::{CipherCtx, CipherCtxFlags};
    let cipher = match kek.len() {
        16 => Cipher::aes_128_wrap_pad(),
        24 => Cipher::aes_192_wrap_pad(),
        _ => Cipher::aes_256_wrap_pad(),
    };
    let mut context = CipherCtx::new().unwrap();
    context.set_flags(CipherCtxFlags::FLAG_WRAP_ALLOW);
    if encrypt {
        context.encrypt_init(Some(cipher), Some(kek), None).unwrap();
    } else {
        context.decrypt_init(Some(cipher), Some(kek), None).unwrap();
    }
    let mut output = Vec::new();
    context.cipher_update_vec(input, &mut output).unwrap();
    context.cipher_final_vec(&mut output).unwrap();
    output
}

/// PKCS#11 3.0 §2.1.21: the output is the temporary AES key under RSA-OAEP,
/// then the key under that AES key with RFC 5649 (`CKM_AES_KEY_WRAP_PAD`),
/// both taken apart and put together here with OpenSSL alone.
#[test]
fn rsa_aes_key_wrap_is_oaep_of_a_temporary_aes_key_then_rfc_5649() {
    let private = rsa_private();
    let secret = b"a 45-byte key that is not whole semiblocks....".to_vec();
    for bits in [128, 192, 256] {
        let mechanism = rsa_aes(bits, CKM_SHA384, CKG_MGF1_SHA384);
        let wrapped = wrap(&mechanism, &loaded_public(&private), &secret).unwrap();
        let (rsa_part, aes_part) = wrapped.split_at(256);
        let temporary = openssl_oaep(false, &private, rsa_part);
        assert_eq!(temporary.len() as CK_ULONG * 8, bits);
        assert_eq!(openssl_wrap_pad(&temporary, aes_part, false), secret);

        let kek = vec![0x6Bu8; bits as usize / 8];
        let mut by_openssl = openssl_oaep(true, &private, &kek);
        by_openssl.extend(openssl_wrap_pad(&kek, &secret, true));
        assert_eq!(unwrap(&mechanism, &rsa(), &by_openssl).unwrap(), secret);
    }
}

#[test]
fn rsa_aes_key_wrap_refuses_bad_parameters_and_input() {
    let mechanism = rsa_aes(256, CKM_SHA256, CKG_MGF1_SHA256);
    for bad in [
        rsa_aes(100, CKM_SHA256, CKG_MGF1_SHA256),
        rsa_aes(256, CKM_SHA256, CKG_MGF1_SHA1),
        Mechanism::new(CKM_RSA_AES_KEY_WRAP),
    ] {
        assert_fails!(
            wrap(&bad, &rsa(), &[1; 32]),
            Error::MechanismParamInvalid(_)
        );
    }
    assert_fails!(
        wrap(&mechanism, &aes(32), &[1; 32]),
        Error::WrappingKeyTypeInconsistent
    );
    let wrapped = wrap(&mechanism, &rsa(), &[1; 32]).unwrap();
    assert_eq!(wrapped.len(), 256 + 40);
    assert_fails!(
        unwrap(&mechanism, &rsa(), &wrapped[..256]),
        Error::WrappedKeyLenRange
    );
    for index in [10, 260] {
        let mut corrupted = wrapped.clone();
        corrupted[index] ^= 1;
        assert_fails!(
            unwrap(&mechanism, &rsa(), &corrupted),
            Error::WrappedKeyInvalid
        );
    }
    assert_fails!(
        unwrap(&rsa_aes(128, CKM_SHA256, CKG_MGF1_SHA256), &rsa(), &wrapped),
        Error::WrappedKeyInvalid
    );
}

fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Mechanism {
    Mechanism::with(
        CKM_AES_GCM,
        MechanismParameter::Gcm {
            iv: iv.to_vec(),
            aad: aad.to_vec(),
            tag_bits,
        },
    )
}

#[test]
fn aes_gcm_wrapping_matches_openssl_and_checks_the_tag() {
    use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
    let kek = [0x21u8; 32];
    let (iv, aad) = ([0x0Cu8; 12], b"key wrap header");
    let secret = [0x77u8; 24];
    let mechanism = gcm(&iv, aad, 128);
    let wrapped = wrap(&mechanism, &loaded_secret(CKK_AES, &kek), &secret).unwrap();
    let mut tag = [0u8; 16];
    let ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        &kek,
        Some(&iv),
        aad,
        &secret,
        &mut tag,
    )
    .unwrap();
    assert_eq!(wrapped, [ciphertext.as_slice(), &tag].concat());
    let plain = decrypt_aead(
        Cipher::aes_256_gcm(),
        &kek,
        Some(&iv),
        aad,
        &wrapped[..24],
        &wrapped[24..],
    )
    .unwrap();
    assert_eq!(plain, secret);
    let key = loaded_secret(CKK_AES, &kek);
    assert_eq!(unwrap(&mechanism, &key, &wrapped).unwrap(), secret);
    let mut corrupted = wrapped.clone();
    corrupted[30] ^= 1;
    assert_fails!(
        unwrap(&mechanism, &key, &corrupted),
        Error::WrappedKeyInvalid
    );
    assert_fails!(
        unwrap(&gcm(&iv, b"another header", 128), &key, &wrapped),
        Error::WrappedKeyInvalid
    );
    assert_fails!(
        wrap(&mechanism, &rsa(), &secret),
        Error::WrappingKeyTypeInconsistent
    );
}
