//! Objects through the raw C ABI, for the key types and attributes
//! `cryptoki` has no name for (`CKK_SHA3_256_HMAC`, `CKA_WRAP_WITH_TRUSTED`
//! on a derived key, ...): a template builder, `C_CreateObject` with it,
//! and attribute readers.

use super::abi::*;
use crate::{assert_ck, ck};
use cryptoki::session::Session;
use cryptoki_sys::*;

/// Bytes from their hex form (known-answer vectors).
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A template under construction: the values live here while the raw
/// `CK_ATTRIBUTE`s of [`Template::raw`] point at them.
#[derive(Clone, Default)]
pub struct Template {
    values: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

impl Template {
    pub fn ulong(mut self, kind: CK_ATTRIBUTE_TYPE, value: CK_ULONG) -> Self {
        self.values.push((kind, ulong_bytes(value)));
        self
    }
    pub fn bool(mut self, kind: CK_ATTRIBUTE_TYPE, value: bool) -> Self {
        self.values.push((kind, vec![value as u8]));
        self
    }
    pub fn bytes(mut self, kind: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Self {
        self.values.push((kind, value.to_vec()));
        self
    }
    /// The `CK_ATTRIBUTE`s, valid while `self` lives and is not changed.
    pub fn raw(&mut self) -> Vec<CK_ATTRIBUTE> {
        self.values
            .iter_mut()
            .map(|(kind, value)| raw_attribute(*kind, value))
            .collect()
    }
}

/// A session secret key of `key_type` holding `value`, with `extra`'s
/// attributes (`CKA_SIGN`, `CKA_SENSITIVE`, ...); the test fails if
/// `C_CreateObject` does.
pub fn raw_secret(
    session: &Session,
    key_type: CK_KEY_TYPE,
    value: &[u8],
    extra: Template,
) -> CK_OBJECT_HANDLE {
    let mut template = extra
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type)
        .bytes(CKA_VALUE, value)
        .bool(CKA_TOKEN, false);
    let mut raw = template.raw();
    let mut handle = CK_INVALID_HANDLE;
    assert_ck!(
        ck!(C_CreateObject(
            session.handle(),
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            &mut handle
        )),
        CKR_OK
    );
    handle
}

/// `C_GenerateKey` with `kind` and `template`: the handle, or the error.
pub fn raw_generate_key(
    session: &Session,
    kind: CK_MECHANISM_TYPE,
    mut template: Template,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut raw = template.raw();
    let mut mechanism = raw_mechanism(kind);
    let mut handle = CK_INVALID_HANDLE;
    match ck!(C_GenerateKey(
        session.handle(),
        &mut mechanism,
        raw.as_mut_ptr(),
        raw.len() as CK_ULONG,
        &mut handle
    )) {
        CKR_OK => Ok(handle),
        rv => Err(rv),
    }
}

/// The value of one attribute of `object`, at most `capacity` bytes, or
/// the error `C_GetAttributeValue` gives.
pub fn raw_attribute_value(
    session: &Session,
    object: CK_OBJECT_HANDLE,
    kind: CK_ATTRIBUTE_TYPE,
    capacity: usize,
) -> Result<Vec<u8>, CK_RV> {
    let mut buffer = vec![0u8; capacity];
    let mut template = [raw_attribute(kind, &mut buffer)];
    match ck!(C_GetAttributeValue(
        session.handle(),
        object,
        template.as_mut_ptr(),
        1
    )) {
        CKR_OK => {
            buffer.truncate(template[0].ulValueLen as usize);
            Ok(buffer)
        }
        rv => Err(rv),
    }
}

/// A secret key's `CKA_VALUE`, or the error reading it gives
/// (`CKR_ATTRIBUTE_SENSITIVE` for a sensitive or unextractable key).
pub fn raw_secret_value(session: &Session, key: CK_OBJECT_HANDLE) -> Result<Vec<u8>, CK_RV> {
    raw_attribute_value(session, key, CKA_VALUE, 4096)
}

/// A `CK_BBOOL` attribute of `object`; the test fails if it cannot be read.
pub fn raw_bool(session: &Session, object: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> bool {
    let value = raw_attribute_value(session, object, kind, 1)
        .unwrap_or_else(|rv| panic!("reading {kind:#x}: {}", rv_name(rv)));
    match value[..] {
        [CK_FALSE] => false,
        [CK_TRUE] => true,
        _ => panic!("{kind:#x} is not a CK_BBOOL: {value:?}"),
    }
}

/// A `CK_ULONG` attribute of `object`; the test fails if it cannot be read.
pub fn raw_ulong(session: &Session, object: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
    let value = raw_attribute_value(session, object, kind, std::mem::size_of::<CK_ULONG>())
        .unwrap_or_else(|rv| panic!("reading {kind:#x}: {}", rv_name(rv)));
    CK_ULONG::from_ne_bytes(value.try_into().expect("a CK_ULONG"))
}
