//! Reading a caller's template against a class's rules: the one template
//! builder of new objects (`C_CreateObject`, `C_GenerateKey(Pair)`,
//! `C_UnwrapKey`, `C_DeriveKey`) and the one checker of changes
//! (`C_SetAttributeValue`, `C_CopyObject`), for every store.

use super::kinds::{is_well_formed, value_kind, ValueKind};
use super::rules::{Change, Default, Origin, Rule};
use super::tables::{ClassRules, UNIQUE_ID};
use super::{decode_bool, Access, AttributeType, Attributes, Template};
use crate::error::{Error, Result};
use cryptoki_sys::*;

/// Checks one attribute's value form: `AttributeTypeInvalid` for an
/// attribute the provider does not know, `AttributeValueInvalid` for a
/// value of the wrong size or form (a `CK_BBOOL` not one byte, a `CK_ULONG`
/// not `size_of::<CK_ULONG>()`, a label not UTF-8, a `CK_DATE` that is not
/// a real calendar date, PKCS#11 3.0 §3.3).
pub fn check_value(kind: AttributeType, value: &[u8]) -> Result<()> {
    let value_kind = value_kind(kind).ok_or(Error::AttributeTypeInvalid(kind))?;
    if !is_well_formed(value_kind, value) || (value_kind == ValueKind::Date && !is_real_date(value))
    {
        return Err(Error::AttributeValueInvalid(kind));
    }
    Ok(())
}

/// Whether a well-formed `CK_DATE` (8 digits or empty) names a day of the
/// calendar: year 1900 to 9999 (§3.3), month 1 to 12, a day the month has.
fn is_real_date(value: &[u8]) -> bool {
    if value.is_empty() {
        return true;
    }
    let number = |range: std::ops::Range<usize>| -> u32 {
        value[range]
            .iter()
            .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=9999).contains(&year) && (1..=days).contains(&day)
}

/// The rule a template's `kind` follows: the class's, or, for
/// `CKA_UNIQUE_ID`, the one every storage object shares (§4.4.1), so that
/// a class with none to read (certificates) refuses it as read-only too.
/// `AttributeTypeInvalid` for an attribute the object does not have.
fn template_rule(rules: &ClassRules, kind: AttributeType) -> Result<&'static Rule> {
    match rules.rule(kind) {
        Some(rule) => Ok(rule),
        None if kind == CKA_UNIQUE_ID => Ok(&UNIQUE_ID),
        None => Err(Error::AttributeTypeInvalid(kind)),
    }
}

/// Reads a template against `rules`: every attribute must be one the
/// object has (`AttributeTypeInvalid`) with a well-formed value
/// ([`check_value`]); the same attribute twice with different values is
/// `TemplateInconsistent` (PKCS#11 3.0 §5.7). Sensitive values are kept:
/// the caller decides where they go.
pub fn read(rules: &ClassRules, template: &Template) -> Result<Attributes> {
    let mut given = Attributes::new();
    for attribute in template {
        template_rule(rules, attribute.kind)?;
        check_value(attribute.kind, &attribute.value)?;
        if given
            .get(attribute.kind)
            .is_some_and(|earlier| earlier != attribute.value.as_slice())
        {
            return Err(Error::TemplateInconsistent(
                "an attribute is given twice with different values",
            ));
        }
        given.set(attribute.kind, attribute.value.clone());
    }
    Ok(given)
}

/// Checks what a template read by [`read`] gives for a new object made by
/// `origin`, in the template's order, then what it lacks:
///
/// - an attribute the origin must not give: `AttributeReadOnly(attr)`;
/// - a [`Change::SecurityOfficerOnly`] attribute true without the SO:
///   `AttributeReadOnly(attr)` (`CKA_TRUSTED`, §4.6.1, footnote 10);
/// - a class or key/certificate type other than the operation's:
///   `TemplateInconsistent`;
/// - an attribute the origin requires missing: `TemplateIncomplete(attr)`.
pub fn check_new(
    rules: &ClassRules,
    template: &Template,
    origin: Origin,
    access: &Access,
) -> Result<()> {
    for attribute in template {
        let rule = template_rule(rules, attribute.kind)?;
        if rule.forbidden_on.includes(origin) {
            return Err(Error::AttributeReadOnly(attribute.kind));
        }
        if rule.change == Change::SecurityOfficerOnly && !access.so && is_true(&attribute.value) {
            return Err(Error::AttributeReadOnly(attribute.kind));
        }
        let implied = match rules.subtype() {
            _ if attribute.kind == CKA_CLASS => Some(rules.class()),
            Some((kind, subtype)) if kind == attribute.kind => Some(subtype),
            _ => None,
        };
        if implied.is_some_and(|value| attribute.as_ulong().ok() != Some(value)) {
            return Err(Error::TemplateInconsistent(
                "class or key type differs from the operation's",
            ));
        }
    }
    let given = |kind| template.iter().any(|a| a.kind == kind);
    match rules
        .iter()
        .find(|rule| rule.required_on.includes(origin) && !given(rule.kind))
    {
        Some(missing) => Err(Error::TemplateIncomplete(missing.kind)),
        None => Ok(()),
    }
}

