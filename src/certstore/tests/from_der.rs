//! Attributes filled from a real DER certificate, and caller-given values kept.

use super::*;
use crate::certstore::x509::check_value;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// A certificate for `subject` issued by `issuer` (self-signed when `None`),
/// valid from 2025-05-16 to 2035-01-31, serial 0x00C0FFEE (a leading zero
/// byte in DER because the high bit is set).
fn certificate(
    subject: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", subject).unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(0xC0FFEE).unwrap()).unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder
        .set_issuer_name(issuer.map(|(c, _)| c.subject_name()).unwrap_or(&name))
        .unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::from_str("20250516224331Z").unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_str("20350131000000Z").unwrap())
        .unwrap();
    builder
        .sign(
            issuer.map(|(_, k)| k).unwrap_or(key),
            MessageDigest::sha256(),
        )
        .unwrap();
    builder.build()
}

fn spki_bits(key: &PKey<Private>) -> Vec<u8> {
    // For RSA, the subjectPublicKey BIT STRING holds the PKCS#1 RSAPublicKey.
    key.rsa().unwrap().public_key_to_der_pkcs1().unwrap()
}

fn sha1(data: &[u8]) -> Vec<u8> {
    openssl::hash::hash(MessageDigest::sha1(), data)
        .unwrap()
        .to_vec()
}

fn template_for(certificate: &X509, token: bool) -> Vec<Attribute> {
    vec![
        ulong(CKA_CLASS, CKO_CERTIFICATE),
        ulong(CKA_CERTIFICATE_TYPE, CKC_X_509),
        boolean(CKA_TOKEN, token),
        bytes(CKA_SUBJECT, &certificate.subject_name().to_der().unwrap()),
        bytes(CKA_VALUE, &certificate.to_der().unwrap()),
    ]
}

#[test]
fn attributes_left_out_are_filled_from_the_certificate() {
    let fixture = Fixture::new();
    let key = shared_rsa(1);
    let root = certificate("Root CA", &key, None);
    let der = root.to_der().unwrap();
    let handle = fixture.create(&template_for(&root, true));
    let get = |kind| fixture.value(&user(), handle, kind);
    assert_eq!(get(CKA_ISSUER), root.issuer_name().to_der().unwrap());
    assert_eq!(
        get(CKA_SERIAL_NUMBER),
        vec![0x02, 0x04, 0x00, 0xC0, 0xFF, 0xEE],
        "DER INTEGER"
    );
    assert_eq!(get(CKA_START_DATE), b"20250516");
    assert_eq!(get(CKA_END_DATE), b"20350131");
    assert_eq!(get(CKA_PUBLIC_KEY_INFO), key.public_key_to_der().unwrap());
    assert_eq!(get(CKA_HASH_OF_SUBJECT_PUBLIC_KEY), sha1(&spki_bits(&key)));
    assert_eq!(
        get(CKA_HASH_OF_ISSUER_PUBLIC_KEY),
        sha1(&spki_bits(&key)),
        "self-signed: its own key"
    );
    assert_eq!(get(CKA_CHECK_VALUE), sha1(&der)[..3].to_vec());
    // And the same after a restart: the blob carries the filled attributes.
    let reopened = fixture.reopen();
    assert_eq!(
        value_of(&reopened, &public(), handle, CKA_SERIAL_NUMBER),
        vec![0x02, 0x04, 0x00, 0xC0, 0xFF, 0xEE]
    );
}

#[test]
fn the_issuer_key_hash_comes_from_an_issuer_certificate_in_the_store() {
    let fixture = Fixture::new();
    let (root_key, leaf_key) = (shared_rsa(1), shared_rsa(0));
    let root = certificate("Root CA", &root_key, None);
    let leaf = certificate("leaf.example", &leaf_key, Some((&root, &root_key)));
    let orphan = fixture.create(&template_for(&leaf, false));
    assert_eq!(
        fixture.value(&user(), orphan, CKA_HASH_OF_ISSUER_PUBLIC_KEY),
        b"",
        "issuer unknown"
    );
    fixture.create(&template_for(&root, true));
    let handle = fixture.create(&template_for(&leaf, true));
    assert_eq!(
        fixture.value(&user(), handle, CKA_HASH_OF_ISSUER_PUBLIC_KEY),
        sha1(&spki_bits(&root_key))
    );
    assert_eq!(
        fixture.value(&user(), handle, CKA_HASH_OF_SUBJECT_PUBLIC_KEY),
        sha1(&spki_bits(&leaf_key))
    );
}

