//! A key's security attributes are bound to its sealed value: changed in
//! the database, the key is unusable, never readable; changed through the
//! token, the value is sealed again. A token of an earlier version, whose
//! values were bound to the unique id alone, is bound at the next login.

use super::*;
use crate::device::soft::{database::Database, pins};
use crate::device::Mechanism;
use crate::object::AttributeResult;

const VALUE: [u8; 32] = [0x5A; 32];

fn database(dir: &TempDir) -> Database {
    Database::open(dir.path(), "unused").unwrap()
}

/// Rewrites the stored attributes of `handle` with `change`, behind the
/// device's back (the version is bumped, as any writer would).
fn tamper(dir: &TempDir, handle: Handle, change: impl Fn(&mut crate::object::Attributes)) {
    let database = database(dir);
    let row = database.object(handle).unwrap().unwrap();
    let mut attributes = row.attributes.clone();
    change(&mut attributes);
    database
        .update_object(handle, row.version, &attributes, None)
        .unwrap()
        .expect("the row is there");
}

/// An edit of a row's attributes.
type Tamper = dyn Fn(&mut crate::object::Attributes);

fn flip(attributes: &mut crate::object::Attributes, kind: CK_ATTRIBUTE_TYPE) {
    let value = attributes.bool_or(kind, false);
    attributes.set_bool(kind, !value);
}

fn secret_value(
    device: &SoftDevice,
    handle: Handle,
) -> Result<Vec<AttributeResult>, crate::error::Error> {
    device.get_attributes(&user_rw(), handle, &[CKA_VALUE])
}

#[test]
fn security_attributes_changed_in_the_database_make_the_key_unusable_not_readable() {
    let (dir, device) = logged_in();
    let handle = create(
        &device,
        &aes_template(
            &VALUE,
            &[
                boolean(CKA_ENCRYPT, true),
                bytes(CKA_ALLOWED_MECHANISMS, &CKM_AES_GCM.to_ne_bytes()),
            ],
        ),
    );
    let tampers: Vec<(&str, Box<Tamper>)> = vec![
        (
            "sensitive off, extractable on",
            Box::new(|a| {
                a.set_bool(CKA_SENSITIVE, false);
                a.set_bool(CKA_EXTRACTABLE, true);
            }),
        ),
        (
            "allowed mechanisms widened",
            Box::new(|a| a.set(CKA_ALLOWED_MECHANISMS, CKM_AES_ECB.to_ne_bytes().to_vec())),
        ),
        ("decrypt flipped", Box::new(|a| flip(a, CKA_DECRYPT))),
        ("wrap flipped", Box::new(|a| flip(a, CKA_WRAP))),
        ("trusted flipped", Box::new(|a| flip(a, CKA_TRUSTED))),
        (
            "wrap-with-trusted flipped",
            Box::new(|a| flip(a, CKA_WRAP_WITH_TRUSTED)),
        ),
        (
            "another unique id",
            Box::new(|a| a.set(CKA_UNIQUE_ID, b"00000000000000000000000000000000".to_vec())),
        ),
    ];
    let original = database(&dir).object(handle).unwrap().unwrap().attributes;
    for (what, change) in &tampers {
        tamper(&dir, handle, change);
        let fresh = open_logged_in(dir.path());
        match secret_value(&fresh, handle) {
            Err(error) => assert_eq!(error.rv(), CKR_DEVICE_ERROR, "{what}: {error}"),
            Ok(values) => assert!(
                !values
                    .iter()
                    .any(|v| matches!(v, AttributeResult::Value(_))),
                "{what}: {values:?}"
            ),
        }
        let used = fresh.encrypt_init(&user_rw(), &gcm(), handle).map(drop);
        assert!(used.is_err(), "{what}: the key was used");
        // The original attributes back: the key works again, so it was
        // the binding that refused, not a damaged value.
        tamper(&dir, handle, |a| *a = original.clone());
        let restored = open_logged_in(dir.path());
        restored
            .encrypt_init(&user_rw(), &gcm(), handle)
            .unwrap_or_else(|e| panic!("{what}: restored key: {e}"));
    }
}

