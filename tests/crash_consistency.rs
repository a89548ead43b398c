//! Crash consistency of the local certificate store: a process that
//! creates, updates and destroys certificates is killed with SIGKILL at
//! random moments, 50 rounds of two such processes at once, over one
//! token directory. Afterwards:
//! - every blob in the store verifies (each one is a certificate object);
//! - no temporary file is ever an object;
//! - every certificate whose create returned `CKR_OK` is present, with
//!   the label it was given or the one a pending update was giving it,
//!   unless its destroy was under way;
//! - no handle was given to two certificates at once.
//!
//! The worker journals each call before it makes it (`c`, `u`, `d` lines:
//! intent) and after it returned `CKR_OK` (`C`, `U`, `D`), appending one
//! line per `write`, which a SIGKILL cannot tear; updates and destroys name
//! the certificate by handle and creation label.

mod common;

use azcloudhsm_pkcs11::certstore::BLOB_PREFIX;
use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const WORKER: &str = "crash_worker_creates_updates_and_destroys_until_killed";
const JOURNAL_ENV: &str = "AZCLOUDHSM_ITEST_JOURNAL";
const ROUND_ENV: &str = "AZCLOUDHSM_ITEST_ROUND";
const ROUNDS: usize = 50;

fn object_handle(handle: u64) -> ObjectHandle {
    // SAFETY: an ObjectHandle is a plain number; the provider checks it on use.
    unsafe { ObjectHandle::new_from_raw(handle) }
}

/// A random number below `bound`, from the openssl crate's generator.
fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    u64::from_le_bytes(bytes) % bound
}

fn journal(path: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the journal");
    // One write per line: appends of this size are never torn.
    file.write_all(format!("{line}\n").as_bytes())
        .expect("append to the journal");
}

#[test]
#[ignore = "worker of certificates_survive_sigkill_at_random_moments"]
fn crash_worker_creates_updates_and_destroys_until_killed() {
    let journal_path = worker_env(JOURNAL_ENV);
    let journal_path = Path::new(&journal_path);
    let round = worker_env(ROUND_ENV);
    let token = TestToken::with_options(TokenOptions::from_worker_env());
    let session = token.user_session();
    // Each of this worker's certificates: its handle and creation label.
    let mut mine: Vec<(u64, String)> = Vec::new();
    let started = Instant::now();
    // Bounded, in case nobody kills it.
    for index in 0.. {
        if started.elapsed() > Duration::from_secs(30) {
            break;
        }
        match random_below(4) {
            0 | 1 => {
                let label = format!("r{round}-{index}");
                journal(journal_path, &format!("c {label}"));
                let handle = session
                    .create_object(&certificate_template(&label, label.as_bytes()))
                    .expect("create")
                    .handle();
                journal(journal_path, &format!("C {handle} {label}"));
                mine.push((handle, label));
            }
            2 if !mine.is_empty() => {
                let (handle, created) = mine[random_below(mine.len() as u64) as usize].clone();
                let label = format!("r{round}-{index}-updated");
                journal(journal_path, &format!("u {handle} {created} {label}"));
                session
                    .update_attributes(
                        object_handle(handle),
                        &[Attribute::Label(label.as_bytes().to_vec())],
                    )
                    .expect("update");
                journal(journal_path, &format!("U {handle} {created} {label}"));
            }
            3 if !mine.is_empty() => {
                let (handle, created) = mine.swap_remove(random_below(mine.len() as u64) as usize);
                journal(journal_path, &format!("d {handle} {created}"));
                session
                    .destroy_object(object_handle(handle))
                    .expect("destroy");
                journal(journal_path, &format!("D {handle} {created}"));
            }
            _ => {}
        }
    }
}

/// What the journal says of one handle.
#[derive(Debug, Default)]
struct Expected {
    /// The value it was created with (its creation label's bytes).
    value: Vec<u8>,
    /// Labels it may have: the last confirmed one, plus a pending update's.
    labels: BTreeSet<String>,
    /// Present for sure (created, no destroy under way).
    present: bool,
    /// A destroy was confirmed.
    destroyed: bool,
}

/// Replays the journal; panics where a handle was given to a certificate
/// while another one still held it.
fn replay(text: &str) -> BTreeMap<u64, Expected> {
    let mut handles: BTreeMap<u64, Expected> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["c", _] => {}
            ["C", handle, label] => {
                let handle: u64 = handle.parse().unwrap();
                if let Some(previous) = handles.get(&handle) {
                    assert!(
                        !previous.present,
                        "handle {handle:#x} was given to {label} while {:?} held it",
                        previous.labels
                    );
                }
                handles.insert(
                    handle,
                    Expected {
                        value: label.as_bytes().to_vec(),
                        labels: [label.to_string()].into(),
                        present: true,
                        destroyed: false,
                    },
                );
            }
            // An update or destroy names the certificate by its creation
            // label: once its destroy unlinked the blob, another process
            // may take the handle before this one journals the end.
            [kind @ ("u" | "U" | "d" | "D"), handle, created, rest @ ..] => {
                let handle: u64 = handle.parse().unwrap();
                let entry = handles
                    .get_mut(&handle)
                    .unwrap_or_else(|| panic!("{line:?}: no certificate {handle:#x}"));
                if entry.value != created.as_bytes() {
                    assert!(
                        matches!(*kind, "D"),
                        "{line:?}: {handle:#x} holds another certificate while its owner changes it"
                    );
                    continue;
                }
                match (*kind, rest) {
                    ("u", [label]) => {
                        entry.labels.insert(label.to_string());
                    }
                    ("U", [label]) => entry.labels = [label.to_string()].into(),
                    ("d", []) => entry.present = false,
                    ("D", []) => entry.destroyed = true,
                    _ => panic!("journal line {line:?} is not one the worker writes"),
                }
            }
            // The last line of a killed round may be cut off mid-write only
            // if the write itself was torn, which appends of this size are not.
            _ => panic!("journal line {line:?} is not one the worker writes"),
        }
    }
    handles
}

