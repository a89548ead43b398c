//! Certificates in Azure Blob Storage against Azurite: the library's blob
//! store on its own, and the provider through its C ABI (the `cryptoki`
//! crate loading `libazcloudhsm_pkcs11.so`), also against a service that is
//! stopped or frozen.
//!
//! Run (a plain program, `harness = false`):
//!
//! ```sh
//! eval "$(bash .ci/azurite.sh start 10100)"
//! cargo bench --bench azure_certificates                 # N = 1,000
//! BENCH_SMOKE=1 cargo bench --bench azure_certificates   # N = 20, 1 s timeout, no retry
//! cargo bench --bench azure_certificates -- scale 100000  # cold start (whole and from the index cache), warm search, a destroy elsewhere, RSS at N
//! ```
//!
//! Environment:
//! - `AZURITE_BLOB_URL`: the shared Azurite. Without it the bench prints
//!   that it skips; under `CI` it fails.
//! - `BENCH_SMOKE=1`: small sizes and short timeouts, so CI can run every
//!   part in well under a minute. The variables below still win.
//! - `AZURE_BENCH_N`: blobs and certificates created (default 1,000, smoke 20).
//! - `AZURE_BENCH_TIMEOUT_SECONDS`, `AZURE_BENCH_RETRIES`: the
//!   `CERTSTORAGE_TIMEOUT_SECONDS` and `CERTSTORAGE_RETRIES` of the fault
//!   measurements (default 2 and 1, as in the fault tests; smoke 1 and 0).
//! - `AZURITE_DIR` (see `.ci/azurite.sh`), `AZCLOUDHSM_PKCS11_LIB`.
//!
//! Measures, each checked as well as timed:
//! - The blob store: creating N blobs shaped like certificate JWS blobs
//!   (1,300 bytes, 7 metadata entries) from one thread and from eight, then
//!   listing them (exactly the names created) and reading up to 100 of them
//!   one after another (each returns the body written).
//! - The C ABI: creating N token certificates (one thread and session; four
//!   threads with a session each), then a search by label that matches one
//!   certificate among N, cold (first search after a fresh `C_Initialize`)
//!   and warm (the same search again), with `CERTSTORAGE_CACHE_SECONDS=0`
//!   (every search lists the container) and `=60`. Each search is timed
//!   from `C_FindObjectsInit` to `C_FindObjectsFinal`.
//! - Faults, on a private Azurite: each certificate call while the service
//!   is frozen (`SIGSTOP`: connections accepted, never answered), then
//!   while it is stopped (killed: connections refused), beside the
//!   configured bound for one store request; every call must return
//!   `CKR_DEVICE_ERROR`.

#[path = "../tests/common/mod.rs"]
mod common;

use azcloudhsm_pkcs11::certstore::azure::{CACHE_BLOB, EMULATOR_ACCOUNT_KEY};
use azcloudhsm_pkcs11::certstore::{BlobStore, CreateOutcome, BLOB_PREFIX};
use common::{certificate_template, label_search, AzuriteEnvironment, PrivateAzurite, Provider};
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const THREADS: usize = 4;
const BLOB_THREADS: [usize; 2] = [1, 8];
const MOST_READS: usize = 100;
/// About the size of an RSA-2048 certificate's DER.
const VALUE_SIZE: usize = 1200;
/// About the size of a JWS holding an RSA-2048 certificate.
const BLOB_SIZE: usize = 1300;

/// The sizes and timeouts of one run, from the environment.
struct Parameters {
    count: usize,
    timeout_seconds: u32,
    retries: u32,
}

impl Parameters {
    fn from_env() -> Parameters {
        let smoke = std::env::var("BENCH_SMOKE").is_ok_and(|value| !matches!(&*value, "" | "0"));
        let (count, timeout_seconds, retries) = if smoke { (20, 1, 0) } else { (1000, 2, 1) };
        Parameters {
            count: env_number("AZURE_BENCH_N").unwrap_or(count).max(1),
            timeout_seconds: env_number("AZURE_BENCH_TIMEOUT_SECONDS").unwrap_or(timeout_seconds),
            retries: env_number("AZURE_BENCH_RETRIES").unwrap_or(retries),
        }
    }
}

