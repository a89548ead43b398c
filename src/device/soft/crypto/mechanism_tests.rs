//! The mechanism table advertises exactly what works: every flag of every
//! mechanism is exercised at both ends of its key size range, and every
//! function without a flag is refused.

use super::curves::Curve;
use super::test_support::*;
use super::*;
use crate::device::{
    KbkdfData, KbkdfInteger, KbkdfParameter, Mechanism, MechanismInfo, MechanismParameter,
};
use crate::error::Error;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use std::sync::OnceLock;

fn is_kbkdf(kind: CK_MECHANISM_TYPE) -> bool {
    matches!(kind, CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF)
}

fn rsa_of_bits(bits: u32) -> Arc<LoadedKey> {
    static KEYS: OnceLock<PKey<Private>> = OnceLock::new();
    let small = KEYS.get_or_init(|| PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap());
    loaded_private(match bits {
        1024 => small.clone(),
        8192 => rsa_8192(),
        // The generation mechanism's largest size: its key is only offered
        // to the other functions, which must refuse it.
        4096 => rsa_8192(),
        _ => panic!("RSA size {bits}"),
    })
}

/// The Weierstrass curve of `size` bits at the ends of the EC range.
fn weierstrass(size: CK_ULONG) -> &'static [u8] {
    match size {
        224 => P224,
        521 => P521,
        _ => panic!("EC size {size}"),
    }
}

fn peer_point(size: CK_ULONG) -> Vec<u8> {
    public_attributes_of_private(&ec_private(weierstrass(size)))
        .unwrap()
        .get(CKA_EC_POINT)
        .unwrap()
        .to_vec()
}

/// The mechanism with a parameter that suits it (and keys of `size`).
fn with_parameter(kind: CK_MECHANISM_TYPE, size: CK_ULONG) -> Mechanism {
    let pss = |hash, mgf| MechanismParameter::Pss {
        hash,
        mgf,
        salt_len: 20,
    };
    let parameter = match kind {
        CKM_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS => pss(CKM_SHA256, CKG_MGF1_SHA256),
        CKM_SHA1_RSA_PKCS_PSS => pss(CKM_SHA_1, CKG_MGF1_SHA1),
        CKM_SHA224_RSA_PKCS_PSS => pss(CKM_SHA224, CKG_MGF1_SHA224),
        CKM_SHA384_RSA_PKCS_PSS => pss(CKM_SHA384, CKG_MGF1_SHA384),
        CKM_SHA512_RSA_PKCS_PSS => pss(CKM_SHA512, CKG_MGF1_SHA512),
        CKM_SHA3_224_RSA_PKCS_PSS => pss(CKM_SHA3_224, CKG_MGF1_SHA3_224),
        CKM_SHA3_256_RSA_PKCS_PSS => pss(CKM_SHA3_256, CKG_MGF1_SHA3_256),
        CKM_SHA3_384_RSA_PKCS_PSS => pss(CKM_SHA3_384, CKG_MGF1_SHA3_384),
        CKM_SHA3_512_RSA_PKCS_PSS => pss(CKM_SHA3_512, CKG_MGF1_SHA3_512),
        CKM_AES_CMAC_GENERAL => MechanismParameter::MacLength(8),
        CKM_CONCATENATE_BASE_AND_KEY => MechanismParameter::KeyHandle(1),
        CKM_CONCATENATE_BASE_AND_DATA
        | CKM_CONCATENATE_DATA_AND_BASE
        | CKM_XOR_BASE_AND_DATA
        | CKM_AES_ECB_ENCRYPT_DATA => MechanismParameter::DerivationData(vec![3; 16]),
        CKM_EXTRACT_KEY_FROM_KEY => MechanismParameter::ExtractBit(0),
        CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF => {
            let iteration = (kind == CKM_SP800_108_COUNTER_KDF).then_some(KbkdfInteger {
                little_endian: false,
                width_bits: 32,
            });
            MechanismParameter::Kbkdf(Box::new(KbkdfParameter {
                prf: CKM_SHA256_HMAC,
                data: vec![KbkdfData::Iteration(iteration)],
                iv: Vec::new(),
                additional_keys: Vec::new(),
            }))
        }
        CKM_AES_CBC_ENCRYPT_DATA => MechanismParameter::CbcEncryptData {
            iv: [0; 16],
            data: vec![3; 16],
        },
        CKM_RSA_PKCS_OAEP => MechanismParameter::Oaep {
            hash: CKM_SHA_1,
            mgf: CKG_MGF1_SHA1,
            label: vec![],
        },
        CKM_RSA_AES_KEY_WRAP => MechanismParameter::RsaAesKeyWrap {
            aes_key_bits: 256,
            hash: CKM_SHA_1,
            mgf: CKG_MGF1_SHA1,
            label: vec![],
        },
        CKM_AES_CBC | CKM_AES_CBC_PAD => MechanismParameter::Raw(vec![0; 16]),
        CKM_DES3_CBC | CKM_DES3_CBC_PAD => MechanismParameter::Raw(vec![0; 8]),
        CKM_AES_CTR => MechanismParameter::Ctr {
            counter_bits: 128,
            block: [0; 16],
        },
        CKM_AES_GCM => MechanismParameter::Gcm {
            iv: vec![0; 12],
            aad: vec![],
            tag_bits: 128,
        },
        CKM_ECDH1_DERIVE => MechanismParameter::Ecdh {
            kdf: CKD_NULL,
            shared_data: vec![],
            public_data: peer_point(size),
        },
        _ => MechanismParameter::None,
    };
    Mechanism {
        kind,
        parameter,
        caller_parameter: None,
    }
}

