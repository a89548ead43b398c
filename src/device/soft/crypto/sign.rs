//! Signatures and MACs (PKCS#11 3.0 §5.13, §5.14): RSA PKCS#1 v1.5 and PSS
//! (§2.1.6 to §2.1.15), ECDSA (§2.3.8), EdDSA (§2.3.14: Ed25519, Ed25519ctx,
//! Ed25519ph, Ed448 and Ed448ph, RFC 8032), HMAC (§2.20, §2.25) and AES-CMAC
//! (§2.11.5).
//!
//! The key stays parsed in its [`LoadedKey`]; an operation only creates its
//! OpenSSL context. Hash-and-sign mechanisms stream through one
//! `EVP_DigestSign` context; the mechanisms whose input is already a hash
//! (or, for EdDSA, the whole message) collect it and sign at the end.

use super::der;
use super::loaded::{check_rsa_size, AsymmetricKey, KeyContext};
use super::mac::{cmac_context, hmac_context, CMAC_LEN};
use super::mechanisms::Hash;
use super::{no_parameter, LoadedKey};
use crate::device::{Mechanism, MechanismParameter, SignOperation, VerifyOperation};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::md_ctx::MdCtx;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef};
use openssl::pkey_ctx::PkeyCtxRef;
use openssl::rsa::Padding;
use std::sync::Arc;

/// Ed25519 signatures are 64 bytes (RFC 8032 §5.1.6).
const ED25519_SIGNATURE_LEN: usize = 64;
/// Ed448 signatures are 114 bytes (RFC 8032 §5.2.6).
const ED448_SIGNATURE_LEN: usize = 114;
/// An EdDSA context string is at most 255 bytes (RFC 8032 §5.1, §5.2).
const MAX_EDDSA_CONTEXT: usize = 255;
/// PKCS#1 v1.5 padding takes at least 11 bytes of the modulus.
const PKCS1_OVERHEAD: usize = 11;

/// What a signature mechanism computes.
#[derive(Clone, Copy)]
enum Scheme {
    /// `CKM_RSA_PKCS`: PKCS#1 v1.5 type 1 padding over the caller's bytes.
    RsaPkcs,
    /// `CKM_SHA*_RSA_PKCS`.
    RsaPkcsWithHash(Hash),
    /// `CKM_RSA_PKCS_PSS` (`prehashed`: the input is the hash) and `CKM_SHA*_RSA_PKCS_PSS`.
    RsaPss {
        hash: Hash,
        salt_len: usize,
        prehashed: bool,
    },
    /// `CKM_ECDSA` (no hash: the input is the hash) and `CKM_ECDSA_SHA*`.
    Ecdsa(Option<Hash>),
    /// `CKM_EDDSA` on the key's curve: `prehash` (`CK_EDDSA_PARAMS.phFlag`)
    /// selects Ed25519ph or Ed448ph; the context string is the mechanism's.
    EdDsa { prehash: bool },
    /// `CKM_ML_DSA` (FIPS 204, pure): hedged, or `deterministic` (rnd = 0);
    /// the context string is the mechanism's.
    MlDsa { deterministic: bool },
    /// `CKM_SHA*_HMAC` and `CKM_SHA3_*_HMAC`, full length.
    Hmac(Hash),
    /// `CKM_AES_CMAC` (16 bytes) and `CKM_AES_CMAC_GENERAL` (`len`, 1 to 16).
    Cmac { len: usize },
}

fn hash(mechanism: CK_MECHANISM_TYPE) -> Hash {
    Hash::from_mechanism(mechanism).expect("a digest mechanism")
}

