//! Key custody through the C ABI (PKCS#11 3.0 §4.9, §4.10, §5.7, §5.12,
//! §5.18): a PIN holder cannot get a sensitive or non-extractable key out of
//! the embedded token by any path, `CKA_TRUSTED` is the security officer's,
//! and `CKA_ALWAYS_SENSITIVE` / `CKA_NEVER_EXTRACTABLE` tell the truth.
//!
//! Every refused call is made through the raw ABI with an output buffer
//! filled with a sentinel, and the test checks the buffer came back
//! untouched and, where the test knows the key's value, that the value
//! appears in no output: the return code alone would not prove that no
//! byte of the key came out.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use cryptoki_sys::*;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::nid::Nid;
use openssl::rsa::Rsa;

/// What a refused call must leave in its output buffer.
const SENTINEL: u8 = 0xA5;
/// The output buffer of the raw calls: larger than any wrapped key here.
const BUFFER_LEN: usize = 8192;
/// The id of the configured blob-signing key.
const SIGNING_KEY_ID: &str = "custody-signing-key";

// ----- keys -----

/// A key the attacker wants, and its value when the test knows it.
struct Victim {
    name: &'static str,
    handle: ObjectHandle,
    /// The secret bytes (`CKA_VALUE`, or the RSA private exponent).
    secret: Option<Vec<u8>>,
    /// The attributes `C_GetAttributeValue` must never reveal.
    sensitive: &'static [CK_ATTRIBUTE_TYPE],
}

const SECRET_VALUE: &[CK_ATTRIBUTE_TYPE] = &[CKA_VALUE];
const RSA_PRIVATE: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
];

/// 32 bytes no other key of a test has.
fn known_value(seed: u8) -> Vec<u8> {
    (0u8..32)
        .map(|i| seed.wrapping_mul(31).wrapping_add(i * 7))
        .collect()
}

fn import_aes(session: &Session, value: &[u8], extra: &[Attribute]) -> ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Value(value.to_vec()),
    ];
    template.retain(|a| {
        !extra
            .iter()
            .any(|e| e.attribute_type() == a.attribute_type())
    });
    template.extend_from_slice(extra);
    session
        .create_object(&template)
        .unwrap_or_else(|e| panic!("C_CreateObject AES: {e}"))
}

fn generate_aes(session: &Session, extra: &[Attribute]) -> ObjectHandle {
    let mut template = vec![Attribute::ValueLen(32.into())];
    template.extend_from_slice(extra);
    session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .unwrap_or_else(|e| panic!("C_GenerateKey AES: {e}"))
}

/// An RSA key pair generated with nothing but the modulus size.
fn generate_rsa_default(session: &Session) -> KeyPair {
    let (public, private) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[Attribute::ModulusBits(2048.into())],
            &[],
        )
        .expect("C_GenerateKeyPair RSA with a default template");
    KeyPair { public, private }
}

fn import_rsa_private(
    session: &Session,
    rsa: &Rsa<openssl::pkey::Private>,
    extra: &[Attribute],
) -> ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(KeyType::RSA),
        Attribute::Token(false),
        Attribute::Modulus(rsa.n().to_vec()),
        Attribute::PublicExponent(rsa.e().to_vec()),
        Attribute::PrivateExponent(rsa.d().to_vec()),
        Attribute::Prime1(rsa.p().unwrap().to_vec()),
        Attribute::Prime2(rsa.q().unwrap().to_vec()),
        Attribute::Exponent1(rsa.dmp1().unwrap().to_vec()),
        Attribute::Exponent2(rsa.dmq1().unwrap().to_vec()),
        Attribute::Coefficient(rsa.iqmp().unwrap().to_vec()),
    ];
    template.extend_from_slice(extra);
    session
        .create_object(&template)
        .unwrap_or_else(|e| panic!("C_CreateObject RSA private: {e}"))
}

fn import_ec_private(session: &Session, key: &EcKey<openssl::pkey::Private>) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(false),
            Attribute::EcParams(P256.to_vec()),
            Attribute::Value(key.private_key().to_vec_padded(32).unwrap()),
            Attribute::Derive(true),
        ])
        .unwrap_or_else(|e| panic!("C_CreateObject EC private: {e}"))
}

fn p256_key() -> EcKey<openssl::pkey::Private> {
    EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()
}

fn uncompressed_point(key: &EcKey<openssl::pkey::Private>) -> Vec<u8> {
    let mut ctx = BigNumContext::new().unwrap();
    key.public_key()
        .to_bytes(key.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
        .unwrap()
}

/// Every kind of key the token holds, each made the way a careless (or
/// hostile) caller would: a default template, or only `CKA_SENSITIVE`.
fn victims(session: &Session) -> Vec<Victim> {
    let aes_value = known_value(1);
    let generic_value = known_value(2);
    let rsa = Rsa::generate(2048).unwrap();
    let ec = p256_key();
    vec![
        Victim {
            name: "AES imported with a known value and CKA_SENSITIVE=true only",
            handle: import_aes(session, &aes_value, &[Attribute::Sensitive(true)]),
            secret: Some(aes_value),
            sensitive: SECRET_VALUE,
        },
        Victim {
            name: "AES generated with CKA_SENSITIVE=true only",
            handle: generate_aes(session, &[Attribute::Sensitive(true)]),
            secret: None,
            sensitive: SECRET_VALUE,
        },
        Victim {
            name: "generic secret imported with a default template",
            handle: session
                .create_object(&[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::GENERIC_SECRET),
                    Attribute::Value(generic_value.clone()),
                ])
                .expect("C_CreateObject generic secret"),
            secret: Some(generic_value),
            sensitive: SECRET_VALUE,
        },
        Victim {
            name: "RSA private key generated with a default template",
            handle: generate_rsa_default(session).private,
            secret: None,
            sensitive: RSA_PRIVATE,
        },
        Victim {
            name: "RSA private key imported with CKA_SENSITIVE=false (still unextractable)",
            handle: import_rsa_private(session, &rsa, &[Attribute::Sensitive(false)]),
            secret: Some(rsa.d().to_vec()),
            sensitive: RSA_PRIVATE,
        },
        Victim {
            name: "EC private key imported with a known value",
            handle: import_ec_private(session, &ec),
            secret: Some(ec.private_key().to_vec_padded(32).unwrap()),
            sensitive: SECRET_VALUE,
        },
        Victim {
            name: "EC private key generated with a default template",
            handle: session
                .generate_key_pair(
                    &Mechanism::EccKeyPairGen,
                    &[Attribute::EcParams(P256.to_vec())],
                    &[],
                )
                .expect("C_GenerateKeyPair EC with a default template")
                .1,
            secret: None,
            sensitive: SECRET_VALUE,
        },
    ]
}

// ----- raw calls -----

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that `buffer` is exactly as the caller gave it, and (when known)
/// that `secret` is not in it.
#[track_caller]
fn assert_untouched(buffer: &[u8], secret: Option<&[u8]>, case: &str) {
    assert!(
        buffer.iter().all(|b| *b == SENTINEL),
        "{case}: the output buffer was written to"
    );
    if let Some(secret) = secret {
        assert!(
            !contains(buffer, secret),
            "{case}: the key's value came out"
        );
    }
}

