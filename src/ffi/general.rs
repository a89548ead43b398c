//! General-purpose functions (PKCS#11 3.0 §5.4): initialise, finalise,
//! library information, function lists and interfaces.

use super::convert::{deliver_slice, out, pad};
use super::decrypt::*;
use super::digest::*;
use super::encrypt::*;
use super::guard;
use super::key::*;
use super::message::*;
use super::object::*;
use super::random::*;
use super::session::*;
use super::sign::*;
use super::slot_token::*;
use super::unsupported::*;
use super::verify::*;
use crate::error::Error;
use crate::provider;
use cryptoki_sys::*;
use std::ffi::c_void;

/// `C_Initialize`: honours `CK_C_INITIALIZE_ARGS`. The library uses the
/// operating system's locking, which `CKF_OS_LOCKING_OK` permits and which
/// is also correct when the application passes its own mutex functions.
/// With `CKF_LIBRARY_CANT_CREATE_OS_THREADS` (GnuTLS always passes it),
/// nothing starts a thread: the embedded device and the local store never
/// do, and the Azure store then runs its requests on the calling thread.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Initialize` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Initialize(init_args: *mut c_void) -> CK_RV {
    guard("C_Initialize", || {
        let mut may_create_threads = true;
        // SAFETY: NULL or a CK_C_INITIALIZE_ARGS per the PKCS#11 contract.
        if let Some(args) = unsafe { (init_args as *const CK_C_INITIALIZE_ARGS).as_ref() } {
            if !args.pReserved.is_null() {
                return Err(Error::ArgumentsBad("pReserved must be NULL"));
            }
            let given = [
                args.CreateMutex.is_some(),
                args.DestroyMutex.is_some(),
                args.LockMutex.is_some(),
                args.UnlockMutex.is_some(),
            ];
            if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
                return Err(Error::ArgumentsBad(
                    "mutex functions must be all given or none",
                ));
            }
            may_create_threads = args.flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS == 0;
        }
        super::fork::register_handlers();
        provider::initialize(may_create_threads)
    })
}

/// `C_Finalize`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_Finalize` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_Finalize(reserved: *mut c_void) -> CK_RV {
    guard("C_Finalize", || {
        if !reserved.is_null() {
            return Err(Error::ArgumentsBad("pReserved must be NULL"));
        }
        provider::finalize()
    })
}

/// `C_GetInfo`, as the exported symbol and the 2.40 function list give it:
/// `cryptokiVersion` 2.40.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetInfo` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(info: *mut CK_INFO) -> CK_RV {
    // SAFETY: this function's contract is `library_info`'s.
    guard("C_GetInfo", || unsafe { library_info(info, 2, 40) })
}

/// `C_GetInfo` as the 3.0 interface gives it: `cryptokiVersion` 3.0, the
/// version of the interface the caller reached it through (§5.4.2: "the
/// Cryptoki interface version number").
///
/// # Safety
///
/// As [`C_GetInfo`].
unsafe extern "C" fn get_info_3_0(info: *mut CK_INFO) -> CK_RV {
    // SAFETY: this function's contract is `library_info`'s.
    guard("C_GetInfo", || unsafe { library_info(info, 3, 0) })
}

/// `C_GetInfo` as the 3.2 interface gives it: `cryptokiVersion` 3.2.
///
/// # Safety
///
/// As [`C_GetInfo`].
unsafe extern "C" fn get_info_3_2(info: *mut CK_INFO) -> CK_RV {
    // SAFETY: this function's contract is `library_info`'s.
    guard("C_GetInfo", || unsafe { library_info(info, 3, 2) })
}

/// Fills the caller's `CK_INFO` with this library's information and the
/// interface version `major.minor`.
///
/// # Safety
///
/// `info` is NULL or valid for writing one `CK_INFO`.
unsafe fn library_info(info: *mut CK_INFO, major: CK_BYTE, minor: CK_BYTE) -> Result<(), Error> {
    provider::provider()?;
    // SAFETY: `info` is NULL or a place the caller lets us write for this call; `out`
    // refuses NULL
    let info = unsafe { out(info) }?;
    info.cryptokiVersion = CK_VERSION { major, minor };
    pad(&mut info.manufacturerID, "azcloudhsm-pkcs11");
    info.flags = 0;
    pad(
        &mut info.libraryDescription,
        "Azure Cloud HSM PKCS#11 provider",
    );
    info.libraryVersion = library_version();
    Ok(())
}

/// This library's version, from Cargo.toml.
pub(crate) fn library_version() -> CK_VERSION {
    let (major, minor) = crate::device::package_version();
    CK_VERSION { major, minor }
}

