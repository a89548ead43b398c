//! Encryption and decryption (RSA PKCS#1 v1.5 and OAEP, AES ECB/CBC/
//! CBC_PAD/CTR/GCM), key wrapping, ECDH derivation and key import through
//! `C_CreateObject`, each checked against the `openssl` crate in both
//! directions (token → openssl and openssl → token).

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use openssl::bn::BigNumContext;
use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{Signer, Verifier};
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher, Crypter, Mode as Direction};

const IV: [u8; 16] = [
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
];
const GCM_IV: [u8; 12] = [
    0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88,
];
const AAD: &[u8] = b"additional authenticated data";

fn raw<'a, T>(kind: CK_MECHANISM_TYPE, params: Option<&'a T>) -> Mechanism<'a> {
    let kind = MechanismType::try_from(kind).expect("a mechanism cryptoki knows by number");
    Mechanism::VendorDefined(VendorDefinedMechanism::new(kind, params))
}

fn key_of_len(len: usize) -> Vec<u8> {
    (0..len as u8)
        .map(|b| b.wrapping_mul(7).wrapping_add(3))
        .collect()
}

// ----- AES -----

#[derive(Clone, Copy, Debug)]
enum Mode {
    Ecb,
    Cbc,
    CbcPad,
    Ctr,
    Gcm,
}

const MODES: [Mode; 5] = [Mode::Ecb, Mode::Cbc, Mode::CbcPad, Mode::Ctr, Mode::Gcm];

/// Input for a mode: block-aligned where the mode needs it, ragged elsewhere.
fn plaintext(mode: Mode) -> Vec<u8> {
    let len = match mode {
        Mode::Ecb | Mode::Cbc => 64,
        _ => 61,
    };
    (0..len as u8).collect()
}

/// Calls `f` with the token mechanism for `mode` (its parameters live for the call).
fn with_mechanism<R>(mode: Mode, f: impl FnOnce(&Mechanism) -> R) -> R {
    match mode {
        Mode::Ecb => f(&Mechanism::AesEcb),
        Mode::Cbc => f(&Mechanism::AesCbc(IV)),
        Mode::CbcPad => f(&Mechanism::AesCbcPad(IV)),
        Mode::Ctr => {
            let params = CK_AES_CTR_PARAMS {
                ulCounterBits: 128,
                cb: IV,
            };
            f(&raw(CKM_AES_CTR, Some(&params)))
        }
        Mode::Gcm => {
            let mut iv = GCM_IV;
            let params = GcmParams::new(&mut iv, AAD, 128.into()).unwrap();
            f(&Mechanism::AesGcm(params))
        }
    }
}

fn openssl_cipher(mode: Mode, key_len: usize) -> Cipher {
    match (mode, key_len) {
        (Mode::Ecb, 16) => Cipher::aes_128_ecb(),
        (Mode::Ecb, 24) => Cipher::aes_192_ecb(),
        (Mode::Ecb, _) => Cipher::aes_256_ecb(),
        (Mode::Cbc | Mode::CbcPad, 16) => Cipher::aes_128_cbc(),
        (Mode::Cbc | Mode::CbcPad, 24) => Cipher::aes_192_cbc(),
        (Mode::Cbc | Mode::CbcPad, _) => Cipher::aes_256_cbc(),
        (Mode::Ctr, 16) => Cipher::aes_128_ctr(),
        (Mode::Ctr, 24) => Cipher::aes_192_ctr(),
        (Mode::Ctr, _) => Cipher::aes_256_ctr(),
        (Mode::Gcm, 16) => Cipher::aes_128_gcm(),
        (Mode::Gcm, 24) => Cipher::aes_192_gcm(),
        (Mode::Gcm, _) => Cipher::aes_256_gcm(),
    }
}

/// What the token should produce, computed by openssl (GCM: ciphertext || tag).
fn openssl_aes(mode: Mode, key: &[u8], input: &[u8], direction: Direction) -> Vec<u8> {
    let cipher = openssl_cipher(mode, key.len());
    if let Mode::Gcm = mode {
        return match direction {
            Direction::Encrypt => {
                let mut tag = [0u8; 16];
                let mut out =
                    encrypt_aead(cipher, key, Some(&GCM_IV), AAD, input, &mut tag).unwrap();
                out.extend_from_slice(&tag);
                out
            }
            Direction::Decrypt => {
                let (body, tag) = input.split_at(input.len() - 16);
                decrypt_aead(cipher, key, Some(&GCM_IV), AAD, body, tag).unwrap()
            }
        };
    }
    let iv = match mode {
        Mode::Ecb => None,
        _ => Some(&IV[..]),
    };
    let mut crypter = Crypter::new(cipher, direction, key, iv).unwrap();
    crypter.pad(matches!(mode, Mode::CbcPad));
    let mut out = vec![0; input.len() + 32];
    let mut n = crypter.update(input, &mut out).unwrap();
    n += crypter.finalize(&mut out[n..]).unwrap();
    out.truncate(n);
    out
}

