//! Faults that must never hang, break or lose anything: a certificate store
//! that is down or frozen, a token re-initialised under a running process,
//! a certificate changed by another process, and a logout racing a login.
//!
//! Every wait is a generous watchdog (a call that should take milliseconds
//! gets a minute), never a timing assertion.

mod common;

use azcloudhsm_pkcs11::certstore::azure::EMULATOR_ACCOUNT_KEY;
use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{SessionState, UserType};
use cryptoki::types::AuthPin;
use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);
const WORKER: &str = "robustness_worker_runs_the_role_its_parent_names";
const ROLE_ENV: &str = "AZCLOUDHSM_ITEST_ROLE";
const CONFIG_PATH_ENV: &str = "AZCLOUDHSM_ITEST_CONFIG";

fn sorted(handles: Vec<ObjectHandle>) -> BTreeSet<u64> {
    handles.iter().map(|h| h.handle()).collect()
}

fn is_rv(result: &Result<impl std::fmt::Debug, Error>, rv: RvError) -> bool {
    matches!(result, Err(Error::Pkcs11(got, _)) if *got == rv)
}

/// A second process on the parent's configuration, for the roles below.
#[test]
#[ignore = "a child process of the tests in this file; panics when run alone"]
fn robustness_worker_runs_the_role_its_parent_names() {
    let config = std::path::PathBuf::from(worker_env(CONFIG_PATH_ENV));
    let provider = Provider::open(&config);
    match worker_env(ROLE_ENV).as_str() {
        // C_InitToken, the user PIN again, and one certificate.
        "reinitialize" => {
            let so_pin = AuthPin::from(SO_PIN);
            provider
                .pkcs11
                .init_token(provider.slot, &so_pin, TOKEN_LABEL)
                .expect("C_InitToken in the worker");
            let session = provider.rw_session();
            session.login(UserType::So, Some(&so_pin)).unwrap();
            session.init_pin(&AuthPin::from(USER_PIN)).unwrap();
            session.logout().unwrap();
            let session = provider.user_session();
            let handle = session
                .create_object(&certificate_template("by-worker", b"by worker"))
                .expect("a create after C_InitToken");
            println!("created {}", handle.handle());
        }
        // Destroys the certificate labelled "doomed", relabels "renamed".
        "change" => {
            let session = provider.user_session();
            let [doomed] = find(&session, &label_search("doomed"))[..] else {
                panic!("one certificate labelled doomed")
            };
            session.destroy_object(doomed).unwrap();
            let [renamed] = find(&session, &label_search("renamed"))[..] else {
                panic!("one certificate labelled renamed")
            };
            session
                .update_attributes(renamed, &[Attribute::Label(b"new label".to_vec())])
                .unwrap();
        }
        role => panic!("unknown role {role}"),
    }
}

/// Under `CKF_LIBRARY_CANT_CREATE_OS_THREADS`, certificate calls against
/// an Azure store named by a host name (a DNS look-up, which an HTTP client
/// may hand to a thread pool) start no thread.
#[test]
#[ignore = "a child process of azurite_no_thread_is_created_when_the_application_forbids_it_even_for_a_dns_look_up"]
fn robustness_worker_counts_threads_under_cant_create_os_threads() {
    let (pkcs11, before) =
        load_and_initialize_without_threads(std::path::Path::new(&worker_env(CONFIG_PATH_ENV)));
    let slot = slot_one(&pkcs11);
    let session = pkcs11.open_rw_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .unwrap();
    let handle = session
        .create_object(&certificate_template("no-threads", b"no threads"))
        .expect("a create through localhost");
    assert_eq!(find(&session, &label_search("no-threads")), [handle]);
    session.destroy_object(handle).unwrap();
    let after = thread_count();
    println!("threads: {before} before C_Initialize, {after} after the calls");
    assert_eq!(
        after,
        before,
        "the library started {} thread(s)",
        after as i64 - before as i64
    );
    drop(session);
    pkcs11.finalize().unwrap();
}

#[test]
fn azurite_no_thread_is_created_when_the_application_forbids_it_even_for_a_dns_look_up() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let by_name = url.replace("127.0.0.1", "localhost");
    assert!(by_name.contains("//localhost:"), "{by_name}");
    let env = AzuriteEnvironment::new(&by_name, "dns");
    let output = run_worker(
        "robustness_worker_counts_threads_under_cant_create_os_threads",
        &[(CONFIG_PATH_ENV, env.config.display().to_string())],
        WORKER_LIMIT,
    );
    assert!(output.contains("threads: "), "{output}");
}

fn run_role(config: &std::path::Path, role: &str) -> String {
    run_worker(
        WORKER,
        &[
            (ROLE_ENV, role.to_string()),
            (CONFIG_PATH_ENV, config.display().to_string()),
        ],
        WORKER_LIMIT,
    )
}

