//! Chaos against the Azure certificate store: four processes create, find
//! and destroy token certificates in one container while a private Azurite
//! is stopped and restarted at random moments. Then:
//! - no worker crashed, and every call returned (each within
//!   [`WATCHDOG_FACTOR`] times the configuration's worst case for one call;
//!   the slowest call is printed);
//! - every call answered `CKR_OK` or `CKR_DEVICE_ERROR` (and
//!   `CKR_OBJECT_HANDLE_INVALID` only for a certificate whose earlier
//!   destroy failed, so may have happened), and a search that succeeded
//!   found exactly the certificate searched for;
//! - no handle was given to two certificates at once;
//! - with the service back, every blob in the container verifies (a fresh
//!   provider finds one certificate per blob and reads each);
//! - every certificate whose create returned `CKR_OK` and that was not
//!   destroyed is there with its label; none whose destroy returned
//!   `CKR_OK` is; no certificate is there twice; every certificate there
//!   comes from some create (one whose create failed may exist when the
//!   service stored it, the answer was lost and the cleanup failed too:
//!   they are counted).
//!
//! `AZCLOUDHSM_CHAOS_SECONDS` (default 40) sets how long the outages go on
//! (at least 3 of them); the workers stop when they end.
//! Needs `AZURITE_BLOB_URL` (see `tests/azure_certificates.rs`); under `CI`
//! a missing Azurite is a failure.

mod common;

use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WORKER: &str = "azurite_chaos_worker_creates_finds_and_destroys_for_a_while";
const PROCESSES: usize = 4;
const SECONDS_ENV: &str = "AZCLOUDHSM_CHAOS_SECONDS";
const CONFIG_ENV_KEY: &str = "AZTEST_CONFIG";
const OUTPUT_ENV: &str = "AZTEST_OUTPUT";
const PREFIX_ENV: &str = "AZTEST_LABEL_PREFIX";
const RUN_FOR_ENV: &str = "AZTEST_RUN_FOR_MS";
const STOP_FILE_ENV: &str = "AZTEST_STOP_FILE";
const WATCHDOG_ENV: &str = "AZTEST_WATCHDOG_MS";

fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    u64::from_le_bytes(bytes) % bound.max(1)
}

/// Wall-clock nanoseconds: one clock for every process of the test.
fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn object(handle: u64) -> ObjectHandle {
    // SAFETY: an ObjectHandle is a plain number; the provider checks it on use.
    unsafe { ObjectHandle::new_from_raw(handle) }
}

fn rv_or_ok<T>(result: &cryptoki::error::Result<T>) -> Option<RvError> {
    match result {
        Ok(_) => None,
        Err(Error::Pkcs11(rv, _)) => Some(*rv),
        Err(other) => panic!("not a PKCS#11 answer: {other}"),
    }
}

/// A certificate a worker created: handle, label, and whether a destroy of
/// it failed (so it may be gone, and its handle given to another).
struct Mine {
    handle: u64,
    label: String,
    maybe_gone: bool,
}

