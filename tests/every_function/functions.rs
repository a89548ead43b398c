//! Every function of the PKCS#11 3.0 function list, each with one ordinary
//! call and the return values the specification gives for it.
//!
//! A call is made in a fresh R/W session of a logged-in user with nothing
//! active in it (`plain`), and again with each pointer argument NULL while
//! its length stays non-zero (`null`). The tests derive the other cases
//! from the same call: before `C_Initialize`, after `C_Finalize`, on a
//! session never opened or already closed, on a slot that does not exist.
//!
//! Where PKCS#11 3.0 allows several codes the set lists them all, and the
//! reason is in [`Function::null`]'s doc: NULL pointers make
//! `CKR_ARGUMENTS_BAD` apply while the state of the session (no operation,
//! user already logged in, session exists) makes another §5.1.6 code
//! apply too, and §5.1.7 lets the library return "any of the applicable
//! error codes" within one section. A stub must "simply return
//! CKR_FUNCTION_NOT_SUPPORTED" (§5.1.6), whatever its arguments.

use super::fixture::*;
use crate::common::*;
use cryptoki_sys::*;
use std::mem::zeroed;
use std::ptr::null_mut;

/// What the handle argument of a function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `C_Initialize`, `C_Finalize`: tested by the lifecycle cases.
    Lifecycle,
    /// Needs no session and no slot.
    General,
    /// Takes a slot ID (the call's `target`).
    Slot,
    /// Takes a session handle (the call's `target`).
    Session,
}

/// One function of the list and its ordinary call.
pub struct Function {
    pub name: &'static str,
    pub kind: Kind,
    /// `(list, handles, target, null)`: `target` is the session or slot the
    /// call names; `null` makes every pointer argument NULL.
    pub call: fn(&CK_FUNCTION_LIST_3_0, &Handles, CK_ULONG, bool) -> CK_RV,
    /// The codes of the plain call.
    pub plain: &'static [CK_RV],
    /// The codes with NULL pointers; `None` for a function without any
    /// pointer argument.
    pub null: Option<&'static [CK_RV]>,
}

impl Function {
    /// A stub of a function the library does not offer.
    pub fn is_stub(&self) -> bool {
        self.plain == [CKR_FUNCTION_NOT_SUPPORTED]
    }
}

/// `function!(C_X, Kind, [plain codes], [null codes] | none, |list, handles, target, null| { body })`:
/// the body calls `C_X(...)`, which is the function list's entry.
macro_rules! function {
    ($name:ident, $kind:ident, [$($plain:expr),+], $null:tt,
     |$list:ident, $h:ident, $t:ident, $n:ident| $body:block) => {
        Function {
            name: stringify!($name),
            kind: Kind::$kind,
            plain: &[$($plain),+],
            null: function!(@null $null),
            call: {
                #[allow(non_snake_case, unused_variables, unused_mut, clippy::unnecessary_mut_passed)]
                fn call($list: &CK_FUNCTION_LIST_3_0, $h: &Handles, $t: CK_ULONG, $n: bool) -> CK_RV {
                    let $name = $list.$name.expect(stringify!($name));
                    // SAFETY: every pointer is NULL (the case under test) or
                    // points to a live buffer of the length passed with it.
                    #[allow(unused_unsafe)]
                    unsafe { $body }
                }
                call
            },
        }
    };
    (@null none) => { None };
    (@null [$($rv:expr),+]) => { Some(&[$($rv),+]) };
}

const OK: CK_RV = CKR_OK;
const BAD: CK_RV = CKR_ARGUMENTS_BAD;
const NO_OPERATION: CK_RV = CKR_OPERATION_NOT_INITIALIZED;
const STUB: CK_RV = CKR_FUNCTION_NOT_SUPPORTED;

/// The message-based signing and verification of 3.0 (§5.14, §5.16),
/// which this library does not offer: each is a stub.
macro_rules! message_stubs {
    ($($name:ident |$list:ident, $h:ident, $t:ident, $n:ident| $body:block)*) => {
        vec![$(function!($name, Session, [STUB], [STUB, BAD], |$list, $h, $t, $n| $body)),*]
    };
}

/// A token secret-key template for C_GenerateKey and C_UnwrapKey.
struct SecretTemplate {
    class: Vec<u8>,
    key_type: Vec<u8>,
    value_len: Vec<u8>,
    token: [u8; 1],
}

