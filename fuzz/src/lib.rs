//! What the fuzz targets share: a reader that turns the fuzzer's bytes into
//! choices, lengths and buffers, and a provider initialised once per
//! process through its own C ABI (a fresh token in a temporary directory,
//! the user logged in, a few keys to use).
//!
//! The targets call the exported `C_*` functions of the crate directly, so
//! libFuzzer's coverage and AddressSanitizer see the whole provider. Every
//! pointer they pass is either NULL or valid for the length they give with
//! it: that is the PKCS#11 contract, and breaking it would find bugs in the
//! harness, not in the provider.

use azcloudhsm_pkcs11::ffi::{general, key, object, session, slot_token};
use cryptoki_sys::*;
use std::path::PathBuf;
use std::ptr;
use std::sync::OnceLock;

/// The SO PIN of the fuzzing token.
pub const SO_PIN: &[u8] = b"fuzz-so-pin";
/// The user PIN, in the vendor's `<username>:<password>` form.
pub const USER_PIN: &[u8] = b"cu1:fuzz-user-pin";

/// Takes bytes from the front of the fuzzer's input; once it is exhausted
/// every read gives zeros or empty slices, so any input is a whole case.
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn byte(&mut self) -> u8 {
        let Some((&first, rest)) = self.data.split_first() else {
            return 0;
        };
        self.data = rest;
        first
    }
    pub fn bytes(&mut self, length: usize) -> &'a [u8] {
        let length = length.min(self.data.len());
        let (taken, rest) = self.data.split_at(length);
        self.data = rest;
        taken
    }
    /// A little-endian unsigned long from up to 8 bytes.
    pub fn ulong(&mut self) -> CK_ULONG {
        let mut value = [0u8; 8];
        let taken = self.bytes(8);
        value[..taken.len()].copy_from_slice(taken);
        CK_ULONG::from_le_bytes(value)
    }
    /// One of `choices`, by the next byte.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[usize::from(self.byte()) % choices.len()]
    }
    /// A length: mostly small, sometimes one of the edges a length check
    /// must survive.
    pub fn length(&mut self) -> CK_ULONG {
        match self.byte() {
            0..=199 => CK_ULONG::from(self.byte()),
            200..=219 => CK_ULONG::from(self.byte()) << 8 | CK_ULONG::from(self.byte()),
            220..=229 => CK_ULONG::MAX,
            230..=239 => (64 << 20) + 1,
            240..=249 => CK_ULONG::from(u32::MAX),
            _ => self.ulong(),
        }
    }
    /// The rest of the input.
    pub fn rest(&mut self) -> &'a [u8] {
        let rest = self.data;
        self.data = &[];
        rest
    }
}

/// A caller's buffer: NULL with any length, or a real buffer of exactly the
/// length it claims (the harness never lies about a non-NULL buffer).
pub struct Buffer {
    bytes: Option<Vec<u8>>,
    length: CK_ULONG,
}

impl Buffer {
    /// From the reader: usually real bytes, sometimes NULL with a length.
    pub fn read(reader: &mut Reader<'_>) -> Buffer {
        match reader.byte() % 8 {
            0 => Buffer {
                bytes: None,
                length: reader.length(),
            },
            _ => {
                let length = usize::from(reader.byte());
                Buffer::of(reader.bytes(length))
            }
        }
    }
    pub fn of(bytes: &[u8]) -> Buffer {
        Buffer {
            length: bytes.len() as CK_ULONG,
            bytes: Some(bytes.to_vec()),
        }
    }
    pub fn pointer(&mut self) -> *mut u8 {
        match &mut self.bytes {
            // A zero-length real buffer is still a non-NULL pointer.
            Some(bytes) if bytes.is_empty() => ptr::NonNull::dangling().as_ptr(),
            Some(bytes) => bytes.as_mut_ptr(),
            None => ptr::null_mut(),
        }
    }
    pub fn length(&self) -> CK_ULONG {
        self.length
    }
    pub fn first_byte(&self) -> Option<u8> {
        self.bytes.as_ref().and_then(|bytes| bytes.first().copied())
    }
}

