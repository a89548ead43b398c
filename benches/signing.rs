//! Signing throughput through the provider against the `openssl` crate
//! called directly, and certificate-store speed with many token certificates.
//!
//! A plain program (`harness = false`); Cargo.toml needs
//!
//! ```toml
//! [[bench]]
//! name = "signing"
//! harness = false
//! ```
//!
//! Run: `cargo bench --bench signing`. `BENCH_SECONDS` (default 2) sets the
//! time per signing measurement, `BENCH_CERTIFICATES` (default 10000) the
//! number of certificates in the store, `BENCH_CACHE_SECONDS` (unset: the
//! provider's default) the store listing freshness `CERTSTORAGE_CACHE_SECONDS`,
//! and `BENCH_PART` (`signing`, `certificates`, default both) what runs.
#![cfg_attr(test, allow(dead_code))]

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use std::time::{Duration, Instant};

const MESSAGE: &[u8] = b"a message of moderate length, signed over and over by the benchmark";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `work` on `threads` threads for `duration`; returns operations per second.
fn rate(
    threads: usize,
    duration: Duration,
    work: impl Fn() -> Box<dyn FnMut() + Send> + Sync,
) -> f64 {
    let total: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let mut operation = work();
                scope.spawn(move || {
                    let start = Instant::now();
                    let mut count = 0u64;
                    while start.elapsed() < duration {
                        operation();
                        count += 1;
                    }
                    count
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    total as f64 / duration.as_secs_f64()
}

#[derive(Clone, Copy)]
enum Algorithm {
    Rsa2048,
    P256,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Rsa2048 => "RSA-2048 PKCS#1 SHA-256",
            Algorithm::P256 => "ECDSA P-256 SHA-256",
        }
    }
    fn mechanism(self) -> Mechanism<'static> {
        match self {
            Algorithm::Rsa2048 => Mechanism::Sha256RsaPkcs,
            Algorithm::P256 => Mechanism::EcdsaSha256,
        }
    }
    fn openssl_key(self) -> PKey<Private> {
        match self {
            Algorithm::Rsa2048 => {
                PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
            }
            Algorithm::P256 => {
                let group =
                    openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
                        .unwrap();
                PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap()).unwrap()
            }
        }
    }
}

fn provider_rate(
    token: &TestToken,
    key: ObjectHandle,
    algorithm: Algorithm,
    threads: usize,
    duration: Duration,
) -> f64 {
    let pkcs11 = token.pkcs11.clone();
    let slot = token.slot;
    rate(threads, duration, move || {
        let session = pkcs11.open_rw_session(slot).expect("C_OpenSession");
        Box::new(move || {
            session
                .sign(&algorithm.mechanism(), key, MESSAGE)
                .expect("C_Sign");
        })
    })
}

fn openssl_rate(key: &PKey<Private>, threads: usize, duration: Duration) -> f64 {
    rate(threads, duration, || {
        let key = key.clone();
        Box::new(move || {
            let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
            signer.update(MESSAGE).unwrap();
            signer.sign_to_vec().unwrap();
        })
    })
}

fn signing(token: &TestToken, duration: Duration) {
    let session = token.user_session();
    let rsa = generate_rsa(&session, 2048, true, b"bench-rsa");
    let ec = generate_ec(&session, P256, true, b"bench-ec");
    println!("signatures/s over {duration:?} per measurement");
    println!(
        "{:<26} {:>7} {:>12} {:>12} {:>7}",
        "algorithm", "threads", "provider", "openssl", "ratio"
    );
    for (algorithm, key) in [
        (Algorithm::Rsa2048, rsa.private),
        (Algorithm::P256, ec.private),
    ] {
        let openssl_key = algorithm.openssl_key();
        for threads in [1, 2] {
            let through_provider = provider_rate(token, key, algorithm, threads, duration);
            let direct = openssl_rate(&openssl_key, threads, duration);
            println!(
                "{:<26} {:>7} {:>12.0} {:>12.0} {:>7.2}",
                algorithm.name(),
                threads,
                through_provider,
                direct,
                through_provider / direct
            );
        }
    }
    drop(session);
}

fn certificate_template(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Subject(vec![0x30, 0x00]),
        Attribute::Id(label.as_bytes().to_vec()),
        Attribute::Value(vec![0x30, 0x82, 0x03, 0x08, 0x30, 0x82, 0x02, 0xD0]),
    ]
}

fn search_by_label(session: &Session, label: &str) -> usize {
    session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .expect("C_FindObjects")
        .len()
}

fn certificates(token: &mut TestToken, count: u64) {
    let created = {
        let session = token.user_session();
        let start = Instant::now();
        for i in 0..count {
            let label = if i == count / 2 {
                "needle".to_string()
            } else {
                format!("hay-{i}")
            };
            session
                .create_object(&certificate_template(&label))
                .expect("C_CreateObject certificate");
        }
        let elapsed = start.elapsed();
        println!(
            "certificate create: {count} in {elapsed:.2?} = {:.0}/s",
            count as f64 / elapsed.as_secs_f64()
        );
        let searches = 200;
        assert_eq!(search_by_label(&session, "needle"), 1);
        let start = Instant::now();
        for _ in 0..searches {
            assert_eq!(search_by_label(&session, "needle"), 1);
        }
        println!(
            "search by label among {count}: {:.3} ms per search",
            start.elapsed().as_secs_f64() * 1000.0 / searches as f64
        );
        let victims = session
            .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
            .unwrap();
        let destroy = victims.len().min(500);
        let start = Instant::now();
        for handle in &victims[..destroy] {
            session.destroy_object(*handle).expect("C_DestroyObject");
        }
        let elapsed = start.elapsed();
        println!(
            "certificate destroy: {destroy} in {elapsed:.2?} = {:.0}/s",
            destroy as f64 / elapsed.as_secs_f64()
        );
        count as usize - destroy
    };
    let start = Instant::now();
    token.reinitialize();
    let session = token.ro_session();
    let found = session
        .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
        .unwrap()
        .len();
    println!(
        "cold start (C_Initialize to first search result, {found} certificates): {:.2?}",
        start.elapsed()
    );
    assert_eq!(found, created);
}

fn main() {
    let duration = Duration::from_secs(env_number("BENCH_SECONDS", 2));
    let count = env_number("BENCH_CERTIFICATES", 10_000);
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    let mut options = TokenOptions::default();
    if let Ok(seconds) = std::env::var("BENCH_CACHE_SECONDS") {
        println!("CERTSTORAGE_CACHE_SECONDS={seconds}");
        options = options.with("CERTSTORAGE_CACHE_SECONDS", &seconds);
    }
    let mut token = TestToken::with_options(options);
    if part.is_empty() || part == "signing" {
        signing(&token, duration);
    }
    if part.is_empty() || part == "certificates" {
        certificates(&mut token, count);
    }
}
