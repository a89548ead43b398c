//! The attribute rules of an X.509 certificate object, as one table
//! (PKCS#11 3.0 §4.4, §4.6, §4.6.3 and the reference's second table), and
//! the checks of `C_CreateObject` and `C_SetAttributeValue` templates that
//! read it.

use crate::error::{Error, Result};
use crate::object::kinds::{is_well_formed, value_kind, ValueKind};
use crate::object::{encode_bool, encode_ulong, Access, AttributeType, Attributes, Template};
use cryptoki_sys::*;

/// What a certificate holds when the creator leaves an attribute out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// The creator must supply it (`CKR_TEMPLATE_INCOMPLETE`).
    Required,
    /// A `CK_BBOOL`.
    Bool(bool),
    /// A `CK_ULONG`.
    Ulong(CK_ULONG),
    /// Derived from CKA_VALUE when it parses as X.509, else empty.
    FromCertificate,
    /// Computed from CKA_VALUE, always (CKA_CHECK_VALUE).
    Computed,
    /// Empty.
    Empty,
}

/// Whether `C_SetAttributeValue` may change an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Any value.
    Free,
    /// Never (`CKR_ATTRIBUTE_READ_ONLY`).
    Never,
    /// Only from true to false (CKA_COPYABLE, CKA_DESTROYABLE: "can't be set
    /// to TRUE once it is set to FALSE").
    OnlyToFalse,
    /// Anyone may set false; only the security officer may set true
    /// (CKA_TRUSTED, PKCS#11 3.0 §4.6.1).
    TrueBySecurityOfficer,
}

/// One row of the certificate attribute table.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The attribute.
    pub kind: AttributeType,
    /// What a new certificate holds when the creator leaves it out.
    pub default: Default,
    /// Whether and how `C_SetAttributeValue` may change it.
    pub change: Change,
    /// Kept in the search index and in blob metadata.
    pub searchable: bool,
}

const fn rule(kind: AttributeType, default: Default, change: Change, searchable: bool) -> Rule {
    Rule {
        kind,
        default,
        change,
        searchable,
    }
}

/// Every attribute an X.509 certificate object has: the reference's second
/// table. Anything else is `CKR_ATTRIBUTE_TYPE_INVALID` for a certificate.
pub const CERTIFICATE_RULES: &[Rule] = &[
    rule(CKA_CLASS, Default::Required, Change::Never, true),
    rule(CKA_TOKEN, Default::Bool(false), Change::Free, true),
    rule(CKA_PRIVATE, Default::Bool(false), Change::Free, true),
    rule(CKA_MODIFIABLE, Default::Bool(true), Change::Free, false),
    rule(CKA_LABEL, Default::Empty, Change::Free, true),
    rule(
        CKA_COPYABLE,
        Default::Bool(true),
        Change::OnlyToFalse,
        false,
    ),
    rule(
        CKA_DESTROYABLE,
        Default::Bool(true),
        Change::OnlyToFalse,
        false,
    ),
    rule(CKA_CERTIFICATE_TYPE, Default::Required, Change::Never, true),
    rule(
        CKA_TRUSTED,
        Default::Bool(false),
        Change::TrueBySecurityOfficer,
        false,
    ),
    rule(
        CKA_CERTIFICATE_CATEGORY,
        Default::Ulong(CK_CERTIFICATE_CATEGORY_UNSPECIFIED),
        Change::Free,
        false,
    ),
    rule(CKA_CHECK_VALUE, Default::Computed, Change::Never, false),
    rule(
        CKA_START_DATE,
        Default::FromCertificate,
        Change::Free,
        false,
    ),
    rule(CKA_END_DATE, Default::FromCertificate, Change::Free, false),
    rule(
        CKA_PUBLIC_KEY_INFO,
        Default::FromCertificate,
        Change::Free,
        false,
    ),
    rule(CKA_SUBJECT, Default::Required, Change::Free, true),
    rule(CKA_ID, Default::Empty, Change::Free, true),
    rule(CKA_ISSUER, Default::FromCertificate, Change::Free, true),
    rule(
        CKA_SERIAL_NUMBER,
        Default::FromCertificate,
        Change::Free,
        true,
    ),
    rule(CKA_VALUE, Default::Required, Change::Free, false),
    rule(CKA_URL, Default::Empty, Change::Free, false),
    rule(
        CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
        Default::FromCertificate,
        Change::Free,
        false,
    ),
    rule(
        CKA_HASH_OF_ISSUER_PUBLIC_KEY,
        Default::FromCertificate,
        Change::Free,
        false,
    ),
    rule(
        CKA_JAVA_MIDP_SECURITY_DOMAIN,
        Default::Ulong(CK_SECURITY_DOMAIN_UNSPECIFIED),
        Change::Free,
        false,
    ),
    rule(
        CKA_NAME_HASH_ALGORITHM,
        Default::Ulong(CKM_SHA_1),
        Change::Free,
        false,
    ),
];

