//! Library, slot and token information, session states, login and PIN
//! flows, object visibility and persistence (PKCS#11 3.0 §5.4 to §5.7).

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;

fn aes_key_template(token: bool, private: bool, label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Token(token),
        Attribute::Private(private),
        Attribute::ValueLen(16.into()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ]
}

fn generate_aes(session: &Session, token: bool, private: bool, label: &str) {
    session
        .generate_key(
            &Mechanism::AesKeyGen,
            &aes_key_template(token, private, label),
        )
        .unwrap_or_else(|e| panic!("C_GenerateKey {label}: {e}"));
}

fn labels_found(session: &Session) -> Vec<String> {
    let mut labels: Vec<String> = find(session, &[])
        .into_iter()
        .map(|handle| {
            let label = attribute_bytes(session, handle, AttributeType::Label);
            String::from_utf8_lossy(&label).into_owned()
        })
        .collect();
    labels.sort();
    labels
}

// ----- library, slot, token -----

/// The `cryptoki` crate loads the library through `C_GetInterface`'s 3.0
/// interface, so `C_GetInfo` reports 3.0 (through `C_GetFunctionList` it
/// reports 2.40: tests/abi_rules.rs).
#[test]
fn library_info_reports_the_version_of_the_3_0_interface_the_crate_loads() {
    let token = TestToken::uninitialized();
    let info = token.pkcs11.get_library_info().expect("C_GetInfo");
    let version = info.cryptoki_version();
    assert_eq!((version.major(), version.minor()), (3, 0));
    assert!(!info.manufacturer_id().trim().is_empty());
}

#[test]
fn slot_list_holds_only_slot_1_with_its_token_present() {
    let token = TestToken::uninitialized();
    let all = token.pkcs11.get_all_slots().expect("C_GetSlotList");
    assert_eq!(all.iter().map(|s| s.id()).collect::<Vec<_>>(), vec![1]);
    let info = token
        .pkcs11
        .get_slot_info(token.slot)
        .expect("C_GetSlotInfo");
    assert!(info.token_present());
}

#[test]
fn slot_other_than_1_is_slot_id_invalid() {
    let _token = TestToken::uninitialized();
    let mut info = CK_SLOT_INFO::default();
    assert_ck!(ck!(C_GetSlotInfo(2, &mut info)), CKR_SLOT_ID_INVALID);
}

#[test]
fn fresh_token_reports_it_is_not_initialised() {
    let token = TestToken::uninitialized();
    let info = token
        .pkcs11
        .get_token_info(token.slot)
        .expect("C_GetTokenInfo");
    assert!(!info.token_initialized());
    assert!(!info.user_pin_initialized());
    assert!(info.rng());
    assert!(info.login_required());
}

#[test]
fn initialised_token_reports_its_flags_label_and_pin_lengths() {
    let token = TestToken::new();
    let info = token
        .pkcs11
        .get_token_info(token.slot)
        .expect("C_GetTokenInfo");
    assert!(info.token_initialized());
    assert!(info.user_pin_initialized());
    assert!(info.rng());
    assert!(info.login_required());
    assert!(!info.user_pin_locked());
    assert_eq!(info.label().trim_end(), TOKEN_LABEL);
    assert!(
        info.min_pin_length() >= 1,
        "min PIN length {}",
        info.min_pin_length()
    );
    assert!(info.min_pin_length() <= SO_PIN.len());
    assert!(info.max_pin_length() >= USER_PIN.len());
}

#[test]
fn token_info_counts_open_sessions() {
    let token = TestToken::new();
    let _ro = token.ro_session();
    let _rw = token.rw_session();
    let info = token
        .pkcs11
        .get_token_info(token.slot)
        .expect("C_GetTokenInfo");
    assert_eq!(info.session_count(), Some(2));
    assert_eq!(info.rw_session_count(), Some(1));
}

// ----- initialise and finalise -----

#[test]
fn second_initialize_is_already_initialized() {
    let _token = TestToken::uninitialized();
    assert_ck!(
        ck!(C_Initialize(std::ptr::null_mut())),
        CKR_CRYPTOKI_ALREADY_INITIALIZED
    );
}

