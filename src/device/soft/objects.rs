//! Objects as attribute maps: building one from a caller's template under
//! the object rules ([`crate::object::template`]), applying checked
//! changes, and deciding what `C_GetAttributeValue` may reveal.
//!
//! Sensitive values (private exponents, secret values) never enter an
//! attribute map: they live only in the key material, sealed at rest, and
//! are read from it when an object may reveal them.

use super::crypto::{KeyMaterial, LoadedKey};
use crate::error::{Error, Result};
use crate::object::rules::Rule;
use crate::object::tables::ClassRules;
use crate::object::template::{self, Action};
use crate::object::{Access, AttributeType, Attributes, Template};
use cryptoki_sys::*;

pub use crate::object::rules::Origin;

/// `CKA_CLASS` and `CKA_KEY_TYPE` of an object.
pub fn class_and_type(attributes: &Attributes) -> (CK_OBJECT_CLASS, Option<CK_KEY_TYPE>) {
    (
        attributes
            .ulong(CKA_CLASS)
            .unwrap_or(CK_UNAVAILABLE_INFORMATION),
        attributes.ulong(CKA_KEY_TYPE),
    )
}

/// The rule of `kind` in an existing object.
pub fn rule_in(attributes: &Attributes, kind: AttributeType) -> Option<&'static Rule> {
    ClassRules::of_object(attributes)?.rule(kind)
}

/// Reads a required `CK_ULONG` (class or key type) from a template.
pub fn required_ulong(template: &Template, kind: AttributeType) -> Result<CK_ULONG> {
    crate::object::find_ulong(template, kind)?.ok_or(Error::TemplateIncomplete(kind))
}

/// Builds the stored attributes of a new object of `class`/`key_type` from
/// `template` with the object layer's template builder, then adds what
/// this token computes: `CKA_UNIQUE_ID` and a key's provenance.
/// Attributes that describe the key (modulus, point, ...) are overwritten
/// by the caller from the material. `CKA_ALWAYS_AUTHENTICATE` true is
/// `AttributeValueInvalid`: this token has no context-specific login.
pub fn build(
    class: CK_OBJECT_CLASS,
    key_type: Option<CK_KEY_TYPE>,
    template: &Template,
    origin: Origin,
    access: &Access,
) -> Result<Attributes> {
    let rules = ClassRules::of(class, key_type)
        .ok_or(Error::TemplateInconsistent("unsupported class or key type"))?;
    let mut attributes = template::build(&rules, template, origin, access)?;
    if attributes.bool_or(CKA_ALWAYS_AUTHENTICATE, false) {
        return Err(Error::AttributeValueInvalid(CKA_ALWAYS_AUTHENTICATE));
    }
    attributes.set(CKA_UNIQUE_ID, new_unique_id()?);
    if key_type.is_some() {
        fill_key_provenance(&mut attributes, class, origin);
    }
    Ok(attributes)
}

/// `CKA_LOCAL`, `CKA_KEY_GEN_MECHANISM`, `CKA_ALWAYS_SENSITIVE` and
/// `CKA_NEVER_EXTRACTABLE` (PKCS#11 3.0 §4.7, §4.9, §4.10): only a key made
/// inside the token can claim to have never been seen outside it.
fn fill_key_provenance(attributes: &mut Attributes, class: CK_OBJECT_CLASS, origin: Origin) {
    let (local, mechanism) = match origin {
        Origin::Generate(mechanism) => (true, mechanism),
        _ => (false, CK_UNAVAILABLE_INFORMATION),
    };
    attributes.set_bool(CKA_LOCAL, local);
    attributes.set_ulong(CKA_KEY_GEN_MECHANISM, mechanism);
    if class == CKO_PUBLIC_KEY {
        return;
    }
    let sensitive = attributes.bool_or(CKA_SENSITIVE, true);
    let extractable = attributes.bool_or(CKA_EXTRACTABLE, false);
    let (always_sensitive, never_extractable) = match origin {
        Origin::Generate(_) => (sensitive, !extractable),
        Origin::Derive {
            always_sensitive,
            never_extractable,
            ..
        } => (
            always_sensitive && sensitive,
            never_extractable && !extractable,
        ),
        Origin::Create | Origin::Unwrap => (false, false),
    };
    attributes.set_bool(CKA_ALWAYS_SENSITIVE, always_sensitive);
    attributes.set_bool(CKA_NEVER_EXTRACTABLE, never_extractable);
}

/// A random `CKA_UNIQUE_ID` (32 hex characters), also the binding of the
/// object's sealed material.
fn new_unique_id() -> Result<Vec<u8>> {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).map_err(|_| Error::RandomNoRng)?;
    Ok(hex(&bytes).into_bytes())
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies `template` to a copy of `current` after the object layer's
/// checker of changes, or refuses the whole template (PKCS#11 3.0 §5.7: a
/// refused attribute changes nothing). A copy gets its own `CKA_UNIQUE_ID`.
pub fn apply_changes(
    current: &Attributes,
    template: &Template,
    action: Action,
    access: &Access,
) -> Result<Attributes> {
    let rules = ClassRules::of_object(current)
        .ok_or(Error::TemplateInconsistent("unsupported class or key type"))?;
    let changes = template::check_changes(&rules, current, template, action, access)?;
    let mut changed = current.clone();
    changed.0.extend(changes.0);
    if action == Action::CopyObject {
        changed.set(CKA_UNIQUE_ID, new_unique_id()?);
    }
    Ok(changed)
}

