//! The error codes of object creation, generation and modification,
//! table-driven, and the changes `C_SetAttributeValue` accepts.

use super::*;
use crate::device::{KeyPairRequest, KeyRequest, Mechanism};
use crate::object::{encode_bool, Attribute, AttributeResult};

/// A key-pair generation case: name, mechanism, public and private templates, expected code.
type PairCase = (
    &'static str,
    Mechanism,
    Vec<Attribute>,
    Vec<Attribute>,
    CK_RV,
);

/// Templates C_CreateObject refuses, by error code and access.
fn bad_object_templates() -> Refusals<'static> {
    [bad_attribute_templates(), unpermitted_templates()].concat()
}

/// An AES key's template with `extra` after it.
fn aes(extra: &[Attribute]) -> Vec<Attribute> {
    aes_template(&[1u8; 16], extra)
}

/// Templates refused for what their attributes are: missing, unknown to
/// the class, or of a wrong value.
fn bad_attribute_templates() -> Refusals<'static> {
    let without = |kind: CK_ATTRIBUTE_TYPE| {
        aes(&[])
            .into_iter()
            .filter(|a| a.kind != kind)
            .collect::<Vec<_>>()
    };
    vec![
        (
            CKR_TEMPLATE_INCOMPLETE,
            user_rw(),
            vec![
                ("no class", without(CKA_CLASS)),
                ("no key type", without(CKA_KEY_TYPE)),
                ("no value", without(CKA_VALUE)),
            ],
        ),
        (
            CKR_ATTRIBUTE_TYPE_INVALID,
            user_rw(),
            vec![
                ("modulus on AES", aes(&[bytes(CKA_MODULUS, &[1])])),
                ("unknown attribute", aes(&[bytes(0x7777, &[1])])),
                (
                    "key type on data",
                    [data_template("d"), vec![ulong(CKA_KEY_TYPE, CKK_AES)]].concat(),
                ),
            ],
        ),
        (
            CKR_ATTRIBUTE_VALUE_INVALID,
            user_rw(),
            vec![
                ("two-byte bool", aes(&[bytes(CKA_SENSITIVE, &[1, 1])])),
                ("bad date", aes(&[bytes(CKA_START_DATE, b"2025-1-1")])),
                ("short AES value", aes_template(&[1u8; 15], &[])),
                ("certificate class", vec![ulong(CKA_CLASS, CKO_CERTIFICATE)]),
                (
                    "unknown key type",
                    vec![
                        ulong(CKA_CLASS, CKO_SECRET_KEY),
                        ulong(CKA_KEY_TYPE, CKK_DES),
                    ],
                ),
            ],
        ),
    ]
}

/// Templates refused for what they ask: attributes only the token sets,
/// a contradiction, or more than the session and login allow.
fn unpermitted_templates() -> Refusals<'static> {
    vec![
        (
            CKR_ATTRIBUTE_READ_ONLY,
            user_rw(),
            vec![
                ("CKA_LOCAL", aes(&[boolean(CKA_LOCAL, true)])),
                (
                    "CKA_ALWAYS_SENSITIVE",
                    aes(&[boolean(CKA_ALWAYS_SENSITIVE, true)]),
                ),
                (
                    "CKA_NEVER_EXTRACTABLE",
                    aes(&[boolean(CKA_NEVER_EXTRACTABLE, true)]),
                ),
                (
                    "CKA_KEY_GEN_MECHANISM",
                    aes(&[ulong(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN)]),
                ),
                ("CKA_VALUE_LEN on create", aes(&[ulong(CKA_VALUE_LEN, 16)])),
            ],
        ),
        (
            CKR_TEMPLATE_INCONSISTENT,
            user_rw(),
            vec![("conflicting duplicate", aes(&[boolean(CKA_TOKEN, false)]))],
        ),
        (
            CKR_SESSION_READ_ONLY,
            user_ro(),
            vec![("token object, read-only session", aes(&[]))],
        ),
        (
            CKR_USER_NOT_LOGGED_IN,
            public_rw(),
            vec![("private object, no login", aes(&[]))],
        ),
    ]
}

