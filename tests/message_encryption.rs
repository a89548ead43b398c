//! The message-based encryption API of PKCS#11 3.0 (§5.9, §5.11) for
//! AES-GCM: single messages and messages in parts, checked against the
//! `openssl` crate and a NIST known answer; the IVs the token generates
//! (counter, XORed counter, random); tags that fail; the context's life
//! (init twice, final, `C_SessionCancel`); and the key's usage flags.
//!
//! `cryptoki` asks for the output length (a NULL buffer) before every
//! `C_EncryptMessage` and `C_*MessageNext`, so the counter tests also
//! prove that a length query draws no IV.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::{GcmMessageParams, GcmParams, GeneratorFunction};
use cryptoki::mechanism::{Mechanism, MechanismType, MessageParam};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher, Crypter, Mode};

/// NIST GCM test case 4 (AES-128, 96-bit IV, 160 bits of AAD, a
/// plaintext of 60 bytes, not a whole number of blocks).
const KAT_KEY: &str = "feffe9928665731c6d6a8f9467308308";
const KAT_IV: &str = "cafebabefacedbaddecaf888";
const KAT_PLAINTEXT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const KAT_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const KAT_CIPHERTEXT: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const KAT_TAG: &str = "5bc94fbc3221a5db94fae95ae7121a47";

const AES_256: [u8; 32] = [0x42; 32];

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn gcm_message() -> Mechanism<'static> {
    Mechanism::AesGcm(GcmParams::new(&mut [], &[], 128.into()).expect("GCM parameters"))
}

/// The init mechanism `cryptoki` offers for the message API: `CKM_AES_GCM`
/// with a `CK_GCM_MESSAGE_PARAMS` whose values each message brings again.
fn init_mechanism<'a>(iv: &'a mut [u8], tag: &'a mut [u8]) -> Mechanism<'a> {
    let params =
        GcmMessageParams::new(iv, 0.into(), GeneratorFunction::NoGenerate, tag).expect("params");
    Mechanism::AesGcmMessage(params)
}

fn message<'a>(
    iv: &'a mut [u8],
    fixed_bits: u64,
    generator: GeneratorFunction,
    tag: &'a mut [u8],
) -> MessageParam<'a> {
    let params =
        GcmMessageParams::new(iv, fixed_bits.into(), generator, tag).expect("GCM message params");
    MessageParam::AesGcmMessage(params)
}

fn openssl_seal(key: &[u8], iv: &[u8], aad: &[u8], data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let cipher = match key.len() {
        16 => Cipher::aes_128_gcm(),
        _ => Cipher::aes_256_gcm(),
    };
    let mut tag = [0u8; 16];
    let sealed = encrypt_aead(cipher, key, Some(iv), aad, data, &mut tag).expect("openssl GCM");
    (sealed, tag.to_vec())
}

fn openssl_open(key: &[u8], iv: &[u8], aad: &[u8], data: &[u8], tag: &[u8]) -> Vec<u8> {
    let cipher = match key.len() {
        16 => Cipher::aes_128_gcm(),
        _ => Cipher::aes_256_gcm(),
    };
    decrypt_aead(cipher, key, Some(iv), aad, data, tag).expect("openssl opens the token's message")
}

fn aes_key(session: &Session, value: &[u8]) -> ObjectHandle {
    import_secret(session, KeyType::AES, value)
}

/// Encrypts one message under `generator`; gives (IV written back, ciphertext, tag).
fn encrypt_one(
    session: &Session,
    iv: &[u8],
    fixed_bits: u64,
    generator: GeneratorFunction,
    aad: &[u8],
    data: &[u8],
) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (mut iv, mut tag) = (iv.to_vec(), vec![0u8; 16]);
    let param = message(&mut iv, fixed_bits, generator, &mut tag);
    let sealed = session
        .encrypt_message(&param, aad, data)
        .unwrap_or_else(|e| panic!("C_EncryptMessage {generator:?}: {e}"));
    (iv, sealed, tag)
}