/// The journal lines about `handle` or its labels, for a failure message.
fn history(text: &str, handle: u64, expected: &Expected) -> String {
    let number = handle.to_string();
    let value = String::from_utf8_lossy(&expected.value).into_owned();
    text.lines()
        .filter(|line| {
            line.split(' ')
                .any(|field| field == number || field.starts_with(&value))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn certificates_survive_sigkill_at_random_moments() {
    let mut token = TestToken::new();
    // The storage-signing key exists before any worker needs it.
    let first = token
        .user_session()
        .create_object(&certificate_template("before", b"before"))
        .unwrap()
        .handle();
    let journal_path = token.root().join("journal");
    let mut env = token.share_with_worker();
    env.push((JOURNAL_ENV, journal_path.display().to_string()));
    let mut killed = 0;
    for round in 0..ROUNDS {
        // Two writers at once, so handles are contended for, each killed
        // at its own random moment.
        let workers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let mut worker_env = env.clone();
                worker_env.push((ROUND_ENV, format!("{round}{name}")));
                spawn_worker(WORKER, &worker_env)
            })
            .collect();
        for worker in workers {
            std::thread::sleep(Duration::from_millis(100 + random_below(300)));
            let finished = worker.kill_and_wait();
            assert!(
                finished
                    .status
                    .is_some_and(|status| status.code().is_none()),
                "round {round}: a worker ended before it was killed ({:?}):\n{}{}",
                finished.status,
                finished.stdout,
                finished.stderr
            );
            killed += 1;
        }
    }
    assert_eq!(killed, 2 * ROUNDS);

    let text = std::fs::read_to_string(&journal_path).unwrap();
    let expected = replay(&text);
    let confirmed_creates = expected.len();
    assert!(
        confirmed_creates >= ROUNDS,
        "the workers created only {confirmed_creates} certificates in {ROUNDS} rounds:\n{text}"
    );

    token.reinitialize();
    let session = token.user_session();
    let found: BTreeSet<u64> = find(&session, &[Attribute::Class(ObjectClass::CERTIFICATE)])
        .iter()
        .map(|h| h.handle())
        .collect();
    // Every blob verifies: each blob file is a certificate object.
    let files: BTreeSet<u64> = std::fs::read_dir(token.certificates_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.strip_prefix(BLOB_PREFIX)?.parse().ok())
        .collect();
    assert_eq!(found, files, "blob files that are not certificate objects");
    assert!(found.contains(&first));
    // Creates that were under way when a worker was killed: their
    // certificate may exist under a handle the journal never saw.
    let confirmed: BTreeSet<String> = expected
        .values()
        .map(|e| String::from_utf8(e.value.clone()).unwrap())
        .collect();
    let unconfirmed: BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("c "))
        .filter(|label| !confirmed.contains(*label))
        .collect();
    for (handle, expected) in &expected {
        if expected.present {
            assert!(
                found.contains(handle),
                "{handle:#x} ({:?}) was created and is gone",
                expected.labels
            );
        }
    }
    for handle in found.iter().filter(|h| **h != first) {
        let attributes = session
            .get_attributes(
                object_handle(*handle),
                &[AttributeType::Label, AttributeType::Value],
            )
            .unwrap_or_else(|e| panic!("{handle:#x} does not verify: {e}"));
        let [Attribute::Label(label), Attribute::Value(value)] = attributes.as_slice() else {
            panic!("{handle:#x}: {attributes:?}");
        };
        let label = String::from_utf8(label.clone()).unwrap();
        match expected.get(handle) {
            Some(journaled) if *value == journaled.value => {
                assert!(
                    !journaled.destroyed,
                    "{handle:#x} was destroyed and is back; its journal:\n{}",
                    history(&text, *handle, journaled)
                );
                assert!(
                    journaled.labels.contains(&label),
                    "{handle:#x} has label {label}, expected one of {:?}",
                    journaled.labels
                );
            }
            journaled => {
                assert!(
                    journaled.is_none_or(|j| !j.present),
                    "{handle:#x} serves {value:?} instead of its own certificate"
                );
                let created = String::from_utf8(value.clone()).unwrap();
                assert!(
                    unconfirmed.contains(created.as_str()) && label == created,
                    "{handle:#x} holds {created} ({label}), which no create under way wrote"
                );
            }
        }
    }
    let temporary = std::fs::read_dir(token.certificates_dir())
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count();
    println!(
        "{killed} kills, {confirmed_creates} confirmed creates, {} certificates now, {temporary} temporary file(s) left (removed once a minute old)",
        found.len()
    );
}
