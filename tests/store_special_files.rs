//! Files named like certificate blobs that are not blobs, in the local
//! store: a FIFO, a symbolic link (to a FIFO outside the store), a
//! directory, and a 1 TB sparse file. None of them may block a call, be
//! followed, or abort the host process; each is left out of searches and
//! logged, and the real certificate beside them is still found.
//!
//! Each scenario runs on a thread the test waits for with a generous
//! watchdog (60 s against calls that take milliseconds): a hang fails the
//! test instead of freezing the suite.

mod common;

use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(60);

/// Runs `scenario` on its own thread; fails if it has not finished within
/// [`WATCHDOG`], and passes its panic on.
fn within_watchdog(scenario: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        scenario();
        let _ = done.send(());
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) => worker.join().expect("the scenario's thread"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(worker.join().expect_err("the scenario panicked"))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("the calls did not return within {WATCHDOG:?}: a file in the store blocked them")
        }
    }
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The handles of the planted files, after the real certificate `good`.
fn plant_special_files(token: &TestToken, good: u64) -> Vec<(u64, &'static str)> {
    let dir = token.certificates_dir();
    let planted = vec![
        (good + 1, "a FIFO"),
        (good + 2, "a symbolic link to a FIFO outside the store"),
        (good + 3, "a directory"),
        (good + 4, "a 1 TB sparse file"),
    ];
    mkfifo(&dir.join(blob_name(good + 1)));
    let outside = token.root().join("outside-fifo");
    mkfifo(&outside);
    std::os::unix::fs::symlink(&outside, dir.join(blob_name(good + 2))).unwrap();
    std::fs::create_dir(dir.join(blob_name(good + 3))).unwrap();
    let sparse = std::fs::File::create(dir.join(blob_name(good + 4))).unwrap();
    sparse.set_len(1 << 40).unwrap();
    planted
}

/// An object handle received as a number.
fn object_handle(handle: u64) -> ObjectHandle {
    // SAFETY: an ObjectHandle is a plain number; the provider checks it on use.
    unsafe { ObjectHandle::new_from_raw(handle) }
}

fn handles(objects: &[ObjectHandle]) -> Vec<u64> {
    objects.iter().map(|h| h.handle()).collect()
}

fn assert_left_out(token: &TestToken, good: u64, planted: &[(u64, &str)]) {
    let session = token.user_session();
    let everything = handles(&find(&session, &[]));
    assert!(
        everything.contains(&good),
        "a class-less search finds the real certificate: {everything:x?}"
    );
    let certificates = handles(&find(
        &session,
        &[Attribute::Class(ObjectClass::CERTIFICATE)],
    ));
    assert_eq!(certificates, vec![good], "only the real certificate is one");
    assert_eq!(
        handles(&find(&session, &label_search("good"))),
        vec![good],
        "a search by label finds it"
    );
    for (handle, what) in planted {
        assert!(
            !everything.contains(handle),
            "{what} was listed as an object"
        );
        let read = session.get_attributes(object_handle(*handle), &[AttributeType::Label]);
        assert!(
            matches!(read, Err(Error::Pkcs11(RvError::ObjectHandleInvalid, _))),
            "{what}: C_GetAttributeValue gave {read:?}"
        );
    }
    let value = session
        .get_attributes(object_handle(good), &[AttributeType::Value])
        .unwrap();
    assert_eq!(value, vec![Attribute::Value(b"good value".to_vec())]);
}

#[test]
fn special_files_named_like_blobs_never_block_and_are_left_out_of_searches() {
    within_watchdog(|| {
        let mut token = TestToken::new();
        let good = token
            .user_session()
            .create_object(&certificate_template("good", b"good value"))
            .unwrap()
            .handle();
        let planted = plant_special_files(&token, good);
        // Seen by a running provider's next search, then by a cold start.
        assert_left_out(&token, good, &planted);
        token.reinitialize();
        assert_left_out(&token, good, &planted);
        let log = token.log_text();
        for (handle, what) in &planted {
            assert!(
                log.lines()
                    .any(|line| line.contains(&blob_name(*handle)) && line.contains("unreadable")),
                "{what} ({}) is named in a log line:\n{log}",
                blob_name(*handle)
            );
        }
    });
}

#[test]
fn creating_certificates_passes_over_handles_taken_by_special_files() {
    within_watchdog(|| {
        let token = TestToken::new();
        let session = token.user_session();
        let first = session
            .create_object(&certificate_template("first", b"first value"))
            .unwrap()
            .handle();
        plant_special_files(&token, first);
        let next = session
            .create_object(&certificate_template("next", b"next value"))
            .unwrap()
            .handle();
        assert!(
            next > first + 4,
            "the new certificate took handle {next:#x}, one of the planted names"
        );
        let value = session
            .get_attributes(object_handle(next), &[AttributeType::Value])
            .unwrap();
        assert_eq!(value, vec![Attribute::Value(b"next value".to_vec())]);
    });
}
