//! Bad input per function family, through the raw C ABI: NULL pointers,
//! invalid handles, wrong session state, bad or unknown mechanisms, short
//! buffers, operations active or not initialised, and the per-attribute
//! rules of `C_GetAttributeValue` (PKCS#11 3.0 §5.2, §5.7, §5.1x).

#[macro_use]
mod common;

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType};
use cryptoki::session::Session;
use cryptoki_sys::*;
use std::ffi::c_void;

fn null<T>() -> *mut T {
    std::ptr::null_mut()
}

/// Fails the test, naming the case, unless a call the case makes before the
/// call under test succeeded: a setup that fails must not stand in for the
/// error the case expects.
#[track_caller]
fn assert_setup(case: &str, setup: &str, rv: CK_RV) {
    assert!(
        rv == CKR_OK,
        "{case}: the setup call {setup} returned {}, expected CKR_OK",
        rv_name(rv)
    );
}

/// Makes a setup call through the raw ABI and asserts it succeeded:
/// `set_up!("case", C_SignInit(session, &mut mechanism, key))`.
macro_rules! set_up {
    ($case:expr, $function:ident ( $($argument:expr),* $(,)? )) => {
        assert_setup($case, stringify!($function), ck!($function($($argument),*)))
    };
}

/// A handle no object has (below the certificate range).
const NO_OBJECT: CK_OBJECT_HANDLE = 0x7777;
/// A handle in the certificate range that no certificate has.
const NO_CERTIFICATE: CK_OBJECT_HANDLE = 0xFFF1_2345;
/// A session handle nobody opened.
const NO_SESSION: CK_SESSION_HANDLE = 0xDEAD;
/// A vendor mechanism number the library does not know.
const UNKNOWN_MECHANISM: CK_MECHANISM_TYPE = CKM_VENDOR_DEFINED | 0x1234;

struct Fixture {
    session: Session,
    rsa: KeyPair,
    aes: CK_OBJECT_HANDLE,
    token: TestToken,
}

impl Fixture {
    fn new() -> Fixture {
        let token = TestToken::new();
        let session = token.user_session();
        let rsa = generate_rsa(&session, 2048, false, b"rsa");
        let aes = import_secret(&session, KeyType::AES, &[5u8; 16]).handle();
        Fixture {
            token,
            session,
            rsa,
            aes,
        }
    }
    fn h(&self) -> CK_SESSION_HANDLE {
        self.session.handle()
    }
}

// ----- NULL pointers -----

#[test]
fn null_output_pointers_are_arguments_bad() {
    let f = Fixture::new();
    let h = f.h();
    let mut count: CK_ULONG = 0;
    let mut handle: CK_OBJECT_HANDLE = 0;
    let mut data = *b"data";
    let mut sha256 = raw_mechanism(CKM_SHA256);
    let mut aes_gen = raw_mechanism(CKM_AES_KEY_GEN);
    let mut rsa_gen = raw_mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let mut len16 = 16 as CK_ULONG;
    let mut value_len = [raw_attribute(CKA_VALUE_LEN, unsafe {
        std::slice::from_raw_parts_mut(&mut len16 as *mut CK_ULONG as *mut u8, 8)
    })];
    let digest_case = "C_DigestInit then C_Digest length";
    let cases = vec![
        ("C_GetInfo", ck!(C_GetInfo(null()))),
        ("C_GetFunctionList", ck!(C_GetFunctionList(null()))),
        (
            "C_GetSlotList count",
            ck!(C_GetSlotList(CK_TRUE, null(), null())),
        ),
        ("C_GetSlotInfo", ck!(C_GetSlotInfo(1, null()))),
        ("C_GetTokenInfo", ck!(C_GetTokenInfo(1, null()))),
        (
            "C_GetMechanismList count",
            ck!(C_GetMechanismList(1, null(), null())),
        ),
        (
            "C_GetMechanismInfo",
            ck!(C_GetMechanismInfo(1, CKM_SHA256, null())),
        ),
        (
            "C_OpenSession handle",
            ck!(C_OpenSession(1, CKF_SERIAL_SESSION, null(), None, null())),
        ),
        ("C_GetSessionInfo", ck!(C_GetSessionInfo(h, null()))),
        ("C_GetObjectSize", ck!(C_GetObjectSize(h, f.aes, null()))),
        (
            "C_CreateObject handle",
            ck!(C_CreateObject(h, value_len.as_mut_ptr(), 1, null())),
        ),
        (
            "C_CopyObject handle",
            ck!(C_CopyObject(h, f.aes, null(), 0, null())),
        ),
        (
            "C_GenerateRandom buffer",
            ck!(C_GenerateRandom(h, null(), 16)),
        ),
        (
            "C_GenerateKey handle",
            ck!(C_GenerateKey(
                h,
                &mut aes_gen,
                value_len.as_mut_ptr(),
                1,
                null()
            )),
        ),
        (
            "C_GenerateKeyPair handles",
            ck!(C_GenerateKeyPair(
                h,
                &mut rsa_gen,
                null(),
                0,
                null(),
                0,
                null(),
                null()
            )),
        ),
        ("C_DigestInit mechanism", ck!(C_DigestInit(h, null()))),
        (
            "C_SignInit mechanism",
            ck!(C_SignInit(h, null(), f.rsa.private.handle())),
        ),
        (
            "C_VerifyInit mechanism",
            ck!(C_VerifyInit(h, null(), f.rsa.public.handle())),
        ),
        (
            "C_EncryptInit mechanism",
            ck!(C_EncryptInit(h, null(), f.aes)),
        ),
        (
            "C_DecryptInit mechanism",
            ck!(C_DecryptInit(h, null(), f.aes)),
        ),
        (
            "C_GenerateKey mechanism",
            ck!(C_GenerateKey(
                h,
                null(),
                value_len.as_mut_ptr(),
                1,
                &mut handle
            )),
        ),
        (
            "C_WrapKey length",
            ck!(C_WrapKey(
                h,
                &mut raw_mechanism(CKM_AES_KEY_WRAP),
                f.aes,
                f.aes,
                null(),
                null()
            )),
        ),
        (digest_case, {
            set_up!(digest_case, C_DigestInit(h, &mut sha256));
            ck!(C_Digest(h, data.as_mut_ptr(), 4, null(), null()))
        }),
    ];
    let _ = &mut count;
    assert_all_rv(cases, CKR_ARGUMENTS_BAD);
}

