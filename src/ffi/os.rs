//! The operating system's C functions the rest of the crate calls, each
//! behind a safe function, so that `unsafe` stays in `ffi/`.

/// The process's effective user ID.
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this process runs with privileges its starter does not have
/// (set-uid, set-gid, file capabilities): the kernel's `AT_SECURE`.
pub(crate) fn secure_execution() -> bool {
    // SAFETY: getauxval reads the process's auxiliary vector; it has no
    // preconditions and returns 0 for an absent entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The base address of the loaded object (library or executable) that
/// holds `address`, `None` when no loaded object does.
pub(crate) fn loaded_object_base(address: usize) -> Option<usize> {
    // SAFETY: Dl_info is plain data, for which all zero is valid.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads the dynamic linker's tables, whatever the
    // address; `info` is a valid place for it to write.
    let found = unsafe { libc::dladdr(address as *const libc::c_void, &mut info) };
    (found != 0).then_some(info.dli_fbase as usize)
}
