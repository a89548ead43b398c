//! Tests of key generation, import and export.

use super::keys::*;
use super::test_support::*;
use super::{der, public_attributes_of_private, public_attributes_of_public};
use crate::error::Error;
use crate::object::{Attribute, Attributes};
use cryptoki_sys::*;
use openssl::hash::MessageDigest;
use openssl::sign::{Signer, Verifier};

fn attribute(kind: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Attribute {
    Attribute::new(kind, value.to_vec())
}

fn from_attributes(attributes: &Attributes, kinds: &[CK_ATTRIBUTE_TYPE]) -> Vec<Attribute> {
    kinds
        .iter()
        .map(|k| attribute(*k, attributes.get(*k).unwrap()))
        .collect()
}

#[test]
fn generated_rsa_key_reports_its_public_attributes() {
    let key = rsa_private();
    let attributes = public_attributes_of_private(&key).unwrap();
    assert_eq!(attributes.ulong(CKA_KEY_TYPE), Some(CKK_RSA));
    assert_eq!(attributes.ulong(CKA_MODULUS_BITS), Some(2048));
    assert_eq!(attributes.get(CKA_MODULUS).unwrap().len(), 256);
    assert_eq!(attributes.get(CKA_PUBLIC_EXPONENT), Some(&[1u8, 0, 1][..]));
    assert_eq!(
        attributes.get(CKA_PUBLIC_KEY_INFO).unwrap(),
        key.public_key_to_der().unwrap()
    );
}

#[test]
fn rsa_generation_outside_1024_to_4096_bits_is_a_key_size_error() {
    assert_fails!(generate_rsa(1023, &[]), Error::KeySizeRange);
    assert_eq!(generate_rsa(1024, &[]).unwrap().bits(), 1024);
    assert_fails!(generate_rsa(4097, &[]), Error::KeySizeRange);
}

#[test]
fn rsa_generation_with_an_even_exponent_is_refused() {
    assert_fails!(
        generate_rsa(2048, &[1, 0, 0]),
        Error::AttributeValueInvalid(CKA_PUBLIC_EXPONENT)
    );
}

#[test]
fn generated_ec_keys_report_oid_params_and_octet_string_points() {
    for (params, point_len) in [(P256, 65), (P384, 97), (P521, 133)] {
        let key = generate_ec(params).unwrap();
        let attributes = public_attributes_of_private(&key).unwrap();
        assert_eq!(attributes.ulong(CKA_KEY_TYPE), Some(CKK_EC));
        assert_eq!(attributes.get(CKA_EC_PARAMS), Some(params));
        let point = der::decode_octet_string(attributes.get(CKA_EC_POINT).unwrap()).unwrap();
        assert_eq!(point.len(), point_len);
        assert_eq!(point[0], 4);
    }
}

#[test]
fn ed25519_is_generated_from_the_oid_or_the_curve_name() {
    for params in [ED25519, der::ED25519_PARAMS_NAME] {
        let key = generate_ec(params).unwrap();
        let attributes = public_attributes_of_private(&key).unwrap();
        assert_eq!(attributes.ulong(CKA_KEY_TYPE), Some(CKK_EC_EDWARDS));
        assert_eq!(attributes.get(CKA_EC_PARAMS), Some(ED25519));
        assert_eq!(attributes.get(CKA_EC_POINT).unwrap()[..2], [0x04, 0x20]);
    }
}

#[test]
fn unknown_or_explicit_curves_are_not_supported() {
    let p192 = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x01];
    let explicit = [0x30, 0x03, 0x02, 0x01, 0x01];
    let unknown_name = b"\x13\x0abrainpool1";
    let name_in_utf8 = b"\x0c\x0acurve25519";
    for params in [
        &p192[..],
        &explicit,
        BRAINPOOL_P256R1,
        unknown_name,
        name_in_utf8,
        &[],
    ] {
        assert_fails!(generate_ec(params), Error::CurveNotSupported);
    }
}

#[test]
fn secrets_are_random_and_bounded() {
    assert_eq!(generate_secret(32).unwrap().len(), 32);
    assert_ne!(generate_secret(16).unwrap(), generate_secret(16).unwrap());
    assert_fails!(generate_secret(0), Error::KeySizeRange);
    assert_eq!(generate_secret(3072).unwrap().len(), 3072);
    assert_fails!(generate_secret(3073), Error::KeySizeRange);
}

/// A private key of `key_type` imported from its `CKA_EC_PARAMS` and `CKA_VALUE`.
fn import_from_value(
    key_type: CK_KEY_TYPE,
    params: &[u8],
    value: &[u8],
) -> crate::error::Result<openssl::pkey::PKey<openssl::pkey::Private>> {
    let template = [
        attribute(CKA_EC_PARAMS, params),
        attribute(CKA_VALUE, value),
    ];
    import_private(key_type, &template)
}

