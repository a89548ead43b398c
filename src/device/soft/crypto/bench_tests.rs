//! Signing throughput through this module against the `openssl` crate
//! called directly (DESIGN.md: at least 0.9x). Timing-dependent, so
//! ignored by default: `cargo test --release --lib bench -- --ignored --nocapture`.

use super::test_support::*;
use super::{private_from_der, private_to_der, sign_init};
use crate::device::Mechanism;
use cryptoki_sys::*;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use std::time::{Duration, Instant};

const DATA: &[u8] = b"certificate signing request to be signed by the provider";

/// Signatures per second over `duration`, on `threads` threads.
fn rate(threads: usize, duration: Duration, work: impl Fn() + Sync) -> f64 {
    let count = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let start = Instant::now();
                let mut done = 0;
                while start.elapsed() < duration {
                    work();
                    done += 1;
                }
                count.fetch_add(done, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    count.into_inner() as f64 / duration.as_secs_f64()
}

fn compare(name: &str, key: PKey<Private>, kind: CK_MECHANISM_TYPE) -> Vec<f64> {
    let key = private_from_der(&private_to_der(&key).unwrap()).unwrap();
    let loaded = loaded_private(key.clone());
    let mechanism = Mechanism::new(kind);
    let direct = || {
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(DATA).unwrap();
        std::hint::black_box(signer.sign_to_vec().unwrap());
    };
    let ours = || {
        let mut operation = sign_init(loaded.clone(), &mechanism).unwrap();
        std::hint::black_box(operation.sign(DATA).unwrap());
    };
    let mut ratios = Vec::new();
    for threads in [1, 2] {
        // Many short alternating rounds, so that load from elsewhere on the
        // machine falls on both sides alike.
        let round = Duration::from_millis(100);
        let (mut direct_total, mut our_total) = (0.0, 0.0);
        for index in 0..20 {
            if index % 2 == 0 {
                direct_total += rate(threads, round, direct);
                our_total += rate(threads, round, ours);
            } else {
                our_total += rate(threads, round, ours);
                direct_total += rate(threads, round, direct);
            }
        }
        let ratio = our_total / direct_total;
        println!(
            "{name}, {threads} thread(s): openssl {:.0}/s, soft device {:.0}/s, ratio {ratio:.3}",
            direct_total / 20.0,
            our_total / 20.0
        );
        ratios.push(ratio);
    }
    ratios
}

#[test]
#[ignore = "timing: run with --ignored in release"]
fn signing_runs_at_the_speed_of_plain_openssl() {
    let mut ratios = compare("P-256 ECDSA-SHA256", ec_private(P256), CKM_ECDSA_SHA256);
    ratios.extend(compare(
        "RSA-2048 SHA256-PKCS1",
        rsa_private(),
        CKM_SHA256_RSA_PKCS,
    ));
    assert!(ratios.iter().all(|r| *r >= 0.9), "{ratios:?}");
}
