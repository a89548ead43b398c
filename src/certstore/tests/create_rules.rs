//! The attribute rules of C_CreateObject and C_SetAttributeValue, table-driven.

use super::*;
use crate::certstore::rules::CERTIFICATE_RULES;
use crate::error::CKR_CERTIFICATE_TYPE_INVALID;
use crate::object::{encode_bool, encode_ulong};

fn without(template: Vec<Attribute>, kind: AttributeType) -> Vec<Attribute> {
    template.into_iter().filter(|a| a.kind != kind).collect()
}

fn with(mut template: Vec<Attribute>, attribute: Attribute) -> Vec<Attribute> {
    template.retain(|a| a.kind != attribute.kind);
    template.push(attribute);
    template
}

/// Templates C_CreateObject refuses, by error code and access.
fn bad_create_templates() -> Refusals<'static> {
    [bad_attribute_templates(), unpermitted_templates()].concat()
}

/// The reference's session certificate template.
fn base() -> Vec<Attribute> {
    reference_template(false, "MyCertificate")
}

/// [`base`] with `attribute` added.
fn plus(attribute: Attribute) -> Vec<Attribute> {
    with(base(), attribute)
}

/// Templates refused for their attributes: missing, of another class or
/// type, malformed, or unknown to certificates.
fn bad_attribute_templates() -> Refusals<'static> {
    vec![
        (
            CKR_TEMPLATE_INCOMPLETE,
            user(),
            vec![
                ("no class", without(base(), CKA_CLASS)),
                ("no certificate type", without(base(), CKA_CERTIFICATE_TYPE)),
                ("no subject", without(base(), CKA_SUBJECT)),
                ("no value", without(base(), CKA_VALUE)),
            ],
        ),
        (
            CKR_CERTIFICATE_TYPE_INVALID,
            user(),
            vec![
                (
                    "attribute type certificate",
                    plus(ulong(CKA_CERTIFICATE_TYPE, CKC_X_509_ATTR_CERT)),
                ),
                (
                    "WTLS certificate",
                    plus(ulong(CKA_CERTIFICATE_TYPE, CKC_WTLS)),
                ),
            ],
        ),
        (
            CKR_ATTRIBUTE_VALUE_INVALID,
            user(),
            vec![
                ("class of a key", plus(ulong(CKA_CLASS, CKO_PUBLIC_KEY))),
                ("CK_BBOOL of two bytes", plus(bytes(CKA_TOKEN, &[1, 0]))),
                ("CK_BBOOL of no byte", plus(bytes(CKA_PRIVATE, &[]))),
                (
                    "CK_ULONG of 4 bytes",
                    plus(bytes(CKA_CERTIFICATE_CATEGORY, &[0; 4])),
                ),
                ("date of 7 digits", plus(bytes(CKA_START_DATE, b"2025051"))),
                ("date with letters", plus(bytes(CKA_END_DATE, b"2025AB16"))),
                ("month 13", plus(bytes(CKA_END_DATE, b"20251316"))),
                ("label not UTF-8", plus(bytes(CKA_LABEL, &[0xff, 0xfe]))),
                (
                    "wrong check value",
                    plus(bytes(CKA_CHECK_VALUE, &[1, 2, 3])),
                ),
            ],
        ),
        (
            CKR_ATTRIBUTE_TYPE_INVALID,
            user(),
            vec![
                ("CKA_SIGN", plus(boolean(CKA_SIGN, true))),
                ("CKA_MODULUS", plus(bytes(CKA_MODULUS, &[1]))),
                ("CKA_KEY_TYPE", plus(ulong(CKA_KEY_TYPE, CKK_RSA))),
                ("an unknown attribute", plus(bytes(0x8000_1234, &[1]))),
            ],
        ),
    ]
}

