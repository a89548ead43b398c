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
    let parameters = octet_string_parameter(c"oaep-label", label);
    // SAFETY: `context` is a live EVP_PKEY_CTX initialised for encryption or
    // decryption; `parameters` is an end-terminated array that outlives the
    // call, and OpenSSL copies the label out of it.
    let set =
        unsafe { openssl_sys::EVP_PKEY_CTX_set_params(context.as_ptr(), parameters.as_ptr()) };
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

// OpenSSL 3 functions that openssl-sys does not declare.
extern "C" {
    fn OSSL_PARAM_construct_int(
        key: *const std::ffi::c_char,
        buf: *mut std::ffi::c_int,
    ) -> openssl_sys::OSSL_PARAM;
    fn OSSL_PARAM_construct_utf8_string(
        key: *const std::ffi::c_char,
        buf: *mut std::ffi::c_char,
        bsize: usize,
    ) -> openssl_sys::OSSL_PARAM;
}

/// Sets the EdDSA instance (RFC 8032 §5: `Ed25519ctx`, `Ed25519ph`, `Ed448`,
/// `Ed448ph`) and its context string on a signature context made by
/// `EVP_DigestSignInit`/`EVP_DigestVerifyInit` (OpenSSL 3.2 and later). The
/// pre-hash instances hash the message themselves (SHA-512, SHAKE256).
pub(crate) fn set_eddsa_instance<T>(
    context: &mut PkeyCtxRef<T>,
    instance: &'static std::ffi::CStr,
    context_string: &[u8],
) -> Result<()> {
    use foreign_types::ForeignTypeRef;
    use openssl_sys::{
        EVP_PKEY_CTX_set_params, OSSL_PARAM_construct_end, OSSL_PARAM_construct_octet_string,
    };
    // SAFETY: the key names and the instance name are NUL-terminated and
    // static; the context string is readable for its length for as long as
    // `parameters` lives. OpenSSL reads, never writes, a parameter it is
    // given to set (the utf8 buffer's size 0 means "up to its NUL").
    let parameters = unsafe {
        [
            OSSL_PARAM_construct_utf8_string(
                c"instance".as_ptr(),
                instance.as_ptr() as *mut std::ffi::c_char,
                0,
            ),
            OSSL_PARAM_construct_octet_string(
                c"context-string".as_ptr(),
                context_string.as_ptr() as *mut std::ffi::c_void,
                context_string.len(),
            ),
            OSSL_PARAM_construct_end(),
        ]
    };
    // SAFETY: `context` is a live EVP_PKEY_CTX of an EdDSA signature or
    // verification; `parameters` is an end-terminated array that outlives
    // the call, and OpenSSL copies what it takes from it.
    let set = unsafe { EVP_PKEY_CTX_set_params(context.as_ptr(), parameters.as_ptr()) };
    if set <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    Ok(())
}

/// One octet-string `OSSL_PARAM` and the end marker, borrowing its value.
pub(crate) struct OctetStringParameter<'a> {
    array: [openssl_sys::OSSL_PARAM; 2],
    _value: std::marker::PhantomData<&'a [u8]>,
}

impl OctetStringParameter<'_> {
    /// The end-terminated array, for as long as `self` lives.
    pub(crate) fn as_ptr(&self) -> *const openssl_sys::OSSL_PARAM {
        self.array.as_ptr()
    }
}

/// The parameter `key` = `value`, for a call that only reads it.
pub(crate) fn octet_string_parameter<'a>(
    key: &'static std::ffi::CStr,
    value: &'a [u8],
) -> OctetStringParameter<'a> {
    use openssl_sys::{OSSL_PARAM_construct_end, OSSL_PARAM_construct_octet_string};
    // SAFETY: the key is NUL-terminated and static; the value is readable
    // for its length while the borrow the result carries lives.
    let array = unsafe {
        [
            OSSL_PARAM_construct_octet_string(
                key.as_ptr(),
                value.as_ptr() as *mut std::ffi::c_void,
                value.len(),
            ),
            OSSL_PARAM_construct_end(),
        ]
    };
    OctetStringParameter {
        array,
        _value: std::marker::PhantomData,
    }
}