#[test]
fn a_single_message_matches_the_nist_known_answer_both_ways() {
    let token = TestToken::new();
    let session = token.user_session();
    let (key_value, iv, aad, plaintext) =
        (hex(KAT_KEY), hex(KAT_IV), hex(KAT_AAD), hex(KAT_PLAINTEXT));
    let key = aes_key(&session, &key_value);
    let (mut init_iv, mut init_tag) = (iv.clone(), vec![0u8; 16]);
    session
        .message_encrypt_init(&init_mechanism(&mut init_iv, &mut init_tag), key)
        .expect("C_MessageEncryptInit");
    let (used_iv, ciphertext, tag) = encrypt_one(
        &session,
        &iv,
        0,
        GeneratorFunction::NoGenerate,
        &aad,
        &plaintext,
    );
    assert_eq!(used_iv, iv, "CKG_NO_GENERATE keeps the caller's IV");
    assert_eq!(ciphertext, hex(KAT_CIPHERTEXT));
    assert_eq!(tag, hex(KAT_TAG));
    session
        .message_encrypt_final()
        .expect("C_MessageEncryptFinal");

    session
        .message_decrypt_init(&init_mechanism(&mut init_iv, &mut init_tag), key)
        .expect("C_MessageDecryptInit");
    let (mut iv_in, mut tag_in) = (iv.clone(), hex(KAT_TAG));
    let param = message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in);
    let opened = session
        .decrypt_message(&param, &aad, &hex(KAT_CIPHERTEXT))
        .expect("C_DecryptMessage");
    assert_eq!(opened, plaintext);
    session
        .message_decrypt_final()
        .expect("C_MessageDecryptFinal");
}

#[test]
fn messages_of_many_lengths_and_tag_sizes_match_openssl_and_come_back() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    session
        .message_encrypt_init(&gcm_message(), key)
        .expect("C_MessageEncryptInit with a NULL parameter");
    session
        .message_decrypt_init(&gcm_message(), key)
        .expect("C_MessageDecryptInit with a NULL parameter");
    for (index, length) in [0usize, 1, 15, 16, 17, 1000].into_iter().enumerate() {
        let data: Vec<u8> = (0..length).map(|i| (i * 31 + index) as u8).collect();
        let aad = vec![index as u8; index * 5];
        let iv = [index as u8 + 1; 12];
        let (_, sealed, tag) =
            encrypt_one(&session, &iv, 0, GeneratorFunction::NoGenerate, &aad, &data);
        let (expected, expected_tag) = openssl_seal(&AES_256, &iv, &aad, &data);
        assert_eq!(
            (&sealed, &tag),
            (&expected, &expected_tag),
            "{length} bytes"
        );

        let (mut iv_in, mut tag_in) = (iv.to_vec(), tag.clone());
        let param = message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in);
        let opened = session
            .decrypt_message(&param, &aad, &sealed)
            .unwrap_or_else(|e| panic!("C_DecryptMessage {length} bytes: {e}"));
        assert_eq!(opened, data, "{length} bytes");
    }
    // A 96-bit tag: the token writes 12 bytes and openssl checks them.
    let iv = [9u8; 12];
    let (mut iv_out, mut short_tag) = (iv.to_vec(), vec![0u8; 12]);
    let param = message(
        &mut iv_out,
        0,
        GeneratorFunction::NoGenerate,
        &mut short_tag,
    );
    let sealed = session
        .encrypt_message(&param, b"aad", b"ninety-six bit tag")
        .expect("a 96-bit tag");
    let (_, full_tag) = openssl_seal(&AES_256, &iv, b"aad", b"ninety-six bit tag");
    assert_eq!(short_tag, full_tag[..12], "the tag is GCM's, truncated");
    let (mut iv_in, mut tag_in) = (iv.to_vec(), short_tag.clone());
    let param = message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in);
    assert_eq!(
        session
            .decrypt_message(&param, b"aad", &sealed)
            .expect("open"),
        b"ninety-six bit tag"
    );
}

