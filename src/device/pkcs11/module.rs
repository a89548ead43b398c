//! Loading the vendor's PKCS#11 library and calling its function list.
//!
//! This file and the rest of `device/pkcs11/` are the provider's second C
//! boundary (the first is `ffi/`): raw pointers go to the vendor here, each
//! built from a Rust buffer that outlives the call.
//!
//! The library is opened with `RTLD_LOCAL | RTLD_DEEPBIND`: its symbols
//! stay out of the global namespace, and its own calls to its `C_*`
//! functions bind inside it rather than to this provider's exports of the
//! same names (the Azure Cloud HSM library is even named like this one).
//! A loaded library is never unloaded: many vendor libraries (and the
//! OpenSSL they link) do not survive `dlclose`, and `C_Finalize` followed by
//! `C_Initialize` must keep working.

use crate::error::{rv_name, Error, Result};
use cryptoki_sys::*;
use libloading::os::unix::{Library, Symbol};
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A vendor library, loaded once per process and kept.
pub struct Module {
    path: PathBuf,
    functions: *const CK_FUNCTION_LIST,
    /// The process whose `C_Initialize` of the vendor is in force (0:
    /// none). A forked child finds its parent's here, so it knows the
    /// vendor's "already initialised" is inherited state to reset.
    initialized_by: AtomicU32,
}

// SAFETY: the function list is immutable for the life of the library
// (never unloaded), and the vendor is initialised with CKF_OS_LOCKING_OK,
// so its functions may be called from any thread.
unsafe impl Send for Module {}
// SAFETY: as above.
unsafe impl Sync for Module {}

static LOADED: Mutex<Vec<&'static Module>> = Mutex::new(Vec::new());

impl Module {
    /// Loads the library at `path` (once per process) and reads its
    /// function list. Failures name `DEVICE_MODULE` in the log.
    pub fn load(path: &Path) -> Result<&'static Module> {
        if let Some(module) = LOADED.lock().iter().find(|m| m.path == path) {
            return Ok(module);
        }
        let fail = |message: String| {
            tracing::error!("DEVICE_MODULE={}: {message}", path.display());
            Error::DeviceError(format!("DEVICE_MODULE={}: {message}", path.display()))
        };
        let flags = libc::RTLD_NOW | libc::RTLD_LOCAL | libc::RTLD_DEEPBIND;
        // SAFETY: loading a library runs its initialisers; the configuration
        // names a PKCS#11 library, whose initialisers are the vendor's to
        // keep safe (as for any application that dlopens it).
        let library = unsafe { Library::open(Some(path), flags) }
            .map_err(|error| fail(format!("cannot load the vendor module: {error}")))?;
        // SAFETY: C_GetFunctionList has this signature in every PKCS#11 library.
        let get_function_list: Symbol<unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV> =
            unsafe { library.get(b"C_GetFunctionList\0") }.map_err(|_| {
                fail("not a PKCS#11 library: it has no C_GetFunctionList".to_string())
            })?;
        if same_object(
            *get_function_list as *const () as usize,
            Module::load as *const () as usize,
        ) {
            return Err(fail(
                "names this provider itself, which cannot be its own device".to_string(),
            ));
        }
        let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
        // SAFETY: `list` is a valid place for the function to write a pointer.
        let rv = unsafe { get_function_list(&mut list) };
        if rv != CKR_OK || list.is_null() {
            return Err(fail(format!(
                "C_GetFunctionList returned {} and {}",
                rv_name(rv),
                if list.is_null() { "no list" } else { "a list" }
            )));
        }
        // SAFETY: non-NULL, and the vendor keeps its list for the library's life.
        let version = unsafe { (*list).version };
        if version.major != 2 && version.major != 3 {
            return Err(fail(format!(
                "its function list is version {}.{}, not 2.x",
                version.major, version.minor
            )));
        }
        tracing::info!(
            "DEVICE_MODULE={}: loaded (function list {}.{})",
            path.display(),
            version.major,
            version.minor
        );
        // Kept loaded for the life of the process (see the module comment).
        std::mem::forget(library);
        let module: &'static Module = Box::leak(Box::new(Module {
            path: path.to_path_buf(),
            functions: list,
            initialized_by: AtomicU32::new(0),
        }));
        let mut loaded = LOADED.lock();
        if let Some(existing) = loaded.iter().find(|m| m.path == path) {
            return Ok(existing);
        }
        loaded.push(module);
        Ok(module)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vendor's function list.
    pub fn functions(&self) -> &CK_FUNCTION_LIST {
        // SAFETY: checked non-NULL at load; valid while the library is
        // loaded, which is for the rest of the process.
        unsafe { &*self.functions }
    }
}

/// The vendor module, initialised: `C_Finalize` runs when the last user
/// (the device, its sessions, its operations) lets go of it.
pub struct Vendor {
    module: &'static Module,
    /// False when the application had initialised the module itself
    /// before us: then it is the application's to finalise.
    owned: bool,
}

