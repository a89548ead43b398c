//! The cases a function's ordinary call does not reach: zero and huge
//! counts and lengths that do not match their buffers ([`lengths`]),
//! handles never issued or already destroyed ([`handles`]), and calls in
//! the wrong order ([`order`]). Each names the rule of PKCS#11 3.0 it checks.

use super::fixture::*;
use crate::common::*;
use cryptoki_sys::*;

/// A call no buffer can describe: more than `isize::MAX` bytes.
const HUGE: CK_ULONG = CK_ULONG::MAX;

type Run = Box<dyn Fn(&CK_FUNCTION_LIST_3_0, &Handles, CK_SESSION_HANDLE) -> Outcome>;

/// One case: the function under test, what is wrong with the call, the
/// codes it may return, and the call, made in a fresh R/W session.
pub struct Case {
    pub function: &'static str,
    pub what: String,
    pub expected: &'static [CK_RV],
    pub run: Run,
}

/// `case!(C_X, "what", [codes], |list, handles, session| { body })`: the
/// body calls `C_X(...)` (the function list's entry) and returns an
/// [`Outcome`] or a `CK_RV`; `setup!` inside it makes a call that must
/// succeed first.
macro_rules! case {
    ($name:ident, $what:expr, [$($rv:expr),+], |$l:ident, $h:ident, $s:ident| $body:block) => {
        Case {
            function: stringify!($name),
            what: $what.to_string(),
            expected: &[$($rv),+],
            run: Box::new(move |$l: &CK_FUNCTION_LIST_3_0, $h: &Handles, $s: CK_SESSION_HANDLE| -> Outcome {
                let _ = (&$h, &$s);
                #[allow(non_snake_case, unused_variables)]
                let $name = $l.$name.expect(stringify!($name));
                // SAFETY: every pointer is NULL or points to a live buffer of
                // at least the length passed with it (a larger length is the
                // case under test only where the library must refuse it
                // before reading).
                #[allow(unused_unsafe, unused_mut, clippy::unnecessary_mut_passed)]
                let outcome: Outcome = unsafe { $body }.into();
                outcome
            }),
        }
    };
}

/// A call a case makes before the call under test; it must succeed.
macro_rules! setup {
    ($l:ident, $name:ident ( $($argument:expr),* $(,)? )) => {{
        let rv = $l.$name.expect(stringify!($name))($($argument),*);
        if rv != CKR_OK {
            return Outcome::setup_failed(stringify!($name), rv);
        }
    }};
}

/// Runs each case in a fresh R/W session; returns the failures.
pub fn run_all(fixture: &Fixture, cases: Vec<Case>) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let session = fixture.session();
        let outcome = (case.run)(fixture.list, &fixture.handles, session);
        close_session(fixture.list, session);
        let name = format!("{} with {}", case.function, case.what);
        if !case.expected.contains(&outcome.rv) {
            failures.push(format!(
                "{name}: {}, expected {}",
                rv_name(outcome.rv),
                names(case.expected)
            ));
        } else if let Some(problem) = outcome.problem {
            failures.push(format!("{name}: {problem}"));
        }
    }
    failures
}

fn attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &mut T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value as *mut T as *mut std::ffi::c_void,
        ulValueLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

mod handles;
mod lengths;
mod operations;
mod order;

pub use handles::handles;
pub use lengths::counts_and_lengths;
pub use operations::{bad_parameters, buffers_and_endings, wrong_keys};
pub use order::{lifecycle, logged_out, order};
