//! X.509 certificate objects through the C ABI (issue 3), as
//! `reference/pkcs-api-certificate-storage.md` describes them: the sample
//! flow, the error codes, handles, blobs, visibility, attributes filled
//! from a real certificate, searches, tampering and two processes creating
//! certificates in one store at once.
//!
//! Every test runs once per certificate store (issue 4): `local::<name>`
//! over a directory, `azurite::<name>` over a container of its own on the
//! Azurite `AZURITE_BLOB_URL` names (see `.ci/azurite.sh`). Blobs are
//! inspected and tampered with through the library's `BlobStore`, so one
//! body serves both; the few checks only the local store can make say so.
//!
//! The two-process test re-runs this executable with the `#[ignore]`d
//! worker selected; never run this binary with `--include-ignored`.

#[macro_use]
mod common;

use azcloudhsm_pkcs11::certstore::{BlobStore, CreateOutcome, UpdateOutcome};
use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const FIRST_HANDLE: CK_OBJECT_HANDLE = 0xFFF0_0000;
const LAST_HANDLE: CK_OBJECT_HANDLE = 0xFFFF_FFFE;

/// The reference sample's dummy certificate value and subject.
const SAMPLE_VALUE: [u8; 8] = [0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0];
const SAMPLE_SUBJECT: [u8; 30] = [
    0x30, 0x1D, 0x31, 0x1B, 0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x12, b'M', b'y', b'C',
    b'e', b'r', b't', b'i', b'f', b'i', b'c', b'a', b't', b'e', b'-', b'B', b'b', b'j',
];

/// The reference sample's `certTemplate`, with `label` in place of "MyCertificate".
fn sample_template(label: &str, token: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(token),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(SAMPLE_SUBJECT.to_vec()),
        Attribute::Id(vec![123]),
        Attribute::Value(SAMPLE_VALUE.to_vec()),
    ]
}

fn create(session: &Session, template: &[Attribute]) -> ObjectHandle {
    session
        .create_object(template)
        .unwrap_or_else(|e| panic!("C_CreateObject certificate: {e}"))
}

fn find_certificates(session: &Session, label: Option<&str>) -> Vec<CK_OBJECT_HANDLE> {
    let mut template = vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
    ];
    if let Some(label) = label {
        template.push(Attribute::Label(label.as_bytes().to_vec()));
    }
    let mut found: Vec<_> = find(session, &template)
        .iter()
        .map(|h| h.handle())
        .collect();
    found.sort();
    found
}

/// A certificate's blob, read through the token's store; `None` when there is none.
fn read_blob(token: &TestToken, handle: CK_OBJECT_HANDLE) -> Option<Vec<u8>> {
    token
        .blob_store()
        .read(&blob_name(handle))
        .expect("read a blob")
        .map(|(content, _version)| content)
}

/// The metadata a listing shows for blob `name` (none in the local store).
fn listed_metadata(store: &dyn BlobStore, name: &str) -> BTreeMap<String, String> {
    store
        .list(name)
        .expect("list the blobs")
        .into_iter()
        .find(|entry| entry.name == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
        .metadata
        .unwrap_or_default()
}

/// `C_GetAttributeValue` of one attribute with the two-call protocol.
fn raw_get(
    session: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    kind: CK_ATTRIBUTE_TYPE,
) -> Result<Vec<u8>, CK_RV> {
    let mut query = [length_query(kind)];
    let rv = ck!(C_GetAttributeValue(session, object, query.as_mut_ptr(), 1));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut value = vec![0u8; query[0].ulValueLen as usize];
    let mut template = [raw_attribute(kind, &mut value)];
    let rv = ck!(C_GetAttributeValue(
        session,
        object,
        template.as_mut_ptr(),
        1
    ));
    if rv != CKR_OK {
        return Err(rv);
    }
    Ok(value)
}

// ----- one test per body and store -----

/// Declares, for every test body `name(store: Store)`, the tests
/// `local::name` and `azurite::name`. An Azurite test skips (or, under
/// `CI`, fails) when `AZURITE_BLOB_URL` is unset; each one gets a container
/// of its own. A body missing from the list is dead code, which
/// `-D warnings` refuses.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod local {
            use super::common::Store;
            $(
                #[test]
                fn $name() {
                    super::$name(Store::Local)
                }
            )*
        }
        mod azurite {
            use super::common::Store;
            $(
                #[test]
                fn $name() {
                    if Store::Azurite.is_available() {
                        super::$name(Store::Azurite)
                    }
                }
            )*
        }
    };
}

on_both_stores! {
    reference_sample_flow_runs_end_to_end,
    bad_certificate_templates_are_refused_with_the_specified_code,
    a_bool_attribute_of_the_wrong_size_is_attribute_value_invalid,
    copy_with_a_template_is_refused_and_creates_nothing,
    protected_certificates_refuse_the_prohibited_action,
    copyable_cannot_be_set_back_to_true,
    certificate_attributes_outside_the_settable_set_are_refused,
    unknown_certificate_attribute_is_unavailable_while_the_others_are_filled,
    certificate_object_size_is_reported,
    certificate_handles_increase_within_the_certificate_range,
    blob_files_appear_and_disappear_with_token_certificates,
    session_certificates_write_no_blob,
    blob_is_a_compact_jws_signed_with_rs512,
    setting_token_false_removes_the_blob_and_keeps_the_object,
    setting_token_true_stores_a_session_certificate_as_a_blob,
    session_certificates_are_shared_by_sessions_and_go_with_their_session,
    private_certificates_are_hidden_before_login,
    search_by_token_false_finds_only_session_certificates,
    token_certificates_persist_across_reinitialisation,
    certificates_are_found_before_login,
    token_certificate_creation_without_login_is_user_not_logged_in,
    token_certificate_creation_in_a_read_only_session_is_session_read_only,
    a_real_certificate_gets_issuer_serial_dates_and_public_key_info_filled,
    keys_and_certificates_are_returned_together_by_a_template_that_fits_both,
    find_objects_returns_at_most_max_count_per_call_and_continues,
    find_by_subject_and_by_id_uses_certificate_attributes,
    tampered_blob_is_left_out_of_searches_and_logged_after_a_restart,
    blob_tampered_while_running_is_left_out_of_the_next_search,
    blob_tampered_while_running_is_left_out_once_the_listing_interval_passed,
    blob_with_another_handle_is_left_out_of_searches,
    threads_creating_certificates_at_once_get_distinct_handles_each_serving_its_own_certificate,
    two_processes_creating_300_certificates_each_get_600_distinct_verified_handles,
    a_certificate_date_that_is_no_calendar_day_is_attribute_value_invalid,
    a_user_restating_cka_trusted_true_on_a_trusted_certificate_is_attribute_read_only,
}

// ----- the reference's flow -----

