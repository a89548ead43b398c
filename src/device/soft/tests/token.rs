//! Token initialisation, PINs, lockout.

use super::*;
use crate::device::PinChange;
use crate::error::Error;

/// Logs the user in with a wrong PIN `times` times, each refused as incorrect.
fn fail_user_logins(device: &SoftDevice, times: u32) {
    for attempt in 1..=times {
        let result = device.login(0, UserType::User, b"cu1:wrong");
        assert!(
            matches!(result, Err(Error::PinIncorrect)),
            "wrong PIN {attempt}: {result:?}"
        );
    }
}

/// The user PIN is locked: the status says so and even the right PIN is refused.
fn assert_user_pin_locked(device: &SoftDevice) {
    assert!(device.token_status().unwrap().user_pin_locked);
    let result = device.login(0, UserType::User, USER_PIN);
    assert!(matches!(result, Err(Error::PinLocked)), "{result:?}");
}

#[test]
fn a_new_token_directory_is_created_private_and_uninitialised() {
    let parent = TempDir::new().unwrap();
    let dir = parent.path().join("a/token");
    let device = open(&dir);
    let status = device.token_status().unwrap();
    assert!(!status.initialized);
    assert!(!status.user_pin_initialized);
    assert_eq!(status.serial.len(), 16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}

#[test]
fn the_serial_survives_reopening_and_reinitialising() {
    let (dir, device) = initialized();
    let serial = device.token_status().unwrap().serial;
    device.init_token(SO_PIN, "again").unwrap();
    assert_eq!(open(dir.path()).token_status().unwrap().serial, serial);
}

#[test]
fn login_on_an_uninitialised_token_is_token_not_recognized() {
    let dir = TempDir::new().unwrap();
    let device = open(dir.path());
    assert!(matches!(
        device.login(0, UserType::User, USER_PIN),
        Err(Error::TokenNotRecognized)
    ));
}

#[test]
fn user_login_before_init_pin_is_user_pin_not_initialized() {
    let dir = TempDir::new().unwrap();
    let device = open(dir.path());
    device.init_token(SO_PIN, "t").unwrap();
    assert!(matches!(
        device.login(0, UserType::User, USER_PIN),
        Err(Error::UserPinNotInitialized)
    ));
    assert!(!device.token_status().unwrap().user_pin_initialized);
}

#[test]
fn init_token_sets_label_and_reports_pin_lengths() {
    let (_dir, device) = initialized();
    let status = device.token_status().unwrap();
    assert_eq!(
        (
            status.label.as_str(),
            status.initialized,
            status.user_pin_initialized
        ),
        ("test token", true, true)
    );
    assert_eq!((status.min_pin_len, status.max_pin_len), (4, 255));
}

#[test]
fn pins_outside_four_to_255_bytes_are_pin_len_range() {
    let dir = TempDir::new().unwrap();
    let device = open(dir.path());
    assert!(matches!(
        device.init_token(b"abc", "t"),
        Err(Error::PinLenRange)
    ));
    assert!(matches!(
        device.init_token(&[b'a'; 256], "t"),
        Err(Error::PinLenRange)
    ));
    device.init_token(SO_PIN, "t").unwrap();
    device.login(0, UserType::SecurityOfficer, SO_PIN).unwrap();
    assert!(matches!(
        device.init_pin(0, b"123"),
        Err(Error::PinLenRange)
    ));
    device.init_pin(0, &[b'a'; 255]).unwrap();
}

#[test]
fn reinitialising_needs_the_so_pin_and_destroys_objects_and_the_user_pin() {
    let (_dir, device) = logged_in();
    let handle = create(&device, &data_template("keep?"));
    assert!(matches!(
        device.init_token(b"wrong-pin", "new"),
        Err(Error::PinIncorrect)
    ));
    assert_eq!(find_all(&device, &user_rw()), vec![handle]);
    device.init_token(SO_PIN, "new").unwrap();
    assert_eq!(find_all(&device, &user_rw()), Vec::<Handle>::new());
    let status = device.token_status().unwrap();
    assert_eq!(
        (status.label.as_str(), status.user_pin_initialized),
        ("new", false)
    );
    assert!(matches!(
        device.login(0, UserType::User, USER_PIN),
        Err(Error::UserPinNotInitialized)
    ));
}

#[test]
fn a_wrong_pin_is_counted_and_reported() {
    let (_dir, device) = initialized();
    fail_user_logins(&device, 1);
    let status = device.token_status().unwrap();
    assert!(status.user_pin_count_low && !status.user_pin_final_try && !status.user_pin_locked);
    fail_user_logins(&device, 1);
    let status = device.token_status().unwrap();
    assert!(status.user_pin_final_try && !status.user_pin_locked);
}

#[test]
fn a_good_login_resets_the_failure_counter() {
    let (_dir, device) = initialized();
    fail_user_logins(&device, MAX_FAILURES - 1);
    device.login(0, UserType::User, USER_PIN).unwrap();
    let status = device.token_status().unwrap();
    assert!(!status.user_pin_count_low && !status.user_pin_final_try);
    device.logout();
    fail_user_logins(&device, 1);
    assert!(!device.token_status().unwrap().user_pin_locked);
}

#[test]
fn too_many_failures_lock_the_pin_even_for_the_right_pin() {
    let (_dir, device) = initialized();
    fail_user_logins(&device, MAX_FAILURES);
    assert_user_pin_locked(&device);
}

#[test]
fn init_pin_by_the_so_unlocks_a_locked_user_pin() {
    let (_dir, device) = initialized();
    fail_user_logins(&device, MAX_FAILURES);
    device.login(0, UserType::SecurityOfficer, SO_PIN).unwrap();
    device.init_pin(0, b"cu1:fresh-pin").unwrap();
    device.logout();
    assert!(!device.token_status().unwrap().user_pin_locked);
    device.login(0, UserType::User, b"cu1:fresh-pin").unwrap();
}

#[test]
fn set_pin_checks_the_old_pin_and_replaces_it() {
    let (_dir, device) = initialized();
    assert!(matches!(
        device.set_pin(0, pin_change(UserType::User, b"cu1:wrong", b"cu1:new-pin")),
        Err(Error::PinIncorrect)
    ));
    assert!(device.token_status().unwrap().user_pin_count_low);
    device
        .set_pin(0, pin_change(UserType::User, USER_PIN, b"cu1:new-pin"))
        .unwrap();
    assert!(matches!(
        device.login(0, UserType::User, USER_PIN),
        Err(Error::PinIncorrect)
    ));
    device.login(0, UserType::User, b"cu1:new-pin").unwrap();
}

#[test]
fn set_pin_of_the_so_keeps_objects_readable() {
    let (dir, device) = logged_in();
    let key = create_readable_aes(&device, &[7u8; 32]);
    device.logout();
    device
        .set_pin(
            0,
            pin_change(UserType::SecurityOfficer, SO_PIN, b"new-so-pin"),
        )
        .unwrap();
    device
        .set_pin(0, pin_change(UserType::User, USER_PIN, b"cu1:other"))
        .unwrap();
    let reopened = open(dir.path());
    reopened.login(0, UserType::User, b"cu1:other").unwrap();
    assert_value(&reopened, key, CKA_VALUE, vec![7u8; 32]);
    assert!(matches!(
        reopened.init_token(SO_PIN, "x"),
        Err(Error::PinIncorrect)
    ));
}

#[test]
fn so_failures_are_counted_separately_from_user_failures() {
    let (_dir, device) = initialized();
    assert!(matches!(
        device.login(0, UserType::SecurityOfficer, b"bad-so-pin"),
        Err(Error::PinIncorrect)
    ));
    let status = device.token_status().unwrap();
    assert!(status.so_pin_count_low && !status.user_pin_count_low);
}

#[test]
fn failures_made_through_another_instance_count_here() {
    let (dir, device) = initialized();
    let other = open(dir.path());
    fail_user_logins(&other, MAX_FAILURES);
    assert_user_pin_locked(&device);
}

#[test]
fn logout_forgets_the_token_key() {
    let (_dir, device) = logged_in();
    device.logout();
    let created = device.create_object(
        &user_rw(),
        &aes_template(&[1u8; 16], &[boolean(CKA_PRIVATE, false)]),
    );
    assert!(matches!(created, Err(Error::UserNotLoggedIn)));
}

#[test]
fn a_new_pin_that_is_not_utf8_is_pin_invalid() {
    let dir = TempDir::new().unwrap();
    let device = open(dir.path());
    assert!(matches!(
        device.init_token(&[0xff, 0xfe, 0xfd, 0xfc], "t"),
        Err(Error::PinInvalid)
    ));
    assert!(!device.token_status().unwrap().initialized);
}

#[test]
fn a_pin_check_that_cannot_be_counted_fails_the_login() {
    let (dir, device) = initialized();
    let connection = rusqlite::Connection::open(dir.path().join("token.sqlite")).unwrap();
    connection
        .execute_batch("DROP TABLE pin_attempts; CREATE VIEW pin_attempts AS SELECT 1 AS id, 'user' AS owner, 0 AS started;")
        .unwrap();
    for pin in [USER_PIN, b"wrong-pin-0".as_slice()] {
        let error = device
            .login(0, UserType::User, pin)
            .expect_err("no count, no check");
        assert_eq!(error.rv(), CKR_DEVICE_ERROR, "{error}");
    }
    assert!(device.inner.pins.require_user_pin().is_err());
}

/// `C_SetPIN`'s request.
fn pin_change<'a>(user: UserType, old_pin: &'a [u8], new_pin: &'a [u8]) -> PinChange<'a> {
    PinChange {
        user,
        old_pin,
        new_pin,
    }
}