impl Scheme {
    fn of(mechanism: &Mechanism) -> Result<Scheme> {
        let scheme = match mechanism.kind {
            CKM_RSA_PKCS => Scheme::RsaPkcs,
            CKM_SHA1_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA_1)),
            CKM_SHA224_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA224)),
            CKM_SHA256_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA256)),
            CKM_SHA384_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA384)),
            CKM_SHA512_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA512)),
            CKM_SHA3_224_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA3_224)),
            CKM_SHA3_256_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA3_256)),
            CKM_SHA3_384_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA3_384)),
            CKM_SHA3_512_RSA_PKCS => Scheme::RsaPkcsWithHash(hash(CKM_SHA3_512)),
            CKM_RSA_PKCS_PSS => return pss(mechanism, None),
            CKM_SHA1_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA_1))),
            CKM_SHA224_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA224))),
            CKM_SHA256_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA256))),
            CKM_SHA384_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA384))),
            CKM_SHA512_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA512))),
            CKM_SHA3_224_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA3_224))),
            CKM_SHA3_256_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA3_256))),
            CKM_SHA3_384_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA3_384))),
            CKM_SHA3_512_RSA_PKCS_PSS => return pss(mechanism, Some(hash(CKM_SHA3_512))),
            CKM_ECDSA => Scheme::Ecdsa(None),
            CKM_ECDSA_SHA1 => Scheme::Ecdsa(Some(hash(CKM_SHA_1))),
            CKM_ECDSA_SHA224 => Scheme::Ecdsa(Some(hash(CKM_SHA224))),
            CKM_ECDSA_SHA256 => Scheme::Ecdsa(Some(hash(CKM_SHA256))),
            CKM_ECDSA_SHA384 => Scheme::Ecdsa(Some(hash(CKM_SHA384))),
            CKM_ECDSA_SHA512 => Scheme::Ecdsa(Some(hash(CKM_SHA512))),
            CKM_ECDSA_SHA3_224 => Scheme::Ecdsa(Some(hash(CKM_SHA3_224))),
            CKM_ECDSA_SHA3_256 => Scheme::Ecdsa(Some(hash(CKM_SHA3_256))),
            CKM_ECDSA_SHA3_384 => Scheme::Ecdsa(Some(hash(CKM_SHA3_384))),
            CKM_ECDSA_SHA3_512 => Scheme::Ecdsa(Some(hash(CKM_SHA3_512))),
            CKM_EDDSA => {
                return match &mechanism.parameter {
                    MechanismParameter::None => Ok(Scheme::EdDsa { prehash: false }),
                    MechanismParameter::Raw(bytes) if bytes.is_empty() => {
                        Ok(Scheme::EdDsa { prehash: false })
                    }
                    MechanismParameter::EdDsa { prehash, context }
                        if context.len() <= MAX_EDDSA_CONTEXT =>
                    {
                        Ok(Scheme::EdDsa { prehash: *prehash })
                    }
                    MechanismParameter::EdDsa { .. } => Err(Error::MechanismParamInvalid(
                        "an EdDSA context string is at most 255 bytes",
                    )),
                    _ => Err(Error::MechanismParamInvalid(
                        "CKM_EDDSA takes no parameter or a CK_EDDSA_PARAMS",
                    )),
                }
            }
            CKM_ML_DSA => {
                return match &mechanism.parameter {
                    MechanismParameter::None => Ok(Scheme::MlDsa {
                        deterministic: false,
                    }),
                    MechanismParameter::Raw(bytes) if bytes.is_empty() => Ok(Scheme::MlDsa {
                        deterministic: false,
                    }),
                    MechanismParameter::SignContext { context, .. }
                        if context.len() > MAX_EDDSA_CONTEXT =>
                    {
                        Err(Error::MechanismParamInvalid(
                            "an ML-DSA context string is at most 255 bytes",
                        ))
                    }
                    MechanismParameter::SignContext { hedge, .. } => match *hedge {
                        CKH_HEDGE_PREFERRED | CKH_HEDGE_REQUIRED => Ok(Scheme::MlDsa {
                            deterministic: false,
                        }),
                        CKH_DETERMINISTIC_REQUIRED => Ok(Scheme::MlDsa {
                            deterministic: true,
                        }),
                        _ => Err(Error::MechanismParamInvalid(
                            "hedgeVariant is not a CKH_* hedge type",
                        )),
                    },
                    _ => Err(Error::MechanismParamInvalid(
                        "CKM_ML_DSA takes no parameter or a CK_SIGN_ADDITIONAL_CONTEXT",
                    )),
                }
            }
            CKM_SHA_1_HMAC => Scheme::Hmac(hash(CKM_SHA_1)),
            CKM_SHA224_HMAC => Scheme::Hmac(hash(CKM_SHA224)),
            CKM_SHA256_HMAC => Scheme::Hmac(hash(CKM_SHA256)),
            CKM_SHA384_HMAC => Scheme::Hmac(hash(CKM_SHA384)),
            CKM_SHA512_HMAC => Scheme::Hmac(hash(CKM_SHA512)),
            CKM_SHA3_224_HMAC => Scheme::Hmac(hash(CKM_SHA3_224)),
            CKM_SHA3_256_HMAC => Scheme::Hmac(hash(CKM_SHA3_256)),
            CKM_SHA3_384_HMAC => Scheme::Hmac(hash(CKM_SHA3_384)),
            CKM_SHA3_512_HMAC => Scheme::Hmac(hash(CKM_SHA3_512)),
            CKM_AES_CMAC => Scheme::Cmac { len: CMAC_LEN },
            CKM_AES_CMAC_GENERAL => {
                return match mechanism.parameter {
                    MechanismParameter::MacLength(len @ 1..=16) => {
                        Ok(Scheme::Cmac { len: len as usize })
                    }
                    _ => Err(Error::MechanismParamInvalid(
                        "CKM_AES_CMAC_GENERAL needs a CK_MAC_GENERAL_PARAMS of 1 to 16",
                    )),
                }
            }
            other => return Err(Error::MechanismInvalid(other)),
        };
        no_parameter(mechanism)?;
        Ok(scheme)
    }

    fn key_type(self) -> CK_KEY_TYPE {
        match self {
            Scheme::RsaPkcs | Scheme::RsaPkcsWithHash(_) | Scheme::RsaPss { .. } => CKK_RSA,
            Scheme::Ecdsa(_) => CKK_EC,
            Scheme::EdDsa { .. } => CKK_EC_EDWARDS,
            Scheme::MlDsa { .. } => CKK_ML_DSA,
            Scheme::Hmac(_) => CKK_GENERIC_SECRET,
            Scheme::Cmac { .. } => CKK_AES,
        }
    }

    /// The digest computed inside the signature context, if any.
    fn streaming_hash(self) -> Option<Hash> {
        match self {
            Scheme::RsaPkcsWithHash(hash) | Scheme::Hmac(hash) | Scheme::Ecdsa(Some(hash)) => {
                Some(hash)
            }
            Scheme::RsaPss {
                hash,
                prehashed: false,
                ..
            } => Some(hash),
            _ => None,
        }
    }

    /// Sets the RSA padding on a signature context.
    fn configure<T>(self, context: &mut PkeyCtxRef<T>) -> Result<()> {
        match self {
            Scheme::RsaPkcs | Scheme::RsaPkcsWithHash(_) => {
                context.set_rsa_padding(Padding::PKCS1)?
            }
            Scheme::RsaPss { hash, salt_len, .. } => configure_pss(context, hash, salt_len)?,
            _ => {}
        }
        Ok(())
    }
}

