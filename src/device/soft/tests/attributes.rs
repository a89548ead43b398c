//! Attribute defaults and the error codes of object creation, generation
//! and modification, table-driven.

use super::*;
use crate::device::Mechanism;
use crate::object::{encode_bool, encode_ulong, Attribute, AttributeResult};

fn generated_aes(device: &SoftDevice, extra: &[Attribute]) -> Handle {
    let mut template = vec![boolean(CKA_TOKEN, true), ulong(CKA_VALUE_LEN, 32)];
    template.extend_from_slice(extra);
    device.generate_key(&user_rw(), &Mechanism::new(CKM_AES_KEY_GEN), &template).unwrap()
}

fn ec_pair(device: &SoftDevice) -> (Handle, Handle) {
    let public = [boolean(CKA_TOKEN, true), bytes(CKA_EC_PARAMS, P256), bytes(CKA_LABEL, b"pair")];
    let private = [boolean(CKA_TOKEN, true)];
    device.generate_key_pair(&user_rw(), &Mechanism::new(CKM_EC_KEY_PAIR_GEN), &public, &private).unwrap()
}

fn assert_attributes(device: &SoftDevice, handle: Handle, expected: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) {
    for (kind, value) in expected {
        assert_eq!(&value_of(device, &user_rw(), handle, *kind), value, "attribute 0x{kind:x}");
    }
}

#[test]
fn a_generated_aes_key_has_the_documented_defaults() {
    let (_dir, device) = logged_in();
    let key = generated_aes(&device, &[]);
    let t = || encode_bool(true);
    let f = || encode_bool(false);
    assert_attributes(
        &device,
        key,
        &[
            (CKA_CLASS, encode_ulong(CKO_SECRET_KEY)),
            (CKA_KEY_TYPE, encode_ulong(CKK_AES)),
            (CKA_VALUE_LEN, encode_ulong(32)),
            (CKA_TOKEN, t()),
            (CKA_PRIVATE, t()),
            (CKA_MODIFIABLE, t()),
            (CKA_COPYABLE, t()),
            (CKA_DESTROYABLE, t()),
            (CKA_LABEL, Vec::new()),
            (CKA_ID, Vec::new()),
            (CKA_START_DATE, Vec::new()),
            (CKA_END_DATE, Vec::new()),
            (CKA_SENSITIVE, t()),
            (CKA_EXTRACTABLE, t()),
            (CKA_ALWAYS_SENSITIVE, t()),
            (CKA_NEVER_EXTRACTABLE, f()),
            (CKA_LOCAL, t()),
            (CKA_KEY_GEN_MECHANISM, encode_ulong(CKM_AES_KEY_GEN)),
            (CKA_ENCRYPT, t()),
            (CKA_DECRYPT, t()),
            (CKA_SIGN, t()),
            (CKA_VERIFY, t()),
            (CKA_WRAP, t()),
            (CKA_UNWRAP, t()),
            (CKA_DERIVE, t()),
            (CKA_ALLOWED_MECHANISMS, Vec::new()),
        ],
    );
}

#[test]
fn a_generated_ec_pair_has_usage_defaults_for_its_type_and_shares_its_label() {
    let (_dir, device) = logged_in();
    let (public, private) = ec_pair(&device);
    let t = || encode_bool(true);
    let f = || encode_bool(false);
    assert_attributes(
        &device,
        public,
        &[
            (CKA_CLASS, encode_ulong(CKO_PUBLIC_KEY)),
            (CKA_PRIVATE, f()),
            (CKA_VERIFY, t()),
            (CKA_ENCRYPT, f()),
            (CKA_LOCAL, t()),
            (CKA_EC_PARAMS, P256.to_vec()),
            (CKA_LABEL, b"pair".to_vec()),
        ],
    );
    assert_attributes(
        &device,
        private,
        &[
            (CKA_CLASS, encode_ulong(CKO_PRIVATE_KEY)),
            (CKA_PRIVATE, t()),
            (CKA_SIGN, t()),
            (CKA_DERIVE, t()),
            (CKA_DECRYPT, f()),
            (CKA_SENSITIVE, t()),
            (CKA_KEY_GEN_MECHANISM, encode_ulong(CKM_EC_KEY_PAIR_GEN)),
            (CKA_EC_PARAMS, P256.to_vec()),
            (CKA_LABEL, b"pair".to_vec()),
        ],
    );
    let point = value_of(&device, &user_rw(), public, CKA_EC_POINT);
    assert_eq!(point[0], 0x04, "CKA_EC_POINT is a DER OCTET STRING");
    assert_eq!(value_of(&device, &user_rw(), private, CKA_EC_POINT), point);
    assert_eq!(
        value_of(&device, &user_rw(), private, CKA_PUBLIC_KEY_INFO),
        value_of(&device, &user_rw(), public, CKA_PUBLIC_KEY_INFO)
    );
}