/// `C_GetAttributeValue` of one attribute into a sentinel buffer:
/// (rv, ulValueLen, buffer).
fn raw_get(
    session: &Session,
    object: ObjectHandle,
    kind: CK_ATTRIBUTE_TYPE,
) -> (CK_RV, CK_ULONG, Vec<u8>) {
    let mut buffer = vec![SENTINEL; BUFFER_LEN];
    let mut template = [raw_attribute(kind, &mut buffer)];
    let rv = ck!(C_GetAttributeValue(
        session.handle(),
        object.handle(),
        template.as_mut_ptr(),
        1
    ));
    let len = template[0].ulValueLen;
    (rv, len, buffer)
}

/// A boolean attribute, which must be readable.
#[track_caller]
fn flag(session: &Session, object: ObjectHandle, kind: CK_ATTRIBUTE_TYPE) -> bool {
    let (rv, len, buffer) = raw_get(session, object, kind);
    assert_ck!(rv, CKR_OK);
    assert_eq!(len, 1, "attribute 0x{kind:x} is a CK_BBOOL");
    buffer[0] != 0
}

/// (CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE).
fn custody(session: &Session, key: ObjectHandle) -> (bool, bool, bool, bool) {
    (
        flag(session, key, CKA_SENSITIVE),
        flag(session, key, CKA_EXTRACTABLE),
        flag(session, key, CKA_ALWAYS_SENSITIVE),
        flag(session, key, CKA_NEVER_EXTRACTABLE),
    )
}

/// The wrapping mechanisms the token offers, with a parameter each. The
/// parameter structures point into this value: it stays where it is while
/// the `CK_MECHANISM` of [`WrapMechanism::raw`] is used.
struct WrapMechanism {
    kind: CK_MECHANISM_TYPE,
    oaep: CK_RSA_PKCS_OAEP_PARAMS,
    rsa_aes: CK_RSA_AES_KEY_WRAP_PARAMS,
    gcm: CK_GCM_PARAMS,
    iv: [u8; 12],
}

impl WrapMechanism {
    fn new(kind: CK_MECHANISM_TYPE) -> WrapMechanism {
        WrapMechanism {
            kind,
            oaep: CK_RSA_PKCS_OAEP_PARAMS {
                hashAlg: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                source: CKZ_DATA_SPECIFIED,
                pSourceData: std::ptr::null_mut(),
                ulSourceDataLen: 0,
            },
            rsa_aes: CK_RSA_AES_KEY_WRAP_PARAMS {
                ulAESKeyBits: 256,
                pOAEPParams: std::ptr::null_mut(),
            },
            gcm: CK_GCM_PARAMS {
                pIv: std::ptr::null_mut(),
                ulIvLen: 12,
                ulIvBits: 96,
                pAAD: std::ptr::null_mut(),
                ulAADLen: 0,
                ulTagBits: 128,
            },
            iv: [7; 12],
        }
    }
    fn raw(&mut self) -> CK_MECHANISM {
        match self.kind {
            CKM_RSA_PKCS_OAEP => raw_mechanism_with(self.kind, &mut self.oaep),
            CKM_RSA_AES_KEY_WRAP => {
                self.rsa_aes.pOAEPParams = &mut self.oaep;
                raw_mechanism_with(self.kind, &mut self.rsa_aes)
            }
            CKM_AES_GCM => {
                self.gcm.pIv = self.iv.as_mut_ptr();
                raw_mechanism_with(self.kind, &mut self.gcm)
            }
            _ => raw_mechanism(self.kind),
        }
    }

    /// Whether the mechanism wraps under an RSA public key (else an AES key).
    fn is_rsa(kind: CK_MECHANISM_TYPE) -> bool {
        matches!(
            kind,
            CKM_RSA_PKCS | CKM_RSA_PKCS_OAEP | CKM_RSA_AES_KEY_WRAP
        )
    }
}

/// Asserts `C_WrapKey` of `victim` under `wrapping` is refused with
/// `expected`, both as a length query and into a buffer, and leaves the
/// buffer untouched.
#[track_caller]
fn assert_wrap_refused(
    session: &Session,
    mechanism: CK_MECHANISM_TYPE,
    wrapping: ObjectHandle,
    victim: &Victim,
    expected: CK_RV,
) {
    let mut wrap = WrapMechanism::new(mechanism);
    let mut raw = wrap.raw();
    let mut len: CK_ULONG = 0;
    let rv = ck!(C_WrapKey(
        session.handle(),
        &mut raw,
        wrapping.handle(),
        victim.handle.handle(),
        std::ptr::null_mut(),
        &mut len
    ));
    let case = format!("{} under 0x{mechanism:x} (length query)", victim.name);
    assert!(
        rv == expected,
        "{case}: got {}, expected {}",
        rv_name(rv),
        rv_name(expected)
    );
    let mut buffer = vec![SENTINEL; BUFFER_LEN];
    let mut len = buffer.len() as CK_ULONG;
    let rv = ck!(C_WrapKey(
        session.handle(),
        &mut raw,
        wrapping.handle(),
        victim.handle.handle(),
        buffer.as_mut_ptr(),
        &mut len
    ));
    let case = format!("{} under 0x{mechanism:x}", victim.name);
    assert!(
        rv == expected,
        "{case}: got {}, expected {}",
        rv_name(rv),
        rv_name(expected)
    );
    assert_untouched(&buffer, victim.secret.as_deref(), &case);
}

fn oaep() -> Mechanism<'static> {
    Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ))
}

/// The mechanisms of slot 1 whose flags include `flag`.
fn mechanisms_with(flag: CK_FLAGS) -> Vec<CK_MECHANISM_TYPE> {
    raw_mechanism_list()
        .into_iter()
        .filter(|mechanism| {
            let mut info = CK_MECHANISM_INFO {
                ulMinKeySize: 0,
                ulMaxKeySize: 0,
                flags: 0,
            };
            assert_ck!(
                ck!(C_GetMechanismInfo(SLOT_ID, *mechanism, &mut info)),
                CKR_OK
            );
            info.flags & flag != 0
        })
        .collect()
}

/// Every object a session sees.
fn object_count(session: &Session) -> usize {
    find(session, &[]).len()
}

// ----- defaults -----

#[test]
fn generated_keys_are_sensitive_and_unextractable_unless_the_template_says_otherwise() {
    let token = TestToken::new();
    let session = token.user_session();
    let aes = generate_aes(&session, &[]);
    let generic = session
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[Attribute::ValueLen(32.into())],
        )
        .expect("C_GenerateKey generic secret");
    let rsa = generate_rsa_default(&session).private;
    let (_, ec) = session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(P256.to_vec())],
            &[],
        )
        .unwrap();
    for (name, key) in [
        ("AES", aes),
        ("generic secret", generic),
        ("RSA", rsa),
        ("EC", ec),
    ] {
        assert_eq!(
            custody(&session, key),
            (true, false, true, true),
            "{name}: (SENSITIVE, EXTRACTABLE, ALWAYS_SENSITIVE, NEVER_EXTRACTABLE)"
        );
    }
    let asked = generate_aes(&session, &[Attribute::Extractable(true)]);
    assert_eq!(custody(&session, asked), (true, true, true, false));
}

