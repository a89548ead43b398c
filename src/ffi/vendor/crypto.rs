//! The vendor's cryptographic functions (PKCS#11 3.0 §5.8 to §5.13).
//!
//! Functions of one C shape share one method: [`Start`] (`C_SignInit`,
//! `C_EncryptInit`, ...), [`Input`] (`C_SignUpdate`, `C_VerifyFinal`,
//! `C_SeedRandom`, ...), [`Transform`] (`C_Sign`, `C_Encrypt`,
//! `C_EncryptUpdate`, ...) and [`Finish`] (`C_SignFinal`, ...). Each is
//! named by a constant of its shape's type, made only here, so the method
//! knows how the vendor uses each buffer (an [`Input`] is only read).

use super::buffers::VendorMechanism;
use super::{call, length, read_only, VendorFunctions, Written};
use crate::error::Result;
use cryptoki_sys::*;

type Session = CK_SESSION_HANDLE;
type StartFn = unsafe extern "C" fn(Session, *mut CK_MECHANISM, CK_OBJECT_HANDLE) -> CK_RV;
type InputFn = unsafe extern "C" fn(Session, *mut CK_BYTE, CK_ULONG) -> CK_RV;
type TransformFn =
    unsafe extern "C" fn(Session, *mut CK_BYTE, CK_ULONG, *mut CK_BYTE, *mut CK_ULONG) -> CK_RV;
type FinishFn = unsafe extern "C" fn(Session, *mut CK_BYTE, *mut CK_ULONG) -> CK_RV;

/// Declares a shape: a vendor function of one C signature, by name and
/// field of the function list.
macro_rules! shape {
    ($(#[$doc:meta])* $shape:ident($function:ty) { $($constant:ident = $field:ident,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub(crate) struct $shape {
            name: &'static str,
            select: fn(&CK_FUNCTION_LIST) -> Option<$function>,
        }

        impl $shape {
            $(
                #[doc = concat!("`", stringify!($field), "`.")]
                pub(crate) const $constant: $shape = $shape { name: stringify!($field), select: |list| list.$field };
            )*

            /// The function's name, for log lines.
            pub(crate) fn name(self) -> &'static str {
                self.name
            }
        }
    };
}

shape! {
    /// A function that starts an operation with a mechanism and a key.
    Start(StartFn) {
        SIGN_INIT = C_SignInit,
        VERIFY_INIT = C_VerifyInit,
        ENCRYPT_INIT = C_EncryptInit,
        DECRYPT_INIT = C_DecryptInit,
    }
}

shape! {
    /// A function that only reads a buffer of input.
    Input(InputFn) {
        SIGN_UPDATE = C_SignUpdate,
        VERIFY_UPDATE = C_VerifyUpdate,
        VERIFY_FINAL = C_VerifyFinal,
        DIGEST_UPDATE = C_DigestUpdate,
        SEED_RANDOM = C_SeedRandom,
    }
}

shape! {
    /// A function that reads input and writes output by the buffer rules.
    Transform(TransformFn) {
        SIGN = C_Sign,
        DIGEST = C_Digest,
        ENCRYPT = C_Encrypt,
        DECRYPT = C_Decrypt,
        ENCRYPT_UPDATE = C_EncryptUpdate,
        DECRYPT_UPDATE = C_DecryptUpdate,
    }
}

shape! {
    /// A function that ends an operation, writing output by the buffer rules.
    Finish(FinishFn) {
        SIGN_FINAL = C_SignFinal,
        DIGEST_FINAL = C_DigestFinal,
        ENCRYPT_FINAL = C_EncryptFinal,
        DECRYPT_FINAL = C_DecryptFinal,
    }
}

impl VendorFunctions {
    /// Starts `function`'s operation in `session` with `mechanism` and `key`.
    pub(crate) fn start(
        &self,
        function: Start,
        session: Session,
        mechanism: &mut VendorMechanism,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let mut raw = mechanism.raw();
        call(function.name(), (function.select)(self.list), |f| {
            // SAFETY: `raw` and its parameter point into live buffers.
            unsafe { f(session, &mut raw, key) }
        })
    }

    /// `C_DigestInit` in `session` with `mechanism`.
    pub(crate) fn digest_init(
        &self,
        session: Session,
        mechanism: &mut VendorMechanism,
    ) -> Result<()> {
        let mut raw = mechanism.raw();
        // SAFETY: `raw` and its parameter point into live buffers.
        call("C_DigestInit", self.list.C_DigestInit, |f| unsafe {
            f(session, &mut raw)
        })
    }

    /// `function` over `data`.
    pub(crate) fn input(&self, function: Input, session: Session, data: &[u8]) -> Result<()> {
        call(function.name(), (function.select)(self.list), |f| {
            // SAFETY: `data` is a live buffer of its length; an `Input` only reads it.
            unsafe { f(session, read_only(data), length(data)) }
        })
    }

    /// `function` over `data`, its output written into `output`.
    pub(crate) fn transform(
        &self,
        function: Transform,
        session: Session,
        data: &[u8],
        output: &mut [u8],
    ) -> Written {
        let mut written = length(output);
        let result = call(function.name(), (function.select)(self.list), |f| {
            // SAFETY: `data` (only read) and `output` are live buffers of
            // the lengths given; `written` is a valid place.
            unsafe {
                f(
                    session,
                    read_only(data),
                    length(data),
                    output.as_mut_ptr(),
                    &mut written,
                )
            }
        });
        Written {
            result,
            length: written,
        }
    }

    /// `function`, its output written into `output`.
    pub(crate) fn finish(&self, function: Finish, session: Session, output: &mut [u8]) -> Written {
        let mut written = length(output);
        let result = call(function.name(), (function.select)(self.list), |f| {
            // SAFETY: `output` holds `written` bytes; `written` is a valid place.
            unsafe { f(session, output.as_mut_ptr(), &mut written) }
        });
        Written {
            result,
            length: written,
        }
    }

    /// `C_Verify` of `signature` over `data`.
    pub(crate) fn verify(&self, session: Session, data: &[u8], signature: &[u8]) -> Result<()> {
        call("C_Verify", self.list.C_Verify, |f| {
            // SAFETY: both are live buffers of their lengths, which the vendor only reads.
            unsafe {
                f(
                    session,
                    read_only(data),
                    length(data),
                    read_only(signature),
                    length(signature),
                )
            }
        })
    }

    /// `C_DigestKey` of `key`.
    pub(crate) fn digest_key(&self, session: Session, key: CK_OBJECT_HANDLE) -> Result<()> {
        // SAFETY: no pointer is passed.
        call("C_DigestKey", self.list.C_DigestKey, |f| unsafe {
            f(session, key)
        })
    }
}
