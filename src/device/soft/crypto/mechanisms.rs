//! The mechanism table (`C_GetMechanismList`/`C_GetMechanismInfo`, PKCS#11
//! 3.0 §5.5) and the hash functions the mechanisms are built on.

use super::keys::{RSA_GENERATE_MIN_BITS, RSA_MAX_BITS, RSA_USE_MIN_BITS, SECRET_MAX_LEN};
use crate::device::MechanismInfo;
use cryptoki_sys::*;
use openssl::md::{Md, MdRef};

/// A hash function as PKCS#11 names it in the places it can appear.
#[derive(Clone, Copy)]
pub(super) struct Hash {
    /// The digest mechanism (`CKM_SHA256`, ...), as in PSS and OAEP parameters.
    pub mechanism: CK_MECHANISM_TYPE,
    /// The matching mask generation function (`CKG_MGF1_SHA256`, ...).
    pub mgf: CK_RSA_PKCS_MGF_TYPE,
    pub md: &'static MdRef,
}

impl Hash {
    /// Output length in bytes.
    pub(super) fn len(self) -> usize {
        self.md.size()
    }

    /// The hash a digest mechanism (`CKM_SHA_1`, `CKM_SHA224`, ... `CKM_SHA512`) names.
    pub(super) fn from_mechanism(mechanism: CK_MECHANISM_TYPE) -> Option<Hash> {
        let (mgf, md) = match mechanism {
            CKM_SHA_1 => (CKG_MGF1_SHA1, Md::sha1()),
            CKM_SHA224 => (CKG_MGF1_SHA224, Md::sha224()),
            CKM_SHA256 => (CKG_MGF1_SHA256, Md::sha256()),
            CKM_SHA384 => (CKG_MGF1_SHA384, Md::sha384()),
            CKM_SHA512 => (CKG_MGF1_SHA512, Md::sha512()),
            _ => return None,
        };
        Some(Hash { mechanism, mgf, md })
    }
}

const RSA_USE: (CK_ULONG, CK_ULONG) = (RSA_USE_MIN_BITS, RSA_MAX_BITS);
const EC_SIZES: (CK_ULONG, CK_ULONG) = (256, 521);
const ED25519_SIZES: (CK_ULONG, CK_ULONG) = (255, 255);
const AES_SIZES: (CK_ULONG, CK_ULONG) = (16, 32);
const SECRET_SIZES: (CK_ULONG, CK_ULONG) = (1, SECRET_MAX_LEN as CK_ULONG);
const NO_KEY: (CK_ULONG, CK_ULONG) = (0, 0);
const EC_CURVES: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
const SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const CIPHER: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const WRAP: CK_FLAGS = CKF_WRAP | CKF_UNWRAP;

/// The table: every mechanism, its key sizes and what it does.
const TABLE: &[(CK_MECHANISM_TYPE, (CK_ULONG, CK_ULONG), CK_FLAGS)] = &[
    (
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        (RSA_GENERATE_MIN_BITS, RSA_MAX_BITS),
        CKF_GENERATE_KEY_PAIR,
    ),
    (CKM_RSA_PKCS, RSA_USE, SIGN | CIPHER),
    (CKM_SHA1_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA224_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA256_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA384_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA512_RSA_PKCS, RSA_USE, SIGN),
    (CKM_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA1_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA224_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA256_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA384_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA512_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_RSA_PKCS_OAEP, RSA_USE, CIPHER | WRAP),
    (
        CKM_EC_KEY_PAIR_GEN,
        EC_SIZES,
        CKF_GENERATE_KEY_PAIR | EC_CURVES,
    ),
    (CKM_ECDSA, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA1, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA224, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA256, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA384, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA512, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDH1_DERIVE, EC_SIZES, CKF_DERIVE | EC_CURVES),
    (
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        ED25519_SIZES,
        CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE,
    ),
    (
        CKM_EDDSA,
        ED25519_SIZES,
        SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE,
    ),
    (CKM_AES_KEY_GEN, AES_SIZES, CKF_GENERATE),
    (CKM_AES_ECB, AES_SIZES, CIPHER),
    (CKM_AES_CBC, AES_SIZES, CIPHER),
    (CKM_AES_CBC_PAD, AES_SIZES, CIPHER),
    (CKM_AES_CTR, AES_SIZES, CIPHER),
    (CKM_AES_GCM, AES_SIZES, CIPHER),
    (CKM_AES_KEY_WRAP, AES_SIZES, WRAP),
    (CKM_AES_KEY_WRAP_PAD, AES_SIZES, WRAP),
    (CKM_GENERIC_SECRET_KEY_GEN, SECRET_SIZES, CKF_GENERATE),
    (CKM_SHA_1_HMAC, SECRET_SIZES, SIGN),
    (CKM_SHA224_HMAC, SECRET_SIZES, SIGN),
    (CKM_SHA256_HMAC, SECRET_SIZES, SIGN),
    (CKM_SHA384_HMAC, SECRET_SIZES, SIGN),
    (CKM_SHA512_HMAC, SECRET_SIZES, SIGN),
    (CKM_SHA_1, NO_KEY, CKF_DIGEST),
    (CKM_SHA224, NO_KEY, CKF_DIGEST),
    (CKM_SHA256, NO_KEY, CKF_DIGEST),
    (CKM_SHA384, NO_KEY, CKF_DIGEST),
    (CKM_SHA512, NO_KEY, CKF_DIGEST),
];

/// Every mechanism the software device supports.
pub fn mechanism_infos() -> Vec<MechanismInfo> {
    TABLE
        .iter()
        .map(
            |&(kind, (min_key_size, max_key_size), flags)| MechanismInfo {
                kind,
                min_key_size,
                max_key_size,
                flags,
            },
        )
        .collect()
}
