//! The cryptographic functions with a key of the wrong type, a key whose
//! usage flag is false, a bad mechanism parameter and a short buffer, and
//! the rule that every error but two ends the operation.

use super::*;
use std::ptr::null_mut;

/// Calls another function of the list than the one under test:
/// `call!(l, C_DigestFinal(s, ...))`.
macro_rules! call {
    ($l:ident, $name:ident ( $($argument:expr),* $(,)? )) => {
        $l.$name.expect(stringify!($name))($($argument),*)
    };
}

/// The first call's code, with a problem unless the operation it was part
/// of has ended: "A call to C_X which results in an error terminates the
/// current operation" (§5.8 to §5.13), so the next call of the same
/// operation is `CKR_OPERATION_NOT_INITIALIZED`.
fn ended(rv: CK_RV, next: CK_RV) -> Outcome {
    let problem = (next != CKR_OPERATION_NOT_INITIALIZED).then(|| {
        format!(
            "the operation did not end: the next call returned {}",
            rv_name(next)
        )
    });
    Outcome { rv, problem }
}

/// The first call's code, with a problem unless the operation survived it:
/// `CKR_BUFFER_TOO_SMALL` "does not terminate the operation" (§5.2), so the
/// same call with a large enough buffer succeeds.
fn kept(rv: CK_RV, next: CK_RV) -> Outcome {
    let problem = (next != CKR_OK).then(|| {
        format!(
            "the operation did not survive: the next call returned {}",
            rv_name(next)
        )
    });
    Outcome { rv, problem }
}

/// A session AES-128 key with `flag` false and every other usage flag
/// true, made in `session` through `list`; `Err` with the setup's code.
fn aes_without(
    list: &CK_FUNCTION_LIST_3_0,
    session: CK_SESSION_HANDLE,
    flag: CK_ATTRIBUTE_TYPE,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    secret_without(list, session, CKK_AES, flag)
}

/// A session secret key of `key_type` (16 bytes) with `flag` false and the
/// other usage flags true.
fn secret_without(
    list: &CK_FUNCTION_LIST_3_0,
    session: CK_SESSION_HANDLE,
    key_type: CK_KEY_TYPE,
    flag: CK_ATTRIBUTE_TYPE,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let (mut class, mut key_type) = (CKO_SECRET_KEY, key_type);
    let mut value = [9u8; 16];
    let mut flags = [
        CK_FALSE, CK_TRUE, CK_TRUE, CK_TRUE, CK_TRUE, CK_TRUE, CK_TRUE, CK_TRUE,
    ];
    let kinds = [
        CKA_TOKEN,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_SIGN,
        CKA_VERIFY,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_DERIVE,
    ];
    for (kind, value) in kinds.iter().zip(flags.iter_mut()).skip(1) {
        if *kind == flag {
            *value = CK_FALSE;
        }
    }
    let mut template = vec![
        attribute(CKA_CLASS, &mut class),
        attribute(CKA_KEY_TYPE, &mut key_type),
        CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: value.as_mut_ptr().cast(),
            ulValueLen: value.len() as CK_ULONG,
        },
    ];
    for (kind, value) in kinds.iter().zip(flags.iter_mut()) {
        template.push(attribute(*kind, value));
    }
    let mut key = 0;
    // SAFETY: every attribute points into a live buffer of its length.
    let rv = unsafe {
        list.C_CreateObject.unwrap()(
            session,
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
            &mut key,
        )
    };
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(key)
}

/// Runs `key`, a setup that makes a key, and returns its handle, or ends
/// the case with the setup's failure.
macro_rules! key {
    ($made:expr) => {
        match $made {
            Ok(key) => key,
            Err(rv) => return Outcome::setup_failed("C_CreateObject", rv),
        }
    };
}

