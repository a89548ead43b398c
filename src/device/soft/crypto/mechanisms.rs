//! The mechanism table (`C_GetMechanismList`/`C_GetMechanismInfo`, PKCS#11
//! 3.0 §5.5) and the hash functions the mechanisms are built on.

use super::keys::{
    DES2_KEY_LEN, DES3_KEY_LEN, RSA_GENERATE_MAX_BITS, RSA_MIN_BITS, RSA_PRIVATE_MAX_BITS,
    SECRET_MAX_LEN,
};
use super::mac::HMAC_MIN_KEY_LEN;
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
    /// The HMAC key type of this hash (`CKK_SHA256_HMAC`, ...).
    pub hmac_key_type: CK_KEY_TYPE,
}

impl Hash {
    /// Output length in bytes.
    pub(super) fn len(self) -> usize {
        self.md.size()
    }

    /// The hash a digest mechanism (`CKM_SHA_1`, `CKM_SHA224`, ... `CKM_SHA512`,
    /// `CKM_SHA3_224` ... `CKM_SHA3_512`) names.
    pub(super) fn from_mechanism(mechanism: CK_MECHANISM_TYPE) -> Option<Hash> {
        let (mgf, md, hmac_key_type) = match mechanism {
            CKM_SHA_1 => (CKG_MGF1_SHA1, Md::sha1(), CKK_SHA_1_HMAC),
            CKM_SHA224 => (CKG_MGF1_SHA224, Md::sha224(), CKK_SHA224_HMAC),
            CKM_SHA256 => (CKG_MGF1_SHA256, Md::sha256(), CKK_SHA256_HMAC),
            CKM_SHA384 => (CKG_MGF1_SHA384, Md::sha384(), CKK_SHA384_HMAC),
            CKM_SHA512 => (CKG_MGF1_SHA512, Md::sha512(), CKK_SHA512_HMAC),
            CKM_SHA3_224 => (CKG_MGF1_SHA3_224, Md::sha3_224(), CKK_SHA3_224_HMAC),
            CKM_SHA3_256 => (CKG_MGF1_SHA3_256, Md::sha3_256(), CKK_SHA3_256_HMAC),
            CKM_SHA3_384 => (CKG_MGF1_SHA3_384, Md::sha3_384(), CKK_SHA3_384_HMAC),
            CKM_SHA3_512 => (CKG_MGF1_SHA3_512, Md::sha3_512(), CKK_SHA3_512_HMAC),
            _ => return None,
        };
        Some(Hash {
            mechanism,
            mgf,
            md,
            hmac_key_type,
        })
    }
}

/// The key type `C_GenerateKey` makes with `mechanism`, for the HMAC key
/// generation mechanisms (`CKM_SHA256_KEY_GEN` gives `CKK_SHA256_HMAC`, ...).
pub fn hmac_key_generated_by(mechanism: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
    let hash = match mechanism {
        CKM_SHA_1_KEY_GEN => CKM_SHA_1,
        CKM_SHA224_KEY_GEN => CKM_SHA224,
        CKM_SHA256_KEY_GEN => CKM_SHA256,
        CKM_SHA384_KEY_GEN => CKM_SHA384,
        CKM_SHA512_KEY_GEN => CKM_SHA512,
        CKM_SHA3_224_KEY_GEN => CKM_SHA3_224,
        CKM_SHA3_256_KEY_GEN => CKM_SHA3_256,
        CKM_SHA3_384_KEY_GEN => CKM_SHA3_384,
        CKM_SHA3_512_KEY_GEN => CKM_SHA3_512,
        _ => return None,
    };
    Hash::from_mechanism(hash).map(|hash| hash.hmac_key_type)
}

