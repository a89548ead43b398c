//! Attribute defaults, computed attributes and what may be revealed.

use super::*;
use crate::device::{KeyRequest, Mechanism};
use crate::object::{encode_bool, encode_ulong, Attribute, AttributeResult};

fn generated_aes(device: &SoftDevice, extra: &[Attribute]) -> Handle {
    let mut template = vec![boolean(CKA_TOKEN, true), ulong(CKA_VALUE_LEN, 32)];
    template.extend_from_slice(extra);
    device
        .generate_key(
            &user_rw(),
            KeyRequest {
                mechanism: &Mechanism::new(CKM_AES_KEY_GEN),
                template: &template,
            },
        )
        .unwrap()
}

fn assert_attributes(
    device: &SoftDevice,
    handle: Handle,
    expected: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) {
    for (kind, value) in expected {
        assert_eq!(
            &value_of(device, &user_rw(), handle, *kind),
            value,
            "attribute 0x{kind:x}"
        );
    }
}

/// For each row, each of its kinds is the row's `CK_BBOOL`.
fn assert_flags(device: &SoftDevice, handle: Handle, rows: &[(bool, &[CK_ATTRIBUTE_TYPE])]) {
    for (value, kinds) in rows {
        for kind in *kinds {
            let expected = encode_bool(*value);
            assert_eq!(
                value_of(device, &user_rw(), handle, *kind),
                expected,
                "attribute 0x{kind:x}"
            );
        }
    }
}

/// `handle` has each of `values`, and each row's kinds are its `CK_BBOOL`.
fn assert_key(
    device: &SoftDevice,
    handle: Handle,
    values: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
    flags: &[(bool, &[CK_ATTRIBUTE_TYPE])],
) {
    assert_attributes(device, handle, values);
    assert_flags(device, handle, flags);
}

/// Each of `kinds` is present and empty.
fn assert_empty(device: &SoftDevice, handle: Handle, kinds: &[CK_ATTRIBUTE_TYPE]) {
    for kind in kinds {
        let value = value_of(device, &user_rw(), handle, *kind);
        assert_eq!(value, Vec::<u8>::new(), "attribute 0x{kind:x}");
    }
}

