//! The rule tables and the template builder and checker, table-driven.

use super::rules::{Change, Default, Origin};
use super::tables::ClassRules;
use super::template::{self, Action};
use super::{Access, Attribute, AttributeType, Attributes};
use crate::error::Error;
use cryptoki_sys::*;

const KEY_TYPES: &[CK_KEY_TYPE] = &[
    CKK_RSA,
    CKK_EC,
    CKK_EC_EDWARDS,
    CKK_EC_MONTGOMERY,
    CKK_AES,
    CKK_DES2,
    CKK_DES3,
    CKK_GENERIC_SECRET,
];

/// Every kind of object the provider holds a table for.
fn every_class() -> Vec<ClassRules> {
    let mut all = vec![
        ClassRules::x509_certificate(),
        ClassRules::of(CKO_DATA, None).unwrap(),
    ];
    for class in [CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY] {
        all.extend(
            KEY_TYPES
                .iter()
                .filter_map(|key_type| ClassRules::of(class, Some(*key_type))),
        );
    }
    all
}

fn user() -> Access {
    Access {
        user: true,
        so: false,
        read_write: true,
        session: 1,
    }
}

fn so() -> Access {
    Access {
        user: false,
        so: true,
        ..user()
    }
}

fn aes_rules() -> ClassRules {
    ClassRules::of(CKO_SECRET_KEY, Some(CKK_AES)).unwrap()
}

fn aes_template(extra: &[Attribute]) -> Vec<Attribute> {
    let mut template = vec![
        Attribute::from_ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attribute::from_ulong(CKA_KEY_TYPE, CKK_AES),
        Attribute::new(CKA_VALUE, vec![7; 16]),
    ];
    template.extend_from_slice(extra);
    template
}

fn aes_object() -> Attributes {
    template::build(&aes_rules(), &aes_template(&[]), Origin::Create, &user()).unwrap()
}

#[test]
fn no_attribute_appears_twice_in_one_class() {
    for rules in every_class() {
        let mut kinds: Vec<_> = rules.iter().map(|r| r.kind).collect();
        let before = kinds.len();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), before, "{rules:?}");
    }
}

#[test]
fn every_rule_names_an_attribute_with_a_known_value_kind() {
    for rules in every_class() {
        for rule in rules.iter() {
            assert!(super::value_kind(rule.kind).is_some(), "0x{:x}", rule.kind);
        }
    }
}

#[test]
fn the_storage_flags_have_one_rule_in_every_class() {
    for kind in [CKA_COPYABLE, CKA_DESTROYABLE, CKA_MODIFIABLE] {
        let mut rules = every_class()
            .into_iter()
            .map(|class| *class.rule(kind).unwrap());
        let first = rules.next().unwrap();
        assert_eq!(
            (first.default, first.change),
            (Default::Bool(true), Change::OnlyToFalse)
        );
        assert!(rules.all(|rule| rule == first), "0x{kind:x}");
    }
}

#[test]
fn private_and_secret_keys_are_sensitive_and_unextractable_by_default() {
    for (class, key_type) in [
        (CKO_PRIVATE_KEY, CKK_RSA),
        (CKO_PRIVATE_KEY, CKK_EC),
        (CKO_PRIVATE_KEY, CKK_EC_EDWARDS),
        (CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY),
        (CKO_SECRET_KEY, CKK_AES),
        (CKO_SECRET_KEY, CKK_DES2),
        (CKO_SECRET_KEY, CKK_DES3),
        (CKO_SECRET_KEY, CKK_GENERIC_SECRET),
    ] {
        let rules = ClassRules::of(class, Some(key_type)).unwrap();
        let rule = |kind| *rules.rule(kind).unwrap();
        assert_eq!(
            (rule(CKA_SENSITIVE).default, rule(CKA_EXTRACTABLE).default),
            (Default::Bool(true), Default::Bool(false)),
            "class {class} key type {key_type}"
        );
        assert_eq!(
            (rule(CKA_SENSITIVE).change, rule(CKA_EXTRACTABLE).change),
            (Change::OnlyToTrue, Change::OnlyToFalse)
        );
    }
}

#[test]
fn only_certificates_public_and_secret_keys_have_a_security_officer_only_cka_trusted() {
    let trusted = |rules: Option<ClassRules>| {
        rules?
            .rule(CKA_TRUSTED)
            .map(|r| r.change == Change::SecurityOfficerOnly)
    };
    assert_eq!(
        (
            trusted(ClassRules::of(CKO_PUBLIC_KEY, Some(CKK_RSA))),
            trusted(ClassRules::of(CKO_SECRET_KEY, Some(CKK_AES))),
            trusted(Some(ClassRules::x509_certificate())),
            trusted(ClassRules::of(CKO_PRIVATE_KEY, Some(CKK_RSA))),
            trusted(ClassRules::of(CKO_DATA, None)),
        ),
        (Some(true), Some(true), Some(true), None, None)
    );
}