/// RSA signatures and encryption: every size a private key can have, so
/// that both halves of each flag work (a public key of up to 16384 bits
/// also verifies and encrypts).
const RSA_USE: (CK_ULONG, CK_ULONG) = (RSA_MIN_BITS, RSA_PRIVATE_MAX_BITS);
/// P-224 to P-521 (and secp256k1); X25519 (255) and X448 (448) derive within it.
const EC_SIZES: (CK_ULONG, CK_ULONG) = (224, 521);
/// PKCS#11 3.0 §2.3.10 and §2.3.11: the field size in bits, 255 for
/// Curve25519 (Ed25519, X25519) and 448 for Curve448 (Ed448, X448).
const CURVE_25519_448: (CK_ULONG, CK_ULONG) = (255, 448);
const AES_SIZES: (CK_ULONG, CK_ULONG) = (16, 32);
const SECRET_SIZES: (CK_ULONG, CK_ULONG) = (1, SECRET_MAX_LEN as CK_ULONG);
/// HMAC keys, and the keys the HMAC key generations make.
const HMAC_SIZES: (CK_ULONG, CK_ULONG) = (HMAC_MIN_KEY_LEN as CK_ULONG, SECRET_MAX_LEN as CK_ULONG);
/// The base keys of SP 800-108, in bits (§2.42): an HMAC key of 14 bytes
/// to a generic secret of 3072, or an AES key for AES-CMAC.
const KBKDF_BASE_BITS: (CK_ULONG, CK_ULONG) = (
    HMAC_MIN_KEY_LEN as CK_ULONG * 8,
    SECRET_MAX_LEN as CK_ULONG * 8,
);
/// Triple DES keys in bytes: `CKK_DES2` (16) and `CKK_DES3` (24).
const DES3_SIZES: (CK_ULONG, CK_ULONG) = (DES2_KEY_LEN as CK_ULONG, DES3_KEY_LEN as CK_ULONG);
const DES3_GENERATED: (CK_ULONG, CK_ULONG) = (DES3_KEY_LEN as CK_ULONG, DES3_KEY_LEN as CK_ULONG);
const NO_KEY: (CK_ULONG, CK_ULONG) = (0, 0);
/// PKCS#11 3.2: ML-DSA and ML-KEM mechanisms give the sizes of the public
/// keys in bytes (ML-DSA-44 to -87: FIPS 204 Table 2; ML-KEM-512 to -1024:
/// FIPS 203 Table 3).
const ML_DSA_PUBLIC_BYTES: (CK_ULONG, CK_ULONG) = (1312, 2592);
const ML_KEM_PUBLIC_BYTES: (CK_ULONG, CK_ULONG) = (800, 1568);
const EC_CURVES: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
const SIGN: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const CIPHER: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const WRAP: CK_FLAGS = CKF_WRAP | CKF_UNWRAP;