/// An Azurite of this test's own, which it may stop and freeze, a token
/// whose certificates live there (requests cut off after `timeout_seconds`,
/// not retried), and the test lock; `None` where Azurite tests are skipped.
fn private_store(
    timeout_seconds: &str,
) -> Option<(
    std::sync::MutexGuard<'static, ()>,
    PrivateAzurite,
    AzuriteEnvironment,
)> {
    azurite_url()?;
    let lock = lock();
    let azurite = PrivateAzurite::start();
    let extra = [
        ("CERTSTORAGE_TIMEOUT_SECONDS", timeout_seconds),
        ("CERTSTORAGE_RETRIES", "0"),
    ];
    let env = AzuriteEnvironment::with(&azurite.url(), "outage", EMULATOR_ACCOUNT_KEY, &extra);
    Some((lock, azurite, env))
}

#[test]
fn azurite_key_searches_keep_working_while_the_certificate_store_is_down() {
    let Some((_lock, azurite, env)) = private_store("2") else {
        return;
    };
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let keys = generate_rsa(&session, 2048, true, b"outage");
    let certificate = session
        .create_object(&certificate_template("outage", b"outage"))
        .unwrap();

    azurite.command("stop");
    let private = [
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Id(b"outage".to_vec()),
    ];
    assert_eq!(
        sorted(find(&session, &private)),
        BTreeSet::from([keys.private.handle()]),
        "a search for a key class never asks the certificate store"
    );
    let rsa_keys = [Attribute::KeyType(KeyType::RSA)];
    assert_eq!(
        sorted(find(&session, &rsa_keys)),
        BTreeSet::from([keys.public.handle(), keys.private.handle()]),
        "no certificate has CKA_KEY_TYPE: a class-less search by key type finds the keys"
    );
    // A template a certificate could match needs the store: an error,
    // never keys alone passed off as the whole answer.
    for (what, template) in [
        ("the empty template of pkcs11-tool --list-objects", vec![]),
        ("CKA_ID alone", vec![Attribute::Id(b"outage".to_vec())]),
    ] {
        let found = session.find_objects(&template);
        assert!(is_rv(&found, RvError::DeviceError), "{what}: {found:?}");
    }
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, keys.private, b"during an outage")
        .expect("keys still sign");
    assert_eq!(signature.len(), 256);

    azurite.command("start");
    assert_eq!(
        sorted(find(&session, &[Attribute::Id(b"outage".to_vec())])),
        BTreeSet::from([keys.public.handle(), keys.private.handle()]),
        "after the outage the class-less search works again"
    );
    assert_eq!(find(&session, &label_search("outage")), [certificate]);
}

#[test]
fn azurite_logout_and_closing_sessions_do_not_wait_for_another_session_stuck_on_the_store() {
    // Requests wait up to ten minutes: nothing but the service coming back
    // ends the stuck search, so the calls below cannot have waited for it.
    let Some((_lock, azurite, env)) = private_store("600") else {
        return;
    };
    let provider = Provider::open(&env.config);
    let stuck = provider.user_session();
    stuck
        .create_object(&certificate_template("frozen", b"frozen"))
        .unwrap();
    let other = provider.rw_session();
    let spare = provider.rw_session();

    azurite.signal("STOP");
    let search_ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (found_tx, found_rx) = mpsc::channel();
    let searcher = {
        let search_ended = search_ended.clone();
        std::thread::spawn(move || {
            let found = stuck.find_objects(&label_search("frozen"));
            search_ended.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = found_tx.send(found.map(|handles| handles.len()));
            stuck
        })
    };
    // Give the search time to reach the frozen service.
    std::thread::sleep(Duration::from_millis(500));
    let (done_tx, done_rx) = mpsc::channel();
    let caller = {
        let search_ended = search_ended.clone();
        std::thread::spawn(move || {
            let info = other.get_session_info().map(|info| info.session_state());
            let logout = other.logout();
            drop(spare);
            let waited = search_ended.load(std::sync::atomic::Ordering::SeqCst);
            let _ = done_tx.send((info, logout, waited));
            other
        })
    };
    let outcome = done_rx.recv_timeout(WATCHDOG);
    azurite.signal("CONT");
    let (info, logout, waited) = outcome.expect(
        "C_GetSessionInfo, C_Logout and C_CloseSession did not return while a search was stuck",
    );
    assert!(
        !waited,
        "C_GetSessionInfo, C_Logout and C_CloseSession returned only after the stuck search ended: they waited for it"
    );
    assert_eq!(info.unwrap(), SessionState::RwUser);
    logout.expect("C_Logout");
    let _other = caller.join().unwrap();
    let found = found_rx
        .recv_timeout(WATCHDOG)
        .expect("the search returns once the service is back");
    assert_eq!(found.unwrap(), 1);
    let _stuck = searcher.join().unwrap();
}