/// `C_GetFunctionList`: the PKCS#11 2.40 function list.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetFunctionList` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard("C_GetFunctionList", || {
        // SAFETY: `list` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let list = unsafe { out(list) }?;
        *list = &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
        Ok(())
    })
}

const INTERFACE_NAME: &[u8] = b"PKCS 11\0";

struct Interfaces([CK_INTERFACE; 3]);
// SAFETY: the interfaces point to immutable statics only.
unsafe impl Sync for Interfaces {}

static INTERFACES: Interfaces = Interfaces([
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *mut c_void,
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST as *const CK_FUNCTION_LIST as *mut c_void,
        flags: 0,
    },
    CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST_3_2 as *const CK_FUNCTION_LIST_3_2 as *mut c_void,
        flags: 0,
    },
]);

/// `C_GetInterfaceList` (3.0): "PKCS 11" version 3.0, version 2.40, then
/// version 3.2. The default (a NULL version to `C_GetInterface`) stays 3.0,
/// the first: a 3.0 client that takes the first interface gets the list it
/// knows; a 3.2 client asks for 3.2 by version.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetInterfaceList` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterfaceList(
    list: *mut CK_INTERFACE,
    count: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: `count` is NULL or the caller's count word, and `list` NULL (a
    // count query) or an array of that many interfaces; `deliver_slice`
    // refuses a NULL count and writes no more items than it allows.
    guard("C_GetInterfaceList", || unsafe {
        deliver_slice(&INTERFACES.0, list, count)
    })
}

