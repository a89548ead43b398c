//! The cases a function's ordinary call does not reach: zero and huge
//! counts, lengths that do not match their buffers, handles never issued
//! or already destroyed, and calls in the wrong order. Each names the
//! rule of PKCS#11 3.0 it checks.

use super::fixture::*;
use crate::common::*;
use cryptoki_sys::*;
use std::ptr::null_mut;

/// A call no buffer can describe: more than `isize::MAX` bytes.
const HUGE: CK_ULONG = CK_ULONG::MAX;

type Run = Box<dyn Fn(&CK_FUNCTION_LIST_3_0, &Handles, CK_SESSION_HANDLE) -> Outcome>;

/// One case: the function under test, what is wrong with the call, the
/// codes it may return, and the call, made in a fresh R/W session.
pub struct Case {
    pub function: &'static str,
    pub what: String,
    pub expected: &'static [CK_RV],
    pub run: Run,
}

/// `case!(C_X, "what", [codes], |list, handles, session| { body })`: the
/// body calls `C_X(...)` (the function list's entry) and returns an
/// [`Outcome`] or a `CK_RV`; `setup!` inside it makes a call that must
/// succeed first.
macro_rules! case {
    ($name:ident, $what:expr, [$($rv:expr),+], |$l:ident, $h:ident, $s:ident| $body:block) => {
        Case {
            function: stringify!($name),
            what: $what.to_string(),
            expected: &[$($rv),+],
            run: Box::new(move |$l: &CK_FUNCTION_LIST_3_0, $h: &Handles, $s: CK_SESSION_HANDLE| -> Outcome {
                let _ = (&$h, &$s);
                #[allow(non_snake_case, unused_variables)]
                let $name = $l.$name.expect(stringify!($name));
                // SAFETY: every pointer is NULL or points to a live buffer of
                // at least the length passed with it (a larger length is the
                // case under test only where the library must refuse it
                // before reading).
                #[allow(unused_unsafe, unused_mut, clippy::unnecessary_mut_passed)]
                let outcome: Outcome = unsafe { $body }.into();
                outcome
            }),
        }
    };
}

/// A call a case makes before the call under test; it must succeed.
macro_rules! setup {
    ($l:ident, $name:ident ( $($argument:expr),* $(,)? )) => {{
        let rv = $l.$name.expect(stringify!($name))($($argument),*);
        if rv != CKR_OK {
            return Outcome::setup_failed(stringify!($name), rv);
        }
    }};
}

/// Runs each case in a fresh R/W session; returns the failures.
pub fn run_all(fixture: &Fixture, cases: Vec<Case>) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let session = fixture.session();
        let outcome = (case.run)(fixture.list, &fixture.handles, session);
        close_session(fixture.list, session);
        let name = format!("{} with {}", case.function, case.what);
        if !case.expected.contains(&outcome.rv) {
            failures.push(format!(
                "{name}: {}, expected {}",
                rv_name(outcome.rv),
                names(case.expected)
            ));
        } else if let Some(problem) = outcome.problem {
            failures.push(format!("{name}: {problem}"));
        }
    }
    failures
}

fn attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &mut T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value as *mut T as *mut std::ffi::c_void,
        ulValueLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

