//! Several threads and several `Certificates` over one directory (standing
//! in for several processes) creating certificates at once.

use super::*;
use crate::certstore::jws::BlobVerifier;
use crate::certstore::{blob_name, handles::handle_of_blob};
use std::collections::BTreeSet;

#[test]
fn concurrent_creators_get_distinct_handles_and_verifying_blobs() {
    const PER_THREAD: usize = 150;
    let fixture = Fixture::new();
    let processes = [fixture.reopen(), fixture.reopen()];
    let handles: Vec<Handle> = std::thread::scope(|scope| {
        let workers: Vec<_> = processes
            .iter()
            .flat_map(|certificates| [certificates, certificates])
            .enumerate()
            .map(|(worker, certificates)| {
                scope.spawn(move || {
                    (0..PER_THREAD)
                        .map(|i| {
                            let template = reference_template(true, &format!("w{worker}-{i}"));
                            certificates
                                .create(
                                    &Access {
                                        session: worker as CK_SESSION_HANDLE + 1,
                                        ..user()
                                    },
                                    &template,
                                )
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let distinct: BTreeSet<Handle> = handles.iter().copied().collect();
    assert_eq!(distinct.len(), 4 * PER_THREAD, "600 distinct handles");
    assert!(distinct
        .iter()
        .all(|h| crate::object::is_certificate_handle(*h)));

    let verifier = BlobVerifier::new(fixture.device.key().as_ref()).unwrap();
    let mut on_disk = BTreeSet::new();
    for entry in std::fs::read_dir(fixture.dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let Some(handle) = handle_of_blob(&name) else {
            continue;
        };
        let content = std::fs::read(fixture.dir.path().join(blob_name(handle))).unwrap();
        verifier
            .verify_blob(handle, &content)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        on_disk.insert(handle);
    }
    assert_eq!(on_disk, distinct, "600 verifying blobs, one per handle");
    let leftovers = std::fs::read_dir(fixture.dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count();
    assert_eq!(leftovers, 0, "no temporary file is left behind");
    assert_eq!(
        fixture.certificates.find(&public(), &[]).unwrap(),
        distinct.into_iter().collect::<Vec<_>>()
    );
}

#[test]
fn concurrent_updates_of_one_certificate_are_all_applied() {
    let fixture = Fixture::new();
    let handle = fixture
        .certificates
        .create(&user(), &reference_template(true, "x"))
        .unwrap();
    let processes = [fixture.reopen(), fixture.reopen()];
    let kinds = [CKA_LABEL, CKA_URL];
    // Each "process" changes its own attribute 20 times; a conflict is
    // re-applied on the newer version inside set_attributes, so neither
    // overwrites the other's change.
    let last_succeeded: Vec<bool> = std::thread::scope(|scope| {
        let workers: Vec<_> = processes
            .iter()
            .zip(kinds)
            .enumerate()
            .map(|(i, (certificates, kind))| {
                scope.spawn(move || {
                    let mut ok = false;
                    for round in 0..20 {
                        let text = format!("p{i}-{round}");
                        ok = match certificates.set_attributes(
                            &user(),
                            handle,
                            &[bytes(kind, text.as_bytes())],
                        ) {
                            Ok(()) => true,
                            // Losing more than three races in a row is reported, never hidden.
                            Err(Error::FunctionFailed(_)) => false,
                            Err(other) => panic!("{other}"),
                        };
                    }
                    ok
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let reopened = fixture.reopen();
    for (i, kind) in kinds.into_iter().enumerate() {
        if last_succeeded[i] {
            assert_eq!(
                value_of(&reopened, &public(), handle, kind),
                format!("p{i}-19").into_bytes()
            );
        }
    }
    assert_eq!(
        value_of(&reopened, &public(), handle, CKA_ID),
        vec![123],
        "the blob still verifies"
    );
}

#[test]
#[ignore]
fn timing_of_searches_over_many_certificates() {
    let fixture = Fixture::new();
    let started = std::time::Instant::now();
    // CERTIFICATE_COUNT=10000 for a bigger run.
    let count: usize = std::env::var("CERTIFICATE_COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    for i in 0..count {
        fixture
            .certificates
            .create(&user(), &reference_template(true, &format!("label-{i}")))
            .unwrap();
    }
    eprintln!("create {count}: {:?}", started.elapsed());
    let reader = fixture.reopen();
    let label = [bytes(CKA_LABEL, b"label-123")];
    let started = std::time::Instant::now();
    assert_eq!(reader.find(&public(), &label).unwrap().len(), 1);
    eprintln!("cold search: {:?}", started.elapsed());
    let started = std::time::Instant::now();
    assert_eq!(reader.find(&public(), &label).unwrap().len(), 1);
    eprintln!("warm search, freshness 0: {:?}", started.elapsed());
    reader.set_freshness(std::time::Duration::from_secs(60));
    let started = std::time::Instant::now();
    assert_eq!(reader.find(&public(), &label).unwrap().len(), 1);
    eprintln!("warm search, fresh index: {:?}", started.elapsed());
}