/// The attribute types a template is made of: every one the provider knows
/// and a few it does not.
pub const ATTRIBUTE_TYPES: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_APPLICATION,
    CKA_VALUE,
    CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_AC_ISSUER,
    CKA_OWNER,
    CKA_ATTR_TYPES,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_NAME_HASH_ALGORITHM,
    CKA_CHECK_VALUE,
    CKA_KEY_TYPE,
    CKA_SUBJECT,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_SIGN,
    CKA_SIGN_RECOVER,
    CKA_VERIFY,
    CKA_VERIFY_RECOVER,
    CKA_DERIVE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_PUBLIC_KEY_INFO,
    CKA_VALUE_LEN,
    CKA_EXTRACTABLE,
    CKA_LOCAL,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_KEY_GEN_MECHANISM,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_ALLOWED_MECHANISMS,
    CKA_UNIQUE_ID,
    CKA_VENDOR_DEFINED,
    CKA_VENDOR_DEFINED | 0x1234,
    0x7777,
];

/// The values a typed attribute most often needs, so that the fuzzer finds
/// objects that are created, not only templates that are refused.
pub fn typical_value(reader: &mut Reader<'_>, kind: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    let ulong = |value: CK_ULONG| value.to_ne_bytes().to_vec();
    match kind {
        CKA_CLASS => ulong(reader.pick(&[
            CKO_CERTIFICATE,
            CKO_SECRET_KEY,
            CKO_PUBLIC_KEY,
            CKO_PRIVATE_KEY,
            CKO_DATA,
            CKO_VENDOR_DEFINED,
        ])),
        CKA_KEY_TYPE => ulong(reader.pick(&[
            CKK_AES,
            CKK_GENERIC_SECRET,
            CKK_RSA,
            CKK_EC,
            CKK_EC_EDWARDS,
            CKK_DES3,
            CKK_SHA256_HMAC,
        ])),
        CKA_CERTIFICATE_TYPE => ulong(reader.pick(&[CKC_X_509, CKC_X_509_ATTR_CERT, 7])),
        CKA_VALUE_LEN | CKA_MODULUS_BITS | CKA_CERTIFICATE_CATEGORY | CKA_NAME_HASH_ALGORITHM => {
            ulong(reader.pick(&[0, 1, 2, 3, 16, 24, 32, 64, 1024, 2048, CKM_SHA256]))
        }
        CKA_VALUE if reader.byte() % 2 == 0 => certificate_der().to_vec(),
        CKA_SUBJECT | CKA_ISSUER if reader.byte() % 2 == 0 => certificate_subject_der().to_vec(),
        CKA_EC_PARAMS => reader
            .pick(&[
                &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07][..],
                &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22][..],
                &[0x06, 0x03, 0x2B, 0x65, 0x70][..],
                &[
                    0x13, 0x0a, b'c', b'u', b'r', b'v', b'e', b'2', b'5', b'5', b'1', b'9',
                ][..],
            ])
            .to_vec(),
        CKA_START_DATE | CKA_END_DATE => reader
            .pick(&[
                &b"20261203"[..],
                &b"20260230"[..],
                &b"00000000"[..],
                &b""[..],
            ])
            .to_vec(),
        _ => vec![reader.pick(&[CK_TRUE, CK_FALSE])],
    }
}

/// A self-signed certificate (P-256, CN=fuzz), DER.
pub fn certificate_der() -> &'static [u8] {
    &certificate().0
}

/// Its subject, DER.
pub fn certificate_subject_der() -> &'static [u8] {
    &certificate().1
}

fn certificate() -> &'static (Vec<u8>, Vec<u8>) {
    static CERTIFICATE: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    CERTIFICATE.get_or_init(|| {
        use openssl::{asn1, bn, ec, hash, nid, pkey, x509};
        let group = ec::EcGroup::from_curve_name(nid::Nid::X9_62_PRIME256V1).unwrap();
        let key = pkey::PKey::from_ec_key(ec::EcKey::generate(&group).unwrap()).unwrap();
        let mut name = x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "fuzz").unwrap();
        let name = name.build();
        let mut builder = x509::X509Builder::new().unwrap();
        builder.set_version(2).unwrap();
        let serial = bn::BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap();
        builder.set_serial_number(&serial).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder
            .set_not_before(&asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        builder
            .set_not_after(&asn1::Asn1Time::days_from_now(365).unwrap())
            .unwrap();
        builder.sign(&key, hash::MessageDigest::sha256()).unwrap();
        let certificate = builder.build();
        (certificate.to_der().unwrap(), name.to_der().unwrap())
    })
}