/// §5.2: a buffer too small gets `CKR_BUFFER_TOO_SMALL` and the length
/// needed; a NULL buffer gets `CKR_OK` and the length. §5.7.5: an
/// attribute whose buffer is too small gets `CK_UNAVAILABLE_INFORMATION`.
/// A count or length no memory can hold describes no real buffer: the
/// arguments are "in some way not appropriate", `CKR_ARGUMENTS_BAD`
/// (§5.1.6), refused before anything is read.
pub fn counts_and_lengths() -> Vec<Case> {
    vec![
        case!(
            C_GetSlotList,
            "room for no slot",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut slots = [0; 1];
                let mut count = 0;
                let rv = C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut count);
                Outcome::with_value(rv, "the count", count, 1)
            }
        ),
        case!(C_GetSlotList, "tokenPresent false", [CKR_OK], |l, h, s| {
            let mut slots = [0; 4];
            let mut count = 4;
            let rv = C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut count);
            Outcome::with_value(
                rv,
                "the slots",
                slots[..count as usize].to_vec(),
                vec![SLOT_ID],
            )
        }),
        case!(
            C_GetMechanismList,
            "room for one mechanism",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut all = 0;
                setup!(l, C_GetMechanismList(SLOT_ID, null_mut(), &mut all));
                let mut mechanisms = [0; 1];
                let mut count = 1;
                let rv = C_GetMechanismList(SLOT_ID, mechanisms.as_mut_ptr(), &mut count);
                Outcome::with_value(rv, "the count", count, all)
            }
        ),
        case!(
            C_GetInterfaceList,
            "room for one of the two interfaces",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut interfaces: [CK_INTERFACE; 1] = std::mem::zeroed();
                let mut count = 1;
                let rv = C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count);
                Outcome::with_value(rv, "the count", count, 2)
            }
        ),
        // "CKR_TEMPLATE_INCOMPLETE: The template specified for creating an
        // object is incomplete, and lacks some necessary attributes" (§5.1.6).
        case!(
            C_CreateObject,
            "an empty template",
            [CKR_TEMPLATE_INCOMPLETE],
            |l, h, s| {
                let mut object = 0;
                C_CreateObject(s, null_mut(), 0, &mut object)
            }
        ),
        case!(
            C_CreateObject,
            "a count no memory can hold",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut class = CKO_DATA;
                let mut template = [attribute(CKA_CLASS, &mut class)];
                let mut object = 0;
                C_CreateObject(s, template.as_mut_ptr(), HUGE, &mut object)
            }
        ),
        // "CKR_ATTRIBUTE_VALUE_INVALID: An invalid value was specified for
        // a particular attribute in a template" (§5.1.6): a CK_ULONG in 4
        // bytes, a CK_BBOOL in 8.
        case!(
            C_CreateObject,
            "CKA_CLASS 4 bytes long",
            [CKR_ATTRIBUTE_VALUE_INVALID],
            |l, h, s| {
                let mut class = [0u8; 4];
                let mut template = [raw_attribute(CKA_CLASS, &mut class)];
                let mut object = 0;
                C_CreateObject(s, template.as_mut_ptr(), 1, &mut object)
            }
        ),
        case!(
            C_CreateObject,
            "CKA_TOKEN 8 bytes long",
            [CKR_ATTRIBUTE_VALUE_INVALID],
            |l, h, s| {
                let mut class = ulong_bytes(CKO_DATA);
                let mut token = [0u8; 8];
                let mut template = [
                    raw_attribute(CKA_CLASS, &mut class),
                    raw_attribute(CKA_TOKEN, &mut token),
                ];
                let mut object = 0;
                C_CreateObject(s, template.as_mut_ptr(), 2, &mut object)
            }
        ),
        // No code names an attribute length no memory can hold: the value
        // is invalid and the argument is inappropriate; both are §5.1.6.
        case!(
            C_CreateObject,
            "a value length no buffer can have",
            [CKR_ATTRIBUTE_VALUE_INVALID, CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut class = ulong_bytes(CKO_DATA);
                let mut value = [0u8; 16];
                let mut template = [
                    raw_attribute(CKA_CLASS, &mut class),
                    CK_ATTRIBUTE {
                        type_: CKA_VALUE,
                        pValue: value.as_mut_ptr().cast(),
                        ulValueLen: HUGE / 4,
                    },
                ];
                let mut object = 0;
                C_CreateObject(s, template.as_mut_ptr(), 2, &mut object)
            }
        ),
        case!(
            C_CopyObject,
            "a count no memory can hold",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut label = *b"x";
                let mut template = [raw_attribute(CKA_LABEL, &mut label)];
                let mut object = 0;
                C_CopyObject(s, h.data, template.as_mut_ptr(), HUGE, &mut object)
            }
        ),
        case!(
            C_GetAttributeValue,
            "an empty template",
            [CKR_OK],
            |l, h, s| { C_GetAttributeValue(s, h.data, null_mut(), 0) }
        ),
        case!(
            C_GetAttributeValue,
            "a count no memory can hold",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut label = [0u8; 8];
                let mut template = [raw_attribute(CKA_LABEL, &mut label)];
                C_GetAttributeValue(s, h.data, template.as_mut_ptr(), HUGE)
            }
        ),
        case!(
            C_GetAttributeValue,
            "a label buffer one byte short",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut label = [0u8; 3];
                let mut template = [raw_attribute(CKA_LABEL, &mut label)];
                let rv = C_GetAttributeValue(s, h.data, template.as_mut_ptr(), 1);
                Outcome::with_value(
                    rv,
                    "ulValueLen",
                    template[0].ulValueLen,
                    CK_UNAVAILABLE_INFORMATION,
                )
            }
        ),
        case!(
            C_GetAttributeValue,
            "CKA_CLASS into 4 bytes",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut class = [0u8; 4];
                let mut template = [raw_attribute(CKA_CLASS, &mut class)];
                let rv = C_GetAttributeValue(s, h.data, template.as_mut_ptr(), 1);
                Outcome::with_value(
                    rv,
                    "ulValueLen",
                    template[0].ulValueLen,
                    CK_UNAVAILABLE_INFORMATION,
                )
            }
        ),
        case!(
            C_GetAttributeValue,
            "a NULL value pointer (a length query)",
            [CKR_OK],
            |l, h, s| {
                let mut template = [length_query(CKA_LABEL)];
                let rv = C_GetAttributeValue(s, h.data, template.as_mut_ptr(), 1);
                Outcome::with_value(rv, "ulValueLen", template[0].ulValueLen, 4)
            }
        ),
        case!(
            C_SetAttributeValue,
            "an empty template",
            [CKR_OK],
            |l, h, s| { C_SetAttributeValue(s, h.data, null_mut(), 0) }
        ),
        case!(
            C_SetAttributeValue,
            "a count no memory can hold",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut label = *b"data";
                let mut template = [raw_attribute(CKA_LABEL, &mut label)];
                C_SetAttributeValue(s, h.data, template.as_mut_ptr(), HUGE)
            }
        ),
        case!(
            C_SetAttributeValue,
            "a NULL value with a length",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut template = [CK_ATTRIBUTE {
                    type_: CKA_LABEL,
                    pValue: null_mut(),
                    ulValueLen: 4,
                }];
                C_SetAttributeValue(s, h.data, template.as_mut_ptr(), 1)
            }
        ),
        case!(
            C_FindObjectsInit,
            "an empty template",
            [CKR_OK],
            |l, h, s| { C_FindObjectsInit(s, null_mut(), 0) }
        ),
        case!(
            C_FindObjectsInit,
            "a count no memory can hold",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut class = CKO_DATA;
                let mut template = [attribute(CKA_CLASS, &mut class)];
                C_FindObjectsInit(s, template.as_mut_ptr(), HUGE)
            }
        ),
        case!(
            C_FindObjects,
            "a maximum count of 0",
            [CKR_OK],
            |l, h, s| {
                setup!(l, C_FindObjectsInit(s, null_mut(), 0));
                let mut count = 99;
                let rv = C_FindObjects(s, null_mut(), 0, &mut count);
                Outcome::with_value(rv, "the count", count, 0)
            }
        ),
        case!(
            C_FindObjects,
            "a NULL array with a count",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                setup!(l, C_FindObjectsInit(s, null_mut(), 0));
                let mut count = 0;
                C_FindObjects(s, null_mut(), 4, &mut count)
            }
        ),
        // "CKR_DATA_LEN_RANGE: The plaintext input data to a cryptographic
        // operation has a bad length" (§5.1.6): AES-ECB takes whole blocks.
        case!(
            C_Encrypt,
            "15 bytes for AES-ECB",
            [CKR_DATA_LEN_RANGE],
            |l, h, s| {
                setup!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out) = ([1u8; 15], [0u8; 32]);
                let mut length = 32;
                C_Encrypt(s, data.as_mut_ptr(), 15, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_Encrypt,
            "an output buffer one byte short",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                setup!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out) = ([1u8; 16], [0u8; 15]);
                let mut length = 15;
                let rv = C_Encrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length);
                Outcome::with_value(rv, "the length", length, 16)
            }
        ),
        case!(
            C_Encrypt,
            "a NULL output buffer (a length query)",
            [CKR_OK],
            |l, h, s| {
                setup!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let mut data = [1u8; 32];
                let mut length = 0;
                let rv = C_Encrypt(s, data.as_mut_ptr(), 32, null_mut(), &mut length);
                Outcome::with_value(rv, "the length", length, 32)
            }
        ),
        case!(
            C_Encrypt,
            "a data length no buffer can have",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                setup!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out) = ([1u8; 16], [0u8; 32]);
                let mut length = 32;
                C_Encrypt(s, data.as_mut_ptr(), HUGE, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_EncryptUpdate,
            "an output buffer too short for the block",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                setup!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out) = ([1u8; 16], [0u8; 8]);
                let mut length = 8;
                let rv = C_EncryptUpdate(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length);
                Outcome::with_value(rv, "the length", length, 16)
            }
        ),
        // "CKR_ENCRYPTED_DATA_LEN_RANGE: The encrypted input to a decryption
        // operation has been determined to be invalid ciphertext solely on
        // the basis of its length" (§5.1.6).
        case!(
            C_Decrypt,
            "17 bytes of AES-ECB ciphertext",
            [CKR_ENCRYPTED_DATA_LEN_RANGE],
            |l, h, s| {
                setup!(l, C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out) = ([1u8; 17], [0u8; 32]);
                let mut length = 32;
                C_Decrypt(s, data.as_mut_ptr(), 17, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_Digest,
            "a buffer one byte short",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                setup!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                let (mut data, mut out) = ([1u8; 4], [0u8; 31]);
                let mut length = 31;
                let rv = C_Digest(s, data.as_mut_ptr(), 4, out.as_mut_ptr(), &mut length);
                Outcome::with_value(rv, "the length", length, 32)
            }
        ),
        case!(
            C_Digest,
            "a data length no buffer can have",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                setup!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                let (mut data, mut out) = ([1u8; 4], [0u8; 32]);
                let mut length = 32;
                C_Digest(s, data.as_mut_ptr(), HUGE, out.as_mut_ptr(), &mut length)
            }
        ),
        case!(
            C_DigestUpdate,
            "no data (NULL, length 0)",
            [CKR_OK],
            |l, h, s| {
                setup!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                C_DigestUpdate(s, null_mut(), 0)
            }
        ),
        case!(
            C_Sign,
            "a signature buffer one byte short",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                setup!(
                    l,
                    C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_private)
                );
                let (mut data, mut out) = ([1u8; 4], [0u8; 255]);
                let mut length = 255;
                let rv = C_Sign(s, data.as_mut_ptr(), 4, out.as_mut_ptr(), &mut length);
                Outcome::with_value(rv, "the length", length, 256)
            }
        ),
        case!(C_Sign, "no data (NULL, length 0)", [CKR_OK], |l, h, s| {
            setup!(
                l,
                C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_private)
            );
            let mut out = [0u8; 256];
            let mut length = 256;
            let rv = C_Sign(s, null_mut(), 0, out.as_mut_ptr(), &mut length);
            Outcome::with_value(rv, "the length", length, 256)
        }),
        // "CKR_SIGNATURE_LEN_RANGE: The signature can be seen to be invalid
        // solely on the basis of its length" (§5.1.6).
        case!(
            C_Verify,
            "a signature one byte short",
            [CKR_SIGNATURE_LEN_RANGE],
            |l, h, s| {
                setup!(
                    l,
                    C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_public)
                );
                let (mut data, mut signature) = ([1u8; 4], [0u8; 255]);
                C_Verify(s, data.as_mut_ptr(), 4, signature.as_mut_ptr(), 255)
            }
        ),
        case!(
            C_Verify,
            "a signature of the right length that is wrong",
            [CKR_SIGNATURE_INVALID],
            |l, h, s| {
                setup!(
                    l,
                    C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_public)
                );
                let (mut data, mut signature) = ([1u8; 4], [1u8; 256]);
                C_Verify(s, data.as_mut_ptr(), 4, signature.as_mut_ptr(), 256)
            }
        ),
        case!(
            C_VerifyFinal,
            "an empty signature",
            [CKR_SIGNATURE_LEN_RANGE],
            |l, h, s| {
                setup!(
                    l,
                    C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.rsa_public)
                );
                let mut data = [1u8; 4];
                setup!(l, C_VerifyUpdate(s, data.as_mut_ptr(), 4));
                C_VerifyFinal(s, null_mut(), 0)
            }
        ),
        case!(C_GenerateRandom, "length 0", [CKR_OK], |l, h, s| {
            C_GenerateRandom(s, null_mut(), 0)
        }),
        case!(
            C_GenerateRandom,
            "a length no buffer can have",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut out = [0u8; 16];
                C_GenerateRandom(s, out.as_mut_ptr(), HUGE)
            }
        ),
        case!(
            C_SeedRandom,
            "an empty seed",
            [CKR_RANDOM_SEED_NOT_SUPPORTED],
            |l, h, s| { C_SeedRandom(s, null_mut(), 0) }
        ),
        case!(
            C_WrapKey,
            "a buffer one byte short",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut out = [0u8; 23];
                let mut length = 23;
                let rv = C_WrapKey(
                    s,
                    &mut raw_mechanism(CKM_AES_KEY_WRAP),
                    h.aes,
                    h.target,
                    out.as_mut_ptr(),
                    &mut length,
                );
                Outcome::with_value(rv, "the length", length, 24)
            }
        ),
        case!(
            C_WrapKey,
            "a NULL buffer (a length query)",
            [CKR_OK],
            |l, h, s| {
                let mut length = 0;
                let rv = C_WrapKey(
                    s,
                    &mut raw_mechanism(CKM_AES_KEY_WRAP),
                    h.aes,
                    h.target,
                    null_mut(),
                    &mut length,
                );
                Outcome::with_value(rv, "the length", length, 24)
            }
        ),
        // §5.1.8: "the difference between CKR_WRAPPED_KEY_INVALID and
        // CKR_WRAPPED_KEY_LEN_RANGE can be subtle": both are accepted.
        case!(
            C_UnwrapKey,
            "5 bytes of AES-wrapped key",
            [CKR_WRAPPED_KEY_LEN_RANGE, CKR_WRAPPED_KEY_INVALID],
            |l, h, s| {
                let mut wrapped = [0xA6u8; 5];
                let mut class = ulong_bytes(CKO_SECRET_KEY);
                let mut key_type = ulong_bytes(CKK_AES);
                let mut template = [
                    raw_attribute(CKA_CLASS, &mut class),
                    raw_attribute(CKA_KEY_TYPE, &mut key_type),
                ];
                let mut key = 0;
                C_UnwrapKey(
                    s,
                    &mut raw_mechanism(CKM_AES_KEY_WRAP),
                    h.aes,
                    wrapped.as_mut_ptr(),
                    5,
                    template.as_mut_ptr(),
                    2,
                    &mut key,
                )
            }
        ),
        // "CKR_MECHANISM_PARAM_INVALID: Invalid parameters were supplied to
        // the mechanism specified to the cryptographic operation" (§5.1.6).
        case!(
            C_SignInit,
            "a PSS parameter of the wrong size",
            [CKR_MECHANISM_PARAM_INVALID],
            |l, h, s| {
                let mut parameter = [0u8; 8];
                let mut mechanism = CK_MECHANISM {
                    mechanism: CKM_SHA256_RSA_PKCS_PSS,
                    pParameter: parameter.as_mut_ptr().cast(),
                    ulParameterLen: 8,
                };
                C_SignInit(s, &mut mechanism, h.rsa_private)
            }
        ),
        case!(
            C_EncryptInit,
            "an 8-byte AES-CBC IV",
            [CKR_MECHANISM_PARAM_INVALID],
            |l, h, s| {
                let mut iv = [0u8; 8];
                let mut mechanism = CK_MECHANISM {
                    mechanism: CKM_AES_CBC,
                    pParameter: iv.as_mut_ptr().cast(),
                    ulParameterLen: 8,
                };
                C_EncryptInit(s, &mut mechanism, h.aes)
            }
        ),
        case!(
            C_DeriveKey,
            "an ECDH parameter of the wrong size",
            [CKR_MECHANISM_PARAM_INVALID],
            |l, h, s| {
                let mut parameter = [0u8; 8];
                let mut mechanism = CK_MECHANISM {
                    mechanism: CKM_ECDH1_DERIVE,
                    pParameter: parameter.as_mut_ptr().cast(),
                    ulParameterLen: 8,
                };
                let mut class = ulong_bytes(CKO_SECRET_KEY);
                let mut template = [raw_attribute(CKA_CLASS, &mut class)];
                let mut key = 0;
                C_DeriveKey(
                    s,
                    &mut mechanism,
                    h.ec_private,
                    template.as_mut_ptr(),
                    1,
                    &mut key,
                )
            }
        ),
        case!(
            C_GenerateKey,
            "CKA_VALUE_LEN 4 bytes long",
            [CKR_ATTRIBUTE_VALUE_INVALID],
            |l, h, s| {
                let mut value_len = [16u8, 0, 0, 0];
                let mut template = [raw_attribute(CKA_VALUE_LEN, &mut value_len)];
                let mut key = 0;
                C_GenerateKey(
                    s,
                    &mut raw_mechanism(CKM_AES_KEY_GEN),
                    template.as_mut_ptr(),
                    1,
                    &mut key,
                )
            }
        ),
        case!(
            C_GenerateKeyPair,
            "a count no memory can hold",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut params = P256.to_vec();
                let mut public = [raw_attribute(CKA_EC_PARAMS, &mut params)];
                let (mut public_key, mut private_key) = (0, 0);
                C_GenerateKeyPair(
                    s,
                    &mut raw_mechanism(CKM_EC_KEY_PAIR_GEN),
                    public.as_mut_ptr(),
                    HUGE,
                    null_mut(),
                    0,
                    &mut public_key,
                    &mut private_key,
                )
            }
        ),
        // "CKR_SESSION_PARALLEL_NOT_SUPPORTED: The specified token does not
        // support parallel sessions": CKF_SERIAL_SESSION must be set (§5.6.1).
        case!(
            C_OpenSession,
            "flags without CKF_SERIAL_SESSION",
            [CKR_SESSION_PARALLEL_NOT_SUPPORTED],
            |l, h, s| {
                let mut session = 0;
                C_OpenSession(SLOT_ID, CKF_RW_SESSION, null_mut(), None, &mut session)
            }
        ),
        case!(
            C_GetMechanismInfo,
            "a mechanism the token does not know",
            [CKR_MECHANISM_INVALID],
            |l, h, s| {
                let mut info: CK_MECHANISM_INFO = std::mem::zeroed();
                C_GetMechanismInfo(SLOT_ID, CKM_VENDOR_DEFINED | 0x1234, &mut info)
            }
        ),
        case!(
            C_Login,
            "a user type that does not exist",
            [CKR_USER_TYPE_INVALID],
            |l, h, s| {
                let mut pin = USER_PIN.as_bytes().to_vec();
                C_Login(s, 7, pin.as_mut_ptr(), len(&pin))
            }
        ),
        // §5.4.6: a name, version or flags not offered is CKR_ARGUMENTS_BAD.
        case!(
            C_GetInterface,
            "a name not offered",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut name = *b"PKCS 12\0";
                let mut interface = null_mut();
                C_GetInterface(name.as_mut_ptr(), null_mut(), &mut interface, 0)
            }
        ),
        case!(
            C_GetInterface,
            "a version not offered",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut version = CK_VERSION { major: 9, minor: 9 };
                let mut interface = null_mut();
                C_GetInterface(null_mut(), &mut version, &mut interface, 0)
            }
        ),
        case!(
            C_GetInterface,
            "flags not offered",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut interface = null_mut();
                C_GetInterface(
                    null_mut(),
                    null_mut(),
                    &mut interface,
                    CKF_INTERFACE_FORK_SAFE,
                )
            }
        ),
        // "for this version, it should be NULL_PTR" (§5.5.4, §5.4.2): and a
        // refused C_Finalize must not finalise.
        case!(
            C_WaitForSlotEvent,
            "a non-NULL pReserved",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut slot = 0;
                let mut reserved = 0u8;
                C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, (&mut reserved as *mut u8).cast())
            }
        ),
        case!(
            C_Finalize,
            "a non-NULL pReserved",
            [CKR_ARGUMENTS_BAD],
            |l, h, s| {
                let mut reserved = 0u8;
                let rv = C_Finalize((&mut reserved as *mut u8).cast());
                let mut info: CK_INFO = std::mem::zeroed();
                let after = l.C_GetInfo.unwrap()(&mut info);
                Outcome::with_value(
                    rv,
                    "C_GetInfo after the refused C_Finalize",
                    rv_name(after),
                    rv_name(CKR_OK),
                )
            }
        ),
    ]
}