#[test]
fn a_row_cloned_under_new_attributes_does_not_open() {
    let (dir, device) = logged_in();
    let handle = create(&device, &aes_template(&VALUE, &[]));
    let database = database(&dir);
    let row = database.object(handle).unwrap().unwrap();
    let mut attributes = row.attributes.clone();
    attributes.set_bool(CKA_SENSITIVE, false);
    attributes.set_bool(CKA_EXTRACTABLE, true);
    let clone = database
        .insert_objects(&[(&attributes, row.sealed.as_deref())])
        .unwrap()[0];
    let error = secret_value(&device, clone).expect_err("the clone's value");
    assert_eq!(error.rv(), CKR_DEVICE_ERROR);
}

#[test]
fn changes_made_through_the_token_seal_the_value_again() {
    let (dir, device) = logged_in();
    let handle = create_readable_aes(&device, &VALUE);
    let before = database(&dir).object(handle).unwrap().unwrap().sealed;
    device
        .set_attributes(&user_rw(), handle, &[boolean(CKA_SENSITIVE, true)])
        .unwrap();
    let after = database(&dir).object(handle).unwrap().unwrap().sealed;
    assert_ne!(before, after, "sealed again under the new attributes");
    let fresh = open_logged_in(dir.path());
    assert!(matches!(
        secret_value(&fresh, handle).unwrap()[0],
        AttributeResult::Sensitive
    ));
    // A label is not bound: the value stays as it is.
    fresh
        .set_attributes(&user_rw(), handle, &[bytes(CKA_LABEL, b"renamed")])
        .unwrap();
    assert_eq!(
        database(&dir).object(handle).unwrap().unwrap().sealed,
        after
    );
}

#[test]
fn a_key_sealed_by_an_earlier_version_is_bound_at_the_next_login() {
    let (dir, device) = logged_in();
    let handle = create_readable_aes(&device, &VALUE);
    let token_key = device.inner.pins.token_key().unwrap();
    let database = database(&dir);
    let row = database.object(handle).unwrap().unwrap();
    // The earlier form: bound to CKA_UNIQUE_ID alone, no mark.
    let unique_id = row.attributes.get(CKA_UNIQUE_ID).unwrap().to_vec();
    let old = crate::device::soft::crypto::seal(token_key.bytes(), &VALUE, &unique_id).unwrap();
    database
        .update_object(handle, row.version, &row.attributes, Some(&old))
        .unwrap()
        .unwrap();
    device.logout();

    let fresh = open_logged_in(dir.path());
    let sealed = database.object(handle).unwrap().unwrap().sealed.unwrap();
    assert!(pins::is_bound(&sealed), "sealed again, bound");
    assert_value(&fresh, handle, CKA_VALUE, VALUE);
    // From now on the attributes are bound.
    tamper(&dir, handle, |a| flip(a, CKA_WRAP));
    let tampered = open_logged_in(dir.path());
    assert!(secret_value(&tampered, handle).is_err());
}

#[test]
fn the_signing_keys_public_half_overwritten_in_the_database_neither_signs_nor_verifies() {
    let (dir, device) = logged_in();
    let key = device.blob_signing_key(None).unwrap();
    key.sign_rs512(b"blob").unwrap();
    let other = crate::device::soft::crypto::generate_rsa(2048, &[]).unwrap();
    let other_public = crate::device::soft::crypto::public_to_der(
        &crate::device::soft::crypto::public_from_private(&other).unwrap(),
    )
    .unwrap();
    {
        let database = database(&dir);
        let connection = rusqlite::Connection::open(dir.path().join("token.sqlite")).unwrap();
        connection
            .execute("UPDATE signing_key SET public_der = ?1", [&other_public])
            .unwrap();
        drop(database);
    }
    let fresh = open_logged_in(dir.path());
    let refused = fresh
        .blob_signing_key(None)
        .map(drop)
        .expect_err("a replaced key");
    assert!(
        matches!(refused, crate::error::Error::KeyBindingBroken(_)),
        "{refused}"
    );
}

/// AES-GCM with a 12-byte IV and a 128-bit tag.
fn gcm() -> Mechanism {
    Mechanism::with(
        CKM_AES_GCM,
        crate::device::MechanismParameter::Gcm {
            iv: vec![0; 12],
            aad: Vec::new(),
            tag_bits: 128,
        },
    )
}
