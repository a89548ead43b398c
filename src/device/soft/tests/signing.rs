//! The blob-signing key.

use super::*;
use crate::error::Error;

fn verifies(public_der: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let key = openssl::pkey::PKey::public_key_from_der(public_der).unwrap();
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha512(), &key).unwrap();
    verifier.verify_oneshot(signature, message).unwrap()
}

#[test]
fn the_own_key_does_not_exist_before_the_first_login() {
    let (_dir, device) = initialized();
    assert!(matches!(
        device.blob_signing_key(None),
        Err(Error::UserNotLoggedIn)
    ));
}

#[test]
fn the_own_key_signs_rs512_and_survives_a_restart() {
    let (dir, device) = logged_in();
    let key = device.blob_signing_key(None).unwrap();
    let signature = key.sign_rs512(b"blob").unwrap();
    assert!(verifies(&key.public_key_der(), b"blob", &signature));
    assert_eq!(key.key_id().len(), 32);
    drop(device);
    let reopened = open(dir.path());
    let again = reopened.blob_signing_key(None).unwrap();
    assert_eq!(
        (again.key_id(), again.public_key_der()),
        (key.key_id(), key.public_key_der())
    );
    assert!(matches!(
        again.sign_rs512(b"blob"),
        Err(Error::UserNotLoggedIn)
    ));
    reopened.login(0, UserType::User, USER_PIN).unwrap();
    assert!(verifies(
        &again.public_key_der(),
        b"more",
        &again.sign_rs512(b"more").unwrap()
    ));
}

#[test]
fn the_own_key_is_invisible_to_searches() {
    let (_dir, device) = logged_in();
    device.blob_signing_key(None).unwrap();
    assert_eq!(find_all(&device, &user_rw()), Vec::<Handle>::new());
}

#[test]
fn the_security_officer_neither_creates_nor_signs_with_the_own_key() {
    let (_dir, device) = initialized();
    device.login(0, UserType::SecurityOfficer, SO_PIN).unwrap();
    assert!(matches!(
        device.blob_signing_key(None),
        Err(Error::UserNotLoggedIn)
    ));
    device.logout();
    device.login(0, UserType::User, USER_PIN).unwrap();
    let key = device.blob_signing_key(None).unwrap();
    device.logout();
    device.login(0, UserType::SecurityOfficer, SO_PIN).unwrap();
    assert!(matches!(key.sign_rs512(b"x"), Err(Error::UserNotLoggedIn)));
}

#[test]
fn reinitialising_the_token_replaces_the_own_key() {
    let (_dir, device) = logged_in();
    let old = device.blob_signing_key(None).unwrap();
    device.init_token(SO_PIN, "again").unwrap();
    device.login(0, UserType::SecurityOfficer, SO_PIN).unwrap();
    device.init_pin(0, USER_PIN).unwrap();
    device.logout();
    device.login(0, UserType::User, USER_PIN).unwrap();
    let new = device.blob_signing_key(None).unwrap();
    assert_ne!(new.key_id(), old.key_id());
    let refused = old.sign_rs512(b"x").unwrap_err();
    assert!(matches!(refused, Error::BlobSigningKey(_)), "{refused:?}");
    assert_eq!(refused.rv(), cryptoki_sys::CKR_DEVICE_ERROR);
}

#[test]
fn a_configured_key_is_found_by_its_id_text_and_needs_login_to_sign() {
    let (dir, device) = logged_in();
    let (public, _) = rsa_pair(&device, b"blob-signer");
    let key = device.blob_signing_key(Some("blob-signer")).unwrap();
    assert_eq!(
        key.public_key_der(),
        value_of(&device, &user_rw(), public, CKA_PUBLIC_KEY_INFO)
    );
    assert!(verifies(
        &key.public_key_der(),
        b"m",
        &key.sign_rs512(b"m").unwrap()
    ));
    let before_login = open(dir.path())
        .blob_signing_key(Some("blob-signer"))
        .unwrap();
    assert_eq!(before_login.key_id(), key.key_id());
    assert!(matches!(
        before_login.sign_rs512(b"m"),
        Err(Error::UserNotLoggedIn)
    ));
}

#[test]
fn a_missing_configured_key_is_a_device_error_naming_it() {
    let (_dir, device) = logged_in();
    match device.blob_signing_key(Some("nope")) {
        Err(error @ Error::BlobSigningKey(_)) => {
            let message = error.to_string();
            assert!(message.contains("nope"), "{message}");
            assert_eq!(error.rv(), cryptoki_sys::CKR_DEVICE_ERROR);
        }
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("found a key that does not exist"),
    }
}