#[test]
fn create_object_errors_follow_the_specification() {
    let (_dir, device) = logged_in();
    let cases = bad_object_templates();
    for (expected, access, templates) in cases {
        for (name, template) in templates {
            let result = device.create_object(&access, &template);
            assert_refused(result, expected, name);
        }
    }
    assert_nothing_created(&device);
}

/// Key pair generations that fail, with the error code of each.
fn bad_pair_generations() -> Vec<PairCase> {
    let aes = Mechanism::new(CKM_AES_KEY_GEN);
    let ec = Mechanism::new(CKM_EC_KEY_PAIR_GEN);
    let rsa = Mechanism::new(CKM_RSA_PKCS_KEY_PAIR_GEN);
    vec![
        (
            "no CKA_MODULUS_BITS",
            rsa.clone(),
            vec![],
            vec![],
            CKR_TEMPLATE_INCOMPLETE,
        ),
        (
            "CKA_MODULUS given",
            rsa.clone(),
            vec![ulong(CKA_MODULUS_BITS, 2048), bytes(CKA_MODULUS, &[1])],
            vec![],
            CKR_ATTRIBUTE_READ_ONLY,
        ),
        (
            "no CKA_EC_PARAMS",
            ec.clone(),
            vec![],
            vec![],
            CKR_TEMPLATE_INCOMPLETE,
        ),
        (
            "EC_PARAMS on private",
            ec.clone(),
            vec![bytes(CKA_EC_PARAMS, P256)],
            vec![bytes(CKA_EC_PARAMS, P256)],
            CKR_ATTRIBUTE_READ_ONLY,
        ),
        (
            "public class in private template",
            ec.clone(),
            vec![bytes(CKA_EC_PARAMS, P256)],
            vec![ulong(CKA_CLASS, CKO_PUBLIC_KEY)],
            CKR_TEMPLATE_INCONSISTENT,
        ),
        (
            "secret mechanism",
            aes.clone(),
            vec![],
            vec![],
            CKR_MECHANISM_INVALID,
        ),
    ]
}

#[test]
fn generation_errors_follow_the_specification() {
    let (_dir, device) = logged_in();
    let aes = Mechanism::new(CKM_AES_KEY_GEN);
    let ec = Mechanism::new(CKM_EC_KEY_PAIR_GEN);
    let secret_cases: Vec<(&str, Mechanism, Vec<Attribute>, CK_RV)> = vec![
        (
            "no CKA_VALUE_LEN",
            aes.clone(),
            vec![],
            CKR_TEMPLATE_INCOMPLETE,
        ),
        (
            "17-byte AES",
            aes.clone(),
            vec![ulong(CKA_VALUE_LEN, 17)],
            CKR_ATTRIBUTE_VALUE_INVALID,
        ),
        (
            "CKA_LOCAL",
            aes.clone(),
            vec![ulong(CKA_VALUE_LEN, 16), boolean(CKA_LOCAL, true)],
            CKR_ATTRIBUTE_READ_ONLY,
        ),
        (
            "CKA_VALUE",
            aes.clone(),
            vec![ulong(CKA_VALUE_LEN, 16), bytes(CKA_VALUE, &[0; 16])],
            CKR_ATTRIBUTE_READ_ONLY,
        ),
        (
            "wrong class",
            aes.clone(),
            vec![ulong(CKA_VALUE_LEN, 16), ulong(CKA_CLASS, CKO_DATA)],
            CKR_TEMPLATE_INCONSISTENT,
        ),
        (
            "wrong key type",
            aes.clone(),
            vec![
                ulong(CKA_VALUE_LEN, 16),
                ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
            ],
            CKR_TEMPLATE_INCONSISTENT,
        ),
        (
            "pair mechanism",
            ec.clone(),
            vec![ulong(CKA_VALUE_LEN, 16)],
            CKR_MECHANISM_INVALID,
        ),
    ];
    for (name, mechanism, template, expected) in secret_cases {
        let result = device.generate_key(
            &user_rw(),
            KeyRequest {
                mechanism: &mechanism,
                template: &template,
            },
        );
        assert_refused(result, expected, name);
    }
    let pair_cases = bad_pair_generations();
    for (name, mechanism, public, private, expected) in pair_cases {
        let result = device.generate_key_pair(
            &user_rw(),
            KeyPairRequest {
                mechanism: &mechanism,
                public_template: &public,
                private_template: &private,
            },
        );
        assert_refused(result, expected, name);
    }
    assert_nothing_created(&device);
}

