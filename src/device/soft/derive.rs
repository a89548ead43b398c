//! `C_DeriveKey` with the simple derivations (PKCS#11 3.0 §2.43: the
//! concatenations, XOR, extraction; §2.11.4: AES encryption of data): the
//! object-level rules. The value is computed by [`crypto::derive_value`].
//!
//! The new key holds bits of the base key (and of the second key of
//! `CKM_CONCATENATE_BASE_AND_KEY`), so it keeps their protection: made
//! from a sensitive key it is sensitive, from an unextractable one it is
//! unextractable (§2.43), and a template that asks otherwise is
//! `CKR_TEMPLATE_INCONSISTENT` rather than silently overruled. A PIN
//! holder cannot read a sensitive key through a derived copy.

use super::crypto::{self, LoadedKey};
use super::object_functions::{secret_object, MAX_GENERIC_SECRET_LEN};
use super::objects::{self, Origin};
use super::store::{Entry, Inner};
use crate::device::{DeriveRequest, MechanismParameter};
use crate::error::{Error, Result};
use crate::object::{find_bool, find_ulong, Access, Attributes, Handle};
use cryptoki_sys::*;
use std::sync::Arc;

/// The key types a simple derivation makes.
fn derivable(key_type: CK_KEY_TYPE) -> bool {
    matches!(
        key_type,
        CKK_AES
            | CKK_GENERIC_SECRET
            | CKK_DES2
            | CKK_DES3
            | CKK_SHA_1_HMAC
            | CKK_SHA224_HMAC
            | CKK_SHA256_HMAC
            | CKK_SHA384_HMAC
            | CKK_SHA512_HMAC
            | CKK_SHA3_224_HMAC
            | CKK_SHA3_256_HMAC
            | CKK_SHA3_384_HMAC
            | CKK_SHA3_512_HMAC
    )
}

/// The length the new key must have, where the template or its type says:
/// `CKA_VALUE_LEN`, or the fixed length of a Triple DES key.
fn wanted_len(key_type: CK_KEY_TYPE, attributes: &Attributes) -> Result<Option<usize>> {
    let len = match (key_type, attributes.ulong(CKA_VALUE_LEN)) {
        (CKK_DES2, _) => return Ok(Some(16)),
        (CKK_DES3, _) => return Ok(Some(24)),
        (_, None) => return Ok(None),
        (_, Some(len)) => len,
    };
    let valid = match key_type {
        CKK_AES => matches!(len, 16 | 24 | 32),
        _ => (1..=MAX_GENERIC_SECRET_LEN as CK_ULONG).contains(&len),
    };
    if !valid {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    Ok(Some(len as usize))
}

/// The protection the new key inherits from `keys`: (sensitive,
/// unextractable, always sensitive, never extractable).
fn inherited(keys: &[&Entry]) -> (bool, bool, bool, bool) {
    let all = |kind, default| keys.iter().all(|k| k.attributes.bool_or(kind, default));
    let any = |kind, default| keys.iter().any(|k| k.attributes.bool_or(kind, default));
    (
        any(CKA_SENSITIVE, true),
        !all(CKA_EXTRACTABLE, false),
        all(CKA_ALWAYS_SENSITIVE, false),
        all(CKA_NEVER_EXTRACTABLE, false),
    )
}

impl Inner {
    /// `C_DeriveKey` with a simple derivation into a secret key of the
    /// template's `CKA_KEY_TYPE` (default `CKK_GENERIC_SECRET`).
    pub(super) fn simple_derive(
        &self,
        access: &Access,
        request: DeriveRequest<'_>,
    ) -> Result<Handle> {
        let DeriveRequest {
            mechanism,
            base_key,
            template,
        } = request;
        let refusal = "CKA_DERIVE is false";
        let (base, base_value) =
            self.operation_key(access, base_key, mechanism, CKA_DERIVE, refusal)?;
        let other: Option<(Arc<Entry>, Arc<LoadedKey>)> = match mechanism.parameter {
            MechanismParameter::KeyHandle(handle)
                if mechanism.kind == CKM_CONCATENATE_BASE_AND_KEY =>
            {
                Some(self.operation_key(access, handle, mechanism, CKA_DERIVE, refusal)?)
            }
            _ => None,
        };
        let class = find_ulong(template, CKA_CLASS)?.unwrap_or(CKO_SECRET_KEY);
        let key_type = find_ulong(template, CKA_KEY_TYPE)?.unwrap_or(CKK_GENERIC_SECRET);
        if class != CKO_SECRET_KEY || !derivable(key_type) {
            return Err(Error::TemplateInconsistent(
                "a simple derivation makes AES, Triple DES, HMAC or generic secret keys",
            ));
        }
        let mut sources: Vec<&Entry> = vec![&base];
        if let Some((entry, _)) = &other {
            sources.push(entry);
        }
        let (sensitive, unextractable, always_sensitive, never_extractable) = inherited(&sources);
        if sensitive && find_bool(template, CKA_SENSITIVE)? == Some(false) {
            return Err(Error::TemplateInconsistent(
                "a key derived from a sensitive key is sensitive",
            ));
        }
        if unextractable && find_bool(template, CKA_EXTRACTABLE)? == Some(true) {
            return Err(Error::TemplateInconsistent(
                "a key derived from an unextractable key is unextractable",
            ));
        }
        let origin = Origin::Derive {
            mechanism: mechanism.kind,
            always_sensitive,
            never_extractable,
        };
        let mut attributes = objects::build(class, Some(key_type), template, origin, access)?;
        if sensitive {
            attributes.set_bool(CKA_SENSITIVE, true);
        }
        if unextractable {
            attributes.set_bool(CKA_EXTRACTABLE, false);
        }
        let len = wanted_len(key_type, &attributes)?;
        access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
        let other_value = other.as_ref().map(|(_, key)| &**key);
        let value = crypto::derive_value(mechanism, &base_value, other_value, len)?;
        if key_type == CKK_AES && !matches!(value.len(), 16 | 24 | 32) {
            return Err(Error::TemplateIncomplete(CKA_VALUE_LEN));
        }
        if value.is_empty() || value.len() > MAX_GENERIC_SECRET_LEN {
            return Err(Error::TemplateInconsistent(
                "the derivation gives no value, or more than 3072 bytes: set CKA_VALUE_LEN",
            ));
        }
        self.insert_one(access, secret_object(attributes, value.to_vec())?)
    }
}