/// Templates refused for what they ask: what only the SO may set, a
/// contradiction, or more than the login and session allow.
fn unpermitted_templates() -> Refusals<'static> {
    vec![
        (
            CKR_ATTRIBUTE_READ_ONLY,
            user(),
            vec![("trusted by the user", plus(boolean(CKA_TRUSTED, true)))],
        ),
        (
            CKR_TEMPLATE_INCONSISTENT,
            user(),
            vec![("a label twice, differently", {
                let mut t = base();
                t.push(bytes(CKA_LABEL, b"other"));
                t
            })],
        ),
        (
            CKR_USER_NOT_LOGGED_IN,
            public(),
            vec![
                (
                    "private certificate, nobody logged in",
                    plus(boolean(CKA_PRIVATE, true)),
                ),
                (
                    "token certificate, nobody logged in",
                    reference_template(true, "x"),
                ),
            ],
        ),
        (
            CKR_SESSION_READ_ONLY,
            Access {
                read_write: false,
                ..user()
            },
            vec![(
                "token certificate, read-only session",
                reference_template(true, "x"),
            )],
        ),
    ]
}

#[test]
fn create_refuses_each_bad_template_with_its_error_code() {
    let cases = bad_create_templates();
    let fixture = Fixture::new();
    for (expected, access, templates) in cases {
        for (what, template) in templates {
            let error = fixture
                .certificates
                .create(&access, &template)
                .expect_err(what);
            assert_eq!(error.rv(), expected, "{what}: {error}");
        }
    }
    assert_eq!(
        find_all(&fixture.certificates, &user()),
        Vec::<Handle>::new(),
        "nothing was created"
    );
    assert_eq!(
        fixture.file_names(),
        Vec::<String>::new(),
        "no blob was written"
    );
}

#[test]
fn missing_required_attributes_are_named_in_the_error() {
    let fixture = Fixture::new();
    for kind in [CKA_CLASS, CKA_CERTIFICATE_TYPE, CKA_SUBJECT, CKA_VALUE] {
        let template = without(reference_template(false, "x"), kind);
        assert!(
            matches!(fixture.certificates.create(&user(), &template), Err(Error::TemplateIncomplete(k)) if k == kind)
        );
    }
}

#[test]
fn a_new_certificate_has_every_attribute_of_the_reference_with_its_default() {
    let fixture = Fixture::new();
    let template = vec![
        ulong(CKA_CLASS, CKO_CERTIFICATE),
        ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        bytes(CKA_SUBJECT, REFERENCE_SUBJECT),
        bytes(CKA_VALUE, REFERENCE_VALUE),
    ];
    let handle = fixture
        .certificates
        .create(&public(), &template)
        .expect("a session certificate needs no login");
    let check_value = crate::certstore::x509::check_value(REFERENCE_VALUE);
    let expected: Vec<(AttributeType, Vec<u8>)> = vec![
        (CKA_CLASS, encode_ulong(CKO_CERTIFICATE)),
        (CKA_TOKEN, encode_bool(false)),
        (CKA_PRIVATE, encode_bool(false)),
        (CKA_MODIFIABLE, encode_bool(true)),
        (CKA_LABEL, Vec::new()),
        (CKA_COPYABLE, encode_bool(true)),
        (CKA_DESTROYABLE, encode_bool(true)),
        (CKA_CERTIFICATE_TYPE, encode_ulong(CKC_X_509)),
        (CKA_TRUSTED, encode_bool(false)),
        (
            CKA_CERTIFICATE_CATEGORY,
            encode_ulong(CK_CERTIFICATE_CATEGORY_UNSPECIFIED),
        ),
        (CKA_CHECK_VALUE, check_value),
        (CKA_START_DATE, Vec::new()),
        (CKA_END_DATE, Vec::new()),
        (CKA_PUBLIC_KEY_INFO, Vec::new()),
        (CKA_SUBJECT, REFERENCE_SUBJECT.to_vec()),
        (CKA_ID, Vec::new()),
        (CKA_ISSUER, Vec::new()),
        (CKA_SERIAL_NUMBER, Vec::new()),
        (CKA_VALUE, REFERENCE_VALUE.to_vec()),
        (CKA_URL, Vec::new()),
        (CKA_HASH_OF_SUBJECT_PUBLIC_KEY, Vec::new()),
        (CKA_HASH_OF_ISSUER_PUBLIC_KEY, Vec::new()),
        (
            CKA_JAVA_MIDP_SECURITY_DOMAIN,
            encode_ulong(CK_SECURITY_DOMAIN_UNSPECIFIED),
        ),
        (CKA_NAME_HASH_ALGORITHM, encode_ulong(CKM_SHA_1)),
    ];
    assert_eq!(
        expected.len(),
        CERTIFICATE_RULES.len(),
        "the table and this test list the same attributes"
    );
    for (kind, value) in expected {
        assert_eq!(
            fixture.value(&public(), handle, kind),
            value,
            "attribute 0x{kind:x}"
        );
    }
    let results = fixture
        .certificates
        .get_attributes(&public(), handle, &[CKA_SIGN, CKA_MODULUS])
        .unwrap();
    assert_eq!(
        results,
        vec![AttributeResult::Invalid, AttributeResult::Invalid]
    );
}

