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
