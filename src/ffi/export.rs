//! The shapes of the exported functions, each written once.
//!
//! [`export!`] makes a `#[no_mangle] pub unsafe extern "C" fn` of each
//! entry, whose body runs inside [`guard`](super::guard) (named after the
//! function, catching panics), with the `# Safety` section every export
//! shares. Each file lists its chapter's exports in one `export!`; most are
//! one line naming their C shape and the provider function they call:
//!
//! ```text
//! export! {
//!     /// `C_SignUpdate`.
//!     C_SignUpdate(session, data) => absorb(Absorbing::Sign);
//! }
//! ```
//!
//! The shapes (the words in parentheses are the C arguments, in order):
//! - `(session, mechanism, key)`: `C_EncryptInit`, `C_SignInit`, ...;
//! - `(session, mechanism)`: `C_DigestInit`;
//! - `(session, data, output)`: `C_Encrypt`, `C_EncryptUpdate`, `C_Sign`, ...,
//!   whose output follows the buffer rules of PKCS#11 3.0 §5.2 (a length
//!   query with a NULL buffer, `CKR_BUFFER_TOO_SMALL`);
//! - `(session, output)`: `C_EncryptFinal`, `C_SignFinal`, ...;
//! - `(session, data)` and `(session, pin)`: `C_SignUpdate`, `C_InitPIN`, ...;
//! - `(name: type, ...) => method`: arguments with no pointer, passed on as
//!   they are (`C_CloseSession`, `C_DestroyObject`, ...);
//! - `fn (name: type, ...) { body }`: any other export, its body written out.
//!
//! A session function checks its session before any pointer or length
//! (PKCS#11 3.0 §5.1.7); every pointer is checked by `convert.rs`, and a
//! refused argument of a call that continues an operation ends that
//! operation ([`ending_on_error`](super::ending_on_error)).