/// The keys the set-up made, as session objects every session sees.
#[derive(Clone, Debug)]
pub struct Keys {
    /// What `C_GetMechanismList` gives for slot 1.
    pub mechanisms: Vec<CK_MECHANISM_TYPE>,
    /// `CKA_EC_POINT` of `ec_public` (a DER OCTET STRING).
    pub ec_point: Vec<u8>,
    pub aes: CK_OBJECT_HANDLE,
    pub generic: CK_OBJECT_HANDLE,
    pub rsa_public: CK_OBJECT_HANDLE,
    pub rsa_private: CK_OBJECT_HANDLE,
    pub ec_public: CK_OBJECT_HANDLE,
    pub ec_private: CK_OBJECT_HANDLE,
    pub ed_public: CK_OBJECT_HANDLE,
    pub ed_private: CK_OBJECT_HANDLE,
}

impl Keys {
    pub fn all(&self) -> [CK_OBJECT_HANDLE; 8] {
        [
            self.aes,
            self.generic,
            self.rsa_public,
            self.rsa_private,
            self.ec_public,
            self.ec_private,
            self.ed_public,
            self.ed_private,
        ]
    }
}

/// The provider, initialised once per process: `C_Initialize`, a fresh
/// token, the user logged in, and [`Keys`]. The temporary directory lives
/// as long as the process.
pub fn provider() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(set_up)
}

fn check(what: &str, rv: CK_RV) {
    assert_eq!(rv, CKR_OK, "fuzz set-up: {what} returned 0x{rv:x}");
}

fn set_up() -> Keys {
    let root: PathBuf = tempfile::Builder::new()
        .prefix("azcloudhsm-fuzz-")
        .tempdir()
        .expect("a temporary directory")
        .keep();
    let token = root.join("token");
    let certificates = root.join("certificates");
    let config = root.join("azcloudhsm_application.cfg");
    std::fs::write(
        &config,
        format!(
            "SOFT_TOKEN_DIR={}\nSOFT_KDF_ITERATIONS=1000\nCERTSTORAGE_URL=file://{}\n\
             LOG_LEVEL=off\nLOG_FILE={}\n",
            token.display(),
            certificates.display(),
            root.join("provider.log").display()
        ),
    )
    .expect("the fuzzing configuration");
    std::env::set_var("AZCLOUDHSM_CONFIG", &config);
    // SAFETY (every call below): the pointers are NULL where PKCS#11 allows
    // it, or point at live buffers of the lengths given.
    unsafe {
        check("C_Initialize", general::C_Initialize(ptr::null_mut()));
        let mut label = [b' '; 32];
        label[..4].copy_from_slice(b"fuzz");
        check(
            "C_InitToken",
            slot_token::C_InitToken(
                1,
                SO_PIN.as_ptr() as *mut u8,
                SO_PIN.len() as CK_ULONG,
                label.as_mut_ptr(),
            ),
        );
        let handle = open_session();
        check(
            "C_Login SO",
            session::C_Login(
                handle,
                CKU_SO,
                SO_PIN.as_ptr() as *mut u8,
                SO_PIN.len() as CK_ULONG,
            ),
        );
        check(
            "C_InitPIN",
            slot_token::C_InitPIN(
                handle,
                USER_PIN.as_ptr() as *mut u8,
                USER_PIN.len() as CK_ULONG,
            ),
        );
        check("C_Logout", session::C_Logout(handle));
        check(
            "C_Login user",
            session::C_Login(
                handle,
                CKU_USER,
                USER_PIN.as_ptr() as *mut u8,
                USER_PIN.len() as CK_ULONG,
            ),
        );
        // This session stays open: the login lives as long as a session
        // does, and the keys are its session objects.
        let aes = generate_secret(handle, CKM_AES_KEY_GEN, SECRET_USAGE, 32);
        let generic = generate_secret(handle, CKM_GENERIC_SECRET_KEY_GEN, SECRET_USAGE, 32);
        let (rsa_public, rsa_private) = generate_pair(handle, CKM_RSA_PKCS_KEY_PAIR_GEN, None);
        let (ec_public, ec_private) = generate_pair(
            handle,
            CKM_EC_KEY_PAIR_GEN,
            Some(&[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]),
        );
        let (ed_public, ed_private) = generate_pair(
            handle,
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            Some(&[0x06, 0x03, 0x2B, 0x65, 0x70]),
        );
        let mut count = 0;
        check(
            "C_GetMechanismList",
            slot_token::C_GetMechanismList(1, ptr::null_mut(), &mut count),
        );
        let mut mechanisms = vec![0; count as usize];
        check(
            "C_GetMechanismList",
            slot_token::C_GetMechanismList(1, mechanisms.as_mut_ptr(), &mut count),
        );
        mechanisms.truncate(count as usize);
        let mut ec_point = vec![0u8; 256];
        let mut attribute = CK_ATTRIBUTE {
            type_: CKA_EC_POINT,
            pValue: ec_point.as_mut_ptr() as *mut _,
            ulValueLen: ec_point.len() as CK_ULONG,
        };
        check(
            "C_GetAttributeValue CKA_EC_POINT",
            object::C_GetAttributeValue(handle, ec_public, &mut attribute, 1),
        );
        ec_point.truncate(attribute.ulValueLen as usize);
        Keys {
            mechanisms,
            ec_point,
            aes,
            generic,
            rsa_public,
            rsa_private,
            ec_public,
            ec_private,
            ed_public,
            ed_private,
        }
    }
}

