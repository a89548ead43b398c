//! Objects as attribute maps: building one from a caller's template under
//! the rules of [`super::rules`], checking changes, and deciding what
//! `C_GetAttributeValue` may reveal.
//!
//! Sensitive values (private exponents, secret values) never enter an
//! attribute map: they live only in the key material, sealed at rest, and
//! are read from it when an object may reveal them.

use super::crypto::{KeyMaterial, LoadedKey};
use super::rules::{self, Rule};
use crate::error::{Error, Result};
use crate::object::{kinds, value_kind, Access, Attribute, AttributeType, Attributes, Template};
use cryptoki_sys::*;

/// How an object comes into being; each way forbids different attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `C_CreateObject`: key material comes from the template.
    Create,
    /// `C_GenerateKey(Pair)` with this mechanism.
    Generate(CK_MECHANISM_TYPE),
    /// `C_UnwrapKey`.
    Unwrap,
    /// `C_DeriveKey` with this mechanism, from a base key with these
    /// `CKA_ALWAYS_SENSITIVE` and `CKA_NEVER_EXTRACTABLE` values.
    Derive {
        /// The derivation mechanism.
        mechanism: CK_MECHANISM_TYPE,
        /// The base key's `CKA_ALWAYS_SENSITIVE`.
        always_sensitive: bool,
        /// The base key's `CKA_NEVER_EXTRACTABLE`.
        never_extractable: bool,
    },
}

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
pub fn rule_in(attributes: &Attributes, kind: AttributeType) -> Option<Rule> {
    let (class, key_type) = class_and_type(attributes);
    rules::rule_of(class, key_type, kind)
}

/// Reads a required `CK_ULONG` (class or key type) from a template.
pub fn required_ulong(template: &Template, kind: AttributeType) -> Result<CK_ULONG> {
    crate::object::find_ulong(template, kind)?.ok_or(Error::TemplateIncomplete(kind))
}

