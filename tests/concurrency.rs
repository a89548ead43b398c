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

#[test]
fn eight_threads_sign_and_verify_rsa_and_p256_for_three_seconds_without_error() {
    let token = TestToken::new();
    let setup = token.user_session();
    let rsa = generate_rsa(&setup, 2048, true, b"rsa");
    let ec = generate_ec(&setup, P256, true, b"ec");
    let rsa_public = openssl_public_key(&setup, rsa.public);
    let pkcs11 = &token.pkcs11;
    let slot = token.slot;
    let counts: Vec<(usize, usize)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|index| {
                let rsa_public = rsa_public.clone();
                scope.spawn(move || {
                    let session = pkcs11.open_rw_session(slot).expect("C_OpenSession");
                    let (mut rsa_count, mut ec_count) = (0, 0);
                    let start = Instant::now();
                    while start.elapsed() < RUN_FOR {
                        let data = format!("thread {index} message {}", rsa_count + ec_count);
                        let signature = session
                            .sign(&Mechanism::Sha256RsaPkcs, rsa.private, data.as_bytes())
                            .unwrap_or_else(|e| panic!("thread {index}: RSA C_Sign: {e}"));
                        session
                            .verify(
                                &Mechanism::Sha256RsaPkcs,
                                rsa.public,
                                data.as_bytes(),
                                &signature,
                            )
                            .unwrap_or_else(|e| panic!("thread {index}: RSA C_Verify: {e}"));
                        if rsa_count == 0 {
                            let mut verifier = openssl::sign::Verifier::new(
                                openssl::hash::MessageDigest::sha256(),
                                &rsa_public,
                            )
                            .unwrap();
                            verifier.update(data.as_bytes()).unwrap();
                            assert!(verifier.verify(&signature).unwrap(), "thread {index}");
                        }
                        rsa_count += 1;
                        for _ in 0..5 {
                            let signature = session
                                .sign(&Mechanism::EcdsaSha256, ec.private, data.as_bytes())
                                .unwrap_or_else(|e| panic!("thread {index}: ECDSA C_Sign: {e}"));
                            session
                                .verify(
                                    &Mechanism::EcdsaSha256,
                                    ec.public,
                                    data.as_bytes(),
                                    &signature,
                                )
                                .unwrap_or_else(|e| panic!("thread {index}: ECDSA C_Verify: {e}"));
                            ec_count += 1;
                        }
                    }
                    (rsa_count, ec_count)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a signing thread panicked"))
            .collect()
    });
    for (index, (rsa_count, ec_count)) in counts.iter().enumerate() {
        assert!(
            *rsa_count > 0 && *ec_count > 0,
            "thread {index} did nothing"
        );
    }
    let total: usize = counts.iter().map(|(r, e)| r + e).sum();
    eprintln!("{THREADS} threads: {total} signatures and verifications in {RUN_FOR:?}");
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
