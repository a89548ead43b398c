//! The crate's second C boundary: the vendor's PKCS#11 module that the
//! vendor device (`device/pkcs11/`, `DEVICE=pkcs11`) forwards to.
//!
//! Loading the library and every call into its function list happen here,
//! behind safe, typed methods of [`VendorFunctions`], so the device is
//! plain Rust. The invariant every method keeps: each pointer handed to the
//! vendor points into a Rust buffer (a slice, a [`Template`]'s attribute
//! array, a [`VendorMechanism`]'s parameter, a local output place) that
//! outlives the call, with the length beside it being that buffer's; and
//! templates, PINs and mechanism parameters go as the caller gave them
//! (`Mechanism::caller_parameter`), never re-encoded.
//!
//! - `mod.rs`: loading, `C_Initialize` / `C_Finalize`, slots, tokens,
//!   sessions and PINs;
//! - `buffers.rs`: the buffers handed to the vendor (templates, attribute
//!   arrays, mechanisms);
//! - `objects.rs`: objects, attributes, searches, keys, random numbers;
//! - `crypto.rs`: the cryptographic functions, one method per C shape.

mod buffers;
mod crypto;
mod objects;

pub(crate) use buffers::{AttributeSlot, VendorMechanism};
pub(crate) use crypto::*;

use crate::error::{rv_name, Error, Result};
use cryptoki_sys::*;
use libloading::os::unix::{Library, Symbol};
use std::path::Path;

/// The function list of a loaded vendor library, which is never unloaded
/// (so the list lives for the rest of the process). The vendor is
/// initialised with `CKF_OS_LOCKING_OK`, so its functions may be called
/// from any thread.
#[derive(Clone, Copy)]
pub(crate) struct VendorFunctions {
    list: &'static CK_FUNCTION_LIST,
}

/// What an output-producing call reported: its result, and the length of
/// what it wrote (or, with `CKR_BUFFER_TOO_SMALL`, of what it needs).
pub(crate) struct Written {
    pub result: Result<()>,
    pub length: CK_ULONG,
}

/// Loads the PKCS#11 library at `path` with `RTLD_LOCAL | RTLD_DEEPBIND`
/// and reads its function list (version 2.x or 3.x). On success the
/// library stays loaded for the rest of the process; on failure it is
/// closed again, and the message says why.
pub(crate) fn load(path: &Path) -> std::result::Result<VendorFunctions, String> {
    let flags = libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_DEEPBIND;
    // SAFETY: loading a library runs its initialisers; the configuration
    // names a PKCS#11 library, whose initialisers are the vendor's to
    // keep safe (as for any application that dlopens it).
    let library = unsafe { Library::open(Some(path), flags) }
        .map_err(|error| format!("cannot load the vendor module: {error}"))?;
    // SAFETY: C_GetFunctionList has this signature in every PKCS#11 library.
    let get_function_list: Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
        unsafe { library.get(b"C_GetFunctionList\0") }
            .map_err(|_| "not a PKCS#11 library: it has no C_GetFunctionList".to_string())?;
    if same_object(
        *get_function_list as *const () as usize,
        load as *const () as usize,
    ) {
        return Err("names this provider itself, which cannot be its own device".to_string());
    }
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: `list` is a valid place for the function to write a pointer.
    let rv = unsafe { get_function_list(&mut list) };
    // SAFETY: NULL or the vendor's list, which it keeps while the library
    // is loaded: for the rest of the process once `library` is forgotten
    // below (and only then is the reference kept).
    let list = match unsafe { list.as_ref() } {
        Some(list) if rv == CKR_OK => list,
        list => {
            return Err(format!(
                "C_GetFunctionList returned {} and {}",
                rv_name(rv),
                if list.is_none() { "no list" } else { "a list" }
            ))
        }
    };
    if list.version.major != 2 && list.version.major != 3 {
        return Err(format!(
            "its function list is version {}.{}, not 2.x",
            list.version.major, list.version.minor
        ));
    }
    // Kept loaded for the life of the process: many vendor libraries (and
    // the OpenSSL they link) do not survive `dlclose`.
    std::mem::forget(library);
    Ok(VendorFunctions { list })
}

/// True when both addresses lie in the same loaded object (library or
/// executable): a `DEVICE_MODULE` naming this provider's own file.
fn same_object(first: usize, second: usize) -> bool {
    use super::os::loaded_object_base as base;
    matches!((base(first), base(second)), (Some(a), Some(b)) if a == b)
}

