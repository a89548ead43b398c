//! The one error type of the provider. Every failure below `ffi/` is an
//! [`Error`]; `ffi/` turns it into a `CK_RV` with [`Error::rv`], in one place.

use cryptoki_sys::*;

/// PKCS#11 defines no return code for an unsupported certificate type; the
/// specification's answer for a value the token does not accept is
/// `CKR_ATTRIBUTE_VALUE_INVALID`. `include/azcloudhsm_pkcs11.h` defines
/// `CKR_CERTIFICATE_TYPE_INVALID` with this value, so code written against
/// that name and generic clients agree.
pub const CKR_CERTIFICATE_TYPE_INVALID: CK_RV = CKR_ATTRIBUTE_VALUE_INVALID;

/// A PKCS#11 failure with enough context for the log line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("arguments bad: {0}")]
    ArgumentsBad(&'static str),
    /// One blob of the store cannot be a certificate (a FIFO, a symbolic
    /// link, a directory, an oversized or unreadable file): that blob is
    /// left out, the rest of the store is not affected.
    #[error("blob {blob} is unreadable: {reason}")]
    BlobUnreadable { blob: String, reason: String },
    /// `C_GetInterface` asked for a name, version or flags not offered: a
    /// client probing for what it prefers, not a mistake (PKCS#11 3.0 §5.4.7
    /// gives `CKR_ARGUMENTS_BAD`).
    #[error("no interface {0} is offered")]
    InterfaceNotOffered(&'static str),
    #[error("action prohibited: {0}")]
    ActionProhibited(&'static str),
    #[error("attribute 0x{0:x} is read-only")]
    AttributeReadOnly(CK_ATTRIBUTE_TYPE),
    #[error("attribute 0x{0:x} is sensitive")]
    AttributeSensitive(CK_ATTRIBUTE_TYPE),
    #[error("attribute 0x{0:x} is not valid for this object")]
    AttributeTypeInvalid(CK_ATTRIBUTE_TYPE),
    #[error("attribute 0x{0:x} has an invalid value")]
    AttributeValueInvalid(CK_ATTRIBUTE_TYPE),
    #[error("buffer too small")]
    BufferTooSmall,
    #[error("certificate type invalid")]
    CertificateTypeInvalid,
    #[error("cryptoki already initialized")]
    AlreadyInitialized,
    #[error("cryptoki not initialized")]
    NotInitialized,
    #[error("curve not supported")]
    CurveNotSupported,
    #[error("data invalid")]
    DataInvalid,
    #[error("data length out of range")]
    DataLenRange,
    /// The configuration cannot be used (a key's value, a file it names,
    /// the environment): `CKR_GENERAL_ERROR`, so `C_Initialize` fails, and
    /// the message names the key at fault (never a secret).
    #[error("configuration: {0}")]
    Configuration(String),
    /// Something the provider needs could not be set up (an async runtime,
    /// an HTTP client, a credential): `CKR_GENERAL_ERROR`.
    #[error("cannot set up {what}: {source}")]
    Setup {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A request to the certificate store's service failed after its
    /// retries: `CKR_DEVICE_ERROR`. The SDK's error is kept as redacted
    /// text only (`detail`), because its own text may quote a URL with
    /// its SAS; `status` is the HTTP status when there was an answer.
    #[error(
        "{operation}{} in {container} (authentication: {authentication}): {detail}",
        blob_suffix(blob)
    )]
    StoreRequest {
        operation: &'static str,
        blob: String,
        container: String,
        authentication: &'static str,
        status: Option<u16>,
        detail: String,
    },
    /// The certificate store cannot take requests (it is closed, or cannot
    /// be driven from the calling thread): `CKR_DEVICE_ERROR`.
    #[error("certificate storage: {0}")]
    StoreUnavailable(String),
    /// The soft token's own data (a PIN record, a key row, sealed key
    /// material) is damaged or was changed outside the token:
    /// `CKR_DEVICE_ERROR`.
    #[error("token data: {0}")]
    CorruptTokenData(String),
    /// The blob-signing key cannot be used: it is missing, was destroyed
    /// or replaced, or is not an RSA key: `CKR_DEVICE_ERROR`.
    #[error("blob signing key: {0}")]
    BlobSigningKey(String),
    /// A directory the token would live in is not safe (a symbolic link,
    /// another user's, writable by others): `CKR_DEVICE_ERROR`.
    #[error("token directory {}: {reason}", path.display())]
    UnsafeDirectory {
        path: std::path::PathBuf,
        reason: String,
    },
    /// Other sessions or processes kept the resource busy past the wait
    /// allowed (every try of a PIN held by concurrent checks):
    /// `CKR_DEVICE_ERROR`.
    #[error("busy: {0}")]
    Busy(&'static str),
    /// Another process changed the object between two steps of this call;
    /// trying again succeeds: `CKR_FUNCTION_FAILED`.
    #[error("changed concurrently: {0}")]
    ChangedConcurrently(String),
    /// The vendor module of `DEVICE=pkcs11` cannot be used (it does not
    /// load, has no such token) or answered outside the specification
    /// (more output than its buffer, a list that never settles):
    /// `CKR_DEVICE_ERROR`. A return code it gives is [`Error::Vendor`].
    #[error("vendor module: {0}")]
    VendorModule(String),
    /// A JWS could not be made or a blob-verification key not read
    /// (`josekit` failed where its input was already checked):
    /// `CKR_FUNCTION_FAILED`.
    #[error("{operation}: {source}")]
    Jws {
        operation: &'static str,
        #[source]
        source: josekit::JoseError,
    },
    /// A fact the code relies on did not hold (a counter overflowed, a
    /// library answered outside its contract): `CKR_GENERAL_ERROR`.
    #[error("internal error: {0}")]
    Internal(&'static str),
    /// A key's sealed value does not open with what the database says of it
    /// (its public half or attributes were changed outside the token): the
    /// key neither signs nor verifies. CKR_DEVICE_ERROR.
    #[error("device error: {0}")]
    KeyBindingBroken(String),
    #[error("device memory: {0}")]
    DeviceMemory(String),
    /// A file of the token directory or the local certificate store could
    /// not be read or written: `CKR_DEVICE_MEMORY` when the file system has
    /// no room left (no space, over quota, over the file-size limit),
    /// `CKR_DEVICE_ERROR` otherwise.
    #[error("{operation} {}: {source}", path.display())]
    Storage {
        operation: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encrypted data invalid")]
    EncryptedDataInvalid,
    #[error("encrypted data length out of range")]
    EncryptedDataLenRange,
    /// OpenSSL failed where the input was already checked: `CKR_FUNCTION_FAILED`.
    #[error("function failed: openssl: {0}")]
    Crypto(#[source] openssl::error::ErrorStack),
    /// The soft device's SQLite database failed: `CKR_DEVICE_MEMORY` when
    /// the disk is full, `CKR_DEVICE_ERROR` otherwise.
    #[error("token database: {0}")]
    TokenDatabase(#[source] rusqlite::Error),
    #[error("function not supported: {0}")]
    FunctionNotSupported(&'static str),
    #[error("host memory")]
    HostMemory,
    #[error("key handle invalid")]
    KeyHandleInvalid,
    #[error("key function not permitted: {0}")]
    KeyFunctionNotPermitted(&'static str),
    #[error("key size out of range")]
    KeySizeRange,
    #[error("key type inconsistent")]
    KeyTypeInconsistent,
    #[error("key not wrappable: {0}")]
    KeyNotWrappable(&'static str),
    #[error("key unextractable (CKA_EXTRACTABLE is false)")]
    KeyUnextractable,
    /// `C_DigestKey` of a key the token does not digest (a sensitive or
    /// non-secret key); the digest operation goes on.
    #[error("key indigestible")]
    KeyIndigestible,
    /// `C_SeedRandom` on a device that takes no seed.
    #[error("the random number generator takes no seed")]
    RandomSeedNotSupported,
    /// `C_GetFunctionStatus` and `C_CancelFunction`: functions never run
    /// in parallel (the answer for a valid session).
    #[error("functions do not run in parallel")]
    FunctionNotParallel,
    #[error("mechanism 0x{0:x} invalid")]
    MechanismInvalid(CK_MECHANISM_TYPE),
    #[error("mechanism parameter invalid: {0}")]
    MechanismParamInvalid(&'static str),
    #[error("object handle invalid")]
    ObjectHandleInvalid,
    #[error("operation active")]
    OperationActive,
    #[error("operation not initialized")]
    OperationNotInitialized,
    #[error("PIN incorrect")]
    PinIncorrect,
    #[error("PIN invalid")]
    PinInvalid,
    #[error("PIN length out of range")]
    PinLenRange,
    #[error("PIN locked")]
    PinLocked,
    #[error("random number generator not available")]
    RandomNoRng,
    #[error("session handle invalid")]
    SessionHandleInvalid,
    #[error("session count exceeded")]
    SessionCount,
    #[error("parallel sessions not supported")]
    SessionParallelNotSupported,
    #[error("session is read-only")]
    SessionReadOnly,
    #[error("a session exists")]
    SessionExists,
    #[error("a read-only session exists")]
    SessionReadOnlyExists,
    #[error("a read/write SO session exists")]
    SessionReadWriteSoExists,
    #[error("signature invalid")]
    SignatureInvalid,
    #[error("signature length out of range")]
    SignatureLenRange,
    #[error("slot id invalid")]
    SlotIdInvalid,
    #[error("template incomplete: 0x{0:x} missing")]
    TemplateIncomplete(CK_ATTRIBUTE_TYPE),
    #[error("template inconsistent: {0}")]
    TemplateInconsistent(&'static str),
    #[error("token not initialized")]
    TokenNotRecognized,
    #[error("token not present: {0}")]
    TokenNotPresent(String),
    #[error("unwrapping key handle invalid")]
    UnwrappingKeyHandleInvalid,
    #[error("user already logged in")]
    UserAlreadyLoggedIn,
    #[error("another user already logged in")]
    UserAnotherAlreadyLoggedIn,
    #[error("user not logged in")]
    UserNotLoggedIn,
    #[error("user PIN not initialized")]
    UserPinNotInitialized,
    #[error("user type invalid")]
    UserTypeInvalid,
    #[error("wrapped key invalid")]
    WrappedKeyInvalid,
    #[error("wrapped key length out of range")]
    WrappedKeyLenRange,
    #[error("wrapping key handle invalid")]
    WrappingKeyHandleInvalid,
    #[error("wrapping key type inconsistent")]
    WrappingKeyTypeInconsistent,
    #[error("unwrapping key type inconsistent")]
    UnwrappingKeyTypeInconsistent,
    /// A vendor PKCS#11 module (`DEVICE=pkcs11`) refused a call: its
    /// return code goes to the caller unchanged.
    #[error("vendor module: {function} returned {}", rv_name(*rv))]
    Vendor { function: &'static str, rv: CK_RV },
}

/// The name of a return code, for log lines (`0x...` for one not listed).
pub fn rv_name(rv: CK_RV) -> String {
    let name = match rv {
        CKR_OK => "CKR_OK",
        CKR_CANCEL => "CKR_CANCEL",
        CKR_HOST_MEMORY => "CKR_HOST_MEMORY",
        CKR_SLOT_ID_INVALID => "CKR_SLOT_ID_INVALID",
        CKR_GENERAL_ERROR => "CKR_GENERAL_ERROR",
        CKR_FUNCTION_FAILED => "CKR_FUNCTION_FAILED",
        CKR_ARGUMENTS_BAD => "CKR_ARGUMENTS_BAD",
        CKR_CANT_LOCK => "CKR_CANT_LOCK",
        CKR_ATTRIBUTE_READ_ONLY => "CKR_ATTRIBUTE_READ_ONLY",
        CKR_ATTRIBUTE_SENSITIVE => "CKR_ATTRIBUTE_SENSITIVE",
        CKR_ATTRIBUTE_TYPE_INVALID => "CKR_ATTRIBUTE_TYPE_INVALID",
        CKR_ATTRIBUTE_VALUE_INVALID => "CKR_ATTRIBUTE_VALUE_INVALID",
        CKR_ACTION_PROHIBITED => "CKR_ACTION_PROHIBITED",
        CKR_DATA_INVALID => "CKR_DATA_INVALID",
        CKR_DATA_LEN_RANGE => "CKR_DATA_LEN_RANGE",
        CKR_DEVICE_ERROR => "CKR_DEVICE_ERROR",
        CKR_DEVICE_MEMORY => "CKR_DEVICE_MEMORY",
        CKR_DEVICE_REMOVED => "CKR_DEVICE_REMOVED",
        CKR_ENCRYPTED_DATA_INVALID => "CKR_ENCRYPTED_DATA_INVALID",
        CKR_ENCRYPTED_DATA_LEN_RANGE => "CKR_ENCRYPTED_DATA_LEN_RANGE",
        CKR_FUNCTION_NOT_SUPPORTED => "CKR_FUNCTION_NOT_SUPPORTED",
        CKR_KEY_HANDLE_INVALID => "CKR_KEY_HANDLE_INVALID",
        CKR_KEY_SIZE_RANGE => "CKR_KEY_SIZE_RANGE",
        CKR_KEY_TYPE_INCONSISTENT => "CKR_KEY_TYPE_INCONSISTENT",
        CKR_KEY_FUNCTION_NOT_PERMITTED => "CKR_KEY_FUNCTION_NOT_PERMITTED",
        CKR_KEY_NOT_WRAPPABLE => "CKR_KEY_NOT_WRAPPABLE",
        CKR_KEY_UNEXTRACTABLE => "CKR_KEY_UNEXTRACTABLE",
        CKR_KEY_INDIGESTIBLE => "CKR_KEY_INDIGESTIBLE",
        CKR_MECHANISM_INVALID => "CKR_MECHANISM_INVALID",
        CKR_MECHANISM_PARAM_INVALID => "CKR_MECHANISM_PARAM_INVALID",
        CKR_OBJECT_HANDLE_INVALID => "CKR_OBJECT_HANDLE_INVALID",
        CKR_OPERATION_ACTIVE => "CKR_OPERATION_ACTIVE",
        CKR_OPERATION_NOT_INITIALIZED => "CKR_OPERATION_NOT_INITIALIZED",
        CKR_PIN_INCORRECT => "CKR_PIN_INCORRECT",
        CKR_PIN_INVALID => "CKR_PIN_INVALID",
        CKR_PIN_LEN_RANGE => "CKR_PIN_LEN_RANGE",
        CKR_PIN_LOCKED => "CKR_PIN_LOCKED",
        CKR_SESSION_CLOSED => "CKR_SESSION_CLOSED",
        CKR_SESSION_COUNT => "CKR_SESSION_COUNT",
        CKR_SESSION_HANDLE_INVALID => "CKR_SESSION_HANDLE_INVALID",
        CKR_SESSION_READ_ONLY => "CKR_SESSION_READ_ONLY",
        CKR_SESSION_EXISTS => "CKR_SESSION_EXISTS",
        CKR_SESSION_READ_ONLY_EXISTS => "CKR_SESSION_READ_ONLY_EXISTS",
        CKR_SESSION_READ_WRITE_SO_EXISTS => "CKR_SESSION_READ_WRITE_SO_EXISTS",
        CKR_SIGNATURE_INVALID => "CKR_SIGNATURE_INVALID",
        CKR_SIGNATURE_LEN_RANGE => "CKR_SIGNATURE_LEN_RANGE",
        CKR_TEMPLATE_INCOMPLETE => "CKR_TEMPLATE_INCOMPLETE",
        CKR_TEMPLATE_INCONSISTENT => "CKR_TEMPLATE_INCONSISTENT",
        CKR_TOKEN_NOT_PRESENT => "CKR_TOKEN_NOT_PRESENT",
        CKR_TOKEN_NOT_RECOGNIZED => "CKR_TOKEN_NOT_RECOGNIZED",
        CKR_TOKEN_WRITE_PROTECTED => "CKR_TOKEN_WRITE_PROTECTED",
        CKR_UNWRAPPING_KEY_HANDLE_INVALID => "CKR_UNWRAPPING_KEY_HANDLE_INVALID",
        CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT => "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
        CKR_USER_ALREADY_LOGGED_IN => "CKR_USER_ALREADY_LOGGED_IN",
        CKR_USER_NOT_LOGGED_IN => "CKR_USER_NOT_LOGGED_IN",
        CKR_USER_PIN_NOT_INITIALIZED => "CKR_USER_PIN_NOT_INITIALIZED",
        CKR_USER_TYPE_INVALID => "CKR_USER_TYPE_INVALID",
        CKR_USER_ANOTHER_ALREADY_LOGGED_IN => "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
        CKR_WRAPPED_KEY_INVALID => "CKR_WRAPPED_KEY_INVALID",
        CKR_WRAPPED_KEY_LEN_RANGE => "CKR_WRAPPED_KEY_LEN_RANGE",
        CKR_WRAPPING_KEY_HANDLE_INVALID => "CKR_WRAPPING_KEY_HANDLE_INVALID",
        CKR_WRAPPING_KEY_SIZE_RANGE => "CKR_WRAPPING_KEY_SIZE_RANGE",
        CKR_WRAPPING_KEY_TYPE_INCONSISTENT => "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
        CKR_RANDOM_SEED_NOT_SUPPORTED => "CKR_RANDOM_SEED_NOT_SUPPORTED",
        CKR_RANDOM_NO_RNG => "CKR_RANDOM_NO_RNG",
        CKR_DOMAIN_PARAMS_INVALID => "CKR_DOMAIN_PARAMS_INVALID",
        CKR_CURVE_NOT_SUPPORTED => "CKR_CURVE_NOT_SUPPORTED",
        CKR_BUFFER_TOO_SMALL => "CKR_BUFFER_TOO_SMALL",
        CKR_CRYPTOKI_NOT_INITIALIZED => "CKR_CRYPTOKI_NOT_INITIALIZED",
        CKR_CRYPTOKI_ALREADY_INITIALIZED => "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        _ => return format!("0x{rv:x}"),
    };
    format!("{name} (0x{rv:x})")
}

/// `" <blob>"`, or nothing for a request about no one blob (a listing).
fn blob_suffix(blob: &str) -> String {
    if blob.is_empty() {
        String::new()
    } else {
        format!(" {blob}")
    }
}

/// Shorthand used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The PKCS#11 return value for this error.
    pub fn rv(&self) -> CK_RV {
        match self {
            Error::ArgumentsBad(_) | Error::InterfaceNotOffered(_) => CKR_ARGUMENTS_BAD,
            Error::ActionProhibited(_) => CKR_ACTION_PROHIBITED,
            Error::AttributeReadOnly(_) => CKR_ATTRIBUTE_READ_ONLY,
            Error::AttributeSensitive(_) => CKR_ATTRIBUTE_SENSITIVE,
            Error::AttributeTypeInvalid(_) => CKR_ATTRIBUTE_TYPE_INVALID,
            Error::AttributeValueInvalid(_) => CKR_ATTRIBUTE_VALUE_INVALID,
            Error::BufferTooSmall => CKR_BUFFER_TOO_SMALL,
            Error::CertificateTypeInvalid => CKR_CERTIFICATE_TYPE_INVALID,
            Error::AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
            Error::NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
            Error::CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
            Error::DataInvalid => CKR_DATA_INVALID,
            Error::DataLenRange => CKR_DATA_LEN_RANGE,
            Error::KeyBindingBroken(_)
            | Error::StoreRequest { .. }
            | Error::StoreUnavailable(_)
            | Error::CorruptTokenData(_)
            | Error::BlobSigningKey(_)
            | Error::UnsafeDirectory { .. }
            | Error::Busy(_)
            | Error::VendorModule(_) => CKR_DEVICE_ERROR,
            Error::Configuration(_) | Error::Setup { .. } | Error::Internal(_) => CKR_GENERAL_ERROR,
            Error::Jws { .. } | Error::ChangedConcurrently(_) => CKR_FUNCTION_FAILED,
            Error::DeviceMemory(_) => CKR_DEVICE_MEMORY,
            Error::Storage { source, .. } if is_out_of_room(source) => CKR_DEVICE_MEMORY,
            Error::Storage { .. } => CKR_DEVICE_ERROR,
            Error::EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
            Error::EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
            Error::Crypto(_) => CKR_FUNCTION_FAILED,
            Error::TokenDatabase(source)
                if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) =>
            {
                CKR_DEVICE_MEMORY
            }
            Error::TokenDatabase(_) => CKR_DEVICE_ERROR,
            Error::FunctionNotSupported(_) => CKR_FUNCTION_NOT_SUPPORTED,
            Error::HostMemory => CKR_HOST_MEMORY,
            Error::KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
            Error::KeyFunctionNotPermitted(_) => CKR_KEY_FUNCTION_NOT_PERMITTED,
            Error::KeySizeRange => CKR_KEY_SIZE_RANGE,
            Error::KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
            Error::KeyNotWrappable(_) => CKR_KEY_NOT_WRAPPABLE,
            Error::KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
            Error::KeyIndigestible => CKR_KEY_INDIGESTIBLE,
            Error::RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
            Error::FunctionNotParallel => CKR_FUNCTION_NOT_PARALLEL,
            Error::MechanismInvalid(_) => CKR_MECHANISM_INVALID,
            Error::MechanismParamInvalid(_) => CKR_MECHANISM_PARAM_INVALID,
            Error::ObjectHandleInvalid | Error::BlobUnreadable { .. } => CKR_OBJECT_HANDLE_INVALID,
            Error::OperationActive => CKR_OPERATION_ACTIVE,
            Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
            Error::PinIncorrect => CKR_PIN_INCORRECT,
            Error::PinInvalid => CKR_PIN_INVALID,
            Error::PinLenRange => CKR_PIN_LEN_RANGE,
            Error::PinLocked => CKR_PIN_LOCKED,
            Error::RandomNoRng => CKR_RANDOM_NO_RNG,
            Error::SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
            Error::SessionCount => CKR_SESSION_COUNT,
            Error::SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            Error::SessionReadOnly => CKR_SESSION_READ_ONLY,
            Error::SessionExists => CKR_SESSION_EXISTS,
            Error::SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
            Error::SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
            Error::SignatureInvalid => CKR_SIGNATURE_INVALID,
            Error::SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
            Error::SlotIdInvalid => CKR_SLOT_ID_INVALID,
            Error::TemplateIncomplete(_) => CKR_TEMPLATE_INCOMPLETE,
            Error::TemplateInconsistent(_) => CKR_TEMPLATE_INCONSISTENT,
            Error::TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
            Error::TokenNotPresent(_) => CKR_TOKEN_NOT_PRESENT,
            Error::UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
            Error::UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
            Error::UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
            Error::UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
            Error::UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
            Error::UserTypeInvalid => CKR_USER_TYPE_INVALID,
            Error::WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
            Error::WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
            Error::WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
            Error::WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
            Error::UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
            Error::Vendor { rv, .. } => *rv,
        }
    }
}

/// A file system with no room left: no space, over quota, or over the
/// process's file-size limit.
pub fn is_out_of_room(error: &std::io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG)
    )
}

/// Names the file an I/O failure happened on: `io_result.at("read", path)`.
pub trait IoContext<T> {
    fn at(self, operation: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, operation: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::storage(operation, path, source))
    }
}

impl Error {
    /// [`Error::Storage`] of `operation` on `path`.
    pub fn storage(
        operation: &'static str,
        path: &std::path::Path,
        source: std::io::Error,
    ) -> Error {
        Error::Storage {
            operation,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<openssl::error::ErrorStack> for Error {
    fn from(error: openssl::error::ErrorStack) -> Self {
        Error::Crypto(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use std::path::Path;

    #[test]
    fn a_storage_failure_names_its_file_keeps_its_source_and_maps_a_full_disk_to_device_memory() {
        let path = Path::new("/srv/certs/pkcs11_certificate_4293918720");
        let full = Error::storage(
            "write",
            path,
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert_eq!(full.rv(), CKR_DEVICE_MEMORY);
        let text = full.to_string();
        assert!(
            text.starts_with("write /srv/certs/pkcs11_certificate_4293918720: "),
            "{text}"
        );
        assert!(
            full.source().is_some(),
            "the I/O error is kept as the source"
        );
        for errno in [libc::EDQUOT, libc::EFBIG] {
            let error = Error::storage("write", path, std::io::Error::from_raw_os_error(errno));
            assert_eq!(error.rv(), CKR_DEVICE_MEMORY, "errno {errno}");
        }
        let denied = std::io::Result::<()>::Err(std::io::Error::from_raw_os_error(libc::EACCES))
            .at("open", path)
            .unwrap_err();
        assert_eq!(denied.rv(), CKR_DEVICE_ERROR);
    }
}