fn configure_pss<T>(context: &mut PkeyCtxRef<T>, hash: Hash, salt_len: usize) -> Result<()> {
    let salt_len =
        i32::try_from(salt_len).map_err(|_| Error::MechanismParamInvalid("PSS salt too long"))?;
    context.set_rsa_padding(Padding::PKCS1_PSS)?;
    context.set_signature_md(hash.md)?;
    context.set_rsa_mgf1_md(hash.md)?;
    context.set_rsa_pss_saltlen(openssl::sign::RsaPssSaltlen::custom(salt_len))?;
    Ok(())
}

/// The PSS parameters: the hash must be one the device has (and the one the
/// mechanism names, if it names one), the MGF must be MGF1 with that hash.
fn pss(mechanism: &Mechanism, required: Option<Hash>) -> Result<Scheme> {
    let MechanismParameter::Pss {
        hash,
        mgf,
        salt_len,
    } = &mechanism.parameter
    else {
        return Err(Error::MechanismParamInvalid(
            "PSS needs CK_RSA_PKCS_PSS_PARAMS",
        ));
    };
    let hash = Hash::from_mechanism(*hash)
        .ok_or(Error::MechanismParamInvalid("PSS hash not supported"))?;
    if required.is_some_and(|required| required.mechanism != hash.mechanism) {
        return Err(Error::MechanismParamInvalid(
            "PSS hash differs from the mechanism's",
        ));
    }
    if *mgf != hash.mgf {
        return Err(Error::MechanismParamInvalid(
            "PSS MGF must be MGF1 with the same hash",
        ));
    }
    let salt_len = usize::try_from(*salt_len)
        .map_err(|_| Error::MechanismParamInvalid("PSS salt too long"))?;
    Ok(Scheme::RsaPss {
        hash,
        salt_len,
        prehashed: required.is_none(),
    })
}

