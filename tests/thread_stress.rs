//! Sixteen threads for a minute (`AZCLOUDHSM_STRESS_SECONDS`, default 60)
//! through the raw C ABI: each opens and closes sessions, logs in and out,
//! signs, searches, creates and destroys token certificates, and thread 0
//! also calls `C_Finalize` and `C_Initialize` at random moments. No call
//! may crash, hang or return a code the situation does not explain, and
//! afterwards every certificate whose create returned `CKR_OK` (and that
//! was not destroyed) is in the store, no handle served two certificates,
//! and every blob verifies.
//!
//! A call is judged strictly (its one right answer) when nothing could
//! have disturbed it: no `C_Finalize` and no `C_Logout` began or ended
//! since its thread last saw its session and login valid, nor during the
//! call. A disturbing thread bumps a counter to odd before the call and to
//! even after it, so a reader knows whether one overlapped. Otherwise the
//! call raced one, and only the codes of [`RACE`] may stand in for its
//! answer.

#[macro_use]
mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki_sys::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const THREADS: usize = 16;
const SECONDS_ENV: &str = "AZCLOUDHSM_STRESS_SECONDS";
/// A thread that makes no progress this long is deadlocked.
const STUCK_AFTER: Duration = Duration::from_secs(60);
/// The certificates each thread keeps at most (every search lists them all).
const CERTIFICATES_PER_THREAD: usize = 4;
const KEY_ID: &[u8] = b"stress";

/// The codes a call may get instead of its answer when it raced a
/// `C_Finalize` or a `C_Logout` of another thread. PKCS#11 3.0 §5.4.2 says
/// the behaviour of `C_Finalize` while other threads make calls is
/// "undefined"; this library promises every such call one of the codes the
/// specification defines for the state the call found:
/// - `CKR_CRYPTOKI_NOT_INITIALIZED`: the library was finalised (§5.1.6);
/// - `CKR_SESSION_HANDLE_INVALID`: `C_Finalize` closed the session (§5.1.2,
///   "invalid at the time that the function was invoked"), or it was opened
///   by the provider just finalised;
/// - `CKR_SESSION_CLOSED`: "the session was closed during the execution of
///   the function" (§5.1.2);
/// - `CKR_USER_NOT_LOGGED_IN`: the logout (or the finalisation) left nobody
///   logged in (§5.1.6);
/// - `CKR_OPERATION_NOT_INITIALIZED`: an operation the logout or the
///   finalisation ended: after `C_Logout` "it may or may not be the case
///   that those operations are still active" (§5.6.9);
/// - `CKR_KEY_HANDLE_INVALID`, `CKR_OBJECT_HANDLE_INVALID`: after `C_Logout`
///   "any of the application's handles to private objects become invalid"
///   (§5.6.9).
///
/// Nothing else: no `CKR_GENERAL_ERROR`, `CKR_DEVICE_ERROR`,
/// `CKR_FUNCTION_FAILED`.
const RACE: &[CK_RV] = &[
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_CLOSED,
    CKR_USER_NOT_LOGGED_IN,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_KEY_HANDLE_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
];

fn run_for() -> Duration {
    let seconds = std::env::var(SECONDS_ENV)
        .ok()
        .map(|text| {
            text.parse::<f64>()
                .unwrap_or_else(|_| panic!("{SECONDS_ENV}={text} is not a number of seconds"))
        })
        .unwrap_or(60.0);
    Duration::from_secs_f64(seconds)
}

fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes).unwrap();
    u64::from_le_bytes(bytes) % bound.max(1)
}

/// What one call saw: its return value and the two disturbance counters
/// before and after it.
#[derive(Clone, Copy)]
struct Call {
    rv: CK_RV,
    finalizes: (u64, u64),
    logouts: (u64, u64),
}

impl Call {
    /// No finalisation began, ran or ended during the call.
    fn no_finalize(&self) -> bool {
        self.finalizes.0 == self.finalizes.1 && self.finalizes.0.is_multiple_of(2)
    }
    /// No logout began, ran or ended during the call.
    fn no_logout(&self) -> bool {
        self.logouts.0 == self.logouts.1 && no_logout_running(self.logouts.0)
    }
}