/// Opens a read-write session on slot 1.
pub fn open_session() -> CK_SESSION_HANDLE {
    let mut handle = 0;
    // SAFETY: `handle` is a live output; NULL application data and notify
    // callback are allowed.
    let rv = unsafe {
        session::C_OpenSession(
            1,
            CKF_SERIAL_SESSION | CKF_RW_SESSION,
            ptr::null_mut(),
            None,
            &mut handle,
        )
    };
    check("C_OpenSession", rv);
    handle
}

/// Closes a session, which ends its operations and destroys its objects.
pub fn close_session(handle: CK_SESSION_HANDLE) {
    // SAFETY: no pointers.
    check("C_CloseSession", unsafe { session::C_CloseSession(handle) });
}

/// Destroys an object; it must have existed.
pub fn destroy(session: CK_SESSION_HANDLE, handle: CK_OBJECT_HANDLE) {
    // SAFETY: no pointers.
    check("C_DestroyObject", unsafe {
        object::C_DestroyObject(session, handle)
    });
}

/// An attribute of a `CK_BBOOL` true.
pub fn usage_template(kinds: &[CK_ATTRIBUTE_TYPE], truth: &CK_BBOOL) -> Vec<CK_ATTRIBUTE> {
    kinds
        .iter()
        .map(|&kind| CK_ATTRIBUTE {
            type_: kind,
            pValue: truth as *const CK_BBOOL as *mut _,
            ulValueLen: 1,
        })
        .collect()
}

const SECRET_USAGE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_EXTRACTABLE,
];

/// A `CK_ULONG` attribute pointing at `value`.
pub fn ulong_attribute(kind: CK_ATTRIBUTE_TYPE, value: &CK_ULONG) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: kind,
        pValue: value as *const CK_ULONG as *mut _,
        ulValueLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
    }
}

/// Generates a session secret key of `bytes` bytes with the attributes
/// `usage` true.
pub unsafe fn generate_secret(
    session: CK_SESSION_HANDLE,
    kind: CK_MECHANISM_TYPE,
    usage: &[CK_ATTRIBUTE_TYPE],
    bytes: CK_ULONG,
) -> CK_OBJECT_HANDLE {
    let truth: CK_BBOOL = CK_TRUE;
    let mut template = usage_template(usage, &truth);
    template.push(ulong_attribute(CKA_VALUE_LEN, &bytes));
    let mut mechanism = CK_MECHANISM {
        mechanism: kind,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    };
    let mut handle = 0;
    // SAFETY: the template and mechanism live across the call.
    let rv = unsafe {
        key::C_GenerateKey(
            session,
            &mut mechanism,
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
            &mut handle,
        )
    };
    check("C_GenerateKey", rv);
    handle
}