#[test]
fn null_input_with_a_nonzero_length_is_arguments_bad() {
    let f = Fixture::new();
    let h = f.h();
    let mut handle: CK_OBJECT_HANDLE = 0;
    let mut count: CK_ULONG = 0;
    let mut signature = [0u8; 512];
    let mut length = signature.len() as CK_ULONG;
    let mut sign = raw_mechanism(CKM_SHA256_RSA_PKCS);
    let sign_case = "C_SignInit then C_Sign data";
    let find_case = "C_FindObjectsInit then C_FindObjects array";
    let cases = vec![
        ("C_Login PIN", ck!(C_Login(h, CKU_USER, null(), 5))),
        (
            "C_CreateObject template",
            ck!(C_CreateObject(h, null(), 3, &mut handle)),
        ),
        (
            "C_FindObjectsInit template",
            ck!(C_FindObjectsInit(h, null(), 2)),
        ),
        (
            "C_GetAttributeValue template",
            ck!(C_GetAttributeValue(h, f.aes, null(), 1)),
        ),
        (
            "C_SetAttributeValue template",
            ck!(C_SetAttributeValue(h, f.aes, null(), 1)),
        ),
        (
            "C_InitToken PIN",
            ck!(C_InitToken(1, null(), 5, [b' '; 32].as_mut_ptr())),
        ),
        (sign_case, {
            set_up!(sign_case, C_SignInit(h, &mut sign, f.rsa.private.handle()));
            ck!(C_Sign(h, null(), 10, signature.as_mut_ptr(), &mut length))
        }),
        (find_case, {
            set_up!(find_case, C_FindObjectsInit(h, null(), 0));
            ck!(C_FindObjects(h, null(), 5, &mut count))
        }),
    ];
    assert_all_rv(cases, CKR_ARGUMENTS_BAD);
}

#[test]
fn finalize_with_a_reserved_pointer_is_arguments_bad() {
    let _token = TestToken::new();
    let mut reserved = 0u8;
    assert_ck!(
        ck!(C_Finalize(&mut reserved as *mut u8 as *mut c_void)),
        CKR_ARGUMENTS_BAD
    );
}

#[test]
fn initialize_with_only_some_mutex_functions_is_arguments_bad() {
    let _lock = lock();
    unsafe extern "C" fn create(_mutex: *mut *mut c_void) -> CK_RV {
        CKR_OK
    }
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: Some(create),
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: 0,
        pReserved: null(),
    };
    let rv = ck!(C_Initialize(
        &mut args as *mut CK_C_INITIALIZE_ARGS as *mut c_void
    ));
    if rv == CKR_OK {
        ck!(C_Finalize(null()));
    }
    assert_ck!(rv, CKR_ARGUMENTS_BAD);
}

// ----- invalid handles -----

#[test]
fn unknown_session_handles_are_session_handle_invalid() {
    let f = Fixture::new();
    let s = NO_SESSION;
    let mut info = CK_SESSION_INFO::default();
    let mut pin = *b"cu1:user1234";
    let mut random = [0u8; 8];
    let mut sha = raw_mechanism(CKM_SHA256);
    let mut sign = raw_mechanism(CKM_SHA256_RSA_PKCS);
    let mut count: CK_ULONG = 0;
    let cases = vec![
        ("C_GetSessionInfo", ck!(C_GetSessionInfo(s, &mut info))),
        ("C_CloseSession", ck!(C_CloseSession(s))),
        (
            "C_Login",
            ck!(C_Login(
                s,
                CKU_USER,
                pin.as_mut_ptr(),
                pin.len() as CK_ULONG
            )),
        ),
        ("C_Logout", ck!(C_Logout(s))),
        ("C_FindObjectsInit", ck!(C_FindObjectsInit(s, null(), 0))),
        (
            "C_FindObjects",
            ck!(C_FindObjects(s, null(), 0, &mut count)),
        ),
        (
            "C_GenerateRandom",
            ck!(C_GenerateRandom(s, random.as_mut_ptr(), 8)),
        ),
        ("C_DigestInit", ck!(C_DigestInit(s, &mut sha))),
        (
            "C_SignInit",
            ck!(C_SignInit(s, &mut sign, f.rsa.private.handle())),
        ),
        ("C_DestroyObject", ck!(C_DestroyObject(s, f.aes))),
    ];
    assert_all_rv(cases, CKR_SESSION_HANDLE_INVALID);
}