fn env_number<T: FromStr>(name: &str) -> Option<T> {
    let text = std::env::var(name).ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
    )
}

fn rate(count: usize, elapsed: Duration) -> String {
    format!("{:.0}/s", count as f64 / elapsed.as_secs_f64())
}

// ----- the blob store -----

fn blob_name(index: usize) -> String {
    format!("{BLOB_PREFIX}{}", 0xFFF0_0000usize + index)
}

fn blob_body(index: usize) -> Vec<u8> {
    let mut body = format!("eyJhbGciOiJSUzUxMiJ9.{index:08}.").into_bytes();
    body.resize(BLOB_SIZE, b'A' + (index % 26) as u8);
    body
}

/// Seven entries, as the certificate manager writes them.
fn blob_metadata(index: usize) -> BTreeMap<String, String> {
    [
        ("class", "1".to_string()),
        ("certtype", "0".to_string()),
        ("label", format!("62656e6368{index:06x}")),
        ("id", format!("{index:08x}")),
        ("subject", format!("3011310f300d0603550403{index:010x}")),
        ("issuer", "3010310e300c06035504030c0562656e6368".to_string()),
        ("serial", format!("0204{index:08x}")),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

struct BlobTimes {
    threads: usize,
    create: Duration,
    list: Duration,
    reads: usize,
    read: Duration,
}

/// Creates blobs `0..count` from `threads` threads in a fresh container,
/// lists them and reads the first ones back, checking each answer.
fn time_blob_store(url: &str, count: usize, threads: usize) -> BlobTimes {
    let store = AzuriteEnvironment::new(url, "benchblobs").store();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= count {
                    break;
                }
                let outcome = store
                    .create(&blob_name(index), &blob_body(index), &blob_metadata(index))
                    .unwrap_or_else(|e| panic!("create {}: {e}", blob_name(index)));
                assert!(
                    matches!(outcome, CreateOutcome::Created(_)),
                    "create {}: {outcome:?}",
                    blob_name(index)
                );
            });
        }
    });
    let create = started.elapsed();

    let started = Instant::now();
    let listed = store.list(BLOB_PREFIX).expect("list the container");
    let list = started.elapsed();
    let mut listed: Vec<String> = listed.into_iter().map(|entry| entry.name).collect();
    listed.sort();
    let mut created: Vec<String> = (0..count).map(blob_name).collect();
    created.sort();
    assert_eq!(listed, created, "the listing is not the blobs created");

    let reads = count.min(MOST_READS);
    let started = Instant::now();
    for index in 0..reads {
        let (body, _) = store
            .read(&blob_name(index))
            .unwrap_or_else(|e| panic!("read {}: {e}", blob_name(index)))
            .unwrap_or_else(|| panic!("{} is missing", blob_name(index)));
        assert!(
            body == blob_body(index),
            "{} holds another body",
            blob_name(index)
        );
    }
    let read = started.elapsed();
    BlobTimes {
        threads,
        create,
        list,
        reads,
        read,
    }
}

// ----- certificates through the C ABI -----

fn value(index: usize) -> Vec<u8> {
    let mut value = format!("certificate {index:05} ").into_bytes();
    value.resize(VALUE_SIZE, (index % 251) as u8);
    value
}

fn label(index: usize) -> String {
    format!("bench-{index:05}")
}

