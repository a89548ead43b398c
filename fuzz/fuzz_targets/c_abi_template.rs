//! C ABI templates: the fuzzer's bytes become a `CK_ATTRIBUTE` array (any
//! attribute type, typed or raw values, NULL values with any length) given
//! to the functions that read a template: `C_CreateObject` (then
//! `C_GetAttributeValue`, `C_SetAttributeValue`, `C_CopyObject` and
//! `C_DestroyObject` of what was made), `C_FindObjectsInit`,
//! `C_GenerateKey`, `C_GenerateKeyPair`, `C_UnwrapKey`, `C_DeriveKey`, and
//! `C_GetAttributeValue` of the set-up keys with output buffers of any size.
//!
//! Beyond "no crash, no hang, no leak", it checks that no call answers bad
//! input with an internal failure, and that a sensitive or unextractable
//! key's value never comes out.
#![no_main]

use azcloudhsm_pkcs11::ffi::{key, object};
use azcloudhsm_pkcs11_fuzz::*;
use cryptoki_sys::*;
use libfuzzer_sys::fuzz_target;
use std::ptr;

/// A template the harness owns: every non-NULL value is a live buffer of
/// the length given with it.
struct Template {
    attributes: Vec<(CK_ATTRIBUTE_TYPE, Buffer)>,
}

impl Template {
    fn read(reader: &mut Reader<'_>) -> Template {
        let count = usize::from(reader.byte() % 12);
        let mut attributes = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = match reader.byte() {
                0..=239 => reader.pick(ATTRIBUTE_TYPES),
                _ => reader.ulong(),
            };
            let value = match reader.byte() {
                0..=127 => Buffer::of(&typical_value(reader, kind)),
                _ => Buffer::read(reader),
            };
            attributes.push((kind, value));
        }
        let mut template = Template { attributes };
        // A token object the fuzzer made undestroyable would stay in the
        // store for the rest of the run and slow every later search.
        if template.asks_for_token_object() {
            template
                .attributes
                .retain(|(kind, _)| *kind != CKA_DESTROYABLE);
        }
        template
    }

    fn asks_for_token_object(&self) -> bool {
        self.attributes.iter().any(|(kind, value)| {
            *kind == CKA_TOKEN && value.length() == 1 && value.first_byte() != Some(CK_FALSE)
        })
    }

    /// The raw array; valid while `self` is neither moved nor changed.
    fn raw(&mut self) -> Vec<CK_ATTRIBUTE> {
        self.attributes
            .iter_mut()
            .map(|(kind, value)| CK_ATTRIBUTE {
                type_: *kind,
                pValue: value.pointer() as *mut _,
                ulValueLen: value.length(),
            })
            .collect()
    }

    /// The raw array and its count, or (sometimes) NULL with a count.
    fn call_arguments(&mut self, reader: &mut Reader<'_>) -> (Vec<CK_ATTRIBUTE>, bool, CK_ULONG) {
        let raw = self.raw();
        let count = raw.len() as CK_ULONG;
        match reader.byte() {
            0..=3 => (raw, true, count.max(1)),
            _ => (raw, false, count),
        }
    }
}

fn template_pointer(raw: &mut [CK_ATTRIBUTE], null: bool) -> *mut CK_ATTRIBUTE {
    if null {
        ptr::null_mut()
    } else if raw.is_empty() {
        ptr::NonNull::dangling().as_ptr()
    } else {
        raw.as_mut_ptr()
    }
}

/// The objects a case made, destroyed at its end (session objects also go
/// with the session).
struct Made {
    session: CK_SESSION_HANDLE,
    handles: Vec<CK_OBJECT_HANDLE>,
}