#[test]
fn aes_encryption_on_the_token_matches_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    for key_len in [16, 24, 32] {
        let value = key_of_len(key_len);
        let key = import_secret(&session, KeyType::AES, &value);
        for mode in MODES {
            let input = plaintext(mode);
            let expected = openssl_aes(mode, &value, &input, Direction::Encrypt);
            let actual = with_mechanism(mode, |m| session.encrypt(m, key, &input))
                .unwrap_or_else(|e| panic!("C_Encrypt {mode:?} AES-{}: {e}", key_len * 8));
            assert_eq!(actual, expected, "{mode:?} AES-{}", key_len * 8);
        }
    }
}

#[test]
fn aes_ciphertext_from_openssl_decrypts_on_the_token() {
    let token = TestToken::new();
    let session = token.user_session();
    for key_len in [16, 24, 32] {
        let value = key_of_len(key_len);
        let key = import_secret(&session, KeyType::AES, &value);
        for mode in MODES {
            let input = plaintext(mode);
            let ciphertext = openssl_aes(mode, &value, &input, Direction::Encrypt);
            let actual = with_mechanism(mode, |m| session.decrypt(m, key, &ciphertext))
                .unwrap_or_else(|e| panic!("C_Decrypt {mode:?} AES-{}: {e}", key_len * 8));
            assert_eq!(actual, input, "{mode:?} AES-{}", key_len * 8);
        }
    }
}

#[test]
fn aes_multi_part_encryption_equals_one_shot() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = key_of_len(32);
    let key = import_secret(&session, KeyType::AES, &value);
    for mode in MODES {
        let input = plaintext(mode);
        let expected = openssl_aes(mode, &value, &input, Direction::Encrypt);
        let mut actual = Vec::new();
        with_mechanism(mode, |m| session.encrypt_init(m, key)).unwrap();
        for chunk in input.chunks(13) {
            actual.extend(
                session
                    .encrypt_update(chunk)
                    .unwrap_or_else(|e| panic!("C_EncryptUpdate {mode:?}: {e}")),
            );
        }
        actual.extend(session.encrypt_final().unwrap());
        assert_eq!(actual, expected, "{mode:?}");
    }
}

#[test]
fn aes_multi_part_decryption_equals_one_shot() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = key_of_len(16);
    let key = import_secret(&session, KeyType::AES, &value);
    for mode in MODES {
        let input = plaintext(mode);
        let ciphertext = openssl_aes(mode, &value, &input, Direction::Encrypt);
        let mut actual = Vec::new();
        with_mechanism(mode, |m| session.decrypt_init(m, key)).unwrap();
        for chunk in ciphertext.chunks(11) {
            actual.extend(
                session
                    .decrypt_update(chunk)
                    .unwrap_or_else(|e| panic!("C_DecryptUpdate {mode:?}: {e}")),
            );
        }
        actual.extend(session.decrypt_final().unwrap());
        assert_eq!(actual, input, "{mode:?}");
    }
}

#[test]
fn aes_128_ecb_matches_the_fips_197_vector() {
    let token = TestToken::new();
    let session = token.user_session();
    let key: Vec<u8> = (0u8..16).collect();
    let plaintext: Vec<u8> = (0u8..16).map(|b| b * 0x11).collect();
    let key = import_secret(&session, KeyType::AES, &key);
    let ciphertext = session
        .encrypt(&Mechanism::AesEcb, key, &plaintext)
        .unwrap();
    assert_eq!(
        ciphertext,
        [
            0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
            0xc5, 0x5a
        ]
    );
}

#[test]
fn aes_gcm_with_a_modified_tag_is_encrypted_data_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = key_of_len(32);
    let key = import_secret(&session, KeyType::AES, &value);
    let mut ciphertext = openssl_aes(Mode::Gcm, &value, b"secret", Direction::Encrypt);
    let last = ciphertext.len() - 1;
    ciphertext[last] ^= 0x80;
    let result = with_mechanism(Mode::Gcm, |m| session.decrypt(m, key, &ciphertext));
    assert_rv(result, RvError::EncryptedDataInvalid);
}