/// A key of the mechanism's family at `size` (PKCS#11 units), or `None` for digests.
fn key_for(info: &MechanismInfo, size: CK_ULONG) -> Option<Arc<LoadedKey>> {
    let kind = info.kind;
    if info.flags & CKF_DIGEST != 0 {
        return None;
    }
    let name = format!("{kind:#x}");
    let post_quantum = |key_type, small, large| {
        let value = if size == info.min_key_size {
            small
        } else {
            large
        };
        let key = generate_post_quantum(key_type, value).unwrap();
        assert_eq!(
            key.raw_public_key().unwrap().len() as CK_ULONG,
            size,
            "{name}: the public key size"
        );
        loaded_key(key_type, key)
    };
    Some(match (info.min_key_size, size) {
        _ if matches!(kind, CKM_ML_DSA | CKM_ML_DSA_KEY_PAIR_GEN) => {
            post_quantum(CKK_ML_DSA, CKP_ML_DSA_44, CKP_ML_DSA_87)
        }
        _ if matches!(kind, CKM_ML_KEM | CKM_ML_KEM_KEY_PAIR_GEN) => {
            post_quantum(CKK_ML_KEM, CKP_ML_KEM_512, CKP_ML_KEM_1024)
        }
        (255, 255) if kind == CKM_EC_MONTGOMERY_KEY_PAIR_GEN => ec(X25519),
        (255, _) if kind == CKM_EC_MONTGOMERY_KEY_PAIR_GEN => ec(X448),
        (255, 255) => ec(ED25519),
        (255, _) => ec(ED448),
        _ if info.flags & CKF_EC_F_P != 0 => ec(weierstrass(size)),
        (1024, _) => rsa_of_bits(size as u32),
        // SP 800-108 gives its base key sizes in bits (§2.42).
        _ if is_kbkdf(kind) => loaded_secret(CKK_GENERIC_SECRET, &vec![1; size as usize / 8]),
        _ if info.max_key_size == 32 => loaded_secret(CKK_AES, &vec![1; size as usize]),
        (_, 16) if info.max_key_size == 24 => loaded_secret(CKK_DES2, &[1; 16]),
        (_, 24) if info.max_key_size == 24 => loaded_secret(CKK_DES3, &[1; 24]),
        _ => {
            assert_eq!(
                info.max_key_size,
                keys::SECRET_MAX_LEN as CK_ULONG,
                "{name}"
            );
            loaded_secret(CKK_GENERIC_SECRET, &vec![1; size as usize])
        }
    })
}

fn refused(result: std::result::Result<(), Error>, kind: CK_MECHANISM_TYPE) -> bool {
    matches!(result, Err(Error::MechanismInvalid(k)) if k == kind)
}

/// One advertised mechanism at one key size, with a key of that size
/// when the mechanism takes one.
struct SizeCase<'a> {
    info: &'a MechanismInfo,
    mechanism: Mechanism,
    key: Option<Arc<LoadedKey>>,
    name: String,
}

const DATA: [u8; 32] = [0x11; 32];