/// How many bytes a collected input may have.
#[derive(Clone, Copy)]
enum InputRule {
    AtMost(usize),
    Exactly(usize),
    Any,
}

impl InputRule {
    fn allows_more(self, len: usize) -> bool {
        match self {
            InputRule::AtMost(max) | InputRule::Exactly(max) => len <= max,
            InputRule::Any => true,
        }
    }

    fn check(self, len: usize) -> Result<()> {
        match self {
            InputRule::Exactly(expected) if len != expected => Err(Error::DataLenRange),
            _ if !self.allows_more(len) => Err(Error::DataLenRange),
            _ => Ok(()),
        }
    }
}

enum Engine {
    /// Hash-and-sign and MACs: the digest context holds the signature context.
    Stream(MdCtx),
    /// Input that is already a hash (or a DigestInfo), signed at the end.
    Collected(Collected),
    /// EdDSA and ML-DSA sign the whole message in one pass.
    Edwards { context: MdCtx, data: Vec<u8> },
}

/// The input of a single-part mechanism, collected for the key context
/// that signs or verifies it at the end.
struct Collected {
    context: KeyContext,
    data: Vec<u8>,
    rule: InputRule,
}

impl Collected {
    /// Takes in `more`, `DataLenRange` when the input would grow past
    /// what the mechanism signs.
    fn add(&mut self, more: &[u8]) -> Result<()> {
        if !self.rule.allows_more(self.data.len() + more.len()) {
            return Err(Error::DataLenRange);
        }
        self.data.extend_from_slice(more);
        Ok(())
    }

    /// The key context and the whole input, what was collected followed by
    /// `last`, once its length is one the mechanism signs.
    fn input<'a>(&'a mut self, last: &'a [u8]) -> Result<(&'a mut KeyContext, &'a [u8])> {
        let input = joined(&mut self.data, last);
        self.rule.check(input.len())?;
        Ok((&mut self.context, input))
    }
}

/// A signature or verification in progress.
pub(super) struct SignatureOperation {
    engine: Engine,
    /// The length of every signature of this mechanism and key.
    signature_len: usize,
    /// ECDSA: PKCS#11 signatures are `r || s`, OpenSSL's are DER.
    ecdsa: bool,
    /// HMAC: verification recomputes the MAC and compares.
    mac: bool,
    /// The key outlives the OpenSSL contexts that use it.
    _key: Arc<LoadedKey>,
}

