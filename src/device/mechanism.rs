//! Mechanisms as the core sees them: a type plus a parsed parameter.

use cryptoki_sys::*;

/// A mechanism with its parameter, parsed from `CK_MECHANISM` by `ffi/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mechanism {
    pub kind: CK_MECHANISM_TYPE,
    pub parameter: MechanismParameter,
    /// The parameter's bytes exactly as the caller laid them out (`None`
    /// for a NULL `pParameter`), for a device that hands the mechanism on
    /// unchanged. Pointers inside are the caller's: valid only during the
    /// call that brought them, which is when a forwarding device uses them.
    pub caller_parameter: Option<Vec<u8>>,
}

impl Mechanism {
    pub fn new(kind: CK_MECHANISM_TYPE) -> Self {
        Mechanism::with(kind, MechanismParameter::None)
    }
    /// A mechanism built by the provider itself (no caller bytes).
    pub fn with(kind: CK_MECHANISM_TYPE, parameter: MechanismParameter) -> Self {
        Mechanism {
            kind,
            parameter,
            caller_parameter: None,
        }
    }
}

/// The parameter of a mechanism. `ffi/` decides the shape from the
/// mechanism type; an unknown shape arrives as `Raw`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MechanismParameter {
    None,
    /// Plain bytes (an IV for AES-CBC, for instance).
    Raw(Vec<u8>),
    /// `CK_GCM_PARAMS`.
    Gcm {
        iv: Vec<u8>,
        aad: Vec<u8>,
        tag_bits: CK_ULONG,
    },
    /// `CK_AES_CTR_PARAMS`.
    Ctr {
        counter_bits: CK_ULONG,
        block: [u8; 16],
    },
    /// `CK_RSA_PKCS_OAEP_PARAMS`.
    Oaep {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        label: Vec<u8>,
    },
    /// `CK_RSA_PKCS_PSS_PARAMS`.
    Pss {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        salt_len: CK_ULONG,
    },
    /// `CK_ECDH1_DERIVE_PARAMS`.
    Ecdh {
        kdf: CK_ULONG,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    /// `CK_MAC_GENERAL_PARAMS`: the length of a truncated MAC.
    MacLength(CK_ULONG),
    /// `CK_OBJECT_HANDLE` (`CKM_CONCATENATE_BASE_AND_KEY`): the second key.
    KeyHandle(CK_OBJECT_HANDLE),
    /// `CK_KEY_DERIVATION_STRING_DATA`: the data of a simple derivation.
    DerivationData(Vec<u8>),
    /// `CK_EXTRACT_PARAMS` (`CKM_EXTRACT_KEY_FROM_KEY`): the first bit.
    ExtractBit(CK_ULONG),
    /// `CK_AES_CBC_ENCRYPT_DATA_PARAMS`.
    CbcEncryptData {
        iv: [u8; 16],
        data: Vec<u8>,
    },
    /// `CK_EDDSA_PARAMS`.
    EdDsa {
        prehash: bool,
        context: Vec<u8>,
    },
    /// `CK_SIGN_ADDITIONAL_CONTEXT` (PKCS#11 3.2, `CKM_ML_DSA`): the
    /// hedge variant (`CKH_*`) and the context string.
    SignContext {
        hedge: CK_ULONG,
        context: Vec<u8>,
    },
    /// `CK_SP800_108_KDF_PARAMS` (`CKM_SP800_108_COUNTER_KDF`) or
    /// `CK_SP800_108_FEEDBACK_KDF_PARAMS` (`CKM_SP800_108_FEEDBACK_KDF`).
    Kbkdf(Box<KbkdfParameter>),
    /// `CK_RSA_AES_KEY_WRAP_PARAMS`: the size of the temporary AES key and
    /// the OAEP parameters that wrap it.
    RsaAesKeyWrap {
        aes_key_bits: CK_ULONG,
        hash: CK_MECHANISM_TYPE,
        mgf: CK_ULONG,
        label: Vec<u8>,
    },
}

/// The parameter of an SP 800-108 key derivation (PKCS#11 3.0 §2.42).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KbkdfParameter {
    /// The PRF: an HMAC (`CKM_SHA256_HMAC`, ...) or `CKM_AES_CMAC`.
    pub prf: CK_MECHANISM_TYPE,
    /// The PRF's input, in order.
    pub data: Vec<KbkdfData>,
    /// The feedback mode's IV, K(0); empty in counter mode.
    pub iv: Vec<u8>,
    /// The templates of the additional keys (`CK_DERIVED_KEY`), in order.
    pub additional_keys: Vec<Vec<crate::object::Attribute>>,
}

/// One `CK_PRF_DATA_PARAM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KbkdfData {
    /// `CK_SP800_108_ITERATION_VARIABLE`: the counter in counter mode (with
    /// its format), the previous PRF output in feedback mode (no format).
    Iteration(Option<KbkdfInteger>),
    /// `CK_SP800_108_COUNTER`: the optional counter of feedback mode.
    Counter(KbkdfInteger),
    /// `CK_SP800_108_DKM_LENGTH`: the length in bits of what is derived,
    /// as the sum of the keys or of the PRF outputs (`sum_of_segments`).
    DkmLength {
        sum_of_segments: bool,
        format: KbkdfInteger,
    },
    /// `CK_SP800_108_BYTE_ARRAY`.
    Bytes(Vec<u8>),
}

/// How a counter or a length is written into the PRF input
/// (`CK_SP800_108_COUNTER_FORMAT`, the format part of
/// `CK_SP800_108_DKM_LENGTH_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KbkdfInteger {
    pub little_endian: bool,
    pub width_bits: CK_ULONG,
}

/// One row of `C_GetMechanismList`/`C_GetMechanismInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MechanismInfo {
    pub kind: CK_MECHANISM_TYPE,
    pub min_key_size: CK_ULONG,
    pub max_key_size: CK_ULONG,
    pub flags: CK_FLAGS,
}
