//! ML-DSA (FIPS 204) and ML-KEM (FIPS 203) through the C ABI and the
//! PKCS#11 3.2 interface: key pairs of every parameter set, signatures and
//! encapsulations cross-checked against RustCrypto's `ml-dsa` and `ml-kem`
//! (a second implementation, not the OpenSSL the token runs on), wrong
//! contexts and flipped bytes, implicit rejection, the buffer rules of
//! `C_EncapsulateKey`, usage flags and key custody.
#![allow(deprecated)] // RustCrypto's expanded-key API

#[macro_use]
mod common;

use common::*;
use cryptoki::session::Session;
use cryptoki_sys::*;
use ml_dsa::{
    EncodedVerifyingKey, ExpandedSigningKey, MlDsa44, MlDsa65, MlDsa87, MlDsaParams, Seed,
    Signature, VerifyingKey,
};
use ml_kem::{Decapsulate, KeyExport};
use std::ptr::null_mut;

const MESSAGE: &[u8] = b"firmware image 1.2.3";
const CONTEXT: &[u8] = b"code-signing";
const ML_DSA_SETS: [CK_ULONG; 3] = [CKP_ML_DSA_44, CKP_ML_DSA_65, CKP_ML_DSA_87];
const ML_KEM_SETS: [CK_ULONG; 3] = [CKP_ML_KEM_512, CKP_ML_KEM_768, CKP_ML_KEM_1024];

/// The library's 3.2 function list, from `C_GetInterface("PKCS 11", 3.2)`.
fn list_3_2() -> &'static CK_FUNCTION_LIST_3_2 {
    let mut name = *b"PKCS 11\0";
    let mut version = CK_VERSION { major: 3, minor: 2 };
    let mut interface: *mut CK_INTERFACE = null_mut();
    // SAFETY: valid pointers; the name is NUL-terminated.
    let rv =
        unsafe { raw_exports().C_GetInterface(name.as_mut_ptr(), &mut version, &mut interface, 0) };
    assert_eq!(rv, CKR_OK, "C_GetInterface 3.2");
    // SAFETY: the library's static interface and its static 3.2 list.
    unsafe { &*((*interface).pFunctionList as *const CK_FUNCTION_LIST_3_2) }
}

fn sign_context(hedge: CK_ULONG, context: &[u8]) -> CK_SIGN_ADDITIONAL_CONTEXT {
    CK_SIGN_ADDITIONAL_CONTEXT {
        hedgeVariant: hedge,
        pContext: context.as_ptr() as *mut u8,
        ulContextLen: context.len() as CK_ULONG,
    }
}

fn create(session: &Session, mut template: Template) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut raw = template.raw();
    let mut handle = CK_INVALID_HANDLE;
    match ck!(C_CreateObject(
        session.handle(),
        raw.as_mut_ptr(),
        raw.len() as CK_ULONG,
        &mut handle
    )) {
        CKR_OK => Ok(handle),
        rv => Err(rv),
    }
}

/// `C_GenerateKeyPair` with session-object templates: the handles, or the error.
fn try_generate_pair(
    session: &Session,
    mechanism: CK_MECHANISM_TYPE,
    public: Template,
    private: Template,
) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE), CK_RV> {
    let (mut public, mut private) = (
        public.bool(CKA_TOKEN, false),
        private.bool(CKA_TOKEN, false),
    );
    let (mut public_raw, mut private_raw) = (public.raw(), private.raw());
    let mut mechanism = raw_mechanism(mechanism);
    let (mut public_key, mut private_key) = (CK_INVALID_HANDLE, CK_INVALID_HANDLE);
    match ck!(C_GenerateKeyPair(
        session.handle(),
        &mut mechanism,
        public_raw.as_mut_ptr(),
        public_raw.len() as CK_ULONG,
        private_raw.as_mut_ptr(),
        private_raw.len() as CK_ULONG,
        &mut public_key,
        &mut private_key
    )) {
        CKR_OK => Ok((public_key, private_key)),
        rv => Err(rv),
    }
}