/// Runs one vendor function, `invoke` being the (unsafe) call itself:
/// `CKR_FUNCTION_NOT_SUPPORTED` when the vendor's list has none, its
/// return code (as [`Error::Vendor`]) when not `CKR_OK`.
fn call<F>(name: &'static str, function: Option<F>, invoke: impl FnOnce(F) -> CK_RV) -> Result<()> {
    let function = function.ok_or(Error::Vendor {
        function: name,
        rv: CKR_FUNCTION_NOT_SUPPORTED,
    })?;
    match invoke(function) {
        CKR_OK => Ok(()),
        rv => Err(Error::Vendor { function: name, rv }),
    }
}

/// A slice's length as the vendor takes it.
fn length<T>(items: &[T]) -> CK_ULONG {
    items.len() as CK_ULONG
}

/// A read-only buffer as the vendor's (non-`const`) pointer type: the
/// functions it is passed to only read it (PINs, input data, seeds).
fn read_only(bytes: &[u8]) -> *mut u8 {
    bytes.as_ptr() as *mut u8
}

/// A list the vendor fills: `None` asks for the count only (NULL).
fn list_pointer<T>(items: &mut Option<&mut [T]>) -> (*mut T, CK_ULONG) {
    match items {
        Some(items) => (items.as_mut_ptr(), length(items)),
        None => (std::ptr::null_mut(), 0),
    }
}

impl VendorFunctions {
    /// The version of the vendor's function list.
    pub(crate) fn version(&self) -> (u8, u8) {
        (self.list.version.major, self.list.version.minor)
    }

