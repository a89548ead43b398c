//! The provider of this process: `C_Initialize` and `C_Finalize`, and
//! what a fork does to them.

use super::*;

struct Global {
    provider: Arc<Provider>,
    /// The process that initialised it: a forked child must initialise again.
    pid: u32,
}

/// The provider of this process. A `std` lock, not a `parking_lot` one:
/// [`prepare_fork`] holds it across `fork()`, and releasing it in the child
/// must not touch `parking_lot`'s global table of parked threads, whose
/// locks another parent thread may have held at the fork.
static GLOBAL: StdRwLock<Option<Global>> = StdRwLock::new(None);

fn read_global() -> std::sync::RwLockReadGuard<'static, Option<Global>> {
    GLOBAL
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write_global() -> std::sync::RwLockWriteGuard<'static, Option<Global>> {
    GLOBAL
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

thread_local! {
    /// The global lock, held by the forking thread from [`prepare_fork`]
    /// until [`after_fork`] (in the parent, and in the child's only thread).
    static HELD_ACROSS_FORK: std::cell::RefCell<Option<std::sync::RwLockWriteGuard<'static, Option<Global>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Before `fork()` (a `pthread_atfork` prepare handler): waits until no
/// other thread is inside `C_Initialize`, `C_Finalize` or a look-up of the
/// provider, and holds the global lock across the fork, so the child never
/// inherits it taken by a thread that does not exist there.
pub(crate) fn prepare_fork() {
    let guard = write_global();
    HELD_ACROSS_FORK.with(|held| *held.borrow_mut() = Some(guard));
}

/// After `fork()`, in the parent and in the child: releases what
/// [`prepare_fork`] took. The child's provider (inherited) stays unusable
/// until the child calls `C_Initialize`.
pub(crate) fn after_fork() {
    HELD_ACROSS_FORK.with(|held| drop(held.borrow_mut().take()));
}

/// This process's ID, kept current across `fork()` by [`forked_child`]
/// (which `ffi/` registers with `pthread_atfork` before the first
/// `C_Initialize`), so the check every call makes costs no `getpid`
/// system call. 0 until then.
static PROCESS_ID: AtomicU32 = AtomicU32::new(0);

/// Records this process's ID; the `pthread_atfork` child handler, and
/// called once before the first `C_Initialize`. Stores to an atomic only,
/// as a forked child's handler must.
pub(crate) extern "C" fn forked_child() {
    PROCESS_ID.store(std::process::id(), Ordering::Relaxed);
}

/// Forgets the recorded ID: every check asks the kernel again (when the
/// handler could not be registered).
pub(crate) fn untrack_forks() {
    PROCESS_ID.store(0, Ordering::Relaxed);
}

/// This process's ID (see [`PROCESS_ID`]).
fn current_process() -> u32 {
    match PROCESS_ID.load(Ordering::Relaxed) {
        0 => std::process::id(),
        pid => pid,
    }
}

/// The initialised provider, or `CKR_CRYPTOKI_NOT_INITIALIZED` (also in a
/// forked child that has not called `C_Initialize` yet).
pub(crate) fn provider() -> Result<Arc<Provider>> {
    match &*read_global() {
        Some(global) if global.pid == current_process() => Ok(global.provider.clone()),
        _ => Err(Error::NotInitialized),
    }
}

/// `C_Initialize`: loads the configuration and opens the device and the
/// certificate store. A second call fails with `CKR_CRYPTOKI_ALREADY_INITIALIZED`.
/// `may_create_threads` is false when the application forbids the library
/// to create threads.
pub(crate) fn initialize(may_create_threads: bool) -> Result<()> {
    let mut global = write_global();
    if let Some(existing) = global.take() {
        if existing.pid == current_process() {
            *global = Some(existing);
            return Err(Error::AlreadyInitialized);
        }
        // Inherited through fork(): its threads and database handles belong
        // to the parent, so it must neither be used nor dropped here.
        std::mem::forget(existing);
    }
    let provider = Provider::open(may_create_threads)?;
    *global = Some(Global {
        provider: Arc::new(provider),
        pid: current_process(),
    });
    Ok(())
}

/// `C_Finalize`: closes every session and releases everything.
pub(crate) fn finalize() -> Result<()> {
    let taken = write_global().take();
    match taken {
        Some(global) if global.pid == current_process() => {
            global.provider.close_all_sessions_internal();
            drop(global);
            Ok(())
        }
        Some(inherited) => {
            std::mem::forget(inherited);
            Err(Error::NotInitialized)
        }
        None => Err(Error::NotInitialized),
    }
}