fn generate_pair(
    session: &Session,
    mechanism: CK_MECHANISM_TYPE,
    public: Template,
    private: Template,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    try_generate_pair(session, mechanism, public, private)
        .unwrap_or_else(|rv| panic!("C_GenerateKeyPair: {}", rv_name(rv)))
}

fn value(session: &Session, object: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    raw_attribute_value(session, object, kind, 8192)
        .unwrap_or_else(|rv| panic!("C_GetAttributeValue {kind:#x}: {}", rv_name(rv)))
}

/// The KEM's template: an extractable, readable generic secret.
fn readable_secret() -> Template {
    Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
}

/// `C_EncapsulateKey` with a buffer of `capacity` bytes (`None`: NULL).
fn encapsulate(
    session: &Session,
    public: CK_OBJECT_HANDLE,
    mut template: Template,
    capacity: Option<usize>,
) -> (CK_RV, Vec<u8>, CK_ULONG, CK_OBJECT_HANDLE) {
    let mut raw = template.raw();
    let mut mechanism = raw_mechanism(CKM_ML_KEM);
    let mut buffer = vec![0u8; capacity.unwrap_or(0)];
    let mut len = buffer.len() as CK_ULONG;
    let mut key = CK_INVALID_HANDLE;
    let pointer = if capacity.is_some() {
        buffer.as_mut_ptr()
    } else {
        null_mut()
    };
    let f = list_3_2().C_EncapsulateKey.expect("C_EncapsulateKey");
    // SAFETY: valid pointers; the buffer holds `len` bytes.
    let rv = unsafe {
        f(
            session.handle(),
            &mut mechanism,
            public,
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            pointer,
            &mut len,
            &mut key,
        )
    };
    buffer.truncate((len as usize).min(buffer.len()));
    (rv, buffer, len, key)
}

fn decapsulate(
    session: &Session,
    mechanism: CK_MECHANISM_TYPE,
    private: CK_OBJECT_HANDLE,
    mut template: Template,
    ciphertext: &[u8],
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut raw = template.raw();
    let mut mechanism = raw_mechanism(mechanism);
    let mut ciphertext = ciphertext.to_vec();
    let mut key = CK_INVALID_HANDLE;
    let f = list_3_2().C_DecapsulateKey.expect("C_DecapsulateKey");
    // SAFETY: valid pointers and lengths.
    let rv = unsafe {
        f(
            session.handle(),
            &mut mechanism,
            private,
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            ciphertext.as_mut_ptr(),
            ciphertext.len() as CK_ULONG,
            &mut key,
        )
    };
    match rv {
        CKR_OK => Ok(key),
        rv => Err(rv),
    }
}

fn secret_count(session: &Session) -> usize {
    let mut template = Template::default().ulong(CKA_CLASS, CKO_SECRET_KEY);
    let mut raw = template.raw();
    assert_ck!(
        ck!(C_FindObjectsInit(session.handle(), raw.as_mut_ptr(), 1)),
        CKR_OK
    );
    let mut found = vec![0; 256];
    let mut count = 0;
    assert_ck!(
        ck!(C_FindObjects(
            session.handle(),
            found.as_mut_ptr(),
            256,
            &mut count
        )),
        CKR_OK
    );
    assert_ck!(ck!(C_FindObjectsFinal(session.handle())), CKR_OK);
    count as usize
}

// ----- the 3.2 interface -----

