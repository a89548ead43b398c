//! The vendor's PKCS#11 library, loaded once per process, and its
//! `C_Initialize` / `C_Finalize` (fork included).
//!
//! The library is opened with `RTLD_LOCAL | RTLD_DEEPBIND`: its symbols
//! stay out of the global namespace, and its own calls to its `C_*`
//! functions bind inside it rather than to this provider's exports of the
//! same names (the Azure Cloud HSM library is even named like this one).
//! A loaded library is never unloaded: many vendor libraries (and the
//! OpenSSL they link) do not survive `dlclose`, and `C_Finalize` followed by
//! `C_Initialize` must keep working. The calls themselves, and every
//! pointer handed to the vendor, are in `ffi/vendor/`.

use crate::error::{rv_name, Error, Result};
use crate::ffi::vendor::{self, VendorFunctions};
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// A vendor library, loaded once per process and kept.
pub(super) struct Module {
    path: PathBuf,
    functions: VendorFunctions,
    /// The process whose `C_Initialize` of the vendor is in force (0:
    /// none). A forked child finds its parent's here, so it knows the
    /// vendor's "already initialised" is inherited state to reset.
    initialized_by: AtomicU32,
}

static LOADED: Mutex<Vec<&'static Module>> = Mutex::new(Vec::new());

impl Module {
    /// Loads the library at `path` (once per process) and reads its
    /// function list. Failures name `DEVICE_MODULE` in the log.
    pub(super) fn load(path: &Path) -> Result<&'static Module> {
        if let Some(module) = LOADED.lock().iter().find(|m| m.path == path) {
            return Ok(module);
        }
        let functions = vendor::load(path).map_err(|message| module_error(path, message))?;
        let (major, minor) = functions.version();
        tracing::info!(
            "DEVICE_MODULE={}: loaded (function list {major}.{minor})",
            path.display()
        );
        let module: &'static Module = Box::leak(Box::new(Module {
            path: path.to_path_buf(),
            functions,
            initialized_by: AtomicU32::new(0),
        }));
        let mut loaded = LOADED.lock();
        if let Some(existing) = loaded.iter().find(|m| m.path == path) {
            return Ok(existing);
        }
        loaded.push(module);
        Ok(module)
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// The vendor's function list.
    pub(super) fn functions(&self) -> &VendorFunctions {
        &self.functions
    }
}

/// The vendor module, initialised: `C_Finalize` runs when the last user
/// (the device, its sessions, its operations) lets go of it.
pub(super) struct Vendor {
    module: &'static Module,
    /// False when the application had initialised the module itself
    /// before us: then it is the application's to finalise.
    owned: bool,
}

impl Vendor {
    /// `C_Initialize` of the vendor with OS locking (and no threads of its
    /// own when the application forbids them). In a forked child, the
    /// state inherited from the parent is finalised and initialised again.
    pub(super) fn initialize(
        module: &'static Module,
        may_create_threads: bool,
    ) -> Result<Arc<Vendor>> {
        let mut flags = CKF_OS_LOCKING_OK;
        if !may_create_threads {
            flags |= CKF_LIBRARY_CANT_CREATE_OS_THREADS;
        }
        let functions = module.functions();
        let pid = std::process::id();
        let Some(mut rv) = functions.initialize(flags) else {
            return Err(module_error(
                &module.path,
                "has no C_Initialize in its function list".into(),
            ));
        };
        let mut owned = true;
        if rv == CKR_CRYPTOKI_ALREADY_INITIALIZED {
            let by = module.initialized_by.load(Ordering::Acquire);
            if by != 0 && by != pid {
                tracing::info!(
                    "DEVICE_MODULE={}: initialised by the parent process {by}: initialising it again in {pid}",
                    module.path.display()
                );
                functions.finalize();
                rv = functions
                    .initialize(flags)
                    .unwrap_or(CKR_FUNCTION_NOT_SUPPORTED);
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
                &module.path,
                format!("C_Initialize returned {}", rv_name(rv)),
            ));
        }
        if owned {
            module.initialized_by.store(pid, Ordering::Release);
        }
        Ok(Arc::new(Vendor { module, owned }))
    }

    /// The vendor's function list.
    pub(super) fn functions(&self) -> &VendorFunctions {
        self.module.functions()
    }
}

impl Drop for Vendor {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let Some(rv) = self.functions().finalize() {
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

/// A failure of the module at `path`, logged naming `DEVICE_MODULE`.
fn module_error(path: &Path, message: String) -> Error {
    tracing::error!("DEVICE_MODULE={}: {message}", path.display());
    Error::VendorModule(format!("DEVICE_MODULE={}: {message}", path.display()))
}

/// The return code of a vendor error, `None` for any other error.
pub(super) fn vendor_rv(error: &Error) -> Option<CK_RV> {
    match error {
        Error::Vendor { rv, .. } => Some(*rv),
        _ => None,
    }
}
