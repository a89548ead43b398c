//! `C_DeriveKey` with the simple derivations (PKCS#11 3.0 §2.43: the
//! concatenations, XOR, extraction; §2.11.4: AES encryption of data): the
//! object-level rules. The value is computed by [`crypto::derive_value`].
//!
//! The new key holds bits of the base key (and of the second key of
//! `CKM_CONCATENATE_BASE_AND_KEY`), so it keeps their protection (§2.43):
//! made from a sensitive key it is sensitive, from an unextractable one
//! unextractable, from a private one private, from one with
//! `CKA_WRAP_WITH_TRUSTED` that too; a template that asks otherwise is
//! `CKR_TEMPLATE_INCONSISTENT` rather than silently overruled. And it holds
//! at least 16 bytes of each protected key, or all of it, so that no short
//! piece can be searched for and the key rebuilt piece by piece; and no
//! protected key is concatenated (with data, or with a key whose value the
//! caller chose), so that no protected key holds known bytes beside
//! unknown ones; none is XORed with data (that makes related keys with a
//! known difference), and none becomes a two-key Triple DES key.

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
pub(super) fn derivable(key_type: CK_KEY_TYPE) -> bool {
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
pub(super) fn wanted_len(key_type: CK_KEY_TYPE, attributes: &Attributes) -> Result<Option<usize>> {
    let len = match (key_type, attributes.ulong(CKA_VALUE_LEN)) {
        (CKK_DES2, _) => return Ok(Some(16)),
        (CKK_DES3, _) => return Ok(Some(24)),
        (_, None) => return Ok(None),
        (_, Some(len)) => len,
    };
    let valid = match key_type {
        CKK_AES => matches!(len, 16 | 24 | 32),
        CKK_GENERIC_SECRET => (1..=MAX_GENERIC_SECRET_LEN as CK_ULONG).contains(&len),
        // An HMAC key no HMAC takes is refused when made, as by C_GenerateKey.
        _ => (crypto::HMAC_MIN_KEY_LEN as CK_ULONG..=MAX_GENERIC_SECRET_LEN as CK_ULONG)
            .contains(&len),
    };
    if !valid {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    Ok(Some(len as usize))
}

/// A key derived from a protected key (sensitive or unextractable) holds at
/// least this many bytes of it, or all of it: a shorter piece could be
/// found by trying every value against a MAC or a ciphertext, and a key
/// recovered piece by piece.
const MIN_PROTECTED_BYTES: usize = 16;

/// Whether a key's value is out of its holder's reach.
fn protected(key: &Entry) -> bool {
    key.attributes.bool_or(CKA_SENSITIVE, true) || !key.attributes.bool_or(CKA_EXTRACTABLE, false)
}

/// The attributes the new key takes from `sources`, each with the value it
/// must have and the rule a template asking otherwise breaks.
fn inherited(sources: &[&Entry]) -> Vec<(CK_ATTRIBUTE_TYPE, bool, &'static str)> {
    let any = |kind, default| sources.iter().any(|k| k.attributes.bool_or(kind, default));
    let all = |kind, default| sources.iter().all(|k| k.attributes.bool_or(kind, default));
    [
        (
            any(CKA_SENSITIVE, true),
            (
                CKA_SENSITIVE,
                true,
                "a key derived from a sensitive key is sensitive",
            ),
        ),
        (
            !all(CKA_EXTRACTABLE, false),
            (
                CKA_EXTRACTABLE,
                false,
                "a key derived from an unextractable key is unextractable",
            ),
        ),
        (
            any(CKA_PRIVATE, true),
            (
                CKA_PRIVATE,
                true,
                "a key derived from a private key is private",
            ),
        ),
        (
            any(CKA_WRAP_WITH_TRUSTED, false),
            (
                CKA_WRAP_WITH_TRUSTED,
                true,
                "a key derived from a key wrapped only with trusted keys is too",
            ),
        ),
    ]
    .into_iter()
    .filter_map(|(applies, rule)| applies.then_some(rule))
    .collect()
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
        // A concatenation puts the caller's bytes (its data, or a key whose
        // value it chose and then marked sensitive) beside the protected
        // key's, inside a key as protected as the rest: a later extraction
        // could take one unknown byte among known ones. XOR with data the
        // caller chose makes keys related to the protected one by a known
        // difference: two Triple DES keys that differ in one DES key only
        // let that DES key be searched for alone (2^56 tries), and so on
        // for the other two. So no protected key is concatenated or XORed;
        // readable keys are.
        let refusal = match mechanism.kind {
            CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE => {
                Some("a sensitive or unextractable key is not concatenated")
            }
            CKM_XOR_BASE_AND_DATA => {
                Some("a sensitive or unextractable key is not XORed with data")
            }
            _ => None,
        };
        let any_protected = sources.iter().any(|source| protected(source));
        if let Some(refusal) = refusal.filter(|_| any_protected) {
            tracing::info!("C_DeriveKey {:#x}: {refusal}", mechanism.kind);
            return Err(Error::KeyFunctionNotPermitted(refusal));
        }
        // Two-key Triple DES gives 80 bits of strength at most (SP 800-67):
        // a protected key's 16 bytes are not put in one.
        if key_type == CKK_DES2 && any_protected {
            tracing::info!(
                "C_DeriveKey {:#x}: a sensitive or unextractable key does not become a CKK_DES2 key",
                mechanism.kind
            );
            return Err(Error::TemplateInconsistent(
                "a key derived from a sensitive or unextractable key is not a CKK_DES2 key",
            ));
        }
        let inherited = inherited(&sources);
        for &(kind, value, rule) in &inherited {
            if find_bool(template, kind)? == Some(!value) {
                return Err(Error::TemplateInconsistent(rule));
            }
        }
        let all = |kind| sources.iter().all(|k| k.attributes.bool_or(kind, false));
        let origin = Origin::Derive {
            mechanism: mechanism.kind,
            always_sensitive: all(CKA_ALWAYS_SENSITIVE),
            never_extractable: all(CKA_NEVER_EXTRACTABLE),
        };
        let mut attributes = objects::build(class, Some(key_type), template, origin, access)?;
        for &(kind, value, _) in &inherited {
            attributes.set_bool(kind, value);
        }
        let len = wanted_len(key_type, &attributes)?;
        access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
        let other_value = other.as_ref().map(|(_, key)| &**key);
        let value = crypto::derive_value(mechanism, &base_value, other_value, len)?;
        if key_type == CKK_AES && !matches!(value.len(), 16 | 24 | 32) {
            return Err(Error::TemplateIncomplete(CKA_VALUE_LEN));
        }
        let kept = crypto::bytes_kept(mechanism, &base_value, other_value, value.len())?;
        for (source, (held, whole)) in sources.iter().zip(kept) {
            if protected(source) && held > 0 && held < whole.min(MIN_PROTECTED_BYTES) {
                tracing::info!(
                    "C_DeriveKey {:#x}: the new key would hold {held} of the {whole} bytes \
                     of a protected key",
                    mechanism.kind
                );
                return Err(Error::TemplateInconsistent(
                    "a key derived from a sensitive or unextractable key holds at least 16 \
                     of its bytes, or all of them",
                ));
            }
        }
        if value.is_empty() || value.len() > MAX_GENERIC_SECRET_LEN {
            return Err(Error::TemplateInconsistent(
                "the derivation gives no value, or more than 3072 bytes: set CKA_VALUE_LEN",
            ));
        }
        self.insert_one(access, secret_object(attributes, value.to_vec())?)
    }
}