impl Drop for Made {
    fn drop(&mut self) {
        for &handle in &self.handles {
            // SAFETY: no pointers.
            let rv = unsafe { object::C_DestroyObject(self.session, handle) };
            assert!(
                rv == CKR_OK || rv == CKR_ACTION_PROHIBITED,
                "C_DestroyObject of an object this case made returned 0x{rv:x}"
            );
        }
        close_session(self.session);
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = provider();
    let mut reader = Reader::new(data);
    let operation = reader.byte();
    let mut template = Template::read(&mut reader);
    let mut made = Made {
        session: open_session(),
        handles: Vec::new(),
    };
    let session = made.session;
    let (mut raw, null, count) = template.call_arguments(&mut reader);
    let pointer = template_pointer(&mut raw, null);
    let mut handle: CK_OBJECT_HANDLE = 0;
    // SAFETY (every call): pointers are NULL or live for their lengths.
    unsafe {
        match operation % 8 {
            0 | 1 => {
                let rv = object::C_CreateObject(session, pointer, count, &mut handle);
                assert_expected("C_CreateObject", rv);
                if rv == CKR_OK {
                    made.handles.push(handle);
                    read_attributes(session, handle, &mut reader);
                    let mut change = Template::read(&mut reader);
                    if template.asks_for_token_object() {
                        change
                            .attributes
                            .retain(|(kind, _)| *kind != CKA_DESTROYABLE);
                    }
                    let (mut raw, null, count) = change.call_arguments(&mut reader);
                    let pointer = template_pointer(&mut raw, null);
                    let rv = object::C_SetAttributeValue(session, handle, pointer, count);
                    assert_expected("C_SetAttributeValue", rv);
                    let mut copy = 0;
                    let rv = object::C_CopyObject(session, handle, pointer, count, &mut copy);
                    assert_expected("C_CopyObject", rv);
                    if rv == CKR_OK {
                        made.handles.push(copy);
                        read_attributes(session, copy, &mut reader);
                    }
                }
            }
            2 => {
                let rv = object::C_FindObjectsInit(session, pointer, count);
                assert_expected("C_FindObjectsInit", rv);
                if rv == CKR_OK {
                    let mut found = [0; 8];
                    let mut returned = 0;
                    let rv = object::C_FindObjects(
                        session,
                        found.as_mut_ptr(),
                        found.len() as CK_ULONG,
                        &mut returned,
                    );
                    assert_expected("C_FindObjects", rv);
                    assert_eq!(object::C_FindObjectsFinal(session), CKR_OK);
                }
            }
            3 => {
                let kind = reader.pick(&[CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN]);
                let mut mechanism = plain(kind);
                let rv = key::C_GenerateKey(session, &mut mechanism, pointer, count, &mut handle);
                assert_expected("C_GenerateKey", rv);
                if rv == CKR_OK {
                    made.handles.push(handle);
                    read_attributes(session, handle, &mut reader);
                }
            }
            4 => {
                // EC and Edwards only: RSA generation of a fuzzed size
                // would be a slow case, not a finding.
                let kind = reader.pick(&[CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN]);
                let mut mechanism = plain(kind);
                let mut other = Template::read(&mut reader);
                if template.asks_for_token_object() || other.asks_for_token_object() {
                    other
                        .attributes
                        .retain(|(kind, _)| *kind != CKA_DESTROYABLE);
                    template
                        .attributes
                        .retain(|(kind, _)| *kind != CKA_DESTROYABLE);
                }
                let mut raw = template.raw();
                let mut other_raw = other.raw();
                let (mut public, mut private) = (0, 0);
                let rv = key::C_GenerateKeyPair(
                    session,
                    &mut mechanism,
                    template_pointer(&mut raw, false),
                    raw.len() as CK_ULONG,
                    template_pointer(&mut other_raw, false),
                    other_raw.len() as CK_ULONG,
                    &mut public,
                    &mut private,
                );
                assert_expected("C_GenerateKeyPair", rv);
                if rv == CKR_OK {
                    made.handles.extend([public, private]);
                    read_attributes(session, private, &mut reader);
                }
            }
            5 => {
                // A wrapped AES key made in this case, unwrapped under the
                // fuzzed template.
                let wrapped = wrapped_secret(session, keys.aes);
                let mut mechanism = plain(CKM_AES_KEY_WRAP_PAD);
                let rv = key::C_UnwrapKey(
                    session,
                    &mut mechanism,
                    keys.aes,
                    wrapped.as_ptr() as *mut u8,
                    wrapped.len() as CK_ULONG,
                    pointer,
                    count,
                    &mut handle,
                );
                assert_expected("C_UnwrapKey", rv);
                if rv == CKR_OK {
                    made.handles.push(handle);
                    read_attributes(session, handle, &mut reader);
                }
            }
            6 => {
                let point = der_octets(&keys.ec_point);
                let mut parameters = CK_ECDH1_DERIVE_PARAMS {
                    kdf: CKD_NULL,
                    ulSharedDataLen: 0,
                    pSharedData: ptr::null_mut(),
                    ulPublicDataLen: point.len() as CK_ULONG,
                    pPublicData: point.as_ptr() as *mut u8,
                };
                let mut mechanism = CK_MECHANISM {
                    mechanism: CKM_ECDH1_DERIVE,
                    pParameter: &mut parameters as *mut _ as *mut _,
                    ulParameterLen: std::mem::size_of::<CK_ECDH1_DERIVE_PARAMS>() as CK_ULONG,
                };
                let rv = key::C_DeriveKey(
                    session,
                    &mut mechanism,
                    keys.ec_private,
                    pointer,
                    count,
                    &mut handle,
                );
                assert_expected("C_DeriveKey", rv);
                if rv == CKR_OK {
                    made.handles.push(handle);
                    read_attributes(session, handle, &mut reader);
                }
            }
            _ => {
                let target = reader.pick(&keys.all());
                read_attributes(session, target, &mut reader);
            }
        }
    }
    drop(made);
});

