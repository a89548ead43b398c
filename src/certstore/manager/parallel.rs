//! Spreading independent per-blob work (reading, hashing, decoding) over a
//! few scoped threads, for start-up over a large store.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Items handed out at a time; below this many items in all, the work runs
/// on the calling thread, as starting a thread costs more than it saves.
const BLOCK: usize = 256;

/// `work` applied to every item, in the items' order, on at most `threads`
/// threads, the calling thread being one of them (so 0 or 1 creates none,
/// and neither does little work). Threads are scoped: none outlives the
/// call. Blocks of items are handed out one at a time rather than split up
/// front, so a thread the scheduler delays on a busy machine holds up
/// nothing but its current block.
pub(crate) fn map_in_order<T, R, F>(items: &[T], threads: usize, work: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = threads.min(items.len() / BLOCK).max(1);
    if threads == 1 {
        return items.iter().map(&work).collect();
    }
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        loop {
            let block = next.fetch_add(1, Ordering::Relaxed);
            let start = block.saturating_mul(BLOCK);
            if start >= items.len() {
                return done;
            }
            let part = &items[start..items.len().min(start + BLOCK)];
            done.push((block, part.iter().map(&work).collect::<Vec<R>>()));
        }
    };
    let mut blocks = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(run)).collect();
        let mut blocks = run();
        for helper in helpers {
            match helper.join() {
                Ok(part) => blocks.extend(part),
                // A panic in `work` is a bug; carry it to the caller's thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        blocks
    });
    blocks.sort_unstable_by_key(|(block, _)| *block);
    blocks.into_iter().flat_map(|(_, part)| part).collect()
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