    /// `C_Initialize` with `flags` and no mutex functions (`None`: the
    /// list has no `C_Initialize`); its return code as it is.
    pub(crate) fn initialize(&self, flags: CK_FLAGS) -> Option<CK_RV> {
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags,
            pReserved: std::ptr::null_mut(),
        };
        let initialize = self.list.C_Initialize?;
        // SAFETY: `args` is a valid CK_C_INITIALIZE_ARGS that outlives the call.
        Some(unsafe { initialize(&mut args as *mut _ as *mut std::ffi::c_void) })
    }

    /// `C_Finalize` (`None`: the list has none); its return code as it is.
    pub(crate) fn finalize(&self) -> Option<CK_RV> {
        let finalize = self.list.C_Finalize?;
        // SAFETY: NULL is the only valid argument of C_Finalize.
        Some(unsafe { finalize(std::ptr::null_mut()) })
    }

    /// `C_GetSlotList`: fills `slots` (or, with `None`, counts them) and
    /// returns the count the vendor reports.
    pub(crate) fn slot_list(
        &self,
        token_present: bool,
        mut slots: Option<&mut [CK_SLOT_ID]>,
    ) -> Result<CK_ULONG> {
        let (pointer, mut count) = list_pointer(&mut slots);
        let present = if token_present { CK_TRUE } else { CK_FALSE };
        call("C_GetSlotList", self.list.C_GetSlotList, |f| {
            // SAFETY: `pointer` is NULL or `slots`, of `count` entries.
            unsafe { f(present, pointer, &mut count) }
        })?;
        Ok(count)
    }

    /// `C_GetTokenInfo` of `slot`.
    pub(crate) fn token_info(&self, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO> {
        // SAFETY: CK_TOKEN_INFO is plain data, for which all zero is valid.
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        call("C_GetTokenInfo", self.list.C_GetTokenInfo, |f| {
            // SAFETY: `info` is a whole CK_TOKEN_INFO for the vendor to fill.
            unsafe { f(slot, &mut info) }
        })?;
        Ok(info)
    }

    /// `C_GetMechanismList` of `slot`: fills `kinds` (or, with `None`,
    /// counts them) and returns the count the vendor reports.
    pub(crate) fn mechanism_list(
        &self,
        slot: CK_SLOT_ID,
        mut kinds: Option<&mut [CK_MECHANISM_TYPE]>,
    ) -> Result<CK_ULONG> {
        let (pointer, mut count) = list_pointer(&mut kinds);
        call("C_GetMechanismList", self.list.C_GetMechanismList, |f| {
            // SAFETY: `pointer` is NULL or `kinds`, of `count` entries.
            unsafe { f(slot, pointer, &mut count) }
        })?;
        Ok(count)
    }

    /// `C_GetMechanismInfo` of `kind` in `slot`.
    pub(crate) fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        kind: CK_MECHANISM_TYPE,
    ) -> Result<CK_MECHANISM_INFO> {
        // SAFETY: CK_MECHANISM_INFO is plain data, for which all zero is valid.
        let mut info: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
        call("C_GetMechanismInfo", self.list.C_GetMechanismInfo, |f| {
            // SAFETY: `info` is a whole CK_MECHANISM_INFO for the vendor to fill.
            unsafe { f(slot, kind, &mut info) }
        })?;
        Ok(info)
    }

    /// `C_InitToken` of `slot` with the SO PIN and the 32-byte padded label.
    pub(crate) fn init_token(
        &self,
        slot: CK_SLOT_ID,
        so_pin: &[u8],
        label: &[u8; 32],
    ) -> Result<()> {
        call("C_InitToken", self.list.C_InitToken, |f| {
            // SAFETY: the PIN and the label are live buffers of the lengths
            // given (the label's is 32 by the specification); the vendor
            // only reads them.
            unsafe { f(slot, read_only(so_pin), length(so_pin), read_only(label)) }
        })
    }

    /// `C_OpenSession` on `slot` with `flags`, without callbacks.
    pub(crate) fn open_session(
        &self,
        slot: CK_SLOT_ID,
        flags: CK_FLAGS,
    ) -> Result<CK_SESSION_HANDLE> {
        let mut handle: CK_SESSION_HANDLE = 0;
        call("C_OpenSession", self.list.C_OpenSession, |f| {
            // SAFETY: no application pointer or callback; `handle` is a
            // valid place for the new session's handle.
            unsafe { f(slot, flags, std::ptr::null_mut(), None, &mut handle) }
        })?;
        Ok(handle)
    }

    /// `C_CloseSession`.
    pub(crate) fn close_session(&self, session: CK_SESSION_HANDLE) -> Result<()> {
        // SAFETY: no pointer is passed.
        call("C_CloseSession", self.list.C_CloseSession, |f| unsafe {
            f(session)
        })
    }

    /// `C_GetSessionInfo`.
    pub(crate) fn session_info(&self, session: CK_SESSION_HANDLE) -> Result<CK_SESSION_INFO> {
        // SAFETY: CK_SESSION_INFO is plain data, for which all zero is valid.
        let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
        call("C_GetSessionInfo", self.list.C_GetSessionInfo, |f| {
            // SAFETY: `info` is a whole CK_SESSION_INFO for the vendor to fill.
            unsafe { f(session, &mut info) }
        })?;
        Ok(info)
    }

    /// `C_Login` as `user` with `pin`, as the caller gave it.
    pub(crate) fn login(
        &self,
        session: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: &[u8],
    ) -> Result<()> {
        call("C_Login", self.list.C_Login, |f| {
            // SAFETY: the PIN is a live buffer of its length; the vendor only reads it.
            unsafe { f(session, user, read_only(pin), length(pin)) }
        })
    }

    /// `C_Logout`.
    pub(crate) fn logout(&self, session: CK_SESSION_HANDLE) -> Result<()> {
        // SAFETY: no pointer is passed.
        call("C_Logout", self.list.C_Logout, |f| unsafe { f(session) })
    }

    /// `C_InitPIN` with `pin`, as the caller gave it.
    pub(crate) fn init_pin(&self, session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        call("C_InitPIN", self.list.C_InitPIN, |f| {
            // SAFETY: the PIN is a live buffer of its length; the vendor only reads it.
            unsafe { f(session, read_only(pin), length(pin)) }
        })
    }

    /// `C_SetPIN` from `old_pin` to `new_pin`, as the caller gave them.
    pub(crate) fn set_pin(
        &self,
        session: CK_SESSION_HANDLE,
        old_pin: &[u8],
        new_pin: &[u8],
    ) -> Result<()> {
        call("C_SetPIN", self.list.C_SetPIN, |f| {
            // SAFETY: both PINs are live buffers of their lengths; the vendor only reads them.
            unsafe {
                f(
                    session,
                    read_only(old_pin),
                    length(old_pin),
                    read_only(new_pin),
                    length(new_pin),
                )
            }
        })
    }
}
