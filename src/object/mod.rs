//! The object model shared by every backend: attributes as typed byte
//! values, templates, template matching (PKCS#11 3.0 §4), and the
//! attribute rules of every class the provider holds itself: one schema
//! ([`rules`]), one table per class ([`tables`]), one template builder and
//! one checker of changes ([`template`]).

pub mod kinds;
pub mod rules;
pub mod tables;
pub mod template;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use cryptoki_sys::*;
use std::collections::BTreeMap;

pub use kinds::{value_kind, ValueKind};

/// An object handle (`CK_OBJECT_HANDLE`).
pub type Handle = CK_OBJECT_HANDLE;
/// An attribute type (`CK_ATTRIBUTE_TYPE`).
pub type AttributeType = CK_ATTRIBUTE_TYPE;

/// The first handle of the certificate range (4293918720).
pub const FIRST_CERTIFICATE_HANDLE: Handle = 0xFFF0_0000;
/// The last handle of the certificate range.
pub const LAST_CERTIFICATE_HANDLE: Handle = 0xFFFF_FFFE;

/// True when `handle` belongs to the certificate store rather than the device.
pub fn is_certificate_handle(handle: Handle) -> bool {
    (FIRST_CERTIFICATE_HANDLE..=LAST_CERTIFICATE_HANDLE).contains(&handle)
}

/// One attribute as the caller gave it: a type and its value bytes, laid out
/// as the C ABI lays them out (`CK_ULONG` and `CK_BBOOL` in native form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub kind: AttributeType,
    pub value: Vec<u8>,
}

impl Attribute {
    pub fn new(kind: AttributeType, value: Vec<u8>) -> Self {
        Attribute { kind, value }
    }
    pub fn from_bool(kind: AttributeType, value: bool) -> Self {
        Attribute::new(kind, encode_bool(value))
    }
    pub fn from_ulong(kind: AttributeType, value: CK_ULONG) -> Self {
        Attribute::new(kind, encode_ulong(value))
    }
    /// The value as a `CK_BBOOL`; a value of the wrong size is invalid.
    pub fn as_bool(&self) -> Result<bool> {
        decode_bool(&self.value).ok_or(Error::AttributeValueInvalid(self.kind))
    }
    /// The value as a `CK_ULONG`; a value of the wrong size is invalid.
    pub fn as_ulong(&self) -> Result<CK_ULONG> {
        decode_ulong(&self.value).ok_or(Error::AttributeValueInvalid(self.kind))
    }
}

/// Encodes a `CK_BBOOL`.
pub fn encode_bool(value: bool) -> Vec<u8> {
    vec![if value { CK_TRUE } else { CK_FALSE }]
}

/// Encodes a `CK_ULONG` in native byte order, as the C ABI holds it.
pub fn encode_ulong(value: CK_ULONG) -> Vec<u8> {
    value.to_ne_bytes().to_vec()
}

/// Decodes a `CK_BBOOL` (exactly one byte; any non-zero byte is true).
pub fn decode_bool(bytes: &[u8]) -> Option<bool> {
    match bytes {
        [b] => Some(*b != 0),
        _ => None,
    }
}

/// Decodes a `CK_ULONG` (exactly `size_of::<CK_ULONG>()` bytes).
pub fn decode_ulong(bytes: &[u8]) -> Option<CK_ULONG> {
    Some(CK_ULONG::from_ne_bytes(bytes.try_into().ok()?))
}

/// A caller's template: the attributes in the order given.
pub type Template = [Attribute];

/// Finds an attribute in a template.
pub fn find(template: &Template, kind: AttributeType) -> Option<&Attribute> {
    template.iter().find(|a| a.kind == kind)
}

/// Reads an optional boolean from a template.
pub fn find_bool(template: &Template, kind: AttributeType) -> Result<Option<bool>> {
    find(template, kind).map(Attribute::as_bool).transpose()
}

/// Reads an optional `CK_ULONG` from a template.
pub fn find_ulong(template: &Template, kind: AttributeType) -> Result<Option<CK_ULONG>> {
    find(template, kind).map(Attribute::as_ulong).transpose()
}

/// The attributes an object holds, keyed by type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes(pub BTreeMap<AttributeType, Vec<u8>>);

