//! The token every case runs against, the objects the calls name, and the
//! small helpers the tables share: pointers that may be NULL, attribute
//! buffers, and the outcome of a case.

use crate::common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::Session;
use cryptoki_sys::*;
use std::ptr::null_mut;

/// A session handle nobody opened.
pub const NO_SESSION: CK_SESSION_HANDLE = 0x7FFF_0000_DEAD;
/// A slot that does not exist.
pub const NO_SLOT: CK_SLOT_ID = 99;
/// An object handle below the certificate range that no object has.
pub const NO_OBJECT: CK_OBJECT_HANDLE = 0x7777;
/// A handle in the certificate range that no certificate has.
pub const NO_CERTIFICATE: CK_OBJECT_HANDLE = 0xFFF1_2345;
/// `CKF_SERIAL_SESSION | CKF_RW_SESSION`.
pub const RW: CK_FLAGS = CKF_SERIAL_SESSION | CKF_RW_SESSION;

/// The library's PKCS#11 3.0 function list, from `C_GetInterface("PKCS 11", 3.0)`:
/// every call of these tests goes through it, so a function missing from
/// it cannot go unnoticed.
pub fn function_list() -> &'static CK_FUNCTION_LIST_3_0 {
    let mut name = *b"PKCS 11\0";
    let mut version = CK_VERSION { major: 3, minor: 0 };
    let mut interface: *mut CK_INTERFACE = null_mut();
    // SAFETY: a NUL-terminated name, a version and an out pointer.
    let rv =
        unsafe { raw_exports().C_GetInterface(name.as_mut_ptr(), &mut version, &mut interface, 0) };
    assert_eq!(rv, CKR_OK, "C_GetInterface(\"PKCS 11\", 3.0)");
    // SAFETY: the library returned a pointer to its static interface, whose
    // function list is a static CK_FUNCTION_LIST_3_0 (version 3.0 asked).
    unsafe {
        let list = (*interface).pFunctionList as *const CK_FUNCTION_LIST_3_0;
        assert!(!list.is_null(), "the 3.0 interface has no function list");
        &*list
    }
}

/// The handles and values the calls name. Before `C_Initialize` (no token
/// yet) they are placeholders: every call must fail before using them.
#[derive(Clone, Debug)]
pub struct Handles {
    pub rsa_public: CK_OBJECT_HANDLE,
    pub rsa_private: CK_OBJECT_HANDLE,
    /// AES-256, may encrypt, decrypt, wrap and unwrap.
    pub aes: CK_OBJECT_HANDLE,
    /// AES-128, extractable: what C_WrapKey wraps.
    pub target: CK_OBJECT_HANDLE,
    /// A P-256 private key that may derive.
    pub ec_private: CK_OBJECT_HANDLE,
    /// The uncompressed point of another P-256 key, for ECDH.
    pub peer_point: Vec<u8>,
    /// `target` wrapped under `aes` with CKM_AES_KEY_WRAP.
    pub wrapped: Vec<u8>,
    /// A session data object of the fixture's main session.
    pub data: CK_OBJECT_HANDLE,
    /// A token data object.
    pub token_data: CK_OBJECT_HANDLE,
    /// A token certificate.
    pub certificate: CK_OBJECT_HANDLE,
    pub destroyed_key: CK_OBJECT_HANDLE,
    pub destroyed_object: CK_OBJECT_HANDLE,
    pub destroyed_certificate: CK_OBJECT_HANDLE,
}

impl Handles {
    /// Placeholders, for calls made before any token is open.
    pub fn placeholders() -> Handles {
        Handles {
            rsa_public: 1,
            rsa_private: 2,
            aes: 3,
            target: 4,
            ec_private: 5,
            peer_point: vec![0x04; 65],
            wrapped: vec![0xA6; 24],
            data: 6,
            token_data: 7,
            certificate: FIRST_CERTIFICATE_HANDLE,
            destroyed_key: 8,
            destroyed_object: 9,
            destroyed_certificate: FIRST_CERTIFICATE_HANDLE + 1,
        }
    }
}

/// A fresh token with the provider initialised, the user logged in (login
/// is per application, so every session opened later is a user session),
/// and the objects of [`Handles`].
pub struct Fixture {
    pub list: &'static CK_FUNCTION_LIST_3_0,
    pub handles: Handles,
    pub main: Session,
    // Dropped last: finalises the provider and releases the test lock.
    _token: TestToken,
}

