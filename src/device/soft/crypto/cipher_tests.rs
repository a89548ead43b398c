//! Tests of encryption and decryption.

use super::test_support::*;
use super::{decrypt_init, encrypt_init, LoadedKey};
use crate::device::{CipherOperation, Mechanism, MechanismParameter};
use crate::error::Error;
use cryptoki_sys::*;
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use std::sync::Arc;

fn encrypt(key: &Arc<LoadedKey>, mechanism: &Mechanism, data: &[u8]) -> Result<Vec<u8>, Error> {
    encrypt_init(key.clone(), mechanism)?.one_shot(data)
}

fn decrypt(key: &Arc<LoadedKey>, mechanism: &Mechanism, data: &[u8]) -> Result<Vec<u8>, Error> {
    decrypt_init(key.clone(), mechanism)?.one_shot(data)
}

fn in_parts(
    mut operation: Box<dyn CipherOperation>,
    data: &[u8],
    part: usize,
) -> Result<Vec<u8>, Error> {
    let mut output = Vec::new();
    for chunk in data.chunks(part) {
        output.extend(operation.update(chunk)?);
    }
    output.extend(operation.finish()?);
    Ok(output)
}

fn oaep(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, label: &[u8]) -> Mechanism {
    Mechanism {
        kind: CKM_RSA_PKCS_OAEP,
        parameter: MechanismParameter::Oaep {
            hash,
            mgf,
            label: label.to_vec(),
        },
        caller_parameter: None,
    }
}

#[test]
fn rsa_pkcs1_encryption_round_trips_and_openssl_decrypts_it() {
    let key = rsa();
    let mechanism = Mechanism::new(CKM_RSA_PKCS);
    let ciphertext = encrypt(&loaded_public(&rsa_private()), &mechanism, b"session key").unwrap();
    assert_eq!(ciphertext.len(), 256);
    assert_eq!(
        decrypt(&key, &mechanism, &ciphertext).unwrap(),
        b"session key"
    );
    assert_eq!(
        in_parts(
            decrypt_init(key.clone(), &mechanism).unwrap(),
            &ciphertext,
            100
        )
        .unwrap(),
        b"session key"
    );
    let mut context = PkeyCtx::new(&rsa_private()).unwrap();
    context.decrypt_init().unwrap();
    context.set_rsa_padding(Padding::PKCS1).unwrap();
    let mut plaintext = Vec::new();
    context.decrypt_to_vec(&ciphertext, &mut plaintext).unwrap();
    assert_eq!(plaintext, b"session key");
}

#[test]
fn rsa_oaep_round_trips_with_every_hash_and_a_label() {
    let key = rsa();
    let hashes = [
        (CKM_SHA_1, CKG_MGF1_SHA1),
        (CKM_SHA224, CKG_MGF1_SHA224),
        (CKM_SHA256, CKG_MGF1_SHA256),
        (CKM_SHA384, CKG_MGF1_SHA384),
        (CKM_SHA512, CKG_MGF1_SHA512),
    ];
    for (hash, mgf) in hashes {
        for label in [&b""[..], b"label"] {
            let mechanism = oaep(hash, mgf, label);
            let ciphertext = in_parts(
                encrypt_init(key.clone(), &mechanism).unwrap(),
                b"secret data",
                3,
            )
            .unwrap();
            assert_eq!(
                decrypt(&key, &mechanism, &ciphertext).unwrap(),
                b"secret data"
            );
        }
    }
}

#[test]
fn rsa_oaep_label_is_the_one_openssl_decrypts_with() {
    // The label is set as an OSSL_PARAM (set_oaep_label); OpenSSL's own
    // setter, used here as the reference, must agree.
    let mechanism = oaep(CKM_SHA256, CKG_MGF1_SHA256, b"label");
    let ciphertext = encrypt(&loaded_public(&rsa_private()), &mechanism, b"data").unwrap();
    let decrypt_with = |label: &[u8]| {
        let mut context = PkeyCtx::new(&rsa_private()).unwrap();
        context.decrypt_init().unwrap();
        context.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        context.set_rsa_oaep_md(openssl::md::Md::sha256()).unwrap();
        context.set_rsa_mgf1_md(openssl::md::Md::sha256()).unwrap();
        context.set_rsa_oaep_label(label).unwrap();
        let mut plaintext = Vec::new();
        context
            .decrypt_to_vec(&ciphertext, &mut plaintext)
            .map(|_| plaintext)
    };
    assert_eq!(decrypt_with(b"label").unwrap(), b"data");
    assert!(decrypt_with(b"other").is_err());
}

