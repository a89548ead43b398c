//! `FIPS_APPROVED_ONLY=true`: the embedded device offers and uses only
//! what FIPS 140-3 approves (the security functions of SP 800-140C, with
//! the transitions of SP 800-131A Rev. 2). One table says what each
//! mechanism keeps; the mechanism list ([`restrict`]) and every use of a
//! key ([`check_use`], [`check_key`]) follow it, so nothing is advertised
//! that is refused, and nothing refused is advertised.
//!
//! What the policy takes away:
//! - RSA keys below 2,048 bits (112-bit security), for every mechanism;
//! - signature generation with SHA-1 (verification of old signatures stays);
//! - PKCS#1 v1.5 encryption and key wrapping (`CKM_RSA_PKCS` keeps signing);
//! - Triple DES key generation and encryption (decryption of old data stays);
//! - HMAC keys and generated generic secrets below 112 bits (14 bytes);
//! - curves that are not approved for ECDSA and ECDH: secp256k1, and X25519
//!   and X448 key agreement (Ed25519 and Ed448 signatures, FIPS 186-5, stay);
//! - Ed25519ctx (FIPS 186-5 approves Ed25519, Ed25519ph, Ed448 and Ed448ph);
//! - the simple derivations (concatenation, XOR, extraction, AES encryption
//!   of data into a key), which are not approved key derivation functions.

use super::KeyMaterial;
use super::LoadedKey;
use crate::device::{Mechanism, MechanismInfo, MechanismParameter};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKeyRef};

/// The smallest approved RSA modulus.
const RSA_MIN_BITS: CK_ULONG = 2048;
/// The smallest approved HMAC key or generic secret, in bytes (HMAC keys
/// are never shorter, under the policy or not).
const HMAC_MIN_LEN: CK_ULONG = super::HMAC_MIN_KEY_LEN as CK_ULONG;

/// The flags of `kind` the policy keeps, of `flags`.
fn approved_flags(kind: CK_MECHANISM_TYPE, flags: CK_FLAGS) -> CK_FLAGS {
    match kind {
        CKM_SHA1_RSA_PKCS | CKM_SHA1_RSA_PKCS_PSS | CKM_ECDSA_SHA1 => flags & !CKF_SIGN,
        CKM_RSA_PKCS => flags & !(CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP),
        CKM_DES3_ECB | CKM_DES3_CBC | CKM_DES3_CBC_PAD => flags & !(CKF_ENCRYPT | CKF_WRAP),
        CKM_DES3_KEY_GEN | CKM_EC_MONTGOMERY_KEY_PAIR_GEN => 0,
        // Not key derivation functions of SP 800-108 or SP 800-56C.
        kind if super::is_simple_derivation(kind) => 0,
        _ => flags,
    }
}

/// Whether `kind` works on RSA keys.
fn is_rsa(kind: CK_MECHANISM_TYPE) -> bool {
    matches!(
        kind,
        CKM_RSA_PKCS_KEY_PAIR_GEN
            | CKM_RSA_PKCS
            | CKM_RSA_PKCS_OAEP
            | CKM_RSA_AES_KEY_WRAP
            | CKM_RSA_PKCS_PSS
            | CKM_SHA1_RSA_PKCS
            | CKM_SHA224_RSA_PKCS
            | CKM_SHA256_RSA_PKCS
            | CKM_SHA384_RSA_PKCS
            | CKM_SHA512_RSA_PKCS
            | CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA224_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS
            | CKM_SHA3_224_RSA_PKCS
            | CKM_SHA3_256_RSA_PKCS
            | CKM_SHA3_384_RSA_PKCS
            | CKM_SHA3_512_RSA_PKCS
            | CKM_SHA3_224_RSA_PKCS_PSS
            | CKM_SHA3_256_RSA_PKCS_PSS
            | CKM_SHA3_384_RSA_PKCS_PSS
            | CKM_SHA3_512_RSA_PKCS_PSS
    )
}

/// Whether `kind` is an HMAC, or makes the generic secrets HMACs use.
fn is_hmac(kind: CK_MECHANISM_TYPE) -> bool {
    matches!(
        kind,
        CKM_SHA_1_HMAC
            | CKM_SHA224_HMAC
            | CKM_SHA256_HMAC
            | CKM_SHA384_HMAC
            | CKM_SHA512_HMAC
            | CKM_SHA3_224_HMAC
            | CKM_SHA3_256_HMAC
            | CKM_SHA3_384_HMAC
            | CKM_SHA3_512_HMAC
            | CKM_GENERIC_SECRET_KEY_GEN
            | CKM_SHA_1_KEY_GEN
            | CKM_SHA224_KEY_GEN
            | CKM_SHA256_KEY_GEN
            | CKM_SHA384_KEY_GEN
            | CKM_SHA512_KEY_GEN
            | CKM_SHA3_224_KEY_GEN
            | CKM_SHA3_256_KEY_GEN
            | CKM_SHA3_384_KEY_GEN
            | CKM_SHA3_512_KEY_GEN
    )
}