fn plain(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    }
}

/// The raw point inside a DER OCTET STRING (`CKA_EC_POINT`'s form).
fn der_octets(value: &[u8]) -> &[u8] {
    match value {
        [0x04, length, rest @ ..] if usize::from(*length) == rest.len() => rest,
        [0x04, 0x81, length, rest @ ..] if usize::from(*length) == rest.len() => rest,
        _ => value,
    }
}

/// A fresh extractable AES key wrapped under `wrapping` (then destroyed).
unsafe fn wrapped_secret(session: CK_SESSION_HANDLE, wrapping: CK_OBJECT_HANDLE) -> Vec<u8> {
    // SAFETY: no caller pointers.
    let secret = unsafe { generate_secret(session, CKM_AES_KEY_GEN, &[CKA_EXTRACTABLE], 16) };
    let mut wrapped = vec![0u8; 64];
    let mut wrapped_length = wrapped.len() as CK_ULONG;
    let mut mechanism = plain(CKM_AES_KEY_WRAP_PAD);
    // SAFETY: live buffers of the lengths given.
    let rv = unsafe {
        key::C_WrapKey(
            session,
            &mut mechanism,
            wrapping,
            secret,
            wrapped.as_mut_ptr(),
            &mut wrapped_length,
        )
    };
    assert_eq!(rv, CKR_OK, "C_WrapKey of an extractable key");
    wrapped.truncate(wrapped_length as usize);
    destroy(session, secret);
    wrapped
}