#[test]
fn an_imported_key_is_not_local_and_has_no_generation_mechanism() {
    let (_dir, device) = logged_in();
    let key = device.create_object(&user_rw(), &aes_template(&[3u8; 16], &[])).unwrap();
    assert_attributes(
        &device,
        key,
        &[
            (CKA_LOCAL, encode_bool(false)),
            (CKA_KEY_GEN_MECHANISM, encode_ulong(CK_UNAVAILABLE_INFORMATION)),
            (CKA_ALWAYS_SENSITIVE, encode_bool(false)),
            (CKA_VALUE_LEN, encode_ulong(16)),
        ],
    );
}

#[test]
fn sensitive_and_unextractable_values_are_never_revealed() {
    let (_dir, device) = logged_in();
    let cases = [
        (vec![], AttributeResult::Sensitive),
        (vec![boolean(CKA_SENSITIVE, false), boolean(CKA_EXTRACTABLE, false)], AttributeResult::Sensitive),
        (vec![boolean(CKA_SENSITIVE, false)], AttributeResult::Value(vec![4u8; 16])),
    ];
    for (extra, expected) in cases {
        let key = device.create_object(&user_rw(), &aes_template(&[4u8; 16], &extra)).unwrap();
        let result = device.get_attributes(&user_rw(), key, &[CKA_VALUE]).unwrap();
        assert_eq!(result, vec![expected], "{extra:?}");
    }
}

#[test]
fn private_key_components_are_sensitive_and_unknown_attributes_invalid() {
    let (_dir, device) = logged_in();
    let (public, private) = ec_pair(&device);
    let results = device.get_attributes(&user_rw(), private, &[CKA_VALUE, CKA_LABEL, CKA_MODULUS, 0x7777]).unwrap();
    assert_eq!(
        results,
        vec![AttributeResult::Sensitive, AttributeResult::Value(b"pair".to_vec()), AttributeResult::Invalid, AttributeResult::Invalid]
    );
    assert_eq!(device.get_attributes(&user_rw(), public, &[CKA_SIGN]).unwrap(), vec![AttributeResult::Invalid]);
}

#[test]
fn create_object_errors_follow_the_specification() {
    let (_dir, device) = logged_in();
    let aes = |extra: &[Attribute]| aes_template(&[1u8; 16], extra);
    let without = |kind: CK_ATTRIBUTE_TYPE| aes(&[]).into_iter().filter(|a| a.kind != kind).collect::<Vec<_>>();
    let cases: Vec<(&str, Access, Vec<Attribute>, CK_RV)> = vec![
        ("no class", user_rw(), without(CKA_CLASS), CKR_TEMPLATE_INCOMPLETE),
        ("no key type", user_rw(), without(CKA_KEY_TYPE), CKR_TEMPLATE_INCOMPLETE),
        ("no value", user_rw(), without(CKA_VALUE), CKR_TEMPLATE_INCOMPLETE),
        ("modulus on AES", user_rw(), aes(&[bytes(CKA_MODULUS, &[1])]), CKR_ATTRIBUTE_TYPE_INVALID),
        ("unknown attribute", user_rw(), aes(&[bytes(0x7777, &[1])]), CKR_ATTRIBUTE_TYPE_INVALID),
        ("key type on data", user_rw(), [data_template("d"), vec![ulong(CKA_KEY_TYPE, CKK_AES)]].concat(), CKR_ATTRIBUTE_TYPE_INVALID),
        ("two-byte bool", user_rw(), aes(&[bytes(CKA_SENSITIVE, &[1, 1])]), CKR_ATTRIBUTE_VALUE_INVALID),
        ("bad date", user_rw(), aes(&[bytes(CKA_START_DATE, b"2025-1-1")]), CKR_ATTRIBUTE_VALUE_INVALID),
        ("short AES value", user_rw(), aes_template(&[1u8; 15], &[]), CKR_ATTRIBUTE_VALUE_INVALID),
        ("certificate class", user_rw(), vec![ulong(CKA_CLASS, CKO_CERTIFICATE)], CKR_ATTRIBUTE_VALUE_INVALID),
        ("unknown key type", user_rw(), vec![ulong(CKA_CLASS, CKO_SECRET_KEY), ulong(CKA_KEY_TYPE, CKK_DES3)], CKR_ATTRIBUTE_VALUE_INVALID),
        ("CKA_LOCAL", user_rw(), aes(&[boolean(CKA_LOCAL, true)]), CKR_ATTRIBUTE_READ_ONLY),
        ("CKA_ALWAYS_SENSITIVE", user_rw(), aes(&[boolean(CKA_ALWAYS_SENSITIVE, true)]), CKR_ATTRIBUTE_READ_ONLY),
        ("CKA_NEVER_EXTRACTABLE", user_rw(), aes(&[boolean(CKA_NEVER_EXTRACTABLE, true)]), CKR_ATTRIBUTE_READ_ONLY),
        ("CKA_KEY_GEN_MECHANISM", user_rw(), aes(&[ulong(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN)]), CKR_ATTRIBUTE_READ_ONLY),
        ("CKA_VALUE_LEN on create", user_rw(), aes(&[ulong(CKA_VALUE_LEN, 16)]), CKR_ATTRIBUTE_READ_ONLY),
        ("conflicting duplicate", user_rw(), aes(&[boolean(CKA_TOKEN, false)]), CKR_TEMPLATE_INCONSISTENT),
        ("token object, read-only session", user_ro(), aes(&[]), CKR_SESSION_READ_ONLY),
        ("private object, no login", public_rw(), aes(&[]), CKR_USER_NOT_LOGGED_IN),
    ];
    for (name, access, template, expected) in cases {
        let result = device.create_object(&access, &template);
        assert_eq!(result.map_err(|e| e.rv()), Err(expected), "{name}");
    }
    assert_eq!(device.find_objects(&user_rw(), &[]).unwrap(), Vec::<Handle>::new(), "nothing was created");
}