#[test]
fn a_message_in_parts_equals_the_message_in_one_call() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    session
        .message_encrypt_init(&gcm_message(), key)
        .expect("init");
    session
        .message_decrypt_init(&gcm_message(), key)
        .expect("init");
    let iv = [0x5Au8; 12];
    let aad = b"header of the message";
    let parts: [&[u8]; 3] = [b"first part, ", b"", b"and the last part of it"];
    let whole: Vec<u8> = parts.concat();

    let (mut iv_out, mut tag) = (iv.to_vec(), vec![0u8; 16]);
    session
        .encrypt_message_begin(
            message(&mut iv_out, 0, GeneratorFunction::NoGenerate, &mut tag),
            aad,
        )
        .expect("C_EncryptMessageBegin");
    assert_eq!(iv_out, iv, "C_EncryptMessageBegin gives back the IV");
    // The parts' parameters only bring the tag buffer: their pIv, here of
    // another length, is neither read nor written.
    let mut part_iv = vec![0xC3u8; 16];
    let mut sealed = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        let end = index == parts.len() - 1;
        let out = session
            .encrypt_message_next(
                message(&mut part_iv, 0, GeneratorFunction::NoGenerate, &mut tag),
                part,
                end,
            )
            .unwrap_or_else(|e| panic!("C_EncryptMessageNext part {index}: {e}"));
        sealed.extend(out);
    }
    let (expected, expected_tag) = openssl_seal(&AES_256, &iv, aad, &whole);
    assert_eq!(sealed, expected);
    assert_eq!(tag, expected_tag, "the tag arrives with CKF_END_OF_MESSAGE");
    assert_eq!(part_iv, [0xC3u8; 16], "pIv of a part is left alone");

    let (mut iv_in, mut tag_in) = (iv.to_vec(), tag.clone());
    session
        .decrypt_message_begin(
            message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in),
            aad,
        )
        .expect("C_DecryptMessageBegin");
    let (head, tail) = sealed.split_at(7);
    let first = session
        .decrypt_message_next(
            message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in),
            head,
            false,
        )
        .expect("C_DecryptMessageNext");
    assert!(first.is_empty(), "no plaintext before the tag is checked");
    let rest = session
        .decrypt_message_next(
            message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in),
            tail,
            true,
        )
        .expect("the last C_DecryptMessageNext");
    assert_eq!(rest, whole);

    // While a message is in parts, a single message waits.
    let (mut iv_out, mut tag) = (iv.to_vec(), vec![0u8; 16]);
    session
        .encrypt_message_begin(
            message(&mut iv_out, 0, GeneratorFunction::NoGenerate, &mut tag),
            aad,
        )
        .expect("begin");
    let (mut iv2, mut tag2) = (iv.to_vec(), vec![0u8; 16]);
    let param = message(&mut iv2, 0, GeneratorFunction::NoGenerate, &mut tag2);
    assert_rv(
        session.encrypt_message(&param, aad, b"x"),
        RvError::OperationActive,
    );
}

#[test]
fn counter_ivs_keep_the_fixed_bits_count_from_zero_and_decrypt_in_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    for generator in [
        GeneratorFunction::GenerateCounter,
        GeneratorFunction::Generate,
    ] {
        session
            .message_encrypt_init(&gcm_message(), key)
            .expect("init");
        let fixed = [0xDE, 0xAD, 0xBE, 0xEF];
        let mut given = fixed.to_vec();
        given.extend([0xFF; 8]);
        for count in 0u64..3 {
            let data = format!("message number {count}");
            let (iv, sealed, tag) =
                encrypt_one(&session, &given, 32, generator, b"", data.as_bytes());
            let mut expected_iv = fixed.to_vec();
            expected_iv.extend(count.to_be_bytes());
            assert_eq!(iv, expected_iv, "{generator:?} message {count}");
            assert_eq!(
                openssl_open(&AES_256, &iv, b"", &sealed, &tag),
                data.as_bytes()
            );
        }
        session.message_encrypt_final().expect("final");
    }
}