/// `C_GetAttributeValue` of `handle` for attribute types from the reader,
/// each with a NULL value (a length query) or a buffer of a fuzzed size;
/// checks the return code rules and that no secret value comes out of a
/// sensitive or unextractable key.
unsafe fn read_attributes(
    session: CK_SESSION_HANDLE,
    handle: CK_OBJECT_HANDLE,
    reader: &mut Reader<'_>,
) {
    let count = 1 + usize::from(reader.byte() % 8);
    let mut buffers: Vec<Option<Vec<u8>>> = Vec::with_capacity(count);
    let mut raw = Vec::with_capacity(count);
    for _ in 0..count {
        let kind = reader.pick(ATTRIBUTE_TYPES);
        let buffer = match reader.byte() % 4 {
            0 => None,
            1 => Some(vec![0u8; usize::from(reader.byte() % 16)]),
            _ => Some(vec![0u8; 4096]),
        };
        buffers.push(buffer);
        raw.push(CK_ATTRIBUTE {
            type_: kind,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        });
    }
    for (attribute, buffer) in raw.iter_mut().zip(buffers.iter_mut()) {
        if let Some(buffer) = buffer {
            attribute.pValue = if buffer.is_empty() {
                ptr::NonNull::<u8>::dangling().as_ptr() as *mut _
            } else {
                buffer.as_mut_ptr() as *mut _
            };
            attribute.ulValueLen = buffer.len() as CK_ULONG;
        }
    }
    // SAFETY: every pValue is NULL or a live buffer of ulValueLen bytes.
    let rv = unsafe {
        object::C_GetAttributeValue(session, handle, raw.as_mut_ptr(), raw.len() as CK_ULONG)
    };
    assert!(
        matches!(
            rv,
            CKR_OK
                | CKR_ATTRIBUTE_SENSITIVE
                | CKR_ATTRIBUTE_TYPE_INVALID
                | CKR_BUFFER_TOO_SMALL
                | CKR_OBJECT_HANDLE_INVALID
        ),
        "C_GetAttributeValue returned 0x{rv:x}"
    );
    if rv == CKR_OBJECT_HANDLE_INVALID {
        return;
    }
    let sensitive = query_bool(session, handle, CKA_SENSITIVE) == Some(true)
        || query_bool(session, handle, CKA_EXTRACTABLE) == Some(false);
    for attribute in &raw {
        let secret = matches!(
            attribute.type_,
            CKA_VALUE
                | CKA_PRIVATE_EXPONENT
                | CKA_PRIME_1
                | CKA_PRIME_2
                | CKA_EXPONENT_1
                | CKA_EXPONENT_2
                | CKA_COEFFICIENT
        );
        let class = query_ulong(session, handle, CKA_CLASS);
        let private_or_secret = matches!(class, Some(CKO_PRIVATE_KEY | CKO_SECRET_KEY));
        if secret && private_or_secret && sensitive {
            assert_eq!(
                attribute.ulValueLen, CK_UNAVAILABLE_INFORMATION,
                "a sensitive or unextractable key's 0x{:x} came out",
                attribute.type_
            );
        }
    }
}

unsafe fn query(
    session: CK_SESSION_HANDLE,
    handle: CK_OBJECT_HANDLE,
    kind: CK_ATTRIBUTE_TYPE,
) -> Option<Vec<u8>> {
    let mut value = vec![0u8; 16];
    let mut attribute = CK_ATTRIBUTE {
        type_: kind,
        pValue: value.as_mut_ptr() as *mut _,
        ulValueLen: value.len() as CK_ULONG,
    };
    // SAFETY: a live 16-byte buffer.
    let rv = unsafe { object::C_GetAttributeValue(session, handle, &mut attribute, 1) };
    (rv == CKR_OK).then(|| {
        value.truncate(attribute.ulValueLen as usize);
        value
    })
}

unsafe fn query_bool(
    session: CK_SESSION_HANDLE,
    handle: CK_OBJECT_HANDLE,
    kind: CK_ATTRIBUTE_TYPE,
) -> Option<bool> {
    // SAFETY: as `query`.
    unsafe { query(session, handle, kind) }.and_then(|value| match value.as_slice() {
        [byte] => Some(*byte != CK_FALSE),
        _ => None,
    })
}

unsafe fn query_ulong(
    session: CK_SESSION_HANDLE,
    handle: CK_OBJECT_HANDLE,
    kind: CK_ATTRIBUTE_TYPE,
) -> Option<CK_ULONG> {
    // SAFETY: as `query`.
    unsafe { query(session, handle, kind) }
        .and_then(|value| Some(CK_ULONG::from_ne_bytes(value.as_slice().try_into().ok()?)))
}