/// Fills the default of every attribute `object` still lacks (booleans,
/// numbers, empty values, usage flags). Values derived from `CKA_VALUE`
/// ([`Default::FromValue`], [`Default::Computed`]) are filled before this
/// by their store; what is left of them is empty.
pub fn fill_defaults(rules: &ClassRules, object: &mut Attributes) {
    for rule in rules.iter() {
        if object.contains(rule.kind) {
            continue;
        }
        match rule.default {
            Default::Absent => {}
            Default::Bool(value) => object.set_bool(rule.kind, value),
            Default::Ulong(value) => object.set_ulong(rule.kind, value),
            Default::Empty | Default::FromValue | Default::Computed => {
                object.set(rule.kind, Vec::new())
            }
            Default::Usage => object.set_bool(rule.kind, rules.usage_default(rule.kind)),
        }
    }
}

/// The template builder: reads `template` ([`read`]), checks it for
/// `origin` ([`check_new`]), and returns the new object's stored
/// attributes: the caller's, less the sensitive ones (they belong to the
/// key material), with every default filled, its class and type set.
pub fn build(
    rules: &ClassRules,
    template: &Template,
    origin: Origin,
    access: &Access,
) -> Result<Attributes> {
    let mut object = read(rules, template)?;
    check_new(rules, template, origin, access)?;
    object
        .0
        .retain(|kind, _| rules.rule(*kind).is_some_and(|r| !r.sensitive));
    fill_defaults(rules, &mut object);
    object.set_ulong(CKA_CLASS, rules.class());
    if let Some((kind, subtype)) = rules.subtype() {
        object.set_ulong(kind, subtype);
    }
    Ok(object)
}

/// What is done to an existing object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `C_SetAttributeValue`: needs `CKA_MODIFIABLE`.
    SetAttributeValue,
    /// `C_CopyObject`: needs `CKA_COPYABLE`; may also change
    /// [`Change::CopyOnly`] attributes.
    CopyObject,
    /// `C_DestroyObject`: needs `CKA_DESTROYABLE`.
    DestroyObject,
}

/// PKCS#11 3.0 §4.4: an object whose `CKA_MODIFIABLE`, `CKA_COPYABLE` or
/// `CKA_DESTROYABLE` is false refuses the matching action,
/// `ActionProhibited`. An object without the attribute allows it.
pub fn require_permitted(object: &Attributes, action: Action) -> Result<()> {
    let (flag, refusal) = match action {
        Action::SetAttributeValue => (CKA_MODIFIABLE, "CKA_MODIFIABLE is false"),
        Action::CopyObject => (CKA_COPYABLE, "CKA_COPYABLE is false"),
        Action::DestroyObject => (CKA_DESTROYABLE, "CKA_DESTROYABLE is false"),
    };
    if object.bool_or(flag, true) {
        Ok(())
    } else {
        Err(Error::ActionProhibited(refusal))
    }
}

/// The checker of changes: checks a `C_SetAttributeValue` or
/// `C_CopyObject` template against the object's `current` attributes and
/// returns the template's attributes. Nothing is applied here, so a
/// template with any refused attribute changes nothing (§5.7).
///
/// - the object refuses the action ([`require_permitted`]): `ActionProhibited`;
/// - the template as [`read`] reads it;
/// - a change its rule does not allow: `AttributeReadOnly(attr)`. Restating
///   the current value is no change, except that only the SO gives a
///   [`Change::SecurityOfficerOnly`] attribute true.
pub fn check_changes(
    rules: &ClassRules,
    current: &Attributes,
    template: &Template,
    action: Action,
    access: &Access,
) -> Result<Attributes> {
    require_permitted(current, action)?;
    let changes = read(rules, template)?;
    for (kind, value) in &changes.0 {
        let rule = template_rule(rules, *kind)?;
        let unchanged = current.get(*kind) == Some(value.as_slice());
        let was = current.bool_or(*kind, false);
        let becomes = is_true(value);
        let allowed = match rule.change {
            Change::Free => true,
            Change::ReadOnly => unchanged,
            Change::CopyOnly => unchanged || action == Action::CopyObject,
            Change::OnlyToFalse => unchanged || !becomes || was,
            Change::OnlyToTrue => unchanged || becomes || !was,
            Change::SecurityOfficerOnly => access.so || !becomes,
            Change::Never => false,
        };
        if !allowed {
            return Err(Error::AttributeReadOnly(*kind));
        }
    }
    Ok(changes)
}

/// A well-formed `CK_BBOOL` that is true (any non-zero byte).
fn is_true(value: &[u8]) -> bool {
    decode_bool(value).unwrap_or(false)
}