#[test]
fn only_the_security_officer_creates_a_trusted_certificate() {
    let fixture = Fixture::new();
    let template = with(
        reference_template(false, "root"),
        boolean(CKA_TRUSTED, true),
    );
    let handle = fixture
        .certificates
        .create(&so(), &template)
        .expect("the SO may");
    assert_eq!(fixture.value(&so(), handle, CKA_TRUSTED), encode_bool(true));
}

#[test]
fn only_the_security_officer_changes_a_trusted_certificate_but_anyone_may_distrust_it() {
    let fixture = Fixture::new();
    let template = with(reference_template(true, "root"), boolean(CKA_TRUSTED, true));
    let handle = fixture.certificates.create(&so(), &template).unwrap();
    let blob_before = fixture.blob(handle);
    let changes = [
        bytes(CKA_VALUE, b"another certificate"),
        bytes(CKA_SUBJECT, b"another subject"),
        ulong(CKA_CERTIFICATE_CATEGORY, 2),
        bytes(CKA_LABEL, b"relabelled"),
        bytes(CKA_ID, b"another id"),
        boolean(CKA_TOKEN, false),
    ];
    for change in &changes {
        let error = fixture
            .set(&user(), handle, std::slice::from_ref(change))
            .expect_err("a user changes a trusted certificate");
        assert_eq!(error.rv(), CKR_ATTRIBUTE_READ_ONLY, "{error}");
        // With trust taken away in the same template, still refused.
        let error = fixture
            .set(
                &user(),
                handle,
                &[boolean(CKA_TRUSTED, false), change.clone()],
            )
            .expect_err("a user changes a trusted certificate");
        assert_eq!(error.rv(), CKR_ATTRIBUTE_READ_ONLY, "{error}");
    }
    assert_eq!(fixture.blob(handle), blob_before);
    // Unchanged values are no change at all.
    fixture
        .set(&user(), handle, &[bytes(CKA_LABEL, b"root")])
        .unwrap();
    fixture
        .set(&so(), handle, &[bytes(CKA_LABEL, b"by the SO")])
        .expect("the SO may");
    fixture
        .set(&user(), handle, &[boolean(CKA_TRUSTED, false)])
        .expect("anyone may take the trust away");
    fixture
        .set(&user(), handle, &[bytes(CKA_LABEL, b"by the user")])
        .expect("an untrusted certificate is the user's to change");
    assert_eq!(fixture.value(&user(), handle, CKA_LABEL), b"by the user");
}

#[test]
fn set_refuses_each_bad_change_with_its_error_code() {
    let cases: Refusals = vec![
        (
            CKR_ATTRIBUTE_READ_ONLY,
            user(),
            vec![
                ("class", vec![ulong(CKA_CLASS, CKO_DATA)]),
                (
                    "certificate type",
                    vec![ulong(CKA_CERTIFICATE_TYPE, CKC_WTLS)],
                ),
                ("check value", vec![bytes(CKA_CHECK_VALUE, &[1, 2, 3])]),
                ("trusted by the user", vec![boolean(CKA_TRUSTED, true)]),
            ],
        ),
        (
            CKR_ATTRIBUTE_TYPE_INVALID,
            user(),
            vec![("a key attribute", vec![boolean(CKA_SIGN, true)])],
        ),
        (
            CKR_ATTRIBUTE_VALUE_INVALID,
            user(),
            vec![
                ("a bad boolean", vec![bytes(CKA_PRIVATE, &[0, 0])]),
                ("a bad date", vec![bytes(CKA_START_DATE, b"20250230x")]),
            ],
        ),
        (
            CKR_ATTRIBUTE_READ_ONLY,
            user(),
            vec![(
                "a good label then a refused class",
                vec![bytes(CKA_LABEL, b"changed"), ulong(CKA_CLASS, CKO_DATA)],
            )],
        ),
        (
            CKR_SESSION_READ_ONLY,
            Access {
                read_write: false,
                ..user()
            },
            vec![(
                "token certificate from a read-only session",
                vec![bytes(CKA_LABEL, b"changed")],
            )],
        ),
        (
            CKR_USER_NOT_LOGGED_IN,
            public(),
            vec![
                (
                    "making it private, nobody logged in",
                    vec![boolean(CKA_PRIVATE, true)],
                ),
                (
                    "token certificate, nobody logged in",
                    vec![bytes(CKA_LABEL, b"changed")],
                ),
            ],
        ),
    ];
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "MyCertificate");
    let blob_before = fixture.blob(handle);
    for (expected, access, templates) in cases {
        for (what, template) in templates {
            let error = fixture.set(&access, handle, &template).expect_err(what);
            assert_eq!(error.rv(), expected, "{what}: {error}");
        }
    }
    assert_eq!(
        fixture.value(&user(), handle, CKA_LABEL),
        b"MyCertificate",
        "nothing changed"
    );
    assert_eq!(fixture.blob(handle), blob_before, "the blob is untouched");
}

