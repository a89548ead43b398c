//! The wrapping mechanisms beyond AES key wrap and RSA OAEP, through the C
//! ABI: `CKM_RSA_PKCS` (PKCS#1 v1.5), `CKM_RSA_AES_KEY_WRAP` with
//! `CK_RSA_AES_KEY_WRAP_PARAMS` (PKCS#11 3.0 §2.1.21) and `CKM_AES_GCM`.
//! Every wrapped key is taken apart with OpenSSL, and every key OpenSSL
//! wraps is unwrapped on the token.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use openssl::cipher::Cipher;
use openssl::cipher_ctx::{CipherCtx, CipherCtxFlags};
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{decrypt_aead, encrypt_aead};

const LABEL: &[u8] = b"rsa-aes label";

/// A 2048-bit RSA key pair on the token, and OpenSSL's copy of it.
fn rsa_pair(session: &Session) -> (KeyPair, PKey<Private>) {
    let rsa = Rsa::generate(2048).unwrap();
    let private = session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Sensitive(true),
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
            Attribute::Wrap(true),
            Attribute::Modulus(rsa.n().to_vec()),
            Attribute::PublicExponent(rsa.e().to_vec()),
        ])
        .expect("C_CreateObject RSA public key");
    (KeyPair { public, private }, PKey::from_rsa(rsa).unwrap())
}

/// An extractable AES key of `value` that may wrap and unwrap.
fn aes_key(session: &Session, value: &[u8]) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
            Attribute::Encrypt(true),
            Attribute::Value(value.to_vec()),
        ])
        .expect("C_CreateObject AES key")
}

fn unwrap_template() -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
    ]
}

fn value_of(session: &Session, key: ObjectHandle) -> Vec<u8> {
    attribute_bytes(session, key, AttributeType::Value)
}

// ----- CKM_RSA_PKCS -----

#[test]
fn rsa_pkcs_wrapping_round_trips_through_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let (pair, private) = rsa_pair(&session);
    let secret = [0x4Du8; 32];
    let key = aes_key(&session, &secret);
    let wrapped = session
        .wrap_key(&Mechanism::RsaPkcs, pair.public, key)
        .expect("C_WrapKey CKM_RSA_PKCS");
    let rsa = private.rsa().unwrap();
    let mut plain = vec![0u8; 256];
    let len = rsa
        .private_decrypt(&wrapped, &mut plain, Padding::PKCS1)
        .unwrap();
    assert_eq!(plain[..len], secret);

    let other = [0x19u8; 16];
    let mut by_openssl = vec![0u8; 256];
    rsa.public_encrypt(&other, &mut by_openssl, Padding::PKCS1)
        .unwrap();
    let unwrapped = session
        .unwrap_key(
            &Mechanism::RsaPkcs,
            pair.private,
            &by_openssl,
            &unwrap_template(),
        )
        .expect("C_UnwrapKey CKM_RSA_PKCS");
    assert_eq!(value_of(&session, unwrapped), other);
}

#[test]
fn rsa_pkcs_unwrap_of_the_wrong_length_is_wrapped_key_len_range() {
    let token = TestToken::new();
    let session = token.user_session();
    let (pair, _) = rsa_pair(&session);
    for len in [255, 257] {
        assert_rv(
            session.unwrap_key(
                &Mechanism::RsaPkcs,
                pair.private,
                &vec![0x01; len],
                &unwrap_template(),
            ),
            RvError::WrappedKeyLenRange,
        );
    }
}

// ----- CKM_RSA_AES_KEY_WRAP -----

/// `CK_RSA_AES_KEY_WRAP_PARAMS` and the OAEP parameters it points to,
/// kept together so the pointers stay valid.
struct RsaAesParameters {
    oaep: Box<CK_RSA_PKCS_OAEP_PARAMS>,
    params: CK_RSA_AES_KEY_WRAP_PARAMS,
}

impl RsaAesParameters {
    fn new(aes_key_bits: CK_ULONG) -> Box<RsaAesParameters> {
        let mut oaep = Box::new(CK_RSA_PKCS_OAEP_PARAMS {
            hashAlg: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            source: CKZ_DATA_SPECIFIED,
            pSourceData: LABEL.as_ptr() as *mut std::ffi::c_void,
            ulSourceDataLen: LABEL.len() as CK_ULONG,
        });
        let params = CK_RSA_AES_KEY_WRAP_PARAMS {
            ulAESKeyBits: aes_key_bits,
            pOAEPParams: &mut *oaep,
        };
        Box::new(RsaAesParameters { oaep, params })
    }