/// The signature length and input rule of an asymmetric scheme on `key`.
fn shape(scheme: Scheme, key: AsymmetricKey<'_>) -> Result<(usize, InputRule)> {
    Ok(match scheme {
        Scheme::RsaPkcs | Scheme::RsaPkcsWithHash(_) | Scheme::RsaPss { .. } => {
            check_rsa_size(key.bits())?;
            let modulus_len = key.bits().div_ceil(8) as usize;
            let rule = match scheme {
                Scheme::RsaPkcs => InputRule::AtMost(modulus_len - PKCS1_OVERHEAD),
                Scheme::RsaPss {
                    hash,
                    salt_len,
                    prehashed,
                } => {
                    // RFC 8017 §9.1.1: emLen >= hLen + sLen + 2, emLen = ceil((modBits - 1) / 8).
                    let encoded_len = (key.bits() as usize - 1).div_ceil(8);
                    let needed = salt_len.checked_add(hash.len() + 2);
                    if needed.is_none_or(|needed| needed > encoded_len) {
                        return Err(Error::MechanismParamInvalid(
                            "PSS salt too long for the key",
                        ));
                    }
                    if prehashed {
                        InputRule::Exactly(hash.len())
                    } else {
                        InputRule::Any
                    }
                }
                _ => InputRule::Any,
            };
            (modulus_len, rule)
        }
        // The curve was checked when the key was made or imported; asking
        // OpenSSL for it here would export the key on every operation.
        Scheme::Ecdsa(_) => match (key.id(), key.bits()) {
            (Id::EC, bits @ (224 | 256 | 384 | 521)) => {
                (2 * bits.div_ceil(8) as usize, InputRule::Any)
            }
            _ => return Err(Error::KeyTypeInconsistent),
        },
        Scheme::EdDsa { .. } => match key.id() {
            Id::ED25519 => (ED25519_SIGNATURE_LEN, InputRule::Any),
            Id::ED448 => (ED448_SIGNATURE_LEN, InputRule::Any),
            _ => return Err(Error::KeyTypeInconsistent),
        },
        Scheme::MlDsa { .. } => match key.parameter_set() {
            Some(set) if set.key_type() == CKK_ML_DSA => (set.output_len(), InputRule::Any),
            _ => return Err(Error::KeyTypeInconsistent),
        },
        // MACs take secret keys, never an asymmetric one.
        Scheme::Hmac(_) | Scheme::Cmac { .. } => return Err(Error::KeyTypeInconsistent),
    })
}

/// `C_SignInit` (PKCS#11 3.0 §5.13).
pub(super) fn sign_init(
    key: Arc<LoadedKey>,
    mechanism: &Mechanism,
) -> Result<Box<dyn SignOperation>> {
    Ok(Box::new(signature_operation(key, mechanism, true)?))
}

/// `C_VerifyInit` (PKCS#11 3.0 §5.14).
pub(super) fn verify_init(
    key: Arc<LoadedKey>,
    mechanism: &Mechanism,
) -> Result<Box<dyn VerifyOperation>> {
    Ok(Box::new(signature_operation(key, mechanism, false)?))
}

/// The operation of `mechanism` with `key`, `signing` or verifying: an
/// HMAC stream, or the engine of the asymmetric scheme, whose signature
/// length and input rule follow from the key. A signature needs the
/// private key; a verification takes either half.
fn signature_operation(
    key: Arc<LoadedKey>,
    mechanism: &Mechanism,
    signing: bool,
) -> Result<SignatureOperation> {
    let scheme = Scheme::of(mechanism)?;
    let context = eddsa_context(mechanism);
    let (engine, signature_len) = if let Scheme::Hmac(hash) = scheme {
        (Engine::Stream(hmac_context(&key, hash)?), hash.len())
    } else if let Scheme::Cmac { len } = scheme {
        (Engine::Stream(cmac_context(&key)?), len)
    } else if signing {
        let private = key.private_key(scheme.key_type())?;
        let (signature_len, rule) = shape(scheme, AsymmetricKey::Private(private))?;
        (sign_engine(scheme, private, rule, context)?, signature_len)
    } else {
        let asymmetric = key.asymmetric_key(scheme.key_type())?;
        let (signature_len, rule) = shape(scheme, asymmetric)?;
        (
            verify_engine(scheme, asymmetric, rule, context)?,
            signature_len,
        )
    };
    Ok(SignatureOperation {
        engine,
        signature_len,
        ecdsa: matches!(scheme, Scheme::Ecdsa(_)),
        mac: matches!(scheme, Scheme::Hmac(_) | Scheme::Cmac { .. }),
        _key: key,
    })
}

/// The context string of a `CKM_EDDSA` or `CKM_ML_DSA` mechanism (empty
/// for any other).
fn eddsa_context(mechanism: &Mechanism) -> &[u8] {
    match &mechanism.parameter {
        MechanismParameter::EdDsa { context, .. } => context,
        MechanismParameter::SignContext { context, .. } => context,
        _ => &[],
    }
}