/// The logout counter counts beginnings in its high half and ends in its
/// low half: logouts of several threads overlap, so one counter that each
/// logout moved twice could be even while two were running.
const LOGOUT_BEGINS: u64 = 1 << 32;
const LOGOUT_ENDS: u64 = 1;

/// The logouts that began and that ended, from the counter.
fn logout_counts(logouts: u64) -> (u64, u64) {
    (
        logouts / LOGOUT_BEGINS,
        logouts % LOGOUT_BEGINS / LOGOUT_ENDS,
    )
}

fn no_logout_running(logouts: u64) -> bool {
    let (begun, ended) = logout_counts(logouts);
    begun == ended
}

/// A certificate a thread created.
#[derive(Clone)]
struct Certificate {
    handle: CK_OBJECT_HANDLE,
    label: String,
    /// A destroy of it failed after racing a finalisation: it may be gone.
    maybe_gone: bool,
    /// Its create raced a finalisation or a logout (for failure messages).
    raced: bool,
}

/// What every create that returned `CKR_OK` gave, and its fate.
#[derive(Default)]
struct Ledger {
    /// handle -> (label, destroyed)
    created: BTreeMap<CK_OBJECT_HANDLE, (String, bool)>,
    /// Labels of creates that failed: such a certificate must not exist.
    failed: BTreeSet<String>,
    /// Certificates whose destroy may or may not have happened.
    maybe_gone: BTreeSet<CK_OBJECT_HANDLE>,
}

struct Shared {
    finalizes: AtomicU64,
    logouts: AtomicU64,
    stop: AtomicBool,
    started: Instant,
    failures: Mutex<Vec<String>>,
    ledger: Mutex<Ledger>,
    /// Calls answered per operation, and race codes seen, for the report.
    counts: Mutex<BTreeMap<String, u64>>,
    /// Per thread: milliseconds since `started` at its last finished call,
    /// and the call it is in.
    heartbeats: Vec<AtomicU64>,
    doing: Vec<Mutex<&'static str>>,
    public_key: openssl::pkey::PKey<openssl::pkey::Public>,
    certificates_dir: std::path::PathBuf,
    /// Logouts and finalisations with their times, for failure messages.
    events: Mutex<std::collections::VecDeque<String>>,
}

impl Shared {
    fn fail(&self, message: String) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 100 {
            failures.push(message);
        }
    }
    fn count(&self, what: String) {
        *self.counts.lock().unwrap().entry(what).or_default() += 1;
    }
    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
    fn event(&self, what: String) {
        let mut events = self.events.lock().unwrap();
        if events.len() == 16 {
            events.pop_front();
        }
        events.push_back(format!("{what} at {} ms", self.elapsed_ms()));
    }
}

/// One thread's view: its session and the moment (finalisation counter)
/// it opened it, whether it knows itself logged in since which counters,
/// the signing key's handle, and its certificates.
struct Worker {
    index: usize,
    shared: Arc<Shared>,
    session: Option<(CK_SESSION_HANDLE, Option<u64>)>,
    logged_in_since: Option<(u64, u64)>,
    key: Option<CK_OBJECT_HANDLE>,
    certificates: Vec<Certificate>,
    created: u64,
    next_finalize: Option<Instant>,
    /// The last calls, for a failure message.
    trace: std::collections::VecDeque<String>,
}

impl Worker {
    /// Makes a call, noting the counters around it.
    fn call(&mut self, what: &'static str, f: impl FnOnce() -> CK_RV) -> Call {
        *self.shared.doing[self.index].lock().unwrap() = what;
        let before = (
            self.shared.finalizes.load(SeqCst),
            self.shared.logouts.load(SeqCst),
        );
        let rv = f();
        let after = (
            self.shared.finalizes.load(SeqCst),
            self.shared.logouts.load(SeqCst),
        );
        self.shared.heartbeats[self.index].store(self.shared.elapsed_ms(), SeqCst);
        if self.trace.len() == 24 {
            self.trace.pop_front();
        }
        let show = |(finalizes, logouts): (u64, u64)| {
            let (begun, ended) = logout_counts(logouts);
            format!("({finalizes}, {begun}/{ended})")
        };
        self.trace.push_back(format!(
            "{what} {} {}->{} at {} ms",
            rv_name(rv),
            show(before),
            show(after),
            self.shared.elapsed_ms()
        ));
        Call {
            rv,
            finalizes: (before.0, after.0),
            logouts: (before.1, after.1),
        }
    }