    fn mechanism(&mut self) -> CK_MECHANISM {
        raw_mechanism_with(CKM_RSA_AES_KEY_WRAP, &mut self.params)
    }
}

/// `C_WrapKey` through the raw ABI, with the two-call length protocol.
fn raw_wrap(
    session: CK_SESSION_HANDLE,
    mechanism: &mut CK_MECHANISM,
    wrapping: ObjectHandle,
    key: ObjectHandle,
) -> Result<Vec<u8>, CK_RV> {
    let mut len: CK_ULONG = 0;
    let rv = ck!(C_WrapKey(
        session,
        mechanism,
        wrapping.handle(),
        key.handle(),
        std::ptr::null_mut(),
        &mut len
    ));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut wrapped = vec![0u8; len as usize];
    let rv = ck!(C_WrapKey(
        session,
        mechanism,
        wrapping.handle(),
        key.handle(),
        wrapped.as_mut_ptr(),
        &mut len
    ));
    if rv != CKR_OK {
        return Err(rv);
    }
    wrapped.truncate(len as usize);
    Ok(wrapped)
}

/// `C_UnwrapKey` through the raw ABI into an extractable AES key.
fn raw_unwrap(
    session: CK_SESSION_HANDLE,
    mechanism: &mut CK_MECHANISM,
    unwrapping: ObjectHandle,
    wrapped: &mut [u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut class = ulong_bytes(CKO_SECRET_KEY);
    let mut key_type = ulong_bytes(CKK_AES);
    let (mut no, mut yes) = ([CK_FALSE], [CK_TRUE]);
    let mut no_again = [CK_FALSE];
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_KEY_TYPE, &mut key_type),
        raw_attribute(CKA_TOKEN, &mut no),
        raw_attribute(CKA_SENSITIVE, &mut no_again),
        raw_attribute(CKA_EXTRACTABLE, &mut yes),
    ];
    let mut handle: CK_OBJECT_HANDLE = CK_INVALID_HANDLE;
    let rv = ck!(C_UnwrapKey(
        session,
        mechanism,
        unwrapping.handle(),
        wrapped.as_mut_ptr(),
        wrapped.len() as CK_ULONG,
        template.as_mut_ptr(),
        template.len() as CK_ULONG,
        &mut handle
    ));
    if rv == CKR_OK {
        Ok(handle)
    } else {
        Err(rv)
    }
}

fn openssl_oaep(private: &PKey<Private>, input: &[u8], encrypt: bool) -> Vec<u8> {
    let mut context = PkeyCtx::new(private).unwrap();
    if encrypt {
        context.encrypt_init().unwrap();
    } else {
        context.decrypt_init().unwrap();
    }
    context.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    context.set_rsa_oaep_md(Md::sha256()).unwrap();
    context.set_rsa_mgf1_md(Md::sha256()).unwrap();
    context.set_rsa_oaep_label(LABEL).unwrap();
    let mut output = Vec::new();
    if encrypt {
        context.encrypt_to_vec(input, &mut output).unwrap();
    } else {
        context.decrypt_to_vec(input, &mut output).unwrap();
    }
    output
}

/// RFC 5649 (`CKM_AES_KEY_WRAP_PAD`) with OpenSSL.
fn openssl_wrap_pad(kek: &[u8], input: &[u8], encrypt: bool) -> Vec<u8> {
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

#[test]
fn rsa_aes_key_wrap_round_trips_through_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let h = session.handle();
    let (pair, private) = rsa_pair(&session);
    let secret = [0x2Eu8; 24];
    let key = aes_key(&session, &secret);
    for bits in [128, 192, 256] {
        let mut parameters = RsaAesParameters::new(bits);
        let mut mechanism = parameters.mechanism();
        let wrapped = raw_wrap(h, &mut mechanism, pair.public, key)
            .unwrap_or_else(|rv| panic!("C_WrapKey CKM_RSA_AES_KEY_WRAP: {}", rv_name(rv)));
        let (rsa_part, aes_part) = wrapped.split_at(256);
        let temporary = openssl_oaep(&private, rsa_part, false);
        assert_eq!(
            temporary.len() as CK_ULONG * 8,
            bits,
            "the temporary AES key"
        );
        assert_eq!(openssl_wrap_pad(&temporary, aes_part, false), secret);

        let kek = vec![0x61u8; bits as usize / 8];
        let mut by_openssl = openssl_oaep(&private, &kek, true);
        by_openssl.extend(openssl_wrap_pad(&kek, &[0x3Fu8; 32], true));
        let unwrapped = raw_unwrap(h, &mut mechanism, pair.private, &mut by_openssl)
            .unwrap_or_else(|rv| panic!("C_UnwrapKey CKM_RSA_AES_KEY_WRAP: {}", rv_name(rv)));
        // SAFETY: the handle C_UnwrapKey just returned, in this session.
        let unwrapped = unsafe { ObjectHandle::new_from_raw(unwrapped) };
        assert_eq!(value_of(&session, unwrapped), [0x3Fu8; 32]);
    }
}