impl Vendor {
    /// `C_Initialize` of the vendor with OS locking (and no threads of its
    /// own when the application forbids them). In a forked child, the
    /// state inherited from the parent is finalised and initialised again.
    pub fn initialize(module: &'static Module, may_create_threads: bool) -> Result<Arc<Vendor>> {
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: std::ptr::null_mut(),
        };
        if !may_create_threads {
            args.flags |= CKF_LIBRARY_CANT_CREATE_OS_THREADS;
        }
        let functions = module.functions();
        let initialize = functions.C_Initialize.ok_or_else(|| {
            module_error(module, "has no C_Initialize in its function list".into())
        })?;
        let pid = std::process::id();
        // SAFETY: `args` is a valid CK_C_INITIALIZE_ARGS that outlives the call.
        let mut rv = unsafe { initialize(&mut args as *mut _ as *mut std::ffi::c_void) };
        let mut owned = true;
        if rv == CKR_CRYPTOKI_ALREADY_INITIALIZED {
            let by = module.initialized_by.load(Ordering::Acquire);
            if by != 0 && by != pid {
                tracing::info!(
                    "DEVICE_MODULE={}: initialised by the parent process {by}: initialising it again in {pid}",
                    module.path.display()
                );
                if let Some(finalize) = functions.C_Finalize {
                    // SAFETY: NULL is the only valid argument of C_Finalize.
                    unsafe { finalize(std::ptr::null_mut()) };
                }
                // SAFETY: as above.
                rv = unsafe { initialize(&mut args as *mut _ as *mut std::ffi::c_void) };
            } else if by == 0 {
                tracing::warn!(
                    "DEVICE_MODULE={}: the application initialised it already; sharing its state",
                    module.path.display()
                );
                owned = false;
                rv = CKR_OK;
            } else {
                rv = CKR_OK;
            }
        }
        if rv != CKR_OK {
            return Err(module_error(
                module,
                format!("C_Initialize returned {}", rv_name(rv)),
            ));
        }
        if owned {
            module.initialized_by.store(pid, Ordering::Release);
        }
        Ok(Arc::new(Vendor { module, owned }))
    }

    /// The vendor's function list.
    pub fn functions(&self) -> &CK_FUNCTION_LIST {
        self.module.functions()
    }
}

impl Drop for Vendor {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Some(finalize) = self.functions().C_Finalize {
            // SAFETY: NULL is the only valid argument of C_Finalize.
            let rv = unsafe { finalize(std::ptr::null_mut()) };
            if rv != CKR_OK {
                tracing::warn!(
                    "DEVICE_MODULE={}: C_Finalize returned {}",
                    self.module.path.display(),
                    rv_name(rv)
                );
            }
        }
        self.module.initialized_by.store(0, Ordering::Release);
    }
}

/// True when both addresses lie in the same loaded object (library or
/// executable): a `DEVICE_MODULE` naming this provider's own file.
fn same_object(first: usize, second: usize) -> bool {
    use crate::ffi::os::loaded_object_base as base;
    matches!((base(first), base(second)), (Some(a), Some(b)) if a == b)
}

fn module_error(module: &Module, message: String) -> Error {
    tracing::error!("DEVICE_MODULE={}: {message}", module.path.display());
    Error::DeviceError(format!(
        "DEVICE_MODULE={}: {message}",
        module.path.display()
    ))
}

/// Calls a vendor function by name: `CKR_FUNCTION_NOT_SUPPORTED` when the
/// vendor's list has none, its return code (as [`Error::Vendor`]) when not
/// `CKR_OK`. The arguments are pointers into buffers the caller of the
/// macro keeps alive across the call, or plain values.
macro_rules! vendor_call {
    ($vendor:expr, $function:ident ( $($argument:expr),* $(,)? )) => {{
        match $vendor.functions().$function {
            None => Err($crate::error::Error::Vendor {
                function: stringify!($function),
                rv: cryptoki_sys::CKR_FUNCTION_NOT_SUPPORTED,
            }),
            Some(function) => {
                // SAFETY: a PKCS#11 function of the vendor's list, called
                // with arguments of its C signature that point into live
                // buffers of the right sizes (see each call site).
                let rv = unsafe { function($($argument),*) };
                if rv == cryptoki_sys::CKR_OK {
                    Ok(())
                } else {
                    Err($crate::error::Error::Vendor {
                        function: stringify!($function),
                        rv,
                    })
                }
            }
        }
    }};
}
pub(crate) use vendor_call;

/// The return code of a vendor error, `None` for any other error.
pub fn vendor_rv(error: &Error) -> Option<CK_RV> {
    match error {
        Error::Vendor { rv, .. } => Some(*rv),
        _ => None,
    }
}