fn reference_sample_flow_runs_end_to_end(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let h = session.handle();

    // create_cert: the first certificate of a fresh store gets 4293918720.
    let certificate = create(&session, &sample_template("MyCertificate", true));
    assert_eq!(certificate.handle(), 4293918720);

    // get_cert_attribute: sizes first, then values.
    let kinds = [
        CKA_CLASS,
        CKA_CERTIFICATE_TYPE,
        CKA_TOKEN,
        CKA_LABEL,
        CKA_ID,
    ];
    let mut sizes: Vec<CK_ATTRIBUTE> = kinds.iter().map(|k| length_query(*k)).collect();
    assert_ck!(
        ck!(C_GetAttributeValue(
            h,
            certificate.handle(),
            sizes.as_mut_ptr(),
            5
        )),
        CKR_OK
    );
    let lengths: Vec<CK_ULONG> = sizes.iter().map(|a| a.ulValueLen).collect();
    assert_eq!(lengths, vec![8, 8, 1, 13, 1]);
    let mut buffers: Vec<Vec<u8>> = lengths.iter().map(|l| vec![0u8; *l as usize]).collect();
    let mut values: Vec<CK_ATTRIBUTE> = kinds
        .iter()
        .zip(buffers.iter_mut())
        .map(|(k, b)| raw_attribute(*k, b))
        .collect();
    assert_ck!(
        ck!(C_GetAttributeValue(
            h,
            certificate.handle(),
            values.as_mut_ptr(),
            5
        )),
        CKR_OK
    );
    assert_eq!(
        buffers,
        vec![
            ulong_bytes(CKO_CERTIFICATE),
            ulong_bytes(CKC_X_509),
            vec![CK_TRUE],
            b"MyCertificate".to_vec(),
            vec![123]
        ]
    );

    // find_cert: class + type + label.
    assert_eq!(
        find_certificates(&session, Some("MyCertificate")),
        vec![certificate.handle()]
    );

    // set_cert_attribute: token=false, label, subject, id, value.
    let new_subject = vec![0x40, 0x41, 0x42, 0x43, 0x44];
    let new_value = vec![
        0x10, 0x20, 0x30, 0x40, 0x50, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
    ];
    session
        .update_attributes(
            certificate,
            &[
                Attribute::Token(false),
                Attribute::Label(b"This is a new label".to_vec()),
                Attribute::Subject(new_subject.clone()),
                Attribute::Id(vec![254]),
                Attribute::Value(new_value.clone()),
            ],
        )
        .expect("C_SetAttributeValue on a certificate");
    let read = session
        .get_attributes(
            certificate,
            &[
                AttributeType::Token,
                AttributeType::Label,
                AttributeType::Subject,
                AttributeType::Id,
                AttributeType::Value,
            ],
        )
        .unwrap();
    assert_eq!(
        read,
        vec![
            Attribute::Token(false),
            Attribute::Label(b"This is a new label".to_vec()),
            Attribute::Subject(new_subject.clone()),
            Attribute::Id(vec![254]),
            Attribute::Value(new_value.clone()),
        ]
    );

    // copy_cert: NULL template.
    let mut copy: CK_OBJECT_HANDLE = 0;
    assert_ck!(
        ck!(C_CopyObject(
            h,
            certificate.handle(),
            std::ptr::null_mut(),
            0,
            &mut copy
        )),
        CKR_OK
    );
    assert_ne!(copy, certificate.handle());
    assert_eq!(raw_get(h, copy, CKA_VALUE), Ok(new_value));
    assert_eq!(raw_get(h, copy, CKA_SUBJECT), Ok(new_subject));

    // delete_cert: the copy, then the original.
    assert_ck!(ck!(C_DestroyObject(h, copy)), CKR_OK);
    assert_ck!(ck!(C_DestroyObject(h, certificate.handle())), CKR_OK);
    assert!(find_certificates(&session, None).is_empty());
}

// ----- error codes -----