#[test]
fn rsa_aes_key_wrap_with_a_bad_parameter_is_mechanism_param_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let h = session.handle();
    let (pair, _) = rsa_pair(&session);
    let key = aes_key(&session, &[0x2Eu8; 16]);

    let mut wrong_size = RsaAesParameters::new(100);
    let mut no_oaep = RsaAesParameters::new(256);
    no_oaep.params.pOAEPParams = std::ptr::null_mut();
    let mut wrong_mgf = RsaAesParameters::new(256);
    wrong_mgf.oaep.mgf = CKG_MGF1_SHA1;
    let mut short_length = RsaAesParameters::new(256);
    let mut short_mechanism = short_length.mechanism();
    short_mechanism.ulParameterLen -= 1;
    let mut no_parameter = raw_mechanism(CKM_RSA_AES_KEY_WRAP);
    let cases = vec![
        ("ulAESKeyBits 100", wrong_size.mechanism()),
        ("NULL pOAEPParams", no_oaep.mechanism()),
        ("MGF1-SHA1 with SHA-256", wrong_mgf.mechanism()),
        ("ulParameterLen one short", short_mechanism),
    ];
    let mut results = Vec::new();
    for (name, mut mechanism) in cases {
        let rv = raw_wrap(h, &mut mechanism, pair.public, key)
            .err()
            .unwrap_or(CKR_OK);
        results.push((name, rv));
    }
    let rv = raw_wrap(h, &mut no_parameter, pair.public, key)
        .err()
        .unwrap_or(CKR_OK);
    results.push(("no parameter", rv));
    assert_all_rv(results, CKR_MECHANISM_PARAM_INVALID);
}

// ----- CKM_AES_GCM -----

fn gcm<'a>(iv: &'a mut [u8; 12], aad: &'a [u8]) -> Mechanism<'a> {
    Mechanism::AesGcm(GcmParams::new(iv, aad, 128.into()).unwrap())
}

#[test]
fn aes_gcm_wrapping_round_trips_through_openssl_and_checks_the_tag() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek_value = [0x0Fu8; 32];
    let kek = aes_key(&session, &kek_value);
    let secret = [0x6Cu8; 16];
    let key = aes_key(&session, &secret);
    let aad = b"wrapped by the token";
    let mut iv = [0x5Au8; 12];
    let wrapped = session
        .wrap_key(&gcm(&mut iv, aad), kek, key)
        .expect("C_WrapKey CKM_AES_GCM");
    assert_eq!(wrapped.len(), 32, "the key, then a 16-byte tag");
    let plain = decrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        &kek_value,
        Some(&iv),
        aad,
        &wrapped[..16],
        &wrapped[16..],
    )
    .expect("OpenSSL verifies the tag");
    assert_eq!(plain, secret);

    let other = [0x71u8; 32];
    let mut tag = [0u8; 16];
    let mut by_openssl = encrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        &kek_value,
        Some(&iv),
        aad,
        &other,
        &mut tag,
    )
    .unwrap();
    by_openssl.extend_from_slice(&tag);
    let unwrapped = session
        .unwrap_key(&gcm(&mut iv, aad), kek, &by_openssl, &unwrap_template())
        .expect("C_UnwrapKey CKM_AES_GCM");
    assert_eq!(value_of(&session, unwrapped), other);

    by_openssl[40] ^= 1;
    assert_rv(
        session.unwrap_key(&gcm(&mut iv, aad), kek, &by_openssl, &unwrap_template()),
        RvError::WrappedKeyInvalid,
    );
}