    /// The session was valid when the call began and nothing finalised since.
    fn session_undisturbed(&self, call: &Call) -> bool {
        call.no_finalize()
            && matches!(self.session, Some((_, Some(epoch))) if epoch == call.finalizes.0)
    }

    /// ... and the user was logged in, with no logout since.
    fn login_undisturbed(&self, call: &Call) -> bool {
        self.session_undisturbed(call)
            && call.no_logout()
            && self.logged_in_since == Some((call.finalizes.0, call.logouts.0))
    }

    /// Checks `call.rv`: one of `answers` when `strict`, else one of
    /// `answers` or [`RACE`]. Returns whether it was an answer.
    fn judge(&self, what: &str, call: &Call, strict: bool, answers: &[CK_RV]) -> bool {
        if answers.contains(&call.rv) {
            self.shared.count(format!("{what}: {}", rv_name(call.rv)));
            return true;
        }
        if !strict && RACE.contains(&call.rv) {
            self.shared.count(format!("race: {}", rv_name(call.rv)));
            if call.rv == CKR_CRYPTOKI_NOT_INITIALIZED {
                // Leave the processor to the thread initialising again.
                std::thread::sleep(Duration::from_millis(1));
            }
        } else {
            self.shared.fail(format!(
                "thread {} {what}: {} ({}; finalizes {:?}, logouts {:?}); its last calls:\n  {}",
                self.index,
                rv_name(call.rv),
                if strict { "undisturbed" } else { "raced" },
                call.finalizes,
                call.logouts,
                self.trace.iter().cloned().collect::<Vec<_>>().join("\n  ")
            ));
            let events = self
                .shared
                .events
                .lock()
                .unwrap()
                .iter()
                .cloned()
                .collect::<Vec<_>>();
            self.shared.fail(format!(
                "the last logouts and finalisations:\n  {}",
                events.join("\n  ")
            ));
        }
        false
    }

    /// The session, opened when there is none.
    fn session(&mut self) -> Option<CK_SESSION_HANDLE> {
        if let Some((session, _)) = self.session {
            return Some(session);
        }
        let mut session = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        let call = self.call("C_OpenSession", || {
            ck!(C_OpenSession(
                SLOT_ID,
                flags,
                null_mut(),
                None,
                &mut session
            ))
        });
        if self.judge("C_OpenSession", &call, call.no_finalize(), &[CKR_OK]) {
            self.session = Some((session, call.no_finalize().then_some(call.finalizes.0)));
            Some(session)
        } else {
            None
        }
    }

    /// Forgets a session the library says is gone, and its login.
    fn lost_session(&mut self, call: &Call) {
        if matches!(
            call.rv,
            CKR_SESSION_HANDLE_INVALID | CKR_CRYPTOKI_NOT_INITIALIZED | CKR_SESSION_CLOSED
        ) {
            self.session = None;
            self.logged_in_since = None;
        }
        if call.rv == CKR_USER_NOT_LOGGED_IN {
            self.logged_in_since = None;
        }
        if matches!(call.rv, CKR_KEY_HANDLE_INVALID) {
            self.key = None;
        }
    }

    fn close_session(&mut self) {
        let Some((session, _)) = self.session else {
            return;
        };
        let call = self.call("C_CloseSession", || ck!(C_CloseSession(session)));
        let strict = self.session_undisturbed(&call);
        self.judge("C_CloseSession", &call, strict, &[CKR_OK]);
        self.session = None;
        self.logged_in_since = None;
    }

    fn log_in(&mut self) {
        let Some(session) = self.session() else {
            return;
        };
        let mut pin = USER_PIN.as_bytes().to_vec();
        let call = self.call("C_Login", || {
            ck!(C_Login(
                session,
                CKU_USER,
                pin.as_mut_ptr(),
                pin.len() as CK_ULONG
            ))
        });
        let strict = self.session_undisturbed(&call);
        let answers = [CKR_OK, CKR_USER_ALREADY_LOGGED_IN];
        if self.judge("C_Login", &call, strict, &answers) {
            // Logged in now, for as long as nothing disturbs it.
            self.logged_in_since = (call.no_finalize() && call.no_logout())
                .then_some((call.finalizes.0, call.logouts.0));
        } else {
            self.lost_session(&call);
        }
    }