#[test]
fn aes_ecb_input_that_is_not_whole_blocks_is_data_len_range() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = import_secret(&session, KeyType::AES, &key_of_len(16));
    assert_rv(
        session.encrypt(&Mechanism::AesEcb, key, &[0u8; 15]),
        RvError::DataLenRange,
    );
}

#[test]
fn aes_cbc_pad_ciphertext_with_bad_padding_is_encrypted_data_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = key_of_len(16);
    let key = import_secret(&session, KeyType::AES, &value);
    // A block whose last byte is 0: never valid PKCS#7 padding.
    let ciphertext = openssl_aes(Mode::Cbc, &value, &[0u8; 16], Direction::Encrypt);
    assert_rv(
        session.decrypt(&Mechanism::AesCbcPad(IV), key, &ciphertext),
        RvError::EncryptedDataInvalid,
    );
}

#[test]
fn aes_gcm_with_a_96_bit_tag_appends_the_first_12_tag_bytes() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = key_of_len(16);
    let key = import_secret(&session, KeyType::AES, &value);
    let full = openssl_aes(Mode::Gcm, &value, b"short tag", Direction::Encrypt);
    let mut iv = GCM_IV;
    let params = GcmParams::new(&mut iv, AAD, 96.into()).unwrap();
    let ciphertext = session
        .encrypt(&Mechanism::AesGcm(params), key, b"short tag")
        .expect("C_Encrypt AES-GCM with a 96-bit tag");
    assert_eq!(ciphertext, full[..full.len() - 4].to_vec());
}

#[test]
fn encrypt_update_length_query_does_not_consume_the_input() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = key_of_len(16);
    let key = import_secret(&session, KeyType::AES, &value);
    let h = session.handle();
    let mut iv = IV;
    let mut mechanism = raw_mechanism_with(CKM_AES_CBC, &mut iv);
    let mut data = plaintext(Mode::Cbc);
    let expected = openssl_aes(Mode::Cbc, &value, &data, Direction::Encrypt);
    assert_ck!(ck!(C_EncryptInit(h, &mut mechanism, key.handle())), CKR_OK);
    let mut length: CK_ULONG = 0;
    assert_ck!(
        ck!(C_EncryptUpdate(
            h,
            data.as_mut_ptr(),
            32,
            std::ptr::null_mut(),
            &mut length
        )),
        CKR_OK
    );
    assert_eq!(length, 32);
    let mut out = vec![0u8; 64];
    assert_ck!(
        ck!(C_EncryptUpdate(
            h,
            data.as_mut_ptr(),
            32,
            out.as_mut_ptr(),
            &mut length
        )),
        CKR_OK
    );
    assert_eq!(length, 32);
    let mut rest_length: CK_ULONG = 32;
    assert_ck!(
        ck!(C_EncryptUpdate(
            h,
            data[32..].as_mut_ptr(),
            32,
            out[32..].as_mut_ptr(),
            &mut rest_length
        )),
        CKR_OK
    );
    let mut final_length: CK_ULONG = 0;
    let mut tail = [0u8; 16];
    assert_ck!(
        ck!(C_EncryptFinal(h, tail.as_mut_ptr(), &mut final_length)),
        CKR_OK
    );
    assert_eq!((rest_length, final_length), (32, 0));
    assert_eq!(
        out, expected,
        "the length query did not encrypt the data twice"
    );
}

// ----- RSA encryption -----

fn oaep_cases() -> Vec<(MessageDigest, Option<&'static [u8]>)> {
    let mut cases = vec![(MessageDigest::sha1(), None)];
    if !skipped_over_softhsm2("CKM_RSA_PKCS_OAEP with SHA-2") {
        cases.extend([
            (MessageDigest::sha256(), None),
            (MessageDigest::sha256(), Some(b"a label".as_slice())),
            (MessageDigest::sha512(), None),
        ]);
    }
    cases
}

fn oaep_mechanism(md: MessageDigest, label: Option<&[u8]>) -> Mechanism<'_> {
    let (hash, mgf) = match md.size() {
        20 => (MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        32 => (MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        _ => (MechanismType::SHA512, PkcsMgfType::MGF1_SHA512),
    };
    let source = match label {
        Some(label) => PkcsOaepSource::data_specified(label),
        None => PkcsOaepSource::empty(),
    };
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, source))
}

fn openssl_md(md: MessageDigest) -> &'static openssl::md::MdRef {
    match md.size() {
        20 => Md::sha1(),
        32 => Md::sha256(),
        _ => Md::sha512(),
    }
}