#[test]
fn the_3_2_interface_reports_3_2_and_refuses_the_functions_it_does_not_offer() {
    let token = TestToken::new();
    let _session = token.user_session();
    let list = list_3_2();
    assert_eq!((list.version.major, list.version.minor), (3, 2));
    let mut info: CK_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { (list.C_GetInfo.unwrap())(&mut info) }, CKR_OK);
    assert_eq!(
        (info.cryptokiVersion.major, info.cryptokiVersion.minor),
        (3, 2)
    );
    assert!(list.C_EncapsulateKey.is_some() && list.C_DecapsulateKey.is_some());
    let mut byte = 0u8;
    let mut ulong: CK_ULONG = 0;
    let mut mechanism = raw_mechanism(CKM_ML_DSA);
    // SAFETY: every function is set and checks the library state first.
    let answers = unsafe {
        [
            (list.C_VerifySignatureInit.unwrap())(1, &mut mechanism, 1, &mut byte, 1),
            (list.C_VerifySignature.unwrap())(1, &mut byte, 1),
            (list.C_VerifySignatureUpdate.unwrap())(1, &mut byte, 1),
            (list.C_VerifySignatureFinal.unwrap())(1),
            (list.C_GetSessionValidationFlags.unwrap())(1, 0, &mut ulong),
            (list.C_AsyncComplete.unwrap())(1, &mut byte, null_mut()),
            (list.C_AsyncGetID.unwrap())(1, &mut byte, &mut ulong),
            (list.C_AsyncJoin.unwrap())(1, &mut byte, 0, &mut byte, 1),
            (list.C_WrapKeyAuthenticated.unwrap())(
                1,
                &mut mechanism,
                1,
                2,
                &mut byte,
                1,
                &mut byte,
                &mut ulong,
            ),
            (list.C_UnwrapKeyAuthenticated.unwrap())(
                1,
                &mut mechanism,
                1,
                &mut byte,
                1,
                null_mut(),
                0,
                &mut byte,
                1,
                &mut ulong,
            ),
        ]
    };
    for (index, rv) in answers.into_iter().enumerate() {
        assert_eq!(rv, CKR_FUNCTION_NOT_SUPPORTED, "function {index}");
    }
}

#[test]
fn the_mechanisms_are_listed_with_public_key_sizes_in_bytes() {
    let token = TestToken::new();
    let _session = token.user_session();
    for (kind, sizes, flags) in [
        (CKM_ML_DSA_KEY_PAIR_GEN, (1312, 2592), CKF_GENERATE_KEY_PAIR),
        (CKM_ML_DSA, (1312, 2592), CKF_SIGN | CKF_VERIFY),
        (CKM_ML_KEM_KEY_PAIR_GEN, (800, 1568), CKF_GENERATE_KEY_PAIR),
        (CKM_ML_KEM, (800, 1568), CKF_ENCAPSULATE | CKF_DECAPSULATE),
    ] {
        let mut info: CK_MECHANISM_INFO = unsafe { std::mem::zeroed() };
        assert_ck!(ck!(C_GetMechanismInfo(SLOT_ID, kind, &mut info)), CKR_OK);
        assert_eq!((info.ulMinKeySize, info.ulMaxKeySize), sizes, "{kind:#x}");
        assert_eq!(info.flags, flags, "{kind:#x}");
    }
}

// ----- ML-DSA -----

fn rustcrypto_verifies<P: MlDsaParams>(public: &[u8], context: &[u8], signature: &[u8]) -> bool {
    let key = VerifyingKey::<P>::decode(&EncodedVerifyingKey::<P>::try_from(public).unwrap());
    match Signature::<P>::try_from(signature) {
        Ok(signature) => key.verify_with_context(MESSAGE, context, &signature),
        Err(_) => false,
    }
}

fn rustcrypto_verify(set: CK_ULONG, public: &[u8], context: &[u8], signature: &[u8]) -> bool {
    match set {
        CKP_ML_DSA_44 => rustcrypto_verifies::<MlDsa44>(public, context, signature),
        CKP_ML_DSA_65 => rustcrypto_verifies::<MlDsa65>(public, context, signature),
        _ => rustcrypto_verifies::<MlDsa87>(public, context, signature),
    }
}

/// RustCrypto's expanded sk, pk and deterministic signature for `seed`.
fn rustcrypto_sign<P: MlDsaParams>(seed: &[u8; 32], context: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let key = ExpandedSigningKey::<P>::from_seed(&Seed::try_from(&seed[..]).unwrap());
    let signature = key.sign_deterministic(MESSAGE, context).unwrap();
    (
        key.to_expanded().to_vec(),
        key.verifying_key().encode().to_vec(),
        signature.encode().to_vec(),
    )
}