/// "CKR_KEY_TYPE_INCONSISTENT: The specified key is not the correct type
/// of key to use with the specified mechanism" (§5.1.6), and its wrapping
/// twins; "CKR_KEY_FUNCTION_NOT_PERMITTED: An attempt has been made to use
/// a key for a cryptographic purpose that the key's attributes are not set
/// to allow it to do" (§5.1.6). Where both apply, either may come.
pub fn wrong_keys() -> Vec<Case> {
    const TYPE: CK_RV = CKR_KEY_TYPE_INCONSISTENT;
    const NOT_PERMITTED: CK_RV = CKR_KEY_FUNCTION_NOT_PERMITTED;
    vec![
        case!(C_EncryptInit, "AES-ECB on an RSA key", [TYPE], |l, h, s| {
            C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.rsa_public)
        }),
        case!(
            C_DecryptInit,
            "RSA PKCS on an AES key",
            [TYPE],
            |l, h, s| { C_DecryptInit(s, &mut raw_mechanism(CKM_RSA_PKCS), h.aes) }
        ),
        case!(C_SignInit, "RSA on an EC key", [TYPE], |l, h, s| {
            C_SignInit(s, &mut raw_mechanism(CKM_SHA256_RSA_PKCS), h.ec_private)
        }),
        case!(C_SignInit, "ECDSA on an RSA key", [TYPE], |l, h, s| {
            C_SignInit(s, &mut raw_mechanism(CKM_ECDSA), h.rsa_private)
        }),
        case!(C_VerifyInit, "ECDSA on an RSA key", [TYPE], |l, h, s| {
            C_VerifyInit(s, &mut raw_mechanism(CKM_ECDSA), h.rsa_public)
        }),
        case!(C_SignInit, "HMAC on an AES key", [TYPE], |l, h, s| {
            C_SignInit(s, &mut raw_mechanism(CKM_SHA256_HMAC), h.aes)
        }),
        case!(
            C_WrapKey,
            "AES key wrap under an RSA public key",
            [CKR_WRAPPING_KEY_TYPE_INCONSISTENT, NOT_PERMITTED],
            |l, h, s| {
                let mut length: CK_ULONG = 64;
                let mut wrapped = [0u8; 64];
                let mut mechanism = raw_mechanism(CKM_AES_KEY_WRAP);
                let (wrapping, key) = (h.rsa_public, h.target);
                C_WrapKey(
                    s,
                    &mut mechanism,
                    wrapping,
                    key,
                    wrapped.as_mut_ptr(),
                    &mut length,
                )
            }
        ),
        case!(
            C_DeriveKey,
            "ECDH from an AES key",
            [TYPE, NOT_PERMITTED],
            |l, h, s| {
                let mut point = h.peer_point.clone();
                let mut parameters = CK_ECDH1_DERIVE_PARAMS {
                    kdf: CKD_NULL,
                    ulSharedDataLen: 0,
                    pSharedData: null_mut(),
                    ulPublicDataLen: point.len() as CK_ULONG,
                    pPublicData: point.as_mut_ptr(),
                };
                let mut mechanism = raw_mechanism_with(CKM_ECDH1_DERIVE, &mut parameters);
                let (mut class, mut key_type) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET);
                let mut length: CK_ULONG = 32;
                let mut template = [
                    attribute(CKA_CLASS, &mut class),
                    attribute(CKA_KEY_TYPE, &mut key_type),
                    attribute(CKA_VALUE_LEN, &mut length),
                ];
                let mut key = 0;
                C_DeriveKey(s, &mut mechanism, h.aes, template.as_mut_ptr(), 3, &mut key)
            }
        ),
        case!(
            C_EncryptInit,
            "a key whose CKA_ENCRYPT is false",
            [NOT_PERMITTED],
            |l, h, s| {
                let key = key!(aes_without(l, s, CKA_ENCRYPT));
                C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), key)
            }
        ),
        case!(
            C_DecryptInit,
            "a key whose CKA_DECRYPT is false",
            [NOT_PERMITTED],
            |l, h, s| {
                let key = key!(aes_without(l, s, CKA_DECRYPT));
                C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), key)
            }
        ),
        case!(
            C_SignInit,
            "a key whose CKA_SIGN is false",
            [NOT_PERMITTED],
            |l, h, s| {
                let key = key!(secret_without(l, s, CKK_GENERIC_SECRET, CKA_SIGN));
                C_SignInit(s, &mut raw_mechanism(CKM_SHA256_HMAC), key)
            }
        ),
        case!(
            C_VerifyInit,
            "a key whose CKA_VERIFY is false",
            [NOT_PERMITTED],
            |l, h, s| {
                let key = key!(secret_without(l, s, CKK_GENERIC_SECRET, CKA_VERIFY));
                C_VerifyInit(s, &mut raw_mechanism(CKM_SHA256_HMAC), key)
            }
        ),
        case!(
            C_WrapKey,
            "a wrapping key whose CKA_WRAP is false",
            [NOT_PERMITTED],
            |l, h, s| {
                let wrapping = key!(aes_without(l, s, CKA_WRAP));
                let mut length: CK_ULONG = 64;
                let mut wrapped = [0u8; 64];
                let mut mechanism = raw_mechanism(CKM_AES_KEY_WRAP);
                C_WrapKey(
                    s,
                    &mut mechanism,
                    wrapping,
                    h.target,
                    wrapped.as_mut_ptr(),
                    &mut length,
                )
            }
        ),
        case!(
            C_UnwrapKey,
            "an unwrapping key whose CKA_UNWRAP is false",
            [NOT_PERMITTED],
            |l, h, s| {
                let unwrapping = key!(aes_without(l, s, CKA_UNWRAP));
                let mut wrapped = h.wrapped.clone();
                let (mut class, mut key_type) = (CKO_SECRET_KEY, CKK_AES);
                let mut token = CK_FALSE;
                let mut template = [
                    attribute(CKA_CLASS, &mut class),
                    attribute(CKA_KEY_TYPE, &mut key_type),
                    attribute(CKA_TOKEN, &mut token),
                ];
                let mut key = 0;
                C_UnwrapKey(
                    s,
                    &mut raw_mechanism(CKM_AES_KEY_WRAP),
                    unwrapping,
                    wrapped.as_mut_ptr(),
                    wrapped.len() as CK_ULONG,
                    template.as_mut_ptr(),
                    3,
                    &mut key,
                )
            }
        ),
    ]
}