fn openssl_oaep_encrypt(
    public: &PKey<Public>,
    md: MessageDigest,
    label: Option<&[u8]>,
    data: &[u8],
) -> Vec<u8> {
    let mut ctx = PkeyCtx::new(public).unwrap();
    ctx.encrypt_init().unwrap();
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    ctx.set_rsa_oaep_md(openssl_md(md)).unwrap();
    ctx.set_rsa_mgf1_md(openssl_md(md)).unwrap();
    if let Some(label) = label {
        ctx.set_rsa_oaep_label(label).unwrap();
    }
    let mut out = Vec::new();
    ctx.encrypt_to_vec(data, &mut out).unwrap();
    out
}

fn openssl_oaep_decrypt(
    private: &PKey<Private>,
    md: MessageDigest,
    label: Option<&[u8]>,
    data: &[u8],
) -> Vec<u8> {
    let mut ctx = PkeyCtx::new(private).unwrap();
    ctx.decrypt_init().unwrap();
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    ctx.set_rsa_oaep_md(openssl_md(md)).unwrap();
    ctx.set_rsa_mgf1_md(openssl_md(md)).unwrap();
    if let Some(label) = label {
        ctx.set_rsa_oaep_label(label).unwrap();
    }
    let mut out = Vec::new();
    ctx.decrypt_to_vec(data, &mut out)
        .expect("openssl OAEP decryption");
    out
}

/// Imports an openssl RSA key pair into the token (private: sensitive).
fn import_rsa(session: &Session, rsa: &Rsa<Private>) -> KeyPair {
    let private = session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
            Attribute::Unwrap(true),
            Attribute::Modulus(rsa.n().to_vec()),
            Attribute::PublicExponent(rsa.e().to_vec()),
            Attribute::PrivateExponent(rsa.d().to_vec()),
            Attribute::Prime1(rsa.p().unwrap().to_vec()),
            Attribute::Prime2(rsa.q().unwrap().to_vec()),
            Attribute::Exponent1(rsa.dmp1().unwrap().to_vec()),
            Attribute::Exponent2(rsa.dmq1().unwrap().to_vec()),
            Attribute::Coefficient(rsa.iqmp().unwrap().to_vec()),
        ])
        .expect("C_CreateObject RSA private key");
    let public = session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
            Attribute::Modulus(rsa.n().to_vec()),
            Attribute::PublicExponent(rsa.e().to_vec()),
        ])
        .expect("C_CreateObject RSA public key");
    KeyPair { public, private }
}

#[test]
fn rsa_pkcs_ciphertext_from_openssl_decrypts_on_the_token() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let public = openssl_public_key(&session, pair.public).rsa().unwrap();
    let mut ciphertext = vec![0; public.size() as usize];
    public
        .public_encrypt(b"sixteen byte key", &mut ciphertext, Padding::PKCS1)
        .unwrap();
    let plaintext = session
        .decrypt(&Mechanism::RsaPkcs, pair.private, &ciphertext)
        .expect("C_Decrypt CKM_RSA_PKCS");
    assert_eq!(plaintext, b"sixteen byte key");
}

#[test]
fn rsa_pkcs_encryption_on_the_token_decrypts_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = Rsa::generate(2048).unwrap();
    let pair = import_rsa(&session, &rsa);
    let ciphertext = session
        .encrypt(&Mechanism::RsaPkcs, pair.public, b"sixteen byte key")
        .expect("C_Encrypt CKM_RSA_PKCS");
    let mut plaintext = vec![0; rsa.size() as usize];
    let n = rsa
        .private_decrypt(&ciphertext, &mut plaintext, Padding::PKCS1)
        .unwrap();
    assert_eq!(&plaintext[..n], b"sixteen byte key");
}

#[test]
fn rsa_oaep_ciphertext_from_openssl_decrypts_on_the_token() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let public = openssl_public_key(&session, pair.public);
    for (md, label) in oaep_cases() {
        let ciphertext = openssl_oaep_encrypt(&public, md, label, b"oaep message");
        let plaintext = session
            .decrypt(&oaep_mechanism(md, label), pair.private, &ciphertext)
            .unwrap_or_else(|e| panic!("C_Decrypt OAEP {} label {label:?}: {e}", md.size()));
        assert_eq!(plaintext, b"oaep message");
    }
}