#[test]
fn unknown_object_handles_are_object_handle_invalid() {
    let f = Fixture::new();
    let h = f.h();
    let mut cases = Vec::new();
    for object in [NO_OBJECT, NO_CERTIFICATE] {
        let mut size: CK_ULONG = 0;
        let mut copy: CK_OBJECT_HANDLE = 0;
        let mut label = *b"x";
        let mut query = [length_query(CKA_CLASS)];
        let mut set = [raw_attribute(CKA_LABEL, &mut label)];
        cases.push((
            "C_GetAttributeValue",
            ck!(C_GetAttributeValue(h, object, query.as_mut_ptr(), 1)),
        ));
        cases.push((
            "C_SetAttributeValue",
            ck!(C_SetAttributeValue(h, object, set.as_mut_ptr(), 1)),
        ));
        cases.push((
            "C_GetObjectSize",
            ck!(C_GetObjectSize(h, object, &mut size)),
        ));
        cases.push((
            "C_CopyObject",
            ck!(C_CopyObject(h, object, null(), 0, &mut copy)),
        ));
        cases.push(("C_DestroyObject", ck!(C_DestroyObject(h, object))));
    }
    assert_all_rv(cases, CKR_OBJECT_HANDLE_INVALID);
}

#[test]
fn unknown_key_handles_are_key_handle_invalid() {
    let f = Fixture::new();
    let h = f.h();
    let mut cases = Vec::new();
    for key in [NO_OBJECT, NO_CERTIFICATE] {
        let mut sign = raw_mechanism(CKM_SHA256_RSA_PKCS);
        let mut ecb = raw_mechanism(CKM_AES_ECB);
        let mut wrap = raw_mechanism(CKM_AES_KEY_WRAP);
        let mut wrapped = [0u8; 64];
        let mut length = wrapped.len() as CK_ULONG;
        cases.push(("C_SignInit", ck!(C_SignInit(h, &mut sign, key))));
        cases.push(("C_VerifyInit", ck!(C_VerifyInit(h, &mut sign, key))));
        cases.push(("C_EncryptInit", ck!(C_EncryptInit(h, &mut ecb, key))));
        cases.push(("C_DecryptInit", ck!(C_DecryptInit(h, &mut ecb, key))));
        cases.push((
            "C_WrapKey (key to wrap)",
            ck!(C_WrapKey(
                h,
                &mut wrap,
                f.aes,
                key,
                wrapped.as_mut_ptr(),
                &mut length
            )),
        ));
    }
    assert_all_rv(cases, CKR_KEY_HANDLE_INVALID);
}

#[test]
fn unknown_wrapping_and_unwrapping_keys_have_their_own_codes() {
    let f = Fixture::new();
    let h = f.h();
    let mut wrap = raw_mechanism(CKM_AES_KEY_WRAP);
    let mut wrapped = [0u8; 64];
    let mut length = wrapped.len() as CK_ULONG;
    assert_ck!(
        ck!(C_WrapKey(
            h,
            &mut wrap,
            NO_OBJECT,
            f.aes,
            wrapped.as_mut_ptr(),
            &mut length
        )),
        CKR_WRAPPING_KEY_HANDLE_INVALID
    );
    let mut handle: CK_OBJECT_HANDLE = 0;
    assert_ck!(
        ck!(C_UnwrapKey(
            h,
            &mut wrap,
            NO_OBJECT,
            wrapped.as_mut_ptr(),
            24,
            null(),
            0,
            &mut handle
        )),
        CKR_UNWRAPPING_KEY_HANDLE_INVALID
    );
}

#[test]
fn a_key_used_for_what_its_attributes_forbid_is_key_function_not_permitted() {
    let f = Fixture::new();
    let verify_only = f
        .session
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Sign(false),
                Attribute::Verify(true),
            ],
        )
        .unwrap();
    let mut hmac = raw_mechanism(CKM_SHA256_HMAC);
    assert_ck!(
        ck!(C_SignInit(f.h(), &mut hmac, verify_only.handle())),
        CKR_KEY_FUNCTION_NOT_PERMITTED
    );
}

// ----- session state -----

#[test]
fn creating_a_private_object_without_login_is_user_not_logged_in() {
    let token = TestToken::new();
    let session = token.rw_session();
    let result = session.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(false),
            Attribute::Private(true),
            Attribute::ValueLen(16.into()),
        ],
    );
    assert_rv(result, cryptoki::error::RvError::UserNotLoggedIn);
}

#[test]
fn set_pin_in_a_read_only_session_is_session_read_only() {
    let token = TestToken::new();
    let session = token.ro_session();
    let mut old = *b"cu1:user1234";
    let mut new = *b"cu1:other-pin";
    assert_ck!(
        ck!(C_SetPIN(
            session.handle(),
            old.as_mut_ptr(),
            old.len() as CK_ULONG,
            new.as_mut_ptr(),
            new.len() as CK_ULONG
        )),
        CKR_SESSION_READ_ONLY
    );
}

#[test]
fn login_with_an_unknown_user_type_is_user_type_invalid() {
    let token = TestToken::new();
    let session = token.rw_session();
    let mut pin = *b"cu1:user1234";
    assert_ck!(
        ck!(C_Login(
            session.handle(),
            7,
            pin.as_mut_ptr(),
            pin.len() as CK_ULONG
        )),
        CKR_USER_TYPE_INVALID
    );
}

// ----- mechanisms -----