#[test]
fn keys_created_from_a_value_are_unextractable_and_were_never_always_sensitive() {
    let token = TestToken::new();
    let session = token.user_session();
    let aes = import_aes(&session, &known_value(3), &[]);
    let rsa = import_rsa_private(&session, &Rsa::generate(2048).unwrap(), &[]);
    for (name, key) in [("AES", aes), ("RSA", rsa)] {
        assert_eq!(
            custody(&session, key),
            (true, false, false, false),
            "{name}: a key the caller held in clear was never always sensitive"
        );
    }
}

// ----- C_GetAttributeValue -----

#[test]
fn get_attribute_value_never_reveals_a_sensitive_or_unextractable_value() {
    let token = TestToken::new();
    let session = token.user_session();
    for victim in victims(&session) {
        for kind in victim.sensitive {
            let case = format!("{}: attribute 0x{kind:x}", victim.name);
            let (rv, len, buffer) = raw_get(&session, victim.handle, *kind);
            assert!(rv == CKR_ATTRIBUTE_SENSITIVE, "{case}: got {}", rv_name(rv));
            assert_eq!(len, CK_UNAVAILABLE_INFORMATION, "{case}: ulValueLen");
            assert_untouched(&buffer, victim.secret.as_deref(), &case);

            let mut query = [length_query(*kind)];
            let rv = ck!(C_GetAttributeValue(
                session.handle(),
                victim.handle.handle(),
                query.as_mut_ptr(),
                1
            ));
            assert!(
                rv == CKR_ATTRIBUTE_SENSITIVE,
                "{case} (length): got {}",
                rv_name(rv)
            );
            assert_eq!(
                query[0].ulValueLen, CK_UNAVAILABLE_INFORMATION,
                "{case} (length)"
            );
        }
    }
}

#[test]
fn get_attribute_value_fills_the_other_attributes_of_a_template_with_a_sensitive_one() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = known_value(4);
    let key = import_aes(&session, &value, &[Attribute::Label(b"custody".to_vec())]);
    let mut label = vec![SENTINEL; 7];
    let mut secret = vec![SENTINEL; 64];
    let mut template = [
        raw_attribute(CKA_LABEL, &mut label),
        raw_attribute(CKA_VALUE, &mut secret),
    ];
    let rv = ck!(C_GetAttributeValue(
        session.handle(),
        key.handle(),
        template.as_mut_ptr(),
        2
    ));
    assert_ck!(rv, CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(template[0].ulValueLen, 7);
    assert_eq!(template[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(label, b"custody");
    assert_untouched(&secret, Some(&value), "CKA_VALUE beside CKA_LABEL");
}

// ----- C_CopyObject -----

#[test]
fn copy_object_cannot_turn_sensitive_off_or_extractable_on() {
    let token = TestToken::new();
    let session = token.user_session();
    for victim in victims(&session) {
        let (sensitive, extractable, always, never) = custody(&session, victim.handle);
        assert!(!extractable, "{}", victim.name);
        let mut changes = vec![
            ("CKA_EXTRACTABLE=true", Attribute::Extractable(true)),
            (
                "CKA_ALWAYS_SENSITIVE flipped",
                Attribute::AlwaysSensitive(!always),
            ),
            (
                "CKA_NEVER_EXTRACTABLE flipped",
                Attribute::NeverExtractable(!never),
            ),
        ];
        if sensitive {
            changes.push(("CKA_SENSITIVE=false", Attribute::Sensitive(false)));
        }
        for (change, attribute) in changes {
            let before = object_count(&session);
            assert_rv(
                session.copy_object(victim.handle, &[attribute]),
                RvError::AttributeReadOnly,
            );
            assert_eq!(
                object_count(&session),
                before,
                "{}: {change} made no object",
                victim.name
            );
        }
    }
}

#[test]
fn a_copy_made_public_keeps_the_key_sensitive_unextractable_and_truthful() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = known_value(5);
    let generated = generate_aes(&session, &[]);
    let imported = import_aes(&session, &value, &[]);
    for (name, original, secret) in [
        ("generated", generated, None),
        ("imported", imported, Some(value.as_slice())),
    ] {
        let copy = session
            .copy_object(original, &[Attribute::Private(false)])
            .unwrap_or_else(|e| panic!("{name}: C_CopyObject CKA_PRIVATE=false: {e}"));
        assert!(!flag(&session, copy, CKA_PRIVATE));
        assert_eq!(
            custody(&session, copy),
            custody(&session, original),
            "{name}"
        );
        let (rv, len, buffer) = raw_get(&session, copy, CKA_VALUE);
        assert_ck!(rv, CKR_ATTRIBUTE_SENSITIVE);
        assert_eq!(len, CK_UNAVAILABLE_INFORMATION);
        assert_untouched(&buffer, secret, name);
        let kek = generate_aes(&session, &[Attribute::Wrap(true)]);
        let victim = Victim {
            name: "a public copy",
            handle: copy,
            secret: secret.map(<[u8]>::to_vec),
            sensitive: SECRET_VALUE,
        };
        assert_wrap_refused(
            &session,
            CKM_AES_KEY_WRAP,
            kek,
            &victim,
            CKR_KEY_UNEXTRACTABLE,
        );
    }
}

#[test]
fn a_copy_made_sensitive_and_unextractable_does_not_claim_it_always_was() {
    let token = TestToken::new();
    let session = token.user_session();
    let original = generate_aes(
        &session,
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    );
    assert_eq!(custody(&session, original), (false, true, false, false));
    let copy = session
        .copy_object(
            original,
            &[Attribute::Sensitive(true), Attribute::Extractable(false)],
        )
        .expect("C_CopyObject tightening the copy");
    assert_eq!(custody(&session, copy), (true, false, false, false));
}

// ----- C_SetAttributeValue -----

#[test]
fn set_attribute_value_cannot_turn_sensitive_off_or_extractable_on() {
    let token = TestToken::new();
    let session = token.user_session();
    for victim in victims(&session) {
        let before = custody(&session, victim.handle);
        for (change, attribute) in [
            ("CKA_SENSITIVE=false", Attribute::Sensitive(false)),
            ("CKA_EXTRACTABLE=true", Attribute::Extractable(true)),
            (
                "CKA_ALWAYS_SENSITIVE=true",
                Attribute::AlwaysSensitive(!before.2),
            ),
            (
                "CKA_NEVER_EXTRACTABLE flipped",
                Attribute::NeverExtractable(!before.3),
            ),
        ] {
            if change == "CKA_SENSITIVE=false" && !before.0 {
                continue;
            }
            assert_rv(
                session.update_attributes(victim.handle, &[attribute]),
                RvError::AttributeReadOnly,
            );
            assert_eq!(
                custody(&session, victim.handle),
                before,
                "{}: {change}",
                victim.name
            );
        }
        // A refused attribute beside an allowed one changes nothing.
        assert_rv(
            session.update_attributes(
                victim.handle,
                &[
                    Attribute::Label(b"changed".to_vec()),
                    Attribute::Extractable(true),
                ],
            ),
            RvError::AttributeReadOnly,
        );
        assert!(!contains(
            &attribute_bytes(&session, victim.handle, AttributeType::Label),
            b"changed"
        ));
    }
}

#[test]
fn set_attribute_value_may_tighten_a_key_and_the_key_does_not_claim_it_always_was() {
    let token = TestToken::new();
    let session = token.user_session();
    let value = known_value(6);
    let key = import_aes(
        &session,
        &value,
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    );
    assert_eq!(
        attribute_bytes(&session, key, AttributeType::Value),
        value,
        "readable before"
    );
    session
        .update_attributes(key, &[Attribute::Sensitive(true)])
        .expect("CKA_SENSITIVE false to true");
    session
        .update_attributes(key, &[Attribute::Extractable(false)])
        .expect("CKA_EXTRACTABLE true to false");
    assert_eq!(custody(&session, key), (true, false, false, false));
    let (rv, _, buffer) = raw_get(&session, key, CKA_VALUE);
    assert_ck!(rv, CKR_ATTRIBUTE_SENSITIVE);
    assert_untouched(&buffer, Some(&value), "after tightening");
    for attribute in [Attribute::Sensitive(false), Attribute::Extractable(true)] {
        assert_rv(
            session.update_attributes(key, &[attribute]),
            RvError::AttributeReadOnly,
        );
    }
}

// ----- C_WrapKey -----

#[test]
fn wrapping_under_a_generated_aes_key_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek = generate_aes(&session, &[Attribute::Wrap(true)]);
    for victim in victims(&session) {
        for mechanism in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD] {
            assert_wrap_refused(&session, mechanism, kek, &victim, CKR_KEY_UNEXTRACTABLE);
        }
    }
}