/// The rule of `kind`, or `None` when certificates have no such attribute.
pub fn rule_of(kind: AttributeType) -> Option<&'static Rule> {
    CERTIFICATE_RULES.iter().find(|r| r.kind == kind)
}

/// The attributes kept in the search index (and in blob metadata).
pub fn searchable_kinds() -> impl Iterator<Item = AttributeType> {
    CERTIFICATE_RULES
        .iter()
        .filter(|r| r.searchable)
        .map(|r| r.kind)
}

/// The index's view of an object: only its searchable attributes.
pub fn search_attributes(object: &Attributes) -> Attributes {
    let mut search = Attributes::new();
    for kind in searchable_kinds() {
        if let Some(value) = object.get(kind) {
            search.set(kind, value.to_vec());
        }
    }
    search
}

/// Checks one attribute's type and value form: `AttributeTypeInvalid` for an
/// attribute certificates do not have, `AttributeValueInvalid` for a value of
/// the wrong size or form (a `CK_BBOOL` not one byte, a date not `YYYYMMDD`
/// with a real month and day, a label not UTF-8).
pub fn check_value(kind: AttributeType, value: &[u8]) -> Result<()> {
    rule_of(kind).ok_or(Error::AttributeTypeInvalid(kind))?;
    let value_kind = value_kind(kind).ok_or(Error::AttributeTypeInvalid(kind))?;
    if !is_well_formed(value_kind, value) || (value_kind == ValueKind::Date && !is_real_date(value))
    {
        return Err(Error::AttributeValueInvalid(kind));
    }
    Ok(())
}

fn is_real_date(value: &[u8]) -> bool {
    if value.is_empty() {
        return true;
    }
    let number = |range: std::ops::Range<usize>| -> u32 {
        value[range]
            .iter()
            .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
    };
    (1..=12).contains(&number(4..6)) && (1..=31).contains(&number(6..8))
}

/// Reads a template into attributes, checking every value; the same
/// attribute twice with different values is `CKR_TEMPLATE_INCONSISTENT`.
pub fn read_template(template: &Template) -> Result<Attributes> {
    let mut attributes = Attributes::new();
    for attribute in template {
        check_value(attribute.kind, &attribute.value)?;
        if let Some(previous) = attributes.get(attribute.kind) {
            if previous != attribute.value.as_slice() {
                return Err(Error::TemplateInconsistent(
                    "an attribute is given twice with different values",
                ));
            }
        }
        attributes.set(attribute.kind, attribute.value.clone());
    }
    Ok(attributes)
}