#[test]
fn calls_before_initialize_are_not_initialized() {
    let _lock = lock();
    let mut info = CK_INFO::default();
    let mut count: CK_ULONG = 0;
    let mut session: CK_SESSION_HANDLE = 0;
    let mut token_info = CK_TOKEN_INFO::default();
    let cases: Vec<(&str, CK_RV)> = vec![
        ("C_GetInfo", ck!(C_GetInfo(&mut info))),
        (
            "C_GetSlotList",
            ck!(C_GetSlotList(CK_TRUE, std::ptr::null_mut(), &mut count)),
        ),
        ("C_GetTokenInfo", ck!(C_GetTokenInfo(1, &mut token_info))),
        (
            "C_OpenSession",
            ck!(C_OpenSession(
                1,
                CKF_SERIAL_SESSION,
                std::ptr::null_mut(),
                None,
                &mut session
            )),
        ),
        ("C_CloseSession", ck!(C_CloseSession(1))),
        ("C_Finalize", ck!(C_Finalize(std::ptr::null_mut()))),
    ];
    for (function, rv) in cases {
        assert!(
            rv == CKR_CRYPTOKI_NOT_INITIALIZED,
            "{function}: got {}",
            rv_name(rv)
        );
    }
}

#[test]
fn initialize_forbidding_library_threads_works_on_the_local_store() {
    let _lock = lock();
    let dir = tempfile::tempdir().unwrap();
    prepare_config(dir.path(), &[]);
    let mut args = CK_C_INITIALIZE_ARGS {
        CreateMutex: None,
        DestroyMutex: None,
        LockMutex: None,
        UnlockMutex: None,
        flags: CKF_LIBRARY_CANT_CREATE_OS_THREADS | CKF_OS_LOCKING_OK,
        pReserved: std::ptr::null_mut(),
    };
    let rv = ck!(C_Initialize(
        &mut args as *mut CK_C_INITIALIZE_ARGS as *mut std::ffi::c_void
    ));
    let mut info = CK_TOKEN_INFO::default();
    let token_rv = ck!(C_GetTokenInfo(1, &mut info));
    let finalize_rv = ck!(C_Finalize(std::ptr::null_mut()));
    assert_ck!(rv, CKR_OK);
    assert_ck!(token_rv, CKR_OK);
    assert_ck!(finalize_rv, CKR_OK);
}

#[test]
fn unknown_configuration_key_makes_initialize_fail_with_general_error() {
    let _lock = lock();
    let dir = tempfile::tempdir().unwrap();
    prepare_config(dir.path(), &[("NO_SUCH_KEY", "1")]);
    let rv = ck!(C_Initialize(std::ptr::null_mut()));
    if rv == CKR_OK {
        ck!(C_Finalize(std::ptr::null_mut()));
    }
    assert_ck!(rv, CKR_GENERAL_ERROR);
    let mut info = CK_INFO::default();
    assert_ck!(ck!(C_GetInfo(&mut info)), CKR_CRYPTOKI_NOT_INITIALIZED);
}

#[test]
fn interface_list_offers_pkcs11_3_0_then_2_40_then_3_2() {
    let _token = TestToken::uninitialized();
    let exports = raw_exports();
    let mut count: CK_ULONG = 0;
    // SAFETY: valid pointers; a NULL list asks for the count.
    assert_ck!(
        unsafe { exports.C_GetInterfaceList(std::ptr::null_mut(), &mut count) },
        CKR_OK
    );
    let mut interfaces = vec![
        CK_INTERFACE {
            pInterfaceName: std::ptr::null_mut(),
            pFunctionList: std::ptr::null_mut(),
            flags: 0,
        };
        count as usize
    ];
    // SAFETY: the array holds `count` entries.
    assert_ck!(
        unsafe { exports.C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count) },
        CKR_OK
    );
    let versions: Vec<(String, u8, u8)> = interfaces
        .iter()
        .map(|interface| {
            // SAFETY: the library's static, NUL-terminated name and function list.
            let name = unsafe { std::ffi::CStr::from_ptr(interface.pInterfaceName as *const _) };
            let version = unsafe { *(interface.pFunctionList as *const CK_VERSION) };
            (
                name.to_string_lossy().into_owned(),
                version.major,
                version.minor,
            )
        })
        .collect();
    assert_eq!(
        versions,
        vec![
            ("PKCS 11".to_string(), 3, 0),
            ("PKCS 11".to_string(), 2, 40),
            ("PKCS 11".to_string(), 3, 2)
        ]
    );
}