#[test]
fn unknown_or_unfit_mechanisms_are_mechanism_invalid() {
    let f = Fixture::new();
    let h = f.h();
    let mut handle: CK_OBJECT_HANDLE = 0;
    let mut public: CK_OBJECT_HANDLE = 0;
    let cases = vec![
        (
            "C_DigestInit unknown",
            ck!(C_DigestInit(h, &mut raw_mechanism(UNKNOWN_MECHANISM))),
        ),
        (
            "C_SignInit unknown",
            ck!(C_SignInit(
                h,
                &mut raw_mechanism(UNKNOWN_MECHANISM),
                f.rsa.private.handle()
            )),
        ),
        (
            "C_EncryptInit unknown",
            ck!(C_EncryptInit(
                h,
                &mut raw_mechanism(UNKNOWN_MECHANISM),
                f.aes
            )),
        ),
        (
            "C_GenerateKey unknown",
            ck!(C_GenerateKey(
                h,
                &mut raw_mechanism(UNKNOWN_MECHANISM),
                null(),
                0,
                &mut handle
            )),
        ),
        (
            "C_GenerateKeyPair unknown",
            ck!(C_GenerateKeyPair(
                h,
                &mut raw_mechanism(UNKNOWN_MECHANISM),
                null(),
                0,
                null(),
                0,
                &mut public,
                &mut handle
            )),
        ),
        (
            "C_SignInit with a digest mechanism",
            ck!(C_SignInit(
                h,
                &mut raw_mechanism(CKM_SHA256),
                f.rsa.private.handle()
            )),
        ),
        (
            "C_DigestInit with a cipher mechanism",
            ck!(C_DigestInit(h, &mut raw_mechanism(CKM_AES_ECB))),
        ),
        (
            "C_EncryptInit with a signature mechanism",
            ck!(C_EncryptInit(
                h,
                &mut raw_mechanism(CKM_SHA256_RSA_PKCS),
                f.rsa.public.handle()
            )),
        ),
        (
            "C_GenerateKey with a key pair mechanism",
            ck!(C_GenerateKey(
                h,
                &mut raw_mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN),
                null(),
                0,
                &mut handle
            )),
        ),
    ];
    assert_all_rv(cases, CKR_MECHANISM_INVALID);
}

#[test]
fn bad_mechanism_parameters_are_mechanism_param_invalid() {
    let f = Fixture::new();
    let h = f.h();
    let aes = f.aes;
    let mut short_iv = [0u8; 8];
    let mut gcm_iv = [0u8; 12];
    let mut gcm_bad_tag = CK_GCM_PARAMS {
        pIv: gcm_iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvBits: 96,
        pAAD: null(),
        ulAADLen: 0,
        ulTagBits: 129,
    };
    let mut ctr_zero_bits = CK_AES_CTR_PARAMS {
        ulCounterBits: 0,
        cb: [0; 16],
    };
    let mut ctr_too_many_bits = CK_AES_CTR_PARAMS {
        ulCounterBits: 129,
        cb: [0; 16],
    };
    let mut oaep_unknown_hash = CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: UNKNOWN_MECHANISM,
        mgf: CKG_MGF1_SHA256,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: null(),
        ulSourceDataLen: 0,
    };
    let mut pss_unknown_mgf = CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: 0x77,
        sLen: 32,
    };
    let mut four = [0u8; 4];
    let cases = vec![
        (
            "AES-CBC without IV",
            ck!(C_EncryptInit(h, &mut raw_mechanism(CKM_AES_CBC), aes)),
        ),
        ("AES-CBC with an 8-byte IV", {
            let mut m = raw_mechanism_with(CKM_AES_CBC, &mut short_iv);
            ck!(C_EncryptInit(h, &mut m, aes))
        }),
        ("AES-CBC-PAD with an 8-byte IV", {
            let mut m = raw_mechanism_with(CKM_AES_CBC_PAD, &mut short_iv);
            ck!(C_DecryptInit(h, &mut m, aes))
        }),
        (
            "AES-GCM without parameters",
            ck!(C_EncryptInit(h, &mut raw_mechanism(CKM_AES_GCM), aes)),
        ),
        ("AES-GCM with a truncated structure", {
            let mut m = raw_mechanism_with(CKM_AES_GCM, &mut gcm_bad_tag);
            m.ulParameterLen -= 8;
            ck!(C_EncryptInit(h, &mut m, aes))
        }),
        ("AES-GCM with a 129-bit tag", {
            let mut m = raw_mechanism_with(CKM_AES_GCM, &mut gcm_bad_tag);
            ck!(C_EncryptInit(h, &mut m, aes))
        }),
        ("AES-CTR with 0 counter bits", {
            let mut m = raw_mechanism_with(CKM_AES_CTR, &mut ctr_zero_bits);
            ck!(C_EncryptInit(h, &mut m, aes))
        }),
        ("AES-CTR with 129 counter bits", {
            let mut m = raw_mechanism_with(CKM_AES_CTR, &mut ctr_too_many_bits);
            ck!(C_EncryptInit(h, &mut m, aes))
        }),
        ("OAEP without parameters", {
            ck!(C_EncryptInit(
                h,
                &mut raw_mechanism(CKM_RSA_PKCS_OAEP),
                f.rsa.public.handle()
            ))
        }),
        ("OAEP with an unknown hash", {
            let mut m = raw_mechanism_with(CKM_RSA_PKCS_OAEP, &mut oaep_unknown_hash);
            ck!(C_EncryptInit(h, &mut m, f.rsa.public.handle()))
        }),
        ("PSS without parameters", {
            ck!(C_SignInit(
                h,
                &mut raw_mechanism(CKM_SHA256_RSA_PKCS_PSS),
                f.rsa.private.handle()
            ))
        }),
        ("PSS with an unknown MGF", {
            let mut m = raw_mechanism_with(CKM_SHA256_RSA_PKCS_PSS, &mut pss_unknown_mgf);
            ck!(C_SignInit(h, &mut m, f.rsa.private.handle()))
        }),
        ("AES-ECB given a parameter", {
            let mut m = raw_mechanism_with(CKM_AES_ECB, &mut four);
            ck!(C_EncryptInit(h, &mut m, aes))
        }),
    ];
    assert_all_rv(cases, CKR_MECHANISM_PARAM_INVALID);
}

