//! Calls in the wrong order, without a login, and the lifecycle of the library.

use super::*;
use std::ptr::null_mut;

/// "CKR_OPERATION_ACTIVE: There is already an active operation ... which
/// prevents Cryptoki from activating the specified operation" and
/// "CKR_OPERATION_NOT_INITIALIZED: There is no active operation of an
/// appropriate type in the specified session" (§5.1.6); a single-part or
/// final call ends its operation (§5.2); a R/O session refuses token
/// writes with "CKR_SESSION_READ_ONLY" (§5.1.6).
pub fn order() -> Vec<Case> {
    vec![
        case!(
            C_EncryptInit,
            "an encryption active",
            [CKR_OPERATION_ACTIVE],
            |l, h, s| {
                setup!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes)
            }
        ),
        case!(
            C_DecryptInit,
            "a decryption active",
            [CKR_OPERATION_ACTIVE],
            |l, h, s| {
                setup!(l, C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes)
            }
        ),
        case!(
            C_DigestInit,
            "a digest active",
            [CKR_OPERATION_ACTIVE],
            |l, h, s| {
                setup!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                C_DigestInit(s, &mut raw_mechanism(CKM_SHA256))
            }
        ),
        case!(
            C_SignInit,
            "a signature active",
            [CKR_OPERATION_ACTIVE],
            |l, h, s| {
                setup!(
                    l,
                    C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_private)
                );
                C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_private)
            }
        ),
        case!(
            C_VerifyInit,
            "a verification active",
            [CKR_OPERATION_ACTIVE],
            |l, h, s| {
                setup!(
                    l,
                    C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_public)
                );
                C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_public)
            }
        ),
        case!(
            C_FindObjectsInit,
            "a search active",
            [CKR_OPERATION_ACTIVE],
            |l, h, s| {
                setup!(l, C_FindObjectsInit(s, null_mut(), 0));
                C_FindObjectsInit(s, null_mut(), 0)
            }
        ),
        case!(
            C_Sign,
            "its signature already delivered",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                setup!(
                    l,
                    C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_private)
                );
                let (mut data, mut out) = ([1u8; 4], [0u8; 256]);
                let mut length = 256;
                setup!(
                    l,
                    C_Sign(s, data.as_mut_ptr(), 4, out.as_mut_ptr(), &mut length)
                );
                length = 256;
                C_Sign(s, data.as_mut_ptr(), 4, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_SignFinal,
            "the operation ended by C_Sign",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                setup!(
                    l,
                    C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_private)
                );
                let (mut data, mut out) = ([1u8; 4], [0u8; 256]);
                let mut length = 256;
                setup!(
                    l,
                    C_Sign(s, data.as_mut_ptr(), 4, out.as_mut_ptr(), &mut length)
                );
                length = 256;
                C_SignFinal(s, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_Encrypt,
            "its ciphertext already delivered",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                setup!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out) = ([1u8; 16], [0u8; 16]);
                let mut length = 16;
                setup!(
                    l,
                    C_Encrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                length = 16;
                C_Encrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_DecryptFinal,
            "the operation ended by C_Decrypt",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                setup!(l, C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out) = ([1u8; 16], [0u8; 16]);
                let mut length = 16;
                setup!(
                    l,
                    C_Decrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                length = 16;
                C_DecryptFinal(s, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_DigestUpdate,
            "the operation ended by C_Digest",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                setup!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                let (mut data, mut out) = ([1u8; 4], [0u8; 32]);
                let mut length = 32;
                setup!(
                    l,
                    C_Digest(s, data.as_mut_ptr(), 4, out.as_mut_ptr(), &mut length)
                );
                C_DigestUpdate(s, data.as_mut_ptr(), 4)
            }
        ),
        case!(
            C_Verify,
            "the operation ended by a failed C_Verify",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                setup!(
                    l,
                    C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_public)
                );
                let (mut data, mut signature) = ([1u8; 4], [1u8; 256]);
                let first = C_Verify(s, data.as_mut_ptr(), 4, signature.as_mut_ptr(), 256);
                if first != CKR_SIGNATURE_INVALID {
                    return Outcome::setup_failed("C_Verify of a wrong signature", first);
                }
                C_Verify(s, data.as_mut_ptr(), 4, signature.as_mut_ptr(), 256)
            }
        ),
        case!(
            C_FindObjects,
            "the search ended by C_FindObjectsFinal",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                setup!(l, C_FindObjectsInit(s, null_mut(), 0));
                setup!(l, C_FindObjectsFinal(s));
                let mut found = [0; 4];
                let mut count = 0;
                C_FindObjects(s, found.as_mut_ptr(), 4, &mut count)
            }
        ),
        case!(
            C_DigestKey,
            "no digest active",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| { C_DigestKey(s, h.target) }
        ),
        // "Improper use of this user type will result in a return value
        // CKR_OPERATION_NOT_INITIALIZED" (§5.6.8).
        case!(
            C_Login,
            "CKU_CONTEXT_SPECIFIC and no operation",
            [CKR_OPERATION_NOT_INITIALIZED],
            |l, h, s| {
                let mut pin = USER_PIN.as_bytes().to_vec();
                C_Login(s, CKU_CONTEXT_SPECIFIC, pin.as_mut_ptr(), len(&pin))
            }
        ),
        case!(
            C_CreateObject,
            "a token object in a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let mut class = ulong_bytes(CKO_DATA);
                let mut token = [CK_TRUE];
                let mut template = [
                    raw_attribute(CKA_CLASS, &mut class),
                    raw_attribute(CKA_TOKEN, &mut token),
                ];
                let mut object = 0;
                let rv = C_CreateObject(ro, template.as_mut_ptr(), 2, &mut object);
                close_session(l, ro);
                rv
            }
        ),
        case!(
            C_CreateObject,
            "a token certificate in a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let mut class = ulong_bytes(CKO_CERTIFICATE);
                let mut kind = ulong_bytes(CKC_X_509);
                let mut token = [CK_TRUE];
                let mut subject = REFERENCE_SUBJECT.to_vec();
                let mut value = REFERENCE_VALUE.to_vec();
                let mut template = [
                    raw_attribute(CKA_CLASS, &mut class),
                    raw_attribute(CKA_CERTIFICATE_TYPE, &mut kind),
                    raw_attribute(CKA_TOKEN, &mut token),
                    raw_attribute(CKA_SUBJECT, &mut subject),
                    raw_attribute(CKA_VALUE, &mut value),
                ];
                let mut object = 0;
                let rv = C_CreateObject(ro, template.as_mut_ptr(), 5, &mut object);
                close_session(l, ro);
                rv
            }
        ),
        case!(
            C_DestroyObject,
            "a token object in a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let rv = C_DestroyObject(ro, h.token_data);
                close_session(l, ro);
                rv
            }
        ),
        case!(
            C_DestroyObject,
            "a token certificate in a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let rv = C_DestroyObject(ro, h.certificate);
                close_session(l, ro);
                rv
            }
        ),
        case!(
            C_SetAttributeValue,
            "a token object in a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let mut label = *b"renamed";
                let mut template = [raw_attribute(CKA_LABEL, &mut label)];
                let rv = C_SetAttributeValue(ro, h.token_data, template.as_mut_ptr(), 1);
                close_session(l, ro);
                rv
            }
        ),
        case!(
            C_CopyObject,
            "a token object in a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let mut object = 0;
                let rv = C_CopyObject(ro, h.token_data, null_mut(), 0, &mut object);
                close_session(l, ro);
                rv
            }
        ),
        case!(
            C_GenerateKey,
            "a token key in a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let mut value_len = ulong_bytes(16);
                let mut token = [CK_TRUE];
                let mut template = [
                    raw_attribute(CKA_VALUE_LEN, &mut value_len),
                    raw_attribute(CKA_TOKEN, &mut token),
                ];
                let mut key = 0;
                let rv = C_GenerateKey(
                    ro,
                    &mut raw_mechanism(CKM_AES_KEY_GEN),
                    template.as_mut_ptr(),
                    2,
                    &mut key,
                );
                close_session(l, ro);
                rv
            }
        ),
        case!(
            C_SetPIN,
            "a R/O session",
            [CKR_SESSION_READ_ONLY],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let mut pin = USER_PIN.as_bytes().to_vec();
                let rv = C_SetPIN(ro, pin.as_mut_ptr(), len(&pin), pin.as_mut_ptr(), len(&pin));
                close_session(l, ro);
                rv
            }
        ),
    ]
}

