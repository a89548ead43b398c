//! The PKCS#11 rules of the C boundary, checked through the raw C ABI:
//! argument checks and return-code precedence, the length conventions,
//! the login and session state machines, and the rules of operations.
//!
//! The tests call the exported functions of the library crate directly
//! (they are the same functions the cdylib exports), so they can pass
//! NULL pointers and impossible lengths that a safe client never would.
//! The provider is a process-wide singleton: each test takes
//! [`common::lock`], points `AZCLOUDHSM_CONFIG` at its own fresh token and
//! finalises at the end (also when it fails, through [`Token`]'s `Drop`).

mod common;

use std::ptr::null_mut;
use std::sync::MutexGuard;

use azcloudhsm_pkcs11::ffi::decrypt::*;
use azcloudhsm_pkcs11::ffi::digest::*;
use azcloudhsm_pkcs11::ffi::encrypt::*;
use azcloudhsm_pkcs11::ffi::general::*;
use azcloudhsm_pkcs11::ffi::key::*;
use azcloudhsm_pkcs11::ffi::object::*;
use azcloudhsm_pkcs11::ffi::random::*;
use azcloudhsm_pkcs11::ffi::session::*;
use azcloudhsm_pkcs11::ffi::sign::*;
use azcloudhsm_pkcs11::ffi::slot_token::*;
use azcloudhsm_pkcs11::ffi::unsupported::*;
use azcloudhsm_pkcs11::ffi::verify::*;
use common::{lock, prepare_config, TokenDirectory, CONFIG_ENV};
use cryptoki_sys::*;

const SLOT: CK_SLOT_ID = common::SLOT_ID;
const SO_PIN: &[u8] = common::SO_PIN.as_bytes();
const USER_PIN: &[u8] = common::USER_PIN.as_bytes();
const RW: CK_FLAGS = CKF_SERIAL_SESSION | CKF_RW_SESSION;
const RO: CK_FLAGS = CKF_SERIAL_SESSION;
/// DER OID of P-256 (prime256v1).
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// An initialised provider on a fresh token directory; finalised on drop.
struct Token {
    _directory: TokenDirectory,
    _guard: MutexGuard<'static, ()>,
}

impl Token {
    /// C_Initialize on a token that was never initialised.
    fn fresh() -> Token {
        let guard = lock();
        let directory = TokenDirectory::new();
        prepare_config(directory.root(), &[]);
        // SAFETY: NULL arguments are allowed.
        assert_eq!(unsafe { C_Initialize(null_mut()) }, CKR_OK);
        Token {
            _directory: directory,
            _guard: guard,
        }
    }

    /// A fresh token with its SO PIN set by C_InitToken, no user PIN.
    fn without_user_pin() -> Token {
        let token = Token::fresh();
        assert_eq!(init_token(SO_PIN, b"abi rules"), CKR_OK);
        token
    }

    /// A fresh token with the SO PIN and the user PIN set, no session open.
    fn ready() -> Token {
        let token = Token::without_user_pin();
        let session = open(RW);
        assert_eq!(login(session, CKU_SO, SO_PIN), CKR_OK);
        // SAFETY: the PIN buffer is valid for its length.
        let rv = unsafe { C_InitPIN(session, USER_PIN.as_ptr() as *mut _, len(USER_PIN)) };
        assert_eq!(rv, CKR_OK);
        assert_eq!(close(session), CKR_OK);
        token
    }

    /// A ready token and a R/W session with the user logged in.
    fn user_session() -> (Token, CK_SESSION_HANDLE) {
        let token = Token::ready();
        let session = open(RW);
        assert_eq!(login(session, CKU_USER, USER_PIN), CKR_OK);
        (token, session)
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        // SAFETY: NULL is the required argument.
        unsafe { C_Finalize(null_mut()) };
        std::env::remove_var(CONFIG_ENV);
    }
}

fn len(bytes: &[u8]) -> CK_ULONG {
    bytes.len() as CK_ULONG
}

fn init_token(so_pin: &[u8], label: &[u8]) -> CK_RV {
    let mut padded = [b' '; 32];
    padded[..label.len()].copy_from_slice(label);
    // SAFETY: the PIN and the 32-byte label are valid.
    unsafe {
        C_InitToken(
            SLOT,
            so_pin.as_ptr() as *mut _,
            len(so_pin),
            padded.as_mut_ptr(),
        )
    }
}

fn try_open(flags: CK_FLAGS) -> (CK_RV, CK_SESSION_HANDLE) {
    let mut session = 0;
    // SAFETY: the output pointer is valid; no callback.
    let rv = unsafe { C_OpenSession(SLOT, flags, null_mut(), None, &mut session) };
    (rv, session)
}

fn open(flags: CK_FLAGS) -> CK_SESSION_HANDLE {
    let (rv, session) = try_open(flags);
    assert_eq!(rv, CKR_OK, "C_OpenSession");
    session
}

fn close(session: CK_SESSION_HANDLE) -> CK_RV {
    // SAFETY: no pointers.
    unsafe { C_CloseSession(session) }
}

fn login(session: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> CK_RV {
    // SAFETY: the PIN buffer is valid for its length.
    unsafe { C_Login(session, user, pin.as_ptr() as *mut _, len(pin)) }
}

fn logout(session: CK_SESSION_HANDLE) -> CK_RV {
    // SAFETY: no pointers.
    unsafe { C_Logout(session) }
}

fn session_state(session: CK_SESSION_HANDLE) -> CK_STATE {
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: the output pointer is valid.
    assert_eq!(unsafe { C_GetSessionInfo(session, &mut info) }, CKR_OK);
    info.state
}

fn token_info() -> CK_TOKEN_INFO {
    let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: the output pointer is valid.
    assert_eq!(unsafe { C_GetTokenInfo(SLOT, &mut info) }, CKR_OK);
    info
}

fn attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value as *const T as *mut _,
        ulValueLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

fn bytes_attribute(kind: CK_ATTRIBUTE_TYPE, value: &[u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value.as_ptr() as *mut _,
        ulValueLen: len(value),
    }
}

/// An attribute whose value the library writes.
fn output_attribute<T>(kind: CK_ATTRIBUTE_TYPE, value: &mut T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value as *mut T as *mut _,
        ulValueLen: std::mem::size_of::<T>() as CK_ULONG,
    }
}

/// A byte-string attribute whose value the library writes.
fn output_bytes(kind: CK_ATTRIBUTE_TYPE, value: &mut [u8]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value.as_mut_ptr() as *mut _,
        ulValueLen: value.len() as CK_ULONG,
    }
}

fn mechanism(kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: kind,
        pParameter: null_mut(),
        ulParameterLen: 0,
    }
}

