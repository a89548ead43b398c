//! Concurrency: many threads signing at once through one provider, and two
//! processes sharing one token directory.
//!
//! The two-process test re-runs this executable with the `#[ignore]`d
//! worker selected; the worker fails when run without its environment, so
//! never run this binary with `--include-ignored`.

#[macro_use]
mod common;

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use std::time::{Duration, Instant};

const THREADS: usize = 8;
const RUN_FOR: Duration = Duration::from_secs(3);
/// Every this many signatures of each kind (starting with the first), a
/// thread keeps the signature and its message for openssl.
const SAMPLE_EVERY: usize = 4;
/// Sessions each thread holds open at once in the handle test.
const SESSIONS_PER_THREAD: usize = 16;

/// A signature and the message it claims to sign, checked after the join.
struct Sample {
    message: String,
    signature: Vec<u8>,
}

/// What one signing thread did.
#[derive(Default)]
struct ThreadWork {
    rsa_count: usize,
    ec_count: usize,
    rsa_samples: Vec<Sample>,
    ec_samples: Vec<Sample>,
}

/// The DER `ECDSA-Sig-Value` openssl verifies, from PKCS#11's raw `r || s`.
fn ecdsa_der(raw: &[u8], field_bytes: usize) -> Vec<u8> {
    use openssl::bn::BigNum;
    assert_eq!(raw.len(), 2 * field_bytes, "raw ECDSA signature length");
    let (r, s) = raw.split_at(field_bytes);
    openssl::ecdsa::EcdsaSig::from_private_components(
        BigNum::from_slice(r).unwrap(),
        BigNum::from_slice(s).unwrap(),
    )
    .unwrap()
    .to_der()
    .unwrap()
}

fn openssl_verifies(
    public_key: &openssl::pkey::PKey<openssl::pkey::Public>,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), public_key).unwrap();
    verifier.update(message).unwrap();
    verifier.verify(signature).unwrap_or(false)
}

#[test]
fn signatures_made_by_eight_threads_at_once_verify_with_openssl() {
    let token = TestToken::new();
    let setup = token.user_session();
    let rsa = generate_rsa(&setup, 2048, true, b"rsa");
    let ec = generate_ec(&setup, P256, true, b"ec");
    let rsa_public = openssl_public_key(&setup, rsa.public);
    let ec_public = openssl_public_key(&setup, ec.public);
    let pkcs11 = &token.pkcs11;
    let slot = token.slot;
    let work: Vec<ThreadWork> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|index| {
                scope.spawn(move || {
                    let session = pkcs11.open_rw_session(slot).expect("C_OpenSession");
                    let mut work = ThreadWork::default();
                    let start = Instant::now();
                    while start.elapsed() < RUN_FOR {
                        let message = format!("thread {index} RSA message {}", work.rsa_count);
                        let signature = session
                            .sign(&Mechanism::Sha256RsaPkcs, rsa.private, message.as_bytes())
                            .unwrap_or_else(|e| panic!("thread {index}: RSA C_Sign: {e}"));
                        session
                            .verify(
                                &Mechanism::Sha256RsaPkcs,
                                rsa.public,
                                message.as_bytes(),
                                &signature,
                            )
                            .unwrap_or_else(|e| panic!("thread {index}: RSA C_Verify: {e}"));
                        if work.rsa_count % SAMPLE_EVERY == 0 {
                            work.rsa_samples.push(Sample { message, signature });
                        }
                        work.rsa_count += 1;
                        for _ in 0..5 {
                            let message = format!("thread {index} ECDSA message {}", work.ec_count);
                            let signature = session
                                .sign(&Mechanism::EcdsaSha256, ec.private, message.as_bytes())
                                .unwrap_or_else(|e| panic!("thread {index}: ECDSA C_Sign: {e}"));
                            session
                                .verify(
                                    &Mechanism::EcdsaSha256,
                                    ec.public,
                                    message.as_bytes(),
                                    &signature,
                                )
                                .unwrap_or_else(|e| panic!("thread {index}: ECDSA C_Verify: {e}"));
                            if work.ec_count % SAMPLE_EVERY == 0 {
                                work.ec_samples.push(Sample { message, signature });
                            }
                            work.ec_count += 1;
                        }
                    }
                    work
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a signing thread panicked"))
            .collect()
    });
    for (index, work) in work.iter().enumerate() {
        assert!(
            !work.rsa_samples.is_empty() && !work.ec_samples.is_empty(),
            "thread {index} kept no RSA or no ECDSA signature ({} RSA, {} ECDSA made)",
            work.rsa_count,
            work.ec_count
        );
        for sample in &work.rsa_samples {
            assert!(
                openssl_verifies(&rsa_public, sample.message.as_bytes(), &sample.signature),
                "openssl rejects the RSA signature of {:?}",
                sample.message
            );
        }
        for sample in &work.ec_samples {
            let der = ecdsa_der(&sample.signature, 32);
            assert!(
                openssl_verifies(&ec_public, sample.message.as_bytes(), &der),
                "openssl rejects the ECDSA signature of {:?}",
                sample.message
            );
        }
    }
    let made: usize = work.iter().map(|w| w.rsa_count + w.ec_count).sum();
    let checked: usize = work
        .iter()
        .map(|w| w.rsa_samples.len() + w.ec_samples.len())
        .sum();
    eprintln!("{THREADS} threads: {made} signatures in {RUN_FOR:?}, {checked} checked by openssl");
}

#[test]
fn sessions_opened_and_closed_from_many_threads_stay_consistent() {
    let token = TestToken::new();
    let _keeper = token.user_session();
    let pkcs11 = &token.pkcs11;
    let slot = token.slot;
    std::thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(move || {
                for _ in 0..50 {
                    let session = pkcs11.open_ro_session(slot).expect("C_OpenSession");
                    session.generate_random_vec(16).expect("C_GenerateRandom");
                    session.close().expect("C_CloseSession");
                }
            });
        }
    });
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert_eq!(info.session_count(), Some(1), "only the keeper is left");
}