fn rsa_private_template(with_crt: bool) -> Vec<Attribute> {
    let rsa = rsa_private().rsa().unwrap();
    let mut template = vec![
        attribute(CKA_MODULUS, &rsa.n().to_vec()),
        attribute(CKA_PUBLIC_EXPONENT, &rsa.e().to_vec()),
        attribute(CKA_PRIVATE_EXPONENT, &rsa.d().to_vec()),
    ];
    if with_crt {
        template.push(attribute(CKA_PRIME_1, &rsa.p().unwrap().to_vec()));
        template.push(attribute(CKA_PRIME_2, &rsa.q().unwrap().to_vec()));
        template.push(attribute(CKA_EXPONENT_1, &rsa.dmp1().unwrap().to_vec()));
        template.push(attribute(CKA_EXPONENT_2, &rsa.dmq1().unwrap().to_vec()));
        template.push(attribute(CKA_COEFFICIENT, &rsa.iqmp().unwrap().to_vec()));
    }
    template
}

fn signs_like_the_original(imported: &openssl::pkey::PKey<openssl::pkey::Private>) {
    let mut signer = Signer::new(MessageDigest::sha256(), imported).unwrap();
    let signature = signer.sign_oneshot_to_vec(b"message").unwrap();
    let original = rsa_private();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &original).unwrap();
    assert!(verifier.verify_oneshot(&signature, b"message").unwrap());
}

#[test]
fn rsa_private_key_imports_with_crt_values() {
    let imported = import_private(CKK_RSA, &rsa_private_template(true)).unwrap();
    signs_like_the_original(&imported);
}

#[test]
fn rsa_private_key_imports_from_modulus_and_exponents_alone() {
    let imported = import_private(CKK_RSA, &rsa_private_template(false)).unwrap();
    let original = rsa_private().rsa().unwrap();
    let rsa = imported.rsa().unwrap();
    let (p, q) = (rsa.p().unwrap().to_vec(), rsa.q().unwrap().to_vec());
    let (op, oq) = (
        original.p().unwrap().to_vec(),
        original.q().unwrap().to_vec(),
    );
    assert!((p == op && q == oq) || (p == oq && q == op));
    signs_like_the_original(&imported);
}

/// Imports the RSA private key's template (with or without its CRT
/// values) after `change` has spoilt it.
fn import_spoilt_rsa_private(
    with_crt: bool,
    change: impl FnOnce(&mut Vec<Attribute>),
) -> crate::error::Result<openssl::pkey::PKey<openssl::pkey::Private>> {
    let mut template = rsa_private_template(with_crt);
    change(&mut template);
    import_private(CKK_RSA, &template)
}

#[test]
fn rsa_private_key_without_its_private_exponent_is_incomplete() {
    let result = import_spoilt_rsa_private(true, |template| {
        template.retain(|a| a.kind != CKA_PRIVATE_EXPONENT)
    });
    assert_fails!(result, Error::TemplateIncomplete(CKA_PRIVATE_EXPONENT));
}

#[test]
fn rsa_private_key_with_a_wrong_prime_is_invalid() {
    let result = import_spoilt_rsa_private(true, |template| template[3].value[10] ^= 1);
    assert_fails!(result, Error::AttributeValueInvalid(_));
}

#[test]
fn rsa_private_key_with_a_wrong_private_exponent_is_invalid() {
    let result = import_spoilt_rsa_private(false, |template| template[2].value[100] ^= 1);
    assert_fails!(result, Error::AttributeValueInvalid(_));
}

#[test]
fn rsa_public_key_imports_from_its_attributes() {
    let attributes = public_attributes_of_private(&rsa_private()).unwrap();
    let template = from_attributes(&attributes, &[CKA_MODULUS, CKA_PUBLIC_EXPONENT]);
    let public = import_public(CKK_RSA, &template).unwrap();
    assert_eq!(public_attributes_of_public(&public).unwrap(), attributes);
}

#[test]
fn rsa_public_key_below_1024_bits_is_invalid() {
    let rsa = openssl::rsa::Rsa::generate(512).unwrap();
    let template = [
        attribute(CKA_MODULUS, &rsa.n().to_vec()),
        attribute(CKA_PUBLIC_EXPONENT, &rsa.e().to_vec()),
    ];
    assert_fails!(
        import_public(CKK_RSA, &template),
        Error::AttributeValueInvalid(CKA_MODULUS)
    );
}

#[test]
fn ec_private_key_imports_from_its_scalar() {
    for params in [P256, P384, P521] {
        let key = ec_private(params);
        let scalar = key.ec_key().unwrap().private_key().to_vec();
        let imported = import_from_value(CKK_EC, params, &scalar).unwrap();
        assert_eq!(
            public_attributes_of_private(&imported).unwrap(),
            public_attributes_of_private(&key).unwrap()
        );
    }
}

#[test]
fn ec_private_scalar_out_of_range_is_invalid() {
    let order_plus = [0xFF; 32];
    for value in [&[0u8][..], &order_plus] {
        let template = [attribute(CKA_EC_PARAMS, P256), attribute(CKA_VALUE, value)];
        assert_fails!(
            import_private(CKK_EC, &template),
            Error::AttributeValueInvalid(CKA_VALUE)
        );
    }
}