#[test]
fn ml_dsa_key_pairs_of_every_set_sign_verifiably_for_rustcrypto() {
    let token = TestToken::new();
    let session = token.user_session();
    for (set, (public_len, signature_len)) in
        ML_DSA_SETS
            .into_iter()
            .zip([(1312, 2420), (1952, 3309), (2592, 4627)])
    {
        let (public, private) = generate_pair(
            &session,
            CKM_ML_DSA_KEY_PAIR_GEN,
            Template::default()
                .ulong(CKA_PARAMETER_SET, set)
                .bool(CKA_VERIFY, true),
            Template::default().bool(CKA_SIGN, true),
        );
        let pk = value(&session, public, CKA_VALUE);
        assert_eq!(pk.len(), public_len);
        assert_eq!(raw_ulong(&session, private, CKA_PARAMETER_SET), set);
        assert_eq!(raw_ulong(&session, private, CKA_KEY_TYPE), CKK_ML_DSA);
        for hedge in [
            CKH_HEDGE_PREFERRED,
            CKH_HEDGE_REQUIRED,
            CKH_DETERMINISTIC_REQUIRED,
        ] {
            let mut parameter = sign_context(hedge, CONTEXT);
            let mut mechanism = raw_mechanism_with(CKM_ML_DSA, &mut parameter);
            let signature = raw_sign(session.handle(), &mut mechanism, private, MESSAGE)
                .unwrap_or_else(|rv| panic!("C_Sign: {}", rv_name(rv)));
            assert_eq!(signature.len(), signature_len);
            assert!(
                rustcrypto_verify(set, &pk, CONTEXT, &signature),
                "{set} {hedge}"
            );
            assert!(!rustcrypto_verify(set, &pk, b"other", &signature));
            assert_eq!(
                raw_verify(
                    session.handle(),
                    &mut mechanism,
                    public,
                    MESSAGE,
                    &signature
                ),
                CKR_OK
            );
            let mut wrong = sign_context(hedge, b"other");
            let mut wrong = raw_mechanism_with(CKM_ML_DSA, &mut wrong);
            assert_eq!(
                raw_verify(session.handle(), &mut wrong, public, MESSAGE, &signature),
                CKR_SIGNATURE_INVALID
            );
            let mut flipped = signature.clone();
            flipped[signature_len / 2] ^= 0x01;
            assert_eq!(
                raw_verify(session.handle(), &mut mechanism, public, MESSAGE, &flipped),
                CKR_SIGNATURE_INVALID
            );
        }
        // No parameter: hedged, empty context.
        let mut plain = raw_mechanism(CKM_ML_DSA);
        let signature = raw_sign(session.handle(), &mut plain, private, MESSAGE).unwrap();
        assert!(rustcrypto_verify(set, &pk, b"", &signature));
    }
}