#[test]
fn copyable_can_be_cleared_but_never_set_again() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(false, "x");
    let set_copyable = |value| fixture.set(&user(), handle, &[boolean(CKA_COPYABLE, value)]);
    set_copyable(false).unwrap();
    let error = set_copyable(true).unwrap_err();
    assert!(matches!(error, Error::AttributeReadOnly(CKA_COPYABLE)));
    let copy = fixture.copy(&user(), handle, &[]);
    assert_eq!(rv_of(copy), CKR_ACTION_PROHIBITED);
}

/// The reference certificate with `attribute` added, created by the user.
fn create_reference_with(fixture: &Fixture, token: bool, attribute: Attribute) -> Handle {
    fixture.create(&with(reference_template(token, "x"), attribute))
}

#[test]
fn an_unmodifiable_certificate_refuses_every_change() {
    let fixture = Fixture::new();
    let handle = create_reference_with(&fixture, false, boolean(CKA_MODIFIABLE, false));
    let relabel = fixture.set(&user(), handle, &[bytes(CKA_LABEL, b"y")]);
    assert_eq!(rv_of(relabel), CKR_ACTION_PROHIBITED);
}

#[test]
fn an_undestroyable_certificate_stays() {
    let fixture = Fixture::new();
    let handle = create_reference_with(&fixture, true, boolean(CKA_DESTROYABLE, false));
    let destroy = fixture.certificates.destroy(&user(), handle);
    assert_eq!(rv_of(destroy), CKR_ACTION_PROHIBITED);
    assert!(fixture.blob_path(handle).exists());
}

#[test]
fn cka_destroyable_never_goes_from_false_back_to_true() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    let set_destroyable =
        |access: &Access, value| fixture.set(access, handle, &[boolean(CKA_DESTROYABLE, value)]);
    set_destroyable(&user(), false).unwrap();
    for access in [user(), so()] {
        assert_eq!(
            rv_of(set_destroyable(&access, true)),
            CKR_ATTRIBUTE_READ_ONLY
        );
    }
    let destroyable = fixture.value(&user(), handle, CKA_DESTROYABLE);
    assert_eq!(destroyable, encode_bool(false));
    let destroy = fixture.certificates.destroy(&user(), handle);
    assert_eq!(rv_of(destroy), CKR_ACTION_PROHIBITED);
}

#[test]
fn the_security_officer_may_trust_a_certificate_and_anyone_may_distrust_it() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(false, "x");
    for (who, access, trusted) in [("the SO", so(), true), ("the user", user(), false)] {
        fixture
            .set(&access, handle, &[boolean(CKA_TRUSTED, trusted)])
            .unwrap_or_else(|e| panic!("{who} sets CKA_TRUSTED to {trusted}: {e}"));
        let value = fixture.value(&user(), handle, CKA_TRUSTED);
        assert_eq!(value, encode_bool(trusted), "after {who}");
    }
}

#[test]
fn an_empty_set_template_changes_nothing_and_succeeds() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "x");
    let blob_before = fixture.blob(handle);
    fixture.set(&public(), handle, &[]).unwrap();
    assert_eq!(fixture.blob(handle), blob_before);
}