#[test]
fn generation_errors_follow_the_specification() {
    let (_dir, device) = logged_in();
    let aes = Mechanism::new(CKM_AES_KEY_GEN);
    let ec = Mechanism::new(CKM_EC_KEY_PAIR_GEN);
    let rsa = Mechanism::new(CKM_RSA_PKCS_KEY_PAIR_GEN);
    let secret_cases: Vec<(&str, Mechanism, Vec<Attribute>, CK_RV)> = vec![
        ("no CKA_VALUE_LEN", aes.clone(), vec![], CKR_TEMPLATE_INCOMPLETE),
        ("17-byte AES", aes.clone(), vec![ulong(CKA_VALUE_LEN, 17)], CKR_ATTRIBUTE_VALUE_INVALID),
        ("CKA_LOCAL", aes.clone(), vec![ulong(CKA_VALUE_LEN, 16), boolean(CKA_LOCAL, true)], CKR_ATTRIBUTE_READ_ONLY),
        ("CKA_VALUE", aes.clone(), vec![ulong(CKA_VALUE_LEN, 16), bytes(CKA_VALUE, &[0; 16])], CKR_ATTRIBUTE_READ_ONLY),
        ("wrong class", aes.clone(), vec![ulong(CKA_VALUE_LEN, 16), ulong(CKA_CLASS, CKO_DATA)], CKR_TEMPLATE_INCONSISTENT),
        ("wrong key type", aes.clone(), vec![ulong(CKA_VALUE_LEN, 16), ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)], CKR_TEMPLATE_INCONSISTENT),
        ("pair mechanism", ec.clone(), vec![ulong(CKA_VALUE_LEN, 16)], CKR_MECHANISM_INVALID),
    ];
    for (name, mechanism, template, expected) in secret_cases {
        let result = device.generate_key(&user_rw(), &mechanism, &template);
        assert_eq!(result.map_err(|e| e.rv()), Err(expected), "{name}");
    }
    let pair_cases: Vec<(&str, Mechanism, Vec<Attribute>, Vec<Attribute>, CK_RV)> = vec![
        ("no CKA_MODULUS_BITS", rsa.clone(), vec![], vec![], CKR_TEMPLATE_INCOMPLETE),
        ("CKA_MODULUS given", rsa.clone(), vec![ulong(CKA_MODULUS_BITS, 2048), bytes(CKA_MODULUS, &[1])], vec![], CKR_ATTRIBUTE_READ_ONLY),
        ("no CKA_EC_PARAMS", ec.clone(), vec![], vec![], CKR_TEMPLATE_INCOMPLETE),
        ("EC_PARAMS on private", ec.clone(), vec![bytes(CKA_EC_PARAMS, P256)], vec![bytes(CKA_EC_PARAMS, P256)], CKR_ATTRIBUTE_READ_ONLY),
        (
            "public class in private template",
            ec.clone(),
            vec![bytes(CKA_EC_PARAMS, P256)],
            vec![ulong(CKA_CLASS, CKO_PUBLIC_KEY)],
            CKR_TEMPLATE_INCONSISTENT,
        ),
        ("secret mechanism", aes.clone(), vec![], vec![], CKR_MECHANISM_INVALID),
    ];
    for (name, mechanism, public, private, expected) in pair_cases {
        let result = device.generate_key_pair(&user_rw(), &mechanism, &public, &private);
        assert_eq!(result.map_err(|e| e.rv()), Err(expected), "{name}");
    }
    assert_eq!(device.find_objects(&user_rw(), &[]).unwrap(), Vec::<Handle>::new(), "nothing was created");
}