impl Fixture {
    pub fn new() -> Fixture {
        let token = TestToken::new();
        let main = token.user_session();
        let rsa = generate_rsa(&main, 2048, true, b"rsa");
        let ec = generate_ec(&main, P256, true, b"ec");
        let peer = generate_ec(&main, P256, false, b"peer");
        let peer_point =
            ec_point_octets(&attribute_bytes(&main, peer.public, AttributeType::EcPoint));
        let secret = |value: &[u8], token: bool, extractable: bool| {
            main.create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(token),
                Attribute::Private(true),
                Attribute::Value(value.to_vec()),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
                Attribute::Extractable(extractable),
            ])
            .expect("C_CreateObject AES key")
        };
        let aes = secret(&[5; 32], true, false);
        let target = secret(&[6; 16], true, true);
        let wrapped = main
            .wrap_key(&Mechanism::AesKeyWrap, aes, target)
            .expect("C_WrapKey of the target key");
        let data_template = |token: bool| {
            vec![
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(token),
                Attribute::Label(b"data".to_vec()),
                Attribute::Value(b"data".to_vec()),
            ]
        };
        let data = main.create_object(&data_template(false)).unwrap();
        let token_data = main.create_object(&data_template(true)).unwrap();
        let certificate = main
            .create_object(&certificate_template("every-function", b"value"))
            .expect("C_CreateObject of a token certificate");
        let destroyed_key = secret(&[7; 16], false, false);
        let destroyed_object = main.create_object(&data_template(false)).unwrap();
        let destroyed_certificate = main
            .create_object(&certificate_template("destroyed", b"destroyed"))
            .unwrap();
        for handle in [destroyed_key, destroyed_object, destroyed_certificate] {
            main.destroy_object(handle).expect("C_DestroyObject");
        }
        Fixture {
            list: function_list(),
            handles: Handles {
                rsa_public: rsa.public.handle(),
                rsa_private: rsa.private.handle(),
                aes: aes.handle(),
                target: target.handle(),
                ec_private: ec.private.handle(),
                peer_point,
                wrapped,
                data: data.handle(),
                token_data: token_data.handle(),
                certificate: certificate.handle(),
                destroyed_key: destroyed_key.handle(),
                destroyed_object: destroyed_object.handle(),
                destroyed_certificate: destroyed_certificate.handle(),
            },
            main,
            _token: token,
        }
    }

    /// A new R/W session (a user session: the user is logged in).
    pub fn session(&self) -> CK_SESSION_HANDLE {
        open_session(self.list, RW)
    }
}

/// Opens a session with `flags` on slot 1, which must succeed.
pub fn open_session(list: &CK_FUNCTION_LIST_3_0, flags: CK_FLAGS) -> CK_SESSION_HANDLE {
    let mut session = 0;
    // SAFETY: a valid out pointer.
    let rv = unsafe { list.C_OpenSession.unwrap()(SLOT_ID, flags, null_mut(), None, &mut session) };
    assert_eq!(rv, CKR_OK, "C_OpenSession for a case: {}", rv_name(rv));
    session
}

/// Closes `session`; a case may have closed it already.
pub fn close_session(list: &CK_FUNCTION_LIST_3_0, session: CK_SESSION_HANDLE) {
    // SAFETY: no pointer.
    let _ = unsafe { list.C_CloseSession.unwrap()(session) };
}

/// Logs the user in through `session` (after a case logged out).
pub fn log_in(list: &CK_FUNCTION_LIST_3_0, session: CK_SESSION_HANDLE) -> CK_RV {
    let mut pin = USER_PIN.as_bytes().to_vec();
    // SAFETY: the PIN buffer holds its length.
    unsafe { list.C_Login.unwrap()(session, CKU_USER, pin.as_mut_ptr(), pin.len() as CK_ULONG) }
}

/// Creates a session data object in `session`; 0 when that fails (the
/// call under test then names an invalid handle, which a case expecting
/// success reports).
pub fn create_data(list: &CK_FUNCTION_LIST_3_0, session: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    let mut class = ulong_bytes(CKO_DATA);
    let mut token = [CK_FALSE];
    let mut template = [
        raw_attribute(CKA_CLASS, &mut class),
        raw_attribute(CKA_TOKEN, &mut token),
    ];
    let mut object = 0;
    // SAFETY: the template holds 2 attributes over live buffers.
    let rv =
        unsafe { list.C_CreateObject.unwrap()(session, template.as_mut_ptr(), 2, &mut object) };
    if rv == CKR_OK {
        object
    } else {
        0
    }
}

/// `value`, or NULL when the case passes NULL pointers.
pub fn ptr<T>(null: bool, value: &mut T) -> *mut T {
    if null {
        null_mut()
    } else {
        value
    }
}

/// The start of `buffer`, or NULL when the case passes NULL pointers (the
/// length stays what the buffer holds: "NULL with a non-zero length").
pub fn buf<T>(null: bool, buffer: &mut [T]) -> *mut T {
    if null {
        null_mut()
    } else {
        buffer.as_mut_ptr()
    }
}

/// A buffer's length as a `CK_ULONG`.
pub fn len<T>(buffer: &[T]) -> CK_ULONG {
    buffer.len() as CK_ULONG
}

/// What a case saw: its return value, and any other rule it broke (a
/// length not filled in, a state left behind).
pub struct Outcome {
    pub rv: CK_RV,
    pub problem: Option<String>,
}

impl From<CK_RV> for Outcome {
    fn from(rv: CK_RV) -> Outcome {
        Outcome { rv, problem: None }
    }
}

impl Outcome {
    /// `rv`, plus a problem unless `actual == expected`.
    pub fn with_value<T: PartialEq + std::fmt::Debug>(
        rv: CK_RV,
        what: &str,
        actual: T,
        expected: T,
    ) -> Outcome {
        let problem =
            (actual != expected).then(|| format!("{what} is {actual:?}, expected {expected:?}"));
        Outcome { rv, problem }
    }

    /// A setup call of the case failed: reported as such, never taken for
    /// the error the case expects.
    pub fn setup_failed(call: &str, rv: CK_RV) -> Outcome {
        Outcome {
            rv,
            problem: Some(format!("the setup call {call} returned {}", rv_name(rv))),
        }
    }
}

/// The names of a set of return values, for messages.
pub fn names(codes: &[CK_RV]) -> String {
    codes
        .iter()
        .map(|rv| rv_name(*rv))
        .collect::<Vec<_>>()
        .join(" or ")
}