#[test]
fn ec_key_on_an_unsupported_curve_is_refused() {
    let template = [
        attribute(CKA_EC_PARAMS, BRAINPOOL_P256R1),
        attribute(CKA_VALUE, &[1]),
    ];
    assert_fails!(import_private(CKK_EC, &template), Error::CurveNotSupported);
    let template = [
        attribute(CKA_EC_PARAMS, ED25519),
        attribute(CKA_VALUE, &[1; 32]),
    ];
    assert_fails!(import_private(CKK_EC, &template), Error::CurveNotSupported);
}

#[test]
fn ec_public_key_imports_from_a_der_or_raw_point() {
    for params in [P256, P384, P521, ED25519] {
        let key = ec_private(params);
        let attributes = public_attributes_of_private(&key).unwrap();
        let key_type = attributes.ulong(CKA_KEY_TYPE).unwrap();
        let der_point = attributes.get(CKA_EC_POINT).unwrap();
        let raw_point = der::decode_octet_string(der_point).unwrap();
        for point in [der_point, raw_point] {
            let template = [
                attribute(CKA_EC_PARAMS, params),
                attribute(CKA_EC_POINT, point),
            ];
            let public = import_public(key_type, &template).unwrap();
            assert_eq!(public_attributes_of_public(&public).unwrap(), attributes);
        }
    }
}

#[test]
fn ec_point_off_the_curve_is_invalid() {
    let attributes = public_attributes_of_private(&ec_private(P256)).unwrap();
    let mut point = attributes.get(CKA_EC_POINT).unwrap().to_vec();
    point[40] ^= 1;
    let template = [
        attribute(CKA_EC_PARAMS, P256),
        attribute(CKA_EC_POINT, &point),
    ];
    assert_fails!(
        import_public(CKK_EC, &template),
        Error::AttributeValueInvalid(CKA_EC_POINT)
    );
}

#[test]
fn ec_public_key_without_a_point_is_incomplete() {
    let template = [attribute(CKA_EC_PARAMS, P256)];
    assert_fails!(
        import_public(CKK_EC, &template),
        Error::TemplateIncomplete(CKA_EC_POINT)
    );
}

#[test]
fn ed25519_private_key_imports_from_its_raw_bytes() {
    let key = ec_private(ED25519);
    let raw = key.raw_private_key().unwrap();
    let imported = import_from_value(CKK_EC_EDWARDS, ED25519, &raw).unwrap();
    assert_eq!(
        imported.raw_public_key().unwrap(),
        key.raw_public_key().unwrap()
    );
    let bad = [
        attribute(CKA_EC_PARAMS, ED25519),
        attribute(CKA_VALUE, &raw[..31]),
    ];
    assert_fails!(
        import_private(CKK_EC_EDWARDS, &bad),
        Error::AttributeValueInvalid(CKA_VALUE)
    );
}

#[test]
fn secret_key_types_are_not_imported_as_asymmetric_keys() {
    assert_fails!(
        import_private(CKK_AES, &[]),
        Error::AttributeValueInvalid(CKA_KEY_TYPE)
    );
    assert_fails!(
        import_public(CKK_GENERIC_SECRET, &[]),
        Error::AttributeValueInvalid(CKA_KEY_TYPE)
    );
}

#[test]
fn private_keys_round_trip_through_pkcs8() {
    for key in [rsa_private(), ec_private(P384), ec_private(ED25519)] {
        let der = private_to_der(&key).unwrap();
        let back = private_from_der(&der).unwrap();
        assert!(back.public_eq(&key));
        assert_eq!(private_to_der(&back).unwrap(), der);
    }
}

#[test]
fn public_keys_round_trip_through_spki() {
    for key in [rsa_private(), ec_private(P521), ec_private(ED25519)] {
        let public = public_from_private(&key).unwrap();
        let der = public_to_der(&public).unwrap();
        assert_eq!(der, key.public_key_to_der().unwrap());
        assert!(public_from_der(&der).unwrap().public_eq(&key));
    }
}

#[test]
fn malformed_pkcs8_is_a_wrapped_key_error() {
    let mut der = private_to_der(&ec_private(P256)).unwrap();
    let shorter = der.len() - 3;
    der.truncate(shorter);
    assert_fails!(private_from_der(&der), Error::WrappedKeyInvalid);
    assert_fails!(
        public_from_der(b"junk"),
        Error::AttributeValueInvalid(CKA_PUBLIC_KEY_INFO)
    );
}

#[test]
fn pkcs8_of_an_unsupported_curve_is_refused() {
    let group = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::BRAINPOOL_P256R1).unwrap();
    let key =
        openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap();
    let der = key.private_key_to_pkcs8().unwrap();
    assert_fails!(private_from_der(&der), Error::CurveNotSupported);
}
