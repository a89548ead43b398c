//! PIN lockout under concurrency: every PIN check is counted before its
//! slow key derivation runs, so wrong PINs tried at once, by threads of one
//! process and by several processes, never get more tries than
//! `PIN_MAX_FAILURES`; and right PINs tried at once are never locked out.

mod common;

use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MAX_FAILURES: usize = 3;
/// Slow enough (tens of milliseconds a check) that the checks overlap.
const KDF_ITERATIONS: &str = "200000";
const CONFIG: &str = "AZCLOUDHSM_ITEST_PIN_CONFIG";
const GO_FILE: &str = "AZCLOUDHSM_ITEST_PIN_GO";
const THREADS: &str = "AZCLOUDHSM_ITEST_PIN_THREADS";
const PIN: &str = "AZCLOUDHSM_ITEST_PIN_TRIED";
const WRONG_PIN: &str = "wrong-pin-0000";
const WORKER: &str = "worker_tries_a_pin_from_many_threads_at_once";

fn token(root: &TokenDirectory) -> PathBuf {
    let config = root.write_config(
        CertificateStorage::Local,
        &[
            ("PIN_MAX_FAILURES", &MAX_FAILURES.to_string()),
            ("SOFT_KDF_ITERATIONS", KDF_ITERATIONS),
        ],
    );
    initialize_token(&config);
    config
}

/// Runs `processes` workers of `threads` threads each, all trying `pin`
/// at the same moment, and returns every answer's name.
fn try_at_once(config: &Path, processes: usize, threads: usize, pin: &str) -> Vec<String> {
    let go = config.with_file_name("go");
    let _ = std::fs::remove_file(&go);
    let workers: Vec<ChildProcess> = (0..processes)
        .map(|_| {
            spawn_worker(
                WORKER,
                &[
                    (CONFIG, config.display().to_string()),
                    (GO_FILE, go.display().to_string()),
                    (THREADS, threads.to_string()),
                    (PIN, pin.to_string()),
                ],
            )
        })
        .collect();
    // Every worker has loaded the library and opened its sessions by now.
    std::thread::sleep(Duration::from_millis(1500));
    std::fs::write(&go, b"go").unwrap();
    workers
        .into_iter()
        .flat_map(|worker| {
            let stdout = wait_worker(worker, WORKER_LIMIT);
            stdout
                .lines()
                .filter_map(|line| line.split_once("answer: ").map(|(_, answer)| answer))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn count(answers: &[String], name: &str) -> usize {
    answers.iter().filter(|a| *a == name).count()
}

#[test]
fn wrong_pins_tried_at_once_by_threads_and_processes_get_at_most_pin_max_failures_tries() {
    let _guard = lock();
    let root = TokenDirectory::new();
    let config = token(&root);
    let answers = try_at_once(&config, 2, 16, WRONG_PIN);
    assert_eq!(answers.len(), 32, "{answers:?}");
    let incorrect = count(&answers, "PinIncorrect");
    let locked = count(&answers, "PinLocked");
    assert!(
        incorrect <= MAX_FAILURES && incorrect + locked == answers.len(),
        "{incorrect} PIN_INCORRECT, {locked} PIN_LOCKED of {answers:?}"
    );
    assert!(incorrect >= 1, "the first tries were checked: {answers:?}");

    let provider = Provider::open(&config);
    let session = provider.rw_session();
    for pin in [USER_PIN, WRONG_PIN] {
        let answer = session.login(UserType::User, Some(&AuthPin::from(pin)));
        assert!(
            matches!(answer, Err(Error::Pkcs11(RvError::PinLocked, _))),
            "a later login with {pin}: {answer:?}"
        );
    }
    let info = provider.pkcs11.get_token_info(provider.slot).unwrap();
    assert!(info.user_pin_locked());
}

#[test]
fn right_pins_tried_at_once_by_more_processes_than_pin_max_failures_all_log_in() {
    let _guard = lock();
    let root = TokenDirectory::new();
    let config = token(&root);
    let answers = try_at_once(&config, 2 * MAX_FAILURES, 1, USER_PIN);
    assert_eq!(
        answers,
        vec!["Ok".to_string(); 2 * MAX_FAILURES],
        "each process logs in once"
    );
    let provider = Provider::open(&config);
    let info = provider.pkcs11.get_token_info(provider.slot).unwrap();
    assert!(!info.user_pin_count_low() && !info.user_pin_locked());
}

#[test]
#[ignore = "worker of the PIN lockout tests"]
fn worker_tries_a_pin_from_many_threads_at_once() {
    let config = PathBuf::from(worker_env(CONFIG));
    let go = PathBuf::from(worker_env(GO_FILE));
    let threads: usize = worker_env(THREADS).parse().unwrap();
    let pin = worker_env(PIN);
    let provider = Provider::open(&config);
    let sessions: Vec<_> = (0..threads).map(|_| provider.rw_session()).collect();
    let started = Instant::now();
    while !go.exists() {
        assert!(started.elapsed() < Duration::from_secs(60), "no go");
        std::thread::sleep(Duration::from_millis(1));
    }
    let answers: Vec<String> = std::thread::scope(|scope| {
        let running: Vec<_> = sessions
            .into_iter()
            .enumerate()
            .map(|(index, session)| {
                let pin = pin.clone();
                scope.spawn(move || {
                    // Half log in, half change the PIN: a wrong old PIN is
                    // a failed try too.
                    let answer = if index % 2 == 0 {
                        session.login(UserType::User, Some(&AuthPin::from(pin.as_str())))
                    } else {
                        session.set_pin(&AuthPin::from(pin.as_str()), &AuthPin::from(pin.as_str()))
                    };
                    match answer {
                        Ok(()) => "Ok".to_string(),
                        Err(Error::Pkcs11(rv, _)) => format!("{rv:?}"),
                        Err(other) => format!("{other}"),
                    }
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for answer in answers {
        println!("answer: {answer}");
    }
}
