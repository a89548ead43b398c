//! Editing the token database between two sessions, as someone with write
//! access to the token directory but no PIN would: a key whose security
//! attributes were changed becomes unusable, never readable; a blob-signing
//! key whose public half was replaced verifies nothing. Each edit is made
//! with SQLite while the provider is finalised, and checked through the C ABI.

mod common;

use azcloudhsm_pkcs11::device::soft::database::{decode_attributes, encode_attributes};
use azcloudhsm_pkcs11::object::Attributes;
use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use rusqlite::Connection;

const KNOWN_KEY: [u8; 32] = [0xC3; 32];

fn database(token: &TestToken) -> Connection {
    Connection::open(token.token_dir().join("token.sqlite")).expect("open the token database")
}

/// Rewrites the attributes of the row `handle` with `change`.
fn edit_row(token: &TestToken, handle: ObjectHandle, change: impl Fn(&mut Attributes)) {
    let connection = database(token);
    let encoded: Vec<u8> = connection
        .query_row(
            "SELECT attributes FROM objects WHERE handle = ?1",
            [handle.handle() as i64],
            |row| row.get(0),
        )
        .expect("the key's row");
    let mut attributes = decode_attributes(&encoded).expect("stored attributes");
    change(&mut attributes);
    connection
        .execute(
            "UPDATE objects SET attributes = ?1, version = version + 1 WHERE handle = ?2",
            rusqlite::params![encode_attributes(&attributes), handle.handle() as i64],
        )
        .expect("edit the row");
}

fn import_known_key(session: &Session) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Value(KNOWN_KEY.to_vec()),
            Attribute::Label(b"known".to_vec()),
        ])
        .expect("import a sensitive AES key")
}

#[test]
fn a_sensitive_key_made_extractable_in_the_database_is_unusable_and_never_read() {
    let mut token = TestToken::new();
    let key = import_known_key(&token.user_session());
    let wrapping = token
        .user_session()
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(true),
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
            ],
        )
        .expect("a wrapping key");
    token.reinitialize();
    edit_row(&token, key, |attributes| {
        attributes.set_bool(cryptoki_sys::CKA_SENSITIVE, false);
        attributes.set_bool(cryptoki_sys::CKA_EXTRACTABLE, true);
    });
    token.reinitialize();
    let mark = LogMark::now();
    let session = token.user_session();
    let read = session.get_attributes(key, &[AttributeType::Value]);
    match &read {
        Err(cryptoki::error::Error::Pkcs11(rv, _)) => {
            assert_eq!(*rv, cryptoki::error::RvError::DeviceError)
        }
        other => panic!("reading the edited key's value gave {other:?}"),
    }
    let wrapped = session.wrap_key(&Mechanism::AesKeyWrap, wrapping, key);
    assert!(wrapped.is_err(), "wrapping the edited key gave {wrapped:?}");
    let encrypted = session.encrypt(&Mechanism::AesEcb, key, &[0u8; 16]);
    assert!(
        encrypted.is_err(),
        "the edited key encrypted: {encrypted:?}"
    );
    let log = mark.since();
    assert!(
        log.contains(&format!(
            "key object {}: its sealed value does not open with its attributes",
            key.handle()
        )),
        "the log says why:\n{log}"
    );
    drop(session);

    // The database back as it was: the key works, so the binding refused.
    token.reinitialize();
    edit_row(&token, key, |attributes| {
        attributes.set_bool(cryptoki_sys::CKA_SENSITIVE, true);
        attributes.set_bool(cryptoki_sys::CKA_EXTRACTABLE, false);
    });
    token.reinitialize();
    let session = token.user_session();
    let ciphertext = session
        .encrypt(&Mechanism::AesEcb, key, &[0u8; 16])
        .expect("the restored key encrypts");
    let expected = openssl::symm::encrypt(
        openssl::symm::Cipher::aes_256_ecb(),
        &KNOWN_KEY,
        None,
        &[0u8; 16],
    )
    .unwrap();
    assert_eq!(ciphertext, expected[..16]);
}

