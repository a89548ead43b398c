//! Random number generation (PKCS#11 3.0 §5.15).

use super::convert::bytes_mut;
use super::export::export;
use super::session_provider;
use cryptoki_sys::*;

export! {
    /// `C_SeedRandom`: the embedded device's generator seeds itself from the
    /// operating system (`CKR_RANDOM_SEED_NOT_SUPPORTED`); a vendor device
    /// takes the seed if its module does.
    C_SeedRandom(session, data) => seed_random();
    /// `C_GenerateRandom`.
    fn C_GenerateRandom(session: CK_SESSION_HANDLE, output: *mut CK_BYTE, output_len: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: `output` is NULL or the caller's `output_len` writable bytes; `bytes_mut`
        // refuses NULL with a non-zero length
        provider.generate_random(session, unsafe { bytes_mut(output, output_len) }?)
    }
}
