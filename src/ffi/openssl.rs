//! Calls into OpenSSL that the `openssl` crate does not wrap safely.

use crate::error::Result;
use openssl::pkey_ctx::PkeyCtxRef;

/// Sets the OAEP label as an `OSSL_PARAM`, which OpenSSL copies.
///
/// Not `PkeyCtxRef::set_rsa_oaep_label`: openssl-sys implements
/// `EVP_PKEY_CTX_set0_rsa_oaep_label` as OpenSSL 1.1's `EVP_PKEY_CTX_ctrl`
/// macro, which on OpenSSL 3 copies the label and never frees the copy the
/// crate handed over, so every OAEP operation with a label leaked it (found
/// by the `mechanism_parameters` fuzz target under LeakSanitizer).
pub(crate) fn set_oaep_label<T>(context: &mut PkeyCtxRef<T>, label: &[u8]) -> Result<()> {
    use foreign_types::ForeignTypeRef;
    use openssl_sys::{
        EVP_PKEY_CTX_set_params, OSSL_PARAM_construct_end, OSSL_PARAM_construct_octet_string,
    };
    // SAFETY: the key name is NUL-terminated and static; the label is
    // readable for its length for as long as `parameters` lives (OpenSSL
    // reads, never writes, a parameter it is given to set).
    let parameters = unsafe {
        [
            OSSL_PARAM_construct_octet_string(
                c"oaep-label".as_ptr(),
                label.as_ptr() as *mut std::ffi::c_void,
                label.len(),
            ),
            OSSL_PARAM_construct_end(),
        ]
    };
    // SAFETY: `context` is a live EVP_PKEY_CTX initialised for encryption or
    // decryption; `parameters` is an end-terminated array that outlives the
    // call, and OpenSSL copies the label out of it.
    let set = unsafe { EVP_PKEY_CTX_set_params(context.as_ptr(), parameters.as_ptr()) };
    if set <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    Ok(())
}

/// Mixes `seed` into OpenSSL's generator. `RAND_add` on OpenSSL 3 reseeds
/// the primary DRBG from OpenSSL's own entropy source with the seed as
/// additional input (SP 800-90A), claiming no entropy for it: a seed can
/// add to what the generator holds, never replace or weaken it, and the
/// per-thread generators reseed from the primary one.
pub(crate) fn mix_into_generator(seed: &[u8]) {
    // Additional input is bounded per reseed; 4 KiB is well inside every
    // DRBG's limit and fits a C int.
    for chunk in seed.chunks(4096) {
        // SAFETY: `chunk` is readable for its length, which fits a C int;
        // OpenSSL reads it during the call and keeps no pointer to it.
        unsafe {
            openssl_sys::RAND_add(chunk.as_ptr().cast(), chunk.len() as std::ffi::c_int, 0.0)
        };
    }
}
