//! Random number generation (PKCS#11 3.0 §5.15).

use super::convert::{bytes, bytes_mut};
use super::{guard, session_provider};
use cryptoki_sys::*;

/// `C_SeedRandom`: the embedded device's generator seeds itself from the
/// operating system (`CKR_RANDOM_SEED_NOT_SUPPORTED`); a vendor device
/// takes the seed if its module does.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_SeedRandom` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_SeedRandom(
    session: CK_SESSION_HANDLE,
    seed: *mut CK_BYTE,
    seed_len: CK_ULONG,
) -> CK_RV {
    guard("C_SeedRandom", || {
        // The session is checked before the pointer (§5.1.7's order).
        let provider = session_provider(session)?;
        // SAFETY: `seed` is NULL or the caller's `seed_len` readable bytes (PKCS#11 buffer
        // rule); `bytes` refuses NULL with a non-zero length
        let seed = unsafe { bytes(seed, seed_len) }?;
        provider.seed_random(session, seed)
    })
}

/// `C_GenerateRandom`.
///
/// # Safety
///
/// Every pointer argument is NULL or valid for what PKCS#11 3.0 says
/// `C_GenerateRandom` reads or writes through it, for the lengths the call gives.
#[no_mangle]
pub unsafe extern "C" fn C_GenerateRandom(
    session: CK_SESSION_HANDLE,
    out: *mut CK_BYTE,
    len: CK_ULONG,
) -> CK_RV {
    guard("C_GenerateRandom", || {
        let provider = session_provider(session)?;
        // SAFETY: `out` is NULL or the caller's `len` writable bytes; `bytes_mut` refuses NULL
        // with a non-zero length
        provider.generate_random(session, unsafe { bytes_mut(out, len) }?)
    })
}
