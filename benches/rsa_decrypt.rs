//! The cost of implicit rejection: RSA-2048 `CKM_RSA_PKCS` decryption as
//! the embedded device does it (raw RSA, then the constant-time decoding of
//! `implicit_rejection`) against the system OpenSSL's own PKCS#1 v1.5
//! decryption (3.0: no implicit rejection), in the same run.
//!
//! ```text
//! cargo bench --bench rsa_decrypt
//! ```
//!
//! Each figure is the median of 5 alternating rounds of `RSA_BENCH_SECONDS`
//! (default 1) each; good and badly padded ciphertexts are measured apart
//! (OpenSSL 3.0 fails the bad ones, so only the good ones compare).

use azcloudhsm_pkcs11::device::soft::crypto::implicit_rejection::decode_with_key;
use openssl::pkey::PKey;
use openssl::rsa::{Padding, Rsa};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn rate(seconds: f64, mut operation: impl FnMut()) -> f64 {
    let limit = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < limit {
        operation();
        count += 1;
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let seconds: f64 = std::env::var("RSA_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let rsa = Rsa::generate(2048).unwrap();
    let key = PKey::from_rsa(rsa.clone()).unwrap();
    let k = rsa.size() as usize;
    let mut good = vec![0u8; k];
    let len = rsa
        .public_encrypt(&[0x42; 32], &mut good, Padding::PKCS1)
        .unwrap();
    good.truncate(len);
    let mut block = vec![0x55u8; k];
    block[0] = 0;
    let mut bad = vec![0u8; k];
    rsa.public_encrypt(&block, &mut bad, Padding::NONE).unwrap();

    let ours = |ciphertext: &[u8]| {
        let mut em = vec![0u8; k];
        let n = rsa
            .private_decrypt(ciphertext, &mut em, Padding::NONE)
            .unwrap();
        decode_with_key(&key, ciphertext, &em[..n]).unwrap().len()
    };
    let plain = |ciphertext: &[u8]| {
        let mut out = vec![0u8; k];
        rsa.private_decrypt(ciphertext, &mut out, Padding::PKCS1)
            .map_or(0, |n| n)
    };
    assert_eq!(ours(&good), 32);
    assert_eq!(plain(&good), 32);

    let (mut ours_good, mut plain_good, mut ours_bad) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        ours_good.push(rate(seconds, || {
            std::hint::black_box(ours(&good));
        }));
        plain_good.push(rate(seconds, || {
            std::hint::black_box(plain(&good));
        }));
        ours_bad.push(rate(seconds, || {
            std::hint::black_box(ours(&bad));
        }));
    }
    let (ours_good, plain_good, ours_bad) =
        (median(ours_good), median(plain_good), median(ours_bad));
    println!("RSA-2048 PKCS#1 v1.5 decryptions/s (median of {ROUNDS} x {seconds} s)");
    println!("| OpenSSL 3.0 PKCS1 (good padding) | implicit rejection, good | implicit rejection, bad | ours/OpenSSL |");
    println!(
        "| {plain_good:.0} | {ours_good:.0} | {ours_bad:.0} | {:.3} |",
        ours_good / plain_good
    );
}