#[test]
fn an_ml_dsa_key_imported_from_its_seed_signs_as_rustcrypto_does() {
    let token = TestToken::new();
    let session = token.user_session();
    for (index, set) in ML_DSA_SETS.into_iter().enumerate() {
        let seed = [0x40 + index as u8; 32];
        let (sk, pk, expected) = match set {
            CKP_ML_DSA_44 => rustcrypto_sign::<MlDsa44>(&seed, CONTEXT),
            CKP_ML_DSA_65 => rustcrypto_sign::<MlDsa65>(&seed, CONTEXT),
            _ => rustcrypto_sign::<MlDsa87>(&seed, CONTEXT),
        };
        let private = create(
            &session,
            Template::default()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true)
                .ulong(CKA_PARAMETER_SET, set)
                .bytes(CKA_SEED, &seed),
        )
        .expect("C_CreateObject from the seed");
        assert_eq!(value(&session, private, CKA_VALUE), sk, "expanded sk");
        assert_eq!(value(&session, private, CKA_SEED), seed);
        let public = create(
            &session,
            Template::default()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .bool(CKA_TOKEN, false)
                .bool(CKA_VERIFY, true)
                .ulong(CKA_PARAMETER_SET, set)
                .bytes(CKA_VALUE, &pk),
        )
        .expect("C_CreateObject public key");
        let mut parameter = sign_context(CKH_DETERMINISTIC_REQUIRED, CONTEXT);
        let mut mechanism = raw_mechanism_with(CKM_ML_DSA, &mut parameter);
        let signature = raw_sign(session.handle(), &mut mechanism, private, MESSAGE).unwrap();
        assert_eq!(
            signature, expected,
            "deterministic ML-DSA equals RustCrypto's"
        );
        assert_eq!(
            raw_verify(session.handle(), &mut mechanism, public, MESSAGE, &expected),
            CKR_OK
        );
        // The expanded key alone imports as the same key.
        let expanded = create(
            &session,
            Template::default()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                .bool(CKA_TOKEN, false)
                .bool(CKA_SIGN, true)
                .ulong(CKA_PARAMETER_SET, set)
                .bytes(CKA_VALUE, &sk),
        )
        .expect("C_CreateObject from the expanded key");
        assert_eq!(
            raw_sign(session.handle(), &mut mechanism, expanded, MESSAGE).unwrap(),
            expected
        );
        // A seed and a value of two different keys are refused.
        let mut other = sk.clone();
        other[40] ^= 1;
        assert_eq!(
            create(
                &session,
                Template::default()
                    .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                    .ulong(CKA_KEY_TYPE, CKK_ML_DSA)
                    .bool(CKA_TOKEN, false)
                    .ulong(CKA_PARAMETER_SET, set)
                    .bytes(CKA_SEED, &seed)
                    .bytes(CKA_VALUE, &other),
            ),
            Err(CKR_TEMPLATE_INCONSISTENT)
        );
    }
}

#[test]
fn generated_post_quantum_private_keys_keep_their_secrets() {
    let token = TestToken::new();
    let session = token.user_session();
    for (mechanism, set) in [
        (CKM_ML_DSA_KEY_PAIR_GEN, CKP_ML_DSA_65),
        (CKM_ML_KEM_KEY_PAIR_GEN, CKP_ML_KEM_768),
    ] {
        let (_, private) = generate_pair(
            &session,
            mechanism,
            Template::default().ulong(CKA_PARAMETER_SET, set),
            Template::default(),
        );
        for kind in [CKA_VALUE, CKA_SEED] {
            assert_eq!(
                raw_attribute_value(&session, private, kind, 8192),
                Err(CKR_ATTRIBUTE_SENSITIVE),
                "{kind:#x}"
            );
        }
        assert_eq!(raw_ulong(&session, private, CKA_PARAMETER_SET), set);
        assert!(raw_bool(&session, private, CKA_ALWAYS_SENSITIVE));
        assert!(raw_bool(&session, private, CKA_NEVER_EXTRACTABLE));
        assert!(raw_bool(&session, private, CKA_LOCAL));
        assert_eq!(
            raw_ulong(&session, private, CKA_KEY_GEN_MECHANISM),
            mechanism
        );
    }
    // The parameter set is the public template's: the private template may
    // not give it (as with any attribute the mechanism contributes).
    assert_eq!(
        try_generate_pair(
            &session,
            CKM_ML_DSA_KEY_PAIR_GEN,
            Template::default().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44),
            Template::default().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44),
        ),
        Err(CKR_ATTRIBUTE_READ_ONLY)
    );
}

// ----- ML-KEM -----

macro_rules! rustcrypto_kem {
    ($module:ident, $seed:expr, $m:expr) => {{
        use ml_kem::$module::{Ciphertext, DecapsulationKey};
        let seed = ml_kem::Seed::try_from(&$seed[..]).unwrap();
        let dk = DecapsulationKey::from_seed(seed);
        let ek = dk.encapsulation_key().clone();
        let (c, k) = ek.encapsulate_deterministic(&ml_kem::B32::try_from(&$m[..]).unwrap());
        let decapsulate =
            move |c: &[u8]| dk.decapsulate(&Ciphertext::try_from(c).unwrap()).to_vec();
        (
            ek.to_bytes().to_vec(),
            c.to_vec(),
            k.to_vec(),
            Box::new(decapsulate) as Box<dyn Fn(&[u8]) -> Vec<u8>>,
        )
    }};
}