/// `info` as the policy leaves it: fewer flags, a larger smallest key, or
/// nothing at all.
pub fn restrict(info: MechanismInfo) -> Option<MechanismInfo> {
    let flags = approved_flags(info.kind, info.flags);
    let min_key_size = if is_rsa(info.kind) {
        info.min_key_size.max(RSA_MIN_BITS)
    } else if is_hmac(info.kind) {
        info.min_key_size.max(HMAC_MIN_LEN)
    } else {
        info.min_key_size
    };
    let useful = flags & !(CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS) != 0;
    (useful && min_key_size <= info.max_key_size).then_some(MechanismInfo {
        flags,
        min_key_size,
        ..info
    })
}

/// Refuses a mechanism the policy takes away for `flag` (`CKF_SIGN`,
/// `CKF_GENERATE`, ...): `MechanismInvalid`, as for one never offered.
pub fn check_mechanism(kind: CK_MECHANISM_TYPE, flag: CK_FLAGS) -> Result<()> {
    if approved_flags(kind, flag) == 0 {
        tracing::info!("FIPS_APPROVED_ONLY: mechanism {kind:#x} is not approved for this use");
        return Err(Error::MechanismInvalid(kind));
    }
    Ok(())
}

/// Refuses the use of `key` by mechanism `kind` for `flag` where the
/// policy does not approve it: the mechanism (`MechanismInvalid`), the
/// key's size (`KeySizeRange`) or its curve (`CurveNotSupported`).
pub fn check_use(kind: CK_MECHANISM_TYPE, flag: CK_FLAGS, key: &LoadedKey) -> Result<()> {
    check_mechanism(kind, flag)?;
    match &key.material {
        KeyMaterial::Private(pkey) => check_key(pkey),
        KeyMaterial::Public(pkey) => check_key(pkey),
        KeyMaterial::Secret(_) => Ok(()),
    }
}

/// Refuses a mechanism parameter the policy does not approve: `CKM_EDDSA`
/// with a context and no pre-hash on an Ed25519 key (Ed25519ctx),
/// `MechanismParamInvalid`.
pub fn check_parameter(mechanism: &Mechanism, key: &LoadedKey) -> Result<()> {
    let ed25519 = match &key.material {
        KeyMaterial::Private(pkey) => pkey.id() == Id::ED25519,
        KeyMaterial::Public(pkey) => pkey.id() == Id::ED25519,
        KeyMaterial::Secret(_) => false,
    };
    match &mechanism.parameter {
        MechanismParameter::EdDsa {
            prehash: false,
            context,
        } if ed25519 && !context.is_empty() => Err(refused(
            Error::MechanismParamInvalid("Ed25519ctx is not FIPS approved"),
            "Ed25519ctx (CKM_EDDSA with a context and no pre-hash on an Ed25519 key)",
        )),
        _ => Ok(()),
    }
}

/// Refuses an asymmetric key the policy does not approve: RSA below 2,048
/// bits, an EC key on secp256k1, an X25519 or X448 key.
pub fn check_key<T: HasPublic>(key: &PKeyRef<T>) -> Result<()> {
    match key.id() {
        Id::RSA if CK_ULONG::from(key.bits()) < RSA_MIN_BITS => {
            Err(refused(Error::KeySizeRange, "an RSA key below 2048 bits"))
        }
        Id::EC => {
            let curve = key.ec_key()?.group().curve_name();
            if curve == Some(Nid::SECP256K1) {
                return Err(refused(Error::CurveNotSupported, "the curve secp256k1"));
            }
            Ok(())
        }
        Id::X25519 | Id::X448 => Err(refused(Error::CurveNotSupported, "X25519 and X448")),
        _ => Ok(()),
    }
}

/// Refuses a generic secret of `len` bytes for generation.
pub fn check_secret_len(len: CK_ULONG) -> Result<()> {
    if len < HMAC_MIN_LEN {
        return Err(refused(
            Error::KeySizeRange,
            "a generic secret below 112 bits",
        ));
    }
    Ok(())
}