#[test]
fn private_key_values_are_sensitive_and_public_ones_are_not() {
    let rules = ClassRules::of(CKO_PRIVATE_KEY, Some(CKK_RSA)).unwrap();
    let sensitive = |kind| rules.rule(kind).map(|r| r.sensitive);
    assert_eq!(
        (sensitive(CKA_PRIVATE_EXPONENT), sensitive(CKA_MODULUS)),
        (Some(true), Some(false))
    );
}

#[test]
fn dates_must_be_real_calendar_days() {
    let cases: &[(&[u8], bool)] = &[
        (b"", true),
        (b"20250516", true),
        (b"20240229", true),
        (b"20000229", true),
        (b"19000101", true),
        (b"99991231", true),
        (b"20250229", false),
        (b"19000229", false),
        (b"20250230", false),
        (b"20250431", false),
        (b"20251301", false),
        (b"20250001", false),
        (b"20250100", false),
        (b"18991231", false),
        (b"00000000", false),
    ];
    for (date, real) in cases {
        assert_eq!(
            template::check_value(CKA_START_DATE, date).is_ok(),
            *real,
            "{}",
            String::from_utf8_lossy(date)
        );
    }
}

/// Asserts that `result` failed as `expected` did: the same code, and the
/// same attribute where the error names one.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(
    what: &str,
    result: crate::error::Result<T>,
    expected: &Error,
) {
    let error = result.expect_err(what);
    assert_eq!(error.rv(), expected.rv(), "{what}: {error}");
    if !matches!(expected, Error::TemplateInconsistent(_)) {
        assert_eq!(format!("{error:?}"), format!("{expected:?}"), "{what}");
    }
}

fn bytes(kind: AttributeType, value: &[u8]) -> Attribute {
    Attribute::new(kind, value.to_vec())
}

#[test]
fn the_builder_refuses_each_bad_template_with_its_error() {
    use Error::{AttributeReadOnly as ReadOnly, TemplateInconsistent as Inconsistent};
    let create = Origin::Create;
    let generate = Origin::Generate(CKM_AES_KEY_GEN);
    let twice = |kind, a, b| aes_template(&[bytes(kind, a), bytes(kind, b)]);
    let one = |attribute| aes_template(&[attribute]);
    let cases: Vec<(&str, Vec<Attribute>, Origin, Error)> = vec![
        (
            "a label twice, differently",
            twice(CKA_LABEL, b"a", b"b"),
            create,
            Inconsistent(""),
        ),
        (
            "a sensitive value twice",
            one(bytes(CKA_VALUE, &[8; 16])),
            create,
            Inconsistent(""),
        ),
        (
            "Feb 30",
            one(bytes(CKA_END_DATE, b"20250230")),
            create,
            Error::AttributeValueInvalid(CKA_END_DATE),
        ),
        (
            "an attribute secret keys lack",
            one(bytes(CKA_MODULUS, &[1])),
            create,
            Error::AttributeTypeInvalid(CKA_MODULUS),
        ),
        (
            "a computed attribute",
            one(Attribute::from_bool(CKA_LOCAL, true)),
            create,
            ReadOnly(CKA_LOCAL),
        ),
        (
            "trusted by the user",
            one(Attribute::from_bool(CKA_TRUSTED, true)),
            create,
            ReadOnly(CKA_TRUSTED),
        ),
        (
            "another key type",
            one(Attribute::from_ulong(CKA_KEY_TYPE, CKK_RSA)),
            generate,
            Inconsistent(""),
        ),
        (
            "no length to generate",
            vec![],
            generate,
            Error::TemplateIncomplete(CKA_VALUE_LEN),
        ),
    ];
    for (what, template, origin, expected) in cases {
        let result = template::build(&aes_rules(), &template, origin, &user());
        assert_refused(what, result, &expected);
    }
}

#[test]
fn the_builder_keeps_sensitive_values_out_and_fills_every_default() {
    let object = aes_object();
    assert!(!object.contains(CKA_VALUE));
    assert!(object.bool_or(CKA_SENSITIVE, false));
    assert!(!object.bool_or(CKA_EXTRACTABLE, true));
    assert!(object.bool_or(CKA_ENCRYPT, false));
    assert_eq!(object.get(CKA_LABEL), Some(&[][..]));
    assert_eq!(object.ulong(CKA_KEY_TYPE), Some(CKK_AES));
    let rules = aes_rules();
    let missing: Vec<_> = rules
        .iter()
        .filter(|r| r.default != Default::Absent && !object.contains(r.kind))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}

