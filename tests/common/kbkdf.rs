//! `C_DeriveKey` with the SP 800-108 key derivations through the raw C
//! ABI: a description of the PRF input, laid out as the structures
//! `CK_SP800_108_KDF_PARAMS` and `CK_SP800_108_FEEDBACK_KDF_PARAMS` need.

use super::abi::*;
use super::derive::raw_derive_with;
use super::raw_objects::Template;
use cryptoki::session::Session;
use cryptoki_sys::*;

/// One `CK_PRF_DATA_PARAM`, described.
#[derive(Clone)]
pub enum PrfInput {
    /// The iteration variable: a counter (endianness, width) or, with
    /// `None`, feedback mode's previous output.
    Iteration(Option<(bool, CK_ULONG)>),
    Counter(bool, CK_ULONG),
    /// Sum of segments?, endianness, width.
    Dkm(bool, bool, CK_ULONG),
    Bytes(Vec<u8>),
    /// A data parameter of another type, with no value.
    Other(CK_PRF_DATA_TYPE),
}

/// One SP 800-108 derivation.
pub struct Kbkdf {
    pub kind: CK_MECHANISM_TYPE,
    pub prf: CK_MECHANISM_TYPE,
    pub items: Vec<PrfInput>,
    pub iv: Vec<u8>,
}

impl Kbkdf {
    pub fn counter(prf: CK_MECHANISM_TYPE, items: Vec<PrfInput>) -> Self {
        Kbkdf {
            kind: CKM_SP800_108_COUNTER_KDF,
            prf,
            items,
            iv: Vec::new(),
        }
    }
    pub fn feedback(prf: CK_MECHANISM_TYPE, items: Vec<PrfInput>, iv: &[u8]) -> Self {
        Kbkdf {
            kind: CKM_SP800_108_FEEDBACK_KDF,
            prf,
            items,
            iv: iv.to_vec(),
        }
    }

    /// `C_DeriveKey` from `base` into `template`'s key and `additional`'s:
    /// the key's handle or the error, and the handles written back for the
    /// additional keys (`CK_INVALID_HANDLE` where none was made).
    pub fn derive(
        &self,
        session: &Session,
        base: CK_OBJECT_HANDLE,
        template: Template,
        additional: Vec<Template>,
    ) -> (Result<CK_OBJECT_HANDLE, CK_RV>, Vec<CK_OBJECT_HANDLE>) {
        let counters: Vec<CK_SP800_108_COUNTER_FORMAT> = self
            .items
            .iter()
            .map(|item| match item {
                PrfInput::Iteration(Some((le, width))) | PrfInput::Counter(le, width) => {
                    CK_SP800_108_COUNTER_FORMAT {
                        bLittleEndian: *le as CK_BBOOL,
                        ulWidthInBits: *width,
                    }
                }
                _ => CK_SP800_108_COUNTER_FORMAT {
                    bLittleEndian: 0,
                    ulWidthInBits: 0,
                },
            })
            .collect();
        let dkms: Vec<CK_SP800_108_DKM_LENGTH_FORMAT> = self
            .items
            .iter()
            .map(|item| {
                let (segments, le, width) = match item {
                    PrfInput::Dkm(segments, le, width) => (*segments, *le, *width),
                    _ => (false, false, 0),
                };
                CK_SP800_108_DKM_LENGTH_FORMAT {
                    dkmLengthMethod: if segments {
                        CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS
                    } else {
                        CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS
                    },
                    bLittleEndian: le as CK_BBOOL,
                    ulWidthInBits: width,
                }
            })
            .collect();
        let mut bytes: Vec<Vec<u8>> = self
            .items
            .iter()
            .map(|item| match item {
                PrfInput::Bytes(bytes) => bytes.clone(),
                _ => Vec::new(),
            })
            .collect();
        let mut params: Vec<CK_PRF_DATA_PARAM> = self
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let (type_, pointer, len) = match item {
                    PrfInput::Iteration(None) => {
                        (CK_SP800_108_ITERATION_VARIABLE, std::ptr::null_mut(), 0)
                    }
                    PrfInput::Iteration(Some(_)) | PrfInput::Counter(..) => (
                        if matches!(item, PrfInput::Counter(..)) {
                            CK_SP800_108_COUNTER
                        } else {
                            CK_SP800_108_ITERATION_VARIABLE
                        },
                        &counters[i] as *const _ as *mut std::ffi::c_void,
                        std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>(),
                    ),
                    PrfInput::Dkm(..) => (
                        CK_SP800_108_DKM_LENGTH,
                        &dkms[i] as *const _ as *mut std::ffi::c_void,
                        std::mem::size_of::<CK_SP800_108_DKM_LENGTH_FORMAT>(),
                    ),
                    PrfInput::Bytes(_) => (
                        CK_SP800_108_BYTE_ARRAY,
                        bytes[i].as_mut_ptr() as *mut std::ffi::c_void,
                        bytes[i].len(),
                    ),
                    PrfInput::Other(kind) => (*kind, std::ptr::null_mut(), 0),
                };
                CK_PRF_DATA_PARAM {
                    type_,
                    pValue: pointer,
                    ulValueLen: len as CK_ULONG,
                }
            })
            .collect();
        let mut additional = additional;
        let mut raws: Vec<Vec<CK_ATTRIBUTE>> = additional.iter_mut().map(Template::raw).collect();
        let mut handles = vec![0x5A5A_5A5A as CK_OBJECT_HANDLE; raws.len()];
        let mut keys: Vec<CK_DERIVED_KEY> = raws
            .iter_mut()
            .zip(handles.iter_mut())
            .map(|(raw, handle)| CK_DERIVED_KEY {
                pTemplate: raw.as_mut_ptr(),
                ulAttributeCount: raw.len() as CK_ULONG,
                phKey: handle,
            })
            .collect();
        let keys_pointer = if keys.is_empty() {
            std::ptr::null_mut()
        } else {
            keys.as_mut_ptr()
        };
        let mut iv = self.iv.clone();
        let mut counter_params = CK_SP800_108_KDF_PARAMS {
            prfType: self.prf,
            ulNumberOfDataParams: params.len() as CK_ULONG,
            pDataParams: params.as_mut_ptr(),
            ulAdditionalDerivedKeys: keys.len() as CK_ULONG,
            pAdditionalDerivedKeys: keys_pointer,
        };
        let mut feedback_params = CK_SP800_108_FEEDBACK_KDF_PARAMS {
            prfType: self.prf,
            ulNumberOfDataParams: params.len() as CK_ULONG,
            pDataParams: params.as_mut_ptr(),
            ulIVLen: iv.len() as CK_ULONG,
            pIV: if iv.is_empty() {
                std::ptr::null_mut()
            } else {
                iv.as_mut_ptr()
            },
            ulAdditionalDerivedKeys: keys.len() as CK_ULONG,
            pAdditionalDerivedKeys: keys_pointer,
        };
        let mut mechanism = if self.kind == CKM_SP800_108_FEEDBACK_KDF {
            raw_mechanism_with(self.kind, &mut feedback_params)
        } else {
            raw_mechanism_with(self.kind, &mut counter_params)
        };
        let result = raw_derive_with(session, &mut mechanism, base, template);
        drop(keys);
        (result, handles)
    }
}