#[test]
fn set_attributes_errors_follow_the_specification_and_change_nothing() {
    let (_dir, device) = logged_in();
    let key = device.create_object(&user_rw(), &aes_template(&[2u8; 16], &[boolean(CKA_EXTRACTABLE, false)])).unwrap();
    let label = || bytes(CKA_LABEL, b"changed");
    let cases: Vec<(&str, Access, Vec<Attribute>, CK_RV)> = vec![
        ("class", user_rw(), vec![label(), ulong(CKA_CLASS, CKO_DATA)], CKR_ATTRIBUTE_READ_ONLY),
        ("value length", user_rw(), vec![label(), ulong(CKA_VALUE_LEN, 32)], CKR_ATTRIBUTE_READ_ONLY),
        ("sensitive back to false", user_rw(), vec![label(), boolean(CKA_SENSITIVE, false)], CKR_ATTRIBUTE_READ_ONLY),
        ("extractable back to true", user_rw(), vec![label(), boolean(CKA_EXTRACTABLE, true)], CKR_ATTRIBUTE_READ_ONLY),
        ("token", user_rw(), vec![label(), boolean(CKA_TOKEN, false)], CKR_ATTRIBUTE_READ_ONLY),
        ("local", user_rw(), vec![label(), boolean(CKA_LOCAL, true)], CKR_ATTRIBUTE_READ_ONLY),
        ("unknown", user_rw(), vec![label(), bytes(0x7777, b"x")], CKR_ATTRIBUTE_TYPE_INVALID),
        ("malformed", user_rw(), vec![label(), bytes(CKA_SIGN, &[])], CKR_ATTRIBUTE_VALUE_INVALID),
        ("read-only session", user_ro(), vec![label()], CKR_SESSION_READ_ONLY),
        ("invisible", public_rw(), vec![label()], CKR_OBJECT_HANDLE_INVALID),
    ];
    for (name, access, template, expected) in cases {
        let result = device.set_attributes(&access, key, &template);
        assert_eq!(result.map_err(|e| e.rv()), Err(expected), "{name}");
    }
    assert_eq!(value_of(&device, &user_rw(), key, CKA_LABEL), Vec::<u8>::new());
}

#[test]
fn set_attributes_changes_what_may_change() {
    let (_dir, device) = logged_in();
    let key = device.create_object(&user_rw(), &aes_template(&[2u8; 16], &[boolean(CKA_SENSITIVE, false)])).unwrap();
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
        assert_eq!(value_of(&device, &user_rw(), key, change.kind), change.value, "0x{:x}", change.kind);
    }
    assert_eq!(device.get_attributes(&user_rw(), key, &[CKA_VALUE]).unwrap(), vec![AttributeResult::Sensitive]);
    assert_eq!(value_of(&device, &user_rw(), key, CKA_ALWAYS_SENSITIVE), encode_bool(false));
}

#[test]
fn an_unmodifiable_object_refuses_every_change() {
    let (_dir, device) = logged_in();
    let handle = device.create_object(&user_rw(), &[data_template("fixed"), vec![boolean(CKA_MODIFIABLE, false)]].concat()).unwrap();
    let result = device.set_attributes(&user_rw(), handle, &[bytes(CKA_LABEL, b"other")]);
    assert_eq!(result.map_err(|e| e.rv()), Err(CKR_ACTION_PROHIBITED));
}

#[test]
fn both_halves_of_an_rsa_pair_describe_the_public_key() {
    let (_dir, device) = logged_in();
    let (public, private) = rsa_pair(&device, b"rsa");
    for kind in [CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO, CKA_ID] {
        assert_eq!(value_of(&device, &user_rw(), public, kind), value_of(&device, &user_rw(), private, kind), "0x{kind:x}");
    }
    assert_eq!(value_of(&device, &user_rw(), private, CKA_MODULUS_BITS), encode_ulong(2048));
    assert_eq!(value_of(&device, &user_rw(), public, CKA_PUBLIC_EXPONENT), vec![1, 0, 1]);
    let hidden = [CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT];
    let results = device.get_attributes(&user_rw(), private, &hidden).unwrap();
    assert!(results.iter().all(|r| *r == AttributeResult::Sensitive), "{results:?}");
}