#[test]
fn a_key_row_cloned_under_new_attributes_is_unusable() {
    let mut token = TestToken::new();
    let key = import_known_key(&token.user_session());
    token.reinitialize();
    let clone: i64 = {
        let connection = database(&token);
        let (encoded, sealed): (Vec<u8>, Vec<u8>) = connection
            .query_row(
                "SELECT attributes, sealed FROM objects WHERE handle = ?1",
                [key.handle() as i64],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        let mut attributes = decode_attributes(&encoded).unwrap();
        attributes.set_bool(cryptoki_sys::CKA_SENSITIVE, false);
        attributes.set_bool(cryptoki_sys::CKA_EXTRACTABLE, true);
        attributes.set(cryptoki_sys::CKA_LABEL, b"clone".to_vec());
        connection
            .query_row(
                "INSERT INTO objects (attributes, sealed) VALUES (?1, ?2) RETURNING handle",
                rusqlite::params![encode_attributes(&attributes), sealed],
                |row| row.get(0),
            )
            .unwrap()
    };
    token.reinitialize();
    let session = token.user_session();
    let found = session
        .find_objects(&[Attribute::Label(b"clone".to_vec())])
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].handle() as i64, clone);
    let read = session.get_attributes(found[0], &[AttributeType::Value]);
    assert!(
        matches!(
            read,
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::DeviceError,
                _
            ))
        ),
        "reading the clone's value gave {read:?}"
    );
}

fn certificate_count(session: &Session, label: &str) -> usize {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .expect("C_FindObjects")
        .len()
}

#[test]
fn a_signing_key_whose_public_half_was_replaced_verifies_no_certificate_and_signs_none() {
    let mut token = TestToken::new();
    token
        .user_session()
        .create_object(&certificate_template("signed", b"certificate bytes"))
        .expect("a token certificate, signed by the device's own key");
    token.reinitialize();
    let original: Vec<u8> = database(&token)
        .query_row("SELECT public_der FROM signing_key", [], |row| row.get(0))
        .expect("the device's own signing key");
    let other = openssl::rsa::Rsa::generate(2048).unwrap();
    let other = openssl::pkey::PKey::from_rsa(other)
        .unwrap()
        .public_key_to_der()
        .unwrap();
    database(&token)
        .execute("UPDATE signing_key SET public_der = ?1", [&other])
        .unwrap();
    token.reinitialize();
    let mark = LogMark::now();
    assert_eq!(
        certificate_count(&token.ro_session(), "signed"),
        0,
        "before login the old blob no longer verifies"
    );
    let session = token.user_session();
    assert_eq!(certificate_count(&session, "signed"), 0, "after login");
    let created = session.create_object(&certificate_template("forged", b"other bytes"));
    assert!(
        matches!(
            created,
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::DeviceError,
                _
            ))
        ),
        "signing with the replaced key gave {created:?}"
    );
    let log = mark.since();
    assert!(
        log.contains("the blob-signing key's public half does not match its sealed private half"),
        "{log}"
    );
    drop(session);

    token.reinitialize();
    database(&token)
        .execute("UPDATE signing_key SET public_der = ?1", [&original])
        .unwrap();
    token.reinitialize();
    assert_eq!(
        certificate_count(&token.user_session(), "signed"),
        1,
        "the original public half back: the certificate verifies again"
    );
}

#[test]
fn cka_trusted_set_in_the_database_on_a_public_key_trusts_nothing() {
    let mut token = TestToken::new();
    let session = token.user_session();
    let victim = session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Value(KNOWN_KEY.to_vec()),
            Attribute::Extractable(true),
            Attribute::WrapWithTrusted(true),
        ])
        .expect("a key that leaves only under a trusted key");
    let (public, _) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::ModulusBits(2048.into()),
                Attribute::Wrap(true),
            ],
            &[Attribute::Token(true)],
        )
        .expect("the attacker's own key pair");
    drop(session);
    token.reinitialize();
    edit_row(&token, public, |attributes| {
        attributes.set_bool(cryptoki_sys::CKA_TRUSTED, true);
    });
    token.reinitialize();
    let mark = LogMark::now();
    let session = token.user_session();
    let oaep = Mechanism::RsaPkcsOaep(cryptoki::mechanism::rsa::PkcsOaepParams::new(
        cryptoki::mechanism::MechanismType::SHA256,
        cryptoki::mechanism::rsa::PkcsMgfType::MGF1_SHA256,
        cryptoki::mechanism::rsa::PkcsOaepSource::empty(),
    ));
    let wrapped = session.wrap_key(&oaep, public, victim);
    assert!(
        matches!(
            wrapped,
            Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::KeyNotWrappable,
                _
            ))
        ),
        "wrapping under a key made trusted in the database gave {wrapped:?}"
    );
    let log = mark.since();
    assert!(
        log.contains(&format!(
            "public key {} says CKA_TRUSTED but has no valid attestation",
            public.handle()
        )),
        "{log}"
    );
}