// ----- C_InitToken -----

#[test]
fn init_token_with_a_session_open_is_session_exists() {
    let token = TestToken::new();
    let _session = token.ro_session();
    assert_rv(
        token
            .pkcs11
            .init_token(token.slot, &AuthPin::from(SO_PIN), TOKEN_LABEL),
        RvError::SessionExists,
    );
}

#[test]
fn reinitialising_with_a_wrong_so_pin_is_pin_incorrect() {
    let token = TestToken::new();
    assert_rv(
        token
            .pkcs11
            .init_token(token.slot, &AuthPin::from("not-the-so-pin"), TOKEN_LABEL),
        RvError::PinIncorrect,
    );
}

#[test]
fn reinitialising_with_the_so_pin_destroys_token_objects() {
    let token = TestToken::new();
    {
        let session = token.user_session();
        generate_aes(&session, true, false, "before-reinit");
    }
    token
        .pkcs11
        .init_token(token.slot, &AuthPin::from(SO_PIN), "relabelled")
        .expect("C_InitToken with the right SO PIN");
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert_eq!(info.label().trim_end(), "relabelled");
    let session = token.ro_session();
    assert!(labels_found(&session).is_empty());
}

// ----- sessions -----

#[test]
fn session_without_the_serial_flag_is_parallel_not_supported() {
    let _token = TestToken::new();
    let mut session: CK_SESSION_HANDLE = 0;
    assert_ck!(
        ck!(C_OpenSession(
            1,
            CKF_RW_SESSION,
            std::ptr::null_mut(),
            None,
            &mut session
        )),
        CKR_SESSION_PARALLEL_NOT_SUPPORTED
    );
}

#[test]
fn read_only_session_cannot_create_a_token_object() {
    let token = TestToken::new();
    let _rw = token.user_session();
    let ro = token.ro_session();
    assert_rv(
        ro.generate_key(
            &Mechanism::AesKeyGen,
            &aes_key_template(true, true, "ro-token"),
        ),
        RvError::SessionReadOnly,
    );
}

#[test]
fn read_only_session_can_create_a_session_object() {
    let token = TestToken::new();
    let _rw = token.user_session();
    let ro = token.ro_session();
    generate_aes(&ro, false, true, "ro-session-object");
}

#[test]
fn session_states_follow_the_login_state() {
    let token = TestToken::new();
    let ro = token.ro_session();
    let rw = token.rw_session();
    assert_eq!(
        ro.get_session_info().unwrap().session_state(),
        SessionState::RoPublic
    );
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
    rw.login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("user login");
    assert_eq!(
        ro.get_session_info().unwrap().session_state(),
        SessionState::RoUser
    );
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwUser
    );
    rw.logout().expect("logout");
    drop(ro);
    rw.login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .expect("SO login");
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwSecurityOfficer
    );
    assert!(rw.get_session_info().unwrap().read_write());
}

#[test]
fn login_is_shared_by_all_sessions_of_the_application() {
    let token = TestToken::new();
    let first = token.rw_session();
    let second = token.rw_session();
    first
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("login");
    generate_aes(&second, true, true, "made-in-second");
    assert_eq!(labels_found(&first), vec!["made-in-second".to_string()]);
}

#[test]
fn second_login_is_user_already_logged_in() {
    let token = TestToken::new();
    let session = token.user_session();
    assert_rv(
        session.login(UserType::User, Some(&AuthPin::from(USER_PIN))),
        RvError::UserAlreadyLoggedIn,
    );
}

#[test]
fn so_login_while_the_user_is_logged_in_is_another_user_already_logged_in() {
    let token = TestToken::new();
    let session = token.user_session();
    assert_rv(
        session.login(UserType::So, Some(&AuthPin::from(SO_PIN))),
        RvError::UserAnotherAlreadyLoggedIn,
    );
}

#[test]
fn so_login_with_a_read_only_session_open_is_session_read_only_exists() {
    let token = TestToken::new();
    let _ro = token.ro_session();
    let rw = token.rw_session();
    assert_rv(
        rw.login(UserType::So, Some(&AuthPin::from(SO_PIN))),
        RvError::SessionReadOnlyExists,
    );
}

#[test]
fn read_only_session_while_the_so_is_logged_in_is_session_read_write_so_exists() {
    let token = TestToken::new();
    let rw = token.rw_session();
    rw.login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .expect("SO login");
    assert_rv(
        token.pkcs11.open_ro_session(token.slot),
        RvError::SessionReadWriteSoExists,
    );
}