#[test]
fn wrapping_under_an_imported_key_of_known_value_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek = import_secret(&session, KeyType::AES, &known_value(7));
    for victim in victims(&session) {
        for mechanism in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD] {
            assert_wrap_refused(&session, mechanism, kek, &victim, CKR_KEY_UNEXTRACTABLE);
        }
    }
}

#[test]
fn wrapping_under_an_rsa_public_key_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa(&session, 2048, false, b"rsa-kek");
    for victim in victims(&session) {
        assert_wrap_refused(
            &session,
            CKM_RSA_PKCS_OAEP,
            pair.public,
            &victim,
            CKR_KEY_UNEXTRACTABLE,
        );
    }
}

/// RFC 3394 unwrapping done with `C_Decrypt(CKM_AES_ECB)`: what a caller
/// can do with a key that both wraps and decrypts.
fn unwrap_by_decrypting(session: &Session, key: ObjectHandle, wrapped: &[u8]) -> Vec<u8> {
    let n = wrapped.len() / 8 - 1;
    let mut a: [u8; 8] = wrapped[..8].try_into().unwrap();
    let mut r: Vec<[u8; 8]> = wrapped[8..]
        .chunks(8)
        .map(|c| c.try_into().unwrap())
        .collect();
    for j in (0..6).rev() {
        for i in (1..=n).rev() {
            let t = (n * j + i) as u64;
            let mut block = [0u8; 16];
            for (k, byte) in a.iter().enumerate() {
                block[k] = byte ^ t.to_be_bytes()[k];
            }
            block[8..].copy_from_slice(&r[i - 1]);
            let plain = session
                .decrypt(&Mechanism::AesEcb, key, &block)
                .expect("C_Decrypt ECB");
            a.copy_from_slice(&plain[..8]);
            r[i - 1].copy_from_slice(&plain[8..]);
        }
    }
    assert_eq!(a, [0xA6; 8], "the RFC 3394 integrity check");
    r.concat()
}

#[test]
fn wrapping_under_a_key_that_also_decrypts_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let kek = generate_aes(&session, &[Attribute::Wrap(true), Attribute::Decrypt(true)]);
    // The attack is real: an extractable key wrapped under this key comes
    // out in clear through C_Decrypt.
    let value = known_value(8);
    let extractable = import_aes(&session, &value, &[Attribute::Extractable(true)]);
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrap, kek, extractable)
        .expect("C_WrapKey of an extractable key");
    assert_eq!(unwrap_by_decrypting(&session, kek, &wrapped), value);
    // So a key that is not extractable must never be wrapped under it.
    for victim in victims(&session) {
        for mechanism in [CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD] {
            assert_wrap_refused(&session, mechanism, kek, &victim, CKR_KEY_UNEXTRACTABLE);
        }
    }
    let pair = generate_rsa(&session, 2048, false, b"rsa-wrap-decrypt");
    let wrapped = session
        .wrap_key(&oaep(), pair.public, extractable)
        .expect("C_WrapKey OAEP of an extractable key");
    assert_eq!(
        session.decrypt(&oaep(), pair.private, &wrapped).unwrap(),
        value
    );
    for victim in victims(&session) {
        assert_wrap_refused(
            &session,
            CKM_RSA_PKCS_OAEP,
            pair.public,
            &victim,
            CKR_KEY_UNEXTRACTABLE,
        );
    }
}

#[test]
fn every_wrapping_mechanism_offered_refuses_an_unextractable_key() {
    let token = TestToken::new();
    let session = token.user_session();
    let offered = mechanisms_with(CKF_WRAP);
    let mut sorted = offered.clone();
    sorted.sort_unstable();
    let mut tested = vec![
        CKM_RSA_PKCS,
        CKM_RSA_PKCS_OAEP,
        CKM_RSA_AES_KEY_WRAP,
        CKM_AES_KEY_WRAP,
        CKM_AES_KEY_WRAP_PAD,
        CKM_AES_GCM,
    ];
    tested.sort_unstable();
    assert_eq!(
        sorted, tested,
        "a new wrapping mechanism needs its custody test"
    );
    let aes = generate_aes(&session, &[Attribute::Wrap(true)]);
    let pair = generate_rsa(&session, 2048, false, b"rsa-every");
    for victim in victims(&session) {
        for mechanism in &offered {
            let wrapping = if WrapMechanism::is_rsa(*mechanism) {
                pair.public
            } else {
                aes
            };
            assert_wrap_refused(
                &session,
                *mechanism,
                wrapping,
                &victim,
                CKR_KEY_UNEXTRACTABLE,
            );
        }
    }
}

// ----- the reviewer's attacks, verbatim -----

#[test]
fn reviewer_attack_wrap_then_unwrap_as_non_sensitive_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Sensitive(true)],
        )
        .unwrap();
    let kek = session
        .generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(32.into())])
        .unwrap();
    let victim = Victim {
        name: "AES generated with only CKA_SENSITIVE=true",
        handle: key,
        secret: None,
        sensitive: SECRET_VALUE,
    };
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP,
        kek,
        &victim,
        CKR_KEY_UNEXTRACTABLE,
    );
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP_PAD,
        kek,
        &victim,
        CKR_KEY_UNEXTRACTABLE,
    );
}

#[test]
fn reviewer_attack_wrap_under_an_imported_known_key_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(32.into()), Attribute::Sensitive(true)],
        )
        .unwrap();
    let known = known_value(9);
    let kek = import_aes(&session, &known, &[Attribute::Wrap(true)]);
    let victim = Victim {
        name: "AES generated with only CKA_SENSITIVE=true",
        handle: key,
        secret: None,
        sensitive: SECRET_VALUE,
    };
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP,
        kek,
        &victim,
        CKR_KEY_UNEXTRACTABLE,
    );
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP_PAD,
        kek,
        &victim,
        CKR_KEY_UNEXTRACTABLE,
    );
}