/// Runs in a child process only: creates, finds and destroys certificates
/// for `AZTEST_RUN_FOR_MS`, and writes its ledger to `AZTEST_OUTPUT`:
/// - `C <handle> <label> <start> <end>`: a create that returned `CKR_OK`;
/// - `c <label>`: a create that failed;
/// - `D <handle> <label> <start>`: a destroy that returned `CKR_OK`, or
///   `CKR_OBJECT_HANDLE_INVALID` after an earlier failed one;
/// - `d <handle> <label> <start>`: a destroy that failed;
/// - `N <name> <count>`: how many calls got each answer;
/// - `S <milliseconds> <call>`: the slowest call.
#[test]
#[ignore = "worker of azurite_chaos_four_processes_keep_every_acknowledged_certificate"]
fn azurite_chaos_worker_creates_finds_and_destroys_for_a_while() {
    let config = worker_env(CONFIG_ENV_KEY);
    let output = worker_env(OUTPUT_ENV);
    let prefix = worker_env(PREFIX_ENV);
    // Until the chaos has run its course (the stop file), at most this long.
    let run_for = Duration::from_millis(worker_env(RUN_FOR_ENV).parse().unwrap());
    let stop_file = std::path::PathBuf::from(worker_env(STOP_FILE_ENV));
    let watchdog = Duration::from_millis(worker_env(WATCHDOG_ENV).parse().unwrap());
    let provider = Provider::open(Path::new(&config));
    let session = provider.user_session();
    let mut mine: Vec<Mine> = Vec::new();
    let mut ledger = String::new();
    let mut failures: Vec<String> = Vec::new();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut slowest = (Duration::ZERO, String::new());
    let started = Instant::now();
    let mut created = 0;
    while started.elapsed() < run_for && !stop_file.exists() {
        let choice = random_below(10);
        let call_started = Instant::now();
        let what;
        if choice <= 3 || mine.is_empty() {
            let label = format!("{prefix}-{created}");
            created += 1;
            let start = now_ns();
            let result = session.create_object(&certificate_template(&label, label.as_bytes()));
            let end = now_ns();
            what = format!("create {label}");
            let rv = rv_or_ok(&result);
            match rv {
                None => {
                    let handle = result.unwrap().handle();
                    ledger.push_str(&format!("C {handle} {label} {start} {end}\n"));
                    mine.push(Mine {
                        handle,
                        label,
                        maybe_gone: false,
                    });
                }
                Some(RvError::DeviceError) => {
                    ledger.push_str(&format!("c {label}\n"));
                    // An application backs off a little; four processes
                    // spinning on refused connections would slow the
                    // restarts down.
                    std::thread::sleep(Duration::from_millis(20));
                }
                Some(other) => failures.push(format!("{what}: {other:?}")),
            }
            *counts.entry(format!("create {rv:?}")).or_default() += 1;
        } else if choice <= 6 {
            let index = random_below(mine.len() as u64) as usize;
            let target = &mine[index];
            what = format!("find {}", target.label);
            let result = session.find_objects(&label_search(&target.label));
            match &result {
                Ok(found) => {
                    let found: Vec<u64> = found.iter().map(|h| h.handle()).collect();
                    let right = found == [target.handle] || (target.maybe_gone && found.is_empty());
                    if !right {
                        failures.push(format!(
                            "{what} ({:#x}{}) found {found:x?}",
                            target.handle,
                            if target.maybe_gone {
                                ", maybe gone"
                            } else {
                                ""
                            }
                        ));
                    }
                }
                Err(Error::Pkcs11(RvError::DeviceError, _)) => {}
                Err(other) => failures.push(format!("{what}: {other}")),
            }
            *counts
                .entry(format!("find {:?}", rv_or_ok(&result)))
                .or_default() += 1;
        } else {
            let index = random_below(mine.len() as u64) as usize;
            let (handle, label, maybe_gone) = {
                let target = &mine[index];
                (target.handle, target.label.clone(), target.maybe_gone)
            };
            what = format!("destroy {label}");
            let start = now_ns();
            let result = session.destroy_object(object(handle));
            let rv = rv_or_ok(&result);
            match rv {
                None => {
                    ledger.push_str(&format!("D {handle} {label} {start}\n"));
                    mine.swap_remove(index);
                }
                // The failed destroy before did happen; this process's
                // provider now knows the handle is gone.
                Some(RvError::ObjectHandleInvalid) if maybe_gone => {
                    ledger.push_str(&format!("D {handle} {label} {start}\n"));
                    mine.swap_remove(index);
                }
                Some(RvError::DeviceError) => {
                    ledger.push_str(&format!("d {handle} {label} {start}\n"));
                    mine[index].maybe_gone = true;
                }
                Some(other) => failures.push(format!("{what} ({handle:#x}): {other:?}")),
            }
            *counts.entry(format!("destroy {rv:?}")).or_default() += 1;
        }
        let took = call_started.elapsed();
        if took > watchdog {
            failures.push(format!("{what} took {took:?}, over {watchdog:?}"));
        }
        if took > slowest.0 {
            slowest = (took, what);
        }
    }
    for (name, count) in &counts {
        ledger.push_str(&format!("N {} {count}\n", name.replace(' ', "_")));
    }
    ledger.push_str(&format!(
        "S {} {}\n",
        slowest.0.as_millis(),
        slowest.1.replace(' ', "_")
    ));
    std::fs::write(&output, ledger).expect("write the ledger");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    drop(session);
    provider.finalize();
}

/// What the four ledgers say.
#[derive(Default)]
struct Ledgers {
    /// Creates that returned `CKR_OK`: handle, label, start, end.
    created: Vec<(u64, String, u128, u128)>,
    failed_creates: BTreeSet<String>,
    /// Destroy attempts by (handle, label): start, and whether it returned `CKR_OK`.
    destroys: BTreeMap<(u64, String), Vec<(u128, bool)>>,
    counts: BTreeMap<String, u64>,
    slowest: (u64, String),
}