#[test]
fn ecdh_with_bad_parameters_is_mechanism_param_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_ec(&session, P256, false, b"ec");
    let mut point = [0x04u8; 65];
    let mut unknown_kdf = CK_ECDH1_DERIVE_PARAMS {
        kdf: 0x99,
        ulSharedDataLen: 0,
        pSharedData: null(),
        ulPublicDataLen: 65,
        pPublicData: point.as_mut_ptr(),
    };
    let mut handle: CK_OBJECT_HANDLE = 0;
    let mut class = ulong_bytes(CKO_SECRET_KEY);
    let mut key_type = ulong_bytes(CKK_GENERIC_SECRET);
    let mut len = ulong_bytes(32);
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_KEY_TYPE, &mut key_type),
        raw_attribute(CKA_VALUE_LEN, &mut len),
    ];
    let t = template.as_mut_ptr();
    let mut without = raw_mechanism(CKM_ECDH1_DERIVE);
    let rv_without = ck!(C_DeriveKey(
        session.handle(),
        &mut without,
        pair.private.handle(),
        t,
        3,
        &mut handle
    ));
    let mut with = raw_mechanism_with(CKM_ECDH1_DERIVE, &mut unknown_kdf);
    let rv_kdf = ck!(C_DeriveKey(
        session.handle(),
        &mut with,
        pair.private.handle(),
        t,
        3,
        &mut handle
    ));
    assert_all_rv(
        vec![
            ("ECDH without parameters", rv_without),
            ("ECDH with an unknown KDF", rv_kdf),
        ],
        CKR_MECHANISM_PARAM_INVALID,
    );
}

// ----- short buffers -----