unsafe fn generate_pair(
    session: CK_SESSION_HANDLE,
    kind: CK_MECHANISM_TYPE,
    params: Option<&[u8]>,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let truth: CK_BBOOL = CK_TRUE;
    let bits: CK_ULONG = 2048;
    let exponent = [1u8, 0, 1];
    let mut public = usage_template(&[CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE], &truth);
    let mut private = usage_template(
        &[CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE, CKA_PRIVATE],
        &truth,
    );
    match params {
        Some(params) => public.push(CK_ATTRIBUTE {
            type_: CKA_EC_PARAMS,
            pValue: params.as_ptr() as *mut _,
            ulValueLen: params.len() as CK_ULONG,
        }),
        None => {
            public.push(CK_ATTRIBUTE {
                type_: CKA_MODULUS_BITS,
                pValue: &bits as *const CK_ULONG as *mut _,
                ulValueLen: std::mem::size_of::<CK_ULONG>() as CK_ULONG,
            });
            public.push(CK_ATTRIBUTE {
                type_: CKA_PUBLIC_EXPONENT,
                pValue: exponent.as_ptr() as *mut _,
                ulValueLen: exponent.len() as CK_ULONG,
            });
        }
    }
    let mut mechanism = CK_MECHANISM {
        mechanism: kind,
        pParameter: ptr::null_mut(),
        ulParameterLen: 0,
    };
    let (mut public_handle, mut private_handle) = (0, 0);
    // SAFETY: the templates and mechanism live across the call.
    let rv = unsafe {
        key::C_GenerateKeyPair(
            session,
            &mut mechanism,
            public.as_mut_ptr(),
            public.len() as CK_ULONG,
            private.as_mut_ptr(),
            private.len() as CK_ULONG,
            &mut public_handle,
            &mut private_handle,
        )
    };
    check("C_GenerateKeyPair", rv);
    (public_handle, private_handle)
}

/// The return codes a call may give for any input; anything else (a
/// `CKR_GENERAL_ERROR`, `CKR_FUNCTION_FAILED` or `CKR_DEVICE_ERROR` for bad
/// input, which would hide a bug) stops the fuzzer.
pub fn assert_expected(what: &str, rv: CK_RV) {
    assert!(
        !matches!(
            rv,
            CKR_GENERAL_ERROR | CKR_FUNCTION_FAILED | CKR_DEVICE_ERROR | CKR_DEVICE_MEMORY
        ),
        "{what} returned 0x{rv:x}, an internal failure for bad input"
    );
}

/// The blob-signing key of the `blob_jws` target: a fixed RSA-2048 key
/// made for fuzzing only, so that the committed seeds are validly signed.
pub struct FuzzBlobKey {
    key: openssl::pkey::PKey<openssl::pkey::Private>,
    public_half: azcloudhsm_pkcs11::device::PublicHalf,
}

/// The `kid` of [`FuzzBlobKey`].
pub const FUZZ_BLOB_KEY_ID: &str = "fuzz-blob-signing-key";

impl FuzzBlobKey {
    pub fn get() -> &'static FuzzBlobKey {
        static KEY: OnceLock<FuzzBlobKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let key =
                openssl::pkey::PKey::private_key_from_pem(include_bytes!("blob_signing_key.pem"))
                    .expect("the fuzzing blob key");
            let der = key.public_key_to_der().expect("the public key");
            FuzzBlobKey {
                key,
                public_half: azcloudhsm_pkcs11::device::PublicHalf::named(FUZZ_BLOB_KEY_ID, der),
            }
        })
    }

    /// A compact JWS of `payload` under the protected header `header`
    /// (JSON text), signed RS512.
    pub fn compact(&self, header: &[u8], payload: &[u8]) -> String {
        use azcloudhsm_pkcs11::certstore::encoding::base64url_encode;
        let signing_input = format!("{}.{}", base64url_encode(header), base64url_encode(payload));
        let signature = self.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", base64url_encode(&signature))
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha512(), &self.key)
                .expect("an RS512 signer");
        signer.update(message).expect("signing");
        signer.sign_to_vec().expect("signing")
    }
}

impl azcloudhsm_pkcs11::device::BlobSigningKey for FuzzBlobKey {
    fn public_half(&self) -> &azcloudhsm_pkcs11::device::PublicHalf {
        &self.public_half
    }
    fn sign_rs512(&self, message: &[u8]) -> azcloudhsm_pkcs11::error::Result<Vec<u8>> {
        Ok(self.sign(message))
    }
}
