//! `fork()` while other threads are inside the library: three threads call
//! `C_GetInfo`, `C_Sign` and a failing call that writes a log line, in a
//! loop, while the main thread forks 200 children. Each child calls
//! `C_Initialize`, logs in, signs and exits; a child that does not exit
//! within its watchdog is a deadlock inherited from a lock some parent
//! thread held at the moment of the fork.
//!
//! Runs in a worker process (only that worker, so no other test thread is
//! forked); never run this binary with `--include-ignored`.

#[macro_use]
mod common;

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki_sys::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const WORKER_ENV: &str = "AZCLOUDHSM_ITEST_FORK_LOAD";
const WORKER: &str = "worker_process_forks_while_threads_call_the_library";
const CHILDREN: usize = 200;
/// A child needs milliseconds; this is for a deadlock, not for speed.
const CHILD_WATCHDOG: Duration = Duration::from_secs(20);
const LABEL: &[u8] = b"fork-load";

/// The child, through the raw ABI; the exit code names the failed step.
fn child() -> i32 {
    if ck!(C_Initialize(std::ptr::null_mut())) != CKR_OK {
        return 10;
    }
    let mut session: CK_SESSION_HANDLE = 0;
    let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    if ck!(C_OpenSession(
        SLOT_ID,
        flags,
        std::ptr::null_mut(),
        None,
        &mut session
    )) != CKR_OK
    {
        return 11;
    }
    let mut pin = USER_PIN.as_bytes().to_vec();
    if ck!(C_Login(
        session,
        CKU_USER,
        pin.as_mut_ptr(),
        pin.len() as CK_ULONG
    )) != CKR_OK
    {
        return 12;
    }
    let mut label = LABEL.to_vec();
    let mut class = CKO_PRIVATE_KEY.to_ne_bytes();
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_LABEL, &mut label),
    ];
    if ck!(C_FindObjectsInit(session, template.as_mut_ptr(), 2)) != CKR_OK {
        return 13;
    }
    let mut key: CK_OBJECT_HANDLE = 0;
    let mut count: CK_ULONG = 0;
    if ck!(C_FindObjects(session, &mut key, 1, &mut count)) != CKR_OK || count != 1 {
        return 14;
    }
    if ck!(C_FindObjectsFinal(session)) != CKR_OK {
        return 15;
    }
    let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
    match raw_sign(session, &mut mechanism, key, b"forked under load") {
        Ok(signature) if signature.len() == 256 => {}
        _ => return 16,
    }
    if ck!(C_Finalize(std::ptr::null_mut())) != CKR_OK {
        return 17;
    }
    0
}

/// Waits for `pid` up to [`CHILD_WATCHDOG`]; kills it after that.
fn wait_child(pid: libc::pid_t) -> Result<i32, String> {
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: polls the child just forked; `status` is a valid out pointer.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            return if libc::WIFEXITED(status) {
                Ok(libc::WEXITSTATUS(status))
            } else {
                Err(format!("killed by signal {}", libc::WTERMSIG(status)))
            };
        }
        assert!(done == 0, "waitpid failed");
        if started.elapsed() > CHILD_WATCHDOG {
            // SAFETY: kills and reaps the hung child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!(
                "did not exit within {CHILD_WATCHDOG:?}: deadlocked"
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn children_forked_while_threads_call_the_library_initialise_sign_and_exit() {
    run_worker(WORKER, &[(WORKER_ENV, "1".to_string())], WORKER_LIMIT);
}

#[test]
#[ignore = "worker of children_forked_while_threads_call_the_library_initialise_sign_and_exit"]
fn worker_process_forks_while_threads_call_the_library() {
    worker_env(WORKER_ENV);
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, true, LABEL);
    session
        .update_attributes(pair.private, &[Attribute::Label(LABEL.to_vec())])
        .unwrap();
    let stop = AtomicBool::new(false);
    let calls = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for kind in 0..3 {
            let (stop, calls, token) = (&stop, &calls, &token);
            scope.spawn(move || {
                let session = token.user_session();
                while !stop.load(Ordering::Relaxed) {
                    match kind {
                        0 => {
                            let mut info = CK_INFO::default();
                            assert_eq!(ck!(C_GetInfo(&mut info)), CKR_OK);
                        }
                        1 => {
                            let signature = session
                                .sign(&Mechanism::Sha256RsaPkcs, pair.private, b"parent")
                                .unwrap();
                            assert_eq!(signature.len(), 256);
                        }
                        // Refused, and logged: the log writer is busy too.
                        _ => {
                            assert_eq!(ck!(C_CloseSession(0xdead_beef)), CKR_SESSION_HANDLE_INVALID)
                        }
                    }
                    calls.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let mut failures = Vec::new();
        for index in 0..CHILDREN {
            // SAFETY: the child runs only `child`, then _exit, never
            // returning into the harness or its other threads' state.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                let code = std::panic::catch_unwind(child).unwrap_or(2);
                // SAFETY: ends the child without the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            match wait_child(pid) {
                Ok(0) => {}
                Ok(code) => failures.push(format!("child {index}: exit code {code}")),
                Err(why) => failures.push(format!("child {index}: {why}")),
            }
            // One failure is enough to report, and a deadlock costs a watchdog.
            if !failures.is_empty() {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(failures.is_empty(), "{failures:#?}");
    });
    assert!(
        calls.load(Ordering::Relaxed) > CHILDREN as u64,
        "the parent's threads barely ran: the forks did not happen under load"
    );
    println!(
        "{CHILDREN} children, {} parent calls",
        calls.load(Ordering::Relaxed)
    );
}
