//! Attribute values from the vendor.
//!
//! Templates go to the vendor exactly as the caller gave them
//! (`ffi/vendor/`). Reading attributes follows the two-call convention of
//! PKCS#11 3.0 §5.7 `C_GetAttributeValue`, and never asks the vendor for a
//! sensitive part of a key.

use super::module::{vendor_rv, Vendor};
use crate::error::{Error, Result};
use crate::ffi::vendor::AttributeSlot;
use crate::object::tables::is_key_secret;
use crate::object::{decode_bool, decode_ulong, AttributeResult, AttributeType, Handle};
use cryptoki_sys::*;

/// The largest attribute value accepted from a vendor (as from a caller).
const MAX_VALUE_LEN: CK_ULONG = 64 << 20;

/// `C_GetAttributeValue` of `kinds` of the vendor object `object`.
///
/// The secret parts of a private or secret key are reported sensitive
/// without asking the vendor unless the key says it is neither sensitive
/// nor unextractable (then its value is not secret, and the vendor is
/// asked like for any attribute).
pub(super) fn get_attributes(
    vendor: &Vendor,
    session: CK_SESSION_HANDLE,
    object: Handle,
    kinds: &[AttributeType],
) -> Result<Vec<AttributeResult>> {
    let protect =
        kinds.iter().any(|k| is_key_secret(*k)) && secrets_protected(vendor, session, object)?;
    let withheld = |kind: &AttributeType| protect && is_key_secret(*kind);
    let asked: Vec<AttributeType> = kinds.iter().copied().filter(|k| !withheld(k)).collect();
    let mut answers = read_values(vendor, session, object, &asked)?.into_iter();
    Ok(kinds
        .iter()
        .map(|kind| {
            if withheld(kind) {
                AttributeResult::Sensitive
            } else {
                answers.next().unwrap_or(AttributeResult::Invalid)
            }
        })
        .collect())
}

/// Whether the secret parts of `object` must not be asked for: true for
/// a private, secret or unknown-class key that is sensitive or
/// unextractable, or whose flags cannot be read.
fn secrets_protected(vendor: &Vendor, session: CK_SESSION_HANDLE, object: Handle) -> Result<bool> {
    let answers = read_values(
        vendor,
        session,
        object,
        &[CKA_CLASS, CKA_SENSITIVE, CKA_EXTRACTABLE],
    )?;
    let value = |index: usize| match &answers[index] {
        AttributeResult::Value(value) => Some(value.clone()),
        _ => None,
    };
    let class = value(0).as_deref().and_then(decode_ulong);
    if matches!(
        class,
        Some(CKO_PUBLIC_KEY | CKO_CERTIFICATE | CKO_DATA | CKO_DOMAIN_PARAMETERS)
    ) {
        return Ok(false);
    }
    let sensitive = value(1).as_deref().and_then(decode_bool);
    let extractable = value(2).as_deref().and_then(decode_bool);
    Ok(sensitive != Some(false) || extractable != Some(true))
}

/// The two-call protocol against the vendor: lengths, then values.
/// Attributes the vendor reports unavailable are told apart (sensitive or
/// not an attribute of the object) by asking for each one alone.
fn read_values(
    vendor: &Vendor,
    session: CK_SESSION_HANDLE,
    object: Handle,
    kinds: &[AttributeType],
) -> Result<Vec<AttributeResult>> {
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    for _ in 0..3 {
        let lengths = query_lengths(vendor, session, object, kinds)?;
        let mut results: Vec<Option<AttributeResult>> = vec![None; kinds.len()];
        let unavailable: Vec<usize> = (0..kinds.len()).filter(|i| lengths[*i].is_none()).collect();
        for index in &unavailable {
            results[*index] = Some(if unavailable.len() == 1 {
                lengths
                    .unavailable_as
                    .clone()
                    .unwrap_or(AttributeResult::Invalid)
            } else {
                alone(vendor, session, object, kinds[*index])?
            });
        }
        let wanted: Vec<AttributeSlot> = (0..kinds.len())
            .filter_map(|i| Some(AttributeSlot::value_of(kinds[i], lengths[i]? as usize)))
            .collect();
        // `None`: the object changed between the calls, so start again.
        let Some(mut values) = read_wanted(vendor, session, object, wanted)? else {
            continue;
        };
        for result in results.iter_mut().filter(|result| result.is_none()) {
            *result = values.next().map(AttributeResult::Value);
        }
        return Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(AttributeResult::Invalid))
            .collect());
    }
    Err(Error::VendorModule(format!(
        "vendor object {object} kept changing while its attributes were read"
    )))
}