#[test]
fn short_list_buffers_are_buffer_too_small_with_the_count() {
    let _token = TestToken::new();
    let mut slots = [0 as CK_SLOT_ID; 1];
    let mut count: CK_ULONG = 0;
    assert_ck!(
        ck!(C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut count)),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(count, 1);
    let listed = raw_mechanism_list().len() as CK_ULONG;
    let mut mechanisms = vec![0 as CK_MECHANISM_TYPE; 2];
    count = 2;
    assert_ck!(
        ck!(C_GetMechanismList(1, mechanisms.as_mut_ptr(), &mut count)),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(count, listed);
}

#[test]
fn short_wrap_buffer_is_buffer_too_small_with_the_length() {
    let f = Fixture::new();
    let mut wrap = raw_mechanism(CKM_AES_KEY_WRAP);
    let mut length: CK_ULONG = 0;
    assert_ck!(
        ck!(C_WrapKey(
            f.h(),
            &mut wrap,
            f.aes,
            f.aes,
            null(),
            &mut length
        )),
        CKR_OK
    );
    assert_eq!(length, 24);
    let mut buffer = [0u8; 23];
    length = 23;
    assert_ck!(
        ck!(C_WrapKey(
            f.h(),
            &mut wrap,
            f.aes,
            f.aes,
            buffer.as_mut_ptr(),
            &mut length
        )),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(length, 24);
}

// ----- operation state -----

#[test]
fn a_second_init_while_an_operation_is_active_is_operation_active() {
    let f = Fixture::new();
    let private = f.rsa.private.handle();
    let public = f.rsa.public.handle();
    let aes = f.aes;
    let inits: [(&str, &dyn Fn(CK_SESSION_HANDLE) -> CK_RV); 6] = [
        ("C_SignInit", &|h| {
            ck!(C_SignInit(
                h,
                &mut raw_mechanism(CKM_SHA256_RSA_PKCS),
                private
            ))
        }),
        ("C_VerifyInit", &|h| {
            ck!(C_VerifyInit(
                h,
                &mut raw_mechanism(CKM_SHA256_RSA_PKCS),
                public
            ))
        }),
        ("C_DigestInit", &|h| {
            ck!(C_DigestInit(h, &mut raw_mechanism(CKM_SHA256)))
        }),
        ("C_EncryptInit", &|h| {
            ck!(C_EncryptInit(h, &mut raw_mechanism(CKM_AES_ECB), aes))
        }),
        ("C_DecryptInit", &|h| {
            ck!(C_DecryptInit(h, &mut raw_mechanism(CKM_AES_ECB), aes))
        }),
        ("C_FindObjectsInit", &|h| {
            ck!(C_FindObjectsInit(h, null(), 0))
        }),
    ];
    let mut cases = Vec::new();
    for (name, init) in inits {
        // A session of its own: only this case's operation is active in it.
        let session = f.token.user_session();
        assert_setup(
            name,
            &format!("{name} (the first of two)"),
            init(session.handle()),
        );
        cases.push((name, init(session.handle())));
    }
    assert_all_rv(cases, CKR_OPERATION_ACTIVE);
}

#[test]
fn calls_without_their_init_are_operation_not_initialized() {
    let f = Fixture::new();
    let h = f.h();
    let mut data = [1u8; 16];
    let mut out = [0u8; 512];
    let mut length = out.len() as CK_ULONG;
    let mut count: CK_ULONG = 0;
    let mut objects = [0 as CK_OBJECT_HANDLE; 4];
    let mut cases = vec![
        (
            "C_Sign",
            ck!(C_Sign(
                h,
                data.as_mut_ptr(),
                16,
                out.as_mut_ptr(),
                &mut length
            )),
        ),
        ("C_SignUpdate", ck!(C_SignUpdate(h, data.as_mut_ptr(), 16))),
        (
            "C_SignFinal",
            ck!(C_SignFinal(h, out.as_mut_ptr(), &mut length)),
        ),
        (
            "C_Verify",
            ck!(C_Verify(h, data.as_mut_ptr(), 16, out.as_mut_ptr(), 256)),
        ),
        (
            "C_VerifyUpdate",
            ck!(C_VerifyUpdate(h, data.as_mut_ptr(), 16)),
        ),
        (
            "C_VerifyFinal",
            ck!(C_VerifyFinal(h, out.as_mut_ptr(), 256)),
        ),
        (
            "C_Digest",
            ck!(C_Digest(
                h,
                data.as_mut_ptr(),
                16,
                out.as_mut_ptr(),
                &mut length
            )),
        ),
        (
            "C_DigestUpdate",
            ck!(C_DigestUpdate(h, data.as_mut_ptr(), 16)),
        ),
        (
            "C_DigestFinal",
            ck!(C_DigestFinal(h, out.as_mut_ptr(), &mut length)),
        ),
        (
            "C_FindObjects",
            ck!(C_FindObjects(h, objects.as_mut_ptr(), 4, &mut count)),
        ),
        ("C_FindObjectsFinal", ck!(C_FindObjectsFinal(h))),
    ];
    length = out.len() as CK_ULONG;
    cases.push((
        "C_Encrypt",
        ck!(C_Encrypt(
            h,
            data.as_mut_ptr(),
            16,
            out.as_mut_ptr(),
            &mut length
        )),
    ));
    length = out.len() as CK_ULONG;
    cases.push((
        "C_EncryptUpdate",
        ck!(C_EncryptUpdate(
            h,
            data.as_mut_ptr(),
            16,
            out.as_mut_ptr(),
            &mut length
        )),
    ));
    length = out.len() as CK_ULONG;
    cases.push((
        "C_EncryptFinal",
        ck!(C_EncryptFinal(h, out.as_mut_ptr(), &mut length)),
    ));
    length = out.len() as CK_ULONG;
    cases.push((
        "C_Decrypt",
        ck!(C_Decrypt(
            h,
            data.as_mut_ptr(),
            16,
            out.as_mut_ptr(),
            &mut length
        )),
    ));
    length = out.len() as CK_ULONG;
    cases.push((
        "C_DecryptUpdate",
        ck!(C_DecryptUpdate(
            h,
            data.as_mut_ptr(),
            16,
            out.as_mut_ptr(),
            &mut length
        )),
    ));
    length = out.len() as CK_ULONG;
    cases.push((
        "C_DecryptFinal",
        ck!(C_DecryptFinal(h, out.as_mut_ptr(), &mut length)),
    ));
    assert_all_rv(cases, CKR_OPERATION_NOT_INITIALIZED);
}

#[test]
fn a_failed_one_shot_call_ends_the_operation() {
    let f = Fixture::new();
    let h = f.h();
    let mut ecb = raw_mechanism(CKM_AES_ECB);
    set_up!(
        "C_Encrypt of 15 bytes with AES-ECB",
        C_EncryptInit(h, &mut ecb, f.aes)
    );
    let mut data = [0u8; 15];
    let mut out = [0u8; 32];
    let mut length = 32 as CK_ULONG;
    assert_ck!(
        ck!(C_Encrypt(
            h,
            data.as_mut_ptr(),
            15,
            out.as_mut_ptr(),
            &mut length
        )),
        CKR_DATA_LEN_RANGE
    );
    assert_ck!(ck!(C_EncryptInit(h, &mut ecb, f.aes)), CKR_OK);
}

// ----- attributes -----

#[test]
fn unknown_attribute_is_unavailable_while_the_others_are_filled() {
    let f = Fixture::new();
    let mut class = [0u8; 8];
    let mut modulus = [0u8; 512];
    let mut key_type = [0u8; 8];
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_MODULUS, &mut modulus),
        raw_attribute(CKA_KEY_TYPE, &mut key_type),
    ];
    assert_ck!(
        ck!(C_GetAttributeValue(f.h(), f.aes, template.as_mut_ptr(), 3)),
        CKR_ATTRIBUTE_TYPE_INVALID
    );
    assert_eq!(template[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(template[0].ulValueLen, 8);
    assert_eq!(ulong_bytes(CKO_SECRET_KEY), class);
    assert_eq!(template[2].ulValueLen, 8);
    assert_eq!(ulong_bytes(CKK_AES), key_type);
}

#[test]
fn sensitive_attribute_is_unavailable_while_the_others_are_filled() {
    let f = Fixture::new();
    let mut exponent = [0u8; 512];
    let mut modulus = [0u8; 256];
    let mut template = [
        raw_attribute(CKA_PRIVATE_EXPONENT, &mut exponent),
        raw_attribute(CKA_MODULUS, &mut modulus),
    ];
    assert_ck!(
        ck!(C_GetAttributeValue(
            f.h(),
            f.rsa.private.handle(),
            template.as_mut_ptr(),
            2
        )),
        CKR_ATTRIBUTE_SENSITIVE
    );
    assert_eq!(template[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(template[1].ulValueLen, 256);
    assert_eq!(
        modulus.to_vec(),
        attribute_bytes(
            &f.session,
            f.rsa.public,
            cryptoki::object::AttributeType::Modulus
        )
    );
}

#[test]
fn too_small_attribute_buffer_is_unavailable_while_the_others_are_filled() {
    let f = Fixture::new();
    let mut modulus = [0u8; 100];
    let mut class = [0u8; 8];
    let mut template = [
        raw_attribute(CKA_MODULUS, &mut modulus),
        raw_attribute(CKA_CLASS, &mut class),
    ];
    assert_ck!(
        ck!(C_GetAttributeValue(
            f.h(),
            f.rsa.public.handle(),
            template.as_mut_ptr(),
            2
        )),
        CKR_BUFFER_TOO_SMALL
    );
    assert_eq!(template[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(template[1].ulValueLen, 8);
    assert_eq!(ulong_bytes(CKO_PUBLIC_KEY), class);
}

#[test]
fn attribute_length_query_fills_every_length() {
    let f = Fixture::new();
    let mut template = [
        length_query(CKA_MODULUS),
        length_query(CKA_PUBLIC_EXPONENT),
        length_query(CKA_CLASS),
        length_query(CKA_TOKEN),
    ];
    assert_ck!(
        ck!(C_GetAttributeValue(
            f.h(),
            f.rsa.public.handle(),
            template.as_mut_ptr(),
            4
        )),
        CKR_OK
    );
    let lengths: Vec<CK_ULONG> = template.iter().map(|a| a.ulValueLen).collect();
    assert_eq!(lengths, vec![256, 3, 8, 1]);
}

#[test]
fn null_value_pointer_gets_the_length_whatever_length_was_given() {
    let f = Fixture::new();
    let mut template = [CK_ATTRIBUTE {
        type_: CKA_MODULUS,
        pValue: null(),
        ulValueLen: 7,
    }];
    assert_ck!(
        ck!(C_GetAttributeValue(
            f.h(),
            f.rsa.public.handle(),
            template.as_mut_ptr(),
            1
        )),
        CKR_OK
    );
    assert_eq!(template[0].ulValueLen, 256);
}

#[test]
fn setting_read_only_or_one_way_attributes_is_attribute_read_only() {
    let f = Fixture::new();
    let sensitive = f
        .session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(16.into()),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ],
        )
        .unwrap()
        .handle();
    let mut class = ulong_bytes(CKO_DATA);
    let mut key_type = ulong_bytes(CKK_DES3);
    let mut no = [CK_FALSE];
    let mut yes = [CK_TRUE];
    let mut cases = Vec::new();
    for (name, object, attribute) in [
        ("CKA_CLASS", f.aes, raw_attribute(CKA_CLASS, &mut class)),
        (
            "CKA_KEY_TYPE",
            f.aes,
            raw_attribute(CKA_KEY_TYPE, &mut key_type),
        ),
        (
            "CKA_SENSITIVE true to false",
            sensitive,
            raw_attribute(CKA_SENSITIVE, &mut no),
        ),
        (
            "CKA_EXTRACTABLE false to true",
            sensitive,
            raw_attribute(CKA_EXTRACTABLE, &mut yes),
        ),
        ("CKA_LOCAL", sensitive, raw_attribute(CKA_LOCAL, &mut no)),
    ] {
        let mut template = [attribute];
        cases.push((
            name,
            ck!(C_SetAttributeValue(f.h(), object, template.as_mut_ptr(), 1)),
        ));
    }
    assert_all_rv(cases, CKR_ATTRIBUTE_READ_ONLY);
}

#[test]
fn create_object_without_a_class_is_template_incomplete() {
    let f = Fixture::new();
    let mut value = [1u8; 16];
    let mut key_type = ulong_bytes(CKK_AES);
    let mut template = [
        raw_attribute(CKA_KEY_TYPE, &mut key_type),
        raw_attribute(CKA_VALUE, &mut value),
    ];
    let mut handle: CK_OBJECT_HANDLE = 0;
    assert_ck!(
        ck!(C_CreateObject(f.h(), template.as_mut_ptr(), 2, &mut handle)),
        CKR_TEMPLATE_INCOMPLETE
    );
}

#[test]
fn attribute_of_the_wrong_size_is_attribute_value_invalid() {
    let f = Fixture::new();
    let mut class = [0u8; 3];
    let mut value = [1u8; 16];
    let mut key_type = ulong_bytes(CKK_AES);
    let mut long_bool = [1u8; 4];
    let mut handle: CK_OBJECT_HANDLE = 0;
    let mut short_class = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_KEY_TYPE, &mut key_type),
        raw_attribute(CKA_VALUE, &mut value),
    ];
    let rv_class = ck!(C_CreateObject(
        f.h(),
        short_class.as_mut_ptr(),
        3,
        &mut handle
    ));
    let mut bad_bool = [raw_attribute(CKA_TOKEN, &mut long_bool)];
    let rv_bool = ck!(C_SetAttributeValue(f.h(), f.aes, bad_bool.as_mut_ptr(), 1));
    assert_all_rv(
        vec![
            ("3-byte CKA_CLASS", rv_class),
            ("4-byte CKA_TOKEN", rv_bool),
        ],
        CKR_ATTRIBUTE_VALUE_INVALID,
    );
}

#[test]
fn key_pair_templates_without_their_size_are_template_incomplete() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = session.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[Attribute::Token(false), Attribute::Verify(true)],
        &[Attribute::Token(false), Attribute::Sign(true)],
    );
    assert_rv(rsa, cryptoki::error::RvError::TemplateIncomplete);
    let ec = session.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[Attribute::Token(false), Attribute::Verify(true)],
        &[Attribute::Token(false), Attribute::Sign(true)],
    );
    assert_rv(ec, cryptoki::error::RvError::TemplateIncomplete);
}