    /// `C_Logout`, a disturbance for every other thread.
    fn log_out(&mut self) {
        let Some(session) = self.session() else {
            return;
        };
        let shared = self.shared.clone();
        shared.logouts.fetch_add(LOGOUT_BEGINS, SeqCst);
        self.shared
            .event(format!("thread {} C_Logout begins", self.index));
        let call = self.call("C_Logout", || ck!(C_Logout(session)));
        self.shared.event(format!(
            "thread {} C_Logout {}",
            self.index,
            rv_name(call.rv)
        ));
        shared.logouts.fetch_add(LOGOUT_ENDS, SeqCst);
        let strict = self.session_undisturbed(&call);
        // Another thread may have logged out first.
        if !self.judge("C_Logout", &call, strict, &[CKR_OK, CKR_USER_NOT_LOGGED_IN]) {
            self.lost_session(&call);
        }
        self.logged_in_since = None;
    }

    /// `C_Finalize` and `C_Initialize`, a disturbance for every other
    /// thread; a fresh session keeps one open so that the others closing
    /// theirs never logs the application out unseen.
    fn finalize_and_initialize(&mut self) {
        let shared = self.shared.clone();
        shared.finalizes.fetch_add(1, SeqCst);
        self.shared.event("C_Finalize begins".into());
        let call = self.call("C_Finalize", || ck!(C_Finalize(null_mut())));
        self.judge("C_Finalize", &call, true, &[CKR_OK]);
        std::thread::sleep(Duration::from_millis(random_below(30)));
        let mut args: CK_C_INITIALIZE_ARGS = unsafe { std::mem::zeroed() };
        args.flags = CKF_OS_LOCKING_OK;
        let call = self.call("C_Initialize", || {
            ck!(C_Initialize(
                (&mut args as *mut CK_C_INITIALIZE_ARGS).cast()
            ))
        });
        self.judge("C_Initialize", &call, true, &[CKR_OK]);
        let mut anchor = 0;
        let flags = CKF_SERIAL_SESSION;
        let call = self.call("C_OpenSession (anchor)", || {
            ck!(C_OpenSession(SLOT_ID, flags, null_mut(), None, &mut anchor))
        });
        self.judge("C_OpenSession (anchor)", &call, true, &[CKR_OK]);
        shared.finalizes.fetch_add(1, SeqCst);
        self.session = None;
        self.logged_in_since = None;
        self.shared.count("finalize and initialize".into());
    }

    fn find(&mut self, template: &mut [CK_ATTRIBUTE]) -> Option<(Call, Vec<CK_OBJECT_HANDLE>)> {
        let session = self.session()?;
        let count = template.len() as CK_ULONG;
        let call = self.call("C_FindObjectsInit", || {
            ck!(C_FindObjectsInit(session, template.as_mut_ptr(), count))
        });
        let strict = self.session_undisturbed(&call);
        if !self.judge("C_FindObjectsInit", &call, strict, &[CKR_OK]) {
            self.lost_session(&call);
            return None;
        }
        let mut found = [0; 16];
        let mut count = 0;
        let next = self.call("C_FindObjects", || {
            ck!(C_FindObjects(session, found.as_mut_ptr(), 16, &mut count))
        });
        let strict = self.session_undisturbed(&next);
        let listed = self.judge("C_FindObjects", &next, strict, &[CKR_OK]);
        let last = self.call("C_FindObjectsFinal", || ck!(C_FindObjectsFinal(session)));
        let strict = self.session_undisturbed(&last);
        let ended = self.judge("C_FindObjectsFinal", &last, strict, &[CKR_OK]);
        if !(listed && ended) {
            self.lost_session(if listed { &last } else { &next });
            return None;
        }
        Some((call, found[..count as usize].to_vec()))
    }