const TRUE: CK_BBOOL = CK_TRUE;
const FALSE: CK_BBOOL = CK_FALSE;

/// A session key pair: (public, private).
fn key_pair(
    session: CK_SESSION_HANDLE,
    kind: CK_MECHANISM_TYPE,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let bits: CK_ULONG = 2048;
    let mut public = vec![attribute(CKA_VERIFY, &TRUE), attribute(CKA_TOKEN, &FALSE)];
    if kind == CKM_RSA_PKCS_KEY_PAIR_GEN {
        public.push(attribute(CKA_MODULUS_BITS, &bits));
    } else {
        public.push(bytes_attribute(CKA_EC_PARAMS, P256));
    }
    let mut private = [attribute(CKA_SIGN, &TRUE), attribute(CKA_TOKEN, &FALSE)];
    let mut mechanism = mechanism(kind);
    let (mut public_key, mut private_key) = (0, 0);
    // SAFETY: every pointer is valid for the counts given.
    let rv = unsafe {
        C_GenerateKeyPair(
            session,
            &mut mechanism,
            public.as_mut_ptr(),
            public.len() as CK_ULONG,
            private.as_mut_ptr(),
            private.len() as CK_ULONG,
            &mut public_key,
            &mut private_key,
        )
    };
    assert_eq!(rv, CKR_OK, "C_GenerateKeyPair");
    (public_key, private_key)
}

/// A session AES-256 key: sensitive and unextractable, or made to leave
/// (non-sensitive and extractable, so its value can be read and digested).
fn aes_key(session: CK_SESSION_HANDLE, sensitive: bool) -> CK_OBJECT_HANDLE {
    let value_len: CK_ULONG = 32;
    let extractable: CK_BBOOL = if sensitive { CK_FALSE } else { CK_TRUE };
    let sensitive: CK_BBOOL = if sensitive { CK_TRUE } else { CK_FALSE };
    let mut template = [
        attribute(CKA_VALUE_LEN, &value_len),
        attribute(CKA_SENSITIVE, &sensitive),
        attribute(CKA_EXTRACTABLE, &extractable),
        attribute(CKA_TOKEN, &FALSE),
        attribute(CKA_ENCRYPT, &TRUE),
        attribute(CKA_DECRYPT, &TRUE),
    ];
    let mut mechanism = mechanism(CKM_AES_KEY_GEN);
    let mut key = 0;
    // SAFETY: every pointer is valid for the counts given.
    let rv = unsafe {
        C_GenerateKey(
            session,
            &mut mechanism,
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
            &mut key,
        )
    };
    assert_eq!(rv, CKR_OK, "C_GenerateKey");
    key
}

fn sign_init(session: CK_SESSION_HANDLE, kind: CK_MECHANISM_TYPE, key: CK_OBJECT_HANDLE) -> CK_RV {
    let mut mechanism = mechanism(kind);
    // SAFETY: the mechanism is valid.
    unsafe { C_SignInit(session, &mut mechanism, key) }
}

fn verify_init(
    session: CK_SESSION_HANDLE,
    kind: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    let mut mechanism = mechanism(kind);
    // SAFETY: the mechanism is valid.
    unsafe { C_VerifyInit(session, &mut mechanism, key) }
}

fn digest_init(session: CK_SESSION_HANDLE) -> CK_RV {
    let mut mechanism = mechanism(CKM_SHA256);
    // SAFETY: the mechanism is valid.
    unsafe { C_DigestInit(session, &mut mechanism) }
}

/// C_Sign with a buffer of `capacity` bytes (`None`: a length query).
fn sign(session: CK_SESSION_HANDLE, data: &[u8], capacity: Option<usize>) -> (CK_RV, Vec<u8>) {
    let mut buffer = vec![0u8; capacity.unwrap_or(0)];
    let pointer = if capacity.is_some() {
        buffer.as_mut_ptr()
    } else {
        null_mut()
    };
    let mut length = buffer.len() as CK_ULONG;
    // SAFETY: the data is valid; the buffer holds `length` bytes or is NULL.
    let rv = unsafe {
        C_Sign(
            session,
            data.as_ptr() as *mut _,
            len(data),
            pointer,
            &mut length,
        )
    };
    if rv == CKR_OK && capacity.is_some() {
        buffer.truncate(length as usize);
    } else {
        buffer = vec![0; length as usize];
    }
    (rv, buffer)
}

fn sign_update(session: CK_SESSION_HANDLE, data: &[u8]) -> CK_RV {
    // SAFETY: the data is valid.
    unsafe { C_SignUpdate(session, data.as_ptr() as *mut _, len(data)) }
}

fn sign_final(session: CK_SESSION_HANDLE) -> (CK_RV, Vec<u8>) {
    let mut buffer = vec![0u8; 512];
    let mut length = buffer.len() as CK_ULONG;
    // SAFETY: the buffer holds `length` bytes.
    let rv = unsafe { C_SignFinal(session, buffer.as_mut_ptr(), &mut length) };
    buffer.truncate(length as usize);
    (rv, buffer)
}

fn verify(session: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> CK_RV {
    // SAFETY: data and signature are valid.
    unsafe {
        C_Verify(
            session,
            data.as_ptr() as *mut _,
            len(data),
            signature.as_ptr() as *mut _,
            len(signature),
        )
    }
}

// ----- general purpose (§5.4) -----

#[test]
fn functions_before_c_initialize_are_not_initialized() {
    let _guard = lock();
    let mut count: CK_ULONG = 0;
    let mut session: CK_SESSION_HANDLE = 0;
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    let mut buffer = [0u8; 8];
    let mut slot: CK_SLOT_ID = 0;
    // SAFETY: every pointer is valid.
    let results = unsafe {
        [
            ("C_GetInfo", C_GetInfo(&mut info)),
            (
                "C_GetSlotList",
                C_GetSlotList(CK_TRUE, null_mut(), &mut count),
            ),
            (
                "C_OpenSession",
                C_OpenSession(SLOT, RW, null_mut(), None, &mut session),
            ),
            ("C_CloseSession", C_CloseSession(1)),
            ("C_CloseAllSessions", C_CloseAllSessions(SLOT)),
            ("C_Login", C_Login(1, CKU_USER, null_mut(), 0)),
            (
                "C_GenerateRandom",
                C_GenerateRandom(1, buffer.as_mut_ptr(), 8),
            ),
            ("C_SeedRandom", C_SeedRandom(1, buffer.as_mut_ptr(), 8)),
            ("C_DigestKey", C_DigestKey(1, 1)),
            ("C_GetFunctionStatus", C_GetFunctionStatus(1)),
            (
                "C_GetOperationState",
                C_GetOperationState(1, null_mut(), &mut count),
            ),
            (
                "C_WaitForSlotEvent",
                C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut()),
            ),
            ("C_Finalize", C_Finalize(null_mut())),
        ]
    };
    for (name, rv) in results {
        assert_eq!(rv, CKR_CRYPTOKI_NOT_INITIALIZED, "{name}");
    }
}