/// Sets the integer parameter `key` on a signature context (ML-DSA's
/// `deterministic`).
pub(crate) fn set_int_parameter<T>(
    context: &mut PkeyCtxRef<T>,
    key: &'static std::ffi::CStr,
    value: i32,
) -> Result<()> {
    use foreign_types::ForeignTypeRef;
    use openssl_sys::{EVP_PKEY_CTX_set_params, OSSL_PARAM_construct_end};
    let mut value: std::ffi::c_int = value;
    // SAFETY: the key is NUL-terminated and static; `value` lives until the
    // end of this function, past the call that reads it.
    let parameters = unsafe {
        [
            OSSL_PARAM_construct_int(key.as_ptr(), &mut value),
            OSSL_PARAM_construct_end(),
        ]
    };
    // SAFETY: `context` is a live EVP_PKEY_CTX; `parameters` is an
    // end-terminated array that outlives the call.
    let set = unsafe { EVP_PKEY_CTX_set_params(context.as_ptr(), parameters.as_ptr()) };
    if set <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    Ok(())
}

/// `EVP_PKEY_encapsulate` on a fresh context of an ML-KEM key:
/// (ciphertext, shared secret). `entropy` sets `ikme` (FIPS 203's m, for
/// known-answer tests); `None` draws it from the generator.
pub(crate) fn encapsulate<T>(
    context: &mut PkeyCtxRef<T>,
    entropy: Option<&[u8]>,
) -> Result<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)> {
    use foreign_types::ForeignTypeRef;
    use openssl_sys::{EVP_PKEY_encapsulate, EVP_PKEY_encapsulate_init};
    let parameters = entropy.map(|m| octet_string_parameter(c"ikme", m));
    let parameters_ptr = parameters
        .as_ref()
        .map_or(std::ptr::null(), OctetStringParameter::as_ptr);
    // SAFETY: `context` is a live EVP_PKEY_CTX; the parameters are NULL or
    // an end-terminated array that outlives the call.
    if unsafe { EVP_PKEY_encapsulate_init(context.as_ptr(), parameters_ptr) } <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    let (mut ciphertext_len, mut secret_len) = (0usize, 0usize);
    // SAFETY: a length query: with NULL buffers OpenSSL writes the two lengths only.
    let sized = unsafe {
        EVP_PKEY_encapsulate(
            context.as_ptr(),
            std::ptr::null_mut(),
            &mut ciphertext_len,
            std::ptr::null_mut(),
            &mut secret_len,
        )
    };
    if sized <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    let mut ciphertext = vec![0u8; ciphertext_len];
    let mut secret = zeroize::Zeroizing::new(vec![0u8; secret_len]);
    // SAFETY: both buffers are writable for the lengths passed in, which
    // OpenSSL gave for this context just before.
    let made = unsafe {
        EVP_PKEY_encapsulate(
            context.as_ptr(),
            ciphertext.as_mut_ptr(),
            &mut ciphertext_len,
            secret.as_mut_ptr(),
            &mut secret_len,
        )
    };
    if made <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    ciphertext.truncate(ciphertext_len);
    secret.truncate(secret_len);
    Ok((ciphertext, secret))
}

/// `EVP_PKEY_decapsulate` on a fresh context of an ML-KEM private key:
/// the shared secret (at most `secret_len` bytes) of `ciphertext`.
pub(crate) fn decapsulate<T>(
    context: &mut PkeyCtxRef<T>,
    ciphertext: &[u8],
    secret_len: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    use foreign_types::ForeignTypeRef;
    use openssl_sys::{EVP_PKEY_decapsulate, EVP_PKEY_decapsulate_init};
    // SAFETY: `context` is a live EVP_PKEY_CTX; no parameters.
    if unsafe { EVP_PKEY_decapsulate_init(context.as_ptr(), std::ptr::null()) } <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    let mut secret = zeroize::Zeroizing::new(vec![0u8; secret_len]);
    let mut written = secret.len();
    // SAFETY: `secret` is writable for `written` bytes and `ciphertext`
    // readable for its length; OpenSSL keeps neither.
    let made = unsafe {
        EVP_PKEY_decapsulate(
            context.as_ptr(),
            secret.as_mut_ptr(),
            &mut written,
            ciphertext.as_ptr(),
            ciphertext.len(),
        )
    };
    if made <= 0 {
        return Err(openssl::error::ErrorStack::get().into());
    }
    secret.truncate(written);
    Ok(secret)
}