impl SizeCase<'_> {
    fn flag(&self, flag: CK_FLAGS) -> bool {
        self.info.flags & flag != 0
    }

    fn refused(&self, result: std::result::Result<(), Error>) -> bool {
        refused(result, self.info.kind)
    }

    /// Signs and verifies where `CKF_SIGN` says so; is refused elsewhere.
    fn check_signing(&self) {
        let (mechanism, name) = (&self.mechanism, &self.name);
        let signing = (self.key.clone())
            .ok_or(Error::MechanismInvalid(self.info.kind))
            .and_then(|k| sign_init(k, mechanism));
        match signing {
            Ok(mut operation) if self.flag(CKF_SIGN) => {
                let signature = operation.sign(&DATA).unwrap();
                let mut verifying = verify_init(self.key.clone().unwrap(), mechanism).unwrap();
                verifying.verify(&DATA, &signature).expect(name);
            }
            other => {
                assert!(!self.flag(CKF_SIGN), "{name}: sign_init {:?}", other.err());
                assert!(
                    self.refused(other.map(|_| ())) || self.key.is_none(),
                    "{name}: sign refused wrongly"
                );
            }
        }
        if let (false, Some(key)) = (self.flag(CKF_VERIFY), &self.key) {
            let verifying = verify_init(key.clone(), mechanism).map(|_| ());
            assert!(self.refused(verifying), "{name}");
        }
    }

    /// Encrypts and decrypts back where `CKF_ENCRYPT` says so; both are
    /// refused elsewhere.
    fn check_cipher(&self) {
        let (mechanism, name) = (&self.mechanism, &self.name);
        match self.key.clone().map(|k| encrypt_init(k, mechanism)) {
            Some(Ok(mut operation)) => {
                assert!(
                    self.flag(CKF_ENCRYPT),
                    "{name} encrypts without CKF_ENCRYPT"
                );
                let ciphertext = operation.one_shot(&DATA).unwrap();
                let mut decrypting =
                    decrypt_init(self.key.clone().unwrap(), mechanism).expect(name);
                assert_eq!(decrypting.one_shot(&ciphertext).unwrap(), DATA, "{name}");
            }
            Some(Err(error)) => {
                assert!(!self.flag(CKF_ENCRYPT), "{name}: encrypt_init {error:?}");
                assert!(self.refused(Err(error)), "{name}");
                let decrypting = decrypt_init(self.key.clone().unwrap(), mechanism).map(|_| ());
                assert!(self.refused(decrypting), "{name}");
            }
            None => assert!(!self.flag(CKF_ENCRYPT | CKF_DECRYPT)),
        }
    }

    /// Wraps and unwraps back where `CKF_WRAP` says so; both are refused
    /// elsewhere.
    fn check_wrapping(&self) {
        let (mechanism, name) = (&self.mechanism, &self.name);
        match self.key.as_ref().map(|k| wrap(mechanism, k, &DATA)) {
            Some(Ok(wrapped)) => {
                assert!(self.flag(CKF_WRAP), "{name} wraps without CKF_WRAP");
                let key = self.key.as_ref().unwrap();
                assert_eq!(unwrap(mechanism, key, &wrapped).expect(name), DATA);
                assert!(self.flag(CKF_UNWRAP));
            }
            Some(Err(error)) => {
                assert!(!self.flag(CKF_WRAP), "{name}: wrap {error:?}");
                let unwrapped = unwrap(mechanism, self.key.as_ref().unwrap(), &[0; 256]);
                assert!(
                    self.refused(Err(error)) && self.refused(unwrapped.map(|_| ())),
                    "{name}"
                );
            }
            None => assert!(!self.flag(CKF_WRAP | CKF_UNWRAP)),
        }
    }

    /// Encapsulates and decapsulates back where `CKF_ENCAPSULATE` says so.
    fn check_kem(&self) {
        let name = &self.name;
        // The device refuses every other mechanism in C_EncapsulateKey
        // (tests/post_quantum.rs); here, only CKM_ML_KEM may have the flags.
        let (true, Some(key)) = (self.info.kind == CKM_ML_KEM, &self.key) else {
            return assert!(!self.flag(CKF_ENCAPSULATE | CKF_DECAPSULATE), "{name}");
        };
        match encapsulate(key) {
            Ok((ciphertext, secret)) if self.flag(CKF_ENCAPSULATE) => {
                assert!(self.flag(CKF_DECAPSULATE), "{name}");
                assert_eq!(decapsulate(key, &ciphertext).unwrap(), secret, "{name}");
            }
            other => assert!(
                !self.flag(CKF_ENCAPSULATE) && other.is_err(),
                "{name}: encapsulate {:?}",
                other.err()
            ),
        }
    }

    /// Digests exactly where `CKF_DIGEST` says so, and derives exactly
    /// where `CKF_DERIVE` does.
    fn check_digest_and_derive(&self) {
        let (mechanism, name) = (&self.mechanism, &self.name);
        let digesting = digest_init(mechanism).map(|_| ());
        assert_eq!(digesting.is_ok(), self.flag(CKF_DIGEST), "{name}");
        let derive = |key: &Arc<LoadedKey>| {
            if is_simple_derivation(mechanism.kind) {
                derive_value(mechanism, key, Some(key), None).map(|value| value.to_vec())
            } else if let (true, MechanismParameter::Kbkdf(parameter)) =
                (is_kbkdf(mechanism.kind), &mechanism.parameter)
            {
                let feedback = mechanism.kind == CKM_SP800_108_FEEDBACK_KDF;
                kbkdf(feedback, parameter, key, &[32]).map(|keys| keys[0].to_vec())
            } else {
                ecdh_derive(mechanism, key, 0)
            }
        };
        match self.key.as_ref().map(derive) {
            Some(Ok(secret)) => assert!(self.flag(CKF_DERIVE) && !secret.is_empty(), "{name}"),
            Some(Err(error)) => {
                assert!(!self.flag(CKF_DERIVE) && self.refused(Err(error)), "{name}")
            }
            None => assert!(!self.flag(CKF_DERIVE)),
        }
    }
}