#[test]
fn reviewer_attack_on_an_rsa_private_key_with_a_default_template_is_key_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let pair = generate_rsa_default(&session);
    let kek = session
        .generate_key(&Mechanism::AesKeyGen, &[Attribute::ValueLen(32.into())])
        .unwrap();
    let known = import_aes(&session, &known_value(10), &[Attribute::Wrap(true)]);
    let victim = Victim {
        name: "RSA private key generated with a default template",
        handle: pair.private,
        secret: None,
        sensitive: RSA_PRIVATE,
    };
    for wrapping in [kek, known] {
        assert_wrap_refused(
            &session,
            CKM_AES_KEY_WRAP_PAD,
            wrapping,
            &victim,
            CKR_KEY_UNEXTRACTABLE,
        );
    }
}

// ----- C_UnwrapKey -----

#[test]
fn a_key_unwrapped_as_non_sensitive_says_it_was_never_sensitive_nor_unextractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let original = generate_aes(
        &session,
        &[Attribute::Extractable(true), Attribute::Encrypt(true)],
    );
    assert_eq!(custody(&session, original), (true, true, true, false));
    let kek = generate_aes(&session, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrap, kek, original)
        .unwrap();
    let base = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Encrypt(true),
    ];
    let mut clear_template = base.to_vec();
    clear_template.extend([Attribute::Sensitive(false), Attribute::Extractable(true)]);
    let clear = session
        .unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &clear_template)
        .expect("C_UnwrapKey as non-sensitive");
    assert_eq!(custody(&session, clear), (false, true, false, false));
    let value = attribute_bytes(&session, clear, AttributeType::Value);
    let block = [0x33u8; 16];
    assert_eq!(
        session
            .encrypt(&Mechanism::AesEcb, original, &block)
            .unwrap(),
        openssl_aes_ecb(&value, &block),
        "the unwrapped value is the original key, which was made to leave"
    );

    let guarded = session
        .unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &base)
        .expect("C_UnwrapKey with a default template");
    assert_eq!(custody(&session, guarded), (true, false, false, false));
    let victim = Victim {
        name: "a key unwrapped with a default template",
        handle: guarded,
        secret: Some(value),
        sensitive: SECRET_VALUE,
    };
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP,
        kek,
        &victim,
        CKR_KEY_UNEXTRACTABLE,
    );

    for claim in [
        Attribute::AlwaysSensitive(true),
        Attribute::NeverExtractable(true),
    ] {
        let mut template = base.to_vec();
        template.push(claim);
        assert_rv(
            session.unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &template),
            RvError::AttributeReadOnly,
        );
    }
}

fn openssl_aes_ecb(key: &[u8], block: &[u8]) -> Vec<u8> {
    let cipher = match key.len() {
        16 => openssl::symm::Cipher::aes_128_ecb(),
        24 => openssl::symm::Cipher::aes_192_ecb(),
        _ => openssl::symm::Cipher::aes_256_ecb(),
    };
    let mut crypter =
        openssl::symm::Crypter::new(cipher, openssl::symm::Mode::Encrypt, key, None).unwrap();
    crypter.pad(false);
    let mut out = vec![0u8; block.len() + 16];
    let n = crypter.update(block, &mut out).unwrap();
    out.truncate(n);
    out
}

// ----- C_DeriveKey -----

fn derive(
    session: &Session,
    base: ObjectHandle,
    peer: &[u8],
    extra: &[Attribute],
) -> cryptoki::error::Result<ObjectHandle> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::ValueLen(32.into()),
    ];
    template.extend_from_slice(extra);
    let params = Ecdh1DeriveParams::new(EcKdf::null(), peer);
    session.derive_key(&Mechanism::Ecdh1Derive(params), base, &template)
}

/// Checks that a key `kind` derived has the `flags` given and that its
/// value cannot be read.
fn assert_held_back(
    session: &Session,
    key: CK_OBJECT_HANDLE,
    kind: CK_MECHANISM_TYPE,
    flags: &[(CK_ATTRIBUTE_TYPE, bool)],
) {
    for &(attribute, expected) in flags {
        let got = raw_bool(session, key, attribute);
        assert_eq!(got, expected, "{kind:#x}: {attribute:#x}");
    }
    assert_eq!(
        raw_secret_value(session, key).map_err(rv_name),
        Err(rv_name(CKR_ATTRIBUTE_SENSITIVE)),
        "{kind:#x}"
    );
}

/// The custody of a key derived from a sensitive, unextractable, private,
/// wrap-with-trusted AES key by `kind`, a simple derivation: the new key
/// is all four, its value cannot be read, a template asking it to be
/// otherwise is refused, and so is a result holding fewer than 16 of the
/// base key's bytes; a concatenation is refused outright.
fn simple_derivation_keeps_custody(session: &Session, kind: CK_MECHANISM_TYPE) {
    let protected = Template::default()
        .bool(CKA_DERIVE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_EXTRACTABLE, false)
        .bool(CKA_PRIVATE, true)
        .bool(CKA_WRAP_WITH_TRUSTED, true);
    let base = raw_secret(session, CKK_AES, &known_value(0x51)[..16], protected);
    let second = raw_secret(
        session,
        CKK_AES,
        &known_value(0x52)[..16],
        Template::default()
            .bool(CKA_DERIVE, true)
            .bool(CKA_SENSITIVE, false)
            .bool(CKA_EXTRACTABLE, true),
    );
    let (_, mut parameter) = simple_derivations(second)
        .into_iter()
        .find(|(each, _)| *each == kind)
        .unwrap_or_else(|| panic!("{kind:#x}: no parameter for this derivation"));
    let generic = |len| {
        Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, len)
    };
    if matches!(
        kind,
        CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
    ) {
        // A protected key is never concatenated (its bytes would sit beside
        // known ones in a key a later extraction could cut apart), nor XORed
        // with data (that makes related keys with a known difference).
        let objects = object_count(session);
        assert_eq!(
            raw_derive(session, kind, &mut parameter, base, generic(16)).map_err(rv_name),
            Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED)),
            "{kind:#x}"
        );
        assert_eq!(object_count(session), objects);
        return;
    }
    let key = raw_derive(session, kind, &mut parameter, base, generic(16))
        .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
    assert_held_back(
        session,
        key,
        kind,
        &[
            (CKA_SENSITIVE, true),
            (CKA_EXTRACTABLE, false),
            (CKA_PRIVATE, true),
            (CKA_WRAP_WITH_TRUSTED, true),
        ],
    );
    let objects = object_count(session);
    for (case, template) in [
        (
            "CKA_SENSITIVE false",
            generic(16).bool(CKA_SENSITIVE, false),
        ),
        (
            "CKA_EXTRACTABLE true",
            generic(16).bool(CKA_EXTRACTABLE, true),
        ),
        ("CKA_PRIVATE false", generic(16).bool(CKA_PRIVATE, false)),
        (
            "CKA_WRAP_WITH_TRUSTED false",
            generic(16).bool(CKA_WRAP_WITH_TRUSTED, false),
        ),
        ("15 bytes of the base key", generic(15)),
    ] {
        assert_eq!(
            raw_derive(session, kind, &mut parameter, base, template).map_err(rv_name),
            Err(rv_name(CKR_TEMPLATE_INCONSISTENT)),
            "{kind:#x}: {case}"
        );
    }
    assert_eq!(
        object_count(session),
        objects,
        "{kind:#x}: a refused derivation made a key"
    );
}

