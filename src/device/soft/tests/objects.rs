//! Handles, visibility, session objects, copy and destroy.

use super::*;
use crate::error::Error;

fn session_data(device: &SoftDevice, session: CK_SESSION_HANDLE, label: &str) -> Handle {
    let access = Access {
        session,
        ..user_rw()
    };
    let template = [
        ulong(CKA_CLASS, CKO_DATA),
        bytes(CKA_LABEL, label.as_bytes()),
    ];
    device.create_object(&access, &template).unwrap()
}

#[test]
fn token_handles_stay_low_and_session_handles_start_at_0x80000000() {
    let (_dir, device) = logged_in();
    let token = create(&device, &data_template("t"));
    let session = session_data(&device, 1, "s");
    assert!(token > 0 && token < 0x8000_0000, "{token:#x}");
    assert!(
        (0x8000_0000..0xFFF0_0000).contains(&session),
        "{session:#x}"
    );
}

#[test]
fn private_objects_are_invisible_before_login() {
    let (_dir, device) = logged_in();
    let public = create(&device, &data_template("public"));
    let private = create(&device, &aes_template(&[1u8; 16], &[]));
    assert_eq!(find_all(&device, &user_rw()), vec![public, private]);
    assert_eq!(find_all(&device, &public_rw()), vec![public]);
    assert!(matches!(
        device.get_attributes(&public_rw(), private, &[CKA_LABEL]),
        Err(Error::ObjectHandleInvalid)
    ));
    assert!(matches!(
        device.destroy_object(&public_rw(), private),
        Err(Error::ObjectHandleInvalid)
    ));
}

#[test]
fn find_matches_the_template_in_a_stable_order() {
    let (_dir, device) = logged_in();
    let a = create(&device, &data_template("a"));
    let b = create(&device, &data_template("b"));
    let c = create(&device, &data_template("a"));
    let s = session_data(&device, 1, "a");
    assert_eq!(
        device
            .find_objects(&user_rw(), &[bytes(CKA_LABEL, b"a")])
            .unwrap(),
        vec![a, c, s]
    );
    assert_eq!(
        device
            .find_objects(&user_rw(), &[bytes(CKA_LABEL, b"b")])
            .unwrap(),
        vec![b]
    );
    assert_eq!(
        device
            .find_objects(&user_rw(), &[ulong(CKA_CLASS, CKO_SECRET_KEY)])
            .unwrap(),
        Vec::<Handle>::new()
    );
}

#[test]
fn session_objects_vanish_when_their_session_closes_and_are_shared_until_then() {
    let (_dir, device) = logged_in();
    let mine = session_data(&device, 1, "mine");
    let theirs = session_data(&device, 2, "theirs");
    let other_session = Access {
        session: 2,
        ..user_rw()
    };
    assert_eq!(
        device.find_objects(&other_session, &[]).unwrap(),
        vec![mine, theirs]
    );
    device.close_session(1);
    assert_eq!(
        device.find_objects(&other_session, &[]).unwrap(),
        vec![theirs]
    );
    assert!(matches!(
        device.get_attributes(&other_session, mine, &[CKA_LABEL]),
        Err(Error::ObjectHandleInvalid)
    ));
}

#[test]
fn session_objects_can_be_created_from_a_read_only_session() {
    let (_dir, device) = logged_in();
    let template = [ulong(CKA_CLASS, CKO_DATA), boolean(CKA_PRIVATE, false)];
    let handle = device.create_object(&user_ro(), &template).unwrap();
    assert_eq!(
        value_of(&device, &user_ro(), handle, CKA_TOKEN),
        vec![CK_FALSE]
    );
}

#[test]
fn logout_destroys_private_session_objects_only() {
    let (_dir, device) = logged_in();
    let private = create(
        &device,
        &[ulong(CKA_CLASS, CKO_DATA), boolean(CKA_PRIVATE, true)],
    );
    let public = create(&device, &[ulong(CKA_CLASS, CKO_DATA)]);
    device.logout();
    device.login(0, UserType::User, USER_PIN).unwrap();
    assert_eq!(find_all(&device, &user_rw()), vec![public]);
    assert!(private != public);
}

#[test]
fn copy_makes_an_independent_object_with_the_template_applied() {
    let (_dir, device) = logged_in();
    let key = create_readable_aes(&device, &[6u8; 16]);
    let copy = device
        .copy_object(
            &user_rw(),
            key,
            &[boolean(CKA_TOKEN, false), bytes(CKA_LABEL, b"copy")],
        )
        .unwrap();
    assert!(copy >= 0x8000_0000);
    assert_value(&device, copy, CKA_VALUE, vec![6u8; 16]);
    assert_value(&device, copy, CKA_LABEL, b"copy");
    assert_value(&device, key, CKA_LABEL, b"");
    assert_ne!(
        value_of(&device, &user_rw(), copy, CKA_UNIQUE_ID),
        value_of(&device, &user_rw(), key, CKA_UNIQUE_ID)
    );
    let back = device
        .copy_object(&user_rw(), copy, &[boolean(CKA_TOKEN, true)])
        .unwrap();
    assert_value(&device, back, CKA_VALUE, vec![6u8; 16]);
}

/// A public token data object labelled `label`, with `attribute` added.
fn data_with(label: &str, attribute: Attribute) -> Vec<Attribute> {
    [data_template(label), vec![attribute]].concat()
}

#[test]
fn copy_refuses_uncopyable_objects_and_read_only_attributes() {
    let (_dir, device) = logged_in();
    let fixed = create(&device, &data_with("x", boolean(CKA_COPYABLE, false)));
    let result = device.copy_object(&user_rw(), fixed, &[]);
    assert_refused(result, CKR_ACTION_PROHIBITED, "an uncopyable object");
    let key = create(&device, &aes_template(&[6u8; 16], &[]));
    let result = device.copy_object(&user_rw(), key, &[ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)]);
    assert_refused(result, CKR_ATTRIBUTE_READ_ONLY, "a new key type");
    let result = device.copy_object(&user_ro(), key, &[]);
    assert_refused(result, CKR_SESSION_READ_ONLY, "a read-only session");
}

#[test]
fn destroy_respects_destroyable_and_read_only_sessions() {
    let (_dir, device) = logged_in();
    let fixed = create(&device, &data_with("x", boolean(CKA_DESTROYABLE, false)));
    let result = device.destroy_object(&user_rw(), fixed);
    assert_refused(result, CKR_ACTION_PROHIBITED, "an undestroyable object");
    let doomed = create(&device, &data_template("y"));
    let result = device.destroy_object(&user_ro(), doomed);
    assert_refused(result, CKR_SESSION_READ_ONLY, "a read-only session");
    device.destroy_object(&user_rw(), doomed).unwrap();
    let result = device.destroy_object(&user_rw(), doomed);
    assert_refused(result, CKR_OBJECT_HANDLE_INVALID, "destroyed already");
}

#[test]
fn unknown_handles_are_object_handle_invalid() {
    let (_dir, device) = logged_in();
    for handle in [0, 12345, 0x8000_0000, 0xFFEF_FFFF] {
        let result = device.get_attributes(&user_rw(), handle, &[CKA_LABEL]);
        assert!(
            matches!(result, Err(Error::ObjectHandleInvalid)),
            "{handle:#x}"
        );
        assert!(matches!(
            device.object_size(&user_rw(), handle),
            Err(Error::ObjectHandleInvalid)
        ));
    }
}
