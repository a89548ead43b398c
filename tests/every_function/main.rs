//! Bad input through the C ABI for every function of the PKCS#11 3.0
//! function list (`C_GetInterface("PKCS 11", 3.0)`), table-driven so that
//! none is missed: each function's ordinary call ([`functions`]) is made
//! before `C_Initialize`, after `C_Finalize`, with NULL pointers, on a
//! session never opened, on one already closed, on a slot that does not
//! exist; [`cases`] adds zero and huge counts, lengths that do not match
//! their buffers, handles never issued or already destroyed, and calls in
//! the wrong order. Each case asserts the exact return value PKCS#11 3.0
//! gives (a set where it allows several, with the reason beside it), and
//! the process must survive every one.
//!
//! The rules these tables lean on, from PKCS#11 3.0 §5.1:
//! - `CKR_CRYPTOKI_NOT_INITIALIZED` "can be returned by any function other
//!   than C_Initialize, C_GetFunctionList, C_GetInterfaceList and
//!   C_GetInterface" when the library is not initialised;
//! - §5.1.7: codes of §5.1.2 (`CKR_SESSION_HANDLE_INVALID`) "take
//!   precedence over" those of §5.1.6 (`CKR_ARGUMENTS_BAD`, ...); within
//!   one section "any of the applicable error codes may be returned".
//!
//! `tests/bad_input.rs` and `tests/abi_rules.rs` test the same rules per
//! function family in more depth; this file is the completeness check.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;
mod cases;
mod fixture;
mod functions;

use common::*;
use cryptoki_sys::*;
use fixture::*;
use functions::{functions, Function, Kind};
use std::collections::BTreeSet;
use std::ptr::null_mut;

/// One failed expectation, for the report.
fn mismatch(case: &str, rv: CK_RV, expected: &[CK_RV]) -> Option<String> {
    (!expected.contains(&rv))
        .then(|| format!("{case}: {}, expected {}", rv_name(rv), names(expected)))
}

/// Panics with every failed case at once.
#[track_caller]
fn report(what: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{what}: {} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs `function`'s call naming `target`, in a fresh session when it is a
/// session function and `target` is `None`.
fn run(fixture: &Fixture, function: &Function, target: Option<CK_ULONG>, null: bool) -> CK_RV {
    let list = fixture.list;
    match (function.kind, target) {
        (_, Some(target)) => (function.call)(list, &fixture.handles, target, null),
        (Kind::Session, None) => {
            let session = fixture.session();
            let rv = (function.call)(list, &fixture.handles, session, null);
            close_session(list, session);
            rv
        }
        (_, None) => (function.call)(list, &fixture.handles, SLOT_ID, null),
    }
}

/// The codes of a call the library cannot run because it is not initialised.
fn not_initialized(function: &Function) -> &'static [CK_RV] {
    match function.name {
        "C_GetFunctionList" | "C_GetInterfaceList" | "C_GetInterface" => &[CKR_OK],
        _ => &[CKR_CRYPTOKI_NOT_INITIALIZED],
    }
}

/// The codes of a session function called with a session handle that is
/// not open: `CKR_SESSION_HANDLE_INVALID`, "the specified session handle
/// was invalid at the time that the function was invoked" (§5.1.2), which
/// outranks every §5.1.6 code, NULL pointers included (§5.1.7). A stub may
/// "simply return CKR_FUNCTION_NOT_SUPPORTED" (§5.1.6).
fn session_invalid(function: &Function) -> &'static [CK_RV] {
    if function.is_stub() {
        &[CKR_FUNCTION_NOT_SUPPORTED, CKR_SESSION_HANDLE_INVALID]
    } else {
        &[CKR_SESSION_HANDLE_INVALID]
    }
}

#[test]
fn the_function_list_holds_the_92_functions_of_3_0_and_the_table_calls_each() {
    let _fixture = Fixture::new();
    let list = function_list();
    assert_eq!(
        (list.version.major, list.version.minor),
        (3, 0),
        "C_GetInterface(3.0) version"
    );
    // The structure is a CK_VERSION (padded to 8 bytes) and 92 pointers: a
    // function added to it would change its size and fail here.
    let pointers = (std::mem::size_of::<CK_FUNCTION_LIST_3_0>() - 8) / 8;
    assert_eq!(pointers, 92, "CK_FUNCTION_LIST_3_0 entries");
    // SAFETY: after the version come `pointers` function pointers, each
    // an Option<extern fn>, which has the size and niche of a pointer.
    let entries = unsafe {
        std::slice::from_raw_parts(
            (list as *const CK_FUNCTION_LIST_3_0 as *const u8).add(8) as *const usize,
            pointers,
        )
    };
    let missing: Vec<usize> = (0..pointers).filter(|i| entries[*i] == 0).collect();
    assert!(
        missing.is_empty(),
        "NULL entries in the 3.0 list: {missing:?}"
    );
    let table = functions();
    let names: BTreeSet<&str> = table.iter().map(|f| f.name).collect();
    assert_eq!(table.len(), 92, "the table has one row per function");
    assert_eq!(names.len(), 92, "no function is in the table twice");
}