/// The custody of keys derived by SP 800-108 (`kind`) from a generated
/// generic secret: with a silent template they are as sensitive and
/// unextractable as the base, their values cannot be read, and they
/// inherit its history (§2.42.7); the additional keys alike.
fn kbkdf_keeps_custody(session: &Session, kind: CK_MECHANISM_TYPE) {
    let base = session
        .generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Derive(true),
            ],
        )
        .expect("a generated generic secret");
    let base = base.handle();
    let kdf = if kind == CKM_SP800_108_FEEDBACK_KDF {
        Kbkdf::feedback(CKM_SHA256_HMAC, vec![PrfInput::Iteration(None)], &[1; 32])
    } else {
        Kbkdf::counter(
            CKM_SHA256_HMAC,
            vec![PrfInput::Iteration(Some((false, 32)))],
        )
    };
    let template = || {
        Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, 32)
    };
    let (key, additional) = kdf.derive(session, base, template(), vec![template()]);
    let key = key.unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
    for key in [key, additional[0]] {
        assert_held_back(
            session,
            key,
            kind,
            &[
                (CKA_SENSITIVE, true),
                (CKA_EXTRACTABLE, false),
                (CKA_ALWAYS_SENSITIVE, true),
                (CKA_NEVER_EXTRACTABLE, true),
            ],
        );
    }
}

#[test]
fn every_derivation_offered_keeps_the_base_keys_custody() {
    let token = TestToken::new();
    let session = token.user_session();
    let mut checked = Vec::new();
    for kind in mechanisms_with(CKF_DERIVE) {
        match kind {
            CKM_ECDH1_DERIVE => ecdh_keeps_custody(&session),
            CKM_CONCATENATE_BASE_AND_KEY
            | CKM_CONCATENATE_BASE_AND_DATA
            | CKM_CONCATENATE_DATA_AND_BASE
            | CKM_XOR_BASE_AND_DATA
            | CKM_EXTRACT_KEY_FROM_KEY
            | CKM_AES_ECB_ENCRYPT_DATA
            | CKM_AES_CBC_ENCRYPT_DATA => simple_derivation_keeps_custody(&session, kind),
            CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF => {
                kbkdf_keeps_custody(&session, kind)
            }
            other => panic!("{other:#x}: a new derivation mechanism needs its custody check here"),
        }
        checked.push(kind);
    }
    assert!(checked.contains(&CKM_ECDH1_DERIVE), "{checked:x?}");
    assert!(checked.len() >= 10, "the derivations offered: {checked:x?}");
}

#[test]
fn an_ecdh_derived_key_is_unextractable_by_default_and_inherits_the_base_keys_history() {
    let token = TestToken::new();
    ecdh_keeps_custody(&token.user_session());
}

/// ECDH's custody: the derived key is sensitive and unextractable unless
/// the template says otherwise, and claims only the history its base has.
fn ecdh_keeps_custody(session: &Session) {
    let peer = uncompressed_point(&p256_key());
    let generated = generate_ec(session, P256, false, b"ec").private;
    assert_eq!(custody(session, generated), (true, false, true, true));
    let derived = derive(session, generated, &peer, &[]).expect("C_DeriveKey default template");
    assert_eq!(custody(session, derived), (true, false, true, true));

    let loose = derive(
        session,
        generated,
        &peer,
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    )
    .expect("C_DeriveKey asking for a readable key");
    assert_eq!(custody(session, loose), (false, true, false, false));

    let ec = p256_key();
    let imported = import_ec_private(session, &ec);
    assert_eq!(custody(session, imported), (true, false, false, false));
    let derived = derive(session, imported, &peer, &[]).expect("C_DeriveKey from an imported key");
    assert_eq!(
        custody(session, derived),
        (true, false, false, false),
        "a key derived from one that was once in clear was not always sensitive"
    );
    let victim = Victim {
        name: "an ECDH-derived key with a default template",
        handle: derived,
        secret: Some(ec.private_key().to_vec_padded(32).unwrap()),
        sensitive: SECRET_VALUE,
    };
    let (rv, _, buffer) = raw_get(session, derived, CKA_VALUE);
    assert_ck!(rv, CKR_ATTRIBUTE_SENSITIVE);
    assert_untouched(&buffer, victim.secret.as_deref(), victim.name);
    let kek = generate_aes(session, &[Attribute::Wrap(true)]);
    assert_wrap_refused(
        session,
        CKM_AES_KEY_WRAP,
        kek,
        &victim,
        CKR_KEY_UNEXTRACTABLE,
    );

    for claim in [
        Attribute::AlwaysSensitive(true),
        Attribute::NeverExtractable(true),
    ] {
        assert_rv(
            derive(session, imported, &peer, &[claim]),
            RvError::AttributeReadOnly,
        );
    }
}

#[test]
fn a_readable_ecdh_secret_is_the_shared_secret_and_not_the_base_key() {
    let token = TestToken::new();
    let session = token.user_session();
    let ours = p256_key();
    let theirs = p256_key();
    let base = import_ec_private(&session, &ours);
    let derived = derive(
        &session,
        base,
        &uncompressed_point(&theirs),
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    )
    .expect("C_DeriveKey");
    let secret = attribute_bytes(&session, derived, AttributeType::Value);
    let ours_pkey = openssl::pkey::PKey::from_ec_key(ours.clone()).unwrap();
    let theirs_public = openssl::pkey::PKey::from_ec_key(
        EcKey::from_public_key(theirs.group(), theirs.public_key()).unwrap(),
    )
    .unwrap();
    let mut deriver = openssl::derive::Deriver::new(&ours_pkey).unwrap();
    deriver.set_peer(&theirs_public).unwrap();
    assert_eq!(secret, deriver.derive_to_vec().unwrap());
    assert!(!contains(
        &secret,
        &ours.private_key().to_vec_padded(32).unwrap()
    ));
}

// ----- C_DigestKey -----

/// `C_DigestInit(SHA-256)`, `C_DigestUpdate(prefix)`, `C_DigestKey(key)`,
/// `C_DigestFinal`: (rv of C_DigestKey, rv of C_DigestFinal, digest).
fn digest_with_key(session: &Session, key: ObjectHandle, prefix: &[u8]) -> (CK_RV, CK_RV, Vec<u8>) {
    let h = session.handle();
    let mut mechanism = raw_mechanism(CKM_SHA256);
    assert_ck!(ck!(C_DigestInit(h, &mut mechanism)), CKR_OK);
    let mut prefix = prefix.to_vec();
    assert_ck!(
        ck!(C_DigestUpdate(
            h,
            prefix.as_mut_ptr(),
            prefix.len() as CK_ULONG
        )),
        CKR_OK
    );
    let key_rv = ck!(C_DigestKey(h, key.handle()));
    let mut digest = vec![SENTINEL; 64];
    let mut len = digest.len() as CK_ULONG;
    let final_rv = ck!(C_DigestFinal(h, digest.as_mut_ptr(), &mut len));
    digest.truncate(len as usize);
    (key_rv, final_rv, digest)
}

