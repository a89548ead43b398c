//! Group commit of the store directory's syncs. A create, update or
//! destroy is durable once a sync of the directory that began after its
//! link, rename or unlink has ended. Writers that finish at the same time
//! share one: while a sync runs, those who arrive wait for it to end, and
//! the first of them then runs the next one for all of them. No lock is
//! held while the directory is synced.

use parking_lot::{Condvar, Mutex};

#[derive(Debug, Default)]
pub(super) struct GroupSync {
    state: Mutex<State>,
    ended: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Generations of syncs begun and ended; one runs while they differ.
    begun: u64,
    ended: u64,
    /// The last generation whose sync failed, and how.
    failed: Option<(u64, Failure)>,
}

/// A sync's error, to give again to each writer it was to cover.
#[derive(Debug, Clone)]
struct Failure {
    code: Option<i32>,
    kind: std::io::ErrorKind,
    text: String,
}

impl Failure {
    fn of(error: &std::io::Error) -> Self {
        Failure {
            code: error.raw_os_error(),
            kind: error.kind(),
            text: error.to_string(),
        }
    }
    fn error(&self) -> std::io::Error {
        match self.code {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::new(self.kind, self.text.clone()),
        }
    }
}

impl GroupSync {
    /// Returns once a run of `sync` that began after this call did has
    /// ended: this thread's, or another's. The error of a failed run is
    /// given to every writer it was to cover.
    pub(super) fn sync(&self, sync: impl Fn() -> std::io::Result<()>) -> std::io::Result<()> {
        let mut state = self.state.lock();
        // A run already going may have begun before this writer's change.
        let needed = state.begun + 1;
        loop {
            if state.ended >= needed {
                return match &state.failed {
                    Some((generation, failure)) if *generation >= needed => Err(failure.error()),
                    _ => Ok(()),
                };
            }
            if state.begun == state.ended {
                state.begun += 1;
                let generation = state.begun;
                drop(state);
                let result = sync();
                state = self.state.lock();
                state.ended = generation;
                if let Err(error) = &result {
                    state.failed = Some((generation, Failure::of(error)));
                }
                self.ended.notify_all();
            } else {
                self.ended.wait(&mut state);
            }
        }
    }

    /// Syncs run so far.
    #[cfg(test)]
    pub(super) fn runs(&self) -> u64 {
        self.state.lock().ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn one_writer_runs_one_sync_per_call() {
        let group = GroupSync::default();
        let runs = AtomicUsize::new(0);
        for _ in 0..3 {
            group
                .sync(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                })
                .unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(group.runs(), 3);
    }

    #[test]
    fn every_writer_is_covered_by_a_sync_begun_after_it_arrived_and_writers_share_them() {
        const WRITERS: u64 = 8;
        const CALLS: u64 = 25;
        let group = Arc::new(GroupSync::default());
        // The number of writers that have arrived; each sync notes how
        // many had arrived when it began.
        let arrived = Arc::new(AtomicU64::new(0));
        let covered_up_to = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (group, arrived, covered) =
                    (group.clone(), arrived.clone(), covered_up_to.clone());
                std::thread::spawn(move || {
                    for _ in 0..CALLS {
                        let me = arrived.fetch_add(1, Ordering::SeqCst) + 1;
                        group
                            .sync(|| {
                                let seen = arrived.load(Ordering::SeqCst);
                                std::thread::sleep(Duration::from_millis(2));
                                covered.fetch_max(seen, Ordering::SeqCst);
                                Ok(())
                            })
                            .unwrap();
                        assert!(
                            covered.load(Ordering::SeqCst) >= me,
                            "writer {me} returned before a sync that began after it"
                        );
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let runs = group.runs();
        assert!(runs >= 1);
        assert!(
            runs < WRITERS * CALLS,
            "{runs} syncs for {} writes: none shared",
            WRITERS * CALLS
        );
    }

    #[test]
    fn a_failed_sync_fails_the_writers_it_was_to_cover_and_the_next_one_runs_again() {
        let group = GroupSync::default();
        let error = group
            .sync(|| Err(std::io::Error::from_raw_os_error(28)))
            .unwrap_err();
        assert_eq!(
            error.raw_os_error(),
            Some(28),
            "ENOSPC, as the sync gave it"
        );
        let error = group
            .sync(|| Err(std::io::Error::other("disk gone")))
            .unwrap_err();
        assert_eq!(error.to_string(), "disk gone");
        group.sync(|| Ok(())).expect("a later writer's own sync");
    }
}