#[test]
fn rsa_oaep_encryption_on_the_token_decrypts_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = Rsa::generate(2048).unwrap();
    let pair = import_rsa(&session, &rsa);
    let private = PKey::from_rsa(rsa).unwrap();
    for (md, label) in oaep_cases() {
        let ciphertext = session
            .encrypt(&oaep_mechanism(md, label), pair.public, b"oaep message")
            .unwrap_or_else(|e| panic!("C_Encrypt OAEP {} label {label:?}: {e}", md.size()));
        assert_eq!(
            openssl_oaep_decrypt(&private, md, label, &ciphertext),
            b"oaep message"
        );
    }
}

#[test]
fn rsa_inputs_of_the_wrong_length_get_the_length_codes() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let cases = [
        (
            "C_Encrypt CKM_RSA_PKCS of 246 bytes (max 245)",
            rv_of(session.encrypt(&Mechanism::RsaPkcs, pair.public, &[1u8; 246])),
            RvError::DataLenRange,
        ),
        (
            "C_Sign CKM_RSA_PKCS of 246 bytes",
            rv_of(session.sign(&Mechanism::RsaPkcs, pair.private, &[1u8; 246])),
            RvError::DataLenRange,
        ),
        (
            "C_Decrypt CKM_RSA_PKCS of 255 bytes",
            rv_of(session.decrypt(&Mechanism::RsaPkcs, pair.private, &[1u8; 255])),
            RvError::EncryptedDataLenRange,
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(_, got, expected)| got != expected)
        .map(|(name, got, expected)| format!("{name}: {got:?}, expected {expected:?}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A raw RSA encryption (no padding) of `block` under `public`.
fn raw_rsa_encrypt(public: &Rsa<openssl::pkey::Public>, block: &[u8]) -> Vec<u8> {
    let mut ciphertext = vec![0u8; public.size() as usize];
    public
        .public_encrypt(block, &mut ciphertext, Padding::NONE)
        .unwrap();
    ciphertext
}

/// `CKM_RSA_PKCS` decryption is no padding oracle: a ciphertext whose
/// padding is wrong decrypts, like a good one, to a message: a synthetic
/// one, computed from the private key and the ciphertext (implicit
/// rejection, as OpenSSL 3.2+ does it), so the same on every call.
#[test]
fn rsa_pkcs_ciphertext_with_a_bad_padding_gives_a_deterministic_key_dependent_message() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let other = generate_rsa(&session, 2048, false, b"other");
    let public = openssl_public_key(&session, pair.public).rsa().unwrap();
    let other_public = openssl_public_key(&session, other.public).rsa().unwrap();
    let mut bad_blocks = Vec::new();
    let mut block = vec![0x55u8; 256];
    block[0] = 0;
    bad_blocks.push(("no 0x02", block));
    let mut block = vec![0x55u8; 256];
    block[0] = 0;
    block[1] = 2;
    bad_blocks.push(("no separator", block));
    let mut block = vec![0x55u8; 256];
    block[0] = 0;
    block[1] = 2;
    block[9] = 0;
    bad_blocks.push(("7 bytes of padding", block));
    for (what, block) in bad_blocks {
        let ciphertext = raw_rsa_encrypt(&public, &block);
        let first = session
            .decrypt(&Mechanism::RsaPkcs, pair.private, &ciphertext)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let again = session
            .decrypt(&Mechanism::RsaPkcs, pair.private, &ciphertext)
            .unwrap();
        assert_eq!(first, again, "{what}: the same message every time");
        assert!(first.len() <= 256 - 11, "{what}: {} bytes", first.len());
        // The same bad block under another key: another message.
        let other_ciphertext = raw_rsa_encrypt(&other_public, &block);
        let elsewhere = session
            .decrypt(&Mechanism::RsaPkcs, other.private, &other_ciphertext)
            .unwrap();
        assert_ne!(first, elsewhere, "{what}: the message depends on the key");
    }
    // A good ciphertext still gives its message.
    let mut ciphertext = vec![0u8; 256];
    let len = public
        .public_encrypt(b"sixteen byte key", &mut ciphertext, Padding::PKCS1)
        .unwrap();
    assert_eq!(
        session
            .decrypt(&Mechanism::RsaPkcs, pair.private, &ciphertext[..len])
            .unwrap(),
        b"sixteen byte key"
    );
}

// ----- wrapping -----

fn unwrap_template(key_type: KeyType) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ]
}

fn unwrap_template_generic() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Sign(true),
    ]
}