// ----- functions the library does not offer -----

#[test]
fn legacy_parallel_functions_are_function_not_parallel() {
    let f = Fixture::new();
    assert_all_rv(
        vec![
            ("C_GetFunctionStatus", ck!(C_GetFunctionStatus(f.h()))),
            ("C_CancelFunction", ck!(C_CancelFunction(f.h()))),
        ],
        CKR_FUNCTION_NOT_PARALLEL,
    );
}

#[test]
fn sign_recover_and_verify_recover_are_function_not_supported() {
    let f = Fixture::new();
    let mut mechanism = raw_mechanism(CKM_RSA_PKCS);
    assert_all_rv(
        vec![
            (
                "C_SignRecoverInit",
                ck!(C_SignRecoverInit(
                    f.h(),
                    &mut mechanism,
                    f.rsa.private.handle()
                )),
            ),
            (
                "C_VerifyRecoverInit",
                ck!(C_VerifyRecoverInit(
                    f.h(),
                    &mut mechanism,
                    f.rsa.public.handle()
                )),
            ),
        ],
        CKR_FUNCTION_NOT_SUPPORTED,
    );
    let _ = &f.token;
}

// ----- templates -----

#[test]
fn a_key_template_with_one_attribute_twice_differently_is_template_inconsistent() {
    let f = Fixture::new();
    let label = |text: &str| Attribute::Label(text.as_bytes().to_vec());
    let before = f.session.find_objects(&[]).unwrap().len();
    let cases = vec![
        (
            "C_CreateObject with CKA_VALUE twice",
            f.session
                .create_object(&[
                    Attribute::Class(cryptoki::object::ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::Token(false),
                    Attribute::Value(vec![1; 16]),
                    Attribute::Value(vec![2; 16]),
                ])
                .map(drop),
        ),
        (
            "C_SetAttributeValue with CKA_LABEL twice",
            f.session
                .update_attributes(f.rsa.public, &[label("a"), label("b")]),
        ),
        (
            "C_CopyObject with CKA_LABEL twice",
            f.session
                .copy_object(f.rsa.public, &[label("a"), label("b")])
                .map(drop),
        ),
    ];
    for (case, result) in cases {
        assert_eq!(
            rv_of(result),
            cryptoki::error::RvError::TemplateInconsistent,
            "{case}"
        );
    }
    assert_eq!(f.session.find_objects(&[]).unwrap().len(), before);
    let _ = &f.token;
}

#[test]
fn a_key_date_that_is_no_calendar_day_is_attribute_value_invalid() {
    let f = Fixture::new();
    for date in [*b"20250230", *b"20251301", *b"20250431", *b"18991231"] {
        let (mut class, mut key_type) = (ulong_bytes(CKO_SECRET_KEY), ulong_bytes(CKK_AES));
        let (mut token, mut value, mut start) = ([CK_FALSE], [3u8; 16], date);
        let mut template = [
            raw_attribute(CKA_CLASS, &mut class),
            raw_attribute(CKA_KEY_TYPE, &mut key_type),
            raw_attribute(CKA_TOKEN, &mut token),
            raw_attribute(CKA_VALUE, &mut value),
            raw_attribute(CKA_START_DATE, &mut start),
        ];
        let mut handle: CK_OBJECT_HANDLE = 0;
        assert_ck!(
            ck!(C_CreateObject(
                f.h(),
                template.as_mut_ptr(),
                template.len() as CK_ULONG,
                &mut handle
            )),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        let mut end = date;
        let mut change = [raw_attribute(CKA_END_DATE, &mut end)];
        assert_ck!(
            ck!(C_SetAttributeValue(f.h(), f.aes, change.as_mut_ptr(), 1)),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
    }
    let mut leap_day = *b"20240229";
    let mut change = [raw_attribute(CKA_END_DATE, &mut leap_day)];
    assert_ck!(
        ck!(C_SetAttributeValue(f.h(), f.aes, change.as_mut_ptr(), 1)),
        CKR_OK
    );
}

/// `CKA_UNIQUE_ID` is the token's to assign (PKCS#11 3.0 §4.4.1): in a
/// `C_CreateObject`, `C_CopyObject` or `C_SetAttributeValue` template it is
/// `CKR_ATTRIBUTE_READ_ONLY`, even with the object's own value, for keys,
/// data objects and certificates alike, and nothing is created or changed.
#[test]
fn cka_unique_id_in_any_template_is_attribute_read_only() {
    use cryptoki::object::{AttributeType, ObjectClass};
    let f = Fixture::new();
    let aes = import_secret(&f.session, KeyType::AES, &[7u8; 16]);
    let own_id = match f
        .session
        .get_attributes(aes, &[AttributeType::UniqueId])
        .unwrap()
        .as_slice()
    {
        [Attribute::UniqueId(id)] if !id.is_empty() => id.clone(),
        other => panic!("the AES key's CKA_UNIQUE_ID: {other:?}"),
    };
    let certificate = f
        .session
        .create_object(&certificate_template("unique", REFERENCE_VALUE))
        .unwrap();
    let data = f
        .session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Value(b"data".to_vec()),
        ])
        .unwrap();
    let before = f.session.find_objects(&[]).unwrap().len();
    let given = || Attribute::UniqueId(own_id.clone());
    let with_id = |mut template: Vec<Attribute>| {
        template.push(given());
        template
    };
    let aes_template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Value(vec![1; 16]),
    ];
    let cases = [
        (
            "C_CreateObject of a key",
            f.session.create_object(&with_id(aes_template)).map(drop),
        ),
        (
            "C_CreateObject of a certificate",
            (f.session)
                .create_object(&with_id(certificate_template("u2", REFERENCE_VALUE)))
                .map(drop),
        ),
        (
            "C_CopyObject of a key, with its own id",
            f.session.copy_object(aes, &[given()]).map(drop),
        ),
        (
            "C_CopyObject of a data object",
            f.session.copy_object(data, &[given()]).map(drop),
        ),
        (
            "C_CopyObject of a certificate",
            f.session.copy_object(certificate, &[given()]).map(drop),
        ),
        (
            "C_SetAttributeValue of a key, with its own id",
            f.session.update_attributes(aes, &[given()]),
        ),
        (
            "C_SetAttributeValue of a certificate",
            f.session.update_attributes(certificate, &[given()]),
        ),
    ];
    for (case, result) in cases {
        assert_eq!(
            rv_of(result),
            cryptoki::error::RvError::AttributeReadOnly,
            "{case}"
        );
    }
    assert_eq!(f.session.find_objects(&[]).unwrap().len(), before);
    let after = f.session.get_attributes(aes, &[AttributeType::UniqueId]);
    assert_eq!(after.unwrap(), vec![Attribute::UniqueId(own_id.clone())]);
    let _ = &f.token;
}