/// `C_GetInterface` (3.0): by name ("PKCS 11" or NULL) and version (3.0,
/// 2.40, 3.2, or NULL for 3.0).
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GetInterface` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GetInterface(
    name: *mut CK_UTF8CHAR,
    version: *mut CK_VERSION,
    interface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard("C_GetInterface", || {
        // SAFETY: `interface` is NULL or a place the caller lets us write for this call; `out`
        // refuses NULL
        let interface = unsafe { out(interface) }?;
        if !name.is_null() {
            // SAFETY: a NUL-terminated string per the PKCS#11 contract.
            let name = unsafe { std::ffi::CStr::from_ptr(name as *const std::ffi::c_char) };
            if name.to_bytes_with_nul() != INTERFACE_NAME {
                return Err(Error::InterfaceNotOffered("with that name"));
            }
        }
        if flags != 0 {
            return Err(Error::InterfaceNotOffered("with those flags"));
        }
        // SAFETY: NULL or a valid CK_VERSION.
        let index = match unsafe { version.as_ref() } {
            None => 0,
            Some(v) if v.major == 3 && v.minor == 0 => 0,
            Some(v) if v.major == 2 && v.minor == 40 => 1,
            Some(v) if v.major == 3 && v.minor == 2 => 2,
            Some(_) => return Err(Error::InterfaceNotOffered("of that version")),
        };
        *interface = &INTERFACES.0[index] as *const CK_INTERFACE as *mut CK_INTERFACE;
        Ok(())
    })
}

macro_rules! function_list {
    ($type:ident, $major:expr, $minor:expr, $get_info:ident, { $($extra:ident),* }) => {
        $type {
            version: CK_VERSION { major: $major, minor: $minor },
            C_Initialize: Some(C_Initialize),
            C_Finalize: Some(C_Finalize),
            C_GetInfo: Some($get_info),
            C_GetFunctionList: Some(C_GetFunctionList),
            C_GetSlotList: Some(C_GetSlotList),
            C_GetSlotInfo: Some(C_GetSlotInfo),
            C_GetTokenInfo: Some(C_GetTokenInfo),
            C_GetMechanismList: Some(C_GetMechanismList),
            C_GetMechanismInfo: Some(C_GetMechanismInfo),
            C_InitToken: Some(C_InitToken),
            C_InitPIN: Some(C_InitPIN),
            C_SetPIN: Some(C_SetPIN),
            C_OpenSession: Some(C_OpenSession),
            C_CloseSession: Some(C_CloseSession),
            C_CloseAllSessions: Some(C_CloseAllSessions),
            C_GetSessionInfo: Some(C_GetSessionInfo),
            C_GetOperationState: Some(C_GetOperationState),
            C_SetOperationState: Some(C_SetOperationState),
            C_Login: Some(C_Login),
            C_Logout: Some(C_Logout),
            C_CreateObject: Some(C_CreateObject),
            C_CopyObject: Some(C_CopyObject),
            C_DestroyObject: Some(C_DestroyObject),
            C_GetObjectSize: Some(C_GetObjectSize),
            C_GetAttributeValue: Some(C_GetAttributeValue),
            C_SetAttributeValue: Some(C_SetAttributeValue),
            C_FindObjectsInit: Some(C_FindObjectsInit),
            C_FindObjects: Some(C_FindObjects),
            C_FindObjectsFinal: Some(C_FindObjectsFinal),
            C_EncryptInit: Some(C_EncryptInit),
            C_Encrypt: Some(C_Encrypt),
            C_EncryptUpdate: Some(C_EncryptUpdate),
            C_EncryptFinal: Some(C_EncryptFinal),
            C_DecryptInit: Some(C_DecryptInit),
            C_Decrypt: Some(C_Decrypt),
            C_DecryptUpdate: Some(C_DecryptUpdate),
            C_DecryptFinal: Some(C_DecryptFinal),
            C_DigestInit: Some(C_DigestInit),
            C_Digest: Some(C_Digest),
            C_DigestUpdate: Some(C_DigestUpdate),
            C_DigestKey: Some(C_DigestKey),
            C_DigestFinal: Some(C_DigestFinal),
            C_SignInit: Some(C_SignInit),
            C_Sign: Some(C_Sign),
            C_SignUpdate: Some(C_SignUpdate),
            C_SignFinal: Some(C_SignFinal),
            C_SignRecoverInit: Some(C_SignRecoverInit),
            C_SignRecover: Some(C_SignRecover),
            C_VerifyInit: Some(C_VerifyInit),
            C_Verify: Some(C_Verify),
            C_VerifyUpdate: Some(C_VerifyUpdate),
            C_VerifyFinal: Some(C_VerifyFinal),
            C_VerifyRecoverInit: Some(C_VerifyRecoverInit),
            C_VerifyRecover: Some(C_VerifyRecover),
            C_DigestEncryptUpdate: Some(C_DigestEncryptUpdate),
            C_DecryptDigestUpdate: Some(C_DecryptDigestUpdate),
            C_SignEncryptUpdate: Some(C_SignEncryptUpdate),
            C_DecryptVerifyUpdate: Some(C_DecryptVerifyUpdate),
            C_GenerateKey: Some(C_GenerateKey),
            C_GenerateKeyPair: Some(C_GenerateKeyPair),
            C_WrapKey: Some(C_WrapKey),
            C_UnwrapKey: Some(C_UnwrapKey),
            C_DeriveKey: Some(C_DeriveKey),
            C_SeedRandom: Some(C_SeedRandom),
            C_GenerateRandom: Some(C_GenerateRandom),
            C_GetFunctionStatus: Some(C_GetFunctionStatus),
            C_CancelFunction: Some(C_CancelFunction),
            C_WaitForSlotEvent: Some(C_WaitForSlotEvent),
            $($extra: Some($extra),)*
        }
    };
}

/// The PKCS#11 2.40 function list.
pub static FUNCTION_LIST: CK_FUNCTION_LIST = function_list!(CK_FUNCTION_LIST, 2, 40, C_GetInfo, {});

/// The PKCS#11 3.0 function list.
pub static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = function_list!(CK_FUNCTION_LIST_3_0, 3, 0, get_info_3_0, {
    C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
    C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext, C_MessageEncryptFinal,
    C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext, C_MessageDecryptFinal,
    C_MessageSignInit, C_SignMessage, C_SignMessageBegin, C_SignMessageNext, C_MessageSignFinal,
    C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal
});

/// The PKCS#11 3.2 function list: the 3.0 one, then `C_EncapsulateKey` and
/// `C_DecapsulateKey` (ML-KEM), and the other 3.2 functions, which return
/// `CKR_FUNCTION_NOT_SUPPORTED`.
pub static FUNCTION_LIST_3_2: CK_FUNCTION_LIST_3_2 = function_list!(CK_FUNCTION_LIST_3_2, 3, 2, get_info_3_2, {
    C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
    C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext, C_MessageEncryptFinal,
    C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext, C_MessageDecryptFinal,
    C_MessageSignInit, C_SignMessage, C_SignMessageBegin, C_SignMessageNext, C_MessageSignFinal,
    C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal,
    C_EncapsulateKey, C_DecapsulateKey,
    C_VerifySignatureInit, C_VerifySignature, C_VerifySignatureUpdate, C_VerifySignatureFinal,
    C_GetSessionValidationFlags, C_AsyncComplete, C_AsyncGetID, C_AsyncJoin,
    C_WrapKeyAuthenticated, C_UnwrapKeyAuthenticated
});