#[test]
fn the_xor_counter_runs_over_the_first_iv_and_random_ivs_keep_the_fixed_bits() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    session
        .message_encrypt_init(&gcm_message(), key)
        .expect("init");
    let base = [0x0Fu8; 12];
    for count in 0u8..3 {
        let (iv, sealed, tag) = encrypt_one(
            &session,
            &base,
            32,
            GeneratorFunction::GenerateCounterXor,
            b"a",
            b"xor",
        );
        let mut expected = base.to_vec();
        expected[11] ^= count;
        assert_eq!(iv, expected, "message {count}");
        assert_eq!(openssl_open(&AES_256, &iv, b"a", &sealed, &tag), b"xor");
    }

    // The context keeps its first generator: a plain counter or an IV of
    // the caller's could meet an XORed one already used.
    for generator in [
        GeneratorFunction::GenerateCounter,
        GeneratorFunction::NoGenerate,
    ] {
        let (mut iv, mut tag) = (base.to_vec(), vec![0u8; 16]);
        let param = message(&mut iv, 32, generator, &mut tag);
        assert_rv(
            session.encrypt_message(&param, b"", b"x"),
            RvError::MechanismParamInvalid,
        );
    }
    session.message_encrypt_final().expect("final");
    session
        .message_encrypt_init(&gcm_message(), key)
        .expect("init");

    // 128-bit IVs with 32 fixed bits leave 96 to draw.
    let mut given = vec![0xA5u8; 4];
    given.extend([0u8; 12]);
    let (first, sealed, tag) = encrypt_one(
        &session,
        &given,
        32,
        GeneratorFunction::GenerateRandom,
        b"",
        b"random",
    );
    let (second, _, _) = encrypt_one(
        &session,
        &given,
        32,
        GeneratorFunction::GenerateRandom,
        b"",
        b"random",
    );
    assert_eq!(first[..4], [0xA5; 4]);
    assert_eq!(second[..4], [0xA5; 4]);
    assert_ne!(first, second, "two drawn IVs");
    assert_ne!(first[4..], [0u8; 12], "the drawn bits replace the caller's");
    assert_eq!(
        openssl_open(&AES_256, &first, b"", &sealed, &tag),
        b"random"
    );

    // A 96-bit IV with 32 fixed bits leaves 64: too few to draw (NIST SP 800-38D §8.2.2).
    let (mut iv, mut tag) = (vec![0u8; 12], vec![0u8; 16]);
    let param = message(&mut iv, 32, GeneratorFunction::GenerateRandom, &mut tag);
    assert_rv(
        session.encrypt_message(&param, b"", b"x"),
        RvError::MechanismParamInvalid,
    );
}

#[test]
fn a_wrong_tag_or_aad_is_refused_without_plaintext_and_the_context_goes_on() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    let iv = [3u8; 12];
    let (sealed, tag) = openssl_seal(&AES_256, &iv, b"aad", b"the secret");
    session
        .message_decrypt_init(&gcm_message(), key)
        .expect("init");
    let mut bad_tag = tag.clone();
    bad_tag[0] ^= 1;
    for (aad, tag_in) in [(&b"aad"[..], &bad_tag), (&b"aaD"[..], &tag)] {
        let (mut iv_in, mut tag_in) = (iv.to_vec(), tag_in.clone());
        let param = message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in);
        // Any PKCS#11 error (rv_of panics on success); the code itself is
        // the next test's, since SoftHSM2 gives another.
        rv_of(session.decrypt_message(&param, aad, &sealed));
    }
    let (mut iv_in, mut tag_in) = (iv.to_vec(), tag.clone());
    let param = message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag_in);
    assert_eq!(
        session
            .decrypt_message(&param, b"aad", &sealed)
            .expect("the context survives"),
        b"the secret"
    );
    // Decryption takes the caller's IV whatever the generator says: the
    // parameter an encryption filled in opens its message as it is.
    let (mut iv_in, mut tag_in) = (iv.to_vec(), tag.clone());
    let param = message(
        &mut iv_in,
        32,
        GeneratorFunction::GenerateCounter,
        &mut tag_in,
    );
    assert_eq!(
        session
            .decrypt_message(&param, b"aad", &sealed)
            .expect("the parameter of an encryption"),
        b"the secret"
    );
    assert_eq!(iv_in, iv, "decryption writes no IV back");
}

#[test]
fn a_wrong_tag_is_encrypted_data_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    let iv = [4u8; 12];
    let (sealed, mut tag) = openssl_seal(&AES_256, &iv, b"", b"tampered");
    tag[15] ^= 0x80;
    session
        .message_decrypt_init(&gcm_message(), key)
        .expect("init");
    let mut iv_in = iv.to_vec();
    let param = message(&mut iv_in, 0, GeneratorFunction::NoGenerate, &mut tag);
    assert_rv(
        session.decrypt_message(&param, b"", &sealed),
        RvError::EncryptedDataInvalid,
    );
}