/// The table: every mechanism, its key sizes and what it does.
const TABLE: &[(CK_MECHANISM_TYPE, (CK_ULONG, CK_ULONG), CK_FLAGS)] = &[
    (
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        (RSA_MIN_BITS, RSA_GENERATE_MAX_BITS),
        CKF_GENERATE_KEY_PAIR,
    ),
    (CKM_RSA_PKCS, RSA_USE, SIGN | CIPHER | WRAP),
    (CKM_SHA1_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA224_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA256_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA384_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA512_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA3_224_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA3_256_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA3_384_RSA_PKCS, RSA_USE, SIGN),
    (CKM_SHA3_512_RSA_PKCS, RSA_USE, SIGN),
    (CKM_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA1_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA224_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA256_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA384_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA512_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA3_224_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA3_256_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA3_384_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_SHA3_512_RSA_PKCS_PSS, RSA_USE, SIGN),
    (CKM_RSA_PKCS_OAEP, RSA_USE, CIPHER | WRAP),
    (CKM_RSA_AES_KEY_WRAP, RSA_USE, WRAP),
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
    (CKM_ECDSA_SHA3_224, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA3_256, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA3_384, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDSA_SHA3_512, EC_SIZES, SIGN | EC_CURVES),
    (CKM_ECDH1_DERIVE, EC_SIZES, CKF_DERIVE | EC_CURVES),
    (CKM_SP800_108_COUNTER_KDF, KBKDF_BASE_BITS, CKF_DERIVE),
    (CKM_SP800_108_FEEDBACK_KDF, KBKDF_BASE_BITS, CKF_DERIVE),
    (CKM_CONCATENATE_BASE_AND_KEY, SECRET_SIZES, CKF_DERIVE),
    (CKM_CONCATENATE_BASE_AND_DATA, SECRET_SIZES, CKF_DERIVE),
    (CKM_CONCATENATE_DATA_AND_BASE, SECRET_SIZES, CKF_DERIVE),
    (CKM_XOR_BASE_AND_DATA, SECRET_SIZES, CKF_DERIVE),
    (CKM_EXTRACT_KEY_FROM_KEY, SECRET_SIZES, CKF_DERIVE),
    (CKM_AES_ECB_ENCRYPT_DATA, AES_SIZES, CKF_DERIVE),
    (CKM_AES_CBC_ENCRYPT_DATA, AES_SIZES, CKF_DERIVE),
    (
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CURVE_25519_448,
        CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE,
    ),
    (
        CKM_EDDSA,
        CURVE_25519_448,
        SIGN | CKF_EC_F_P | CKF_EC_NAMEDCURVE,
    ),
    (
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        CURVE_25519_448,
        CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE,
    ),
    (
        CKM_ML_DSA_KEY_PAIR_GEN,
        ML_DSA_PUBLIC_BYTES,
        CKF_GENERATE_KEY_PAIR,
    ),
    (CKM_ML_DSA, ML_DSA_PUBLIC_BYTES, SIGN),
    (
        CKM_ML_KEM_KEY_PAIR_GEN,
        ML_KEM_PUBLIC_BYTES,
        CKF_GENERATE_KEY_PAIR,
    ),
    (
        CKM_ML_KEM,
        ML_KEM_PUBLIC_BYTES,
        CKF_ENCAPSULATE | CKF_DECAPSULATE,
    ),
    (CKM_AES_KEY_GEN, AES_SIZES, CKF_GENERATE),
    (CKM_AES_ECB, AES_SIZES, CIPHER),
    (CKM_AES_CBC, AES_SIZES, CIPHER),
    (CKM_AES_CBC_PAD, AES_SIZES, CIPHER),
    (CKM_AES_CTR, AES_SIZES, CIPHER),
    (CKM_AES_GCM, AES_SIZES, CIPHER | WRAP),
    (CKM_AES_KEY_WRAP, AES_SIZES, WRAP),
    (CKM_AES_KEY_WRAP_PAD, AES_SIZES, WRAP),
    (CKM_AES_CMAC, AES_SIZES, SIGN),
    (CKM_AES_CMAC_GENERAL, AES_SIZES, SIGN),
    (CKM_DES3_KEY_GEN, DES3_GENERATED, CKF_GENERATE),
    (CKM_DES3_ECB, DES3_SIZES, CIPHER),
    (CKM_DES3_CBC, DES3_SIZES, CIPHER),
    (CKM_DES3_CBC_PAD, DES3_SIZES, CIPHER),
    (CKM_GENERIC_SECRET_KEY_GEN, SECRET_SIZES, CKF_GENERATE),
    (CKM_SHA_1_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA224_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA256_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA384_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA512_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA3_224_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA3_256_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA3_384_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA3_512_KEY_GEN, HMAC_SIZES, CKF_GENERATE),
    (CKM_SHA_1_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA224_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA256_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA384_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA512_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA3_224_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA3_256_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA3_384_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA3_512_HMAC, HMAC_SIZES, SIGN),
    (CKM_SHA_1, NO_KEY, CKF_DIGEST),
    (CKM_SHA224, NO_KEY, CKF_DIGEST),
    (CKM_SHA256, NO_KEY, CKF_DIGEST),
    (CKM_SHA384, NO_KEY, CKF_DIGEST),
    (CKM_SHA512, NO_KEY, CKF_DIGEST),
    (CKM_SHA3_224, NO_KEY, CKF_DIGEST),
    (CKM_SHA3_256, NO_KEY, CKF_DIGEST),
    (CKM_SHA3_384, NO_KEY, CKF_DIGEST),
    (CKM_SHA3_512, NO_KEY, CKF_DIGEST),
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
