//! Fork safety (PKCS#11 3.0 §5.4: a child must call `C_Initialize` again):
//! `pthread_atfork` handlers that hold the provider's global lock across
//! `fork()`, so a child forked while another thread was looking the
//! provider up, initialising or finalising it never inherits that lock
//! taken by a thread that does not exist in the child.

use crate::provider;
use std::sync::Once;

static REGISTERED: Once = Once::new();

extern "C" fn prepare() {
    provider::prepare_fork();
}

extern "C" fn after() {
    provider::after_fork();
}

extern "C" fn after_in_child() {
    provider::forked_child();
    provider::after_fork();
}

/// Registers the handlers, once per process (the first `C_Initialize`).
/// The library is linked `-z nodelete` (build.rs): `dlclose` never unmaps
/// it, so handlers registered once stay valid for the process.
pub(super) fn register_handlers() {
    REGISTERED.call_once(|| {
        provider::forked_child();
        // SAFETY: the handlers are argument-less `extern "C"` functions of
        // this library that only take and release a lock (and, in the child,
        // store the new process ID to an atomic); pthread_atfork
        // copies the three pointers and has no other precondition.
        let rv = unsafe { libc::pthread_atfork(Some(prepare), Some(after), Some(after_in_child)) };
        if rv != 0 {
            provider::untrack_forks();
            tracing::warn!("pthread_atfork failed ({rv}): a fork while another thread is inside the library may deadlock the child");
        }
    });
}