impl Attributes {
    pub fn new() -> Self {
        Attributes(BTreeMap::new())
    }
    pub fn get(&self, kind: AttributeType) -> Option<&[u8]> {
        self.0.get(&kind).map(Vec::as_slice)
    }
    pub fn set(&mut self, kind: AttributeType, value: Vec<u8>) {
        self.0.insert(kind, value);
    }
    pub fn set_bool(&mut self, kind: AttributeType, value: bool) {
        self.set(kind, encode_bool(value));
    }
    pub fn set_ulong(&mut self, kind: AttributeType, value: CK_ULONG) {
        self.set(kind, encode_ulong(value));
    }
    pub fn contains(&self, kind: AttributeType) -> bool {
        self.0.contains_key(&kind)
    }
    /// A boolean attribute, `default` when absent or malformed.
    pub fn bool_or(&self, kind: AttributeType, default: bool) -> bool {
        self.get(kind).and_then(decode_bool).unwrap_or(default)
    }
    /// A `CK_ULONG` attribute, if present and well-formed.
    pub fn ulong(&self, kind: AttributeType) -> Option<CK_ULONG> {
        self.get(kind).and_then(decode_ulong)
    }
    /// True when every attribute of `template` is present here with the
    /// same value (PKCS#11 3.0 §5.7, C_FindObjectsInit). An empty template
    /// matches every object.
    pub fn matches(&self, template: &Template) -> bool {
        template
            .iter()
            .all(|wanted| self.get(wanted.kind) == Some(wanted.value.as_slice()))
    }
}

/// What `C_GetAttributeValue` reports: one [`AttributeResult`] per
/// requested attribute, in the order asked.
pub type Answers = Result<Vec<AttributeResult>>;

/// What `C_GetAttributeValue` reports for one requested attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttributeResult {
    /// The attribute's value.
    Value(Vec<u8>),
    /// The attribute exists but may not be revealed (`CKR_ATTRIBUTE_SENSITIVE`).
    Sensitive,
    /// The object has no such attribute (`CKR_ATTRIBUTE_TYPE_INVALID`).
    Invalid,
}

/// Who is asking: the login state of the application and the kind of
/// session making the call. Backends use it to hide private objects
/// before login and to refuse writes from read-only sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// The normal user is logged in.
    pub user: bool,
    /// The security officer is logged in.
    pub so: bool,
    /// The session is read/write.
    pub read_write: bool,
    /// The session making the call (owner of session objects it creates).
    pub session: CK_SESSION_HANDLE,
}

impl Access {
    /// Fails with `CKR_SESSION_READ_ONLY` when a token object would be written
    /// from a read-only session.
    pub fn require_read_write(&self, token_object: bool) -> Result<()> {
        if token_object && !self.read_write {
            return Err(Error::SessionReadOnly);
        }
        Ok(())
    }
    /// Fails with `CKR_USER_NOT_LOGGED_IN` unless the normal user is logged in.
    pub fn require_user(&self) -> Result<()> {
        if !self.user {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(())
    }
    /// Whether private objects are visible.
    pub fn sees_private(&self) -> bool {
        self.user
    }
}

/// The object functions of PKCS#11 3.0 §5.7, offered by every owner of
/// objects (the device for keys, the certificate store for certificates).
/// The provider picks the owner of a handle or a template in one place
/// (`Objects::owner_of`, `Objects::owner_for` in `provider/objects.rs`) and calls it through this
/// trait; a search asks every owner that [`ObjectStore::could_hold`] a match.
pub trait ObjectStore: Send + Sync {
    /// `C_CreateObject` of a template this owner was chosen for.
    fn create_object(&self, access: &Access, template: &Template) -> Result<Handle>;
    /// Handles of the visible objects matching `template`, in this owner.
    fn find_objects(&self, access: &Access, template: &Template) -> Result<Vec<Handle>>;
    /// False when no object of this owner can match `template`, so a search
    /// need not ask it (and keeps working while it is unreachable).
    fn could_hold(&self, _template: &Template) -> bool {
        true
    }
    fn copy_object(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle>;
    fn destroy_object(&self, access: &Access, handle: Handle) -> Result<()>;
    fn object_size(&self, access: &Access, handle: Handle) -> Result<CK_ULONG>;
    fn get_attributes(&self, access: &Access, handle: Handle, kinds: &[AttributeType]) -> Answers;
    fn set_attributes(&self, access: &Access, handle: Handle, template: &Template) -> Result<()>;
}