#[test]
fn function_lists_and_interfaces_need_no_c_initialize() {
    let _guard = lock();
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    let mut count: CK_ULONG = 0;
    // SAFETY: the output pointers are valid.
    unsafe {
        assert_eq!(C_GetFunctionList(&mut list), CKR_OK);
        assert_eq!((*list).version.major, 2);
        assert_eq!((*list).version.minor, 40);
        assert_eq!(C_GetInterfaceList(null_mut(), &mut count), CKR_OK);
    }
    assert_eq!(count, 3);
}

#[test]
fn second_c_initialize_is_already_initialized() {
    let _token = Token::fresh();
    // SAFETY: NULL arguments are allowed.
    assert_eq!(
        unsafe { C_Initialize(null_mut()) },
        CKR_CRYPTOKI_ALREADY_INITIALIZED
    );
}

#[test]
fn get_info_reports_version_2_40_blank_padded_without_nul() {
    let _token = Token::fresh();
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: the output pointer is valid.
    assert_eq!(unsafe { C_GetInfo(&mut info) }, CKR_OK);
    assert_eq!(
        (info.cryptokiVersion.major, info.cryptokiVersion.minor),
        (2, 40)
    );
    assert_eq!(info.flags, 0);
    for field in [&info.manufacturerID[..], &info.libraryDescription[..]] {
        assert!(!field.contains(&0), "no NUL terminator: {field:?}");
    }
    assert!(info.manufacturerID.ends_with(b"  "), "blank padded");
}

#[test]
fn null_output_pointers_are_arguments_bad() {
    let (_token, session) = Token::user_session();
    let mut count: CK_ULONG = 0;
    let mut template = [attribute(CKA_CLASS, &CKO_DATA)];
    let data = [1u8; 4];
    // SAFETY: every non-NULL pointer is valid.
    let results = unsafe {
        [
            ("C_GetInfo", C_GetInfo(null_mut())),
            ("C_GetFunctionList", C_GetFunctionList(null_mut())),
            (
                "C_GetInterfaceList",
                C_GetInterfaceList(null_mut(), null_mut()),
            ),
            (
                "C_GetInterface",
                C_GetInterface(null_mut(), null_mut(), null_mut(), 0),
            ),
            (
                "C_GetSlotList",
                C_GetSlotList(CK_TRUE, null_mut(), null_mut()),
            ),
            ("C_GetSlotInfo", C_GetSlotInfo(SLOT, null_mut())),
            ("C_GetTokenInfo", C_GetTokenInfo(SLOT, null_mut())),
            (
                "C_GetMechanismList",
                C_GetMechanismList(SLOT, null_mut(), null_mut()),
            ),
            (
                "C_GetMechanismInfo",
                C_GetMechanismInfo(SLOT, CKM_SHA256, null_mut()),
            ),
            (
                "C_OpenSession",
                C_OpenSession(SLOT, RW, null_mut(), None, null_mut()),
            ),
            ("C_GetSessionInfo", C_GetSessionInfo(session, null_mut())),
            (
                "C_CreateObject",
                C_CreateObject(session, template.as_mut_ptr(), 1, null_mut()),
            ),
            (
                "C_CreateObject template",
                C_CreateObject(session, null_mut(), 1, &mut count),
            ),
            ("C_GetObjectSize", C_GetObjectSize(session, 1, null_mut())),
            ("C_SignInit", C_SignInit(session, null_mut(), 1)),
            (
                "C_Sign",
                C_Sign(session, data.as_ptr() as *mut _, 4, null_mut(), null_mut()),
            ),
            (
                "C_Digest data",
                C_Digest(session, null_mut(), 4, null_mut(), &mut count),
            ),
            (
                "C_GenerateRandom",
                C_GenerateRandom(session, null_mut(), 16),
            ),
            ("C_Login", C_Login(session, CKU_SO, null_mut(), 5)),
            (
                "C_WaitForSlotEvent",
                C_WaitForSlotEvent(CKF_DONT_BLOCK, null_mut(), null_mut()),
            ),
            ("C_Finalize", C_Finalize(session as *mut _)),
        ]
    };
    for (name, rv) in results {
        assert_eq!(rv, CKR_ARGUMENTS_BAD, "{name}");
    }
}

#[test]
fn counts_too_large_for_memory_are_arguments_bad() {
    let (_token, session) = Token::user_session();
    let mut template = [attribute(CKA_CLASS, &CKO_DATA)];
    let mut object = 0;
    let mut buffer = [0u8; 16];
    // SAFETY: the pointers are valid; the counts are refused before use.
    let results = unsafe {
        [
            (
                "C_CreateObject",
                C_CreateObject(session, template.as_mut_ptr(), CK_ULONG::MAX, &mut object),
            ),
            (
                "C_GetAttributeValue",
                C_GetAttributeValue(session, 1, template.as_mut_ptr(), CK_ULONG::MAX / 2),
            ),
            (
                "C_FindObjectsInit",
                C_FindObjectsInit(session, template.as_mut_ptr(), CK_ULONG::MAX / 8),
            ),
            (
                "C_GenerateRandom",
                C_GenerateRandom(session, buffer.as_mut_ptr(), CK_ULONG::MAX),
            ),
            (
                "C_SeedRandom",
                C_SeedRandom(session, buffer.as_mut_ptr(), CK_ULONG::MAX),
            ),
        ]
    };
    for (name, rv) in results {
        assert_eq!(rv, CKR_ARGUMENTS_BAD, "{name}");
    }
}

#[test]
fn an_attribute_value_longer_than_any_real_one_is_refused_before_it_is_copied() {
    let (_token, session) = Token::user_session();
    let class = CKO_DATA;
    let value = [0u8; 16];
    let mut template = [
        attribute(CKA_CLASS, &class),
        CK_ATTRIBUTE {
            type_: CKA_VALUE,
            pValue: value.as_ptr() as *mut std::ffi::c_void,
            ulValueLen: CK_ULONG::MAX / 4,
        },
    ];
    let mut object = 0;
    // SAFETY: the pointers are valid; the absurd length is refused before use.
    let rv = unsafe { C_CreateObject(session, template.as_mut_ptr(), 2, &mut object) };
    assert_eq!(rv, CKR_ATTRIBUTE_VALUE_INVALID);
}