fn bad_certificate_templates_are_refused_with_the_specified_code(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let without = |kind: AttributeType| -> Vec<Attribute> {
        sample_template("bad", true)
            .into_iter()
            .filter(|a| a.attribute_type() != kind)
            .collect()
    };
    let with = |extra: Attribute| -> Vec<Attribute> {
        let mut t: Vec<Attribute> = sample_template("bad", true)
            .into_iter()
            .filter(|a| a.attribute_type() != extra.attribute_type())
            .collect();
        t.push(extra);
        t
    };
    let cases: Vec<(&str, Vec<Attribute>, RvError)> = vec![
        (
            "missing CKA_VALUE",
            without(AttributeType::Value),
            RvError::TemplateIncomplete,
        ),
        (
            "missing CKA_SUBJECT",
            without(AttributeType::Subject),
            RvError::TemplateIncomplete,
        ),
        (
            "missing CKA_CERTIFICATE_TYPE",
            without(AttributeType::CertificateType),
            RvError::TemplateIncomplete,
        ),
        (
            "CKC_X_509_ATTR_CERT (CKR_CERTIFICATE_TYPE_INVALID's value)",
            with(Attribute::CertificateType(CertificateType::X_509_ATTR)),
            RvError::AttributeValueInvalid,
        ),
        (
            "CKA_SIGN on a certificate",
            with(Attribute::Sign(true)),
            RvError::AttributeTypeInvalid,
        ),
        (
            "CKA_MODULUS on a certificate",
            with(Attribute::Modulus(vec![1])),
            RvError::AttributeTypeInvalid,
        ),
    ];
    let mut wrong = Vec::new();
    for (name, template, expected) in cases {
        let rv = rv_of(session.create_object(&template));
        if rv != expected {
            wrong.push(format!("{name}: {rv:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(
        find_certificates(&session, None).is_empty(),
        "nothing was created"
    );
}

fn a_bool_attribute_of_the_wrong_size_is_attribute_value_invalid(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let mut class = ulong_bytes(CKO_CERTIFICATE);
    let mut kind = ulong_bytes(CKC_X_509);
    let mut long_bool = [1u8, 0, 0, 0];
    let mut subject = SAMPLE_SUBJECT;
    let mut value = SAMPLE_VALUE;
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_CERTIFICATE_TYPE, &mut kind),
        raw_attribute(CKA_TOKEN, &mut long_bool),
        raw_attribute(CKA_SUBJECT, &mut subject),
        raw_attribute(CKA_VALUE, &mut value),
    ];
    let mut handle: CK_OBJECT_HANDLE = 0;
    assert_ck!(
        ck!(C_CreateObject(
            session.handle(),
            template.as_mut_ptr(),
            5,
            &mut handle
        )),
        CKR_ATTRIBUTE_VALUE_INVALID
    );
}

fn a_certificate_date_that_is_no_calendar_day_is_attribute_value_invalid(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let certificate = create(&session, &sample_template("dated", false));
    for date in [*b"20250230", *b"20250431", *b"20230229", *b"18991231"] {
        let (mut class, mut kind) = (ulong_bytes(CKO_CERTIFICATE), ulong_bytes(CKC_X_509));
        let (mut subject, mut value, mut start) = (SAMPLE_SUBJECT, SAMPLE_VALUE, date);
        let mut template = [
            raw_attribute(CKA_CLASS, &mut class),
            raw_attribute(CKA_CERTIFICATE_TYPE, &mut kind),
            raw_attribute(CKA_SUBJECT, &mut subject),
            raw_attribute(CKA_VALUE, &mut value),
            raw_attribute(CKA_START_DATE, &mut start),
        ];
        let mut handle: CK_OBJECT_HANDLE = 0;
        assert_ck!(
            ck!(C_CreateObject(
                session.handle(),
                template.as_mut_ptr(),
                template.len() as CK_ULONG,
                &mut handle
            )),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
        let mut end = date;
        let mut change = [raw_attribute(CKA_END_DATE, &mut end)];
        assert_ck!(
            ck!(C_SetAttributeValue(
                session.handle(),
                certificate.handle(),
                change.as_mut_ptr(),
                1
            )),
            CKR_ATTRIBUTE_VALUE_INVALID
        );
    }
    assert_eq!(
        find_certificates(&session, None),
        vec![certificate.handle()]
    );
}

fn a_user_restating_cka_trusted_true_on_a_trusted_certificate_is_attribute_read_only(store: Store) {
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let token = TestToken::on(store);
    let session = token.rw_session();
    session
        .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .expect("C_Login as SO");
    let mut template = sample_template("trusted", false);
    template.push(Attribute::Trusted(true));
    let certificate = create(&session, &template);
    session.logout().unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("C_Login as user");
    assert_rv(
        session.update_attributes(certificate, &[Attribute::Trusted(true)]),
        RvError::AttributeReadOnly,
    );
    session
        .update_attributes(certificate, &[Attribute::Trusted(false)])
        .expect("anyone may take the trust away");
}

fn copy_with_a_template_is_refused_and_creates_nothing(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let original = create(&session, &sample_template("original", true));
    let blobs_before = token.blob_names();
    let result = session.copy_object(original, &[Attribute::Label(b"changed".to_vec())]);
    assert_rv(result, RvError::TemplateInconsistent);
    assert_eq!(find_certificates(&session, None), vec![original.handle()]);
    assert_eq!(token.blob_names(), blobs_before);
}

fn protected_certificates_refuse_the_prohibited_action(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let h = session.handle();
    let protect = |attribute: Attribute| {
        let mut template = sample_template("protected", true);
        template.push(attribute);
        create(&session, &template).handle()
    };
    let unmodifiable = protect(Attribute::Modifiable(false));
    let undestroyable = protect(Attribute::Destroyable(false));
    let uncopyable = protect(Attribute::Copyable(false));
    let mut label = *b"new label";
    let mut set = [raw_attribute(CKA_LABEL, &mut label)];
    let mut copy: CK_OBJECT_HANDLE = 0;
    let cases = [
        (
            "set on CKA_MODIFIABLE=false",
            ck!(C_SetAttributeValue(h, unmodifiable, set.as_mut_ptr(), 1)),
        ),
        (
            "destroy on CKA_DESTROYABLE=false",
            ck!(C_DestroyObject(h, undestroyable)),
        ),
        (
            "copy on CKA_COPYABLE=false",
            ck!(C_CopyObject(
                h,
                uncopyable,
                std::ptr::null_mut(),
                0,
                &mut copy
            )),
        ),
    ];
    assert_all_rv(cases.to_vec(), CKR_ACTION_PROHIBITED);
    assert_eq!(
        find_certificates(&session, None).len(),
        3,
        "nothing destroyed or copied"
    );
}

fn copyable_cannot_be_set_back_to_true(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let mut template = sample_template("one-way", true);
    template.push(Attribute::Copyable(false));
    let certificate = create(&session, &template);
    let rv = rv_of(session.update_attributes(certificate, &[Attribute::Copyable(true)]));
    assert!(
        matches!(rv, RvError::AttributeReadOnly | RvError::ActionProhibited),
        "CKA_COPYABLE false to true: {rv:?}"
    );
}

fn certificate_attributes_outside_the_settable_set_are_refused(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let certificate = create(&session, &sample_template("fixed", true)).handle();
    let h = session.handle();
    let mut class = ulong_bytes(CKO_DATA);
    let mut kind = ulong_bytes(CKC_X_509_ATTR_CERT);
    let mut cases = Vec::new();
    for (name, attribute) in [
        ("CKA_CLASS", raw_attribute(CKA_CLASS, &mut class)),
        (
            "CKA_CERTIFICATE_TYPE",
            raw_attribute(CKA_CERTIFICATE_TYPE, &mut kind),
        ),
    ] {
        let mut template = [attribute];
        let rv = ck!(C_SetAttributeValue(
            h,
            certificate,
            template.as_mut_ptr(),
            1
        ));
        cases.push((name, rv));
    }
    assert_all_rv(cases, CKR_ATTRIBUTE_READ_ONLY);
    assert_eq!(
        raw_get(h, certificate, CKA_CLASS),
        Ok(ulong_bytes(CKO_CERTIFICATE))
    );
}

fn unknown_certificate_attribute_is_unavailable_while_the_others_are_filled(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let certificate = create(&session, &sample_template("probe", true)).handle();
    let mut modulus = [0u8; 64];
    let mut label = [0u8; 5];
    let mut template = [
        raw_attribute(CKA_MODULUS, &mut modulus),
        raw_attribute(CKA_LABEL, &mut label),
    ];
    assert_ck!(
        ck!(C_GetAttributeValue(
            session.handle(),
            certificate,
            template.as_mut_ptr(),
            2
        )),
        CKR_ATTRIBUTE_TYPE_INVALID
    );
    assert_eq!(template[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(template[1].ulValueLen, 5);
    assert_eq!(&label, b"probe");
}

fn certificate_object_size_is_reported(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let certificate = create(&session, &sample_template("size", true)).handle();
    let mut size: CK_ULONG = 0;
    assert_ck!(
        ck!(C_GetObjectSize(session.handle(), certificate, &mut size)),
        CKR_OK
    );
    assert!(
        size > 0 && size != CK_UNAVAILABLE_INFORMATION,
        "size {size}"
    );
}

// ----- handles and blobs -----

fn certificate_handles_increase_within_the_certificate_range(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let handles: Vec<CK_OBJECT_HANDLE> = (0..6)
        .map(|i| create(&session, &sample_template(&format!("c{i}"), true)).handle())
        .collect();
    assert_eq!(handles[0], FIRST_HANDLE);
    for pair in handles.windows(2) {
        assert!(pair[0] < pair[1], "handles increase: {handles:x?}");
    }
    assert!(handles
        .iter()
        .all(|h| (FIRST_HANDLE..=LAST_HANDLE).contains(h)));
    let session_certificate = create(&session, &sample_template("session", false)).handle();
    assert!((FIRST_HANDLE..=LAST_HANDLE).contains(&session_certificate));
}

fn blob_files_appear_and_disappear_with_token_certificates(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let certificate = create(&session, &sample_template("blob", true));
    let name = blob_name(certificate.handle());
    // Local store only: docs/blob-format.md promises a file named like the
    // blob in the directory, which the store API alone cannot show.
    let local_file = (store == Store::Local).then(|| token.certificates_dir().join(&name));
    let content =
        read_blob(&token, certificate.handle()).unwrap_or_else(|| panic!("{name} was written"));
    if let Some(path) = &local_file {
        assert!(path.is_file(), "{} was written", path.display());
    }
    let content = String::from_utf8(content).expect("a text blob");
    assert_eq!(
        content.trim().split('.').count(),
        3,
        "a compact JWS: header.payload.signature"
    );
    session
        .destroy_object(certificate)
        .expect("C_DestroyObject");
    assert_eq!(
        read_blob(&token, certificate.handle()),
        None,
        "{name} was deleted"
    );
    if let Some(path) = &local_file {
        assert!(!path.exists(), "{} was deleted", path.display());
    }
}

fn session_certificates_write_no_blob(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    create(&session, &sample_template("session", false));
    assert!(token.blob_names().is_empty());
}

/// The `CKA_ID` of the RSA key pair a token signs its blobs with in
/// [`blob_is_a_compact_jws_signed_with_rs512`] (`CERTSTORAGE_SIGNING_KEYID`).
const SIGNING_KEY_ID: &str = "blob-signing-key";

/// How `docs/blob-format.md` encodes a payload attribute in JSON.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    Bool,
    Number,
    Text,
    Date,
    Base64url,
}

/// Every attribute `docs/blob-format.md` lists for a payload, with its encoding.
const DOCUMENTED_ATTRIBUTES: [(&str, CK_ATTRIBUTE_TYPE, Encoding); 24] = [
    ("CKA_TOKEN", CKA_TOKEN, Encoding::Bool),
    ("CKA_PRIVATE", CKA_PRIVATE, Encoding::Bool),
    ("CKA_MODIFIABLE", CKA_MODIFIABLE, Encoding::Bool),
    ("CKA_COPYABLE", CKA_COPYABLE, Encoding::Bool),
    ("CKA_DESTROYABLE", CKA_DESTROYABLE, Encoding::Bool),
    ("CKA_TRUSTED", CKA_TRUSTED, Encoding::Bool),
    ("CKA_CLASS", CKA_CLASS, Encoding::Number),
    (
        "CKA_CERTIFICATE_TYPE",
        CKA_CERTIFICATE_TYPE,
        Encoding::Number,
    ),
    (
        "CKA_CERTIFICATE_CATEGORY",
        CKA_CERTIFICATE_CATEGORY,
        Encoding::Number,
    ),
    (
        "CKA_JAVA_MIDP_SECURITY_DOMAIN",
        CKA_JAVA_MIDP_SECURITY_DOMAIN,
        Encoding::Number,
    ),
    (
        "CKA_NAME_HASH_ALGORITHM",
        CKA_NAME_HASH_ALGORITHM,
        Encoding::Number,
    ),
    ("CKA_LABEL", CKA_LABEL, Encoding::Text),
    ("CKA_URL", CKA_URL, Encoding::Text),
    ("CKA_START_DATE", CKA_START_DATE, Encoding::Date),
    ("CKA_END_DATE", CKA_END_DATE, Encoding::Date),
    ("CKA_SUBJECT", CKA_SUBJECT, Encoding::Base64url),
    ("CKA_ID", CKA_ID, Encoding::Base64url),
    ("CKA_ISSUER", CKA_ISSUER, Encoding::Base64url),
    ("CKA_SERIAL_NUMBER", CKA_SERIAL_NUMBER, Encoding::Base64url),
    ("CKA_VALUE", CKA_VALUE, Encoding::Base64url),
    ("CKA_CHECK_VALUE", CKA_CHECK_VALUE, Encoding::Base64url),
    (
        "CKA_PUBLIC_KEY_INFO",
        CKA_PUBLIC_KEY_INFO,
        Encoding::Base64url,
    ),
    (
        "CKA_HASH_OF_SUBJECT_PUBLIC_KEY",
        CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
        Encoding::Base64url,
    ),
    (
        "CKA_HASH_OF_ISSUER_PUBLIC_KEY",
        CKA_HASH_OF_ISSUER_PUBLIC_KEY,
        Encoding::Base64url,
    ),
];

/// RFC 4648 §5 base64url without padding, written with openssl's standard
/// base64 so that it owes nothing to the provider's encoder.
fn base64url(bytes: &[u8]) -> String {
    openssl::base64::encode_block(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// The bytes of unpadded base64url `text`; panics on anything else
/// (padding or the standard alphabet included).
fn base64url_decode(text: &str) -> Vec<u8> {
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "unpadded base64url: {text:?}"
    );
    let mut standard = text.replace('-', "+").replace('_', "/");
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    openssl::base64::decode_block(&standard).unwrap_or_else(|e| panic!("base64url {text:?}: {e}"))
}

/// The JSON `docs/blob-format.md` prescribes for an attribute value read
/// through `C_GetAttributeValue`.
fn documented_json(name: &str, encoding: Encoding, value: &[u8]) -> serde_json::Value {
    use serde_json::Value;
    match encoding {
        Encoding::Bool => {
            assert_eq!(value.len(), 1, "{name} is a CK_BBOOL");
            Value::Bool(value[0] != CK_FALSE)
        }
        Encoding::Number => {
            let bytes: [u8; std::mem::size_of::<CK_ULONG>()] = value
                .try_into()
                .unwrap_or_else(|_| panic!("{name} is a CK_ULONG"));
            Value::from(CK_ULONG::from_ne_bytes(bytes))
        }
        Encoding::Text => Value::String(
            String::from_utf8(value.to_vec()).unwrap_or_else(|_| panic!("{name} is UTF-8")),
        ),
        Encoding::Date => {
            assert!(
                value.is_empty() || (value.len() == 8 && value.iter().all(u8::is_ascii_digit)),
                "{name} is a CK_DATE or empty: {value:02x?}"
            );
            Value::String(String::from_utf8(value.to_vec()).unwrap())
        }
        Encoding::Base64url => Value::String(base64url(value)),
    }
}

/// Whether openssl verifies `signature` as RSASSA-PKCS1-v1_5 with SHA-512
/// (JWS RS512) of `signing_input` under `key`.
fn rs512_verifies(
    key: &openssl::pkey::PKey<openssl::pkey::Public>,
    signing_input: &[u8],
    signature: &[u8],
) -> bool {
    use openssl::hash::MessageDigest;
    use openssl::rsa::Padding;
    use openssl::sign::Verifier;
    let mut verifier = Verifier::new(MessageDigest::sha512(), key).expect("an RS512 verifier");
    verifier
        .set_rsa_padding(Padding::PKCS1)
        .expect("PKCS#1 v1.5 padding");
    verifier
        .update(signing_input)
        .expect("hash the signing input");
    verifier.verify(signature).unwrap_or(false)
}

/// A JSON object's member names.
fn member_names(object: &serde_json::Value) -> BTreeSet<&str> {
    object
        .as_object()
        .unwrap_or_else(|| panic!("a JSON object: {object}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Checks one blob against `docs/blob-format.md` without the provider's
/// JWS code: openssl verifies the signature with the public key exported
/// through `C_GetAttributeValue`, serde_json reads header and payload.
fn blob_is_a_compact_jws_signed_with_rs512(store: Store) {
    let token = TestToken::with_options(
        TokenOptions::default()
            .on(store)
            .with("CERTSTORAGE_SIGNING_KEYID", SIGNING_KEY_ID),
    );
    let session = token.user_session();
    let signing_pair = generate_rsa(&session, 2048, true, SIGNING_KEY_ID.as_bytes());
    let signing_key = openssl_public_key(&session, signing_pair.public);
    let other_pair = generate_rsa(&session, 2048, true, b"another-rsa-key");
    let other_key = openssl_public_key(&session, other_pair.public);
    let real = real_certificate();
    let id = b"jws-id".to_vec();
    let certificate = create(
        &session,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Label(b"jws".to_vec()),
            Attribute::Subject(real.subject.clone()),
            Attribute::Id(id.clone()),
            Attribute::Value(real.der.clone()),
        ],
    )
    .handle();

    // Name: pkcs11_certificate_<handle in decimal>, the only blob.
    let name = format!("pkcs11_certificate_{certificate}");
    assert_eq!(token.blob_names(), BTreeSet::from([name.clone()]));
    let content = read_blob(&token, certificate).unwrap_or_else(|| panic!("{name} exists"));
    let content = String::from_utf8(content).expect("an ASCII blob");
    assert!(content.is_ascii(), "an ASCII blob: {content:?}");
    let parts: Vec<&str> = content.split('.').collect();
    let [header_part, payload_part, signature_part] = parts[..] else {
        panic!("exactly header.payload.signature, no trailing newline: {content:?}");
    };

    // Signature: RS512 over the ASCII "header.payload", by the configured key.
    let signing_input = format!("{header_part}.{payload_part}");
    let signature = base64url_decode(signature_part);
    assert_eq!(signature.len(), 256, "an RSA-2048 signature");
    assert!(
        rs512_verifies(&signing_key, signing_input.as_bytes(), &signature),
        "openssl verifies {name} with the CERTSTORAGE_SIGNING_KEYID key"
    );
    let mut flipped = signature.clone();
    flipped[signature.len() / 2] ^= 0x01;
    assert!(
        !rs512_verifies(&signing_key, signing_input.as_bytes(), &flipped),
        "a signature with one flipped bit does not verify"
    );
    assert!(
        !rs512_verifies(&other_key, signing_input.as_bytes(), &signature),
        "the signature does not verify with another RSA key of the token"
    );

    // Header: exactly alg RS512 and kid = hex(SHA-256(SPKI)[..16]).
    assert!(
        header_part.starts_with("eyJhbGciOiJSUzUxMiIs"),
        "the header starts like the vendor's: {header_part}"
    );
    let header: serde_json::Value =
        serde_json::from_slice(&base64url_decode(header_part)).expect("a JSON header");
    assert_eq!(member_names(&header), BTreeSet::from(["alg", "kid"]));
    assert_eq!(header["alg"], "RS512");
    let spki = signing_key.public_key_to_der().unwrap();
    let key_id: String = openssl::sha::sha256(&spki)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(header["kid"], key_id.as_str(), "kid names the signing key");

    // Payload: format 1, the handle of the name, every attribute as documented.
    let payload: serde_json::Value =
        serde_json::from_slice(&base64url_decode(payload_part)).expect("a JSON payload");
    assert_eq!(
        member_names(&payload),
        BTreeSet::from(["format", "handle", "attributes"])
    );
    assert_eq!(payload["format"], 1);
    assert_eq!(payload["handle"], certificate, "the handle of {name}");
    let attributes = &payload["attributes"];
    let documented: BTreeSet<&str> = DOCUMENTED_ATTRIBUTES.iter().map(|a| a.0).collect();
    let undocumented: Vec<&str> = member_names(attributes)
        .difference(&documented)
        .copied()
        .collect();
    assert!(
        undocumented.is_empty(),
        "attributes outside the document: {undocumented:?}"
    );
    // What the create sent, and what the document derives from the DER.
    let sent = [
        ("CKA_CLASS", serde_json::json!(1)),
        ("CKA_CERTIFICATE_TYPE", serde_json::json!(0)),
        ("CKA_TOKEN", serde_json::json!(true)),
        ("CKA_PRIVATE", serde_json::json!(false)),
        ("CKA_LABEL", serde_json::json!("jws")),
        ("CKA_ID", serde_json::json!(base64url(&id))),
        ("CKA_SUBJECT", serde_json::json!(base64url(&real.subject))),
        ("CKA_VALUE", serde_json::json!(base64url(&real.der))),
        ("CKA_ISSUER", serde_json::json!(base64url(&real.issuer))),
        (
            "CKA_SERIAL_NUMBER",
            serde_json::json!(base64url(&real.serial_der)),
        ),
        ("CKA_START_DATE", serde_json::json!("20240102")),
        ("CKA_END_DATE", serde_json::json!("20340607")),
        (
            "CKA_PUBLIC_KEY_INFO",
            serde_json::json!(base64url(&real.spki)),
        ),
    ];
    let mut wrong = Vec::new();
    for (attribute, expected) in &sent {
        if attributes.get(*attribute) != Some(expected) {
            wrong.push(format!(
                "{attribute}: {:?}, the create gave {expected}",
                attributes.get(*attribute)
            ));
        }
    }
    // Every attribute of the object, encoded as its value type says.
    for (attribute, kind, encoding) in DOCUMENTED_ATTRIBUTES {
        match raw_get(session.handle(), certificate, kind) {
            Ok(value) => {
                let expected = documented_json(attribute, encoding, &value);
                if attributes.get(attribute) != Some(&expected) {
                    wrong.push(format!(
                        "{attribute}: {:?}, C_GetAttributeValue gives {expected}",
                        attributes.get(attribute)
                    ));
                }
            }
            Err(rv) => wrong.push(format!("{attribute}: C_GetAttributeValue {}", rv_name(rv))),
        }
    }
    assert!(wrong.is_empty(), "{name}: {wrong:#?}");
    assert_eq!(
        base64url_decode(attributes["CKA_VALUE"].as_str().unwrap()),
        real.der,
        "CKA_VALUE is the certificate's DER"
    );
}

fn setting_token_false_removes_the_blob_and_keeps_the_object(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let certificate = create(&session, &sample_template("demote", true));
    assert!(read_blob(&token, certificate.handle()).is_some());
    session
        .update_attributes(certificate, &[Attribute::Token(false)])
        .expect("CKA_TOKEN to false");
    assert_eq!(
        read_blob(&token, certificate.handle()),
        None,
        "the blob of a certificate that is no longer a token object"
    );
    assert_eq!(
        raw_get(session.handle(), certificate.handle(), CKA_VALUE),
        Ok(SAMPLE_VALUE.to_vec())
    );
}

fn setting_token_true_stores_a_session_certificate_as_a_blob(store: Store) {
    let mut token = TestToken::on(store);
    let handle = {
        let session = token.user_session();
        let certificate = create(&session, &sample_template("promote", false));
        session
            .update_attributes(certificate, &[Attribute::Token(true)])
            .expect("CKA_TOKEN to true");
        certificate.handle()
    };
    assert!(read_blob(&token, handle).is_some());
    token.reinitialize();
    let session = token.ro_session();
    assert_eq!(find_certificates(&session, Some("promote")), vec![handle]);
}

fn session_certificates_are_shared_by_sessions_and_go_with_their_session(store: Store) {
    let token = TestToken::on(store);
    let keeper = token.user_session();
    let handle = {
        let owner = token.rw_session();
        let handle = create(&owner, &sample_template("session-owned", false)).handle();
        assert_eq!(
            find_certificates(&keeper, Some("session-owned")),
            vec![handle]
        );
        handle
    };
    assert!(find_certificates(&keeper, Some("session-owned")).is_empty());
    let mut size: CK_ULONG = 0;
    assert_ck!(
        ck!(C_GetObjectSize(keeper.handle(), handle, &mut size)),
        CKR_OBJECT_HANDLE_INVALID
    );
}

fn private_certificates_are_hidden_before_login(store: Store) {
    let token = TestToken::on(store);
    {
        let session = token.user_session();
        let mut private = sample_template("private", true);
        private.push(Attribute::Private(true));
        create(&session, &private);
        create(&session, &sample_template("public", true));
    }
    let session = token.ro_session();
    assert!(find_certificates(&session, Some("private")).is_empty());
    assert_eq!(find_certificates(&session, None).len(), 1);
}

fn search_by_token_false_finds_only_session_certificates(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    create(&session, &sample_template("both", true));
    let session_certificate = create(&session, &sample_template("both", false)).handle();
    let found: Vec<_> = find(
        &session,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Token(false),
        ],
    )
    .iter()
    .map(|h| h.handle())
    .collect();
    assert_eq!(found, vec![session_certificate]);
}

fn token_certificates_persist_across_reinitialisation(store: Store) {
    let mut token = TestToken::on(store);
    let handle = {
        let session = token.user_session();
        create(&session, &sample_template("persisted", true)).handle()
    };
    token.reinitialize();
    let session = token.ro_session();
    assert_eq!(find_certificates(&session, Some("persisted")), vec![handle]);
    assert_eq!(
        raw_get(session.handle(), handle, CKA_VALUE),
        Ok(SAMPLE_VALUE.to_vec())
    );
}

// ----- login and visibility -----

fn certificates_are_found_before_login(store: Store) {
    let token = TestToken::on(store);
    let handle = {
        let session = token.user_session();
        create(&session, &sample_template("public", true)).handle()
    };
    let session = token.ro_session();
    assert_eq!(find_certificates(&session, Some("public")), vec![handle]);
    assert_eq!(
        raw_get(session.handle(), handle, CKA_SUBJECT),
        Ok(SAMPLE_SUBJECT.to_vec())
    );
}

fn token_certificate_creation_without_login_is_user_not_logged_in(store: Store) {
    let token = TestToken::on(store);
    let session = token.rw_session();
    assert_rv(
        session.create_object(&sample_template("no-login", true)),
        RvError::UserNotLoggedIn,
    );
    assert!(token.blob_names().is_empty());
}

fn token_certificate_creation_in_a_read_only_session_is_session_read_only(store: Store) {
    let token = TestToken::on(store);
    let _login = token.user_session();
    let session = token.ro_session();
    assert_rv(
        session.create_object(&sample_template("ro", true)),
        RvError::SessionReadOnly,
    );
}

// ----- a real certificate -----

struct RealCertificate {
    der: Vec<u8>,
    subject: Vec<u8>,
    issuer: Vec<u8>,
    serial_der: Vec<u8>,
    spki: Vec<u8>,
}

fn real_certificate() -> RealCertificate {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut subject = X509NameBuilder::new().unwrap();
    subject.append_entry_by_text("CN", "itest leaf").unwrap();
    let subject = subject.build();
    let mut issuer = X509NameBuilder::new().unwrap();
    issuer.append_entry_by_text("CN", "itest issuer").unwrap();
    issuer.append_entry_by_text("O", "azcloudhsm").unwrap();
    let issuer = issuer.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    let serial = BigNum::from_hex_str("00A1B2C3D4E5F60718").unwrap();
    builder
        .set_serial_number(&Asn1Integer::from_bn(&serial).unwrap())
        .unwrap();
    builder.set_subject_name(&subject).unwrap();
    builder.set_issuer_name(&issuer).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::from_str("20240102030405Z").unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_str("20340607080910Z").unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    let certificate = builder.build();
    // DER INTEGER of 0xA1B2C3D4E5F60718: a leading 0 keeps it positive.
    let serial_der = vec![
        0x02, 0x09, 0x00, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x07, 0x18,
    ];
    RealCertificate {
        der: certificate.to_der().unwrap(),
        subject: subject.to_der().unwrap(),
        issuer: issuer.to_der().unwrap(),
        serial_der,
        spki: key.public_key_to_der().unwrap(),
    }
}

fn a_real_certificate_gets_issuer_serial_dates_and_public_key_info_filled(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let real = real_certificate();
    let certificate = create(
        &session,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Label(b"real".to_vec()),
            Attribute::Subject(real.subject.clone()),
            Attribute::Value(real.der.clone()),
        ],
    )
    .handle();
    let h = session.handle();
    let cases: [(&str, CK_ATTRIBUTE_TYPE, Vec<u8>); 5] = [
        ("CKA_ISSUER", CKA_ISSUER, real.issuer.clone()),
        (
            "CKA_SERIAL_NUMBER",
            CKA_SERIAL_NUMBER,
            real.serial_der.clone(),
        ),
        ("CKA_START_DATE", CKA_START_DATE, b"20240102".to_vec()),
        ("CKA_END_DATE", CKA_END_DATE, b"20340607".to_vec()),
        (
            "CKA_PUBLIC_KEY_INFO",
            CKA_PUBLIC_KEY_INFO,
            real.spki.clone(),
        ),
    ];
    let mut wrong = Vec::new();
    for (name, kind, expected) in cases {
        match raw_get(h, certificate, kind) {
            Ok(value) if value == expected => {}
            Ok(value) => wrong.push(format!("{name}: {value:02x?}, expected {expected:02x?}")),
            Err(rv) => wrong.push(format!("{name}: {}", rv_name(rv))),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

// ----- searches -----

fn keys_and_certificates_are_returned_together_by_a_template_that_fits_both(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, true, b"shared-id");
    let mut template = sample_template("with-key", true);
    template.retain(|a| a.attribute_type() != AttributeType::Id);
    template.push(Attribute::Id(b"shared-id".to_vec()));
    let certificate = create(&session, &template);
    let mut found: Vec<_> = find(&session, &[Attribute::Id(b"shared-id".to_vec())])
        .iter()
        .map(|h| h.handle())
        .collect();
    found.sort();
    let mut expected = vec![
        pair.public.handle(),
        pair.private.handle(),
        certificate.handle(),
    ];
    expected.sort();
    assert_eq!(found, expected);
}

fn find_objects_returns_at_most_max_count_per_call_and_continues(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let created: BTreeSet<CK_OBJECT_HANDLE> = (0..7)
        .map(|_| create(&session, &sample_template("page", true)).handle())
        .collect();
    let h = session.handle();
    let mut class = ulong_bytes(CKO_CERTIFICATE);
    let mut label = *b"page";
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_LABEL, &mut label),
    ];
    assert_ck!(ck!(C_FindObjectsInit(h, template.as_mut_ptr(), 2)), CKR_OK);
    let mut seen = BTreeSet::new();
    let mut counts = Vec::new();
    loop {
        let mut page = [0 as CK_OBJECT_HANDLE; 3];
        let mut count: CK_ULONG = 99;
        assert_ck!(
            ck!(C_FindObjects(h, page.as_mut_ptr(), 3, &mut count)),
            CKR_OK
        );
        counts.push(count);
        if count == 0 {
            break;
        }
        seen.extend(&page[..count as usize]);
        assert!(counts.len() < 10, "the search never ends");
    }
    assert_ck!(ck!(C_FindObjectsFinal(h)), CKR_OK);
    assert_eq!(counts, vec![3, 3, 1, 0]);
    assert_eq!(seen, created);
}

fn find_by_subject_and_by_id_uses_certificate_attributes(store: Store) {
    let token = TestToken::on(store);
    let session = token.user_session();
    let sample = create(&session, &sample_template("subject", true)).handle();
    let mut other = sample_template("other", true);
    other.retain(|a| {
        !matches!(
            a.attribute_type(),
            AttributeType::Subject | AttributeType::Id
        )
    });
    other.push(Attribute::Subject(vec![0x30, 0x00]));
    other.push(Attribute::Id(vec![7]));
    create(&session, &other);
    let by_subject: Vec<_> = find(&session, &[Attribute::Subject(SAMPLE_SUBJECT.to_vec())])
        .iter()
        .map(|h| h.handle())
        .collect();
    assert_eq!(by_subject, vec![sample]);
    let by_id: Vec<_> = find(
        &session,
        &[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(vec![123]),
        ],
    )
    .iter()
    .map(|h| h.handle())
    .collect();
    assert_eq!(by_id, vec![sample]);
}

// ----- tampering -----

/// Changes one character in the middle of the JWS payload of a
/// certificate's blob.
///
/// On Azurite the blob is replaced through the store with the metadata its
/// listing shows, so the unsigned metadata still agrees and only the
/// signature check can catch the change. In the local store the file is
/// rewritten in place, as someone editing the directory would: the store's
/// own update renames a new file over the old one, which the provider's
/// cache notices trivially, while an in-place rewrite keeps the file's inode
/// and leaves the directory's change stamp alone (see `src/certstore/local/mod.rs`:
/// each certificate a search returns is probed).
fn tamper(token: &TestToken, handle: CK_OBJECT_HANDLE) {
    let store = token.blob_store();
    let name = blob_name(handle);
    let metadata = listed_metadata(&*store, &name);
    let (mut content, version) = store
        .read(&name)
        .expect("read the blob")
        .unwrap_or_else(|| panic!("{name} exists"));
    let first_dot = content.iter().position(|b| *b == b'.').expect("a JWS");
    let second_dot = first_dot
        + 1
        + content[first_dot + 1..]
            .iter()
            .position(|b| *b == b'.')
            .unwrap();
    let middle = (first_dot + second_dot) / 2;
    content[middle] = if content[middle] == b'A' { b'B' } else { b'A' };
    match token.store() {
        Store::Local => {
            std::fs::write(token.certificates_dir().join(&name), content).expect("write the blob")
        }
        Store::Azurite => {
            let outcome = store
                .update(&name, &content, &metadata, &version)
                .expect("replace the blob");
            assert!(
                matches!(outcome, UpdateOutcome::Updated(_)),
                "{name}: {outcome:?}"
            );
        }
    }
}

fn tampered_blob_is_left_out_of_searches_and_logged_after_a_restart(store: Store) {
    let mut token = TestToken::on(store);
    let (tampered, intact) = {
        let session = token.user_session();
        (
            create(&session, &sample_template("tamper", true)).handle(),
            create(&session, &sample_template("tamper", true)).handle(),
        )
    };
    tamper(&token, tampered);
    token.reinitialize();
    let session = token.ro_session();
    assert_eq!(find_certificates(&session, Some("tamper")), vec![intact]);
    let name = format!("pkcs11_certificate_{tampered}");
    assert!(
        token.log_text().lines().any(|l| l.contains(&name)),
        "the provider log names {name}"
    );
}

/// Creates two certificates, tampers with the first one's blob, waits
/// `wait` and checks that a search returns only the intact one, and that a
/// call on the tampered one by handle refuses it.
fn tampered_while_running(token: &TestToken, wait: Duration) {
    let session = token.user_session();
    let tampered = create(&session, &sample_template("tamper", true)).handle();
    let intact = create(&session, &sample_template("tamper", true)).handle();
    assert_eq!(find_certificates(&session, Some("tamper")).len(), 2);
    // Local store: a different modification time, so no cache can take the
    // rewritten file for the old blob.
    std::thread::sleep(Duration::from_millis(20));
    tamper(token, tampered);
    std::thread::sleep(wait);
    assert_eq!(find_certificates(&session, Some("tamper")), vec![intact]);
    assert_eq!(
        raw_get(session.handle(), tampered, CKA_LABEL),
        Err(CKR_OBJECT_HANDLE_INVALID)
    );
}

/// With `CERTSTORAGE_LISTING_SECONDS=0` (Azure: every search lists the
/// whole container; the local store ignores it) the next search sees it.
fn blob_tampered_while_running_is_left_out_of_the_next_search(store: Store) {
    let token = TestToken::with_options(
        TokenOptions::default()
            .on(store)
            .with("CERTSTORAGE_LISTING_SECONDS", "0"),
    );
    tampered_while_running(&token, Duration::ZERO);
}

/// With Azure, a change by another process shows once the next whole
/// listing is due: `CERTSTORAGE_LISTING_SECONDS` after the last one ended
/// (1 here; 20 by default). The local store sees it at once either way.
fn blob_tampered_while_running_is_left_out_once_the_listing_interval_passed(store: Store) {
    let token = TestToken::with_options(
        TokenOptions::default()
            .on(store)
            .with("CERTSTORAGE_LISTING_SECONDS", "1"),
    );
    let wait = match store {
        Store::Local => Duration::ZERO,
        Store::Azurite => Duration::from_millis(1100),
    };
    tampered_while_running(&token, wait);
}

fn blob_with_another_handle_is_left_out_of_searches(store: Store) {
    let mut token = TestToken::on(store);
    let (moved, kept) = {
        let session = token.user_session();
        (
            create(&session, &sample_template("moved", true)).handle(),
            create(&session, &sample_template("moved", true)).handle(),
        )
    };
    // A validly signed blob copied under another name, with the metadata its
    // listing shows (so on Azurite no metadata check masks the handle
    // check): its payload names its own handle.
    let forged = moved + 100;
    let blobs = token.blob_store();
    let (content, _) = blobs.read(&blob_name(moved)).unwrap().expect("the blob");
    let metadata = listed_metadata(&*blobs, &blob_name(moved));
    let outcome = blobs
        .create(&blob_name(forged), &content, &metadata)
        .expect("copy the blob");
    assert!(matches!(outcome, CreateOutcome::Created(_)), "{outcome:?}");
    token.reinitialize();
    let session = token.ro_session();
    assert_eq!(
        find_certificates(&session, Some("moved")),
        vec![moved, kept]
    );
}

// ----- many creators, one store -----

/// The label of the `index`th certificate that `creator` makes; no two
/// certificates of a test share one.
fn distinct_label(creator: &str, index: usize) -> String {
    format!("{creator}-{index}")
}

/// The `CKA_VALUE` of the certificate labelled `label`: the sample's bytes,
/// then the label, so that no two certificates of a test share one (it
/// need not parse as X.509).
fn distinct_value(label: &str) -> Vec<u8> {
    let mut value = SAMPLE_VALUE.to_vec();
    value.extend_from_slice(label.as_bytes());
    value
}

/// Creates the token certificate labelled `label`, with its own value.
fn create_distinct(session: &Session, label: &str) -> CK_OBJECT_HANDLE {
    let mut template = sample_template(label, true);
    template.retain(|a| a.attribute_type() != AttributeType::Value);
    template.push(Attribute::Value(distinct_value(label)));
    create(session, &template).handle()
}

/// How many labels [`assert_each_handle_serves_its_own_certificate`]
/// searches for: every search lists the whole store, which over 600
/// Azurite blobs takes about 0.2 s, so a search per certificate made the
/// two-process test take over three minutes.
const SEARCHED_LABELS: usize = 30;

/// Asserts that every handle of `created` (handle -> the label its create
/// sent) serves its own certificate: `C_GetAttributeValue` gives the label
/// and value of that create. A search by the label finds that handle and
/// no other, for a deterministic sample of [`SEARCHED_LABELS`] labels:
/// evenly spaced in label order, so every creator has its share.
fn assert_each_handle_serves_its_own_certificate(
    session: &Session,
    created: &BTreeMap<CK_OBJECT_HANDLE, String>,
) {
    let h = session.handle();
    let mut wrong = Vec::new();
    for (handle, label) in created {
        let read_label = raw_get(h, *handle, CKA_LABEL);
        if read_label.as_deref() != Ok(label.as_bytes()) {
            wrong.push(format!(
                "{handle}: CKA_LABEL {:?}, its create sent {label:?}",
                read_label.map(|l| String::from_utf8_lossy(&l).into_owned())
            ));
        }
        let read_value = raw_get(h, *handle, CKA_VALUE);
        if read_value != Ok(distinct_value(label)) {
            wrong.push(format!(
                "{handle}: CKA_VALUE {read_value:02x?}, its create sent the value of {label:?}"
            ));
        }
    }
    let mut by_label: Vec<(&String, CK_OBJECT_HANDLE)> = created
        .iter()
        .map(|(handle, label)| (label, *handle))
        .collect();
    by_label.sort();
    let step = (by_label.len() / SEARCHED_LABELS).max(1);
    for (label, handle) in by_label.into_iter().step_by(step) {
        let found = find_certificates(session, Some(label));
        if found != [handle] {
            wrong.push(format!(
                "search by {label:?}: {found:?}, expected [{handle}]"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong answers for {} certificates, the first ones: {:#?}",
        wrong.len(),
        created.len(),
        &wrong[..wrong.len().min(20)]
    );
}

fn threads_creating_certificates_at_once_get_distinct_handles_each_serving_its_own_certificate(
    store: Store,
) {
    let mut token = TestToken::on(store);
    let login = token.user_session();
    let pkcs11 = &token.pkcs11;
    let slot = token.slot;
    let created: Vec<(CK_OBJECT_HANDLE, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|thread| {
                scope.spawn(move || {
                    let session = pkcs11.open_rw_session(slot).expect("C_OpenSession");
                    (0..25)
                        .map(|index| {
                            let label = distinct_label(&format!("thread{thread}"), index);
                            (create_distinct(&session, &label), label)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a creating thread panicked"))
            .collect()
    });
    let created: BTreeMap<CK_OBJECT_HANDLE, String> = created.into_iter().collect();
    assert_eq!(created.len(), 200, "200 certificates, 200 handles");
    assert_eq!(token.blob_names().len(), 200);
    assert_eq!(
        find_certificates(&login, None),
        created.keys().copied().collect::<Vec<_>>()
    );
    assert_each_handle_serves_its_own_certificate(&login, &created);
    drop(login);
    token.reinitialize();
    assert_each_handle_serves_its_own_certificate(&token.ro_session(), &created);
}

// ----- two processes, one store -----

const WORKER: &str = "worker_process_creates_certificates";

/// How many certificates each process creates, on both stores: Azurite
/// creates them fast enough (the Azurite variant takes about 20 s, most of
/// it the checks) that it needs no smaller number.
const PER_PROCESS: usize = 300;

/// What a worker prints before each handle it created and its label.
const CREATED_LINE: &str = "created certificate";

/// The file the parent writes in the shared token directory once all its
/// certificates are created, so that the worker checks its own after
/// every create of both processes.
fn parent_done_path(token: &TestToken) -> std::path::PathBuf {
    token.root().join("parent-created-all")
}

/// Creates [`PER_PROCESS`] certificates labelled after `creator`; returns
/// each handle with its label.
fn create_many(session: &Session, creator: &str) -> BTreeMap<CK_OBJECT_HANDLE, String> {
    let created: BTreeMap<_, _> = (0..PER_PROCESS)
        .map(|index| {
            let label = distinct_label(creator, index);
            (create_distinct(session, &label), label)
        })
        .collect();
    assert_eq!(created.len(), PER_PROCESS, "{creator}: a handle per create");
    created
}

fn two_processes_creating_300_certificates_each_get_600_distinct_verified_handles(store: Store) {
    let mut token = TestToken::on(store);
    // The worker opens this token's directory and, on Azurite, its container.
    let child = spawn_worker(WORKER, &token.share_with_worker());
    let session = token.user_session();
    let mine = create_many(&session, "parent");
    std::fs::write(parent_done_path(&token), b"").expect("tell the worker");
    let output = wait_worker(child, WORKER_LIMIT);
    let theirs: BTreeMap<CK_OBJECT_HANDLE, String> = output
        .lines()
        // The first line follows the harness's "test worker_... ... ".
        .filter_map(|line| line.split_once(CREATED_LINE).map(|(_, rest)| rest))
        .map(|line| {
            let (handle, label) = line.trim().split_once(' ').expect("handle label");
            (handle.parse().expect("a handle"), label.to_string())
        })
        .collect();
    assert_eq!(theirs.len(), PER_PROCESS, "the worker's handles:\n{output}");
    let mut all = mine.clone();
    all.extend(theirs.clone());
    assert_eq!(
        all.len(),
        2 * PER_PROCESS,
        "no handle went to both processes"
    );
    assert_eq!(
        find_certificates(&session, None),
        all.keys().copied().collect::<Vec<_>>(),
        "every certificate is found, and nothing else"
    );
    assert_eq!(token.blob_names().len(), 2 * PER_PROCESS);
    assert_each_handle_serves_its_own_certificate(&session, &all);
    drop(session);
    token.reinitialize();
    assert_each_handle_serves_its_own_certificate(&token.ro_session(), &all);
}

#[test]
#[ignore = "worker of two_processes_creating_300_certificates_each_get_600_distinct_verified_handles"]
fn worker_process_creates_certificates() {
    let token = TestToken::with_options(TokenOptions::from_worker_env());
    let session = token.user_session();
    let created = create_many(&session, "child");
    for (handle, label) in &created {
        println!("{CREATED_LINE} {handle} {label}");
    }
    let done = parent_done_path(&token);
    let started = std::time::Instant::now();
    while !done.exists() {
        assert!(
            started.elapsed() < WORKER_LIMIT,
            "the parent never finished creating"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_each_handle_serves_its_own_certificate(&session, &created);
}