#[test]
fn a_token_reinitialised_by_another_process_gets_certificates_signed_by_its_new_key() {
    let _lock = lock();
    let directory = TokenDirectory::new();
    let config = directory.write_config(CertificateStorage::Local, &[]);
    initialize_token(&config);
    let provider = Provider::open(&config);
    let session = provider.user_session();
    let old = session
        .create_object(&certificate_template("old", b"old"))
        .unwrap();
    assert_eq!(find(&session, &label_search("old")), [old]);
    drop(session);
    // This process keeps its provider (and its cached signing key) open.
    let output = run_role(&config, "reinitialize");
    assert!(output.contains("created "), "{output}");

    let session = provider.user_session();
    let created = session
        .create_object(&certificate_template("after", b"after"))
        .expect("a create after another process re-initialised the token");
    assert!(
        find(&session, &label_search("old")).is_empty(),
        "a blob signed by the replaced key is left out"
    );
    assert_eq!(find(&session, &label_search("after")), [created]);
    assert_eq!(find(&session, &label_search("by-worker")).len(), 1);
    drop(session);
    drop(provider);
    // A fresh process verifies what this one signed after the change.
    let fresh = Provider::open(&config);
    let session = fresh.user_session();
    assert_eq!(find(&session, &label_search("after")), [created]);
    assert!(find(&session, &label_search("old")).is_empty());
}

#[test]
fn a_token_reinitialised_in_this_process_creates_and_verifies_with_its_new_key() {
    let token = TestToken::new();
    let old = token
        .user_session()
        .create_object(&certificate_template("old", b"old"))
        .unwrap();
    assert_eq!(find(&token.user_session(), &label_search("old")), [old]);
    // No session is open; the provider keeps its cached signing key.
    token.initialize_token_and_user_pin();
    let session = token.user_session();
    let created = session
        .create_object(&certificate_template("new", b"new"))
        .expect("a create after C_InitToken");
    assert!(find(&session, &label_search("old")).is_empty());
    assert_eq!(find(&session, &label_search("new")), [created]);
    let value = session
        .get_attributes(created, &[AttributeType::Value])
        .unwrap();
    assert_eq!(value, [Attribute::Value(b"new".to_vec())]);
}

#[test]
fn a_certificate_destroyed_or_changed_by_another_process_is_seen_at_once_by_default() {
    let _lock = lock();
    let directory = TokenDirectory::new();
    let config = directory.write_config(CertificateStorage::Local, &[]);
    initialize_token(&config);
    let provider = Provider::open(&config);
    let session = provider.user_session();
    let doomed = session
        .create_object(&certificate_template("doomed", b"doomed"))
        .unwrap();
    let renamed = session
        .create_object(&certificate_template("renamed", b"renamed"))
        .unwrap();
    // Read (and cached) before the other process acts.
    for handle in [doomed, renamed] {
        session
            .get_attributes(handle, &[AttributeType::Label, AttributeType::Value])
            .unwrap();
    }
    run_role(&config, "change");
    let gone = session.get_attributes(doomed, &[AttributeType::Label]);
    assert!(is_rv(&gone, RvError::ObjectHandleInvalid), "{gone:?}");
    assert_eq!(
        session
            .get_attributes(renamed, &[AttributeType::Label])
            .unwrap(),
        [Attribute::Label(b"new label".to_vec())]
    );
    let destroy = session.destroy_object(doomed);
    assert!(is_rv(&destroy, RvError::ObjectHandleInvalid), "{destroy:?}");
}

#[test]
fn a_logout_racing_a_login_never_leaves_a_login_without_the_token_key() {
    let token = TestToken::new();
    let signer = token.user_session();
    let keys = generate_rsa(&signer, 2048, true, b"race");
    signer.logout().unwrap();
    let logging_in = token.rw_session();
    let pin = AuthPin::from(USER_PIN);
    let mut logged_in_rounds = 0;
    for round in 0..300 {
        logging_in.login(UserType::User, Some(&pin)).unwrap();
        // Log out and log in again at once, from two threads.
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let logging_out = token.rw_session();
                barrier.wait();
                let _ = logging_out.logout();
            });
            barrier.wait();
            let login = logging_in.login(UserType::User, Some(&pin));
            assert!(
                login.is_ok() || is_rv(&login, RvError::UserAlreadyLoggedIn),
                "round {round}: C_Login gave {login:?}"
            );
        });
        let state = signer.get_session_info().unwrap().session_state();
        let signature = signer.sign(&Mechanism::Sha256RsaPkcs, keys.private, b"race");
        match state {
            SessionState::RwUser => {
                logged_in_rounds += 1;
                signature.unwrap_or_else(|e| {
                    panic!("round {round}: the provider says logged in, but signing fails: {e}")
                });
            }
            SessionState::RwPublic => {
                assert!(is_rv(&signature, RvError::UserNotLoggedIn), "{signature:?}");
            }
            other => panic!("round {round}: session state {other:?}"),
        }
        if state == SessionState::RwUser {
            logging_in.logout().unwrap();
        }
    }
    assert!(
        logged_in_rounds > 0,
        "no round ended logged in: the race was never run"
    );
}