#[test]
fn every_function_before_c_initialize_is_cryptoki_not_initialized() {
    let _lock = lock();
    let list = function_list();
    let handles = Handles::placeholders();
    let mut failures = Vec::new();
    for function in functions().iter().filter(|f| f.name != "C_Initialize") {
        // Session 1, slot 1, valid pointers: only the missing C_Initialize
        // is wrong with these calls.
        let rv = (function.call)(list, &handles, 1, false);
        failures.extend(mismatch(function.name, rv, not_initialized(function)));
    }
    report("before C_Initialize", failures);
}

#[test]
fn every_function_after_c_finalize_is_cryptoki_not_initialized() {
    let fixture = Fixture::new();
    let session = fixture.main.handle();
    // SAFETY: NULL is C_Finalize's only valid argument.
    assert_eq!(
        unsafe { fixture.list.C_Finalize.unwrap()(null_mut()) },
        CKR_OK
    );
    let mut failures = Vec::new();
    for function in functions().iter().filter(|f| f.name != "C_Initialize") {
        let target = if function.kind == Kind::Session {
            session
        } else {
            SLOT_ID
        };
        let rv = run(&fixture, function, Some(target), false);
        failures.extend(mismatch(function.name, rv, not_initialized(function)));
    }
    report("after C_Finalize", failures);
}

#[test]
fn every_function_called_plainly_returns_its_specification_code() {
    let fixture = Fixture::new();
    let mut failures = Vec::new();
    let table = functions();
    // C_CloseAllSessions last: it closes the fixture's sessions. C_Finalize
    // is the lifecycle cases' (see `cases::lifecycle`).
    let (last, others): (Vec<&Function>, Vec<&Function>) = table
        .iter()
        .filter(|f| f.name != "C_Finalize")
        .partition(|f| f.name == "C_CloseAllSessions");
    for function in others.into_iter().chain(last) {
        let rv = run(&fixture, function, None, false);
        failures.extend(mismatch(function.name, rv, function.plain));
    }
    report("plain calls", failures);
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out pointer.
    let rv = unsafe { fixture.list.C_GetSessionInfo.unwrap()(fixture.main.handle(), &mut info) };
    assert_eq!(
        rv, CKR_SESSION_HANDLE_INVALID,
        "C_CloseAllSessions left the fixture's session open"
    );
}

#[test]
fn every_function_with_null_pointers_is_arguments_bad_or_its_state_code() {
    let fixture = Fixture::new();
    let mut failures = Vec::new();
    for function in functions() {
        let Some(expected) = function.null else {
            continue;
        };
        let rv = run(&fixture, &function, None, true);
        failures.extend(mismatch(function.name, rv, expected));
    }
    report("NULL pointers", failures);
    // Nothing above may have finalised the provider or closed its sessions.
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out pointer.
    let rv = unsafe { fixture.list.C_GetSessionInfo.unwrap()(fixture.main.handle(), &mut info) };
    assert_eq!(rv, CKR_OK, "the fixture's session after the NULL cases");
}

/// Runs every session function on `session` (not open), with valid
/// pointers and again with NULL ones.
fn session_functions_on(fixture: &Fixture, what: &str, session: CK_SESSION_HANDLE) {
    let mut failures = Vec::new();
    for function in functions().iter().filter(|f| f.kind == Kind::Session) {
        let expected = session_invalid(function);
        let rv = run(fixture, function, Some(session), false);
        failures.extend(mismatch(function.name, rv, expected));
        if function.null.is_some() {
            let rv = run(fixture, function, Some(session), true);
            let case = format!("{} with NULL pointers", function.name);
            failures.extend(mismatch(&case, rv, expected));
        }
    }
    report(what, failures);
}

