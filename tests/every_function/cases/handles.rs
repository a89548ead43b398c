//! Handles never issued, already destroyed, or of the wrong kind.

use super::*;
use std::ptr::null_mut;

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