#[test]
fn rsa_oaep_with_another_label_does_not_decrypt() {
    let key = rsa();
    let ciphertext = encrypt(&key, &oaep(CKM_SHA256, CKG_MGF1_SHA256, b"one"), b"data").unwrap();
    let result = decrypt(
        &key,
        &oaep(CKM_SHA256, CKG_MGF1_SHA256, b"two"),
        &ciphertext,
    );
    assert_fails!(result, Error::EncryptedDataInvalid);
}

#[test]
fn rsa_oaep_with_bad_parameters_is_refused() {
    assert_parameters_refused(
        [
            Mechanism::new(CKM_RSA_PKCS_OAEP),
            oaep(CKM_SHA256, CKG_MGF1_SHA1, b""),
            oaep(CKM_MD5, CKG_MGF1_SHA1, b""),
            with_raw_parameter(CKM_RSA_PKCS, vec![0; 8]),
        ],
        |mechanism| encrypt_init(rsa(), mechanism),
    );
}

#[test]
fn rsa_plaintext_too_long_is_a_data_length_error() {
    let key = rsa();
    assert!(encrypt(&key, &Mechanism::new(CKM_RSA_PKCS), &[1; 245]).is_ok());
    assert_fails!(
        encrypt(&key, &Mechanism::new(CKM_RSA_PKCS), &[1; 246]),
        Error::DataLenRange
    );
    let mechanism = oaep(CKM_SHA256, CKG_MGF1_SHA256, b"");
    assert!(encrypt(&key, &mechanism, &[1; 190]).is_ok());
    assert_fails!(encrypt(&key, &mechanism, &[1; 191]), Error::DataLenRange);
}

#[test]
fn rsa_ciphertext_of_the_wrong_length_is_refused_and_a_bad_padding_is_not_revealed() {
    let key = rsa();
    let mechanism = Mechanism::new(CKM_RSA_PKCS);
    assert_fails!(
        decrypt(&key, &mechanism, &[1; 255]),
        Error::EncryptedDataLenRange
    );
    assert_fails!(
        decrypt(&key, &mechanism, &[1; 257]),
        Error::EncryptedDataLenRange
    );
    let mut ciphertext = encrypt(&key, &mechanism, b"data").unwrap();
    ciphertext[10] ^= 1;
    // Implicit rejection: a bad padding yields a message derived from the
    // key and the ciphertext, the same every time, never an error.
    let first = decrypt(&key, &mechanism, &ciphertext).unwrap();
    assert_ne!(first, b"data");
    assert_eq!(decrypt(&key, &mechanism, &ciphertext).unwrap(), first);
    let oaep = oaep(CKM_SHA256, CKG_MGF1_SHA256, b"");
    let mut ciphertext = encrypt(&key, &oaep, b"data").unwrap();
    ciphertext[10] ^= 1;
    assert_fails!(
        decrypt(&key, &oaep, &ciphertext),
        Error::EncryptedDataInvalid
    );
}

#[test]
fn rsa_decryption_with_a_public_key_is_inconsistent() {
    let result = decrypt_init(loaded_public(&rsa_private()), &Mechanism::new(CKM_RSA_PKCS));
    assert_fails!(result, Error::KeyTypeInconsistent);
}

fn cbc(kind: CK_MECHANISM_TYPE, iv: &[u8]) -> Mechanism {
    Mechanism {
        kind,
        parameter: MechanismParameter::Raw(iv.to_vec()),
        caller_parameter: None,
    }
}

fn ctr(counter_bits: CK_ULONG, block: [u8; 16]) -> Mechanism {
    Mechanism {
        kind: CKM_AES_CTR,
        parameter: MechanismParameter::Ctr {
            counter_bits,
            block,
        },
        caller_parameter: None,
    }
}

fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Mechanism {
    Mechanism {
        kind: CKM_AES_GCM,
        parameter: MechanismParameter::Gcm {
            iv: iv.to_vec(),
            aad: aad.to_vec(),
            tag_bits,
        },
        caller_parameter: None,
    }
}