#[test]
fn aes_key_wrap_matches_the_rfc_3394_vector() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek = import_secret(&session, KeyType::AES, &(0u8..16).collect::<Vec<_>>());
    let key_data: Vec<u8> = (0u8..16).map(|b| b * 0x11).collect();
    let key = import_secret(&session, KeyType::AES, &key_data);
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrap, kek, key)
        .expect("C_WrapKey CKM_AES_KEY_WRAP");
    assert_eq!(
        wrapped,
        [
            0x1F, 0xA6, 0x8B, 0x0A, 0x81, 0x12, 0xB4, 0x47, 0xAE, 0xF3, 0x4B, 0xD8, 0xFB, 0x5A,
            0x7B, 0x82, 0x9D, 0x3E, 0x86, 0x23, 0x71, 0xD2, 0xCF, 0xE5
        ]
    );
    let unwrapped = session
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            kek,
            &wrapped,
            &unwrap_template(KeyType::AES),
        )
        .expect("C_UnwrapKey CKM_AES_KEY_WRAP");
    assert_eq!(
        attribute_bytes(&session, unwrapped, AttributeType::Value),
        key_data
    );
}

fn openssl_wrap_pad(kek: &[u8], key: &[u8]) -> Vec<u8> {
    let cipher = match kek.len() {
        16 => openssl::cipher::Cipher::aes_128_wrap_pad(),
        24 => openssl::cipher::Cipher::aes_192_wrap_pad(),
        _ => openssl::cipher::Cipher::aes_256_wrap_pad(),
    };
    let mut ctx = openssl::cipher_ctx::CipherCtx::new().unwrap();
    ctx.encrypt_init(Some(cipher), Some(kek), None).unwrap();
    let mut out = Vec::new();
    ctx.cipher_update_vec(key, &mut out).unwrap();
    ctx.cipher_final_vec(&mut out).unwrap();
    out
}

#[test]
fn aes_key_wrap_pad_matches_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek_value = key_of_len(24);
    let kek = import_secret(&session, KeyType::AES, &kek_value);
    for len in [20usize, 7, 33] {
        let secret = key_of_len(len + 100)[100..].to_vec();
        let key = import_secret(&session, KeyType::GENERIC_SECRET, &secret);
        let wrapped = session
            .wrap_key(&Mechanism::AesKeyWrapPad, kek, key)
            .unwrap_or_else(|e| panic!("C_WrapKey CKM_AES_KEY_WRAP_PAD of {len} bytes: {e}"));
        assert_eq!(
            wrapped,
            openssl_wrap_pad(&kek_value, &secret),
            "{len} bytes"
        );
        let unwrapped = session
            .unwrap_key(
                &Mechanism::AesKeyWrapPad,
                kek,
                &wrapped,
                &unwrap_template_generic(),
            )
            .expect("C_UnwrapKey CKM_AES_KEY_WRAP_PAD");
        assert_eq!(
            attribute_bytes(&session, unwrapped, AttributeType::Value),
            secret
        );
    }
}

#[test]
fn aes_key_wrap_pad_round_trips_an_rsa_private_key() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek = import_secret(&session, KeyType::AES, &key_of_len(32));
    let (public, private) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::ModulusBits(2048.into()),
                Attribute::Verify(true),
            ],
            &[
                Attribute::Token(false),
                Attribute::Sensitive(true),
                Attribute::Extractable(true),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrapPad, kek, private)
        .expect("C_WrapKey of an RSA private key");
    let unwrapped = session
        .unwrap_key(
            &Mechanism::AesKeyWrapPad,
            kek,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::RSA),
                Attribute::Token(false),
                Attribute::Sign(true),
            ],
        )
        .expect("C_UnwrapKey of an RSA private key");
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, unwrapped, b"data")
        .unwrap();
    session
        .verify(&Mechanism::Sha256RsaPkcs, public, b"data", &signature)
        .expect("the unwrapped key is the original");
}

#[test]
fn rsa_oaep_wrapped_key_is_unwrapped_by_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = Rsa::generate(2048).unwrap();
    let pair = import_rsa(&session, &rsa);
    let secret = key_of_len(32);
    let key = import_secret(&session, KeyType::AES, &secret);
    let mechanism = oaep_mechanism(MessageDigest::sha256(), None);
    let wrapped = session
        .wrap_key(&mechanism, pair.public, key)
        .expect("C_WrapKey CKM_RSA_PKCS_OAEP");
    let private = PKey::from_rsa(rsa).unwrap();
    assert_eq!(
        openssl_oaep_decrypt(&private, MessageDigest::sha256(), None, &wrapped),
        secret
    );
}