#[test]
fn ml_kem_of_every_set_agrees_with_rustcrypto_both_ways() {
    let token = TestToken::new();
    let session = token.user_session();
    for (index, set) in ML_KEM_SETS.into_iter().enumerate() {
        let seed = [0x20 + index as u8; 64];
        let m = [0x33; 32];
        let (ek, their_ciphertext, their_secret, their_decapsulate) = match set {
            CKP_ML_KEM_512 => rustcrypto_kem!(ml_kem_512, seed, m),
            CKP_ML_KEM_768 => rustcrypto_kem!(ml_kem_768, seed, m),
            _ => rustcrypto_kem!(ml_kem_1024, seed, m),
        };
        let private = create(
            &session,
            Template::default()
                .ulong(CKA_CLASS, CKO_PRIVATE_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .bool(CKA_TOKEN, false)
                .bool(CKA_DECAPSULATE, true)
                .ulong(CKA_PARAMETER_SET, set)
                .bytes(CKA_SEED, &seed),
        )
        .expect("C_CreateObject ML-KEM private key");
        let public = create(
            &session,
            Template::default()
                .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
                .ulong(CKA_KEY_TYPE, CKK_ML_KEM)
                .bool(CKA_TOKEN, false)
                .bool(CKA_ENCAPSULATE, true)
                .ulong(CKA_PARAMETER_SET, set)
                .bytes(CKA_VALUE, &ek),
        )
        .expect("C_CreateObject ML-KEM public key");
        // The token encapsulates; RustCrypto decapsulates the same secret.
        let (rv, ciphertext, _, key) = encapsulate(&session, public, readable_secret(), Some(2048));
        assert_eq!(rv, CKR_OK, "{}", rv_name(rv));
        assert_eq!(ciphertext.len(), their_ciphertext.len());
        let secret = raw_secret_value(&session, key).unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(their_decapsulate(&ciphertext), secret, "set {set}");
        // RustCrypto encapsulates; the token decapsulates the same secret.
        let key = decapsulate(
            &session,
            CKM_ML_KEM,
            private,
            readable_secret(),
            &their_ciphertext,
        )
        .expect("C_DecapsulateKey");
        assert_eq!(raw_secret_value(&session, key).unwrap(), their_secret);
        // A flipped ciphertext gives the implicit-rejection secret, the
        // same one RustCrypto computes, and not the real one.
        let mut flipped = their_ciphertext.clone();
        flipped[7] ^= 0x80;
        let key = decapsulate(&session, CKM_ML_KEM, private, readable_secret(), &flipped).unwrap();
        let rejected = raw_secret_value(&session, key).unwrap();
        assert_ne!(rejected, their_secret);
        assert_eq!(rejected, their_decapsulate(&flipped));
        // A ciphertext of the wrong length is refused.
        assert_eq!(
            decapsulate(
                &session,
                CKM_ML_KEM,
                private,
                readable_secret(),
                &their_ciphertext[1..]
            ),
            Err(CKR_ENCRYPTED_DATA_LEN_RANGE)
        );
    }
}

#[test]
fn encapsulation_follows_the_buffer_rules_and_makes_no_key_until_the_ciphertext_fits() {
    let token = TestToken::new();
    let session = token.user_session();
    let (public, private) = generate_pair(
        &session,
        CKM_ML_KEM_KEY_PAIR_GEN,
        Template::default().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_768),
        Template::default(),
    );
    let before = secret_count(&session);
    let (rv, _, len, key) = encapsulate(&session, public, readable_secret(), None);
    assert_eq!((rv, len, key), (CKR_OK, 1088, CK_INVALID_HANDLE));
    let (rv, _, len, key) = encapsulate(&session, public, readable_secret(), Some(1087));
    assert_eq!(
        (rv, len, key),
        (CKR_BUFFER_TOO_SMALL, 1088, CK_INVALID_HANDLE)
    );
    assert_eq!(
        secret_count(&session),
        before,
        "no key before the ciphertext fits"
    );
    // An AES key of 16 bytes takes the secret's leading bytes, on both sides.
    let aes = Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .ulong(CKA_VALUE_LEN, 16)
        .bool(CKA_TOKEN, false)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true);
    let (rv, ciphertext, len, key) = encapsulate(&session, public, aes.clone(), Some(1088));
    assert_eq!((rv, len), (CKR_OK, 1088));
    let mine = raw_secret_value(&session, key).unwrap();
    assert_eq!(mine.len(), 16);
    let theirs = decapsulate(&session, CKM_ML_KEM, private, aes, &ciphertext).unwrap();
    assert_eq!(raw_secret_value(&session, theirs).unwrap(), mine);
    assert_eq!(secret_count(&session), before + 2);
    // A sensitive encapsulated key claims it was always sensitive, and a
    // decapsulated one inherits it from a generated private key.
    let sensitive = Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_TOKEN, false);
    let (rv, ciphertext, _, key) = encapsulate(&session, public, sensitive.clone(), Some(1088));
    assert_eq!(rv, CKR_OK);
    assert_eq!(
        raw_secret_value(&session, key),
        Err(CKR_ATTRIBUTE_SENSITIVE)
    );
    assert!(raw_bool(&session, key, CKA_ALWAYS_SENSITIVE));
    let key = decapsulate(&session, CKM_ML_KEM, private, sensitive, &ciphertext).unwrap();
    assert!(raw_bool(&session, key, CKA_ALWAYS_SENSITIVE));
    assert!(raw_bool(&session, key, CKA_NEVER_EXTRACTABLE));
}

