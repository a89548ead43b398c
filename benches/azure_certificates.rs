//! Certificates in Azure Blob Storage, measured through the provider's C ABI
//! (the `cryptoki` crate loading `libazcloudhsm_pkcs11.so`) against Azurite.
//!
//! Run (a plain program, `harness = false`):
//!
//! ```sh
//! eval "$(bash .ci/azurite.sh start 10100)"
//! cargo bench --bench azure_certificates
//! ```
//!
//! Measures: creating 1,000 token certificates (one thread and session; four
//! threads with a session each), then a search by label that matches one
//! certificate among 1,000, cold (first search after a fresh
//! `C_Initialize`) and warm (the same search again), with
//! `CERTSTORAGE_CACHE_SECONDS=0` (every search lists the container) and `=60`.
//! Each search is timed from `C_FindObjectsInit` to `C_FindObjectsFinal`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{certificate_template, label_search, AzuriteEnvironment, Provider};
use std::time::{Duration, Instant};

const COUNT: usize = 1000;
const THREADS: usize = 4;
/// About the size of an RSA-2048 certificate's DER.
const VALUE_SIZE: usize = 1200;

fn value(index: usize) -> Vec<u8> {
    let mut value = format!("certificate {index:05} ").into_bytes();
    value.resize(VALUE_SIZE, (index % 251) as u8);
    value
}

fn label(index: usize) -> String {
    format!("bench-{index:05}")
}

/// Creates certificates `0..COUNT` from `threads` threads, each with its own session.
fn create_all(environment: &AzuriteEnvironment, threads: usize) -> Duration {
    let provider = Provider::open(&environment.config);
    let login = provider.user_session();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let provider = &provider;
            scope.spawn(move || {
                let session = provider.rw_session();
                for index in (thread..COUNT).step_by(threads) {
                    session
                        .create_object(&certificate_template(&label(index), &value(index)))
                        .unwrap_or_else(|e| panic!("create {}: {e}", label(index)));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    drop(login);
    provider.finalize();
    elapsed
}

struct Searches {
    initialize: Duration,
    cold: Duration,
    warm: Duration,
}

/// A fresh `C_Initialize`, then the same search by label twice.
fn search_twice(environment: &AzuriteEnvironment, cache_seconds: u32) -> Searches {
    let text = std::fs::read_to_string(&environment.config).unwrap();
    let text: String = text
        .lines()
        .filter(|line| !line.starts_with("CERTSTORAGE_CACHE_SECONDS="))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(
        &environment.config,
        format!("{text}CERTSTORAGE_CACHE_SECONDS={cache_seconds}\n"),
    )
    .unwrap();
    let started = Instant::now();
    let provider = Provider::open(&environment.config);
    let initialize = started.elapsed();
    let session = provider.ro_session();
    let template = label_search(&label(COUNT / 2));
    let search = || {
        let started = Instant::now();
        let found = session.find_objects(&template).expect("search");
        let elapsed = started.elapsed();
        assert_eq!(found.len(), 1, "one certificate matches");
        elapsed
    };
    let cold = search();
    let warm = search();
    drop(session);
    provider.finalize();
    Searches {
        initialize,
        cold,
        warm,
    }
}

fn rate(elapsed: Duration) -> String {
    format!("{:.0}/s", COUNT as f64 / elapsed.as_secs_f64())
}

fn main() {
    // `cargo bench` passes `--bench`; this program takes no options.
    let Some(url) = common::azurite_url() else {
        return;
    };
    let sequential = AzuriteEnvironment::new(&url, "benchseq");
    let create_one = create_all(&sequential, 1);
    let threaded = AzuriteEnvironment::new(&url, "benchpar");
    let create_four = create_all(&threaded, THREADS);
    let searches: Vec<(u32, Searches)> = [0, 60]
        .into_iter()
        .map(|cache| (cache, search_twice(&sequential, cache)))
        .collect();

    println!(
        "Azure certificates through the C ABI, against Azurite at {url} \
         ({COUNT} certificates, CKA_VALUE {VALUE_SIZE} bytes)"
    );
    println!();
    println!("| what | time | rate |");
    println!("| --- | ---: | ---: |");
    println!(
        "| create {COUNT}, 1 thread, 1 session | {create_one:.2?} | {} |",
        rate(create_one)
    );
    println!(
        "| create {COUNT}, {THREADS} threads, a session each | {create_four:.2?} | {} |",
        rate(create_four)
    );
    for (cache, times) in &searches {
        println!(
            "| CERTSTORAGE_CACHE_SECONDS={cache}: C_Initialize | {:.2?} | |",
            times.initialize
        );
        println!(
            "| CERTSTORAGE_CACHE_SECONDS={cache}: search by label among {COUNT}, cold | {:.2?} | |",
            times.cold
        );
        println!(
            "| CERTSTORAGE_CACHE_SECONDS={cache}: search by label among {COUNT}, warm | {:.2?} | |",
            times.warm
        );
    }
}