/// A token AES key of sixteen 2s, with `attribute` added.
fn aes_key_with(device: &SoftDevice, attribute: Attribute) -> Handle {
    create(device, &aes_template(&[2u8; 16], &[attribute]))
}

#[test]
fn set_attributes_errors_follow_the_specification_and_change_nothing() {
    let (_dir, device) = logged_in();
    let key = aes_key_with(&device, boolean(CKA_EXTRACTABLE, false));
    let label = || bytes(CKA_LABEL, b"changed");
    let cases: Refusals = vec![
        (
            CKR_ATTRIBUTE_READ_ONLY,
            user_rw(),
            vec![
                ("class", vec![label(), ulong(CKA_CLASS, CKO_DATA)]),
                ("value length", vec![label(), ulong(CKA_VALUE_LEN, 32)]),
                (
                    "sensitive back to false",
                    vec![label(), boolean(CKA_SENSITIVE, false)],
                ),
                (
                    "extractable back to true",
                    vec![label(), boolean(CKA_EXTRACTABLE, true)],
                ),
                ("token", vec![label(), boolean(CKA_TOKEN, false)]),
                ("local", vec![label(), boolean(CKA_LOCAL, true)]),
            ],
        ),
        (
            CKR_ATTRIBUTE_TYPE_INVALID,
            user_rw(),
            vec![("unknown", vec![label(), bytes(0x7777, b"x")])],
        ),
        (
            CKR_ATTRIBUTE_VALUE_INVALID,
            user_rw(),
            vec![("malformed", vec![label(), bytes(CKA_SIGN, &[])])],
        ),
        (
            CKR_SESSION_READ_ONLY,
            user_ro(),
            vec![("read-only session", vec![label()])],
        ),
        (
            CKR_OBJECT_HANDLE_INVALID,
            public_rw(),
            vec![("invisible", vec![label()])],
        ),
    ];
    for (expected, access, templates) in cases {
        for (name, template) in templates {
            let result = device.set_attributes(&access, key, &template);
            assert_refused(result, expected, name);
        }
    }
    assert_value(&device, key, CKA_LABEL, Vec::<u8>::new());
}

#[test]
fn set_attributes_changes_what_may_change() {
    let (_dir, device) = logged_in();
    let key = aes_key_with(&device, boolean(CKA_SENSITIVE, false));
    let changes = [
        bytes(CKA_LABEL, b"new label"),
        bytes(CKA_ID, b"\x01\x02"),
        boolean(CKA_ENCRYPT, false),
        bytes(CKA_END_DATE, b"20301231"),
        boolean(CKA_SENSITIVE, true),
        boolean(CKA_EXTRACTABLE, false),
    ];
    device.set_attributes(&user_rw(), key, &changes).unwrap();
    for change in &changes {
        assert_eq!(
            value_of(&device, &user_rw(), key, change.kind),
            change.value,
            "0x{:x}",
            change.kind
        );
    }
    assert_eq!(
        device
            .get_attributes(&user_rw(), key, &[CKA_VALUE])
            .unwrap(),
        vec![AttributeResult::Sensitive]
    );
    assert_value(&device, key, CKA_ALWAYS_SENSITIVE, encode_bool(false));
}

#[test]
fn an_unmodifiable_object_refuses_every_change() {
    let (_dir, device) = logged_in();
    let handle = create(
        &device,
        &[data_template("fixed"), vec![boolean(CKA_MODIFIABLE, false)]].concat(),
    );
    let result = device.set_attributes(&user_rw(), handle, &[bytes(CKA_LABEL, b"other")]);
    assert_eq!(result.map_err(|e| e.rv()), Err(CKR_ACTION_PROHIBITED));
}