    fn find_key(&mut self) -> Option<CK_OBJECT_HANDLE> {
        if let Some(key) = self.key {
            return Some(key);
        }
        let mut class = ulong_bytes(CKO_PRIVATE_KEY);
        let mut id = KEY_ID.to_vec();
        let mut template = [
            raw_attribute(CKA_CLASS, &mut class),
            raw_attribute(CKA_ID, &mut id),
        ];
        let strict_login = self.logged_in_since.is_some();
        let (call, found) = self.find(&mut template)?;
        match found.as_slice() {
            [key] => {
                self.key = Some(*key);
                Some(*key)
            }
            // Without a login the private key is not visible.
            [] if !(strict_login && self.login_undisturbed(&call)) => {
                self.logged_in_since = None;
                None
            }
            other => {
                self.shared.fail(format!(
                    "thread {}: the private key search found {other:?}",
                    self.index
                ));
                None
            }
        }
    }

    fn sign(&mut self) {
        let Some(key) = self.find_key() else {
            return self.log_in();
        };
        let Some(session) = self.session() else {
            return;
        };
        let mut mechanism = raw_mechanism(CKM_ECDSA_SHA256);
        let call = self.call("C_SignInit", || {
            ck!(C_SignInit(session, &mut mechanism, key))
        });
        let strict = self.login_undisturbed(&call);
        if !self.judge("C_SignInit", &call, strict, &[CKR_OK]) {
            self.lost_session(&call);
            return;
        }
        let mut message =
            format!("thread {} message {}", self.index, random_below(u64::MAX)).into_bytes();
        let mut signature = [0u8; 64];
        let mut length = 64;
        let call = self.call("C_Sign", || {
            ck!(C_Sign(
                session,
                message.as_mut_ptr(),
                message.len() as CK_ULONG,
                signature.as_mut_ptr(),
                &mut length
            ))
        });
        let strict = self.login_undisturbed(&call);
        if !self.judge("C_Sign", &call, strict, &[CKR_OK]) {
            self.lost_session(&call);
            return;
        }
        // Any signature delivered, raced or not, is the key's over this message.
        if !verifies(
            &self.shared.public_key,
            &message,
            &signature[..length as usize],
        ) {
            self.shared.fail(format!(
                "thread {}: a signature does not verify",
                self.index
            ));
        }
    }

    fn create_certificate(&mut self) {
        let Some(session) = self.session() else {
            return;
        };
        let label = format!("stress-{}-{}", self.index, self.created);
        self.created += 1;
        let mut class = ulong_bytes(CKO_CERTIFICATE);
        let mut kind = ulong_bytes(CKC_X_509);
        let mut token = [CK_TRUE];
        let mut label_bytes = label.clone().into_bytes();
        let mut subject = REFERENCE_SUBJECT.to_vec();
        let mut value = label.clone().into_bytes();
        let mut template = [
            raw_attribute(CKA_CLASS, &mut class),
            raw_attribute(CKA_CERTIFICATE_TYPE, &mut kind),
            raw_attribute(CKA_TOKEN, &mut token),
            raw_attribute(CKA_LABEL, &mut label_bytes),
            raw_attribute(CKA_SUBJECT, &mut subject),
            raw_attribute(CKA_VALUE, &mut value),
        ];
        let mut handle = 0;
        let call = self.call("C_CreateObject", || {
            ck!(C_CreateObject(
                session,
                template.as_mut_ptr(),
                6,
                &mut handle
            ))
        });
        let strict = self.login_undisturbed(&call);
        if !self.judge("C_CreateObject", &call, strict, &[CKR_OK]) {
            self.shared.ledger.lock().unwrap().failed.insert(label);
            self.lost_session(&call);
            return;
        }
        let mut ledger = self.shared.ledger.lock().unwrap();
        if let Some((other, destroyed)) = ledger.created.get(&handle) {
            // A certificate whose destroy raced a finalisation may be gone,
            // and its handle free again.
            if !destroyed && !ledger.maybe_gone.contains(&handle) {
                self.shared.fail(format!(
                    "handle {handle:#x} was given to {label} while {other} held it"
                ));
            }
        }
        ledger.created.insert(handle, (label.clone(), false));
        ledger.maybe_gone.remove(&handle);
        drop(ledger);
        self.certificates.push(Certificate {
            handle,
            label,
            maybe_gone: false,
            raced: !strict,
        });
    }