#[test]
fn sessions_opened_at_once_from_many_threads_get_distinct_handles() {
    let token = TestToken::new();
    let keeper = token.user_session();
    let pkcs11 = &token.pkcs11;
    let slot = token.slot;
    // The main thread joins both waits: it counts the sessions while every
    // thread still holds all of its own.
    let all_open = std::sync::Barrier::new(THREADS + 1);
    let counted = std::sync::Barrier::new(THREADS + 1);
    let (handles, open_while_held) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (all_open, counted) = (&all_open, &counted);
                scope.spawn(move || {
                    // Errors are kept, not raised, so every thread reaches
                    // both waits and a failure cannot hang the others.
                    let sessions: Vec<_> = (0..SESSIONS_PER_THREAD)
                        .map(|_| pkcs11.open_rw_session(slot))
                        .collect();
                    all_open.wait();
                    counted.wait();
                    sessions
                        .into_iter()
                        .map(|session| session.map(|s| s.handle()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        all_open.wait();
        let info = pkcs11.get_token_info(slot).expect("C_GetTokenInfo");
        counted.wait();
        let handles: Vec<_> = workers
            .into_iter()
            .flat_map(|w| w.join().expect("a session thread panicked"))
            .map(|opened| opened.expect("C_OpenSession"))
            .collect();
        (handles, info.session_count())
    });
    let opened = THREADS * SESSIONS_PER_THREAD;
    assert_eq!(handles.len(), opened);
    let mut seen = std::collections::BTreeSet::new();
    let shared: Vec<_> = handles
        .iter()
        .copied()
        .chain([keeper.handle()])
        .filter(|&handle| !seen.insert(handle))
        .collect();
    assert!(
        shared.is_empty(),
        "handles given to two open sessions at once: {shared:?}"
    );
    assert_eq!(
        open_while_held,
        Some(opened as u64 + 1),
        "C_GetTokenInfo counts every held session and the keeper"
    );
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert_eq!(info.session_count(), Some(1), "only the keeper is left");
}

// ----- two processes, one token directory -----

const SHARED_DIR_ENV: &str = "AZCLOUDHSM_ITEST_SHARED_DIR";
const WORKER: &str = "worker_process_shares_the_token_directory";
const WAIT_FOR_PEER: Duration = Duration::from_secs(60);

fn find_key_by_label(session: &Session, label: &str) -> Option<ObjectHandle> {
    let found = find(
        session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(label.as_bytes().to_vec()),
        ],
    );
    assert!(found.len() <= 1, "{label}: {found:?}");
    found.first().copied()
}

/// Generates a labelled token key pair, signs with it, then waits until the
/// peer's key shows up in a new search and signs with that too.
fn generate_and_find_the_peer(token: &TestToken, mine: &str, peer: &str) {
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, true, mine.as_bytes());
    session
        .update_attributes(pair.private, &[Attribute::Label(mine.as_bytes().to_vec())])
        .expect("label my key");
    session
        .sign(&Mechanism::Sha256RsaPkcs, pair.private, b"mine")
        .expect("sign with my key");
    let start = Instant::now();
    let peer_key = loop {
        if let Some(key) = find_key_by_label(&session, peer) {
            break key;
        }
        assert!(
            start.elapsed() < WAIT_FOR_PEER,
            "{mine}: the peer's key {peer} never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    session
        .sign(&Mechanism::Sha256RsaPkcs, peer_key, b"theirs")
        .unwrap_or_else(|e| panic!("{mine}: sign with {peer}: {e}"));
}

#[test]
fn two_processes_share_one_token_directory_and_see_each_others_keys() {
    let token = TestToken::new();
    let child = spawn_worker(
        WORKER,
        &[(SHARED_DIR_ENV, token.root().display().to_string())],
    );
    generate_and_find_the_peer(&token, "parent-key", "child-key");
    wait_worker(child, WORKER_LIMIT);
}

#[test]
#[ignore = "worker of two_processes_share_one_token_directory_and_see_each_others_keys"]
fn worker_process_shares_the_token_directory() {
    let dir = std::path::PathBuf::from(worker_env(SHARED_DIR_ENV));
    let token = TestToken::with_options(TokenOptions::uninitialized().in_dir(&dir));
    let info = token.pkcs11.get_token_info(token.slot).unwrap();
    assert!(info.token_initialized(), "the parent initialised the token");
    generate_and_find_the_peer(&token, "child-key", "parent-key");
}
