//! A call that must return: run on a thread of its own and waited for with
//! a generous limit, so a hang fails the test instead of stalling CI. How
//! long such calls take is measured in the benches, never asserted in tests.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How many times its configured bound a call may run before a test calls
/// it hung: generous, so a slow or busy machine is never a failure.
pub const WATCHDOG_FACTOR: u32 = 10;

/// Runs `call` on a thread of its own and returns what it returned. Panics,
/// naming `what`, when `call` panicked or has not returned within `limit`
/// (the thread is then left behind).
pub fn within_watchdog<T: Send + 'static>(
    what: &str,
    limit: Duration,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        // The receiver is gone only when the watchdog has already fired.
        let _ = sender.send(call());
    });
    match receiver.recv_timeout(limit) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} has not returned after {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}