    fn find_certificate(&mut self) {
        let Some(certificate) = self
            .certificates
            .get(random_below(self.certificates.len() as u64) as usize)
            .cloned()
        else {
            return;
        };
        let mut class = ulong_bytes(CKO_CERTIFICATE);
        let mut label = certificate.label.clone().into_bytes();
        let mut template = [
            raw_attribute(CKA_CLASS, &mut class),
            raw_attribute(CKA_LABEL, &mut label),
        ];
        let Some((call, found)) = self.find(&mut template) else {
            return;
        };
        // Whatever raced the search, a search that succeeded found the
        // certificate and nothing else (a destroy that may have happened
        // is the only excuse for not finding it).
        if found != [certificate.handle] && !(certificate.maybe_gone && found.is_empty()) {
            let file = self.shared.certificates_dir.join(format!(
                "{}{}",
                azcloudhsm_pkcs11::certstore::BLOB_PREFIX,
                certificate.handle
            ));
            self.shared.fail(format!(
                "thread {}: the search for {} ({:#x}, created {}) found {found:x?} ({}; finalizes {:?}, logouts {:?}); its blob file {}",
                self.index,
                certificate.label,
                certificate.handle,
                if certificate.raced { "racing" } else { "undisturbed" },
                if self.session_undisturbed(&call) { "undisturbed" } else { "raced" },
                call.finalizes,
                call.logouts,
                if file.exists() { "exists" } else { "is missing" }
            ));
        }
    }

    fn destroy_certificate(&mut self) {
        if self.certificates.is_empty() {
            return;
        }
        let Some(session) = self.session() else {
            return;
        };
        let index = random_below(self.certificates.len() as u64) as usize;
        let mut certificate = self.certificates[index].clone();
        if certificate.maybe_gone {
            // Its handle may have been given to another certificate since:
            // look it up by its label before destroying anything.
            let mut class = ulong_bytes(CKO_CERTIFICATE);
            let mut label = certificate.label.clone().into_bytes();
            let mut template = [
                raw_attribute(CKA_CLASS, &mut class),
                raw_attribute(CKA_LABEL, &mut label),
            ];
            let Some((_, found)) = self.find(&mut template) else {
                return;
            };
            match found.as_slice() {
                [] => {
                    self.certificates.swap_remove(index);
                    let mut ledger = self.shared.ledger.lock().unwrap();
                    ledger.maybe_gone.remove(&certificate.handle);
                    if let Some(entry) = ledger.created.get_mut(&certificate.handle) {
                        if entry.0 == certificate.label {
                            entry.1 = true;
                        }
                    }
                    return;
                }
                [handle] if *handle == certificate.handle => {
                    certificate.maybe_gone = false;
                    self.certificates[index].maybe_gone = false;
                    self.shared.ledger.lock().unwrap().maybe_gone.remove(handle);
                }
                other => {
                    return self.shared.fail(format!(
                        "thread {}: {} ({:#x}) is found as {other:x?}",
                        self.index, certificate.label, certificate.handle
                    ))
                }
            }
        }
        // Under way from now on: once the blob is unlinked, another thread
        // may be given the handle before this one has seen the answer.
        self.shared
            .ledger
            .lock()
            .unwrap()
            .maybe_gone
            .insert(certificate.handle);
        let call = self.call("C_DestroyObject", || {
            ck!(C_DestroyObject(session, certificate.handle))
        });
        let strict = self.session_undisturbed(&call);
        let destroyed = self.judge("C_DestroyObject", &call, strict, &[CKR_OK]);
        let mut ledger = self.shared.ledger.lock().unwrap();
        if destroyed {
            self.certificates.swap_remove(index);
            if let Some(entry) = ledger.created.get_mut(&certificate.handle) {
                if entry.0 == certificate.label {
                    entry.1 = true;
                }
            }
            ledger.maybe_gone.remove(&certificate.handle);
        } else if strict {
            ledger.maybe_gone.remove(&certificate.handle);
        } else {
            // A destroy that raced a finalisation may have been done.
            self.certificates[index].maybe_gone = true;
        }
        drop(ledger);
        if !destroyed {
            self.lost_session(&call);
        }
    }

    fn session_info(&mut self) {
        let Some(session) = self.session() else {
            return;
        };
        let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
        let call = self.call("C_GetSessionInfo", || {
            ck!(C_GetSessionInfo(session, &mut info))
        });
        let strict = self.session_undisturbed(&call);
        if !self.judge("C_GetSessionInfo", &call, strict, &[CKR_OK]) {
            return self.lost_session(&call);
        }
        if self.login_undisturbed(&call) && info.state != CKS_RW_USER_FUNCTIONS {
            self.shared.fail(format!(
                "thread {}: logged in, undisturbed, but the session state is {}",
                self.index, info.state
            ));
        }
    }