/// Checks a `C_CreateObject` template and returns the caller's attributes
/// (defaults and derived values are added by the caller of this function).
///
/// - an attribute certificates lack: `AttributeTypeInvalid(attr)`;
/// - a malformed value: `AttributeValueInvalid(attr)`;
/// - CKA_CLASS other than CKO_CERTIFICATE: `AttributeValueInvalid(CKA_CLASS)`;
/// - CKA_CERTIFICATE_TYPE other than CKC_X_509: `CertificateTypeInvalid`;
/// - a required attribute missing: `TemplateIncomplete(attr)`;
/// - CKA_TRUSTED true without the security officer: `AttributeReadOnly(CKA_TRUSTED)`
///   (PKCS#11 3.0 §4.6.1: only the SO may set it; SoftHSM answers the same).
pub fn check_create(access: &Access, template: &Template) -> Result<Attributes> {
    let given = read_template(template)?;
    if let Some(class) = given.get(CKA_CLASS) {
        if given.ulong(CKA_CLASS) != Some(CKO_CERTIFICATE) || class.is_empty() {
            return Err(Error::AttributeValueInvalid(CKA_CLASS));
        }
    }
    if given.contains(CKA_CERTIFICATE_TYPE) && given.ulong(CKA_CERTIFICATE_TYPE) != Some(CKC_X_509)
    {
        return Err(Error::CertificateTypeInvalid);
    }
    for rule in CERTIFICATE_RULES
        .iter()
        .filter(|r| r.default == Default::Required)
    {
        if !given.contains(rule.kind) {
            return Err(Error::TemplateIncomplete(rule.kind));
        }
    }
    if given.bool_or(CKA_TRUSTED, false) && !access.so {
        return Err(Error::AttributeReadOnly(CKA_TRUSTED));
    }
    Ok(given)
}

/// Fills the plain defaults (booleans, numbers, empty values) of every
/// attribute still missing. Derived attributes are filled before this.
pub fn fill_defaults(object: &mut Attributes) {
    for rule in CERTIFICATE_RULES {
        if object.contains(rule.kind) {
            continue;
        }
        match rule.default {
            Default::Bool(value) => object.set(rule.kind, encode_bool(value)),
            Default::Ulong(value) => object.set(rule.kind, encode_ulong(value)),
            Default::FromCertificate | Default::Computed | Default::Empty => {
                object.set(rule.kind, Vec::new())
            }
            Default::Required => {}
        }
    }
}

/// Checks a `C_SetAttributeValue` template against the object's current
/// attributes and returns the changes. Nothing is applied here, so a
/// template with any refused attribute changes nothing.
///
/// - CKA_MODIFIABLE false: `ActionProhibited`;
/// - CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_CHECK_VALUE: `AttributeReadOnly`
///   (setting them to their current value is accepted, as a no-op);
/// - CKA_COPYABLE or CKA_DESTROYABLE back to true: `AttributeReadOnly`
///   (PKCS#11 3.0 §4.4 table 4 footnote: "can't be set to TRUE once it is
///   set to FALSE");
/// - CKA_TRUSTED true without the SO: `AttributeReadOnly(CKA_TRUSTED)`;
/// - any change to a trusted certificate (CKA_TRUSTED true) without the
///   SO, but taking its trust away: `AttributeReadOnly` of the attribute.
///   The SO vouched for what the certificate says; a user who changes its
///   value, subject, category, label or where it lives could make an
///   application trust something the SO never saw, so only the SO may.
pub fn check_set(access: &Access, current: &Attributes, template: &Template) -> Result<Attributes> {
    if !current.bool_or(CKA_MODIFIABLE, true) {
        return Err(Error::ActionProhibited(
            "the certificate is not modifiable (CKA_MODIFIABLE false)",
        ));
    }
    let changes = read_template(template)?;
    let vouched_for = current.bool_or(CKA_TRUSTED, false) && !access.so;
    for (kind, value) in &changes.0 {
        let rule = rule_of(*kind).ok_or(Error::AttributeTypeInvalid(*kind))?;
        let unchanged = current.get(*kind) == Some(value.as_slice());
        if vouched_for && !unchanged && *kind != CKA_TRUSTED {
            return Err(Error::AttributeReadOnly(*kind));
        }
        let allowed = match rule.change {
            Change::Free => true,
            Change::Never => unchanged,
            Change::OnlyToFalse => unchanged || value.as_slice() == encode_bool(false).as_slice(),
            Change::TrueBySecurityOfficer => {
                access.so || value.as_slice() == encode_bool(false).as_slice() || unchanged
            }
        };
        if !allowed {
            return Err(Error::AttributeReadOnly(*kind));
        }
    }
    Ok(changes)
}