#[test]
fn rsa_oaep_unwrap_on_the_token_recovers_a_key_wrapped_by_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa");
    let public = openssl_public_key(&session, pair.public);
    let secret = key_of_len(16);
    let wrapped = openssl_oaep_encrypt(&public, MessageDigest::sha256(), None, &secret);
    let unwrapped = session
        .unwrap_key(
            &oaep_mechanism(MessageDigest::sha256(), None),
            pair.private,
            &wrapped,
            &unwrap_template(KeyType::AES),
        )
        .expect("C_UnwrapKey CKM_RSA_PKCS_OAEP");
    assert_eq!(
        attribute_bytes(&session, unwrapped, AttributeType::Value),
        secret
    );
}

#[test]
fn wrapping_an_unextractable_key_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek = import_secret(&session, KeyType::AES, &key_of_len(16));
    let key = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(16.into()),
                Attribute::Extractable(false),
            ],
        )
        .unwrap();
    assert_rv(
        session.wrap_key(&Mechanism::AesKeyWrap, kek, key),
        RvError::KeyUnextractable,
    );
}

#[test]
fn unwrapping_corrupted_aes_wrapped_data_is_wrapped_key_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek = import_secret(&session, KeyType::AES, &key_of_len(16));
    let key = import_secret(&session, KeyType::AES, &key_of_len(32));
    let mut wrapped = session.wrap_key(&Mechanism::AesKeyWrap, kek, key).unwrap();
    wrapped[3] ^= 0x55;
    assert_rv(
        session.unwrap_key(
            &Mechanism::AesKeyWrap,
            kek,
            &wrapped,
            &unwrap_template(KeyType::AES),
        ),
        RvError::WrappedKeyInvalid,
    );
}

// ----- ECDH -----

fn derive_template(len: u64) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::ValueLen(len.into()),
    ]
}

fn ecdh(session: &Session, private: ObjectHandle, peer_point: &[u8], len: u64) -> Vec<u8> {
    let params = Ecdh1DeriveParams::new(EcKdf::null(), peer_point);
    let key = session
        .derive_key(
            &Mechanism::Ecdh1Derive(params),
            private,
            &derive_template(len),
        )
        .unwrap_or_else(|e| panic!("C_DeriveKey CKM_ECDH1_DERIVE: {e}"));
    attribute_bytes(session, key, AttributeType::Value)
}

#[test]
fn ecdh_derivation_gives_both_sides_the_same_secret() {
    let token = TestToken::new();
    let session = token.user_session();
    for (curve, len) in [(P256, 32u64), (P384, 48), (P521, 66)] {
        let alice = generate_ec(&session, curve, false, b"alice");
        let bob = generate_ec(&session, curve, false, b"bob");
        let alice_point = ec_point_octets(&attribute_bytes(
            &session,
            alice.public,
            AttributeType::EcPoint,
        ));
        let bob_point = ec_point_octets(&attribute_bytes(
            &session,
            bob.public,
            AttributeType::EcPoint,
        ));
        let alice_secret = ecdh(&session, alice.private, &bob_point, len);
        let bob_secret = ecdh(&session, bob.private, &alice_point, len);
        assert_eq!(alice_secret.len() as u64, len);
        assert_eq!(alice_secret, bob_secret, "{curve:02x?}");
    }
}

#[test]
fn ecdh_derivation_matches_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_ec(&session, P256, false, b"token");
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let peer = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let peer_point = peer
        .ec_key()
        .unwrap()
        .public_key()
        .to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx)
        .unwrap();
    let token_secret = ecdh(&session, pair.private, &peer_point, 32);
    let token_public = openssl_public_key(&session, pair.public);
    let mut deriver = Deriver::new(&peer).unwrap();
    deriver.set_peer(&token_public).unwrap();
    assert_eq!(token_secret, deriver.derive_to_vec().unwrap());
}

// ----- key import -----

#[test]
fn imported_rsa_private_key_signs_exactly_like_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = Rsa::generate(2048).unwrap();
    let pair = import_rsa(&session, &rsa);
    let private = PKey::from_rsa(rsa).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &private).unwrap();
    signer.update(b"imported").unwrap();
    let expected = signer.sign_to_vec().unwrap();
    let actual = session
        .sign(&Mechanism::Sha256RsaPkcs, pair.private, b"imported")
        .unwrap();
    assert_eq!(actual, expected, "PKCS#1 v1.5 is deterministic");
}