#[test]
fn every_session_function_with_a_session_never_opened_is_session_handle_invalid() {
    let fixture = Fixture::new();
    session_functions_on(&fixture, "a session never opened", NO_SESSION);
    session_functions_on(&fixture, "session handle 0 (CK_INVALID_HANDLE)", 0);
}

#[test]
fn every_session_function_with_a_closed_session_is_session_handle_invalid() {
    let fixture = Fixture::new();
    let session = fixture.session();
    close_session(fixture.list, session);
    session_functions_on(&fixture, "a closed session", session);
}

#[test]
fn a_session_handle_from_before_c_finalize_is_invalid_after_c_initialize() {
    let fixture = Fixture::new();
    let list = fixture.list;
    let old: Vec<CK_SESSION_HANDLE> = (0..3).map(|_| fixture.session()).collect();
    // SAFETY: NULL arguments are valid for both.
    unsafe {
        assert_eq!(list.C_Finalize.unwrap()(null_mut()), CKR_OK);
        assert_eq!(list.C_Initialize.unwrap()(null_mut()), CKR_OK);
    }
    let new: Vec<CK_SESSION_HANDLE> = (0..3).map(|_| open_session(list, RW)).collect();
    let mut failures = Vec::new();
    for session in &old {
        let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: a valid out pointer.
        let rv = unsafe { list.C_GetSessionInfo.unwrap()(*session, &mut info) };
        failures.extend(mismatch(
            &format!("C_GetSessionInfo of session {session} (new ones: {new:?})"),
            rv,
            &[CKR_SESSION_HANDLE_INVALID],
        ));
    }
    report("handles of a finalised provider", failures);
}

#[test]
fn every_slot_function_with_a_slot_that_does_not_exist_is_slot_id_invalid() {
    let fixture = Fixture::new();
    let mut failures = Vec::new();
    for function in functions().iter().filter(|f| f.kind == Kind::Slot) {
        let rv = run(&fixture, function, Some(NO_SLOT), false);
        failures.extend(mismatch(function.name, rv, &[CKR_SLOT_ID_INVALID]));
        if function.null.is_some() {
            // Both are §5.1.6 codes: either may be returned (§5.1.7).
            let rv = run(&fixture, function, Some(NO_SLOT), true);
            let case = format!("{} with NULL pointers", function.name);
            failures.extend(mismatch(
                &case,
                rv,
                &[CKR_SLOT_ID_INVALID, CKR_ARGUMENTS_BAD],
            ));
        }
    }
    report("slot 99", failures);
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out pointer.
    let rv = unsafe { fixture.list.C_GetSessionInfo.unwrap()(fixture.main.handle(), &mut info) };
    assert_eq!(
        rv, CKR_OK,
        "C_CloseAllSessions(99) closed slot 1's sessions"
    );
}

#[test]
fn zero_and_huge_counts_and_mismatched_lengths_get_their_specification_codes() {
    let fixture = Fixture::new();
    report(
        "counts and lengths",
        cases::run_all(&fixture, cases::counts_and_lengths()),
    );
}

#[test]
fn handles_never_issued_or_destroyed_get_their_specification_codes() {
    let fixture = Fixture::new();
    report("handles", cases::run_all(&fixture, cases::handles()));
}

#[test]
fn calls_in_the_wrong_order_get_their_specification_codes() {
    let fixture = Fixture::new();
    report("order", cases::run_all(&fixture, cases::order()));
}

#[test]
fn keys_of_the_wrong_type_or_without_the_usage_flag_get_their_specification_codes() {
    let fixture = Fixture::new();
    report("wrong keys", cases::run_all(&fixture, cases::wrong_keys()));
}

#[test]
fn bad_mechanism_parameters_get_their_specification_codes() {
    let fixture = Fixture::new();
    report(
        "bad parameters",
        cases::run_all(&fixture, cases::bad_parameters()),
    );
}

#[test]
fn every_error_but_a_short_buffer_ends_the_operation() {
    let fixture = Fixture::new();
    report(
        "buffers and endings",
        cases::run_all(&fixture, cases::buffers_and_endings()),
    );
}

#[test]
fn calls_that_need_a_login_get_their_specification_codes_when_nobody_is_logged_in() {
    let fixture = Fixture::new();
    fixture.main.logout().expect("C_Logout");
    report("logged out", cases::run_all(&fixture, cases::logged_out()));
}

#[test]
fn initialize_and_finalize_follow_their_lifecycle_rules() {
    let fixture = Fixture::new();
    report("lifecycle", cases::lifecycle(fixture.list));
}