#[test]
fn the_name_hash_algorithm_chooses_the_key_hashes() {
    let fixture = Fixture::new();
    let key = shared_rsa(1);
    let root = certificate("Root CA", &key, None);
    let mut template = template_for(&root, false);
    template.push(ulong(CKA_NAME_HASH_ALGORITHM, CKM_SHA256));
    let handle = fixture.create(&template);
    let expected = openssl::hash::hash(MessageDigest::sha256(), &spki_bits(&key))
        .unwrap()
        .to_vec();
    assert_eq!(
        fixture.value(&user(), handle, CKA_HASH_OF_SUBJECT_PUBLIC_KEY),
        expected
    );
}

#[test]
fn caller_given_values_are_kept_as_given() {
    // Java's keytool writes its own forms of CKA_ISSUER and CKA_SERIAL_NUMBER.
    let fixture = Fixture::new();
    let root = certificate("Root CA", &shared_rsa(1), None);
    let mut template = template_for(&root, true);
    template.push(bytes(CKA_ISSUER, b"issuer as the caller wrote it"));
    template.push(bytes(CKA_SERIAL_NUMBER, &[0xC0, 0xFF, 0xEE]));
    template.push(bytes(CKA_START_DATE, b"20000101"));
    let handle = fixture.create(&template);
    let get = |kind| fixture.value(&user(), handle, kind);
    assert_eq!(get(CKA_ISSUER), b"issuer as the caller wrote it");
    assert_eq!(get(CKA_SERIAL_NUMBER), vec![0xC0, 0xFF, 0xEE]);
    assert_eq!(get(CKA_START_DATE), b"20000101");
    assert_eq!(
        get(CKA_END_DATE),
        b"20350131",
        "what was left out is still filled"
    );
}

#[test]
fn a_value_that_is_not_a_certificate_gets_only_a_check_value() {
    let fixture = Fixture::new();
    let handle = fixture.create_reference(true, "MyCertificate");
    let get = |kind| fixture.value(&user(), handle, kind);
    assert_eq!(get(CKA_CHECK_VALUE), check_value(REFERENCE_VALUE));
    for kind in [
        CKA_ISSUER,
        CKA_SERIAL_NUMBER,
        CKA_START_DATE,
        CKA_PUBLIC_KEY_INFO,
        CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    ] {
        assert_eq!(get(kind), b"", "attribute 0x{kind:x}");
    }
}

#[test]
fn a_new_value_refreshes_derived_attributes_but_keeps_given_ones() {
    let fixture = Fixture::new();
    let (old, new) = (
        certificate("old", &shared_rsa(1), None),
        certificate("new", &shared_rsa(0), None),
    );
    let mut template = template_for(&old, true);
    template.push(bytes(CKA_SERIAL_NUMBER, b"given"));
    let handle = fixture.create(&template);
    let new_der = new.to_der().unwrap();
    fixture
        .set(&user(), handle, &[bytes(CKA_VALUE, &new_der)])
        .unwrap();
    let get = |kind| fixture.value(&user(), handle, kind);
    assert_eq!(get(CKA_CHECK_VALUE), check_value(&new_der));
    assert_eq!(
        get(CKA_ISSUER),
        new.issuer_name().to_der().unwrap(),
        "derived: refreshed"
    );
    assert_eq!(
        get(CKA_PUBLIC_KEY_INFO),
        shared_rsa(0).public_key_to_der().unwrap()
    );
    assert_eq!(get(CKA_SERIAL_NUMBER), b"given", "given: kept");
    assert_eq!(
        get(CKA_SUBJECT),
        old.subject_name().to_der().unwrap(),
        "CKA_SUBJECT is the caller's, never derived"
    );
}
