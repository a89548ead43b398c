//! Helpers shared by the unit tests of every object store (the certificate
//! store's and the soft device's): attributes and the access of a caller.

use super::{Access, Attribute, AttributeResult, AttributeType, Handle, ObjectStore};
use crate::error::Result;
use cryptoki_sys::{CK_RV, CK_ULONG};

/// A `CK_ULONG` attribute.
pub(crate) fn ulong(kind: AttributeType, value: CK_ULONG) -> Attribute {
    Attribute::from_ulong(kind, value)
}

/// A `CK_BBOOL` attribute.
pub(crate) fn boolean(kind: AttributeType, value: bool) -> Attribute {
    Attribute::from_bool(kind, value)
}

/// A byte-array attribute.
pub(crate) fn bytes(kind: AttributeType, value: &[u8]) -> Attribute {
    Attribute::new(kind, value.to_vec())
}

/// Templates a store must refuse, grouped by the error code they get and
/// the access they are given with; each template is named for the panic
/// message.
pub(crate) type Refusals<'a> = Vec<(CK_RV, Access, Vec<(&'a str, Vec<Attribute>)>)>;

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
pub(crate) fn user() -> Access {
    session_one(true, false, true)
}

/// The user logged in, read-only session 1.
pub(crate) fn user_read_only() -> Access {
    session_one(true, false, false)
}

/// Nobody logged in, read/write session 1.
pub(crate) fn public() -> Access {
    session_one(false, false, true)
}

/// The SO logged in, read/write session 1.
pub(crate) fn so() -> Access {
    session_one(false, true, true)
}

/// What `C_GetAttributeValue` answers, attribute by attribute.
type Answer = Result<Vec<AttributeResult>>;

/// A store whose attributes a test reads: a device, or the certificate store.
pub(crate) trait AttributeReader {
    /// `C_GetAttributeValue` of `kinds`.
    fn read(&self, access: &Access, handle: Handle, kinds: &[AttributeType]) -> Answer;
}

/// Each store reads through its own `get_attributes`.
macro_rules! read_through_get_attributes {
    ($($store:ty),*) => {
        $(impl AttributeReader for $store {
            fn read(&self, access: &Access, handle: Handle, kinds: &[AttributeType]) -> Answer {
                self.get_attributes(access, handle, kinds)
            }
        })*
    };
}

read_through_get_attributes!(
    crate::certstore::Certificates,
    crate::device::soft::SoftDevice
);

/// One attribute's value, or a panic naming the attribute and what came
/// instead.
pub(crate) fn value_of(
    store: &impl AttributeReader,
    access: &Access,
    handle: Handle,
    kind: AttributeType,
) -> Vec<u8> {
    match store
        .read(access, handle, &[kind])
        .expect("get_attributes")
        .as_slice()
    {
        [AttributeResult::Value(value)] => value.clone(),
        other => panic!("attribute 0x{kind:x}: {other:?}"),
    }
}