#[test]
fn a_generated_aes_key_has_the_documented_defaults() {
    let (_dir, device) = logged_in();
    let key = generated_aes(&device, &[]);
    assert_key(
        &device,
        key,
        &[
            (CKA_CLASS, encode_ulong(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, encode_ulong(CKK_AES)),
            (CKA_VALUE_LEN, encode_ulong(32)),
            (CKA_KEY_GEN_MECHANISM, encode_ulong(CKM_AES_KEY_GEN)),
        ],
        &[
            (true, &[CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE]),
            (true, &[CKA_COPYABLE, CKA_DESTROYABLE, CKA_SENSITIVE]),
            (true, &[CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE]),
            (true, &[CKA_LOCAL, CKA_ENCRYPT, CKA_DECRYPT]),
            (true, &[CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP]),
            (true, &[CKA_DERIVE]),
            (false, &[CKA_EXTRACTABLE, CKA_WRAP_WITH_TRUSTED]),
            (false, &[CKA_TRUSTED]),
        ],
    );
    assert_empty(
        &device,
        key,
        &[
            CKA_LABEL,
            CKA_ID,
            CKA_START_DATE,
            CKA_END_DATE,
            CKA_ALLOWED_MECHANISMS,
        ],
    );
}

#[test]
fn a_generated_ec_pair_has_usage_defaults_for_its_type_and_shares_its_label() {
    let (_dir, device) = logged_in();
    let (public, private) = ec_pair(&device, &[bytes(CKA_LABEL, b"pair")], &[]);
    assert_key(
        &device,
        public,
        &[
            (CKA_CLASS, encode_ulong(CKO_PUBLIC_KEY)),
            (CKA_EC_PARAMS, P256.to_vec()),
            (CKA_LABEL, b"pair".to_vec()),
        ],
        &[
            (true, &[CKA_VERIFY, CKA_LOCAL]),
            (false, &[CKA_PRIVATE, CKA_ENCRYPT]),
        ],
    );
    assert_key(
        &device,
        private,
        &[
            (CKA_CLASS, encode_ulong(CKO_PRIVATE_KEY)),
            (CKA_KEY_GEN_MECHANISM, encode_ulong(CKM_EC_KEY_PAIR_GEN)),
            (CKA_EC_PARAMS, P256.to_vec()),
            (CKA_LABEL, b"pair".to_vec()),
        ],
        &[
            (true, &[CKA_PRIVATE, CKA_SIGN, CKA_DERIVE]),
            (true, &[CKA_SENSITIVE, CKA_ALWAYS_SENSITIVE]),
            (true, &[CKA_NEVER_EXTRACTABLE]),
            (false, &[CKA_DECRYPT, CKA_EXTRACTABLE]),
        ],
    );
    let point = value_of(&device, &user_rw(), public, CKA_EC_POINT);
    assert_eq!(point[0], 0x04, "CKA_EC_POINT is a DER OCTET STRING");
    assert_value(&device, private, CKA_EC_POINT, point);
    let info = |handle| (handle, CKA_PUBLIC_KEY_INFO);
    assert_same_value(&device, &user_rw(), info(private), info(public));
}

#[test]
fn an_imported_key_is_not_local_and_has_no_generation_mechanism() {
    let (_dir, device) = logged_in();
    let key = create(&device, &aes_template(&[3u8; 16], &[]));
    assert_key(
        &device,
        key,
        &[
            (
                CKA_KEY_GEN_MECHANISM,
                encode_ulong(CK_UNAVAILABLE_INFORMATION),
            ),
            (CKA_VALUE_LEN, encode_ulong(16)),
        ],
        &[
            (false, &[CKA_LOCAL, CKA_ALWAYS_SENSITIVE]),
            (false, &[CKA_NEVER_EXTRACTABLE, CKA_EXTRACTABLE]),
        ],
    );
}

#[test]
fn sensitive_and_unextractable_values_are_never_revealed() {
    let (_dir, device) = logged_in();
    let cases = [
        (vec![], AttributeResult::Sensitive),
        (
            vec![
                boolean(CKA_SENSITIVE, false),
                boolean(CKA_EXTRACTABLE, false),
            ],
            AttributeResult::Sensitive,
        ),
        // Not sensitive, but unextractable by default: still hidden.
        (
            vec![boolean(CKA_SENSITIVE, false)],
            AttributeResult::Sensitive,
        ),
        (
            vec![boolean(CKA_EXTRACTABLE, true)],
            AttributeResult::Sensitive,
        ),
        (
            vec![
                boolean(CKA_SENSITIVE, false),
                boolean(CKA_EXTRACTABLE, true),
            ],
            AttributeResult::Value(vec![4u8; 16]),
        ),
    ];
    for (extra, expected) in cases {
        let key = create(&device, &aes_template(&[4u8; 16], &extra));
        let result = device
            .get_attributes(&user_rw(), key, &[CKA_VALUE])
            .unwrap();
        assert_eq!(result, vec![expected], "{extra:?}");
    }
}

#[test]
fn private_key_components_are_sensitive_and_unknown_attributes_invalid() {
    let (_dir, device) = logged_in();
    let (public, private) = ec_pair(&device, &[bytes(CKA_LABEL, b"pair")], &[]);
    let results = device
        .get_attributes(
            &user_rw(),
            private,
            &[CKA_VALUE, CKA_LABEL, CKA_MODULUS, 0x7777],
        )
        .unwrap();
    assert_eq!(
        results,
        vec![
            AttributeResult::Sensitive,
            AttributeResult::Value(b"pair".to_vec()),
            AttributeResult::Invalid,
            AttributeResult::Invalid
        ]
    );
    assert_eq!(
        device
            .get_attributes(&user_rw(), public, &[CKA_SIGN])
            .unwrap(),
        vec![AttributeResult::Invalid]
    );
}

#[test]
fn both_halves_of_an_rsa_pair_describe_the_public_key() {
    let (_dir, device) = logged_in();
    let (public, private) = rsa_pair(&device, b"rsa");
    for kind in [
        CKA_MODULUS,
        CKA_MODULUS_BITS,
        CKA_PUBLIC_EXPONENT,
        CKA_PUBLIC_KEY_INFO,
        CKA_ID,
    ] {
        assert_eq!(
            value_of(&device, &user_rw(), public, kind),
            value_of(&device, &user_rw(), private, kind),
            "0x{kind:x}"
        );
    }
    assert_value(&device, private, CKA_MODULUS_BITS, encode_ulong(2048));
    assert_value(&device, public, CKA_PUBLIC_EXPONENT, vec![1, 0, 1]);
    let hidden = [
        CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,
        CKA_PRIME_2,
        CKA_EXPONENT_1,
        CKA_EXPONENT_2,
        CKA_COEFFICIENT,
    ];
    let results = device.get_attributes(&user_rw(), private, &hidden).unwrap();
    assert!(
        results.iter().all(|r| *r == AttributeResult::Sensitive),
        "{results:?}"
    );
}