/// A bad handle of each kind a caller can pass.
fn bad_handles(h: &Handles) -> Vec<(&'static str, CK_OBJECT_HANDLE)> {
    vec![
        ("a handle never issued", NO_OBJECT),
        ("handle 0 (CK_INVALID_HANDLE)", 0),
        ("a certificate handle never issued", NO_CERTIFICATE),
    ]
    .into_iter()
    .chain([
        ("a destroyed object's handle", h.destroyed_object),
        ("a destroyed certificate's handle", h.destroyed_certificate),
    ])
    .collect()
}

/// "CKR_OBJECT_HANDLE_INVALID: The specified object handle is not valid"
/// and "CKR_KEY_HANDLE_INVALID: The specified key handle is not valid. It
/// may be the case that the specified handle is a valid handle for an
/// object which is not a key" (§5.1.6); wrapping and unwrapping keys have
/// their own codes (§5.18.6, §5.18.7).
pub fn handles() -> Vec<Case> {
    let placeholders = Handles::placeholders();
    let mut cases = Vec::new();
    for (what, handle) in bad_handles(&placeholders) {
        // The destroyed handles are the fixture's, read at run time.
        let pick = move |h: &Handles| match what {
            "a destroyed object's handle" => h.destroyed_object,
            "a destroyed certificate's handle" => h.destroyed_certificate,
            _ => handle,
        };
        cases.extend([
            case!(
                C_CopyObject,
                what,
                [CKR_OBJECT_HANDLE_INVALID],
                |l, h, s| {
                    let mut object = 0;
                    C_CopyObject(s, pick(h), null_mut(), 0, &mut object)
                }
            ),
            case!(
                C_DestroyObject,
                what,
                [CKR_OBJECT_HANDLE_INVALID],
                |l, h, s| { C_DestroyObject(s, pick(h)) }
            ),
            case!(
                C_GetObjectSize,
                what,
                [CKR_OBJECT_HANDLE_INVALID],
                |l, h, s| {
                    let mut size = 0;
                    C_GetObjectSize(s, pick(h), &mut size)
                }
            ),
            case!(
                C_GetAttributeValue,
                what,
                [CKR_OBJECT_HANDLE_INVALID],
                |l, h, s| {
                    let mut template = [length_query(CKA_LABEL)];
                    C_GetAttributeValue(s, pick(h), template.as_mut_ptr(), 1)
                }
            ),
            case!(
                C_SetAttributeValue,
                what,
                [CKR_OBJECT_HANDLE_INVALID],
                |l, h, s| {
                    let mut label = *b"x";
                    let mut template = [raw_attribute(CKA_LABEL, &mut label)];
                    C_SetAttributeValue(s, pick(h), template.as_mut_ptr(), 1)
                }
            ),
        ]);
    }
    let bad_keys = |h: &Handles| -> Vec<(&'static str, CK_OBJECT_HANDLE)> {
        vec![
            ("a handle never issued", NO_OBJECT),
            ("handle 0 (CK_INVALID_HANDLE)", 0),
            ("a destroyed key's handle", h.destroyed_key),
            ("a certificate's handle", h.certificate),
            ("a data object's handle", h.data),
        ]
    };
    for index in 0..bad_keys(&placeholders).len() {
        let what = bad_keys(&placeholders)[index].0;
        let key = move |h: &Handles| bad_keys(h)[index].1;
        cases.extend([
            case!(C_EncryptInit, what, [CKR_KEY_HANDLE_INVALID], |l, h, s| {
                C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), key(h))
            }),
            case!(C_DecryptInit, what, [CKR_KEY_HANDLE_INVALID], |l, h, s| {
                C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), key(h))
            }),
            case!(C_SignInit, what, [CKR_KEY_HANDLE_INVALID], |l, h, s| {
                C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), key(h))
            }),
            case!(C_VerifyInit, what, [CKR_KEY_HANDLE_INVALID], |l, h, s| {
                C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), key(h))
            }),
            case!(C_DigestKey, what, [CKR_KEY_HANDLE_INVALID], |l, h, s| {
                setup!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                C_DigestKey(s, key(h))
            }),
            case!(C_DeriveKey, what, [CKR_KEY_HANDLE_INVALID], |l, h, s| {
                let mut point = h.peer_point.clone();
                let mut parameters = CK_ECDH1_DERIVE_PARAMS {
                    kdf: CKD_NULL,
                    ulSharedDataLen: 0,
                    pSharedData: null_mut(),
                    ulPublicDataLen: len(&point),
                    pPublicData: point.as_mut_ptr(),
                };
                let mut class = ulong_bytes(CKO_SECRET_KEY);
                let mut template = [raw_attribute(CKA_CLASS, &mut class)];
                let mut derived = 0;
                C_DeriveKey(
                    s,
                    &mut raw_mechanism_with(CKM_ECDH1_DERIVE, &mut parameters),
                    key(h),
                    template.as_mut_ptr(),
                    1,
                    &mut derived,
                )
            }),
            case!(
                C_WrapKey,
                format!("{what} as the key to wrap"),
                [CKR_KEY_HANDLE_INVALID],
                |l, h, s| {
                    let mut length = 0;
                    C_WrapKey(
                        s,
                        &mut raw_mechanism(CKM_AES_KEY_WRAP),
                        h.aes,
                        key(h),
                        null_mut(),
                        &mut length,
                    )
                }
            ),
            case!(
                C_WrapKey,
                format!("{what} as the wrapping key"),
                [CKR_WRAPPING_KEY_HANDLE_INVALID],
                |l, h, s| {
                    let mut length = 0;
                    C_WrapKey(
                        s,
                        &mut raw_mechanism(CKM_AES_KEY_WRAP),
                        key(h),
                        h.target,
                        null_mut(),
                        &mut length,
                    )
                }
            ),
            case!(
                C_UnwrapKey,
                format!("{what} as the unwrapping key"),
                [CKR_UNWRAPPING_KEY_HANDLE_INVALID],
                |l, h, s| {
                    let mut wrapped = h.wrapped.clone();
                    let mut class = ulong_bytes(CKO_SECRET_KEY);
                    let mut key_type = ulong_bytes(CKK_AES);
                    let mut template = [
                        raw_attribute(CKA_CLASS, &mut class),
                        raw_attribute(CKA_KEY_TYPE, &mut key_type),
                    ];
                    let mut unwrapped = 0;
                    C_UnwrapKey(
                        s,
                        &mut raw_mechanism(CKM_AES_KEY_WRAP),
                        key(h),
                        wrapped.as_mut_ptr(),
                        len(&wrapped),
                        template.as_mut_ptr(),
                        2,
                        &mut unwrapped,
                    )
                }
            ),
        ]);
    }
    // A data object is "an object which is not a key", CKR_KEY_HANDLE_INVALID,
    // but the two functions also have a code of their own for a key they
    // cannot take ("CKR_KEY_INDIGESTIBLE: ... perhaps the key isn't a secret
    // key"; "CKR_KEY_NOT_WRAPPABLE", which SoftHSM2 returns for any object
    // that is not a private or secret key): both are §5.1.6 codes, so either
    // may be returned (§5.1.7).
    for case in &mut cases {
        match (case.function, case.what.as_str()) {
            ("C_DigestKey", "a data object's handle") => {
                case.expected = &[CKR_KEY_HANDLE_INVALID, CKR_KEY_INDIGESTIBLE]
            }
            ("C_WrapKey", "a data object's handle as the key to wrap") => {
                case.expected = &[CKR_KEY_HANDLE_INVALID, CKR_KEY_NOT_WRAPPABLE]
            }
            _ => {}
        }
    }
    cases
}

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
