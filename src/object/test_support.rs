//! Helpers shared by the unit tests of every object store (the certificate
//! store's and the soft device's): attributes and the access of a caller.

use super::{Access, Attribute, AttributeResult, AttributeType};
use crate::error::Result;
use cryptoki_sys::CK_ULONG;

/// A `CK_ULONG` attribute.
pub fn ulong(kind: AttributeType, value: CK_ULONG) -> Attribute {
    Attribute::from_ulong(kind, value)
}

/// A `CK_BBOOL` attribute.
pub fn boolean(kind: AttributeType, value: bool) -> Attribute {
    Attribute::from_bool(kind, value)
}

/// A byte-array attribute.
pub fn bytes(kind: AttributeType, value: &[u8]) -> Attribute {
    Attribute::new(kind, value.to_vec())
}

/// Session 1, with the user and/or the SO logged in, read/write or not.
fn session_one(user: bool, so: bool, read_write: bool) -> Access {
    Access {
        user,
        so,
        read_write,
        session: 1,
    }
}

/// The user logged in, read/write session 1.
pub fn user() -> Access {
    session_one(true, false, true)
}

/// The user logged in, read-only session 1.
pub fn user_read_only() -> Access {
    session_one(true, false, false)
}

/// Nobody logged in, read/write session 1.
pub fn public() -> Access {
    session_one(false, false, true)
}

/// The SO logged in, read/write session 1.
pub fn so() -> Access {
    session_one(false, true, true)
}

/// The value of `kind` from the answer to a `C_GetAttributeValue` for that
/// one attribute, or a panic naming the attribute and what came instead.
pub fn only_value(kind: AttributeType, answer: Result<Vec<AttributeResult>>) -> Vec<u8> {
    match answer.expect("get_attributes").as_slice() {
        [AttributeResult::Value(value)] => value.clone(),
        other => panic!("attribute 0x{kind:x}: {other:?}"),
    }
}