/// What `C_GetAttributeValue` may say about one attribute, before any key
/// material is consulted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reveal {
    /// The stored value.
    Value(Vec<u8>),
    /// A sensitive value the object may reveal: read it from the material.
    FromMaterial,
    /// The value exists but must not leave the token.
    Sensitive,
    /// The object has no such attribute.
    Invalid,
}

/// Decides what may be revealed of `kind` (PKCS#11 3.0 §5.7, C_GetAttributeValue).
pub fn reveal(attributes: &Attributes, kind: AttributeType) -> Reveal {
    let Some(rule) = rule_in(attributes, kind) else {
        return Reveal::Invalid;
    };
    if rule.sensitive {
        let hidden =
            attributes.bool_or(CKA_SENSITIVE, true) || !attributes.bool_or(CKA_EXTRACTABLE, false);
        return if hidden {
            Reveal::Sensitive
        } else {
            Reveal::FromMaterial
        };
    }
    match attributes.get(kind) {
        Some(value) => Reveal::Value(value.to_vec()),
        None => Reveal::Invalid,
    }
}

/// A sensitive attribute's value read from loaded key material; `None`
/// when the key has no such value.
pub fn sensitive_value(key: &LoadedKey, kind: AttributeType) -> Option<Vec<u8>> {
    match &key.material {
        KeyMaterial::Secret(value) => (kind == CKA_VALUE).then(|| value.to_vec()),
        KeyMaterial::Public(_) => None,
        KeyMaterial::Private(pkey) => match key.key_type {
            CKK_RSA => {
                let rsa = pkey.rsa().ok()?;
                let number = match kind {
                    CKA_PRIVATE_EXPONENT => Some(rsa.d()),
                    CKA_PRIME_1 => rsa.p(),
                    CKA_PRIME_2 => rsa.q(),
                    CKA_EXPONENT_1 => rsa.dmp1(),
                    CKA_EXPONENT_2 => rsa.dmq1(),
                    CKA_COEFFICIENT => rsa.iqmp(),
                    _ => None,
                }?;
                Some(number.to_vec())
            }
            CKK_EC if kind == CKA_VALUE => Some(pkey.ec_key().ok()?.private_key().to_vec()),
            CKK_EC_EDWARDS | CKK_EC_MONTGOMERY if kind == CKA_VALUE => pkey.raw_private_key().ok(),
            CKK_ML_DSA | CKK_ML_KEM => super::crypto::post_quantum_private_value(pkey, kind),
            _ => None,
        },
    }
}

/// The usage flag an operation needs, checked before the key is used
/// (`CKR_KEY_FUNCTION_NOT_PERMITTED`).
pub fn require_usage(
    attributes: &Attributes,
    flag: AttributeType,
    name: &'static str,
) -> Result<()> {
    if attributes.bool_or(flag, false) {
        Ok(())
    } else {
        Err(Error::KeyFunctionNotPermitted(name))
    }
}

/// A key leaves the token (wrapped) only when its `CKA_EXTRACTABLE` is true
/// (PKCS#11 3.0 §4.9, §5.18.1: `CKR_KEY_UNEXTRACTABLE`).
pub fn require_extractable(key: &Attributes) -> Result<()> {
    if key.bool_or(CKA_EXTRACTABLE, false) {
        Ok(())
    } else {
        Err(Error::KeyUnextractable)
    }
}

/// A key whose `CKA_WRAP_WITH_TRUSTED` is true is wrapped only by a key
/// whose `CKA_TRUSTED` is true (PKCS#11 3.0 §4.9, §5.18.1:
/// `CKR_KEY_NOT_WRAPPABLE`).
pub fn require_trusted_wrapping(key: &Attributes, wrapping_key_trusted: bool) -> Result<()> {
    if key.bool_or(CKA_WRAP_WITH_TRUSTED, false) && !wrapping_key_trusted {
        return Err(Error::KeyNotWrappable(
            "CKA_WRAP_WITH_TRUSTED is true and the wrapping key's CKA_TRUSTED is false",
        ));
    }
    Ok(())
}

/// `CKA_ALLOWED_MECHANISMS`: an empty or absent list allows every mechanism.
pub fn require_allowed_mechanism(
    attributes: &Attributes,
    mechanism: CK_MECHANISM_TYPE,
) -> Result<()> {
    let Some(list) = attributes.get(CKA_ALLOWED_MECHANISMS) else {
        return Ok(());
    };
    if list.is_empty() {
        return Ok(());
    }
    let allowed = list
        .chunks_exact(std::mem::size_of::<CK_ULONG>())
        .filter_map(crate::object::decode_ulong)
        .any(|m| m == mechanism);
    if allowed {
        Ok(())
    } else {
        Err(Error::MechanismInvalid(mechanism))
    }
}
