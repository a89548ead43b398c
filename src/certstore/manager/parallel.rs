//! Spreading independent per-blob work (reading, hashing, decoding) over a
//! few scoped threads, for start-up over a large store.

/// Below this many items the work runs on the calling thread: starting a
/// thread costs more than it saves.
const MINIMUM_PER_THREAD: usize = 256;

/// `work` applied to every item, in the items' order, on at most `threads`
/// threads (the calling thread when `threads` is 0 or 1, or when there is
/// little work). Threads are scoped: none outlives the call.
pub(crate) fn map_in_order<T, R, F>(items: &[T], threads: usize, work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads.min(items.len() / MINIMUM_PER_THREAD).max(1);
    if threads == 1 {
        return items.iter().map(&work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(work).collect::<Vec<R>>()))
            .collect();
        let mut results = Vec::with_capacity(items.len());
        for worker in workers {
            match worker.join() {
                Ok(part) => results.extend(part),
                // A panic in `work` is a bug; carry it to the caller's thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::map_in_order;

    #[test]
    fn results_keep_the_order_of_the_items_whatever_the_thread_count() {
        let items: Vec<u32> = (0..10_000).collect();
        let expected: Vec<u64> = items.iter().map(|i| u64::from(*i) * 3).collect();
        for threads in [0, 1, 2, 3, 8] {
            assert_eq!(
                map_in_order(&items, threads, |i| u64::from(*i) * 3),
                expected
            );
        }
    }
}