fn refused(error: Error, what: &str) -> Error {
    tracing::info!("FIPS_APPROVED_ONLY: {what} is not approved");
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::soft::crypto::mechanism_infos;

    fn info(kind: CK_MECHANISM_TYPE) -> Option<MechanismInfo> {
        mechanism_infos().into_iter().find(|i| i.kind == kind)
    }

    #[test]
    fn sha1_signatures_only_verify_and_rsa_starts_at_2048_bits() {
        let restricted = restrict(info(CKM_SHA1_RSA_PKCS).unwrap()).unwrap();
        assert_eq!(restricted.flags, CKF_VERIFY);
        assert_eq!(restricted.min_key_size, 2048);
        let pkcs1 = restrict(info(CKM_RSA_PKCS).unwrap()).unwrap();
        assert_eq!(pkcs1.flags, CKF_SIGN | CKF_VERIFY);
        let sha256 = restrict(info(CKM_SHA256_RSA_PKCS).unwrap()).unwrap();
        assert_eq!(sha256.flags, CKF_SIGN | CKF_VERIFY);
        let hmac = restrict(info(CKM_SHA256_HMAC).unwrap()).unwrap();
        assert_eq!(hmac.min_key_size, HMAC_MIN_LEN);
    }

    #[test]
    fn ed25519ctx_is_refused_and_the_approved_instances_are_not() {
        let eddsa = |prehash, context: &[u8]| Mechanism {
            kind: CKM_EDDSA,
            parameter: MechanismParameter::EdDsa {
                prehash,
                context: context.to_vec(),
            },
            caller_parameter: None,
        };
        let key = |private: openssl::pkey::PKey<openssl::pkey::Private>| LoadedKey {
            key_type: CKK_EC_EDWARDS,
            material: KeyMaterial::Private(private),
        };
        let ed25519 = key(openssl::pkey::PKey::generate_ed25519().unwrap());
        let ed448 = key(openssl::pkey::PKey::generate_ed448().unwrap());
        assert!(matches!(
            check_parameter(&eddsa(false, b"ctx"), &ed25519),
            Err(Error::MechanismParamInvalid(_))
        ));
        for (mechanism, key) in [
            (eddsa(false, b""), &ed25519),
            (eddsa(true, b"ctx"), &ed25519),
            (eddsa(false, b"ctx"), &ed448),
            (eddsa(true, b"ctx"), &ed448),
            (Mechanism::new(CKM_EDDSA), &ed25519),
        ] {
            assert!(check_parameter(&mechanism, key).is_ok());
        }
    }

    #[test]
    fn what_is_approved_is_unchanged() {
        for kind in [CKM_AES_GCM, CKM_ECDSA_SHA256, CKM_SHA256, CKM_AES_KEY_WRAP] {
            let original = info(kind).unwrap();
            assert_eq!(restrict(original), Some(original), "{kind:#x}");
        }
    }

    #[test]
    fn every_restricted_mechanism_is_one_the_checks_accept() {
        for original in mechanism_infos() {
            let Some(restricted) = restrict(original) else {
                continue;
            };
            for flag in [
                CKF_SIGN,
                CKF_VERIFY,
                CKF_ENCRYPT,
                CKF_DECRYPT,
                CKF_WRAP,
                CKF_UNWRAP,
            ] {
                let allowed = check_mechanism(original.kind, flag).is_ok();
                if restricted.flags & flag != 0 {
                    assert!(
                        allowed,
                        "{:#x} advertises {flag:#x} and refuses it",
                        original.kind
                    );
                }
                if original.flags & flag != 0 && restricted.flags & flag == 0 {
                    assert!(
                        !allowed,
                        "{:#x} hides {flag:#x} but allows it",
                        original.kind
                    );
                }
            }
        }
    }

    #[test]
    fn small_rsa_keys_and_secp256k1_are_refused() {
        let rsa =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(1024).unwrap()).unwrap();
        assert!(matches!(check_key(&rsa), Err(Error::KeySizeRange)));
        let group = openssl::ec::EcGroup::from_curve_name(Nid::SECP256K1).unwrap();
        let ec = openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap())
            .unwrap();
        assert!(matches!(check_key(&ec), Err(Error::CurveNotSupported)));
        let group = openssl::ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let p256 = openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&group).unwrap())
            .unwrap();
        assert!(check_key(&p256).is_ok());
        assert!(check_secret_len(13).is_err() && check_secret_len(14).is_ok());
    }
}