/// Creates certificates `0..count` from `threads` threads, each with its own session.
fn create_all(environment: &AzuriteEnvironment, count: usize, threads: usize) -> Duration {
    let provider = Provider::open(&environment.config);
    let login = provider.user_session();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let provider = &provider;
            scope.spawn(move || {
                let session = provider.rw_session();
                for index in (thread..count).step_by(threads) {
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
fn search_twice(environment: &AzuriteEnvironment, count: usize, cache_seconds: u32) -> Searches {
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
    let template = label_search(&label(count / 2));
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

// ----- faults -----

/// The certificate calls timed against a failing service, in table order.
const FAULT_CALLS: [&str; 5] = [
    "C_CreateObject",
    "search by label",
    "C_GetAttributeValue(CKA_VALUE) of an uncached certificate",
    "C_SetAttributeValue(CKA_LABEL)",
    "C_DestroyObject",
];

struct FaultTimes {
    bound: Duration,
    frozen: [Duration; 5],
    stopped: [Duration; 5],
}

/// Times `call`, which must fail with `CKR_DEVICE_ERROR`.
fn time_device_error<T: std::fmt::Debug>(
    what: &str,
    call: impl FnOnce() -> cryptoki::error::Result<T>,
) -> Duration {
    let started = Instant::now();
    let result = call();
    let elapsed = started.elapsed();
    match result {
        Err(cryptoki::error::Error::Pkcs11(RvError::DeviceError, _)) => elapsed,
        other => panic!("{what}: expected CKR_DEVICE_ERROR, got {other:?}"),
    }
}

/// Each of [`FAULT_CALLS`], on the certificates `cached`, `uncached` and `spare`.
fn time_fault_calls(
    session: &Session,
    [cached, uncached, spare]: [ObjectHandle; 3],
) -> [Duration; 5] {
    [
        time_device_error(FAULT_CALLS[0], || {
            session.create_object(&certificate_template("outage", b"outage"))
        }),
        time_device_error(FAULT_CALLS[1], || {
            session.find_objects(&label_search("cached"))
        }),
        time_device_error(FAULT_CALLS[2], || {
            session.get_attributes(uncached, &[AttributeType::Value])
        }),
        time_device_error(FAULT_CALLS[3], || {
            session.update_attributes(cached, &[Attribute::Label(b"renamed".to_vec())])
        }),
        time_device_error(FAULT_CALLS[4], || session.destroy_object(spare)),
    ]
}

/// On a private Azurite: three certificates, then a fresh provider that
/// has verified only "cached" times every call while the service is
/// frozen, then while it is stopped.
fn time_faults(parameters: &Parameters) -> FaultTimes {
    let azurite = PrivateAzurite::start();
    let environment = AzuriteEnvironment::with(
        &azurite.url(),
        "benchfaults",
        EMULATOR_ACCOUNT_KEY,
        &[
            (
                "CERTSTORAGE_TIMEOUT_SECONDS",
                &parameters.timeout_seconds.to_string(),
            ),
            ("CERTSTORAGE_RETRIES", &parameters.retries.to_string()),
        ],
    );
    let bound = environment.store().worst_case_duration();
    let provider = Provider::open(&environment.config);
    let session = provider.user_session();
    let handles = ["cached", "uncached", "spare"].map(|label| {
        session
            .create_object(&certificate_template(label, label.as_bytes()))
            .unwrap_or_else(|e| panic!("create {label}: {e}"))
    });
    drop(session);
    provider.finalize();

    let provider = Provider::open(&environment.config);
    let session = provider.user_session();
    let found = session
        .find_objects(&label_search("cached"))
        .expect("search for \"cached\"");
    assert_eq!(found, [handles[0]], "the search finds \"cached\"");

    azurite.signal("STOP");
    let frozen = time_fault_calls(&session, handles);
    azurite.signal("CONT");
    // Killed rather than `.ci/azurite.sh stop`, which waits up to 10 s for
    // Azurite to close the provider's idle connections; refused connections
    // are the same either way. Dropping `azurite` then clears its PID file.
    azurite.signal("KILL");
    let stopped = time_fault_calls(&session, handles);
    drop(session);
    provider.finalize();
    FaultTimes {
        bound,
        frozen,
        stopped,
    }
}

// ----- at scale: N certificates, a new process -----

/// Searches timed warm in the probe process (each one listing the
/// container from its highest known name).
const SCALE_WARM_SEARCHES: usize = 200;

/// How long the probe waits for a destroy by another process to show
/// before it fails: far past the documented bound at 100,000 on Azurite.
const SCALE_DESTROY_LIMIT: Duration = Duration::from_secs(300);

/// `scale N`: N certificates created on [`THREADS`] threads (through the
/// C ABI), then two new processes (`scale-probe`, the second starting from
/// the index cache the first wrote) one after the other. Each measures its
/// cold start (`C_Initialize`, a logged-in session and the first search by
/// label), the warm searches, the next search after another new process
/// created one more certificate (it must find it), how long until a
/// certificate another process destroyed is no longer found (and every
/// search until then), and its peak RSS at the end.
fn scale(url: &str, count: usize) {
    let environment = AzuriteEnvironment::new(url, "benchscale");
    let create = create_all(&environment, count, THREADS);
    println!(
        "scale: {count} certificates created on {THREADS} threads in {create:.2?} ({})",
        rate(count, create)
    );
    // The first process after populating lists the container whole and
    // writes the index cache; the second starts from that cache.
    let rounds: Vec<String> = (0..2)
        .map(|round| {
            if round == 1 && count >= 256 {
                // The first process's whole listing found every one new:
                // it wrote the cache, and C_Finalize let the upload end.
                let names: Vec<String> = environment
                    .store()
                    .list(".index/")
                    .expect("list the cache blob")
                    .into_iter()
                    .map(|entry| entry.name)
                    .collect();
                assert_eq!(
                    names,
                    [CACHE_BLOB],
                    "the first process wrote the index cache"
                );
            }
            let output = std::process::Command::new(std::env::current_exe().expect("this program"))
                .args(["scale-probe", &environment.config.display().to_string()])
                .arg(count.to_string())
                .arg(round.to_string())
                .output()
                .expect("run the probe");
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            assert!(
                output.status.success(),
                "the probe failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            text
        })
        .collect();
    let field = |round: usize, key: &str| -> f64 {
        rounds[round]
            .split_whitespace()
            .find_map(|word| word.strip_prefix(key)?.parse().ok())
            .unwrap_or_else(|| panic!("the probe did not give {key}: {}", rounds[round]))
    };
    println!();
    println!(
        "| Azure (Azurite), {count} certificates | first process | next process (index cache) |"
    );
    println!("| --- | ---: | ---: |");
    let row = |what: &str, key: &str, scale: f64, unit: &str, digits: usize| {
        println!(
            "| {what} | {:.digits$} {unit} | {:.digits$} {unit} |",
            field(0, key) * scale,
            field(1, key) * scale
        );
    };
    row(
        "cold start (C_Initialize, login, first search)",
        "cold_s=",
        1e3,
        "ms",
        1,
    );
    row(
        &format!("warm search by label, median of {SCALE_WARM_SEARCHES}"),
        "warm_median_s=",
        1e3,
        "ms",
        2,
    );
    row("warm search by label, p99", "warm_p99_s=", 1e3, "ms", 2);
    row(
        "next search after another process created one",
        "after_create_s=",
        1e3,
        "ms",
        2,
    );
    row(
        "a destroy by another process shows after",
        "destroy_seen_s=",
        1.0,
        "s",
        1,
    );
    row(
        "searches until then (that certificate and others): p99",
        "sustained_p99_s=",
        1e3,
        "ms",
        2,
    );
    row(
        "searches until then: slowest",
        "sustained_max_s=",
        1e3,
        "ms",
        2,
    );
    row(
        "searches until then: how many",
        "sustained_searches=",
        1.0,
        "",
        0,
    );
    row(
        "peak RSS of the searching process",
        "vmhwm_kb=",
        1.0 / 1024.0,
        "MB",
        1,
    );
}

/// The probe process of [`scale`]: `scale-probe <config> <N> <round>`.
fn scale_probe(config: &std::path::Path, count: usize, round: usize) {
    let started = Instant::now();
    let provider = Provider::open(config);
    let session = provider.user_session();
    let search = |label: &str| {
        let started = Instant::now();
        let found = session.find_objects(&label_search(label)).expect("search");
        (started.elapsed(), found)
    };
    let (_, found) = search(&label(count / 2));
    let cold = started.elapsed();
    assert_eq!(found.len(), 1, "the cold search finds one certificate");
    let mut warm: Vec<Duration> = (0..SCALE_WARM_SEARCHES)
        .map(|i| {
            let mut index = (i * 7919) % count;
            // Not one an earlier round destroyed.
            if (count / 3..count / 3 + round).contains(&index) {
                index = count / 2;
            }
            let (elapsed, found) = search(&label(index));
            assert_eq!(found.len(), 1, "{} is found once", label(index));
            elapsed
        })
        .collect();
    warm.sort();
    let created_label = format!("created-elsewhere-{round}");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args([
            "scale-create",
            &config.display().to_string(),
            &created_label,
        ])
        .status()
        .expect("run the creating process");
    assert!(status.success(), "the creating process failed");
    let (after_create, found) = search(&created_label);
    assert_eq!(found.len(), 1, "the next search finds the new certificate");

    // Another process destroys one; searches go on (for it and for
    // others, every few milliseconds) until it is no longer found.
    let destroyed_index = count / 3 + round;
    let destroyed = label(destroyed_index);
    // Found (so verified and kept by this process) before the destroy.
    assert_eq!(search(&destroyed).1.len(), 1, "{destroyed} is there");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .args(["scale-destroy", &config.display().to_string(), &destroyed])
        .status()
        .expect("run the destroying process");
    assert!(status.success(), "the destroying process failed");
    let began = Instant::now();
    let mut sustained = Vec::new();
    let mut other = 0usize;
    let destroy_seen = loop {
        let (elapsed, found) = search(&destroyed);
        sustained.push(elapsed);
        if found.is_empty() {
            break began.elapsed();
        }
        assert!(
            began.elapsed() < SCALE_DESTROY_LIMIT,
            "a destroy by another process has not shown after {SCALE_DESTROY_LIMIT:?}"
        );
        other = (other + 7919) % count;
        if !(count / 3..=destroyed_index).contains(&other) {
            let (elapsed, found) = search(&label(other));
            assert_eq!(found.len(), 1, "{} is found once", label(other));
            sustained.push(elapsed);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    sustained.sort();
    let vmhwm_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        })
        .unwrap_or(f64::NAN);
    drop(session);
    provider.finalize();
    println!(
        "cold_s={} warm_median_s={} warm_p99_s={} after_create_s={} destroy_seen_s={} \
         sustained_searches={} sustained_p99_s={} sustained_max_s={} vmhwm_kb={vmhwm_kb}",
        cold.as_secs_f64(),
        warm[warm.len() / 2].as_secs_f64(),
        warm[warm.len() * 99 / 100].as_secs_f64(),
        after_create.as_secs_f64(),
        destroy_seen.as_secs_f64(),
        sustained.len(),
        sustained[sustained.len() * 99 / 100].as_secs_f64(),
        sustained[sustained.len() - 1].as_secs_f64(),
    );
}

/// `scale-destroy <config> <label>`: destroys the certificate labelled
/// so, from another process.
fn scale_destroy(config: &std::path::Path, label: &str) {
    let provider = Provider::open(config);
    let session = provider.user_session();
    let found = session.find_objects(&label_search(label)).expect("search");
    assert_eq!(found.len(), 1, "{label} is there to destroy");
    session
        .destroy_object(found[0])
        .expect("destroy from another process");
    drop(session);
    provider.finalize();
}

/// `scale-create <config> <label>`: one certificate, from another process.
fn scale_create(config: &std::path::Path, label: &str) {
    let provider = Provider::open(config);
    let session = provider.user_session();
    session
        .create_object(&certificate_template(label, b"created elsewhere"))
        .expect("create from another process");
    drop(session);
    provider.finalize();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["scale-probe", config, count, round] => {
            let (count, round) = (count.parse().expect("N"), round.parse().expect("round"));
            return scale_probe(config.as_ref(), count, round);
        }
        ["scale-create", config, label] => return scale_create(config.as_ref(), label),
        ["scale-destroy", config, label] => return scale_destroy(config.as_ref(), label),
        _ => {}
    }
    // `cargo bench` passes `--bench`; otherwise only `scale N`.
    let Some(url) = common::azurite_url() else {
        return;
    };
    if let Some(at) = args.iter().position(|a| a == "scale") {
        let count = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .expect("scale N");
        return scale(&url, count);
    }
    let parameters = Parameters::from_env();
    let count = parameters.count;
    let blobs: Vec<BlobTimes> = BLOB_THREADS
        .into_iter()
        .map(|threads| time_blob_store(&url, count, threads))
        .collect();
    let sequential = AzuriteEnvironment::new(&url, "benchseq");
    let create_one = create_all(&sequential, count, 1);
    let threaded = AzuriteEnvironment::new(&url, "benchpar");
    let create_four = create_all(&threaded, count, THREADS);
    let searches: Vec<(u32, Searches)> = [0, 60]
        .into_iter()
        .map(|cache| (cache, search_twice(&sequential, count, cache)))
        .collect();
    let faults = time_faults(&parameters);

    println!(
        "Azure certificates against Azurite at {url} ({count} blobs of {BLOB_SIZE} bytes; \
         {count} certificates, CKA_VALUE {VALUE_SIZE} bytes)"
    );
    println!();
    println!("| what | time | rate |");
    println!("| --- | ---: | ---: |");
    for times in &blobs {
        println!(
            "| blob store: create {count}, {} thread(s) | {:.2?} | {} |",
            times.threads,
            times.create,
            rate(count, times.create)
        );
        println!(
            "| blob store: list {count} with metadata | {:.2?} | |",
            times.list
        );
        println!(
            "| blob store: read {}, one after another | {:.2?} | {} |",
            times.reads,
            times.read,
            rate(times.reads, times.read)
        );
    }
    println!(
        "| C ABI: create {count}, 1 thread, 1 session | {create_one:.2?} | {} |",
        rate(count, create_one)
    );
    println!(
        "| C ABI: create {count}, {THREADS} threads, a session each | {create_four:.2?} | {} |",
        rate(count, create_four)
    );
    for (cache, times) in &searches {
        println!(
            "| CERTSTORAGE_CACHE_SECONDS={cache}: C_Initialize | {:.2?} | |",
            times.initialize
        );
        println!(
            "| CERTSTORAGE_CACHE_SECONDS={cache}: search by label among {count}, cold | {:.2?} | |",
            times.cold
        );
        println!(
            "| CERTSTORAGE_CACHE_SECONDS={cache}: search by label among {count}, warm | {:.2?} | |",
            times.warm
        );
    }
    println!();
    println!(
        "Certificate calls against a failing Azurite, each returning CKR_DEVICE_ERROR \
         (CERTSTORAGE_TIMEOUT_SECONDS={}, CERTSTORAGE_RETRIES={}: one store request \
         gives up within {:.2?})",
        parameters.timeout_seconds, parameters.retries, faults.bound
    );
    println!();
    println!("| call | stopped (connections refused) | frozen (accepted, never answered) |");
    println!("| --- | ---: | ---: |");
    for (index, call) in FAULT_CALLS.iter().enumerate() {
        println!(
            "| {call} | {:.2?} | {:.2?} |",
            faults.stopped[index], faults.frozen[index]
        );
    }
}