#[test]
fn interface_list_follows_the_length_convention() {
    let _guard = lock();
    let mut interfaces: [CK_INTERFACE; 3] = unsafe { std::mem::zeroed() };
    let mut count: CK_ULONG = 2;
    // SAFETY: the array holds `count` entries.
    unsafe {
        assert_eq!(
            C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(count, 3);
        assert_eq!(
            C_GetInterfaceList(interfaces.as_mut_ptr(), &mut count),
            CKR_OK
        );
        assert_eq!(count, 3);
        let list = interfaces[0].pFunctionList as *const CK_FUNCTION_LIST_3_0;
        assert_eq!(((*list).version.major, (*list).version.minor), (3, 0));
        let list = interfaces[2].pFunctionList as *const CK_FUNCTION_LIST_3_2;
        assert_eq!(((*list).version.major, (*list).version.minor), (3, 2));
    }
}

/// `C_GetInfo` reports the version of the interface it was reached
/// through: 3.0 through the 3.0 interface (`C_GetInterface` with no
/// version, or 3.0), 3.2 through the 3.2 one, 2.40 through the 2.40 one
/// and `C_GetFunctionList`.
#[test]
fn get_info_reports_the_version_of_the_interface_it_was_reached_through() {
    let _token = Token::fresh();
    let mut name = *b"PKCS 11\0";
    let info_through = |list: *const CK_FUNCTION_LIST| {
        let mut info: CK_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: `list` is one of the library's static function lists, every
        // entry set; the output pointer is valid.
        let rv = unsafe { ((*list).C_GetInfo.expect("C_GetInfo"))(&mut info) };
        assert_eq!(rv, CKR_OK);
        (info.cryptokiVersion.major, info.cryptokiVersion.minor)
    };
    let mut interface: *mut CK_INTERFACE = null_mut();
    let versions = [
        (None, (3, 0)),
        (Some((3, 0)), (3, 0)),
        (Some((2, 40)), (2, 40)),
        (Some((3, 2)), (3, 2)),
    ];
    for (asked, expected) in versions {
        let mut version = asked.map(|(major, minor)| CK_VERSION { major, minor });
        let version_pointer = version
            .as_mut()
            .map_or(null_mut(), |v| v as *mut CK_VERSION);
        // SAFETY: the name is NUL-terminated, the version NULL or valid.
        let rv = unsafe { C_GetInterface(name.as_mut_ptr(), version_pointer, &mut interface, 0) };
        assert_eq!(rv, CKR_OK);
        // SAFETY: the library set `interface` to one of its static interfaces.
        let list = unsafe { (*interface).pFunctionList } as *const CK_FUNCTION_LIST;
        assert_eq!(info_through(list), expected, "asked for {asked:?}");
    }
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    // SAFETY: the output pointer is valid.
    assert_eq!(unsafe { C_GetFunctionList(&mut list) }, CKR_OK);
    assert_eq!(info_through(list), (2, 40));
}

#[test]
fn get_interface_selects_by_name_version_and_flags() {
    let _guard = lock();
    let mut interface: *mut CK_INTERFACE = null_mut();
    let mut name = *b"PKCS 11\0";
    let mut other = *b"Vendor\0";
    let mut v240 = CK_VERSION {
        major: 2,
        minor: 40,
    };
    let mut v31 = CK_VERSION { major: 3, minor: 1 };
    // SAFETY: every pointer is valid; the names are NUL-terminated.
    unsafe {
        assert_eq!(
            C_GetInterface(null_mut(), null_mut(), &mut interface, 0),
            CKR_OK
        );
        let list = (*interface).pFunctionList as *const CK_FUNCTION_LIST;
        assert_eq!(
            ((*list).version.major, (*list).version.minor),
            (3, 0),
            "the default is 3.0, which every 3.x client reads"
        );
        assert_eq!(
            C_GetInterface(name.as_mut_ptr(), &mut v240, &mut interface, 0),
            CKR_OK
        );
        let list = (*interface).pFunctionList as *const CK_FUNCTION_LIST;
        assert_eq!(((*list).version.major, (*list).version.minor), (2, 40));
        assert_eq!(
            C_GetInterface(other.as_mut_ptr(), null_mut(), &mut interface, 0),
            CKR_ARGUMENTS_BAD
        );
        assert_eq!(
            C_GetInterface(name.as_mut_ptr(), &mut v31, &mut interface, 0),
            CKR_ARGUMENTS_BAD
        );
        // Not fork-safe: a child must call C_Initialize again.
        assert_eq!(
            C_GetInterface(
                name.as_mut_ptr(),
                null_mut(),
                &mut interface,
                CKF_INTERFACE_FORK_SAFE
            ),
            CKR_ARGUMENTS_BAD
        );
    }
}

// ----- slots and tokens (§5.5) -----

#[test]
fn slot_list_follows_the_length_convention() {
    let _token = Token::fresh();
    let mut slots = [0 as CK_SLOT_ID; 4];
    let mut count: CK_ULONG = 0;
    // SAFETY: the array holds `count` entries.
    unsafe {
        assert_eq!(C_GetSlotList(CK_FALSE, null_mut(), &mut count), CKR_OK);
        assert_eq!(count, 1);
        count = 0;
        assert_eq!(
            C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut count),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(count, 1);
        count = 4;
        assert_eq!(
            C_GetSlotList(CK_TRUE, slots.as_mut_ptr(), &mut count),
            CKR_OK
        );
    }
    assert_eq!((count, slots[0]), (1, SLOT));
}

#[test]
fn mechanism_list_follows_the_length_convention() {
    let _token = Token::fresh();
    let mut count: CK_ULONG = 0;
    // SAFETY: the array holds `count` entries.
    unsafe {
        assert_eq!(C_GetMechanismList(SLOT, null_mut(), &mut count), CKR_OK);
        assert!(count > 1);
        let total = count;
        let mut list = vec![0 as CK_MECHANISM_TYPE; total as usize];
        count = 1;
        assert_eq!(
            C_GetMechanismList(SLOT, list.as_mut_ptr(), &mut count),
            CKR_BUFFER_TOO_SMALL
        );
        assert_eq!(count, total);
        assert_eq!(
            C_GetMechanismList(SLOT, list.as_mut_ptr(), &mut count),
            CKR_OK
        );
        assert!(list.contains(&CKM_SHA256_RSA_PKCS));
        assert_eq!(
            C_GetMechanismList(2, null_mut(), &mut count),
            CKR_SLOT_ID_INVALID
        );
    }
}

#[test]
fn token_info_flags_follow_initialisation() {
    let _token = Token::fresh();
    let info = token_info();
    assert_eq!(info.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_eq!(info.flags & CKF_USER_PIN_INITIALIZED, 0);
    assert_ne!(info.flags & CKF_RNG, 0);
    assert_eq!(init_token(SO_PIN, b"flags"), CKR_OK);
    let info = token_info();
    assert_ne!(info.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_eq!(info.flags & CKF_USER_PIN_INITIALIZED, 0);
    assert_ne!(info.flags & CKF_LOGIN_REQUIRED, 0);
    assert_eq!((info.ulMinPinLen, info.ulMaxPinLen), (4, 255));
    let session = open(RW);
    assert_eq!(login(session, CKU_SO, SO_PIN), CKR_OK);
    // SAFETY: the PIN buffer is valid.
    let rv = unsafe { C_InitPIN(session, USER_PIN.as_ptr() as *mut _, len(USER_PIN)) };
    assert_eq!(rv, CKR_OK);
    assert_ne!(token_info().flags & CKF_USER_PIN_INITIALIZED, 0);
}

#[test]
fn token_info_counts_sessions() {
    let _token = Token::ready();
    open(RW);
    open(RO);
    open(RO);
    let info = token_info();
    assert_eq!((info.ulSessionCount, info.ulRwSessionCount), (3, 1));
}

#[test]
fn init_token_label_is_32_blank_padded_bytes() {
    let _token = Token::fresh();
    assert_eq!(init_token(SO_PIN, b"my token"), CKR_OK);
    let mut expected = [b' '; 32];
    expected[..8].copy_from_slice(b"my token");
    assert_eq!(token_info().label, expected);
    // SAFETY: the PIN is valid; the label is NULL on purpose.
    let rv = unsafe { C_InitToken(SLOT, SO_PIN.as_ptr() as *mut _, len(SO_PIN), null_mut()) };
    assert_eq!(rv, CKR_ARGUMENTS_BAD);
}

#[test]
fn init_token_with_a_session_open_is_session_exists() {
    let _token = Token::ready();
    open(RO);
    assert_eq!(init_token(SO_PIN, b"again"), CKR_SESSION_EXISTS);
}

#[test]
fn init_pin_in_a_read_only_session_is_session_read_only() {
    let _token = Token::ready();
    let session = open(RO);
    assert_eq!(login(session, CKU_USER, USER_PIN), CKR_OK);
    // SAFETY: the PIN buffer is valid.
    let rv = unsafe { C_InitPIN(session, USER_PIN.as_ptr() as *mut _, len(USER_PIN)) };
    assert_eq!(rv, CKR_SESSION_READ_ONLY);
}

#[test]
fn init_pin_outside_the_so_state_is_user_not_logged_in() {
    let (_token, session) = Token::user_session();
    // SAFETY: the PIN buffer is valid.
    let rv = unsafe { C_InitPIN(session, USER_PIN.as_ptr() as *mut _, len(USER_PIN)) };
    assert_eq!(rv, CKR_USER_NOT_LOGGED_IN);
}

fn set_pin(session: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> CK_RV {
    // SAFETY: the PIN buffers are valid.
    unsafe {
        C_SetPIN(
            session,
            old.as_ptr() as *mut _,
            len(old),
            new.as_ptr() as *mut _,
            len(new),
        )
    }
}

#[test]
fn set_pin_in_a_read_only_session_is_session_read_only() {
    let _token = Token::ready();
    let session = open(RO);
    assert_eq!(
        set_pin(session, USER_PIN, b"cu1:newpin99"),
        CKR_SESSION_READ_ONLY
    );
}

#[test]
fn set_pin_in_a_rw_public_session_changes_the_user_pin() {
    let _token = Token::ready();
    let session = open(RW);
    assert_eq!(session_state(session), CKS_RW_PUBLIC_SESSION);
    assert_eq!(set_pin(session, USER_PIN, b"cu1:newpin99"), CKR_OK);
    assert_eq!(login(session, CKU_USER, USER_PIN), CKR_PIN_INCORRECT);
    assert_eq!(login(session, CKU_USER, b"cu1:newpin99"), CKR_OK);
}

#[test]
fn wait_for_slot_event_reports_no_event_without_blocking() {
    let _token = Token::fresh();
    let mut slot: CK_SLOT_ID = 0;
    // SAFETY: the output pointer is valid.
    unsafe {
        assert_eq!(
            C_WaitForSlotEvent(CKF_DONT_BLOCK, &mut slot, null_mut()),
            CKR_NO_EVENT
        );
        assert_eq!(
            C_WaitForSlotEvent(0, &mut slot, null_mut()),
            CKR_FUNCTION_NOT_SUPPORTED
        );
    }
}

// ----- sessions and login (§5.6) -----

#[test]
fn invalid_session_handles_are_refused() {
    let _token = Token::ready();
    let bad: CK_SESSION_HANDLE = 9999;
    let mut info: CK_SESSION_INFO = unsafe { std::mem::zeroed() };
    let mut mechanism = mechanism(CKM_SHA256);
    let mut buffer = [0u8; 8];
    // SAFETY: every pointer is valid.
    let results = unsafe {
        [
            ("C_CloseSession", C_CloseSession(bad)),
            ("C_GetSessionInfo", C_GetSessionInfo(bad, &mut info)),
            (
                "C_Login",
                C_Login(bad, CKU_USER, USER_PIN.as_ptr() as *mut _, len(USER_PIN)),
            ),
            (
                "C_Login bad type",
                C_Login(bad, 77, USER_PIN.as_ptr() as *mut _, len(USER_PIN)),
            ),
            ("C_Logout", C_Logout(bad)),
            ("C_DigestInit", C_DigestInit(bad, &mut mechanism)),
            ("C_DigestKey", C_DigestKey(bad, 1)),
            ("C_FindObjectsInit", C_FindObjectsInit(bad, null_mut(), 0)),
            (
                "C_GenerateRandom",
                C_GenerateRandom(bad, buffer.as_mut_ptr(), 0),
            ),
            ("C_SeedRandom", C_SeedRandom(bad, buffer.as_mut_ptr(), 8)),
            ("C_GetFunctionStatus", C_GetFunctionStatus(bad)),
            ("C_SessionCancel", C_SessionCancel(bad, CKF_SIGN)),
        ]
    };
    for (name, rv) in results {
        assert_eq!(rv, CKR_SESSION_HANDLE_INVALID, "{name}");
    }
}

#[test]
fn open_session_without_serial_flag_is_parallel_not_supported() {
    let _token = Token::ready();
    assert_eq!(
        try_open(CKF_RW_SESSION).0,
        CKR_SESSION_PARALLEL_NOT_SUPPORTED
    );
}

#[test]
fn read_only_session_while_so_is_logged_in_is_refused() {
    let _token = Token::ready();
    let session = open(RW);
    assert_eq!(login(session, CKU_SO, SO_PIN), CKR_OK);
    assert_eq!(try_open(RO).0, CKR_SESSION_READ_WRITE_SO_EXISTS);
    assert_eq!(try_open(RW).0, CKR_OK);
}

#[test]
fn so_login_with_a_read_only_session_open_is_refused() {
    let _token = Token::ready();
    let session = open(RW);
    open(RO);
    assert_eq!(login(session, CKU_SO, SO_PIN), CKR_SESSION_READ_ONLY_EXISTS);
}

#[test]
fn login_state_machine_return_codes() {
    let _token = Token::without_user_pin();
    let session = open(RW);
    assert_eq!(login(session, 77, USER_PIN), CKR_USER_TYPE_INVALID);
    assert_eq!(
        login(session, CKU_USER, USER_PIN),
        CKR_USER_PIN_NOT_INITIALIZED
    );
    assert_eq!(logout(session), CKR_USER_NOT_LOGGED_IN);
    assert_eq!(login(session, CKU_SO, b"admin:wrong"), CKR_PIN_INCORRECT);
    assert_eq!(login(session, CKU_SO, SO_PIN), CKR_OK);
    assert_eq!(login(session, CKU_SO, SO_PIN), CKR_USER_ALREADY_LOGGED_IN);
    assert_eq!(
        login(session, CKU_USER, USER_PIN),
        CKR_USER_ANOTHER_ALREADY_LOGGED_IN
    );
    assert_eq!(logout(session), CKR_OK);
    assert_eq!(logout(session), CKR_USER_NOT_LOGGED_IN);
}

#[test]
fn context_specific_login_without_an_operation_is_operation_not_initialized() {
    let (_token, session) = Token::user_session();
    assert_eq!(
        login(session, CKU_CONTEXT_SPECIFIC, USER_PIN),
        CKR_OPERATION_NOT_INITIALIZED
    );
    let (_, private) = key_pair(session, CKM_EC_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_ECDSA_SHA256, private), CKR_OK);
    assert_eq!(
        login(session, CKU_CONTEXT_SPECIFIC, b"cu1:wrong"),
        CKR_PIN_INCORRECT
    );
    assert_eq!(login(session, CKU_CONTEXT_SPECIFIC, USER_PIN), CKR_OK);
    assert_eq!(sign(session, b"data", Some(256)).0, CKR_OK);
}

#[test]
fn concurrent_logins_leave_one_user_logged_in() {
    let _token = Token::ready();
    let sessions = [open(RW), open(RW)];
    let results: Vec<CK_RV> = std::thread::scope(|scope| {
        let threads: Vec<_> = sessions
            .iter()
            .map(|&session| scope.spawn(move || login(session, CKU_USER, USER_PIN)))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut sorted = results.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![CKR_OK, CKR_USER_ALREADY_LOGGED_IN],
        "{results:?}"
    );
    assert_eq!(session_state(sessions[0]), CKS_RW_USER_FUNCTIONS);
}

#[test]
fn session_info_reports_each_login_state() {
    let _token = Token::ready();
    let rw = open(RW);
    let ro = open(RO);
    assert_eq!(session_state(rw), CKS_RW_PUBLIC_SESSION);
    assert_eq!(session_state(ro), CKS_RO_PUBLIC_SESSION);
    assert_eq!(login(ro, CKU_USER, USER_PIN), CKR_OK);
    assert_eq!(session_state(rw), CKS_RW_USER_FUNCTIONS);
    assert_eq!(session_state(ro), CKS_RO_USER_FUNCTIONS);
    assert_eq!(logout(ro), CKR_OK);
    assert_eq!(close(ro), CKR_OK);
    assert_eq!(login(rw, CKU_SO, SO_PIN), CKR_OK);
    assert_eq!(session_state(rw), CKS_RW_SO_FUNCTIONS);
}

#[test]
fn close_all_sessions_logs_out() {
    let (_token, session) = Token::user_session();
    // SAFETY: no pointers.
    assert_eq!(unsafe { C_CloseAllSessions(SLOT) }, CKR_OK);
    assert_eq!(close(session), CKR_SESSION_HANDLE_INVALID);
    let session = open(RW);
    assert_eq!(session_state(session), CKS_RW_PUBLIC_SESSION);
}

#[test]
fn finalize_with_sessions_open_closes_them() {
    let (token, session) = Token::user_session();
    // SAFETY: NULL is the required argument.
    assert_eq!(unsafe { C_Finalize(null_mut()) }, CKR_OK);
    // SAFETY: NULL arguments are allowed.
    assert_eq!(unsafe { C_Initialize(null_mut()) }, CKR_OK);
    assert_eq!(close(session), CKR_SESSION_HANDLE_INVALID);
    assert_eq!(token_info().ulSessionCount, 0);
    drop(token);
}

// ----- objects (§5.7) -----

#[test]
fn get_attribute_value_processes_every_attribute() {
    let (_token, session) = Token::user_session();
    let (_, private) = key_pair(session, CKM_RSA_PKCS_KEY_PAIR_GEN);
    let mut class: CK_OBJECT_CLASS = 0;
    let mut exponent = [0u8; 512];
    let mut tiny = [0u8; 1];
    let mut unknown = [0u8; 8];
    let mut key_type: CK_KEY_TYPE = 0;
    let mut template = [
        output_attribute(CKA_CLASS, &mut class),
        output_bytes(CKA_PRIVATE_EXPONENT, &mut exponent),
        output_bytes(CKA_MODULUS, &mut tiny),
        output_bytes(CKA_VALUE_LEN, &mut unknown),
        CK_ATTRIBUTE {
            type_: CKA_PUBLIC_EXPONENT,
            pValue: null_mut(),
            ulValueLen: 0,
        },
        output_attribute(CKA_KEY_TYPE, &mut key_type),
    ];
    // SAFETY: each attribute's buffer is valid for its length.
    let rv = unsafe {
        C_GetAttributeValue(
            session,
            private,
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
        )
    };
    assert!(
        [
            CKR_ATTRIBUTE_SENSITIVE,
            CKR_ATTRIBUTE_TYPE_INVALID,
            CKR_BUFFER_TOO_SMALL
        ]
        .contains(&rv),
        "rv {rv:#x}"
    );
    assert_eq!(class, CKO_PRIVATE_KEY);
    assert_eq!(
        template[1].ulValueLen, CK_UNAVAILABLE_INFORMATION,
        "sensitive"
    );
    assert_eq!(
        template[2].ulValueLen, CK_UNAVAILABLE_INFORMATION,
        "too small"
    );
    assert_eq!(
        template[3].ulValueLen, CK_UNAVAILABLE_INFORMATION,
        "invalid"
    );
    assert_eq!(template[4].ulValueLen, 3, "length of 65537");
    assert_eq!(
        key_type, CKK_RSA,
        "attributes after the failures are filled too"
    );
}

fn find_all(session: CK_SESSION_HANDLE, max_count: CK_ULONG) -> (CK_RV, CK_ULONG) {
    let mut found = [0 as CK_OBJECT_HANDLE; 64];
    let mut count: CK_ULONG = 77;
    // SAFETY: at most 64 objects exist, so at most 64 are written.
    let rv = unsafe { C_FindObjects(session, found.as_mut_ptr(), max_count, &mut count) };
    (rv, count)
}

#[test]
fn find_objects_with_max_count_zero_returns_nothing() {
    let (_token, session) = Token::user_session();
    key_pair(session, CKM_EC_KEY_PAIR_GEN);
    let mut count: CK_ULONG = 77;
    // SAFETY: an empty template; NULL is fine for zero handles.
    unsafe {
        assert_eq!(C_FindObjectsInit(session, null_mut(), 0), CKR_OK);
        assert_eq!(C_FindObjects(session, null_mut(), 0, &mut count), CKR_OK);
    }
    assert_eq!(count, 0);
    assert_eq!(find_all(session, 64), (CKR_OK, 2));
}

#[test]
fn find_objects_with_the_largest_max_count_does_not_fail() {
    let (_token, session) = Token::user_session();
    key_pair(session, CKM_EC_KEY_PAIR_GEN);
    // SAFETY: an empty template.
    assert_eq!(unsafe { C_FindObjectsInit(session, null_mut(), 0) }, CKR_OK);
    assert_eq!(find_all(session, 1), (CKR_OK, 1));
    assert_eq!(find_all(session, CK_ULONG::MAX), (CKR_OK, 1));
    assert_eq!(find_all(session, CK_ULONG::MAX), (CKR_OK, 0));
    // SAFETY: no pointers.
    assert_eq!(unsafe { C_FindObjectsFinal(session) }, CKR_OK);
}

// ----- cryptographic operations (§5.8 to §5.14) -----

#[test]
fn init_while_an_operation_is_active_is_operation_active() {
    let (_token, session) = Token::user_session();
    let (public, private) = key_pair(session, CKM_EC_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_ECDSA_SHA256, private), CKR_OK);
    assert_eq!(
        sign_init(session, CKM_ECDSA_SHA256, private),
        CKR_OPERATION_ACTIVE
    );
    assert_eq!(verify_init(session, CKM_ECDSA_SHA256, public), CKR_OK);
    assert_eq!(
        verify_init(session, CKM_ECDSA_SHA256, public),
        CKR_OPERATION_ACTIVE
    );
    assert_eq!(digest_init(session), CKR_OK);
    assert_eq!(digest_init(session), CKR_OPERATION_ACTIVE);
    // SAFETY: an empty template.
    unsafe {
        assert_eq!(C_FindObjectsInit(session, null_mut(), 0), CKR_OK);
        assert_eq!(
            C_FindObjectsInit(session, null_mut(), 0),
            CKR_OPERATION_ACTIVE
        );
    }
}

#[test]
fn sign_after_sign_update_is_operation_active_and_ends_the_operation() {
    let (_token, session) = Token::user_session();
    let (_, private) = key_pair(session, CKM_RSA_PKCS_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_SHA256_RSA_PKCS, private), CKR_OK);
    assert_eq!(sign_update(session, b"first part"), CKR_OK);
    assert_eq!(
        sign(session, b"second part", Some(512)).0,
        CKR_OPERATION_ACTIVE
    );
    assert_eq!(sign_final(session).0, CKR_OPERATION_NOT_INITIALIZED);
}

#[test]
fn verify_after_verify_update_is_operation_active() {
    let (_token, session) = Token::user_session();
    let (public, private) = key_pair(session, CKM_EC_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_ECDSA_SHA256, private), CKR_OK);
    let (_, signature) = sign(session, b"data", Some(256));
    assert_eq!(verify_init(session, CKM_ECDSA_SHA256, public), CKR_OK);
    // SAFETY: the data is valid.
    assert_eq!(
        unsafe { C_VerifyUpdate(session, b"da".as_ptr() as *mut _, 2) },
        CKR_OK
    );
    assert_eq!(verify(session, b"data", &signature), CKR_OPERATION_ACTIVE);
}

#[test]
fn digest_after_digest_update_is_operation_active() {
    let (_token, session) = Token::user_session();
    assert_eq!(digest_init(session), CKR_OK);
    let mut out = [0u8; 32];
    let mut length: CK_ULONG = 32;
    // SAFETY: buffers are valid for their lengths.
    unsafe {
        assert_eq!(C_DigestUpdate(session, b"ab".as_ptr() as *mut _, 2), CKR_OK);
        assert_eq!(
            C_Digest(
                session,
                b"c".as_ptr() as *mut _,
                1,
                out.as_mut_ptr(),
                &mut length
            ),
            CKR_OPERATION_ACTIVE
        );
        assert_eq!(
            C_DigestFinal(session, out.as_mut_ptr(), &mut length),
            CKR_OPERATION_NOT_INITIALIZED
        );
    }
}

#[test]
fn encrypt_after_encrypt_update_is_operation_active() {
    let (_token, session) = Token::user_session();
    let key = aes_key(session, true);
    let mut mechanism = mechanism(CKM_AES_ECB);
    let block = [7u8; 16];
    let mut out = [0u8; 64];
    let mut length: CK_ULONG = 64;
    // SAFETY: buffers are valid for their lengths.
    unsafe {
        assert_eq!(C_EncryptInit(session, &mut mechanism, key), CKR_OK);
        assert_eq!(
            C_EncryptUpdate(
                session,
                block.as_ptr() as *mut _,
                16,
                out.as_mut_ptr(),
                &mut length
            ),
            CKR_OK
        );
        length = 64;
        assert_eq!(
            C_Encrypt(
                session,
                block.as_ptr() as *mut _,
                16,
                out.as_mut_ptr(),
                &mut length
            ),
            CKR_OPERATION_ACTIVE
        );
        assert_eq!(C_DecryptInit(session, &mut mechanism, key), CKR_OK);
        length = 64;
        assert_eq!(
            C_DecryptUpdate(
                session,
                block.as_ptr() as *mut _,
                16,
                out.as_mut_ptr(),
                &mut length
            ),
            CKR_OK
        );
        length = 64;
        assert_eq!(
            C_Decrypt(
                session,
                block.as_ptr() as *mut _,
                16,
                out.as_mut_ptr(),
                &mut length
            ),
            CKR_OPERATION_ACTIVE
        );
    }
}

#[test]
fn sign_final_without_update_signs_empty_data() {
    let (_token, session) = Token::user_session();
    let (_, private) = key_pair(session, CKM_RSA_PKCS_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_SHA256_RSA_PKCS, private), CKR_OK);
    let (rv, multi_part) = sign_final(session);
    assert_eq!(rv, CKR_OK);
    assert_eq!(sign_init(session, CKM_SHA256_RSA_PKCS, private), CKR_OK);
    let (rv, single) = sign(session, b"", Some(512));
    assert_eq!(rv, CKR_OK);
    assert_eq!(multi_part, single, "RSA PKCS#1 v1.5 is deterministic");
}