/// Builds the stored attributes of a new object of `class`/`key_type` from
/// `template`: checks every attribute against the class's rules, fills the
/// defaults and the token-computed attributes. Sensitive attributes are
/// left out: they belong to the key material. Attributes that describe the
/// key (modulus, point, ...) are overwritten by the caller from the material.
pub fn build(
    class: CK_OBJECT_CLASS,
    key_type: Option<CK_KEY_TYPE>,
    template: &Template,
    origin: Origin,
    access: &Access,
) -> Result<Attributes> {
    let mut attributes = Attributes::new();
    let tables = rules::tables(class, key_type)
        .ok_or(Error::TemplateInconsistent("unsupported class or key type"))?;
    for attribute in template {
        let rule = rules::rule_of(class, key_type, attribute.kind)
            .ok_or(Error::AttributeTypeInvalid(attribute.kind))?;
        check_well_formed(attribute)?;
        let forbidden = match origin {
            Origin::Create => rule.has(rules::NOT_ON_CREATE),
            Origin::Generate(_) | Origin::Derive { .. } => rule.has(rules::NOT_ON_GENERATE),
            Origin::Unwrap => rule.has(rules::NOT_ON_UNWRAP),
        };
        if forbidden {
            return Err(Error::AttributeReadOnly(attribute.kind));
        }
        check_security_officer_only(&rule, attribute, access)?;
        let implied = match attribute.kind {
            CKA_CLASS => Some(class),
            CKA_KEY_TYPE => key_type,
            _ => None,
        };
        if implied.is_some_and(|value| attribute.as_ulong().ok() != Some(value)) {
            return Err(Error::TemplateInconsistent(
                "class or key type differs from the operation's",
            ));
        }
        if attributes
            .get(attribute.kind)
            .is_some_and(|earlier| earlier != attribute.value.as_slice())
        {
            return Err(Error::TemplateInconsistent(
                "one attribute given twice with different values",
            ));
        }
        if !rule.has(rules::SENSITIVE) {
            attributes.set(attribute.kind, attribute.value.clone());
        }
    }
    let required = match origin {
        Origin::Create => rules::REQUIRED_ON_CREATE,
        Origin::Generate(_) => rules::REQUIRED_ON_GENERATE,
        Origin::Unwrap | Origin::Derive { .. } => 0,
    };
    for rule in tables.iter().flat_map(|table| table.iter()) {
        if rule.has(required) && crate::object::find(template, rule.kind).is_none() {
            return Err(Error::TemplateIncomplete(rule.kind));
        }
        if attributes.contains(rule.kind) {
            continue;
        }
        match rule.default {
            rules::DefaultValue::Absent => {}
            rules::DefaultValue::Bool(value) => attributes.set_bool(rule.kind, value),
            rules::DefaultValue::Empty => attributes.set(rule.kind, Vec::new()),
            rules::DefaultValue::Usage => {
                let on = key_type
                    .is_some_and(|key_type| rules::usage_default(class, key_type, rule.kind));
                attributes.set_bool(rule.kind, on);
            }
        }
    }
    if attributes.bool_or(CKA_ALWAYS_AUTHENTICATE, false) {
        return Err(Error::AttributeValueInvalid(CKA_ALWAYS_AUTHENTICATE));
    }
    attributes.set_ulong(CKA_CLASS, class);
    attributes.set(CKA_UNIQUE_ID, new_unique_id()?);
    if let Some(key_type) = key_type {
        attributes.set_ulong(CKA_KEY_TYPE, key_type);
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

/// Footnote 10 (`CKA_TRUSTED`): only the security officer may make it true.
fn check_security_officer_only(rule: &Rule, attribute: &Attribute, access: &Access) -> Result<()> {
    if rule.has(rules::TRUE_BY_SECURITY_OFFICER) && !access.so && attribute.as_bool()? {
        return Err(Error::AttributeReadOnly(attribute.kind));
    }
    Ok(())
}

fn check_well_formed(attribute: &Attribute) -> Result<()> {
    let kind = value_kind(attribute.kind).ok_or(Error::AttributeTypeInvalid(attribute.kind))?;
    if !kinds::is_well_formed(kind, &attribute.value) {
        return Err(Error::AttributeValueInvalid(attribute.kind));
    }
    Ok(())
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

/// Whether a change is for `C_SetAttributeValue` or `C_CopyObject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `C_SetAttributeValue`: modifiable attributes only.
    Set,
    /// `C_CopyObject`: modifiable attributes, `CKA_TOKEN` and `CKA_PRIVATE`.
    Copy,
}

/// Applies `template` to a copy of `current`, or refuses the whole template
/// (PKCS#11 3.0 §5.7: a refused attribute changes nothing).
pub fn apply_changes(
    current: &Attributes,
    template: &Template,
    change: Change,
    access: &Access,
) -> Result<Attributes> {
    let mut changed = current.clone();
    for attribute in template {
        let rule =
            rule_in(current, attribute.kind).ok_or(Error::AttributeTypeInvalid(attribute.kind))?;
        check_well_formed(attribute)?;
        let allowed =
            rule.has(rules::MODIFIABLE) || (change == Change::Copy && rule.has(rules::COPY_ONLY));
        if !allowed {
            // Restating the current value is harmless and some clients do it.
            if current.get(attribute.kind) == Some(attribute.value.as_slice()) {
                continue;
            }
            return Err(Error::AttributeReadOnly(attribute.kind));
        }
        check_security_officer_only(&rule, attribute, access)?;
        if rule.has(rules::STAYS_TRUE) || rule.has(rules::STAYS_FALSE) {
            let was = current.bool_or(attribute.kind, false);
            let becomes = attribute.as_bool()?;
            if (rule.has(rules::STAYS_TRUE) && was && !becomes)
                || (rule.has(rules::STAYS_FALSE) && !was && becomes)
            {
                return Err(Error::AttributeReadOnly(attribute.kind));
            }
        }
        changed.set(attribute.kind, attribute.value.clone());
    }
    if change == Change::Copy {
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
    if rule.has(rules::SENSITIVE) {
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
            CKK_EC_EDWARDS if kind == CKA_VALUE => pkey.raw_private_key().ok(),
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