#[test]
fn aes_modes_round_trip_one_shot_and_in_parts() {
    let data: Vec<u8> = (0..160u8).collect();
    let mechanisms = [
        Mechanism::new(CKM_AES_ECB),
        cbc(CKM_AES_CBC, &[3; 16]),
        cbc(CKM_AES_CBC_PAD, &[3; 16]),
        ctr(128, [9; 16]),
        ctr(32, [0; 16]),
        gcm(&[1; 12], b"header", 128),
        gcm(&[1; 1], b"", 96),
        gcm(&[1; 60], b"", 104),
        gcm(&[1; 128], b"", 128),
    ];
    for len in [16, 24, 32] {
        let key = aes(len);
        for mechanism in &mechanisms {
            let ciphertext = encrypt(&key, mechanism, &data).unwrap();
            for part in [1, 7, 16, 33] {
                let streamed =
                    in_parts(encrypt_init(key.clone(), mechanism).unwrap(), &data, part).unwrap();
                assert_eq!(
                    streamed, ciphertext,
                    "{mechanism:?} encrypted in parts of {part}"
                );
                let decrypted = in_parts(
                    decrypt_init(key.clone(), mechanism).unwrap(),
                    &ciphertext,
                    part,
                )
                .unwrap();
                assert_eq!(
                    decrypted, data,
                    "{mechanism:?} decrypted in parts of {part}"
                );
            }
            assert_eq!(decrypt(&key, mechanism, &ciphertext).unwrap(), data);
        }
    }
}

#[test]
fn aes_ecb_matches_the_fips_197_vector() {
    // FIPS-197 Appendix C.1.
    let key = loaded_secret(CKK_AES, &hex("000102030405060708090a0b0c0d0e0f"));
    let ciphertext = encrypt(
        &key,
        &Mechanism::new(CKM_AES_ECB),
        &hex("00112233445566778899aabbccddeeff"),
    )
    .unwrap();
    assert_eq!(ciphertext, hex("69c4e0d86a7b0430d8cdb78070b4c55a"));
}

#[test]
fn aes_cbc_pad_adds_a_full_block_to_aligned_input() {
    let key = aes(16);
    let ciphertext = encrypt(&key, &cbc(CKM_AES_CBC_PAD, &[0; 16]), &[5; 32]).unwrap();
    assert_eq!(ciphertext.len(), 48);
    assert_eq!(
        encrypt(&key, &cbc(CKM_AES_CBC_PAD, &[0; 16]), b"")
            .unwrap()
            .len(),
        16
    );
}

#[test]
fn aes_cbc_pad_with_bad_padding_is_invalid_encrypted_data() {
    let key = aes(16);
    let mechanism = cbc(CKM_AES_CBC_PAD, &[0; 16]);
    // A block that decrypts to a last byte of 0x00 has invalid padding.
    let bad = encrypt(&key, &cbc(CKM_AES_CBC, &[0; 16]), &[0; 16]).unwrap();
    assert_fails!(decrypt(&key, &mechanism, &bad), Error::EncryptedDataInvalid);
    assert_fails!(
        decrypt(&key, &mechanism, &[0; 20]),
        Error::EncryptedDataLenRange
    );
    assert_fails!(decrypt(&key, &mechanism, &[]), Error::EncryptedDataLenRange);
}

#[test]
fn aes_ecb_and_cbc_need_whole_blocks() {
    let key = aes(16);
    for mechanism in [Mechanism::new(CKM_AES_ECB), cbc(CKM_AES_CBC, &[0; 16])] {
        assert_fails!(encrypt(&key, &mechanism, &[0; 17]), Error::DataLenRange);
        assert_fails!(
            decrypt(&key, &mechanism, &[0; 31]),
            Error::EncryptedDataLenRange
        );
        let mut operation = encrypt_init(key.clone(), &mechanism).unwrap();
        assert_eq!(operation.update(&[0; 20]).unwrap().len(), 16);
        assert_fails!(operation.finish(), Error::DataLenRange);
    }
}

#[test]
fn aes_with_bad_parameters_is_refused() {
    let key = aes(16);
    for mechanism in [
        cbc(CKM_AES_CBC, &[0; 15]),
        Mechanism::new(CKM_AES_CBC_PAD),
        Mechanism::new(CKM_AES_CTR),
        ctr(0, [0; 16]),
        ctr(129, [0; 16]),
        Mechanism::new(CKM_AES_GCM),
        gcm(&[], b"", 128),
        gcm(&[0; 129], b"", 128),
        gcm(&[0; 257], b"", 128),
        gcm(&[0; 12], b"", 0),
        gcm(&[0; 12], b"", 88),
        gcm(&[0; 12], b"", 100),
        gcm(&[0; 12], b"", 136),
        cbc(CKM_AES_ECB, &[0; 16]),
    ] {
        assert_fails!(
            encrypt_init(key.clone(), &mechanism),
            Error::MechanismParamInvalid(_),
            "{mechanism:?}"
        );
    }
}

