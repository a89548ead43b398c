//! Zero and huge counts, and lengths that do not match their buffers.

use super::*;
use std::ptr::null_mut;

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
            "room for one of the three interfaces",
            [CKR_BUFFER_TOO_SMALL],
            |l, h, s| {
                let mut interfaces: [CK_INTERFACE; 1] = std::mem::zeroed();
                let mut count = 1;
                let rv = C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count);
                Outcome::with_value(rv, "the count", count, 3)
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
        case!(C_SeedRandom, "an empty seed", [CKR_OK], |l, h, s| {
            C_SeedRandom(s, null_mut(), 0)
        }),
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