#[test]
fn kem_keys_need_their_usage_flags_the_right_mechanism_and_type() {
    let token = TestToken::new();
    let session = token.user_session();
    let (public, private) = generate_pair(
        &session,
        CKM_ML_KEM_KEY_PAIR_GEN,
        Template::default()
            .ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512)
            .bool(CKA_ENCAPSULATE, false),
        Template::default().bool(CKA_DECAPSULATE, false),
    );
    let (rv, _, _, _) = encapsulate(&session, public, readable_secret(), Some(768));
    assert_eq!(rv, CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_eq!(
        decapsulate(&session, CKM_ML_KEM, private, readable_secret(), &[0; 768]),
        Err(CKR_KEY_FUNCTION_NOT_PERMITTED)
    );
    let (dsa_public, dsa_private) = generate_pair(
        &session,
        CKM_ML_DSA_KEY_PAIR_GEN,
        Template::default().ulong(CKA_PARAMETER_SET, CKP_ML_DSA_44),
        Template::default(),
    );
    assert_eq!(
        decapsulate(
            &session,
            CKM_ML_DSA,
            dsa_private,
            readable_secret(),
            &[0; 768]
        ),
        Err(CKR_MECHANISM_INVALID)
    );
    // An ML-DSA key has no CKA_ENCAPSULATE to be true.
    let (rv, _, _, _) = encapsulate(&session, dsa_public, readable_secret(), Some(4096));
    assert_eq!(rv, CKR_KEY_FUNCTION_NOT_PERMITTED);
    // Only secret keys come out of a KEM.
    let (usable, _) = generate_pair(
        &session,
        CKM_ML_KEM_KEY_PAIR_GEN,
        Template::default().ulong(CKA_PARAMETER_SET, CKP_ML_KEM_512),
        Template::default(),
    );
    let not_secret = Template::default()
        .ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    let (rv, _, _, _) = encapsulate(&session, usable, not_secret, Some(768));
    assert_eq!(rv, CKR_TEMPLATE_INCONSISTENT);
}

// ----- an ML-DSA certificate -----

/// A DER element: `tag`, the definite length, `content`.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        len @ 0..=0x7f => out.push(len as u8),
        len @ 0x80..=0xff => out.extend([0x81, len as u8]),
        len => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// A self-signed X.509 v3 certificate of an ML-DSA-65 key pair made on the