#[test]
fn every_advertised_mechanism_works_at_both_ends_of_its_key_sizes() {
    for info in mechanism_infos() {
        assert_eq!(info.flags & CKF_HW, 0);
        for size in [info.min_key_size, info.max_key_size] {
            let case = SizeCase {
                info: &info,
                mechanism: with_parameter(info.kind, size),
                key: key_for(&info, size),
                name: format!("{:#x} at {size}", info.kind),
            };
            case.check_signing();
            case.check_cipher();
            case.check_wrapping();
            case.check_digest_and_derive();
            case.check_kem();
        }
    }
}

#[test]
fn every_advertised_generation_mechanism_generates_at_its_smallest_size() {
    for info in mechanism_infos() {
        match info.kind {
            CKM_RSA_PKCS_KEY_PAIR_GEN => {
                assert_eq!((info.min_key_size, info.max_key_size), (1024, 4096));
                let key = generate_rsa(info.min_key_size, &[]).unwrap();
                assert_eq!(key.bits() as CK_ULONG, info.min_key_size);
            }
            CKM_EC_KEY_PAIR_GEN => {
                assert_eq!(
                    generate_ec(P224).unwrap().bits() as CK_ULONG,
                    info.min_key_size
                );
                assert_eq!(
                    generate_ec(P521).unwrap().bits() as CK_ULONG,
                    info.max_key_size
                );
            }
            CKM_EC_EDWARDS_KEY_PAIR_GEN | CKM_EC_MONTGOMERY_KEY_PAIR_GEN => {
                assert_eq!((info.min_key_size, info.max_key_size), (255, 448));
                let (small, large) = match info.kind {
                    CKM_EC_EDWARDS_KEY_PAIR_GEN => (ED25519, ED448),
                    _ => (X25519, X448),
                };
                let [small, large] = [small, large].map(|p| generate_ec(p).unwrap());
                assert_eq!(Curve::of_key(&small).unwrap().bits(), info.min_key_size);
                assert_eq!(Curve::of_key(&large).unwrap().bits(), info.max_key_size);
            }
            CKM_ML_DSA_KEY_PAIR_GEN | CKM_ML_KEM_KEY_PAIR_GEN => {
                let (key_type, sets) = match info.kind {
                    CKM_ML_DSA_KEY_PAIR_GEN => (CKK_ML_DSA, [CKP_ML_DSA_44, CKP_ML_DSA_87]),
                    _ => (CKK_ML_KEM, [CKP_ML_KEM_512, CKP_ML_KEM_1024]),
                };
                let [small, large] = sets.map(|set| generate_post_quantum(key_type, set).unwrap());
                assert_eq!(
                    small.raw_public_key().unwrap().len() as CK_ULONG,
                    info.min_key_size
                );
                assert_eq!(
                    large.raw_public_key().unwrap().len() as CK_ULONG,
                    info.max_key_size
                );
            }
            CKM_DES3_KEY_GEN => {
                assert_eq!((info.min_key_size, info.max_key_size), (24, 24));
                assert_eq!(generate_des3().unwrap().len(), 24);
            }
            kind if kind == CKM_AES_KEY_GEN
                || kind == CKM_GENERIC_SECRET_KEY_GEN
                || hmac_key_generated_by(kind).is_some() =>
            {
                // The random value at both advertised lengths; which lengths
                // `C_GenerateKey` accepts for each key type (an HMAC key from
                // 14 bytes) is the device's rule, checked through the C ABI
                // (tests/mechanisms_macs.rs).
                assert_eq!(info.flags, CKF_GENERATE);
                assert!(generate_secret(info.min_key_size as usize).is_ok());
                assert!(generate_secret(info.max_key_size as usize).is_ok());
            }
            _ => assert_eq!(
                info.flags & (CKF_GENERATE | CKF_GENERATE_KEY_PAIR),
                0,
                "{:#x}",
                info.kind
            ),
        }
    }
}

#[test]
fn the_table_lists_each_mechanism_once() {
    let infos = mechanism_infos();
    let mut kinds: Vec<_> = infos.iter().map(|i| i.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), infos.len());
    assert_eq!(infos.len(), 93);
}