/// With nobody logged in: "CKR_USER_NOT_LOGGED_IN: The desired action
/// cannot be performed because the appropriate user (or an appropriate
/// user) is not logged in" (§5.1.6), and the SO cannot log in while a R/O
/// session exists, "CKR_SESSION_READ_ONLY_EXISTS" (§5.6.8).
pub fn logged_out() -> Vec<Case> {
    vec![
        case!(
            C_Logout,
            "nobody logged in",
            [CKR_USER_NOT_LOGGED_IN],
            |l, h, s| { C_Logout(s) }
        ),
        // A private key is not usable, and not visible, without the login:
        // the specification lists both codes for C_SignInit.
        case!(
            C_SignInit,
            "a private key",
            [CKR_USER_NOT_LOGGED_IN, CKR_KEY_HANDLE_INVALID],
            |l, h, s| { C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_private) }
        ),
        case!(
            C_CreateObject,
            "a token certificate",
            [CKR_USER_NOT_LOGGED_IN],
            |l, h, s| {
                let mut class = ulong_bytes(CKO_CERTIFICATE);
                let mut kind = ulong_bytes(CKC_X_509);
                let mut token = [CK_TRUE];
                let mut subject = REFERENCE_SUBJECT.to_vec();
                let mut value = REFERENCE_VALUE.to_vec();
                let mut template = [
                    raw_attribute(CKA_CLASS, &mut class),
                    raw_attribute(CKA_CERTIFICATE_TYPE, &mut kind),
                    raw_attribute(CKA_TOKEN, &mut token),
                    raw_attribute(CKA_SUBJECT, &mut subject),
                    raw_attribute(CKA_VALUE, &mut value),
                ];
                let mut object = 0;
                C_CreateObject(s, template.as_mut_ptr(), 5, &mut object)
            }
        ),
        case!(
            C_InitPIN,
            "a public R/W session",
            [CKR_USER_NOT_LOGGED_IN],
            |l, h, s| {
                let mut pin = USER_PIN.as_bytes().to_vec();
                C_InitPIN(s, pin.as_mut_ptr(), len(&pin))
            }
        ),
        case!(
            C_Login,
            "a PIN length no buffer can have",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut pin = USER_PIN.as_bytes().to_vec();
                C_Login(s, CKU_USER, pin.as_mut_ptr(), HUGE)
            }
        ),
        case!(
            C_Login,
            "the SO while a R/O session is open",
            [CKR_SESSION_READ_ONLY_EXISTS],
            |l, h, s| {
                let ro = open_session(l, CKF_SERIAL_SESSION);
                let mut pin = SO_PIN.as_bytes().to_vec();
                let rv = C_Login(s, CKU_SO, pin.as_mut_ptr(), len(&pin));
                close_session(l, ro);
                rv
            }
        ),
    ]
}

