//! The certificate store's use of the object rules: its table is
//! [`crate::object::tables::X509_CERTIFICATE`], read by the object layer's
//! template reader and checker of changes; here are what only certificates
//! add (an X.509 class and type, the trust the SO vouches for) and the
//! search index's view of a certificate.

use crate::error::{Error, Result};
use crate::object::rules::{Origin, Rule};
use crate::object::tables::ClassRules;
use crate::object::template::{self, Action};
use crate::object::{Access, AttributeType, Attributes, Template};
use cryptoki_sys::*;

/// Every attribute an X.509 certificate object has, as one table.
pub use crate::object::tables::X509_CERTIFICATE as CERTIFICATE_RULES;

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

/// Fills the plain defaults (booleans, numbers, empty values) of every
/// attribute still missing. Derived attributes are filled before this.
pub fn fill_defaults(object: &mut Attributes) {
    template::fill_defaults(&ClassRules::x509_certificate(), object);
}

/// Checks a `C_CreateObject` template and returns the caller's attributes
/// (defaults and derived values are added by the caller of this function).
///
/// - what [`template::read`] refuses (an attribute certificates lack, a
///   malformed value, one given twice with different values);
/// - CKA_CLASS other than CKO_CERTIFICATE: `AttributeValueInvalid(CKA_CLASS)`;
/// - CKA_CERTIFICATE_TYPE other than CKC_X_509: `CertificateTypeInvalid`;
/// - what [`template::check_new`] refuses: CKA_TRUSTED true without the
///   security officer is `AttributeReadOnly(CKA_TRUSTED)` (PKCS#11 3.0
///   §4.6.1: only the SO may set it; SoftHSM answers the same), a required
///   attribute missing `TemplateIncomplete(attr)`.
pub fn check_create(access: &Access, template: &Template) -> Result<Attributes> {
    let rules = ClassRules::x509_certificate();
    let given = template::read(&rules, template)?;
    if given.contains(CKA_CLASS) && given.ulong(CKA_CLASS) != Some(CKO_CERTIFICATE) {
        return Err(Error::AttributeValueInvalid(CKA_CLASS));
    }
    if given.contains(CKA_CERTIFICATE_TYPE) && given.ulong(CKA_CERTIFICATE_TYPE) != Some(CKC_X_509)
    {
        return Err(Error::CertificateTypeInvalid);
    }
    template::check_new(&rules, template, Origin::Create, access)?;
    Ok(given)
}

/// Checks a `C_CopyObject` template: a certificate copy takes none
/// (`TemplateInconsistent`, the reference copies without one), but what no
/// copy may give at all is refused as such first: an attribute
/// certificates lack (`AttributeTypeInvalid`), a read-only one changed or
/// `CKA_UNIQUE_ID` (`AttributeReadOnly`).
pub fn check_copy(access: &Access, current: &Attributes, template: &Template) -> Result<()> {
    if template.is_empty() {
        return Ok(());
    }
    let rules = ClassRules::x509_certificate();
    template::check_changes(&rules, current, template, Action::CopyObject, access)?;
    Err(Error::TemplateInconsistent(
        "a certificate copy takes no template",
    ))
}

/// Checks a `C_SetAttributeValue` template against the object's current
/// attributes and returns the changes. Nothing is applied here, so a
/// template with any refused attribute changes nothing.
///
/// - what [`template::check_changes`] refuses: CKA_MODIFIABLE false is
///   `ActionProhibited`; CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_CHECK_VALUE
///   are `AttributeReadOnly` (setting them to their current value is
///   accepted, as a no-op); so are CKA_COPYABLE or CKA_DESTROYABLE back to
///   true (PKCS#11 3.0 §4.4 table 4 footnote: "can't be set to TRUE once it
///   is set to FALSE") and CKA_TRUSTED true without the SO;
/// - any change to a trusted certificate (CKA_TRUSTED true) without the
///   SO, but taking its trust away: `AttributeReadOnly` of the attribute.
///   The SO vouched for what the certificate says; a user who changes its
///   value, subject, category, label or where it lives could make an
///   application trust something the SO never saw, so only the SO may.
pub fn check_set(access: &Access, current: &Attributes, template: &Template) -> Result<Attributes> {
    let rules = ClassRules::x509_certificate();
    let changes =
        template::check_changes(&rules, current, template, Action::SetAttributeValue, access)?;
    if current.bool_or(CKA_TRUSTED, false) && !access.so {
        let changed = changes
            .0
            .iter()
            .find(|(kind, value)| **kind != CKA_TRUSTED && current.get(**kind) != Some(value));
        if let Some((kind, _)) = changed {
            return Err(Error::AttributeReadOnly(*kind));
        }
    }
    Ok(changes)
}