/// "CKR_MECHANISM_PARAM_INVALID: Invalid parameters were supplied to the
/// mechanism specified to the cryptographic operation" (§5.1.6): a
/// parameter missing where the mechanism needs one, or of the wrong size.
pub fn bad_parameters() -> Vec<Case> {
    const INVALID: CK_RV = CKR_MECHANISM_PARAM_INVALID;
    vec![
        case!(
            C_EncryptInit,
            "an 8-byte IV for AES-CBC",
            [INVALID],
            |l, h, s| {
                let mut iv = [0u8; 8];
                C_EncryptInit(s, &mut raw_mechanism_with(CKM_AES_CBC, &mut iv), h.aes)
            }
        ),
        case!(C_DecryptInit, "no IV for AES-CBC", [INVALID], |l, h, s| {
            C_DecryptInit(s, &mut raw_mechanism(CKM_AES_CBC), h.aes)
        }),
        case!(
            C_EncryptInit,
            "no parameters for AES-GCM",
            [INVALID],
            |l, h, s| { C_EncryptInit(s, &mut raw_mechanism(CKM_AES_GCM), h.aes) }
        ),
        case!(
            C_EncryptInit,
            "no parameters for RSA OAEP",
            [INVALID],
            |l, h, s| { C_EncryptInit(s, &mut raw_mechanism(CKM_RSA_PKCS_OAEP), h.rsa_public) }
        ),
        case!(
            C_SignInit,
            "no parameters for RSA PSS",
            [INVALID],
            |l, h, s| { C_SignInit(s, &mut raw_mechanism(CKM_RSA_PKCS_PSS), h.rsa_private) }
        ),
        case!(
            C_VerifyInit,
            "a 3-byte parameter for PSS",
            [INVALID],
            |l, h, s| {
                let mut parameter = [1u8; 3];
                let mut mechanism = raw_mechanism_with(CKM_SHA256_RSA_PKCS_PSS, &mut parameter);
                C_VerifyInit(s, &mut mechanism, h.rsa_public)
            }
        ),
        case!(
            C_WrapKey,
            "a 7-byte IV for AES key wrap",
            [INVALID],
            |l, h, s| {
                let mut iv = [0u8; 7];
                let mut length: CK_ULONG = 64;
                let mut wrapped = [0u8; 64];
                let mut mechanism = raw_mechanism_with(CKM_AES_KEY_WRAP, &mut iv);
                C_WrapKey(
                    s,
                    &mut mechanism,
                    h.aes,
                    h.target,
                    wrapped.as_mut_ptr(),
                    &mut length,
                )
            }
        ),
        case!(
            C_DeriveKey,
            "no parameters for ECDH",
            [INVALID],
            |l, h, s| {
                let (mut class, mut key_type) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET);
                let mut length: CK_ULONG = 32;
                let mut template = [
                    attribute(CKA_CLASS, &mut class),
                    attribute(CKA_KEY_TYPE, &mut key_type),
                    attribute(CKA_VALUE_LEN, &mut length),
                ];
                let mut key = 0;
                let mut mechanism = raw_mechanism(CKM_ECDH1_DERIVE);
                C_DeriveKey(
                    s,
                    &mut mechanism,
                    h.ec_private,
                    template.as_mut_ptr(),
                    3,
                    &mut key,
                )
            }
        ),
    ]
}