#[test]
fn verify_with_a_wrong_signature_ends_the_operation() {
    let (_token, session) = Token::user_session();
    let (public, private) = key_pair(session, CKM_EC_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_ECDSA_SHA256, private), CKR_OK);
    let (_, mut signature) = sign(session, b"data", Some(256));
    signature[0] ^= 1;
    assert_eq!(verify_init(session, CKM_ECDSA_SHA256, public), CKR_OK);
    assert_eq!(verify(session, b"data", &signature), CKR_SIGNATURE_INVALID);
    assert_eq!(
        verify(session, b"data", &signature),
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn rsa_length_query_keeps_the_operation_and_the_same_signature_follows() {
    let (_token, session) = Token::user_session();
    let (_, private) = key_pair(session, CKM_RSA_PKCS_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_SHA256_RSA_PKCS, private), CKR_OK);
    let (rv, query) = sign(session, b"data", None);
    assert_eq!((rv, query.len()), (CKR_OK, 256));
    let (rv, short) = sign(session, b"data", Some(10));
    assert_eq!((rv, short.len()), (CKR_BUFFER_TOO_SMALL, 256));
    let (rv, first) = sign(session, b"data", Some(256));
    assert_eq!(rv, CKR_OK);
    assert_eq!(sign_init(session, CKM_SHA256_RSA_PKCS, private), CKR_OK);
    let (rv, second) = sign(session, b"data", Some(256));
    assert_eq!(rv, CKR_OK);
    assert_eq!(first, second);
    assert_eq!(
        sign(session, b"data", Some(256)).0,
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn ecdsa_length_query_is_followed_by_a_valid_cached_signature() {
    let (_token, session) = Token::user_session();
    let (public, private) = key_pair(session, CKM_EC_KEY_PAIR_GEN);
    assert_eq!(sign_init(session, CKM_ECDSA_SHA256, private), CKR_OK);
    let (rv, query) = sign(session, b"data", None);
    assert_eq!((rv, query.len()), (CKR_OK, 64));
    let (rv, signature) = sign(session, b"data", Some(64));
    assert_eq!(rv, CKR_OK);
    assert_eq!(verify_init(session, CKM_ECDSA_SHA256, public), CKR_OK);
    assert_eq!(verify(session, b"data", &signature), CKR_OK);
}

#[test]
fn digest_key_needs_an_active_digest() {
    let (_token, session) = Token::user_session();
    let key = aes_key(session, false);
    // SAFETY: no pointers.
    assert_eq!(
        unsafe { C_DigestKey(session, key) },
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn digest_key_of_a_sensitive_key_is_key_indigestible() {
    let (_token, session) = Token::user_session();
    let key = aes_key(session, true);
    assert_eq!(digest_init(session), CKR_OK);
    // SAFETY: no pointers.
    unsafe {
        assert_eq!(C_DigestKey(session, key), CKR_KEY_INDIGESTIBLE);
        assert_eq!(C_DigestKey(session, 0xdead), CKR_KEY_HANDLE_INVALID);
    }
}

#[test]
fn digest_key_digests_the_value_of_a_non_sensitive_secret_key() {
    let (_token, session) = Token::user_session();
    let key = aes_key(session, false);
    let mut value = [0u8; 32];
    let mut template = [output_bytes(CKA_VALUE, &mut value)];
    let mut digest = [0u8; 32];
    let mut length: CK_ULONG = 32;
    // SAFETY: buffers are valid for their lengths.
    unsafe {
        assert_eq!(
            C_GetAttributeValue(session, key, template.as_mut_ptr(), 1),
            CKR_OK
        );
        assert_eq!(digest_init(session), CKR_OK);
        assert_eq!(
            C_DigestUpdate(session, b"prefix".as_ptr() as *mut _, 6),
            CKR_OK
        );
        assert_eq!(C_DigestKey(session, key), CKR_OK);
        assert_eq!(
            C_DigestFinal(session, digest.as_mut_ptr(), &mut length),
            CKR_OK
        );
    }
    let mut expected = b"prefix".to_vec();
    expected.extend_from_slice(&value);
    assert_eq!(digest.to_vec(), openssl::sha::sha256(&expected).to_vec());
}

// ----- random numbers (§5.15) -----

#[test]
fn generate_random_with_length_zero_succeeds() {
    let (_token, session) = Token::user_session();
    // SAFETY: nothing is written for length 0.
    assert_eq!(unsafe { C_GenerateRandom(session, null_mut(), 0) }, CKR_OK);
}

/// `C_SeedRandom` takes the seed, and the generator stays a generator: the
/// same seed given twice does not make the output repeat, and a large seed
/// (more than one 4 KiB reseed) is taken too.
#[test]
fn seed_random_mixes_the_seed_and_the_output_never_repeats() {
    let (_token, session) = Token::user_session();
    let mut outputs = Vec::new();
    for seed_len in [16usize, 16, 10_000] {
        let seed = vec![1u8; seed_len];
        // SAFETY: the seed is valid for its length.
        let rv = unsafe { C_SeedRandom(session, seed.as_ptr() as *mut _, seed_len as CK_ULONG) };
        assert_eq!(rv, CKR_OK, "C_SeedRandom of {seed_len} bytes");
        let mut out = [0u8; 32];
        // SAFETY: `out` is writable for its length.
        let rv = unsafe { C_GenerateRandom(session, out.as_mut_ptr(), 32) };
        assert_eq!(rv, CKR_OK);
        outputs.push(out);
    }
    assert_ne!(
        outputs[0], outputs[1],
        "the same seed twice gave the same output"
    );
    assert_ne!(outputs[1], outputs[2]);
    assert_ne!(outputs[0], [0u8; 32]);
}