#[test]
fn digest_key_of_a_sensitive_or_unextractable_key_is_key_indigestible() {
    let token = TestToken::new();
    let session = token.user_session();
    let prefix = b"prefix";
    for (name, extra) in [
        ("sensitive (default)", vec![]),
        (
            "non-sensitive but unextractable",
            vec![Attribute::Sensitive(false)],
        ),
        (
            "extractable but sensitive",
            vec![Attribute::Extractable(true)],
        ),
    ] {
        let value = known_value(11);
        let key = import_aes(&session, &value, &extra);
        let (key_rv, final_rv, digest) = digest_with_key(&session, key, prefix);
        assert!(
            key_rv == CKR_KEY_INDIGESTIBLE,
            "{name}: C_DigestKey gave {}",
            rv_name(key_rv)
        );
        assert_ck!(final_rv, CKR_OK);
        assert_eq!(
            digest,
            openssl::sha::sha256(prefix),
            "{name}: the key went into nothing"
        );
        assert_ne!(
            digest,
            openssl::sha::sha256(&[prefix.as_slice(), &value].concat())
        );
    }
    // The control: a key made to leave is digested.
    let value = known_value(12);
    let open = import_aes(
        &session,
        &value,
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    );
    let (key_rv, final_rv, digest) = digest_with_key(&session, open, prefix);
    assert_ck!(key_rv, CKR_OK);
    assert_ck!(final_rv, CKR_OK);
    assert_eq!(
        digest,
        openssl::sha::sha256(&[prefix.as_slice(), &value].concat())
    );
}

// ----- CKA_TRUSTED and CKA_WRAP_WITH_TRUSTED -----

fn so_login(session: &Session) {
    session
        .login(UserType::So, Some(&AuthPin::from(SO_PIN)))
        .expect("C_Login as SO");
}

fn user_login(session: &Session) {
    session
        .login(UserType::User, Some(&AuthPin::from(USER_PIN)))
        .expect("C_Login as user");
}

#[test]
fn a_user_setting_cka_trusted_true_is_attribute_read_only_by_every_path() {
    let token = TestToken::new();
    let session = token.user_session();
    let secret = generate_aes(&session, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    let pair = generate_rsa(&session, 2048, false, b"rsa-trusted");
    let rsa = Rsa::generate(2048).unwrap();
    let extractable = generate_aes(&session, &[Attribute::Extractable(true)]);
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrap, secret, extractable)
        .unwrap();
    let peer = uncompressed_point(&p256_key());
    let ec = generate_ec(&session, P256, false, b"ec-trusted").private;
    let trusted = [Attribute::Trusted(true)];
    let before = object_count(&session);
    let cases: Vec<(&str, cryptoki::error::Result<()>)> = vec![
        (
            "C_CreateObject secret",
            session
                .create_object(&[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::AES),
                    Attribute::Token(false),
                    Attribute::Value(known_value(14)),
                    Attribute::Trusted(true),
                ])
                .map(drop),
        ),
        (
            "C_CreateObject public",
            session
                .create_object(&[
                    Attribute::Class(ObjectClass::PUBLIC_KEY),
                    Attribute::KeyType(KeyType::RSA),
                    Attribute::Token(false),
                    Attribute::Modulus(rsa.n().to_vec()),
                    Attribute::PublicExponent(rsa.e().to_vec()),
                    Attribute::Trusted(true),
                ])
                .map(drop),
        ),
        (
            "C_GenerateKey",
            session
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[Attribute::ValueLen(16.into()), Attribute::Trusted(true)],
                )
                .map(drop),
        ),
        (
            "C_GenerateKeyPair public",
            session
                .generate_key_pair(
                    &Mechanism::RsaPkcsKeyPairGen,
                    &[
                        Attribute::ModulusBits(2048.into()),
                        Attribute::Trusted(true),
                    ],
                    &[],
                )
                .map(drop),
        ),
        (
            "C_SetAttributeValue secret",
            session.update_attributes(secret, &trusted),
        ),
        (
            "C_SetAttributeValue public",
            session.update_attributes(pair.public, &trusted),
        ),
        (
            "C_CopyObject secret",
            session.copy_object(secret, &trusted).map(drop),
        ),
        (
            "C_CopyObject public",
            session.copy_object(pair.public, &trusted).map(drop),
        ),
        (
            "C_UnwrapKey",
            session
                .unwrap_key(
                    &Mechanism::AesKeyWrap,
                    secret,
                    &wrapped,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::Trusted(true),
                    ],
                )
                .map(drop),
        ),
        (
            "C_DeriveKey",
            derive(&session, ec, &peer, &trusted).map(drop),
        ),
    ];
    let wrong: Vec<String> = cases
        .into_iter()
        .filter_map(|(name, result)| match result {
            Err(cryptoki::error::Error::Pkcs11(RvError::AttributeReadOnly, _)) => None,
            other => Some(format!("{name}: {other:?}")),
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "expected CKR_ATTRIBUTE_READ_ONLY from: {wrong:#?}"
    );
    assert_eq!(object_count(&session), before, "no path made an object");
    assert!(!flag(&session, secret, CKA_TRUSTED));
    assert!(!flag(&session, pair.public, CKA_TRUSTED));
    // Anyone may say a key is not trusted; a private key has no CKA_TRUSTED.
    session
        .update_attributes(secret, &[Attribute::Trusted(false)])
        .expect("CKA_TRUSTED=false by the user");
    assert_rv(
        session.update_attributes(pair.private, &trusted),
        RvError::AttributeTypeInvalid,
    );
}

#[test]
fn a_wrap_with_trusted_key_is_wrapped_only_under_a_key_the_security_officer_trusts() {
    let token = TestToken::new();
    let session = token.rw_session();
    // The user makes the keys, token objects so they outlive the logout: a
    // victim that may leave only under a trusted key, and two public
    // (CKA_PRIVATE=false) keys for the SO to trust.
    user_login(&session);
    let value = known_value(15);
    let victim_handle = import_aes(
        &session,
        &value,
        &[
            Attribute::Token(true),
            Attribute::Extractable(true),
            Attribute::WrapWithTrusted(true),
        ],
    );
    let kek_value = known_value(16);
    let kek = import_aes(
        &session,
        &kek_value,
        &[
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Wrap(true),
        ],
    );
    let pair = generate_rsa(&session, 2048, true, b"rsa-kek");
    let untrusted = import_aes(
        &session,
        &known_value(17),
        &[Attribute::Token(true), Attribute::Wrap(true)],
    );
    let victim = Victim {
        name: "a CKA_WRAP_WITH_TRUSTED key",
        handle: victim_handle,
        secret: Some(value.clone()),
        sensitive: SECRET_VALUE,
    };
    for wrapping in [kek, untrusted] {
        assert_wrap_refused(
            &session,
            CKM_AES_KEY_WRAP,
            wrapping,
            &victim,
            CKR_KEY_NOT_WRAPPABLE,
        );
    }
    assert_wrap_refused(
        &session,
        CKM_RSA_PKCS_OAEP,
        pair.public,
        &victim,
        CKR_KEY_NOT_WRAPPABLE,
    );
    session.logout().unwrap();

    so_login(&session);
    session
        .update_attributes(kek, &[Attribute::Trusted(true)])
        .expect("the SO trusts a secret key");
    session
        .update_attributes(pair.public, &[Attribute::Trusted(true)])
        .expect("the SO trusts a public key");
    session.logout().unwrap();

    user_login(&session);
    assert!(flag(&session, kek, CKA_TRUSTED));
    let wrapped = session
        .wrap_key(&Mechanism::AesKeyWrap, kek, victim_handle)
        .expect("C_WrapKey under a trusted key");
    let mut unwrapped = vec![0u8; value.len() + 8];
    let unwrapping = openssl::aes::AesKey::new_decrypt(&kek_value).unwrap();
    let n = openssl::aes::unwrap_key(&unwrapping, None, &mut unwrapped, &wrapped).unwrap();
    assert_eq!(&unwrapped[..n], value.as_slice());
    let wrapped = session
        .wrap_key(&oaep(), pair.public, victim_handle)
        .expect("C_WrapKey under a trusted public key");
    assert_eq!(
        session.decrypt(&oaep(), pair.private, &wrapped).unwrap(),
        value
    );
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP,
        untrusted,
        &victim,
        CKR_KEY_NOT_WRAPPABLE,
    );
}