/// The values of `wanted`, each buffer as long as the length the vendor
/// reported for it; `None` when the object changed since.
fn read_wanted(
    vendor: &Vendor,
    session: CK_SESSION_HANDLE,
    object: Handle,
    mut wanted: Vec<AttributeSlot>,
) -> Result<Option<std::vec::IntoIter<Vec<u8>>>> {
    if wanted.is_empty() {
        return Ok(Some(Vec::new().into_iter()));
    }
    let outcome = vendor
        .functions()
        .get_attribute_value(session, object, &mut wanted);
    if let Err(error) = outcome {
        return match vendor_rv(&error) {
            Some(CKR_BUFFER_TOO_SMALL | CKR_ATTRIBUTE_SENSITIVE | CKR_ATTRIBUTE_TYPE_INVALID) => {
                Ok(None)
            }
            _ => Err(error),
        };
    }
    let mut values = Vec::with_capacity(wanted.len());
    for slot in wanted {
        let length = slot.length as usize;
        if length > slot.value.len() {
            return Err(Error::VendorModule(format!(
                "vendor C_GetAttributeValue wrote {length} bytes into {}",
                slot.value.len()
            )));
        }
        let mut value = slot.value;
        value.truncate(length);
        values.push(value);
    }
    Ok(Some(values.into_iter()))
}

/// The lengths the vendor reports (`None` where unavailable), and what an
/// unavailable one is when the vendor's return code says it.
struct Lengths {
    lengths: Vec<Option<CK_ULONG>>,
    unavailable_as: Option<AttributeResult>,
}

impl std::ops::Index<usize> for Lengths {
    type Output = Option<CK_ULONG>;
    fn index(&self, index: usize) -> &Option<CK_ULONG> {
        &self.lengths[index]
    }
}

fn query_lengths(
    vendor: &Vendor,
    session: CK_SESSION_HANDLE,
    object: Handle,
    kinds: &[AttributeType],
) -> Result<Lengths> {
    let mut slots: Vec<AttributeSlot> = kinds
        .iter()
        .copied()
        .map(AttributeSlot::length_of)
        .collect();
    // NULL values: the vendor only writes the lengths.
    let outcome = vendor
        .functions()
        .get_attribute_value(session, object, &mut slots);
    let unavailable_as = match outcome {
        Ok(()) => None,
        Err(error) => match vendor_rv(&error) {
            Some(CKR_ATTRIBUTE_SENSITIVE) => Some(AttributeResult::Sensitive),
            Some(CKR_ATTRIBUTE_TYPE_INVALID) => Some(AttributeResult::Invalid),
            _ => return Err(error),
        },
    };
    let lengths = slots
        .iter()
        .map(|slot| {
            (slot.length != CK_UNAVAILABLE_INFORMATION && slot.length <= MAX_VALUE_LEN)
                .then_some(slot.length)
        })
        .collect();
    Ok(Lengths {
        lengths,
        unavailable_as,
    })
}

/// Why one attribute is unavailable: the vendor's answer for it alone.
fn alone(
    vendor: &Vendor,
    session: CK_SESSION_HANDLE,
    object: Handle,
    kind: AttributeType,
) -> Result<AttributeResult> {
    // A vendor that reports it unavailable yet returns CKR_OK says no
    // more than "not available": invalid, the weaker claim.
    let lengths = query_lengths(vendor, session, object, &[kind])?;
    Ok(lengths.unavailable_as.unwrap_or(AttributeResult::Invalid))
}

/// The class of a vendor object (`None` when the vendor does not say).
pub(super) fn class_of(
    vendor: &Vendor,
    session: CK_SESSION_HANDLE,
    object: Handle,
) -> Result<Option<CK_OBJECT_CLASS>> {
    let answers = read_values(vendor, session, object, &[CKA_CLASS])?;
    Ok(match answers.first() {
        Some(AttributeResult::Value(value)) => decode_ulong(value),
        _ => None,
    })
}