/// `C_Initialize` and `C_Finalize` in every order (§5.4.1, §5.4.2): a
/// second `C_Initialize` is `CKR_CRYPTOKI_ALREADY_INITIALIZED`, a second
/// `C_Finalize` `CKR_CRYPTOKI_NOT_INITIALIZED`, bad arguments
/// `CKR_ARGUMENTS_BAD` without changing the state, and the library works
/// again after a new `C_Initialize`.
pub fn lifecycle(list: &CK_FUNCTION_LIST_3_0) -> Vec<String> {
    let initialize = list.C_Initialize.unwrap();
    let finalize = list.C_Finalize.unwrap();
    let get_info = list.C_GetInfo.unwrap();
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    let mut reserved = 0u8;
    let reserved = (&mut reserved as *mut u8).cast();
    let mut partial: CK_C_INITIALIZE_ARGS = unsafe { std::mem::zeroed() };
    unsafe extern "C" fn create(_: *mut *mut std::ffi::c_void) -> CK_RV {
        CKR_OK
    }
    partial.CreateMutex = Some(create);
    let mut with_reserved: CK_C_INITIALIZE_ARGS = unsafe { std::mem::zeroed() };
    with_reserved.pReserved = reserved;
    // SAFETY: every pointer is NULL or valid; C_Initialize reads only a
    // CK_C_INITIALIZE_ARGS through its argument.
    // Where two §5.1.6 codes apply, either may be returned (§5.1.7).
    let steps: Vec<(&str, CK_RV, &[CK_RV])> = unsafe {
        vec![
            (
                "C_Initialize while initialised",
                initialize(null_mut()),
                &[CKR_CRYPTOKI_ALREADY_INITIALIZED],
            ),
            ("C_Finalize", finalize(null_mut()), &[CKR_OK]),
            (
                "C_GetInfo after C_Finalize",
                get_info(&mut info),
                &[CKR_CRYPTOKI_NOT_INITIALIZED],
            ),
            (
                "C_Finalize again",
                finalize(null_mut()),
                &[CKR_CRYPTOKI_NOT_INITIALIZED],
            ),
            (
                "C_Finalize again with a non-NULL pReserved",
                finalize(reserved),
                &[CKR_ARGUMENTS_BAD, CKR_CRYPTOKI_NOT_INITIALIZED],
            ),
            (
                "C_Initialize with only CreateMutex",
                initialize((&mut partial as *mut CK_C_INITIALIZE_ARGS).cast()),
                &[CKR_ARGUMENTS_BAD],
            ),
            (
                "C_Initialize with a non-NULL pReserved",
                initialize((&mut with_reserved as *mut CK_C_INITIALIZE_ARGS).cast()),
                &[CKR_ARGUMENTS_BAD],
            ),
            (
                "C_GetInfo after the refused C_Initialize",
                get_info(&mut info),
                &[CKR_CRYPTOKI_NOT_INITIALIZED],
            ),
            ("C_Initialize", initialize(null_mut()), &[CKR_OK]),
            ("C_GetInfo", get_info(&mut info), &[CKR_OK]),
            (
                "C_Initialize once more",
                initialize(null_mut()),
                &[CKR_CRYPTOKI_ALREADY_INITIALIZED],
            ),
        ]
    };
    steps
        .into_iter()
        .filter(|(_, rv, expected)| !expected.contains(rv))
        .map(|(step, rv, expected)| {
            format!("{step}: {}, expected {}", rv_name(rv), names(expected))
        })
        .collect()
}