/// Starts `$init` (a `C_*Init` with its arguments) in the case's session,
/// or ends the case with the setup's failure.
macro_rules! start {
    ($l:ident, $init:ident ( $($argument:expr),* $(,)? )) => {
        setup!($l, $init($($argument),*))
    };
}

/// §5.2: "A call to C_X which results in an error terminates the current
/// operation", but for `CKR_BUFFER_TOO_SMALL` and a successful length
/// query, which leave it active. Each case makes the failing call, then
/// the next call of the same operation, which must find it ended (or, for
/// a short buffer, still there).
pub fn buffers_and_endings() -> Vec<Case> {
    const BAD: CK_RV = CKR_ARGUMENTS_BAD;
    const DATA: [u8; 16] = [3; 16];
    vec![
        case!(C_Digest, "a NULL data pointer", [BAD], |l, h, s| {
            start!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
            let (mut out, mut length) = ([0u8; 32], 32);
            let rv = C_Digest(s, null_mut(), 4, out.as_mut_ptr(), &mut length);
            let mut data = DATA;
            let next = call!(
                l,
                C_Digest(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
            );
            ended(rv, next)
        }),
        case!(C_Digest, "a NULL length pointer", [BAD], |l, h, s| {
            start!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
            let (mut data, mut out, mut length) = (DATA, [0u8; 32], 32);
            let rv = C_Digest(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), null_mut());
            let next = call!(
                l,
                C_Digest(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
            );
            ended(rv, next)
        }),
        case!(
            C_Digest,
            "a short buffer",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                start!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                let (mut data, mut out, mut length) = (DATA, [0u8; 32], 8);
                let rv = C_Digest(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length);
                if length != 32 {
                    return Outcome::with_value(rv, "the length needed", length, 32);
                }
                let next = call!(
                    l,
                    C_Digest(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                kept(rv, next)
            }
        ),
        case!(C_DigestUpdate, "a NULL data pointer", [BAD], |l, h, s| {
            start!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
            let (mut out, mut length) = ([0u8; 32], 32);
            let rv = C_DigestUpdate(s, null_mut(), 4);
            ended(
                rv,
                call!(l, C_DigestFinal(s, out.as_mut_ptr(), &mut length)),
            )
        }),
        case!(C_DigestFinal, "a NULL length pointer", [BAD], |l, h, s| {
            start!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
            let (mut out, mut length) = ([0u8; 32], 32);
            let rv = C_DigestFinal(s, out.as_mut_ptr(), null_mut());
            ended(
                rv,
                call!(l, C_DigestFinal(s, out.as_mut_ptr(), &mut length)),
            )
        }),
        case!(
            C_DigestFinal,
            "a short buffer",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                start!(l, C_DigestInit(s, &mut raw_mechanism(CKM_SHA256)));
                let (mut out, mut length) = ([0u8; 32], 31);
                let rv = C_DigestFinal(s, out.as_mut_ptr(), &mut length);
                kept(
                    rv,
                    call!(l, C_DigestFinal(s, out.as_mut_ptr(), &mut length)),
                )
            }
        ),
        case!(C_Sign, "a NULL data pointer", [BAD], |l, h, s| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            start!(l, C_SignInit(s, &mut mechanism, h.rsa_private));
            let (mut data, mut out, mut length) = (DATA, [0u8; 256], 256);
            let rv = C_Sign(s, null_mut(), 4, out.as_mut_ptr(), &mut length);
            let next = call!(
                l,
                C_Sign(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
            );
            ended(rv, next)
        }),
        case!(
            C_Sign,
            "a short buffer",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
                start!(l, C_SignInit(s, &mut mechanism, h.rsa_private));
                let (mut data, mut out, mut length) = (DATA, [0u8; 256], 8);
                let rv = C_Sign(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length);
                let next = call!(
                    l,
                    C_Sign(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                kept(rv, next)
            }
        ),
        case!(C_SignUpdate, "a NULL data pointer", [BAD], |l, h, s| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            start!(l, C_SignInit(s, &mut mechanism, h.rsa_private));
            let (mut out, mut length) = ([0u8; 256], 256);
            let rv = C_SignUpdate(s, null_mut(), 4);
            ended(rv, call!(l, C_SignFinal(s, out.as_mut_ptr(), &mut length)))
        }),
        case!(C_SignFinal, "a NULL length pointer", [BAD], |l, h, s| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            start!(l, C_SignInit(s, &mut mechanism, h.rsa_private));
            let (mut out, mut length) = ([0u8; 256], 256);
            let rv = C_SignFinal(s, out.as_mut_ptr(), null_mut());
            ended(rv, call!(l, C_SignFinal(s, out.as_mut_ptr(), &mut length)))
        }),
        case!(C_Verify, "a NULL data pointer", [BAD], |l, h, s| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            start!(l, C_VerifyInit(s, &mut mechanism, h.rsa_public));
            let (mut data, mut signature) = (DATA, [0u8; 256]);
            let rv = C_Verify(s, null_mut(), 4, signature.as_mut_ptr(), 256);
            let next = call!(
                l,
                C_Verify(s, data.as_mut_ptr(), 16, signature.as_mut_ptr(), 256)
            );
            ended(rv, next)
        }),
        case!(
            C_Verify,
            "a wrong signature",
            [CKR_SIGNATURE_INVALID],
            |l, h, s| {
                let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
                start!(l, C_VerifyInit(s, &mut mechanism, h.rsa_public));
                let (mut data, mut signature) = (DATA, [0u8; 256]);
                let rv = C_Verify(s, data.as_mut_ptr(), 16, signature.as_mut_ptr(), 256);
                let next = call!(
                    l,
                    C_Verify(s, data.as_mut_ptr(), 16, signature.as_mut_ptr(), 256)
                );
                ended(rv, next)
            }
        ),
        case!(C_VerifyUpdate, "a NULL data pointer", [BAD], |l, h, s| {
            let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
            start!(l, C_VerifyInit(s, &mut mechanism, h.rsa_public));
            let mut signature = [0u8; 256];
            let rv = C_VerifyUpdate(s, null_mut(), 4);
            ended(rv, call!(l, C_VerifyFinal(s, signature.as_mut_ptr(), 256)))
        }),
        case!(
            C_VerifyFinal,
            "a NULL signature pointer",
            [BAD],
            |l, h, s| {
                let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
                start!(l, C_VerifyInit(s, &mut mechanism, h.rsa_public));
                let mut signature = [0u8; 256];
                let rv = C_VerifyFinal(s, null_mut(), 256);
                ended(rv, call!(l, C_VerifyFinal(s, signature.as_mut_ptr(), 256)))
            }
        ),
        case!(C_Encrypt, "a NULL data pointer", [BAD], |l, h, s| {
            start!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
            let (mut data, mut out, mut length) = (DATA, [0u8; 16], 16);
            let rv = C_Encrypt(s, null_mut(), 16, out.as_mut_ptr(), &mut length);
            let next = call!(
                l,
                C_Encrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
            );
            ended(rv, next)
        }),
        case!(
            C_Encrypt,
            "data no whole number of blocks",
            [CKR_DATA_LEN_RANGE],
            |l, h, s| {
                start!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out, mut length) = (DATA, [0u8; 16], 16);
                let rv = C_Encrypt(s, data.as_mut_ptr(), 15, out.as_mut_ptr(), &mut length);
                let next = call!(
                    l,
                    C_Encrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                ended(rv, next)
            }
        ),
        case!(
            C_Encrypt,
            "a short buffer",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                start!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out, mut length) = (DATA, [0u8; 16], 8);
                let rv = C_Encrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length);
                let next = call!(
                    l,
                    C_Encrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                kept(rv, next)
            }
        ),
        case!(C_EncryptUpdate, "a NULL data pointer", [BAD], |l, h, s| {
            start!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
            let (mut out, mut length) = ([0u8; 16], 16);
            let rv = C_EncryptUpdate(s, null_mut(), 16, out.as_mut_ptr(), &mut length);
            ended(
                rv,
                call!(l, C_EncryptFinal(s, out.as_mut_ptr(), &mut length)),
            )
        }),
        case!(C_EncryptFinal, "a NULL length pointer", [BAD], |l, h, s| {
            start!(l, C_EncryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
            let (mut out, mut length) = ([0u8; 16], 16);
            let rv = C_EncryptFinal(s, out.as_mut_ptr(), null_mut());
            ended(
                rv,
                call!(l, C_EncryptFinal(s, out.as_mut_ptr(), &mut length)),
            )
        }),
        case!(
            C_EncryptFinal,
            "a short buffer for the padding block",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut iv = [0u8; 16];
                let mut mechanism = raw_mechanism_with(CKM_AES_CBC_PAD, &mut iv);
                start!(l, C_EncryptInit(s, &mut mechanism, h.aes));
                let (mut out, mut length) = ([0u8; 16], 4);
                let rv = C_EncryptFinal(s, out.as_mut_ptr(), &mut length);
                kept(
                    rv,
                    call!(l, C_EncryptFinal(s, out.as_mut_ptr(), &mut length)),
                )
            }
        ),
        case!(
            C_Decrypt,
            "ciphertext no whole number of blocks",
            [CKR_ENCRYPTED_DATA_LEN_RANGE],
            |l, h, s| {
                start!(l, C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out, mut length) = (DATA, [0u8; 16], 16);
                let rv = C_Decrypt(s, data.as_mut_ptr(), 15, out.as_mut_ptr(), &mut length);
                let next = call!(
                    l,
                    C_Decrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                ended(rv, next)
            }
        ),
        case!(
            C_Decrypt,
            "a short buffer",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                start!(l, C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
                let (mut data, mut out, mut length) = (DATA, [0u8; 16], 8);
                let rv = C_Decrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length);
                let next = call!(
                    l,
                    C_Decrypt(s, data.as_mut_ptr(), 16, out.as_mut_ptr(), &mut length)
                );
                kept(rv, next)
            }
        ),
        case!(C_DecryptUpdate, "a NULL data pointer", [BAD], |l, h, s| {
            start!(l, C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
            let (mut out, mut length) = ([0u8; 16], 16);
            let rv = C_DecryptUpdate(s, null_mut(), 16, out.as_mut_ptr(), &mut length);
            ended(
                rv,
                call!(l, C_DecryptFinal(s, out.as_mut_ptr(), &mut length)),
            )
        }),
        case!(C_DecryptFinal, "a NULL length pointer", [BAD], |l, h, s| {
            start!(l, C_DecryptInit(s, &mut raw_mechanism(CKM_AES_ECB), h.aes));
            let (mut out, mut length) = ([0u8; 16], 16);
            let rv = C_DecryptFinal(s, out.as_mut_ptr(), null_mut());
            ended(
                rv,
                call!(l, C_DecryptFinal(s, out.as_mut_ptr(), &mut length)),
            )
        }),
        case!(
            C_WrapKey,
            "a short buffer",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut mechanism = raw_mechanism(CKM_AES_KEY_WRAP);
                let (mut wrapped, mut length) = ([0u8; 64], 8);
                let rv = C_WrapKey(
                    s,
                    &mut mechanism,
                    h.aes,
                    h.target,
                    wrapped.as_mut_ptr(),
                    &mut length,
                );
                Outcome::with_value(rv, "the length needed", length, 24)
            }
        ),
    ]
}