#[test]
fn the_checker_refuses_each_bad_change_with_its_error() {
    use Action::{CopyObject as Copy, SetAttributeValue as Set};
    use Error::AttributeReadOnly as ReadOnly;
    let current = aes_object();
    let flag = Attribute::from_bool;
    let cases: Vec<(&str, Vec<Attribute>, Action, Access, Error)> = vec![
        (
            "a label twice, differently",
            vec![bytes(CKA_LABEL, b"a"), bytes(CKA_LABEL, b"b")],
            Set,
            user(),
            Error::TemplateInconsistent(""),
        ),
        (
            "Apr 31",
            vec![bytes(CKA_START_DATE, b"20250431")],
            Set,
            user(),
            Error::AttributeValueInvalid(CKA_START_DATE),
        ),
        (
            "sensitive back to false",
            vec![flag(CKA_SENSITIVE, false)],
            Set,
            so(),
            ReadOnly(CKA_SENSITIVE),
        ),
        (
            "CKA_TOKEN by set",
            vec![flag(CKA_TOKEN, true)],
            Set,
            user(),
            ReadOnly(CKA_TOKEN),
        ),
        (
            "trusted by the user",
            vec![flag(CKA_TRUSTED, true)],
            Copy,
            user(),
            ReadOnly(CKA_TRUSTED),
        ),
        (
            "the class",
            vec![Attribute::from_ulong(CKA_CLASS, CKO_DATA)],
            Copy,
            user(),
            ReadOnly(CKA_CLASS),
        ),
    ];
    for (what, template, action, access, expected) in cases {
        let result = template::check_changes(&aes_rules(), &current, &template, action, &access);
        assert_refused(what, result, &expected);
    }
}

#[test]
fn the_checker_allows_what_the_rules_allow() {
    use Action::{CopyObject as Copy, SetAttributeValue as Set};
    let current = aes_object();
    let flag = Attribute::from_bool;
    let restated_class = Attribute::from_ulong(CKA_CLASS, CKO_SECRET_KEY);
    let cases: Vec<(&str, Vec<Attribute>, Action, Access)> = vec![
        ("restating the class", vec![restated_class], Set, user()),
        (
            "CKA_TOKEN by copy",
            vec![flag(CKA_TOKEN, true)],
            Copy,
            user(),
        ),
        (
            "copyable cleared",
            vec![flag(CKA_COPYABLE, false)],
            Set,
            user(),
        ),
        (
            "trusted by the SO",
            vec![flag(CKA_TRUSTED, true)],
            Set,
            so(),
        ),
        (
            "a label twice alike",
            vec![bytes(CKA_LABEL, b"a"), bytes(CKA_LABEL, b"a")],
            Set,
            user(),
        ),
    ];
    for (what, template, action, access) in cases {
        template::check_changes(&aes_rules(), &current, &template, action, &access)
            .unwrap_or_else(|error| panic!("{what}: {error}"));
    }
}

#[test]
fn copyable_and_destroyable_once_false_never_come_back() {
    let mut current = aes_object();
    current.set_bool(CKA_COPYABLE, false);
    current.set_bool(CKA_DESTROYABLE, false);
    for kind in [CKA_COPYABLE, CKA_DESTROYABLE] {
        let error = template::check_changes(
            &aes_rules(),
            &current,
            &[Attribute::from_bool(kind, true)],
            Action::SetAttributeValue,
            &so(),
        )
        .unwrap_err();
        assert!(
            matches!(error, Error::AttributeReadOnly(k) if k == kind),
            "{error}"
        );
    }
    for action in [Action::CopyObject, Action::DestroyObject] {
        let error = template::require_permitted(&current, action).unwrap_err();
        assert_eq!(error.rv(), CKR_ACTION_PROHIBITED);
    }
}

#[test]
fn a_user_restating_cka_trusted_true_is_read_only() {
    let mut current = aes_object();
    current.set_bool(CKA_TRUSTED, true);
    let restated = [Attribute::from_bool(CKA_TRUSTED, true)];
    let error = template::check_changes(
        &aes_rules(),
        &current,
        &restated,
        Action::SetAttributeValue,
        &user(),
    )
    .unwrap_err();
    assert!(
        matches!(error, Error::AttributeReadOnly(CKA_TRUSTED)),
        "{error}"
    );
    template::check_changes(
        &aes_rules(),
        &current,
        &restated,
        Action::SetAttributeValue,
        &so(),
    )
    .expect("the SO may");
}

#[test]
fn the_secret_parts_of_keys_are_the_private_values_and_cka_value() {
    let private_parts = [CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2];
    let crt_parts = [CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT];
    let secret = [&private_parts[..], &crt_parts, &[CKA_VALUE]].concat();
    for kind in secret {
        assert!(super::tables::is_key_secret(kind), "0x{kind:x}");
    }
    for kind in [
        CKA_MODULUS,
        CKA_PUBLIC_EXPONENT,
        CKA_EC_POINT,
        CKA_EC_PARAMS,
        CKA_LABEL,
        CKA_ID,
    ] {
        assert!(!super::tables::is_key_secret(kind), "0x{kind:x}");
    }
}
