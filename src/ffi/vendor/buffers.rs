//! The buffers handed to the vendor: each one owns (or borrows, for the
//! length of the call) the memory its pointers point into.

use crate::device::{Mechanism, MechanismParameter};
use crate::error::{Error, Result};
use crate::object::{AttributeType, Template};
use cryptoki_sys::*;
use std::marker::PhantomData;

/// A template laid out as `CK_ATTRIBUTE`s pointing into the caller's
/// values, which it borrows. Values go exactly as the caller gave them (a
/// nested template such as `CKA_WRAP_TEMPLATE` included: its pointers are
/// the caller's, valid during the call that brought them).
pub(super) struct VendorTemplate<'a> {
    attributes: Vec<CK_ATTRIBUTE>,
    _values: PhantomData<&'a Template>,
}

impl<'a> VendorTemplate<'a> {
    pub(super) fn new(template: &'a Template) -> VendorTemplate<'a> {
        let attributes = template
            .iter()
            .map(|attribute| CK_ATTRIBUTE {
                type_: attribute.kind,
                pValue: if attribute.value.is_empty() {
                    std::ptr::null_mut()
                } else {
                    // The vendor only reads a template it is given.
                    attribute.value.as_ptr() as *mut std::ffi::c_void
                },
                ulValueLen: attribute.value.len() as CK_ULONG,
            })
            .collect();
        VendorTemplate {
            attributes,
            _values: PhantomData,
        }
    }

    /// Never NULL, even for an empty template: PKCS#11 allows any pointer
    /// with a count of 0, and some vendors (SoftHSM2) refuse NULL there.
    pub(super) fn pointer(&mut self) -> *mut CK_ATTRIBUTE {
        self.attributes.as_mut_ptr()
    }

    pub(super) fn count(&self) -> CK_ULONG {
        self.attributes.len() as CK_ULONG
    }
}

/// One attribute asked of the vendor by `C_GetAttributeValue`: its type, a
/// buffer for its value (empty: only its length is asked, with a NULL
/// `pValue`), and the length the vendor reported for it.
pub(crate) struct AttributeSlot {
    pub kind: AttributeType,
    pub value: Vec<u8>,
    pub length: CK_ULONG,
}

impl AttributeSlot {
    /// A request for the length of `kind` only.
    pub(crate) fn length_of(kind: AttributeType) -> AttributeSlot {
        AttributeSlot::value_of(kind, 0)
    }

    /// A request for the value of `kind`, at most `room` bytes long.
    pub(crate) fn value_of(kind: AttributeType, room: usize) -> AttributeSlot {
        AttributeSlot {
            kind,
            value: vec![0; room],
            length: 0,
        }
    }

    /// The `CK_ATTRIBUTE` of this request, pointing into its buffer.
    pub(super) fn raw(&mut self) -> CK_ATTRIBUTE {
        CK_ATTRIBUTE {
            type_: self.kind,
            pValue: if self.value.is_empty() {
                std::ptr::null_mut()
            } else {
                self.value.as_mut_ptr() as *mut std::ffi::c_void
            },
            ulValueLen: self.value.len() as CK_ULONG,
        }
    }
}

/// A mechanism as the vendor takes it: the caller's parameter bytes
/// copied into a buffer aligned for any C structure. Keep it for the life
/// of an operation started with it, in case the vendor holds on to it.
pub(crate) struct VendorMechanism {
    kind: CK_MECHANISM_TYPE,
    parameter: Option<Vec<u64>>,
    length: usize,
}

impl VendorMechanism {
    /// `mechanism` with the caller's parameter (or the provider's own raw
    /// one); `CKR_MECHANISM_PARAM_INVALID` for a structured parameter the
    /// provider built without the caller's bytes.
    pub(crate) fn new(mechanism: &Mechanism) -> Result<VendorMechanism> {
        let bytes: Option<&[u8]> = match (&mechanism.caller_parameter, &mechanism.parameter) {
            (Some(bytes), _) => Some(bytes),
            (None, MechanismParameter::None) => None,
            (None, MechanismParameter::Raw(bytes)) => Some(bytes),
            (None, _) => {
                return Err(Error::MechanismParamInvalid(
                    "a structured parameter without the caller's bytes cannot be forwarded",
                ))
            }
        };
        let parameter = bytes.map(|bytes| {
            bytes
                .chunks(8)
                .map(|chunk| {
                    let mut word = [0u8; 8];
                    word[..chunk.len()].copy_from_slice(chunk);
                    u64::from_ne_bytes(word)
                })
                .collect()
        });
        Ok(VendorMechanism {
            kind: mechanism.kind,
            length: bytes.map_or(0, <[u8]>::len),
            parameter,
        })
    }

    /// The `CK_MECHANISM` to pass; valid while `self` is.
    pub(super) fn raw(&mut self) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: self.kind,
            pParameter: match &mut self.parameter {
                Some(words) if self.length > 0 => words.as_mut_ptr() as *mut std::ffi::c_void,
                Some(_) => std::ptr::NonNull::<u64>::dangling().as_ptr() as *mut std::ffi::c_void,
                None => std::ptr::null_mut(),
            },
            ulParameterLen: self.length as CK_ULONG,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mechanism_parameter_reaches_the_vendor_byte_for_byte() {
        let bytes: Vec<u8> = (1..=11).collect();
        let mut mechanism = VendorMechanism::new(&Mechanism {
            kind: CKM_AES_CBC,
            parameter: MechanismParameter::None,
            caller_parameter: Some(bytes.clone()),
        })
        .unwrap();
        let raw = mechanism.raw();
        assert_eq!(raw.ulParameterLen, 11);
        assert_eq!(raw.pParameter as usize % std::mem::align_of::<u64>(), 0);
        // SAFETY: `raw` points into `mechanism`'s buffer of at least 11 bytes, alive here.
        let given = unsafe { std::slice::from_raw_parts(raw.pParameter as *const u8, 11) };
        assert_eq!(given, bytes.as_slice());
    }
}