/// token, its signature made by `C_Sign` with `CKM_ML_DSA`, stored as a
/// certificate object and read back; OpenSSL verifies it with the key.
#[test]
fn a_self_signed_ml_dsa_certificate_made_through_the_token_is_stored_and_read_back() {
    let token = TestToken::new();
    let session = token.user_session();
    let (public, private) = generate_pair(
        &session,
        CKM_ML_DSA_KEY_PAIR_GEN,
        Template::default()
            .ulong(CKA_PARAMETER_SET, CKP_ML_DSA_65)
            .bool(CKA_VERIFY, true),
        Template::default().bool(CKA_SIGN, true),
    );
    let spki = value(&session, public, CKA_PUBLIC_KEY_INFO);
    // id-ml-dsa-65, 2.16.840.1.101.3.4.3.18 (FIPS 204, RFC 9881), no parameters.
    let algorithm = der(
        0x30,
        &der(
            0x06,
            &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, 0x12],
        ),
    );
    let common_name = der(
        0x30,
        &[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, b"ML-DSA-65 test")].concat(),
    );
    let name = der(0x30, &der(0x31, &common_name));
    let validity = der(
        0x30,
        &[der(0x17, b"260101000000Z"), der(0x17, b"360101000000Z")].concat(),
    );
    let serial = der(0x02, &[0x01]);
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[0x02])),
            serial.clone(),
            algorithm.clone(),
            name.clone(),
            validity,
            name.clone(),
            spki.clone(),
        ]
        .concat(),
    );
    let mut mechanism = raw_mechanism(CKM_ML_DSA);
    let signature = raw_sign(session.handle(), &mut mechanism, private, &tbs).unwrap();
    let certificate = der(
        0x30,
        &[
            tbs,
            algorithm,
            der(0x03, &[&[0u8][..], &signature].concat()),
        ]
        .concat(),
    );
    let parsed = openssl::x509::X509::from_der(&certificate).expect("OpenSSL parses it");
    let key = openssl::pkey::PKey::public_key_from_der(&spki).unwrap();
    assert!(
        parsed.verify(&key).unwrap(),
        "OpenSSL verifies the token's signature"
    );

    let handle = create(
        &session,
        Template::default()
            .ulong(CKA_CLASS, CKO_CERTIFICATE)
            .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
            .bool(CKA_TOKEN, true)
            .bytes(CKA_LABEL, b"ml-dsa certificate")
            .bytes(CKA_SUBJECT, &name)
            .bytes(CKA_VALUE, &certificate),
    )
    .expect("C_CreateObject of the ML-DSA certificate");
    assert_eq!(value(&session, handle, CKA_VALUE), certificate);
    assert_eq!(value(&session, handle, CKA_SUBJECT), name);
    // What the X.509 parser fills in from the certificate.
    assert_eq!(value(&session, handle, CKA_ISSUER), name);
    assert_eq!(value(&session, handle, CKA_SERIAL_NUMBER), serial);
    assert_eq!(value(&session, handle, CKA_PUBLIC_KEY_INFO), spki);
    let check_value = value(&session, handle, CKA_CHECK_VALUE);
    assert_eq!(check_value.len(), 3);
    // A search by subject finds it.
    let mut template = Template::default()
        .ulong(CKA_CLASS, CKO_CERTIFICATE)
        .bytes(CKA_SUBJECT, &name);
    let mut raw = template.raw();
    assert_ck!(
        ck!(C_FindObjectsInit(session.handle(), raw.as_mut_ptr(), 2)),
        CKR_OK
    );
    let (mut found, mut count) = ([0; 4], 0);
    assert_ck!(
        ck!(C_FindObjects(
            session.handle(),
            found.as_mut_ptr(),
            4,
            &mut count
        )),
        CKR_OK
    );
    assert_ck!(ck!(C_FindObjectsFinal(session.handle())), CKR_OK);
    assert_eq!(&found[..count as usize], &[handle]);
}