/// The RFC 8032 instance that `CKM_EDDSA` with `prehash` and `context`
/// names on a key of type `id`, `None` for pure Ed25519 or Ed448 without a
/// context (OpenSSL's default). PKCS#11 3.0 §2.3.14: without phFlag an
/// Ed25519 key signs Ed25519ctx when a context is given; Ed448 always
/// carries its (possibly empty) context.
fn eddsa_instance(id: Id, prehash: bool, context: &[u8]) -> Option<&'static std::ffi::CStr> {
    match (id, prehash) {
        (Id::ED25519, true) => Some(c"Ed25519ph"),
        (Id::ED25519, false) if !context.is_empty() => Some(c"Ed25519ctx"),
        (Id::ED448, true) => Some(c"Ed448ph"),
        (Id::ED448, false) if !context.is_empty() => Some(c"Ed448"),
        _ => None,
    }
}

/// Sets the instance and context of `scheme` (EdDSA) on a fresh signature
/// or verification context for a key of type `id`.
fn configure_edwards<T>(
    scheme: Scheme,
    id: Id,
    pkey_context: &mut PkeyCtxRef<T>,
    context: &[u8],
) -> Result<()> {
    let prehash = match scheme {
        Scheme::EdDsa { prehash } => prehash,
        Scheme::MlDsa { deterministic } => {
            if !context.is_empty() {
                pkey_context.set_context_string(context)?;
            }
            if deterministic {
                crate::ffi::openssl::set_int_parameter(pkey_context, c"deterministic", 1)?;
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    match eddsa_instance(id, prehash, context) {
        Some(instance) => crate::ffi::openssl::set_eddsa_instance(pkey_context, instance, context),
        None => Ok(()),
    }
}

/// The engine that signs with `private` by `scheme` (not HMAC).
fn sign_engine(
    scheme: Scheme,
    private: &PKey<openssl::pkey::Private>,
    rule: InputRule,
    eddsa_context: &[u8],
) -> Result<Engine> {
    Ok(match (scheme, scheme.streaming_hash()) {
        (Scheme::EdDsa { .. } | Scheme::MlDsa { .. }, _) => {
            let mut context = MdCtx::new()?;
            let pkey_context = context.digest_sign_init(None, private)?;
            configure_edwards(scheme, private.id(), pkey_context, eddsa_context)?;
            Engine::Edwards {
                context,
                data: Vec::new(),
            }
        }
        (_, Some(hash)) => {
            let mut context = MdCtx::new()?;
            scheme.configure(context.digest_sign_init(Some(hash.md), private)?)?;
            Engine::Stream(context)
        }
        (_, None) => collected_engine(scheme, AsymmetricKey::Private(private), rule, true)?,
    })
}

/// The engine that verifies with `key` by `scheme` (not HMAC).
fn verify_engine(
    scheme: Scheme,
    key: AsymmetricKey<'_>,
    rule: InputRule,
    eddsa_context: &[u8],
) -> Result<Engine> {
    Ok(match (scheme, scheme.streaming_hash(), key) {
        (Scheme::EdDsa { .. } | Scheme::MlDsa { .. }, _, AsymmetricKey::Private(key)) => {
            verify_edwards(scheme, key, eddsa_context)?
        }
        (Scheme::EdDsa { .. } | Scheme::MlDsa { .. }, _, AsymmetricKey::Public(key)) => {
            verify_edwards(scheme, key, eddsa_context)?
        }
        (_, Some(hash), AsymmetricKey::Private(key)) => verify_stream(scheme, hash, key)?,
        (_, Some(hash), AsymmetricKey::Public(key)) => verify_stream(scheme, hash, key)?,
        (_, None, _) => collected_engine(scheme, key, rule, false)?,
    })
}

/// An engine that collects the data and signs or verifies it at the end.
fn collected_engine(
    scheme: Scheme,
    key: AsymmetricKey<'_>,
    rule: InputRule,
    signing: bool,
) -> Result<Engine> {
    let mut context = key.context()?;
    if signing {
        context.sign_init()?;
    } else {
        context.verify_init()?;
    }
    configure_collected(scheme, &mut context)?;
    Ok(Engine::Collected(Collected {
        context,
        data: Vec::new(),
        rule,
    }))
}

fn configure_collected(scheme: Scheme, context: &mut KeyContext) -> Result<()> {
    match context {
        KeyContext::Private(context) => scheme.configure(context),
        KeyContext::Public(context) => scheme.configure(context),
    }
}

fn verify_stream<T: HasPublic>(scheme: Scheme, hash: Hash, key: &PKeyRef<T>) -> Result<Engine> {
    let mut context = MdCtx::new()?;
    scheme.configure(context.digest_verify_init(Some(hash.md), key)?)?;
    Ok(Engine::Stream(context))
}

fn verify_edwards<T: HasPublic>(
    scheme: Scheme,
    key: &PKeyRef<T>,
    eddsa_context: &[u8],
) -> Result<Engine> {
    let mut context = MdCtx::new()?;
    let pkey_context = context.digest_verify_init(None, key)?;
    configure_edwards(scheme, key.id(), pkey_context, eddsa_context)?;
    Ok(Engine::Edwards {
        context,
        data: Vec::new(),
    })
}

/// `data` followed by `more`, without copying when nothing was collected before.
fn joined<'a>(data: &'a mut Vec<u8>, more: &'a [u8]) -> &'a [u8] {
    if data.is_empty() {
        more
    } else {
        data.extend_from_slice(more);
        data
    }
}

impl SignatureOperation {
    fn update(&mut self, data: &[u8], signing: bool) -> Result<()> {
        match &mut self.engine {
            Engine::Stream(context) if signing || self.mac => context.digest_sign_update(data)?,
            Engine::Stream(context) => context.digest_verify_update(data)?,
            Engine::Collected(collected) => collected.add(data)?,
            Engine::Edwards {
                data: collected, ..
            } => collected.extend_from_slice(data),
        }
        Ok(())
    }

    /// The signature (PKCS#11 form) over what was given plus `last`.
    fn compute(&mut self, last: &[u8]) -> Result<Vec<u8>> {
        let signature = match &mut self.engine {
            Engine::Stream(context) => {
                if !last.is_empty() {
                    context.digest_sign_update(last)?;
                }
                let mut signature = Vec::with_capacity(self.signature_len + 16);
                context.digest_sign_final_to_vec(&mut signature)?;
                if self.mac {
                    // CKM_AES_CMAC_GENERAL: the leading bytes of the MAC.
                    signature.truncate(self.signature_len);
                }
                signature
            }
            Engine::Collected(collected) => {
                let (context, input) = collected.input(last)?;
                context.sign(input)?
            }
            Engine::Edwards { context, data } => {
                let mut signature = Vec::with_capacity(self.signature_len);
                context.digest_sign_to_vec(joined(data, last), &mut signature)?;
                signature
            }
        };
        if self.ecdsa {
            der::ecdsa_der_to_raw(&signature, self.signature_len / 2)
        } else {
            Ok(signature)
        }
    }

    fn check(&mut self, last: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != self.signature_len {
            return Err(Error::SignatureLenRange);
        }
        if self.mac {
            let expected = self.compute(last)?;
            return if openssl::memcmp::eq(&expected, signature) {
                Ok(())
            } else {
                Err(Error::SignatureInvalid)
            };
        }
        let der_signature;
        let signature = if self.ecdsa {
            der_signature = der::ecdsa_raw_to_der(signature);
            &der_signature[..]
        } else {
            signature
        };
        let valid = match &mut self.engine {
            Engine::Stream(context) => {
                (last.is_empty() || context.digest_verify_update(last).is_ok())
                    && context.digest_verify_final(signature).unwrap_or(false)
            }
            Engine::Collected(collected) => {
                let (context, input) = collected.input(last)?;
                context.verify(input, signature)
            }
            Engine::Edwards { context, data } => context
                .digest_verify(joined(data, last), signature)
                .unwrap_or(false),
        };
        if valid {
            Ok(())
        } else {
            Err(Error::SignatureInvalid)
        }
    }
}

impl SignOperation for SignatureOperation {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        SignatureOperation::update(self, data, true)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.compute(&[])
    }

    fn sign(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.compute(data)
    }
}

impl VerifyOperation for SignatureOperation {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        SignatureOperation::update(self, data, false)
    }

    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        self.check(&[], signature)
    }

    fn verify(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        self.check(data, signature)
    }
}