#[test]
fn aes_ctr_refuses_to_wrap_its_counter_bits() {
    let key = aes(16);
    let mut block = [0u8; 16];
    block[15] = 0xFE; // an 8-bit counter with two blocks left
    let mechanism = ctr(8, block);
    assert_eq!(encrypt(&key, &mechanism, &[0; 32]).unwrap().len(), 32);
    assert_fails!(encrypt(&key, &mechanism, &[0; 33]), Error::DataLenRange);
    assert_fails!(
        decrypt(&key, &mechanism, &[0; 48]),
        Error::EncryptedDataLenRange
    );
}

#[test]
fn aes_gcm_matches_the_mcgrew_viega_test_case_4() {
    // "The Galois/Counter Mode of Operation", test case 4 (AES-128, 60-byte plaintext, AAD).
    let key = loaded_secret(CKK_AES, &hex("feffe9928665731c6d6a8f9467308308"));
    let plaintext = hex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
         1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    let mechanism = gcm(
        &hex("cafebabefacedbaddecaf888"),
        &hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
        128,
    );
    let expected = hex(
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
         21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091
         5bc94fbc3221a5db94fae95ae7121a47",
    );
    assert_eq!(encrypt(&key, &mechanism, &plaintext).unwrap(), expected);
    assert_eq!(decrypt(&key, &mechanism, &expected).unwrap(), plaintext);
    let short_tag = gcm(
        &hex("cafebabefacedbaddecaf888"),
        &hex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
        96,
    );
    assert_eq!(
        encrypt(&key, &short_tag, &plaintext).unwrap(),
        expected[..expected.len() - 4]
    );
}

#[test]
fn aes_gcm_releases_no_plaintext_before_the_tag_is_verified() {
    let key = aes(32);
    let mechanism = gcm(&[7; 12], b"aad", 128);
    let mut ciphertext = encrypt(&key, &mechanism, &[0x55; 100]).unwrap();
    let mut operation = decrypt_init(key.clone(), &mechanism).unwrap();
    assert!(operation.update(&ciphertext[..90]).unwrap().is_empty());
    assert!(operation.update(&ciphertext[90..]).unwrap().is_empty());
    assert_eq!(operation.finish().unwrap(), [0x55; 100]);

    ciphertext[3] ^= 1;
    let mut operation = decrypt_init(key.clone(), &mechanism).unwrap();
    assert!(operation.update(&ciphertext).unwrap().is_empty());
    assert_fails!(operation.finish(), Error::EncryptedDataInvalid);
    assert_fails!(
        decrypt(&key, &gcm(&[7; 12], b"other", 128), &ciphertext),
        Error::EncryptedDataInvalid
    );
    assert_fails!(
        decrypt(&key, &mechanism, &[0; 15]),
        Error::EncryptedDataLenRange
    );
}

#[test]
fn aes_needs_an_aes_key_of_16_24_or_32_bytes() {
    let mechanism = Mechanism::new(CKM_AES_ECB);
    assert_fails!(
        encrypt_init(loaded_secret(CKK_GENERIC_SECRET, &[0; 16]), &mechanism),
        Error::KeyTypeInconsistent
    );
    assert_fails!(encrypt_init(rsa(), &mechanism), Error::KeyTypeInconsistent);
    assert_fails!(encrypt_init(aes(20), &mechanism), Error::KeySizeRange);
    assert_fails!(
        encrypt_init(aes(16), &Mechanism::new(CKM_RSA_PKCS)),
        Error::KeyTypeInconsistent
    );
}

#[test]
fn mechanisms_that_do_not_encrypt_are_invalid() {
    for kind in [
        CKM_SHA256_RSA_PKCS,
        CKM_AES_KEY_WRAP,
        CKM_AES_KEY_WRAP_PAD,
        CKM_SHA256,
        CKM_AES_CFB128,
        CKM_DES_CBC,
    ] {
        assert!(
            matches!(encrypt_init(aes(16), &Mechanism::new(kind)), Err(Error::MechanismInvalid(k)) if k == kind)
        );
        assert!(
            matches!(decrypt_init(aes(16), &Mechanism::new(kind)), Err(Error::MechanismInvalid(k)) if k == kind)
        );
    }
}