/// `C_EncryptInit` is another operation than a message context (PKCS#11
/// 3.0 §5.2, and `C_SessionCancel` names them apart): both may be active.
#[test]
fn a_single_part_encryption_runs_beside_a_message_context() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    session
        .message_encrypt_init(&gcm_message(), key)
        .expect("init");
    session
        .encrypt_init(&Mechanism::AesEcb, key)
        .expect("C_EncryptInit beside a message context");
    let (iv, sealed, tag) = encrypt_one(
        &session,
        &[6u8; 12],
        0,
        GeneratorFunction::NoGenerate,
        b"",
        b"beside",
    );
    assert_eq!(openssl_open(&AES_256, &iv, b"", &sealed, &tag), b"beside");
    // The C_EncryptInit operation, still active, finishes.
    let (mut block, mut out, mut length) = ([0u8; 16], [0u8; 16], 16 as CK_ULONG);
    // SAFETY: the session's handle, buffers of the lengths given.
    let rv = unsafe {
        (raw().C_Encrypt.expect("C_Encrypt"))(
            session.handle(),
            block.as_mut_ptr(),
            16,
            out.as_mut_ptr(),
            &mut length,
        )
    };
    assert_eq!((rv, length), (CKR_OK, 16), "C_Encrypt after the messages");
    let mut expected = Crypter::new(Cipher::aes_256_ecb(), Mode::Encrypt, &AES_256, None).unwrap();
    expected.pad(false);
    let mut reference = [0u8; 32];
    let n = expected.update(&block, &mut reference).unwrap();
    assert_eq!(out, reference[..n], "AES-256-ECB of a zero block");
}

#[test]
fn the_context_starts_once_ends_at_final_or_session_cancel_and_needs_the_usage_flag() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &AES_256);
    let (mut iv, mut tag) = (vec![1u8; 12], vec![0u8; 16]);

    assert_rv(
        session.encrypt_message(
            &message(&mut iv, 0, GeneratorFunction::NoGenerate, &mut tag),
            b"",
            b"x",
        ),
        RvError::OperationNotInitialized,
    );
    session
        .message_encrypt_init(&gcm_message(), key)
        .expect("init");
    assert_rv(
        session.message_encrypt_init(&gcm_message(), key),
        RvError::OperationActive,
    );
    session.message_encrypt_final().expect("final");
    assert_rv(
        session.message_encrypt_final(),
        RvError::OperationNotInitialized,
    );

    session
        .message_encrypt_init(&gcm_message(), key)
        .expect("init again");
    session
        .message_decrypt_init(&gcm_message(), key)
        .expect("decrypt init");
    // SAFETY: a session handle of this provider and a flags word.
    let rv = unsafe { raw_exports().C_SessionCancel(session.handle(), CKF_MESSAGE_ENCRYPT) };
    assert_eq!(rv, CKR_OK, "C_SessionCancel(CKF_MESSAGE_ENCRYPT)");
    assert_rv(
        session.message_encrypt_final(),
        RvError::OperationNotInitialized,
    );
    session
        .message_decrypt_final()
        .expect("the decryption context was not cancelled");

    // Only AES-GCM.
    assert_rv(
        session.message_encrypt_init(&Mechanism::AesEcb, key),
        RvError::MechanismInvalid,
    );
    // A key that may not encrypt.
    let no_encrypt = session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Value(AES_256.to_vec()),
            Attribute::Encrypt(false),
            Attribute::Decrypt(true),
        ])
        .expect("an AES key without CKA_ENCRYPT");
    assert_rv(
        session.message_encrypt_init(&gcm_message(), no_encrypt),
        RvError::KeyFunctionNotPermitted,
    );
    session
        .message_decrypt_init(&gcm_message(), no_encrypt)
        .expect("it may decrypt");
}

#[test]
fn aes_gcm_mechanism_info_offers_the_message_api() {
    let token = TestToken::new();
    let info = token
        .pkcs11
        .get_mechanism_info(token.slot, MechanismType::AES_GCM)
        .expect("C_GetMechanismInfo");
    assert!(info.message_encrypt() && info.message_decrypt() && info.multi_message());
    assert!(info.encrypt() && info.decrypt(), "single-part GCM stays");
}