impl Ledgers {
    fn read(&mut self, text: &str) {
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            match fields.as_slice() {
                ["C", handle, label, start, end] => self.created.push((
                    handle.parse().unwrap(),
                    label.to_string(),
                    start.parse().unwrap(),
                    end.parse().unwrap(),
                )),
                ["c", label] => {
                    self.failed_creates.insert(label.to_string());
                }
                [kind @ ("D" | "d"), handle, label, start] => self
                    .destroys
                    .entry((handle.parse().unwrap(), label.to_string()))
                    .or_default()
                    .push((start.parse().unwrap(), *kind == "D")),
                ["N", name, count] => {
                    *self.counts.entry(name.to_string()).or_default() +=
                        count.parse::<u64>().unwrap()
                }
                ["S", millis, what] => {
                    let millis: u64 = millis.parse().unwrap();
                    if millis >= self.slowest.0 {
                        self.slowest = (millis, what.to_string());
                    }
                }
                _ => panic!("a ledger line the worker does not write: {line}"),
            }
        }
    }

    fn destroyed(&self, handle: u64, label: &str) -> bool {
        self.destroys
            .get(&(handle, label.to_string()))
            .is_some_and(|attempts| attempts.iter().any(|(_, ok)| *ok))
    }

    /// A destroy of it was attempted (so it may be gone).
    fn destroy_attempted(&self, handle: u64, label: &str) -> bool {
        self.destroys.contains_key(&(handle, label.to_string()))
    }

    /// Panics where one handle was held by two certificates at once: a
    /// create may only get a handle whose previous certificate's destroy had
    /// begun before that create returned.
    fn assert_no_handle_given_twice(&self) {
        let mut by_handle: BTreeMap<u64, Vec<&(u64, String, u128, u128)>> = BTreeMap::new();
        for create in &self.created {
            by_handle.entry(create.0).or_default().push(create);
        }
        for (handle, mut creates) in by_handle {
            creates.sort_by_key(|create| create.3);
            for pair in creates.windows(2) {
                let (first, second) = (pair[0], pair[1]);
                let freed_in_time = self
                    .destroys
                    .get(&(handle, first.1.clone()))
                    .is_some_and(|attempts| attempts.iter().any(|(start, _)| *start < second.3));
                assert!(
                    freed_in_time,
                    "handle {handle:#x} was given to {} while {} held it",
                    second.1, first.1
                );
            }
        }
    }
}