/// Declares exported functions; see the module documentation.
macro_rules! export {
    ($(#[$doc:meta])* $name:ident(session, mechanism, key) => $method:ident($($extra:expr),*); $($rest:tt)*) => {
        $crate::ffi::export::export! { $(#[$doc])* fn $name(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) {
            let provider = $crate::ffi::session_provider(session)?;
            // SAFETY: `mechanism` is NULL or the caller's CK_MECHANISM, its parameter readable
            // for its length; `mechanism` refuses NULL and copies what it reads.
            let mechanism = unsafe { $crate::ffi::convert::mechanism(mechanism) }?;
            provider.$method(session, $($extra,)* &mechanism, key)
        } }
        $crate::ffi::export::export! { $($rest)* }
    };
    ($(#[$doc:meta])* $name:ident(session, mechanism) => $method:ident(); $($rest:tt)*) => {
        $crate::ffi::export::export! { $(#[$doc])* fn $name(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM) {
            let provider = $crate::ffi::session_provider(session)?;
            // SAFETY: as for the `(session, mechanism, key)` shape.
            let mechanism = unsafe { $crate::ffi::convert::mechanism(mechanism) }?;
            provider.$method(session, &mechanism)
        } }
        $crate::ffi::export::export! { $($rest)* }
    };
    ($(#[$doc:meta])* $name:ident(session, data, output) => $method:ident($($extra:expr),*); $($rest:tt)*) => {
        $crate::ffi::export::export! { $(#[$doc])* fn $name(session: CK_SESSION_HANDLE, data: *mut CK_BYTE, data_len: CK_ULONG, output: *mut CK_BYTE, output_len: *mut CK_ULONG) {
            let provider = $crate::ffi::session_provider(session)?;
            // SAFETY: `output_len` is NULL or the caller's length word, `output` NULL (a length
            // query) or a buffer of that many bytes (PKCS#11 3.0 §5.2); `capacity` refuses a NULL
            // length. `data` is NULL or `data_len` readable bytes; `bytes` refuses NULL with a
            // non-zero length. `deliver` writes no more bytes than the length word allows.
            unsafe {
                let arguments = $crate::ffi::convert::capacity(output, output_len)
                    .and_then(|capacity| Ok((capacity, $crate::ffi::convert::bytes(data, data_len)?)));
                let (capacity, data) =
                    $crate::ffi::ending_on_error(&provider, session, stringify!($name), arguments)?;
                let result = provider.$method(session, $($extra,)* data, capacity)?;
                $crate::ffi::convert::deliver(result, output, output_len)
            }
        } }
        $crate::ffi::export::export! { $($rest)* }
    };
    ($(#[$doc:meta])* $name:ident(session, output) => $method:ident($($extra:expr),*); $($rest:tt)*) => {
        $crate::ffi::export::export! { $(#[$doc])* fn $name(session: CK_SESSION_HANDLE, output: *mut CK_BYTE, output_len: *mut CK_ULONG) {
            let provider = $crate::ffi::session_provider(session)?;
            // SAFETY: as for the `(session, data, output)` shape, without the data.
            unsafe {
                let capacity = $crate::ffi::convert::capacity(output, output_len);
                let capacity =
                    $crate::ffi::ending_on_error(&provider, session, stringify!($name), capacity)?;
                let result = provider.$method(session, $($extra,)* capacity)?;
                $crate::ffi::convert::deliver(result, output, output_len)
            }
        } }
        $crate::ffi::export::export! { $($rest)* }
    };
    ($(#[$doc:meta])* $name:ident(session, data) => $method:ident($($extra:expr),*); $($rest:tt)*) => {
        $crate::ffi::export::export! { $(#[$doc])* fn $name(session: CK_SESSION_HANDLE, data: *mut CK_BYTE, data_len: CK_ULONG) {
            let provider = $crate::ffi::session_provider(session)?;
            // SAFETY: `data` is NULL or the caller's `data_len` readable bytes (PKCS#11 buffer
            // rule); `bytes` refuses NULL with a non-zero length.
            let data = unsafe { $crate::ffi::convert::bytes(data, data_len) };
            let data = $crate::ffi::ending_on_error(&provider, session, stringify!($name), data)?;
            provider.$method(session, $($extra,)* data)
        } }
        $crate::ffi::export::export! { $($rest)* }
    };
    ($(#[$doc:meta])* $name:ident(session, pin) => $method:ident(); $($rest:tt)*) => {
        $crate::ffi::export::export! { $(#[$doc])* fn $name(session: CK_SESSION_HANDLE, pin: *mut CK_UTF8CHAR, pin_len: CK_ULONG) {
            let provider = $crate::ffi::session_provider(session)?;
            // SAFETY: `pin` is NULL or the caller's `pin_len` PIN bytes; `pin` refuses NULL with
            // a non-zero length.
            provider.$method(session, unsafe { $crate::ffi::convert::pin(pin, pin_len) }?)
        } }
        $crate::ffi::export::export! { $($rest)* }
    };
    ($(#[$doc:meta])* $name:ident($($argument:ident: $type:ty),*) => $method:ident; $($rest:tt)*) => {
        $crate::ffi::export::export! { $(#[$doc])* fn $name($($argument: $type),*) {
            $crate::provider::provider()?.$method($($argument),*)
        } }
        $crate::ffi::export::export! { $($rest)* }
    };
    () => {};
    ($(#[$doc:meta])* fn $name:ident($($argument:ident: $type:ty),* $(,)?) $body:block $($rest:tt)*) => {
        $(#[$doc])*
        ///
        /// # Safety
        ///
        #[doc = concat!("Every pointer argument is NULL or valid for what PKCS#11 3.0 says `", stringify!($name), "`")]
        /// reads or writes through it, for the lengths the call gives.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($argument: $type),*) -> CK_RV {
            $crate::ffi::guard(stringify!($name), || $body)
        }
        $crate::ffi::export::export! { $($rest)* }
    };
}
pub(super) use export;
