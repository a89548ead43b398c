//! `fork()` (DESIGN.md decision 7): a forked child is not initialised until
//! it calls `C_Initialize` itself, and then works; the parent is unaffected.
//!
//! The fork happens in a worker process running only that worker (so no
//! other test thread is forked mid-flight); the worker is `#[ignore]`d and
//! fails without its environment: never run this binary with
//! `--include-ignored`.

#[macro_use]
mod common;

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki_sys::*;

extern "C" {
    fn fork() -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn _exit(code: i32) -> !;
}

const WORKER_ENV: &str = "AZCLOUDHSM_ITEST_FORK";
const WORKER: &str = "worker_process_forks";

/// What the child does, through the raw ABI; `Err` names the step that failed.
fn child_steps() -> Result<(), String> {
    let mut info = CK_INFO::default();
    let rv = ck!(C_GetInfo(&mut info));
    if rv != CKR_CRYPTOKI_NOT_INITIALIZED {
        return Err(format!(
            "C_GetInfo before C_Initialize in the child: {}",
            rv_name(rv)
        ));
    }
    let check = |step: &str, rv: CK_RV| {
        if rv == CKR_OK {
            Ok(())
        } else {
            Err(format!("{step}: {}", rv_name(rv)))
        }
    };
    check("C_Initialize", ck!(C_Initialize(std::ptr::null_mut())))?;
    let mut session: CK_SESSION_HANDLE = 0;
    check(
        "C_OpenSession",
        ck!(C_OpenSession(
            SLOT_ID,
            CKF_SERIAL_SESSION | CKF_RW_SESSION,
            std::ptr::null_mut(),
            None,
            &mut session
        )),
    )?;
    let mut pin = USER_PIN.as_bytes().to_vec();
    check(
        "C_Login",
        ck!(C_Login(
            session,
            CKU_USER,
            pin.as_mut_ptr(),
            pin.len() as CK_ULONG
        )),
    )?;
    let mut class = CKO_PRIVATE_KEY.to_ne_bytes();
    let mut label = *b"forked";
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_LABEL, &mut label),
    ];
    check(
        "C_FindObjectsInit",
        ck!(C_FindObjectsInit(session, template.as_mut_ptr(), 2)),
    )?;
    let mut key: CK_OBJECT_HANDLE = 0;
    let mut count: CK_ULONG = 0;
    check(
        "C_FindObjects",
        ck!(C_FindObjects(session, &mut key, 1, &mut count)),
    )?;
    check("C_FindObjectsFinal", ck!(C_FindObjectsFinal(session)))?;
    if count != 1 {
        return Err(format!("the parent's key: found {count}"));
    }
    let mut mechanism = raw_mechanism(CKM_SHA256_RSA_PKCS);
    raw_sign(session, &mut mechanism, key, b"from the child")
        .map_err(|rv| format!("C_Sign: {}", rv_name(rv)))?;
    check("C_Finalize", ck!(C_Finalize(std::ptr::null_mut())))
}

#[test]
fn forked_child_works_after_initializing_again() {
    run_worker(WORKER, &[(WORKER_ENV, "1".to_string())], WORKER_LIMIT);
}

#[test]
#[ignore = "worker of forked_child_works_after_initializing_again"]
fn worker_process_forks() {
    worker_env(WORKER_ENV);
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, true, b"forked");
    session
        .update_attributes(pair.private, &[Attribute::Label(b"forked".to_vec())])
        .unwrap();
    // SAFETY: fork in a process running this one test; the child only calls
    // the library and exits with _exit, never returning into the harness.
    let pid = unsafe { fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match child_steps() {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("forked child: {message}");
                1
            }
        };
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { _exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    let waited = unsafe { waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert_eq!(
        status, 0,
        "the forked child failed (wait status {status:#x})"
    );
    let found = find(
        &session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"forked".to_vec()),
        ],
    );
    assert_eq!(found.len(), 1);
    session
        .sign(&Mechanism::Sha256RsaPkcs, found[0], b"parent still works")
        .expect("the parent's provider after the fork");
}
