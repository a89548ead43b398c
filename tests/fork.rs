//! `fork()` (DESIGN.md decision 7): a forked child is not initialised until
//! it calls `C_Initialize` itself, and then works; the parent is unaffected.
//! Both signatures, the child's (sent back through a pipe) and the parent's
//! after the fork, are checked by openssl against the exported public key.
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

const WORKER_ENV: &str = "AZCLOUDHSM_ITEST_FORK";
const WORKER: &str = "worker_process_forks";
const CHILD_MESSAGE: &[u8] = b"from the child";
const PARENT_MESSAGE: &[u8] = b"parent still works";
/// The child's exit code when one of its steps returned an error.
const CHILD_STEP_FAILED: i32 = 1;
/// The child's exit code when it panicked.
const CHILD_PANICKED: i32 = 2;
/// The child's exit code when it could not send its signature.
const CHILD_PIPE_FAILED: i32 = 3;

/// What the child does, through the raw ABI: returns its signature of
/// [`CHILD_MESSAGE`]; `Err` names the step that failed.
fn child_steps() -> Result<Vec<u8>, String> {
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
    let signature = raw_sign(session, &mut mechanism, key, CHILD_MESSAGE)
        .map_err(|rv| format!("C_Sign: {}", rv_name(rv)))?;
    check("C_Finalize", ck!(C_Finalize(std::ptr::null_mut())))?;
    Ok(signature)
}

/// The child's whole life after the fork: its steps, a panic among them
/// caught, the signature written to `pipe_out`; never returns into the
/// harness.
fn run_child(pipe_out: i32) -> ! {
    let code = match std::panic::catch_unwind(child_steps) {
        Ok(Ok(signature)) => {
            if write_all(pipe_out, &signature) {
                0
            } else {
                CHILD_PIPE_FAILED
            }
        }
        Ok(Err(message)) => {
            eprintln!("forked child: {message}");
            CHILD_STEP_FAILED
        }
        Err(_) => CHILD_PANICKED,
    };
    // SAFETY: ends the child without running the parent's destructors or
    // the harness's exit path; closing `pipe_out` tells the parent we are done.
    unsafe { libc::_exit(code) }
}

fn write_all(fd: i32, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live slice of `bytes.len()` bytes.
        let written = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if written <= 0 {
            return false;
        }
        bytes = &bytes[written as usize..];
    }
    true
}

/// Everything readable from `fd` until the writer closes it.
fn read_to_end(fd: i32) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        // SAFETY: `buffer` is a live array of `buffer.len()` bytes.
        let count = unsafe { libc::read(fd, buffer.as_mut_ptr().cast(), buffer.len()) };
        assert!(count >= 0, "read from the child's pipe failed");
        if count == 0 {
            return bytes;
        }
        bytes.extend_from_slice(&buffer[..count as usize]);
    }
}

fn assert_rsa_signature_verifies(
    public_key: &openssl::pkey::PKey<openssl::pkey::Public>,
    message: &[u8],
    signature: &[u8],
    whose: &str,
) {
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), public_key).unwrap();
    verifier.update(message).unwrap();
    assert!(
        verifier.verify(signature).unwrap_or(false),
        "openssl rejects the {whose}'s signature of {:?} ({} bytes)",
        String::from_utf8_lossy(message),
        signature.len()
    );
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
    let public_key = openssl_public_key(&session, pair.public);
    let mut fds = [0i32; 2];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe failed");
    let [pipe_in, pipe_out] = fds;
    // SAFETY: fork in a process running this one test; the child only calls
    // the library and exits with _exit, never returning into the harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: the child's copy of the read end, which it does not use.
        unsafe { libc::close(pipe_in) };
        run_child(pipe_out);
    }
    // SAFETY: the parent's copy of the write end, closed so that reading
    // ends when the child exits.
    unsafe { libc::close(pipe_out) };
    let child_signature = read_to_end(pipe_in);
    // SAFETY: the read end, no longer used.
    unsafe { libc::close(pipe_in) };
    let mut status = 0;
    // SAFETY: waits for the child just forked.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child failed (wait status {status:#x}; exit code {CHILD_STEP_FAILED}: a step \
         failed, {CHILD_PANICKED}: it panicked, {CHILD_PIPE_FAILED}: the pipe failed)"
    );
    assert_rsa_signature_verifies(&public_key, CHILD_MESSAGE, &child_signature, "child");
    let found = find(
        &session,
        &[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(b"forked".to_vec()),
        ],
    );
    assert_eq!(found, vec![pair.private], "the parent still finds its key");
    let parent_signature = session
        .sign(&Mechanism::Sha256RsaPkcs, found[0], PARENT_MESSAGE)
        .expect("the parent's provider after the fork");
    assert_rsa_signature_verifies(&public_key, PARENT_MESSAGE, &parent_signature, "parent");
}