impl SecretTemplate {
    fn new(key_type: CK_KEY_TYPE, value_len: CK_ULONG) -> SecretTemplate {
        SecretTemplate {
            class: ulong_bytes(CKO_SECRET_KEY),
            key_type: ulong_bytes(key_type),
            value_len: ulong_bytes(value_len),
            token: [CK_FALSE],
        }
    }
    /// Class, key type, CKA_TOKEN false, and (with `with_length`) CKA_VALUE_LEN.
    fn attributes(&mut self, with_length: bool) -> Vec<CK_ATTRIBUTE> {
        let mut attributes = vec![
            raw_attribute(CKA_CLASS, &mut self.class),
            raw_attribute(CKA_KEY_TYPE, &mut self.key_type),
            raw_attribute(CKA_TOKEN, &mut self.token),
        ];
        if with_length {
            attributes.push(raw_attribute(CKA_VALUE_LEN, &mut self.value_len));
        }
        attributes
    }
}

/// The 68 functions of PKCS#11 2.40 and the 24 that 3.0 added, in the
/// order of `CK_FUNCTION_LIST_3_0`.
pub fn functions() -> Vec<Function> {
    let mut functions = vec![
        // ----- general purpose (§5.4) -----
        function!(
            C_Initialize,
            Lifecycle,
            [CKR_CRYPTOKI_ALREADY_INITIALIZED],
            none,
            |l, h, t, n| { C_Initialize(null_mut()) }
        ),
        function!(C_Finalize, Lifecycle, [OK], none, |l, h, t, n| {
            C_Finalize(null_mut())
        }),
        function!(C_GetInfo, General, [OK], [BAD], |l, h, t, n| {
            let mut info: CK_INFO = zeroed();
            C_GetInfo(ptr(n, &mut info))
        }),
        function!(C_GetFunctionList, General, [OK], [BAD], |l, h, t, n| {
            let mut list: *mut CK_FUNCTION_LIST = null_mut();
            C_GetFunctionList(ptr(n, &mut list))
        }),
        // ----- slot and token management (§5.5) -----
        function!(C_GetSlotList, General, [OK], [BAD], |l, h, t, n| {
            let mut slots = [0; 4];
            let mut count = len(&slots);
            C_GetSlotList(CK_TRUE, buf(n, &mut slots), ptr(n, &mut count))
        }),
        function!(C_GetSlotInfo, Slot, [OK], [BAD], |l, h, t, n| {
            let mut info: CK_SLOT_INFO = zeroed();
            C_GetSlotInfo(t, ptr(n, &mut info))
        }),
        function!(C_GetTokenInfo, Slot, [OK], [BAD], |l, h, t, n| {
            let mut info: CK_TOKEN_INFO = zeroed();
            C_GetTokenInfo(t, ptr(n, &mut info))
        }),
        function!(C_GetMechanismList, Slot, [OK], [BAD], |l, h, t, n| {
            let mut mechanisms = [0; 512];
            let mut count = len(&mechanisms);
            C_GetMechanismList(t, buf(n, &mut mechanisms), ptr(n, &mut count))
        }),
        function!(C_GetMechanismInfo, Slot, [OK], [BAD], |l, h, t, n| {
            let mut info: CK_MECHANISM_INFO = zeroed();
            C_GetMechanismInfo(t, CKM_SHA256, ptr(n, &mut info))
        }),
        // The fixture's sessions are open: "CKR_SESSION_EXISTS: ... a session
        // with the token is open" (§5.5.9), never a re-initialised token.
        function!(
            C_InitToken,
            Slot,
            [CKR_SESSION_EXISTS],
            [BAD, CKR_SESSION_EXISTS],
            |l, h, t, n| {
                let mut pin = SO_PIN.as_bytes().to_vec();
                let mut label = [b' '; 32];
                C_InitToken(t, buf(n, &mut pin), len(&pin), buf(n, &mut label))
            }
        ),
        // "C_InitPIN can only be called in the 'R/W SO Functions' state"
        // (§5.5.10): a user session gets CKR_USER_NOT_LOGGED_IN.
        function!(
            C_InitPIN,
            Session,
            [CKR_USER_NOT_LOGGED_IN],
            [BAD, CKR_USER_NOT_LOGGED_IN],
            |l, h, t, n| {
                let mut pin = b"cu1:other1234".to_vec();
                C_InitPIN(t, buf(n, &mut pin), len(&pin))
            }
        ),
        // The user's PIN, changed to itself.
        function!(C_SetPIN, Session, [OK], [BAD], |l, h, t, n| {
            let mut old = USER_PIN.as_bytes().to_vec();
            let mut new = USER_PIN.as_bytes().to_vec();
            C_SetPIN(t, buf(n, &mut old), len(&old), buf(n, &mut new), len(&new))
        }),
        // ----- session management (§5.6) -----
        function!(C_OpenSession, Slot, [OK], [BAD], |l, h, t, n| {
            let mut session = 0;
            let rv = C_OpenSession(t, RW, null_mut(), None, ptr(n, &mut session));
            if rv == CKR_OK {
                close_session(l, session);
            }
            rv
        }),
        function!(C_CloseSession, Session, [OK], none, |l, h, t, n| {
            C_CloseSession(t)
        }),
        // Closes the fixture's sessions too: the plain call runs last.
        function!(C_CloseAllSessions, Slot, [OK], none, |l, h, t, n| {
            C_CloseAllSessions(t)
        }),
        function!(C_GetSessionInfo, Session, [OK], [BAD], |l, h, t, n| {
            let mut info: CK_SESSION_INFO = zeroed();
            C_GetSessionInfo(t, ptr(n, &mut info))
        }),
        function!(
            C_GetOperationState,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let mut state = [0u8; 64];
                let mut length = len(&state);
                C_GetOperationState(t, buf(n, &mut state), ptr(n, &mut length))
            }
        ),
        function!(
            C_SetOperationState,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let mut state = [0u8; 64];
                C_SetOperationState(t, buf(n, &mut state), len(&state), 0, 0)
            }
        ),
        // Login is per application and the user is logged in (§5.6.8).
        function!(
            C_Login,
            Session,
            [CKR_USER_ALREADY_LOGGED_IN],
            [BAD, CKR_USER_ALREADY_LOGGED_IN],
            |l, h, t, n| {
                let mut pin = USER_PIN.as_bytes().to_vec();
                C_Login(t, CKU_USER, buf(n, &mut pin), len(&pin))
            }
        ),
        // Logs every session out; the user logs in again after it.
        function!(C_Logout, Session, [OK], none, |l, h, t, n| {
            let rv = C_Logout(t);
            if rv == CKR_OK {
                let again = log_in(l, t);
                assert_eq!(again, CKR_OK, "C_Login after the C_Logout case");
            }
            rv
        }),
        // ----- object management (§5.7) -----
        function!(C_CreateObject, Session, [OK], [BAD], |l, h, t, n| {
            let mut class = ulong_bytes(CKO_DATA);
            let mut token = [CK_FALSE];
            let mut label = *b"created";
            let mut template = [
                raw_attribute(CKA_CLASS, &mut class),
                raw_attribute(CKA_TOKEN, &mut token),
                raw_attribute(CKA_LABEL, &mut label),
            ];
            let mut object = 0;
            C_CreateObject(
                t,
                buf(n, &mut template),
                len(&template),
                ptr(n, &mut object),
            )
        }),
        function!(C_CopyObject, Session, [OK], [BAD], |l, h, t, n| {
            let mut label = *b"copied";
            let mut template = [raw_attribute(CKA_LABEL, &mut label)];
            let mut object = 0;
            C_CopyObject(
                t,
                h.data,
                buf(n, &mut template),
                len(&template),
                ptr(n, &mut object),
            )
        }),
        function!(C_DestroyObject, Session, [OK], none, |l, h, t, n| {
            let object = create_data(l, t);
            C_DestroyObject(t, object)
        }),
        function!(C_GetObjectSize, Session, [OK], [BAD], |l, h, t, n| {
            let mut size = 0;
            C_GetObjectSize(t, h.data, ptr(n, &mut size))
        }),
        function!(C_GetAttributeValue, Session, [OK], [BAD], |l, h, t, n| {
            let mut label = [0u8; 64];
            let mut template = [raw_attribute(CKA_LABEL, &mut label)];
            C_GetAttributeValue(t, h.data, buf(n, &mut template), len(&template))
        }),
        function!(C_SetAttributeValue, Session, [OK], [BAD], |l, h, t, n| {
            let mut label = *b"data";
            let mut template = [raw_attribute(CKA_LABEL, &mut label)];
            C_SetAttributeValue(t, h.data, buf(n, &mut template), len(&template))
        }),
        function!(C_FindObjectsInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut class = ulong_bytes(CKO_DATA);
            let mut template = [raw_attribute(CKA_CLASS, &mut class)];
            C_FindObjectsInit(t, buf(n, &mut template), len(&template))
        }),
        function!(
            C_FindObjects,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut found = [0; 8];
                let mut count = 0;
                C_FindObjects(t, buf(n, &mut found), len(&found), ptr(n, &mut count))
            }
        ),
        function!(
            C_FindObjectsFinal,
            Session,
            [NO_OPERATION],
            none,
            |l, h, t, n| { C_FindObjectsFinal(t) }
        ),
        // ----- encryption (§5.8) -----
        function!(C_EncryptInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_AES_ECB);
            C_EncryptInit(t, ptr(n, &mut mechanism), h.aes)
        }),
        function!(
            C_Encrypt,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_Encrypt(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_EncryptUpdate,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_EncryptUpdate(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_EncryptFinal,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut out = [0u8; 32];
                let mut length = len(&out);
                C_EncryptFinal(t, buf(n, &mut out), ptr(n, &mut length))
            }
        ),
        // ----- decryption (§5.10) -----
        function!(C_DecryptInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_AES_ECB);
            C_DecryptInit(t, ptr(n, &mut mechanism), h.aes)
        }),
        function!(
            C_Decrypt,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_Decrypt(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_DecryptUpdate,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_DecryptUpdate(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_DecryptFinal,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut out = [0u8; 32];
                let mut length = len(&out);
                C_DecryptFinal(t, buf(n, &mut out), ptr(n, &mut length))
            }
        ),
        // ----- message digesting (§5.12) -----
        function!(C_DigestInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_SHA256);
            C_DigestInit(t, ptr(n, &mut mechanism))
        }),
        function!(
            C_Digest,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 64]);
                let mut length = len(&out);
                C_Digest(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_DigestUpdate,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut data = [1u8; 16];
                C_DigestUpdate(t, buf(n, &mut data), len(&data))
            }
        ),
        function!(C_DigestKey, Session, [NO_OPERATION], none, |l, h, t, n| {
            C_DigestKey(t, h.aes)
        }),
        function!(
            C_DigestFinal,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut out = [0u8; 64];
                let mut length = len(&out);
                C_DigestFinal(t, buf(n, &mut out), ptr(n, &mut length))
            }
        ),
        // ----- signing and MACing (§5.13) -----
        function!(C_SignInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            C_SignInit(t, ptr(n, &mut mechanism), h.rsa_private)
        }),
        function!(
            C_Sign,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 512]);
                let mut length = len(&out);
                C_Sign(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_SignUpdate,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut data = [1u8; 16];
                C_SignUpdate(t, buf(n, &mut data), len(&data))
            }
        ),
        function!(
            C_SignFinal,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut out = [0u8; 512];
                let mut length = len(&out);
                C_SignFinal(t, buf(n, &mut out), ptr(n, &mut length))
            }
        ),
        function!(
            C_SignRecoverInit,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let mut mechanism = raw_mechanism(CKM_RSA_PKCS);
                C_SignRecoverInit(t, ptr(n, &mut mechanism), h.rsa_private)
            }
        ),
        function!(C_SignRecover, Session, [STUB], [STUB, BAD], |l, h, t, n| {
            let (mut data, mut out) = ([1u8; 16], [0u8; 512]);
            let mut length = len(&out);
            C_SignRecover(
                t,
                buf(n, &mut data),
                len(&data),
                buf(n, &mut out),
                ptr(n, &mut length),
            )
        }),
        // ----- verifying signatures and MACs (§5.15) -----
        function!(C_VerifyInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            C_VerifyInit(t, ptr(n, &mut mechanism), h.rsa_public)
        }),
        function!(
            C_Verify,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let (mut data, mut signature) = ([1u8; 16], [0u8; 256]);
                C_Verify(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut signature),
                    len(&signature),
                )
            }
        ),
        function!(
            C_VerifyUpdate,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut data = [1u8; 16];
                C_VerifyUpdate(t, buf(n, &mut data), len(&data))
            }
        ),
        function!(
            C_VerifyFinal,
            Session,
            [NO_OPERATION],
            [BAD, NO_OPERATION],
            |l, h, t, n| {
                let mut signature = [0u8; 256];
                C_VerifyFinal(t, buf(n, &mut signature), len(&signature))
            }
        ),
        function!(
            C_VerifyRecoverInit,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let mut mechanism = raw_mechanism(CKM_RSA_PKCS);
                C_VerifyRecoverInit(t, ptr(n, &mut mechanism), h.rsa_public)
            }
        ),
        function!(
            C_VerifyRecover,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let (mut signature, mut out) = ([0u8; 256], [0u8; 256]);
                let mut length = len(&out);
                C_VerifyRecover(
                    t,
                    buf(n, &mut signature),
                    len(&signature),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        // ----- dual-function cryptographic functions (§5.17) -----
        function!(
            C_DigestEncryptUpdate,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_DigestEncryptUpdate(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_DecryptDigestUpdate,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_DecryptDigestUpdate(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_SignEncryptUpdate,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_SignEncryptUpdate(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_DecryptVerifyUpdate,
            Session,
            [STUB],
            [STUB, BAD],
            |l, h, t, n| {
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = len(&out);
                C_DecryptVerifyUpdate(
                    t,
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        // ----- key management (§5.18) -----
        function!(C_GenerateKey, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_AES_KEY_GEN);
            let mut secret = SecretTemplate::new(CKK_AES, 16);
            let mut template = secret.attributes(true);
            let mut key = 0;
            C_GenerateKey(
                t,
                ptr(n, &mut mechanism),
                buf(n, &mut template),
                len(&template),
                ptr(n, &mut key),
            )
        }),
        function!(C_GenerateKeyPair, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_EC_KEY_PAIR_GEN);
            let mut params = P256.to_vec();
            let mut token = [CK_FALSE];
            let mut public_token = [CK_FALSE];
            let mut public = [
                raw_attribute(CKA_EC_PARAMS, &mut params),
                raw_attribute(CKA_TOKEN, &mut public_token),
            ];
            let mut private = [raw_attribute(CKA_TOKEN, &mut token)];
            let (mut public_key, mut private_key) = (0, 0);
            C_GenerateKeyPair(
                t,
                ptr(n, &mut mechanism),
                buf(n, &mut public),
                len(&public),
                buf(n, &mut private),
                len(&private),
                ptr(n, &mut public_key),
                ptr(n, &mut private_key),
            )
        }),
        function!(C_WrapKey, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_AES_KEY_WRAP);
            let mut out = [0u8; 64];
            let mut length = len(&out);
            C_WrapKey(
                t,
                ptr(n, &mut mechanism),
                h.aes,
                h.target,
                buf(n, &mut out),
                ptr(n, &mut length),
            )
        }),
        function!(C_UnwrapKey, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_AES_KEY_WRAP);
            let mut wrapped = h.wrapped.clone();
            let mut secret = SecretTemplate::new(CKK_AES, 16);
            let mut template = secret.attributes(false);
            let mut key = 0;
            C_UnwrapKey(
                t,
                ptr(n, &mut mechanism),
                h.aes,
                buf(n, &mut wrapped),
                len(&wrapped),
                buf(n, &mut template),
                len(&template),
                ptr(n, &mut key),
            )
        }),
        function!(C_DeriveKey, Session, [OK], [BAD], |l, h, t, n| {
            let mut point = h.peer_point.clone();
            let mut parameters = CK_ECDH1_DERIVE_PARAMS {
                kdf: CKD_NULL,
                ulSharedDataLen: 0,
                pSharedData: null_mut(),
                ulPublicDataLen: len(&point),
                pPublicData: point.as_mut_ptr(),
            };
            let mut mechanism = raw_mechanism_with(CKM_ECDH1_DERIVE, &mut parameters);
            let mut secret = SecretTemplate::new(CKK_GENERIC_SECRET, 32);
            let mut template = secret.attributes(true);
            let mut key = 0;
            C_DeriveKey(
                t,
                ptr(n, &mut mechanism),
                h.ec_private,
                buf(n, &mut template),
                len(&template),
                ptr(n, &mut key),
            )
        }),
        // ----- random number generation (§5.19) -----
        function!(C_SeedRandom, Session, [OK], [BAD], |l, h, t, n| {
            let mut seed = [1u8; 8];
            C_SeedRandom(t, buf(n, &mut seed), len(&seed))
        }),
        function!(C_GenerateRandom, Session, [OK], [BAD], |l, h, t, n| {
            let mut out = [0u8; 16];
            C_GenerateRandom(t, buf(n, &mut out), len(&out))
        }),
        // ----- parallel function management (§5.20): legacy -----
        function!(
            C_GetFunctionStatus,
            Session,
            [CKR_FUNCTION_NOT_PARALLEL],
            none,
            |l, h, t, n| { C_GetFunctionStatus(t) }
        ),
        function!(
            C_CancelFunction,
            Session,
            [CKR_FUNCTION_NOT_PARALLEL],
            none,
            |l, h, t, n| { C_CancelFunction(t) }
        ),
        // Slot 1 never changes: with CKF_DONT_BLOCK, "CKR_NO_EVENT" (§5.5.4).
        function!(
            C_WaitForSlotEvent,
            General,
            [CKR_NO_EVENT],
            [BAD],
            |l, h, t, n| {
                let mut slot = 0;
                C_WaitForSlotEvent(CKF_DONT_BLOCK, ptr(n, &mut slot), null_mut())
            }
        ),
        // ----- added by 3.0 -----
        function!(C_GetInterfaceList, General, [OK], [BAD], |l, h, t, n| {
            let mut interfaces: [CK_INTERFACE; 4] = zeroed();
            let mut count = len(&interfaces);
            C_GetInterfaceList(buf(n, &mut interfaces), ptr(n, &mut count))
        }),
        // A NULL name and version are valid ("the default interface"): only
        // the out pointer is made NULL.
        function!(C_GetInterface, General, [OK], [BAD], |l, h, t, n| {
            let mut name = *b"PKCS 11\0";
            let mut interface: *mut CK_INTERFACE = null_mut();
            C_GetInterface(name.as_mut_ptr(), null_mut(), ptr(n, &mut interface), 0)
        }),
        function!(C_LoginUser, Session, [STUB], [STUB, BAD], |l, h, t, n| {
            let mut pin = USER_PIN.as_bytes().to_vec();
            let mut name = *b"cu1";
            C_LoginUser(
                t,
                CKU_USER,
                buf(n, &mut pin),
                len(&pin),
                buf(n, &mut name),
                len(&name),
            )
        }),
        // Cancelling operations that are not active leaves nothing to fail.
        function!(C_SessionCancel, Session, [OK], none, |l, h, t, n| {
            C_SessionCancel(t, CKF_SIGN | CKF_FIND_OBJECTS)
        }),
    ];
    // ----- message-based encryption and decryption (§5.9, §5.11): AES-GCM -----
    functions.extend(vec![
        function!(C_MessageEncryptInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_AES_GCM);
            C_MessageEncryptInit(t, ptr(n, &mut mechanism), h.aes)
        }),
        function!(
            C_EncryptMessage,
            Session,
            [NO_OPERATION],
            [NO_OPERATION, BAD],
            |l, h, t, n| {
                let (mut parameter, mut aad, mut data, mut out) =
                    ([0u8; 16], [0u8; 4], [1u8; 16], [0u8; 64]);
                let mut length = len(&out);
                C_EncryptMessage(
                    t,
                    buf(n, &mut parameter).cast(),
                    len(&parameter),
                    buf(n, &mut aad),
                    len(&aad),
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_EncryptMessageBegin,
            Session,
            [NO_OPERATION],
            [NO_OPERATION, BAD],
            |l, h, t, n| {
                let (mut parameter, mut aad) = ([0u8; 16], [0u8; 4]);
                C_EncryptMessageBegin(
                    t,
                    buf(n, &mut parameter).cast(),
                    len(&parameter),
                    buf(n, &mut aad),
                    len(&aad),
                )
            }
        ),
        function!(
            C_EncryptMessageNext,
            Session,
            [NO_OPERATION],
            [NO_OPERATION, BAD],
            |l, h, t, n| {
                let (mut parameter, mut data, mut out) = ([0u8; 16], [1u8; 16], [0u8; 64]);
                let mut length = len(&out);
                C_EncryptMessageNext(
                    t,
                    buf(n, &mut parameter).cast(),
                    len(&parameter),
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                    0,
                )
            }
        ),
        function!(
            C_MessageEncryptFinal,
            Session,
            [NO_OPERATION],
            none,
            |l, h, t, n| { C_MessageEncryptFinal(t) }
        ),
        function!(C_MessageDecryptInit, Session, [OK], [BAD], |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_AES_GCM);
            C_MessageDecryptInit(t, ptr(n, &mut mechanism), h.aes)
        }),
        function!(
            C_DecryptMessage,
            Session,
            [NO_OPERATION],
            [NO_OPERATION, BAD],
            |l, h, t, n| {
                let (mut parameter, mut aad, mut data, mut out) =
                    ([0u8; 16], [0u8; 4], [1u8; 16], [0u8; 64]);
                let mut length = len(&out);
                C_DecryptMessage(
                    t,
                    buf(n, &mut parameter).cast(),
                    len(&parameter),
                    buf(n, &mut aad),
                    len(&aad),
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                )
            }
        ),
        function!(
            C_DecryptMessageBegin,
            Session,
            [NO_OPERATION],
            [NO_OPERATION, BAD],
            |l, h, t, n| {
                let (mut parameter, mut aad) = ([0u8; 16], [0u8; 4]);
                C_DecryptMessageBegin(
                    t,
                    buf(n, &mut parameter).cast(),
                    len(&parameter),
                    buf(n, &mut aad),
                    len(&aad),
                )
            }
        ),
        function!(
            C_DecryptMessageNext,
            Session,
            [NO_OPERATION],
            [NO_OPERATION, BAD],
            |l, h, t, n| {
                let (mut parameter, mut data, mut out) = ([0u8; 16], [1u8; 16], [0u8; 64]);
                let mut length = len(&out);
                C_DecryptMessageNext(
                    t,
                    buf(n, &mut parameter).cast(),
                    len(&parameter),
                    buf(n, &mut data),
                    len(&data),
                    buf(n, &mut out),
                    ptr(n, &mut length),
                    0,
                )
            }
        ),
        function!(
            C_MessageDecryptFinal,
            Session,
            [NO_OPERATION],
            none,
            |l, h, t, n| { C_MessageDecryptFinal(t) }
        ),
    ]);
    functions.extend(message_stubs! {
        C_MessageSignInit |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            C_MessageSignInit(t, ptr(n, &mut mechanism), h.rsa_private)
        }
        C_SignMessage |l, h, t, n| {
            let (mut parameter, mut data, mut out) = ([0u8; 16], [1u8; 16], [0u8; 512]);
            let mut length = len(&out);
            C_SignMessage(t, buf(n, &mut parameter).cast(), len(&parameter), buf(n, &mut data), len(&data),
                buf(n, &mut out), ptr(n, &mut length))
        }
        C_SignMessageBegin |l, h, t, n| {
            let mut parameter = [0u8; 16];
            C_SignMessageBegin(t, buf(n, &mut parameter).cast(), len(&parameter))
        }
        C_SignMessageNext |l, h, t, n| {
            let (mut parameter, mut data, mut out) = ([0u8; 16], [1u8; 16], [0u8; 512]);
            let mut length = len(&out);
            C_SignMessageNext(t, buf(n, &mut parameter).cast(), len(&parameter), buf(n, &mut data), len(&data),
                buf(n, &mut out), ptr(n, &mut length))
        }
        C_MessageSignFinal |l, h, t, n| { C_MessageSignFinal(t) }
        C_MessageVerifyInit |l, h, t, n| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            C_MessageVerifyInit(t, ptr(n, &mut mechanism), h.rsa_public)
        }
        C_VerifyMessage |l, h, t, n| {
            let (mut parameter, mut data, mut signature) = ([0u8; 16], [1u8; 16], [0u8; 256]);
            C_VerifyMessage(t, buf(n, &mut parameter).cast(), len(&parameter), buf(n, &mut data), len(&data),
                buf(n, &mut signature), len(&signature))
        }
        C_VerifyMessageBegin |l, h, t, n| {
            let mut parameter = [0u8; 16];
            C_VerifyMessageBegin(t, buf(n, &mut parameter).cast(), len(&parameter))
        }
        C_VerifyMessageNext |l, h, t, n| {
            let (mut parameter, mut data, mut signature) = ([0u8; 16], [1u8; 16], [0u8; 256]);
            C_VerifyMessageNext(t, buf(n, &mut parameter).cast(), len(&parameter), buf(n, &mut data), len(&data),
                buf(n, &mut signature), len(&signature))
        }
        C_MessageVerifyFinal |l, h, t, n| { C_MessageVerifyFinal(t) }
    });
    functions
}
