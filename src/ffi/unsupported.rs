//! Functions this provider exports but does not offer: operation state,
//! recovery signatures (the Azure Cloud HSM has none either), dual-function
//! updates, the legacy parallel functions, the 3.0 message-based signing
//! and verification (message-based encryption lives in `message`), and the
//! 3.2 functions other than `C_EncapsulateKey`/`C_DecapsulateKey` (`key`):
//! signature verification with the signature first, session validation
//! flags, asynchronous operations and authenticated wrapping.
//! Each checks that the library is initialised and then says so with the
//! specification's return value.

use super::guard;
use crate::error::Error;
use crate::provider::provider;
use cryptoki_sys::*;
use std::ffi::c_void;

macro_rules! not_supported {
    ($($name:ident ( $($arg:ident : $type:ty),* );)*) => {$(
        #[doc = concat!("`", stringify!($name), "`: not supported (`CKR_FUNCTION_NOT_SUPPORTED`).")]
        ///
        /// # Safety
        ///
        /// None needed: no argument is read.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($arg: $type),*) -> CK_RV {
            $(let _ = $arg;)*
            guard(stringify!($name), || {
                provider()?;
                Err(Error::FunctionNotSupported(stringify!($name)))
            })
        }
    )*};
}

not_supported! {
    C_GetOperationState(session: CK_SESSION_HANDLE, state: *mut CK_BYTE, state_len: *mut CK_ULONG);
    C_SetOperationState(session: CK_SESSION_HANDLE, state: *mut CK_BYTE, state_len: CK_ULONG, encryption_key: CK_OBJECT_HANDLE, authentication_key: CK_OBJECT_HANDLE);
    C_SignRecoverInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    C_SignRecover(session: CK_SESSION_HANDLE, data: *mut CK_BYTE, data_len: CK_ULONG, signature: *mut CK_BYTE, signature_len: *mut CK_ULONG);
    C_VerifyRecoverInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    C_VerifyRecover(session: CK_SESSION_HANDLE, signature: *mut CK_BYTE, signature_len: CK_ULONG, data: *mut CK_BYTE, data_len: *mut CK_ULONG);
    C_DigestEncryptUpdate(session: CK_SESSION_HANDLE, part: *mut CK_BYTE, part_len: CK_ULONG, out: *mut CK_BYTE, out_len: *mut CK_ULONG);
    C_DecryptDigestUpdate(session: CK_SESSION_HANDLE, part: *mut CK_BYTE, part_len: CK_ULONG, out: *mut CK_BYTE, out_len: *mut CK_ULONG);
    C_SignEncryptUpdate(session: CK_SESSION_HANDLE, part: *mut CK_BYTE, part_len: CK_ULONG, out: *mut CK_BYTE, out_len: *mut CK_ULONG);
    C_DecryptVerifyUpdate(session: CK_SESSION_HANDLE, part: *mut CK_BYTE, part_len: CK_ULONG, out: *mut CK_BYTE, out_len: *mut CK_ULONG);
    C_LoginUser(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: *mut CK_UTF8CHAR, pin_len: CK_ULONG, name: *mut CK_UTF8CHAR, name_len: CK_ULONG);
    C_MessageSignInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    C_SignMessage(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, data: *mut CK_BYTE, data_len: CK_ULONG, signature: *mut CK_BYTE, signature_len: *mut CK_ULONG);
    C_SignMessageBegin(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG);
    C_SignMessageNext(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, data: *mut CK_BYTE, data_len: CK_ULONG, signature: *mut CK_BYTE, signature_len: *mut CK_ULONG);
    C_MessageSignFinal(session: CK_SESSION_HANDLE);
    C_MessageVerifyInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE);
    C_VerifyMessage(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, data: *mut CK_BYTE, data_len: CK_ULONG, signature: *mut CK_BYTE, signature_len: CK_ULONG);
    C_VerifyMessageBegin(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG);
    C_VerifyMessageNext(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, data: *mut CK_BYTE, data_len: CK_ULONG, signature: *mut CK_BYTE, signature_len: CK_ULONG);
    C_MessageVerifyFinal(session: CK_SESSION_HANDLE);
    C_VerifySignatureInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE, signature: *mut CK_BYTE, signature_len: CK_ULONG);
    C_VerifySignature(session: CK_SESSION_HANDLE, data: *mut CK_BYTE, data_len: CK_ULONG);
    C_VerifySignatureUpdate(session: CK_SESSION_HANDLE, part: *mut CK_BYTE, part_len: CK_ULONG);
    C_VerifySignatureFinal(session: CK_SESSION_HANDLE);
    C_GetSessionValidationFlags(session: CK_SESSION_HANDLE, flags_type: CK_SESSION_VALIDATION_FLAGS_TYPE, flags: *mut CK_FLAGS);
    C_AsyncComplete(session: CK_SESSION_HANDLE, function_name: *mut CK_UTF8CHAR, result: *mut CK_ASYNC_DATA);
    C_AsyncGetID(session: CK_SESSION_HANDLE, function_name: *mut CK_UTF8CHAR, id: *mut CK_ULONG);
    C_AsyncJoin(session: CK_SESSION_HANDLE, function_name: *mut CK_UTF8CHAR, id: CK_ULONG, data: *mut CK_BYTE, data_len: CK_ULONG);
    C_WrapKeyAuthenticated(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, wrapping_key: CK_OBJECT_HANDLE, key: CK_OBJECT_HANDLE, associated_data: *mut CK_BYTE, associated_data_len: CK_ULONG, wrapped: *mut CK_BYTE, wrapped_len: *mut CK_ULONG);
    C_UnwrapKeyAuthenticated(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, unwrapping_key: CK_OBJECT_HANDLE, wrapped: *mut CK_BYTE, wrapped_len: CK_ULONG, attributes: *mut CK_ATTRIBUTE, count: CK_ULONG, associated_data: *mut CK_BYTE, associated_data_len: CK_ULONG, key: *mut CK_OBJECT_HANDLE);
}

/// `C_GetFunctionStatus`: legacy; functions never run in parallel.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetFunctionStatus` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionStatus(session: CK_SESSION_HANDLE) -> CK_RV {
    legacy_parallel("C_GetFunctionStatus", session)
}

/// `C_CancelFunction`: legacy; functions never run in parallel.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_CancelFunction` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_CancelFunction(session: CK_SESSION_HANDLE) -> CK_RV {
    legacy_parallel("C_CancelFunction", session)
}

fn legacy_parallel(name: &'static str, session: CK_SESSION_HANDLE) -> CK_RV {
    guard(name, || {
        provider()?.session_info(session)?;
        Err(Error::FunctionNotParallel)
    })
}