fn import_ec(session: &Session, params: &[u8], key: &EcKey<Private>) -> KeyPair {
    let group = key.group();
    let size = (group.degree() as i32 + 7) / 8;
    let mut ctx = BigNumContext::new().unwrap();
    let point = key
        .public_key()
        .to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut ctx)
        .unwrap();
    let private = session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(false),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            Attribute::EcParams(params.to_vec()),
            Attribute::Value(key.private_key().to_vec_padded(size).unwrap()),
        ])
        .expect("C_CreateObject EC private key");
    let public = session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::EcParams(params.to_vec()),
            Attribute::EcPoint(der_octet_string(&point)),
        ])
        .expect("C_CreateObject EC public key");
    KeyPair { public, private }
}

#[test]
fn imported_ec_private_key_signature_verifies_with_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    for (params, nid) in [(P256, Nid::X9_62_PRIME256V1), (P384, Nid::SECP384R1)] {
        let group = EcGroup::from_curve_name(nid).unwrap();
        let key = EcKey::generate(&group).unwrap();
        let pair = import_ec(&session, params, &key);
        let signature = session
            .sign(&Mechanism::EcdsaSha256, pair.private, b"imported")
            .unwrap();
        let half = signature.len() / 2;
        let sig = openssl::ecdsa::EcdsaSig::from_private_components(
            openssl::bn::BigNum::from_slice(&signature[..half]).unwrap(),
            openssl::bn::BigNum::from_slice(&signature[half..]).unwrap(),
        )
        .unwrap();
        let digest = openssl::hash::hash(MessageDigest::sha256(), b"imported").unwrap();
        assert!(sig.verify(&digest, &key).unwrap(), "{nid:?}");
    }
}

#[test]
fn imported_ed25519_private_key_signs_exactly_like_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = PKey::generate_ed25519().unwrap();
    let private = session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::EcParams(ED25519.to_vec()),
            Attribute::Value(key.raw_private_key().unwrap()),
        ])
        .expect("C_CreateObject Ed25519 private key");
    let expected = Signer::new_without_digest(&key)
        .unwrap()
        .sign_oneshot_to_vec(b"imported")
        .unwrap();
    let actual = session
        .sign(&raw::<()>(CKM_EDDSA, None), private, b"imported")
        .unwrap();
    assert_eq!(actual, expected, "Ed25519 is deterministic");
}

#[test]
fn imported_public_keys_verify_signatures_made_by_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = Rsa::generate(2048).unwrap();
    let rsa_pair = import_rsa(&session, &rsa);
    let rsa_key = PKey::from_rsa(rsa).unwrap();
    let mut signer = Signer::new(MessageDigest::sha384(), &rsa_key).unwrap();
    signer.update(b"made by openssl").unwrap();
    session
        .verify(
            &Mechanism::Sha384RsaPkcs,
            rsa_pair.public,
            b"made by openssl",
            &signer.sign_to_vec().unwrap(),
        )
        .expect("RSA public key import");

    let ed = PKey::generate_ed25519().unwrap();
    let ed_public = session
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Token(false),
            Attribute::Verify(true),
            Attribute::EcParams(ED25519.to_vec()),
            Attribute::EcPoint(der_octet_string(&ed.raw_public_key().unwrap())),
        ])
        .expect("C_CreateObject Ed25519 public key");
    let signature = Signer::new_without_digest(&ed)
        .unwrap()
        .sign_oneshot_to_vec(b"made by openssl")
        .unwrap();
    session
        .verify(
            &raw::<()>(CKM_EDDSA, None),
            ed_public,
            b"made by openssl",
            &signature,
        )
        .expect("Ed25519 public key import");
    let ed_pub =
        PKey::public_key_from_raw_bytes(&ed.raw_public_key().unwrap(), Id::ED25519).unwrap();
    assert!(Verifier::new_without_digest(&ed_pub)
        .unwrap()
        .verify_oneshot(&signature, b"made by openssl")
        .unwrap());
}

#[test]
fn importing_an_rsa_private_key_without_its_modulus_is_template_incomplete() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = Rsa::generate(2048).unwrap();
    let result = session.create_object(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::PublicExponent(rsa.e().to_vec()),
        Attribute::PrivateExponent(rsa.d().to_vec()),
    ]);
    assert_rv(result, RvError::TemplateIncomplete);
}

#[test]
fn imported_secret_key_value_reads_back_when_not_sensitive() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = key_of_len(24);
    let key = import_secret(&session, KeyType::AES, &value);
    assert_eq!(attribute_bytes(&session, key, AttributeType::Value), value);
    let len = session
        .get_attributes(key, &[AttributeType::ValueLen])
        .unwrap();
    assert_eq!(len, vec![Attribute::ValueLen(24.into())]);
}