#[test]
fn the_security_officer_may_create_a_trusted_public_secret_key() {
    let token = TestToken::new();
    let session = token.rw_session();
    so_login(&session);
    let kek = session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Value(known_value(18)),
            Attribute::Wrap(true),
            Attribute::Trusted(true),
        ])
        .expect("C_CreateObject CKA_TRUSTED=true by the SO");
    assert!(flag(&session, kek, CKA_TRUSTED));
    session.logout().unwrap();
    user_login(&session);
    assert!(
        flag(&session, kek, CKA_TRUSTED),
        "the user sees the SO's trust"
    );
}

#[test]
fn wrap_with_trusted_only_moves_from_false_to_true() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = generate_aes(&session, &[Attribute::Extractable(true)]);
    assert!(!flag(&session, key, CKA_WRAP_WITH_TRUSTED));
    session
        .update_attributes(key, &[Attribute::WrapWithTrusted(true)])
        .expect("CKA_WRAP_WITH_TRUSTED false to true");
    assert_rv(
        session.update_attributes(key, &[Attribute::WrapWithTrusted(false)]),
        RvError::AttributeReadOnly,
    );
    assert_rv(
        session.copy_object(key, &[Attribute::WrapWithTrusted(false)]),
        RvError::AttributeReadOnly,
    );
    assert!(flag(&session, key, CKA_WRAP_WITH_TRUSTED));
    let kek = generate_aes(&session, &[Attribute::Wrap(true)]);
    let victim = Victim {
        name: "a key made CKA_WRAP_WITH_TRUSTED",
        handle: key,
        secret: None,
        sensitive: SECRET_VALUE,
    };
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP,
        kek,
        &victim,
        CKR_KEY_NOT_WRAPPABLE,
    );
}

// ----- the blob-signing keys -----

fn certificate(label: &str) -> Vec<Attribute> {
    certificate_template(label, b"12345678")
}

#[test]
fn a_configured_signing_key_signs_no_blob_while_its_cka_sign_is_false() {
    let token = TestToken::with_options(
        TokenOptions::default().with("CERTSTORAGE_SIGNING_KEYID", SIGNING_KEY_ID),
    );
    let session = token.user_session();
    let (_, private) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::Id(SIGNING_KEY_ID.as_bytes().to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Id(SIGNING_KEY_ID.as_bytes().to_vec()),
                Attribute::Sign(false),
            ],
        )
        .unwrap();
    let before = token.blob_names();
    assert_rv(
        session.create_object(&certificate("unsigned")).map(drop),
        RvError::KeyFunctionNotPermitted,
    );
    assert_eq!(token.blob_names(), before, "no blob was written");
    session
        .update_attributes(private, &[Attribute::Sign(true)])
        .unwrap();
    session
        .create_object(&certificate("signed"))
        .expect("C_CreateObject once CKA_SIGN is true");
    assert_eq!(token.blob_names().len(), before.len() + 1);
}

#[test]
fn a_configured_signing_key_with_a_default_template_cannot_be_wrapped_out() {
    let token = TestToken::with_options(
        TokenOptions::default().with("CERTSTORAGE_SIGNING_KEYID", SIGNING_KEY_ID),
    );
    let session = token.user_session();
    let (_, private) = session
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::ModulusBits(2048.into()),
                Attribute::Id(SIGNING_KEY_ID.as_bytes().to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Id(SIGNING_KEY_ID.as_bytes().to_vec()),
            ],
        )
        .unwrap();
    session
        .create_object(&certificate("signed"))
        .expect("the configured key signs");
    let kek = import_secret(&session, KeyType::AES, &known_value(19));
    let victim = Victim {
        name: "the configured blob-signing key",
        handle: private,
        secret: None,
        sensitive: RSA_PRIVATE,
    };
    assert_wrap_refused(
        &session,
        CKM_AES_KEY_WRAP_PAD,
        kek,
        &victim,
        CKR_KEY_UNEXTRACTABLE,
    );
    for kind in RSA_PRIVATE {
        assert_ck!(raw_get(&session, private, *kind).0, CKR_ATTRIBUTE_SENSITIVE);
    }
}

#[test]
fn the_embedded_signing_key_is_no_object_a_session_can_reach() {
    let token = TestToken::new();
    let session = token.user_session();
    // The first certificate makes the device's own signing key.
    let certificate = session
        .create_object(&certificate("embedded"))
        .expect("C_CreateObject signed by the embedded key");
    let kek = import_secret(&session, KeyType::AES, &known_value(20));
    let visible = find(&session, &[]);
    assert_eq!(
        visible.len(),
        2,
        "only the certificate and the KEK: {visible:?}"
    );
    assert!(find(&session, &[Attribute::Class(ObjectClass::PRIVATE_KEY)]).is_empty());
    // No handle near the token's or the session objects' leads to it.
    let known = [certificate.handle(), kek.handle()];
    let candidates = (0..=256u64).chain(0x8000_0000..=0x8000_0100);
    for handle in candidates.filter(|h| !known.contains(h)) {
        let mut wrap = WrapMechanism::new(CKM_AES_KEY_WRAP_PAD);
        let mut raw = wrap.raw();
        let mut buffer = vec![SENTINEL; BUFFER_LEN];
        let mut len = buffer.len() as CK_ULONG;
        let rv = ck!(C_WrapKey(
            session.handle(),
            &mut raw,
            kek.handle(),
            handle,
            buffer.as_mut_ptr(),
            &mut len
        ));
        assert!(
            rv == CKR_KEY_HANDLE_INVALID,
            "handle {handle}: {}",
            rv_name(rv)
        );
        assert_untouched(&buffer, None, "a handle that is no object");
    }
}

// ----- CKA_DESTROYABLE -----

#[test]
fn destroyable_never_goes_from_false_back_to_true() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = generate_aes(&session, &[Attribute::Destroyable(false)]);
    let certificate = session
        .create_object(
            &[
                certificate("undestroyable"),
                vec![Attribute::Destroyable(false)],
            ]
            .concat(),
        )
        .expect("C_CreateObject CKA_DESTROYABLE=false");
    for (name, object) in [("key", key), ("certificate", certificate)] {
        assert_rv(
            session.update_attributes(object, &[Attribute::Destroyable(true)]),
            RvError::AttributeReadOnly,
        );
        assert!(!flag(&session, object, CKA_DESTROYABLE), "{name}");
        assert_rv(session.destroy_object(object), RvError::ActionProhibited);
    }
    let destroyable = generate_aes(&session, &[]);
    session
        .update_attributes(destroyable, &[Attribute::Destroyable(false)])
        .expect("CKA_DESTROYABLE true to false");
    assert_rv(
        session.destroy_object(destroyable),
        RvError::ActionProhibited,
    );
}