    fn one_step(&mut self) {
        if self.index == 0 {
            let due = *self.next_finalize.get_or_insert_with(|| {
                Instant::now() + Duration::from_millis(200 + random_below(1800))
            });
            if Instant::now() >= due {
                self.finalize_and_initialize();
                self.next_finalize = None;
                return;
            }
        }
        // A session opened while a finalisation ran may belong to either
        // provider: replace it once the library is settled.
        if matches!(self.session, Some((_, None)))
            && self.shared.finalizes.load(SeqCst).is_multiple_of(2)
        {
            return self.close_session();
        }
        if self.session.is_some() && self.logged_in_since.is_none() && random_below(2) == 0 {
            return self.log_in();
        }
        match random_below(100) {
            0..=2 => self.close_session(),
            3 => self.log_out(),
            4..=6 => self.log_in(),
            7..=36 => self.sign(),
            37..=51 => self.find_certificate(),
            52..=66 if self.certificates.len() < CERTIFICATES_PER_THREAD => {
                self.create_certificate()
            }
            52..=81 => self.destroy_certificate(),
            _ => self.session_info(),
        }
    }
}

fn verifies(
    public_key: &openssl::pkey::PKey<openssl::pkey::Public>,
    message: &[u8],
    raw: &[u8],
) -> bool {
    use openssl::bn::BigNum;
    if raw.len() != 64 {
        return false;
    }
    let signature = openssl::ecdsa::EcdsaSig::from_private_components(
        BigNum::from_slice(&raw[..32]).unwrap(),
        BigNum::from_slice(&raw[32..]).unwrap(),
    )
    .unwrap()
    .to_der()
    .unwrap();
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), public_key).unwrap();
    verifier.update(message).unwrap();
    verifier.verify(&signature).unwrap_or(false)
}