#[test]
fn azurite_chaos_four_processes_keep_every_acknowledged_certificate() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let seconds: f64 = std::env::var(SECONDS_ENV)
        .ok()
        .map(|text| text.parse().expect("AZCLOUDHSM_CHAOS_SECONDS is a number"))
        .unwrap_or(40.0);
    let run_for = Duration::from_secs_f64(seconds);
    let azurite = PrivateAzurite::start();
    let env = AzuriteEnvironment::with(
        &azurite.url(),
        "chaos",
        azcloudhsm_pkcs11::certstore::azure::EMULATOR_ACCOUNT_KEY,
        &[
            ("CERTSTORAGE_TIMEOUT_SECONDS", "2"),
            ("CERTSTORAGE_RETRIES", "1"),
        ],
    );
    let bound = env.store().worst_case_duration();
    let watchdog = bound * WATCHDOG_FACTOR;
    let outputs = tempfile::tempdir().unwrap();
    let stop_file = outputs.path().join("stop");
    let workers: Vec<_> = (0..PROCESSES)
        .map(|index| {
            let output = outputs.path().join(format!("ledger-{index}"));
            let env_vars = vec![
                (CONFIG_ENV_KEY, env.config.display().to_string()),
                (OUTPUT_ENV, output.display().to_string()),
                (PREFIX_ENV, format!("p{index}")),
                (RUN_FOR_ENV, (run_for * 4).as_millis().to_string()),
                (STOP_FILE_ENV, stop_file.display().to_string()),
                (WATCHDOG_ENV, watchdog.as_millis().to_string()),
            ];
            (output, spawn_worker(WORKER, &env_vars))
        })
        .collect();

    // The chaos: up for 0.3-1.5 s, down for 0.1-1 s (plus the 2-4 s that
    // stopping and starting Azurite take), for `run_for` and at least 3
    // outages; then the stop file ends the workers. Each up time is at
    // least as long as the start before it took, so on a loaded machine,
    // where Azurite takes longer to start, the service is still up half
    // the time or more.
    let outages = std::thread::scope(|scope| {
        let chaos = scope.spawn(|| {
            let started = Instant::now();
            let mut outages = 0;
            let mut last_start = Duration::ZERO;
            loop {
                let up = Duration::from_millis(300 + random_below(1200)).max(last_start);
                std::thread::sleep(up);
                if started.elapsed() >= run_for && outages >= 3 {
                    break;
                }
                azurite.command("stop");
                outages += 1;
                std::thread::sleep(Duration::from_millis(100 + random_below(900)));
                let starting = Instant::now();
                azurite.command("start");
                last_start = starting.elapsed();
            }
            std::fs::write(&stop_file, b"stop").expect("the stop file");
            outages
        });
        let limit = run_for * 4 + WORKER_LIMIT;
        let ledgers: Vec<_> = workers
            .into_iter()
            .map(|(output, worker)| {
                let finished = worker.wait(limit);
                (output, finished)
            })
            .collect();
        let outages = chaos.join().expect("the chaos thread");
        for (output, finished) in &ledgers {
            let text = format!("{}{}", finished.stdout, finished.stderr);
            assert!(
                finished.status.is_some(),
                "a worker ran longer than {limit:?}:\n{text}"
            );
            assert!(
                finished.success() && finished.stdout.contains("1 passed"),
                "a worker failed ({:?}; ledger {}):\n{text}",
                finished.status,
                output.display()
            );
        }
        outages
    });
    assert!(azurite.is_running(), "Azurite is left stopped");

    let mut ledgers = Ledgers::default();
    for index in 0..PROCESSES {
        let text = std::fs::read_to_string(outputs.path().join(format!("ledger-{index}")))
            .expect("every worker wrote its ledger");
        ledgers.read(&text);
    }
    for (name, count) in &ledgers.counts {
        println!("{count:>7}  {name}");
    }
    println!(
        "{outages} outages; slowest call {} ms ({}), configured worst case {bound:?}",
        ledgers.slowest.0, ledgers.slowest.1
    );
    assert!(outages >= 3, "only {outages} outages in {run_for:?}");
    let errors: u64 = ledgers
        .counts
        .iter()
        .filter(|(name, _)| name.contains("DeviceError"))
        .map(|(_, count)| count)
        .sum();
    assert!(
        errors > 0,
        "no call met an outage: the chaos never reached the workers"
    );
    assert!(
        ledgers.created.len() > 10,
        "only {} creates succeeded",
        ledgers.created.len()
    );
    ledgers.assert_no_handle_given_twice();

    // The service is back: a fresh provider reads every blob.
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let blobs: BTreeSet<u64> = env
        .blob_names()
        .iter()
        .map(|name| {
            name.strip_prefix("pkcs11_certificate_")
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let found = session
        .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
        .expect("search every certificate");
    let found_handles: BTreeSet<u64> = found.iter().map(|h| h.handle()).collect();
    assert_eq!(
        found_handles, blobs,
        "a blob in the container does not verify"
    );
    let mut present: BTreeMap<String, u64> = BTreeMap::new();
    for handle in &found {
        let attributes = session
            .get_attributes(*handle, &[AttributeType::Label, AttributeType::Value])
            .expect("read every certificate");
        let [Attribute::Label(label), Attribute::Value(value)] = attributes.as_slice() else {
            panic!("{attributes:?}")
        };
        assert_eq!(label, value, "{:#x} holds another's value", handle.handle());
        let label = String::from_utf8(label.clone()).unwrap();
        let earlier = present.insert(label.clone(), handle.handle());
        assert!(earlier.is_none(), "{label} is stored twice");
    }
    for (handle, label, _, _) in &ledgers.created {
        let destroyed = ledgers.destroyed(*handle, label);
        match present.get(label) {
            Some(at) => {
                assert!(!destroyed, "{label} was destroyed and is back");
                assert_eq!(at, handle, "{label} moved from {handle:#x}");
            }
            None => assert!(
                destroyed || ledgers.destroy_attempted(*handle, label),
                "{label} ({handle:#x}) was created with CKR_OK and is missing"
            ),
        }
    }
    let acknowledged: BTreeSet<&str> = ledgers.created.iter().map(|c| c.1.as_str()).collect();
    let mut ghosts = 0;
    for label in present.keys() {
        if !acknowledged.contains(label.as_str()) {
            assert!(
                ledgers.failed_creates.contains(label),
                "{label} is stored but no create of it was made"
            );
            ghosts += 1;
        }
    }
    println!(
        "{} creates acknowledged, {} failed ({ghosts} of those stored after all), {} certificates left",
        ledgers.created.len(),
        ledgers.failed_creates.len(),
        present.len()
    );
}