#[test]
fn closing_the_last_session_logs_out() {
    let token = TestToken::new();
    drop(token.user_session());
    let session = token.rw_session();
    assert_eq!(
        session.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
}

#[test]
fn closing_one_of_two_sessions_keeps_the_login() {
    let token = TestToken::new();
    let kept = token.rw_session();
    drop(token.user_session());
    assert_eq!(
        kept.get_session_info().unwrap().session_state(),
        SessionState::RwUser
    );
}

#[test]
fn close_all_sessions_closes_every_session_and_logs_out() {
    let token = TestToken::new();
    let first = token.user_session();
    let second = token.ro_session();
    assert_ck!(ck!(C_CloseAllSessions(SLOT_ID)), CKR_OK);
    let mut info = CK_SESSION_INFO::default();
    for handle in [first.handle(), second.handle()] {
        assert_ck!(
            ck!(C_GetSessionInfo(handle, &mut info)),
            CKR_SESSION_HANDLE_INVALID
        );
    }
    let fresh = token.rw_session();
    assert_eq!(
        fresh.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
}

#[test]
fn logout_without_login_is_user_not_logged_in() {
    let token = TestToken::new();
    let session = token.rw_session();
    assert_rv(session.logout(), RvError::UserNotLoggedIn);
}

#[test]
fn closing_a_session_destroys_its_session_objects() {
    let token = TestToken::new();
    let keeper = token.user_session();
    {
        let other = token.rw_session();
        generate_aes(&other, false, false, "session-object");
        assert_eq!(labels_found(&keeper), vec!["session-object".to_string()]);
    }
    assert!(labels_found(&keeper).is_empty());
}

#[test]
fn closed_session_handle_is_session_handle_invalid() {
    let token = TestToken::new();
    let session = token.rw_session();
    let handle = session.handle();
    session.close().expect("C_CloseSession");
    let mut info = CK_SESSION_INFO::default();
    assert_ck!(
        ck!(C_GetSessionInfo(handle, &mut info)),
        CKR_SESSION_HANDLE_INVALID
    );
}

// ----- PINs -----

#[test]
fn wrong_user_pins_are_pin_incorrect() {
    let token = TestToken::new();
    let session = token.rw_session();
    for pin in [
        "cu1:wrong-password",
        "cu2:user1234",
        "user1234",
        "cu1:",
        ":user1234",
    ] {
        assert_eq!(
            rv_of(session.login(UserType::User, Some(&AuthPin::from(pin)))),
            RvError::PinIncorrect,
            "PIN {pin:?}"
        );
    }
}

#[test]
fn user_pin_in_username_colon_password_form_logs_in() {
    let token = TestToken::new();
    let session = token.rw_session();
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("cu1:user1234 logs in");
    assert_eq!(
        session.get_session_info().unwrap().session_state(),
        SessionState::RwUser
    );
}

#[test]
fn set_pin_replaces_the_user_pin() {
    let token = TestToken::new();
    let session = token.user_session();
    let new_pin = "cu1:new-password-99";
    session
        .set_pin(&AuthPin::from(USER_PIN), &AuthPin::from(new_pin))
        .expect("C_SetPIN");
    session.logout().unwrap();
    assert_rv(
        session.login(UserType::User, Some(&AuthPin::from(USER_PIN))),
        RvError::PinIncorrect,
    );
    session
        .login(UserType::User, Some(&AuthPin::from(new_pin)))
        .expect("login with the new PIN");
}

#[test]
fn set_pin_with_a_wrong_old_pin_is_pin_incorrect() {
    let token = TestToken::new();
    let session = token.user_session();
    assert_rv(
        session.set_pin(&AuthPin::from("cu1:wrong"), &AuthPin::from("cu1:other-pin")),
        RvError::PinIncorrect,
    );
}

#[test]
fn set_pin_without_login_changes_the_user_pin() {
    let token = TestToken::new();
    let session = token.rw_session();
    let new_pin = "cu1:changed-while-public";
    session
        .set_pin(&AuthPin::from(USER_PIN), &AuthPin::from(new_pin))
        .expect("C_SetPIN in a R/W public session");
    session
        .login(UserType::User, Some(&AuthPin::from(new_pin)))
        .expect("login with the new PIN");
}

#[test]
fn so_can_change_the_so_pin() {
    let token = TestToken::new();
    let new_so_pin = "so-pin-5678";
    {
        let session = token.rw_session();
        session
            .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
            .unwrap();
        session
            .set_pin(&AuthPin::from(SO_PIN), &AuthPin::from(new_so_pin))
            .expect("C_SetPIN by the SO");
    }
    assert_rv(
        token
            .pkcs11
            .init_token(token.slot, &AuthPin::from(SO_PIN), TOKEN_LABEL),
        RvError::PinIncorrect,
    );
    token
        .pkcs11
        .init_token(token.slot, &AuthPin::from(new_so_pin), TOKEN_LABEL)
        .expect("C_InitToken with the new SO PIN");
}

#[test]
fn pins_outside_the_advertised_lengths_are_pin_len_range() {
    let token = TestToken::new();
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    let (min, max) = (info.min_pin_length(), info.max_pin_length());
    let session = token.rw_session();
    session
        .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .unwrap();
    let too_long = format!("cu1:{}", "p".repeat(max));
    assert_rv(
        session.init_pin(&AuthPin::from(too_long.as_str())),
        RvError::PinLenRange,
    );
    if min > 1 {
        let too_short = "c".repeat(min - 1);
        assert_rv(
            session.init_pin(&AuthPin::from(too_short.as_str())),
            RvError::PinLenRange,
        );
    }
}

#[test]
fn init_pin_without_the_so_logged_in_is_user_not_logged_in() {
    let token = TestToken::new();
    let public = token.rw_session();
    assert_rv(
        public.init_pin(&AuthPin::from("cu1:another")),
        RvError::UserNotLoggedIn,
    );
    public
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .unwrap();
    assert_rv(
        public.init_pin(&AuthPin::from("cu1:another")),
        RvError::UserNotLoggedIn,
    );
}

#[test]
fn pin_locks_after_the_configured_number_of_failures() {
    let token = TestToken::with_options(TokenOptions::default().with("PIN_MAX_FAILURES", "3"));
    let session = token.rw_session();
    let wrong = AuthPin::from("cu1:wrong");
    for attempt in 1..=2 {
        assert_eq!(
            rv_of(session.login(UserType::User, Some(&wrong))),
            RvError::PinIncorrect,
            "attempt {attempt}"
        );
    }
    assert_rv(
        session.login(UserType::User, Some(&wrong)),
        RvError::PinIncorrect,
    );
    assert_rv(
        session.login(UserType::User, Some(&wrong)),
        RvError::PinLocked,
    );
    assert_rv(
        session.login(UserType::User, Some(&AuthPin::from(USER_PIN))),
        RvError::PinLocked,
    );
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert!(info.user_pin_locked(), "CKF_USER_PIN_LOCKED");
}

#[test]
fn token_flags_warn_before_the_pin_locks() {
    let token = TestToken::with_options(TokenOptions::default().with("PIN_MAX_FAILURES", "3"));
    let session = token.rw_session();
    let wrong = AuthPin::from("cu1:wrong");
    assert_rv(
        session.login(UserType::User, Some(&wrong)),
        RvError::PinIncorrect,
    );
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert!(
        info.user_pin_count_low(),
        "CKF_USER_PIN_COUNT_LOW after one failure"
    );
    assert!(!info.user_pin_final_try());
    assert_rv(
        session.login(UserType::User, Some(&wrong)),
        RvError::PinIncorrect,
    );
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert!(
        info.user_pin_final_try(),
        "CKF_USER_PIN_FINAL_TRY with one try left"
    );
}

#[test]
fn a_good_login_resets_the_failure_count() {
    let token = TestToken::with_options(TokenOptions::default().with("PIN_MAX_FAILURES", "3"));
    let session = token.rw_session();
    let wrong = AuthPin::from("cu1:wrong");
    for _ in 0..2 {
        assert_rv(
            session.login(UserType::User, Some(&wrong)),
            RvError::PinIncorrect,
        );
    }
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("good login");
    session.logout().unwrap();
    for _ in 0..2 {
        assert_rv(
            session.login(UserType::User, Some(&wrong)),
            RvError::PinIncorrect,
        );
    }
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("still not locked");
}

// ----- visibility and sensitivity -----

#[test]
fn private_objects_are_hidden_before_login() {
    let token = TestToken::new();
    {
        let session = token.user_session();
        generate_aes(&session, true, true, "private-key");
        generate_aes(&session, true, false, "public-key");
    }
    let session = token.ro_session();
    assert_eq!(labels_found(&session), vec!["public-key".to_string()]);
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .unwrap();
    assert_eq!(
        labels_found(&session),
        vec!["private-key".to_string(), "public-key".to_string()]
    );
}

#[test]
fn private_object_handle_is_invalid_before_login() {
    let token = TestToken::new();
    let handle = {
        let session = token.user_session();
        session
            .generate_key(
                &Mechanism::AesKeyGen,
                &aes_key_template(true, true, "private-key"),
            )
            .unwrap()
    };
    let session = token.ro_session();
    assert_rv(
        session.get_attributes(handle, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
}

#[test]
fn sensitive_attributes_are_unavailable_with_attribute_sensitive() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = generate_rsa(&session, 2048, false, b"s");
    let aes = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Sensitive(true),
                Attribute::Encrypt(true),
            ],
        )
        .unwrap();
    for (object, kind) in [
        (rsa.private.handle(), CKA_PRIVATE_EXPONENT),
        (rsa.private.handle(), CKA_PRIME_1),
        (aes.handle(), CKA_VALUE),
    ] {
        let mut template = [length_query(kind)];
        let rv = ck!(C_GetAttributeValue(
            session.handle(),
            object,
            template.as_mut_ptr(),
            1
        ));
        assert!(
            rv == CKR_ATTRIBUTE_SENSITIVE,
            "attribute {kind:#x}: {}",
            rv_name(rv)
        );
        assert_eq!(template[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    }
}

#[test]
fn generated_sensitive_key_reports_always_sensitive_and_local() {
    let token = TestToken::new();
    let session = token.user_session();
    let rsa = generate_rsa(&session, 2048, false, b"s");
    let attributes = session
        .get_attributes(
            rsa.private,
            &[
                AttributeType::Sensitive,
                AttributeType::AlwaysSensitive,
                AttributeType::Local,
                AttributeType::Class,
            ],
        )
        .unwrap();
    assert!(attributes.contains(&Attribute::Sensitive(true)));
    assert!(attributes.contains(&Attribute::AlwaysSensitive(true)));
    assert!(attributes.contains(&Attribute::Local(true)));
    assert!(attributes.contains(&Attribute::Class(ObjectClass::PRIVATE_KEY)));
}

// ----- persistence -----

#[test]
fn token_keys_persist_across_finalize_and_initialize() {
    let mut token = TestToken::new();
    let signature_before;
    let public_key = {
        let session = token.user_session();
        let pair = generate_rsa(&session, 2048, true, b"persist");
        session
            .update_attributes(pair.private, &[Attribute::Label(b"persisted".to_vec())])
            .expect("C_SetAttributeValue label");
        signature_before = session
            .sign(&Mechanism::Sha256RsaPkcs, pair.private, b"hello")
            .unwrap();
        openssl_public_key(&session, pair.public)
    };
    token.reinitialize();
    let session = token.user_session();
    let found = find(
        &session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Label(b"persisted".to_vec()),
        ],
    );
    assert_eq!(
        found.len(),
        1,
        "the private key is found after re-initialisation"
    );
    let signature_after = session
        .sign(&Mechanism::Sha256RsaPkcs, found[0], b"hello")
        .unwrap();
    assert_eq!(
        signature_before, signature_after,
        "PKCS#1 v1.5 is deterministic"
    );
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public_key).unwrap();
    verifier.update(b"hello").unwrap();
    assert!(verifier.verify(&signature_after).unwrap());
}

#[test]
fn session_keys_do_not_survive_finalize() {
    let mut token = TestToken::new();
    {
        let session = token.user_session();
        generate_aes(&session, false, false, "ephemeral");
        generate_aes(&session, true, false, "durable");
    }
    token.reinitialize();
    let session = token.user_session();
    assert_eq!(labels_found(&session), vec!["durable".to_string()]);
}

#[test]
fn user_pin_persists_across_finalize_and_initialize() {
    let mut token = TestToken::new();
    token.reinitialize();
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert!(info.token_initialized() && info.user_pin_initialized());
    drop(token.user_session());
}
