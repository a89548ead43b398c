//! The library's raw C ABI, for the calls a safe client cannot make: NULL
//! pointers, impossible lengths, handles of the wrong kind, and mechanisms
//! `cryptoki` has no name for.

use super::{library_path, SLOT_ID};
use cryptoki_sys::*;
use std::sync::OnceLock;

struct RawLibrary {
    loader: &'static cryptoki_sys::Pkcs11,
    list: *const CK_FUNCTION_LIST,
}
// SAFETY: the function list is an immutable static of the loaded library,
// which is never unloaded (the loader is leaked).
unsafe impl Send for RawLibrary {}
unsafe impl Sync for RawLibrary {}

static RAW: OnceLock<RawLibrary> = OnceLock::new();

/// The library's PKCS#11 2.40 `CK_FUNCTION_LIST`, from `C_GetFunctionList`.
/// The library is the same one `cryptoki` loaded (same path, same process),
/// so raw calls see the same provider state.
pub fn raw() -> &'static CK_FUNCTION_LIST {
    let library = RAW.get_or_init(|| {
        // SAFETY: loading a PKCS#11 module runs no initialisers that need arguments.
        let loader = unsafe { cryptoki_sys::Pkcs11::new(library_path()) }
            .unwrap_or_else(|e| panic!("dlopen the library: {e}"));
        let loader: &'static cryptoki_sys::Pkcs11 = Box::leak(Box::new(loader));
        let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
        // SAFETY: a valid out pointer.
        let rv = unsafe { loader.C_GetFunctionList(&mut list) };
        assert_eq!(rv, CKR_OK, "C_GetFunctionList");
        assert!(!list.is_null(), "C_GetFunctionList gave NULL");
        RawLibrary { loader, list }
    });
    // SAFETY: non-NULL, pointing to the library's static list (see RawLibrary).
    unsafe { &*library.list }
}

/// The library's exported symbols, for the functions outside the 2.40
/// function list (`C_GetInterfaceList`, `C_GetInterface`).
pub fn raw_exports() -> &'static cryptoki_sys::Pkcs11 {
    raw();
    RAW.get().expect("loaded by raw()").loader
}

/// Calls a function of the raw function list: `ck!(C_Sign(session, ...))`.
/// Every call through the raw ABI is unsafe by nature (that is what these
/// tests exercise: NULL and dangling-free but wrong arguments), so the
/// arguments are evaluated inside the `unsafe` block on purpose.
#[macro_export]
macro_rules! ck {
    ($function:ident ( $($argument:expr),* $(,)? )) => {{
        let f = $crate::common::raw().$function.expect(stringify!($function));
        #[allow(unused_unsafe, clippy::macro_metavars_in_unsafe)]
        // SAFETY: the caller passes arguments valid for the C function, or
        // deliberately bad ones the PKCS#11 contract says are refused.
        unsafe {
            f($($argument),*)
        }
    }};
}

/// The name of a return value, for readable assertion messages.
pub fn rv_name(rv: CK_RV) -> String {
    match cryptoki::error::Rv::from(rv) {
        cryptoki::error::Rv::Ok => "CKR_OK".to_string(),
        cryptoki::error::Rv::Error(e) => format!("{e:?} (0x{rv:x})"),
    }
}

/// Asserts a raw return value, naming both sides.
#[macro_export]
macro_rules! assert_ck {
    ($actual:expr, $expected:expr) => {{
        let actual: cryptoki_sys::CK_RV = $actual;
        let expected: cryptoki_sys::CK_RV = $expected;
        assert!(
            actual == expected,
            "got {}, expected {}",
            $crate::common::rv_name(actual),
            $crate::common::rv_name(expected)
        );
    }};
}

/// Asserts that every `(name, rv)` of a table is `expected`, listing all
/// the cases that are not.
#[track_caller]
pub fn assert_all_rv(cases: Vec<(&str, CK_RV)>, expected: CK_RV) {
    let wrong: Vec<String> = cases
        .into_iter()
        .filter(|(_, rv)| *rv != expected)
        .map(|(name, rv)| format!("{name}: {}", rv_name(rv)))
        .collect();
    assert!(
        wrong.is_empty(),
        "expected {} from every case, but: {wrong:#?}",
        rv_name(expected)
    );
}

/// A `CK_ULONG` as the C ABI lays it out (an attribute value).
pub fn ulong_bytes(value: CK_ULONG) -> Vec<u8> {
    value.to_ne_bytes().to_vec()
}

/// A `CK_ATTRIBUTE` over a caller-owned buffer.
pub fn raw_attribute(kind: CK_ATTRIBUTE_TYPE, value: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: if value.is_empty() {
            std::ptr::null_mut()
        } else {
            value.as_mut_ptr() as *mut std::ffi::c_void
        },
        ulValueLen: value.len() as CK_ULONG,
    }
}

/// A `CK_ATTRIBUTE` asking for a length only.
pub fn length_query(kind: CK_ATTRIBUTE_TYPE) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    }
}

/// A `CK_MECHANISM` without a parameter.
pub fn raw_mechanism(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    }
}

/// A `CK_MECHANISM` whose parameter is `parameter`.
pub fn raw_mechanism_with<T>(kind: CK_MECHANISM_TYPE, parameter: &mut T) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: parameter as *mut T as *mut std::ffi::c_void,
        ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

/// Every mechanism of slot 1 through the raw ABI (cryptoki drops the ones it
/// does not know, which would hide an untested mechanism).
pub fn raw_mechanism_list() -> Vec<CK_MECHANISM_TYPE> {
    let mut count: CK_ULONG = 0;
    assert_ck!(
        ck!(C_GetMechanismList(
            SLOT_ID,
            std::ptr::null_mut(),
            &mut count
        )),
        CKR_OK
    );
    let mut list = vec![0; count as usize];
    assert_ck!(
        ck!(C_GetMechanismList(SLOT_ID, list.as_mut_ptr(), &mut count)),
        CKR_OK
    );
    list.truncate(count as usize);
    list
}

/// `C_SignInit` + `C_Sign` through the raw ABI (for mechanisms `cryptoki`
/// has no name for), with the two-call length protocol.
pub fn raw_sign(
    session: CK_SESSION_HANDLE,
    mechanism: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
) -> Result<Vec<u8>, CK_RV> {
    let rv = ck!(C_SignInit(session, mechanism, key));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut data = data.to_vec();
    let mut length: CK_ULONG = 0;
    let rv = ck!(C_Sign(
        session,
        data.as_mut_ptr(),
        data.len() as CK_ULONG,
        std::ptr::null_mut(),
        &mut length
    ));
    if rv != CKR_OK {
        return Err(rv);
    }
    let mut signature = vec![0u8; length as usize];
    let rv = ck!(C_Sign(
        session,
        data.as_mut_ptr(),
        data.len() as CK_ULONG,
        signature.as_mut_ptr(),
        &mut length
    ));
    if rv != CKR_OK {
        return Err(rv);
    }
    signature.truncate(length as usize);
    Ok(signature)
}

/// `C_VerifyInit` + `C_Verify` through the raw ABI.
pub fn raw_verify(
    session: CK_SESSION_HANDLE,
    mechanism: &mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
    data: &[u8],
    signature: &[u8],
) -> CK_RV {
    let rv = ck!(C_VerifyInit(session, mechanism, key));
    if rv != CKR_OK {
        return rv;
    }
    let mut data = data.to_vec();
    let mut signature = signature.to_vec();
    ck!(C_Verify(
        session,
        data.as_mut_ptr(),
        data.len() as CK_ULONG,
        signature.as_mut_ptr(),
        signature.len() as CK_ULONG
    ))
}
