//! Random number generation (PKCS#11 3.0 §5.15).

use super::convert::bytes_mut;
use super::export::export;
use super::session_provider;
use cryptoki_sys::*;

export! {
    /// `C_SeedRandom`: the embedded device mixes the seed into its
    /// generator, which keeps drawing on the operating system's entropy; a
    /// vendor device takes the seed if its module does.
    C_SeedRandom(session, data) => seed_random();
    /// `C_GenerateRandom`.
    fn C_GenerateRandom(session: CK_SESSION_HANDLE, output: *mut CK_BYTE, output_len: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: `output` is NULL or the caller's `output_len` writable bytes; `bytes_mut`
        // refuses NULL with a non-zero length
        provider.generate_random(session, unsafe { bytes_mut(output, output_len) }?)
    }
}
