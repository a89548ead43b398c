//! `C_DeriveKey` with the simple derivations through the raw C ABI
//! (`cryptoki` has no name for them): their parameters, owned while a
//! `CK_MECHANISM` points at them, and the call.

use super::abi::*;
use super::raw_objects::Template;
use crate::{assert_ck, ck};
use cryptoki::session::Session;
use cryptoki_sys::*;

/// The parameter of one simple derivation.
pub enum DeriveParameter {
    /// `CK_KEY_DERIVATION_STRING_DATA` over the owned bytes.
    Data(Vec<u8>, CK_KEY_DERIVATION_STRING_DATA),
    /// `CK_AES_CBC_ENCRYPT_DATA_PARAMS` over the owned bytes.
    Cbc(Vec<u8>, CK_AES_CBC_ENCRYPT_DATA_PARAMS),
    /// A `CK_OBJECT_HANDLE` (`CKM_CONCATENATE_BASE_AND_KEY`) or a
    /// `CK_EXTRACT_PARAMS` bit index.
    Ulong(CK_ULONG),
}

impl DeriveParameter {
    pub fn data(data: &[u8]) -> Box<DeriveParameter> {
        let mut owned = Box::new(DeriveParameter::Data(
            data.to_vec(),
            CK_KEY_DERIVATION_STRING_DATA {
                pData: std::ptr::null_mut(),
                ulLen: data.len() as CK_ULONG,
            },
        ));
        if let DeriveParameter::Data(bytes, p) = &mut *owned {
            p.pData = bytes.as_mut_ptr();
        }
        owned
    }
    pub fn cbc(iv: [u8; 16], data: &[u8]) -> Box<DeriveParameter> {
        let mut owned = Box::new(DeriveParameter::Cbc(
            data.to_vec(),
            CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                iv,
                pData: std::ptr::null_mut(),
                length: data.len() as CK_ULONG,
            },
        ));
        if let DeriveParameter::Cbc(bytes, p) = &mut *owned {
            p.pData = bytes.as_mut_ptr();
        }
        owned
    }
    pub fn ulong(value: CK_ULONG) -> Box<DeriveParameter> {
        Box::new(DeriveParameter::Ulong(value))
    }
    /// A `CK_MECHANISM` of `kind` pointing at this parameter.
    pub fn mechanism(&mut self, kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        match self {
            DeriveParameter::Data(_, p) => raw_mechanism_with(kind, p),
            DeriveParameter::Cbc(_, p) => raw_mechanism_with(kind, p),
            DeriveParameter::Ulong(p) => raw_mechanism_with(kind, p),
        }
    }
}

/// `C_DeriveKey` of `kind` from `base` into a session key made by
/// `template`: the new handle, or the error.
pub fn raw_derive(
    session: &Session,
    kind: CK_MECHANISM_TYPE,
    parameter: &mut DeriveParameter,
    base: CK_OBJECT_HANDLE,
    template: Template,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    raw_derive_with(session, &mut parameter.mechanism(kind), base, template)
}

/// `C_DeriveKey` with `mechanism` (whose parameter the caller keeps alive)
/// from `base` into a session key made by `template`.
pub fn raw_derive_with(
    session: &Session,
    mechanism: &mut CK_MECHANISM,
    base: CK_OBJECT_HANDLE,
    template: Template,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut template = template.bool(CKA_TOKEN, false);
    let mut raw = template.raw();
    let mut handle = CK_INVALID_HANDLE;
    match ck!(C_DeriveKey(
        session.handle(),
        mechanism,
        base,
        raw.as_mut_ptr(),
        raw.len() as CK_ULONG,
        &mut handle
    )) {
        CKR_OK => Ok(handle),
        rv => Err(rv),
    }
}

/// Whether `kind` is one of the concatenations or XOR, which take no
/// sensitive or unextractable key.
pub fn refuses_protected(kind: CK_MECHANISM_TYPE) -> bool {
    matches!(
        kind,
        CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
    )
}

/// Every simple derivation with a parameter whose first 16 bytes of result
/// hold all 16 bytes of an AES base key (so no data goes before the base)
/// or depend on all of them (`second`: the other key of
/// `CKM_CONCATENATE_BASE_AND_KEY`).
pub fn simple_derivations(
    second: CK_OBJECT_HANDLE,
) -> Vec<(CK_MECHANISM_TYPE, Box<DeriveParameter>)> {
    vec![
        (CKM_CONCATENATE_BASE_AND_KEY, DeriveParameter::ulong(second)),
        (
            CKM_CONCATENATE_BASE_AND_DATA,
            DeriveParameter::data(b"data"),
        ),
        (CKM_CONCATENATE_DATA_AND_BASE, DeriveParameter::data(b"")),
        (CKM_XOR_BASE_AND_DATA, DeriveParameter::data(&[0x33; 16])),
        (CKM_EXTRACT_KEY_FROM_KEY, DeriveParameter::ulong(3)),
        (CKM_AES_ECB_ENCRYPT_DATA, DeriveParameter::data(&[0x33; 16])),
        (
            CKM_AES_CBC_ENCRYPT_DATA,
            DeriveParameter::cbc([1; 16], &[0x33; 16]),
        ),
    ]
}