#[test]
fn sixteen_threads_racing_finalize_and_logout_get_only_codes_the_specification_explains() {
    let duration = run_for();
    let token = TestToken::new();
    let setup = token.user_session();
    let keys = generate_ec(&setup, P256, true, KEY_ID);
    let public_key = openssl_public_key(&setup, keys.public);
    drop(setup);
    // The anchor of the first provider: see `finalize_and_initialize`.
    let anchor = token.ro_session();
    let shared = Arc::new(Shared {
        finalizes: AtomicU64::new(0),
        logouts: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        started: Instant::now(),
        failures: Mutex::new(Vec::new()),
        ledger: Mutex::new(Ledger::default()),
        counts: Mutex::new(BTreeMap::new()),
        heartbeats: (0..THREADS).map(|_| AtomicU64::new(0)).collect(),
        doing: (0..THREADS).map(|_| Mutex::new("starting")).collect(),
        public_key,
        certificates_dir: token.certificates_dir(),
        events: Mutex::new(std::collections::VecDeque::new()),
    });
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for index in 0..THREADS {
        let shared = shared.clone();
        let done = done_tx.clone();
        std::thread::spawn(move || {
            let mut worker = Worker {
                index,
                shared: shared.clone(),
                session: None,
                logged_in_since: None,
                key: None,
                certificates: Vec::new(),
                created: 0,
                next_finalize: None,
                trace: std::collections::VecDeque::new(),
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                while !shared.stop.load(SeqCst) {
                    worker.one_step();
                }
            }));
            if outcome.is_err() {
                shared.fail(format!("thread {index} panicked"));
            }
            let _ = done.send(index);
        });
    }
    drop(done_tx);
    // Watch for deadlocks while the threads run.
    let deadline = Instant::now() + duration;
    let mut stuck = None;
    while Instant::now() < deadline && stuck.is_none() {
        std::thread::sleep(Duration::from_millis(250));
        let now = shared.elapsed_ms();
        stuck = (0..THREADS).find(|i| {
            now.saturating_sub(shared.heartbeats[*i].load(SeqCst)) > STUCK_AFTER.as_millis() as u64
        });
    }
    shared.stop.store(true, SeqCst);
    let mut finished = BTreeSet::new();
    while finished.len() < THREADS && stuck.is_none() {
        match done_rx.recv_timeout(STUCK_AFTER) {
            Ok(index) => {
                finished.insert(index);
            }
            Err(_) => stuck = (0..THREADS).find(|i| !finished.contains(i)),
        }
    }
    if let Some(index) = stuck {
        panic!(
            "thread {index} made no progress for {STUCK_AFTER:?} in {} (deadlock)",
            shared.doing[index].lock().unwrap()
        );
    }
    drop(anchor);

    let counts = shared.counts.lock().unwrap().clone();
    for (what, count) in &counts {
        println!("{count:>8}  {what}");
    }
    println!("provider log: {}", process_log_path().display());
    let failures = shared.failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    let cycles = counts.get("finalize and initialize").copied().unwrap_or(0);
    let raced: u64 = counts
        .iter()
        .filter(|(what, _)| what.starts_with("race: "))
        .map(|(_, n)| n)
        .sum();
    assert!(
        cycles >= 2,
        "only {cycles} C_Finalize/C_Initialize cycle(s) in {duration:?}"
    );
    assert!(
        raced > 0,
        "no call raced a C_Finalize or C_Logout: the race was never run"
    );
    for operation in [
        "C_Sign",
        "C_CreateObject",
        "C_DestroyObject",
        "C_FindObjects",
        "C_Login",
        "C_Logout",
        "C_CloseSession",
    ] {
        let answered = counts
            .get(&format!("{operation}: CKR_OK"))
            .copied()
            .unwrap_or(0);
        assert!(answered > 0, "no {operation} succeeded");
    }

    // Afterwards, through a fresh provider: every certificate that was
    // created and not destroyed is there with its label, nothing else is,
    // and every blob file is a certificate that verifies.
    let mut token = token;
    token.reinitialize();
    let session = token.user_session();
    let found = find(
        &session,
        &[Attribute::Class(cryptoki::object::ObjectClass::CERTIFICATE)],
    );
    let mut labels = BTreeMap::new();
    for handle in &found {
        let attributes = session
            .get_attributes(*handle, &[AttributeType::Label, AttributeType::Value])
            .unwrap_or_else(|e| panic!("{:#x} does not verify: {e}", handle.handle()));
        let [Attribute::Label(label), Attribute::Value(value)] = attributes.as_slice() else {
            panic!("{:#x}: {attributes:?}", handle.handle())
        };
        assert_eq!(
            label,
            value,
            "{:#x} holds another certificate's value",
            handle.handle()
        );
        labels.insert(handle.handle(), String::from_utf8(label.clone()).unwrap());
    }
    let files: BTreeSet<u64> = std::fs::read_dir(token.certificates_dir())
        .unwrap()
        .filter_map(|entry| entry.unwrap().file_name().into_string().ok())
        .filter_map(|name| {
            name.strip_prefix(azcloudhsm_pkcs11::certstore::BLOB_PREFIX)?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(
        labels.keys().copied().collect::<BTreeSet<_>>(),
        files,
        "blob files that are not certificates"
    );
    let ledger = shared.ledger.lock().unwrap();
    for (handle, (label, destroyed)) in &ledger.created {
        let present = labels.get(handle);
        let maybe = ledger.maybe_gone.contains(handle);
        match (destroyed, present) {
            (false, None) if !maybe => panic!("{label} ({handle:#x}) was created and is gone"),
            (false, Some(found)) if found != label => {
                panic!("{handle:#x} is {found}, created as {label}")
            }
            (true, Some(found)) if found == label => {
                panic!("{label} ({handle:#x}) was destroyed and is back")
            }
            _ => {}
        }
    }
    for (handle, label) in &labels {
        let created = ledger
            .created
            .get(handle)
            .is_some_and(|(created, _)| created == label);
        assert!(
            created,
            "{label} ({handle:#x}) exists but no create of it returned CKR_OK{}",
            if ledger.failed.contains(label) {
                " (its create failed)"
            } else {
                ""
            }
        );
    }
    println!(
        "{} certificates created, {} left, {cycles} finalize cycles, {raced} raced calls in {duration:?}",
        ledger.created.len(),
        labels.len()
    );
}
