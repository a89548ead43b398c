//! ML-DSA and ML-KEM against the NIST ACVP vectors in `tests/data/acvp`
//! (their README names the source): key generation from the seed, pure
//! ML-DSA signatures with a context (deterministic ones reproduced, hedged
//! ones verified), signature verification that must pass or fail, and
//! ML-KEM encapsulation (with the vector's m) and decapsulation, including
//! the implicit rejection of modified ciphertexts.

use super::pqc::{self, ParameterSet};
use super::test_support::hex;
use super::{sign_init, verify_init, KeyMaterial, LoadedKey};
use crate::device::{Mechanism, MechanismParameter};
use crate::error::Error;
use cryptoki_sys::*;
use serde_json::Value;
use std::sync::Arc;

fn vectors(name: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/acvp")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let cases: Vec<Value> = serde_json::from_str(&text).expect("ACVP JSON");
    assert!(cases.len() >= 9, "{name}: {} cases", cases.len());
    cases
}

fn bytes(case: &Value, field: &str) -> Vec<u8> {
    hex(case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {case}")))
}

fn parameter_set(case: &Value) -> ParameterSet {
    let (key_type, value) = match case["parameterSet"].as_str().unwrap() {
        "ML-DSA-44" => (CKK_ML_DSA, CKP_ML_DSA_44),
        "ML-DSA-65" => (CKK_ML_DSA, CKP_ML_DSA_65),
        "ML-DSA-87" => (CKK_ML_DSA, CKP_ML_DSA_87),
        "ML-KEM-512" => (CKK_ML_KEM, CKP_ML_KEM_512),
        "ML-KEM-768" => (CKK_ML_KEM, CKP_ML_KEM_768),
        "ML-KEM-1024" => (CKK_ML_KEM, CKP_ML_KEM_1024),
        other => panic!("parameter set {other}"),
    };
    ParameterSet::of(key_type, value).unwrap()
}

fn loaded(key_type: CK_KEY_TYPE, material: KeyMaterial) -> Arc<LoadedKey> {
    Arc::new(LoadedKey { key_type, material })
}

fn ml_dsa(hedge: CK_ULONG, context: &[u8]) -> Mechanism {
    Mechanism {
        kind: CKM_ML_DSA,
        parameter: MechanismParameter::SignContext {
            hedge,
            context: context.to_vec(),
        },
        caller_parameter: None,
    }
}

#[test]
fn ml_dsa_key_generation_from_the_seed_matches_acvp() {
    for case in vectors("ml_dsa_keygen.json") {
        let set = parameter_set(&case);
        let (seed, pk, sk) = (bytes(&case, "seed"), bytes(&case, "pk"), bytes(&case, "sk"));
        let key = pqc::import_private(set, Some(&seed), None).unwrap();
        assert_eq!(pqc::public_value(&key).unwrap(), pk, "tc {}", case["tcId"]);
        assert_eq!(pqc::private_value(&key).unwrap(), sk);
        assert_eq!(pqc::seed(&key).unwrap(), seed);
        assert_eq!(ParameterSet::of_key(&key), Some(set));
        // The seed and the expanded key together, and the expanded key
        // alone (which has no seed to give back).
        pqc::import_private(set, Some(&seed), Some(&sk)).unwrap();
        let expanded = pqc::import_private(set, None, Some(&sk)).unwrap();
        assert_eq!(pqc::public_value(&expanded).unwrap(), pk);
        assert_eq!(pqc::seed(&expanded), None);
        let mut other = sk.clone();
        other[100] ^= 1;
        assert!(matches!(
            pqc::import_private(set, Some(&seed), Some(&other)),
            Err(Error::TemplateInconsistent(_))
        ));
    }
}

#[test]
fn ml_dsa_signatures_match_acvp() {
    let (mut deterministic, mut hedged) = (0, 0);
    for case in vectors("ml_dsa_siggen.json") {
        let set = parameter_set(&case);
        let (sk, pk) = (bytes(&case, "sk"), bytes(&case, "pk"));
        let (message, context) = (bytes(&case, "message"), bytes(&case, "context"));
        let expected = bytes(&case, "signature");
        assert_eq!(expected.len(), set.output_len());
        let private = pqc::import_private(set, None, Some(&sk)).unwrap();
        let public = pqc::import_public(set, &pk).unwrap();
        let public = loaded(CKK_ML_DSA, KeyMaterial::Public(public));
        if case["deterministic"].as_bool().unwrap() {
            let key = loaded(CKK_ML_DSA, KeyMaterial::Private(private));
            let mechanism = ml_dsa(CKH_DETERMINISTIC_REQUIRED, &context);
            let signature = sign_init(key.clone(), &mechanism)
                .unwrap()
                .sign(&message)
                .unwrap();
            assert_eq!(signature, expected, "tc {}", case["tcId"]);
            // In parts, the same.
            let mut operation = sign_init(key, &mechanism).unwrap();
            for part in message.chunks(1000) {
                operation.update(part).unwrap();
            }
            assert_eq!(operation.finish().unwrap(), expected);
            deterministic += 1;
        } else {
            hedged += 1;
        }
        // Verification ignores the hedge variant.
        verify_init(public.clone(), &ml_dsa(CKH_HEDGE_PREFERRED, &context))
            .unwrap()
            .verify(&message, &expected)
            .unwrap_or_else(|e| panic!("tc {}: {e:?}", case["tcId"]));
        let mut wrong_context = context.clone();
        match wrong_context.first_mut() {
            Some(first) => *first ^= 1,
            None => wrong_context.push(b'x'),
        }
        assert!(matches!(
            verify_init(public, &ml_dsa(CKH_HEDGE_PREFERRED, &wrong_context))
                .unwrap()
                .verify(&message, &expected),
            Err(Error::SignatureInvalid)
        ));
    }
    assert!(
        deterministic >= 3 && hedged >= 3,
        "{deterministic} {hedged}"
    );
}

#[test]
fn ml_dsa_verification_matches_acvp() {
    let (mut passed, mut failed) = (0, 0);
    for case in vectors("ml_dsa_sigver.json") {
        let set = parameter_set(&case);
        let public = pqc::import_public(set, &bytes(&case, "pk")).unwrap();
        let public = loaded(CKK_ML_DSA, KeyMaterial::Public(public));
        let context = bytes(&case, "context");
        let outcome = verify_init(public, &ml_dsa(CKH_HEDGE_PREFERRED, &context))
            .unwrap()
            .verify(&bytes(&case, "message"), &bytes(&case, "signature"));
        if case["testPassed"].as_bool().unwrap() {
            outcome.unwrap_or_else(|e| panic!("tc {}: {e:?}", case["tcId"]));
            passed += 1;
        } else {
            assert!(
                matches!(outcome, Err(Error::SignatureInvalid)),
                "tc {} ({}): {outcome:?}",
                case["tcId"],
                case["reason"]
            );
            failed += 1;
        }
    }
    assert!(passed >= 3 && failed >= 3);
}

#[test]
fn ml_kem_key_generation_from_the_seed_matches_acvp() {
    for case in vectors("ml_kem_keygen.json") {
        let set = parameter_set(&case);
        let seed = [bytes(&case, "d"), bytes(&case, "z")].concat();
        let key = pqc::import_private(set, Some(&seed), None).unwrap();
        assert_eq!(pqc::public_value(&key).unwrap(), bytes(&case, "ek"));
        assert_eq!(pqc::private_value(&key).unwrap(), bytes(&case, "dk"));
        assert_eq!(pqc::seed(&key).unwrap(), seed);
    }
}

#[test]
fn ml_kem_encapsulation_with_the_vector_entropy_matches_acvp() {
    for case in vectors("ml_kem_encap.json") {
        let set = parameter_set(&case);
        let public = pqc::import_public(set, &bytes(&case, "ek")).unwrap();
        let (ciphertext, secret) = pqc::encapsulate(&public, Some(&bytes(&case, "m"))).unwrap();
        assert_eq!(ciphertext, bytes(&case, "c"), "tc {}", case["tcId"]);
        assert_eq!(*secret, bytes(&case, "k"));
        assert_eq!(ciphertext.len(), set.output_len());
    }
}

#[test]
fn ml_kem_decapsulation_and_implicit_rejection_match_acvp() {
    let (mut valid, mut rejected) = (0, 0);
    for case in vectors("ml_kem_decap.json") {
        let set = parameter_set(&case);
        let key = pqc::import_private(set, None, Some(&bytes(&case, "dk"))).unwrap();
        let secret = pqc::decapsulate(&key, &bytes(&case, "c")).unwrap();
        assert_eq!(*secret, bytes(&case, "k"), "tc {}", case["tcId"]);
        if case["reason"]
            .as_str()
            .unwrap()
            .contains("valid decapsulation")
        {
            valid += 1;
        } else {
            rejected += 1;
        }
        let short = &bytes(&case, "c")[1..];
        assert!(matches!(
            pqc::decapsulate(&key, short),
            Err(Error::EncryptedDataLenRange)
        ));
    }
    assert!(valid >= 3 && rejected >= 3, "{valid} {rejected}");
}

#[test]
fn a_random_encapsulation_decapsulates_to_its_secret_on_every_set() {
    for value in [CKP_ML_KEM_512, CKP_ML_KEM_768, CKP_ML_KEM_1024] {
        let set = ParameterSet::of(CKK_ML_KEM, value).unwrap();
        let key = pqc::generate(set).unwrap();
        assert_eq!(pqc::public_value(&key).unwrap().len(), set.public_len());
        let (ciphertext, secret) = pqc::encapsulate(&key, None).unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(pqc::decapsulate(&key, &ciphertext).unwrap(), secret);
        let mut flipped = ciphertext.clone();
        flipped[0] ^= 1;
        assert_ne!(pqc::decapsulate(&key, &flipped).unwrap(), secret);
    }
}

#[test]
fn bad_parameter_sets_sizes_and_hedge_types_are_refused() {
    assert!(matches!(
        ParameterSet::of(CKK_ML_DSA, CKP_ML_KEM_512 + 10),
        Err(Error::AttributeValueInvalid(CKA_PARAMETER_SET))
    ));
    let set = ParameterSet::of(CKK_ML_DSA, CKP_ML_DSA_44).unwrap();
    assert!(matches!(
        pqc::import_public(set, &[0u8; 1311]),
        Err(Error::AttributeValueInvalid(CKA_VALUE))
    ));
    assert!(matches!(
        pqc::import_private(set, Some(&[0u8; 31]), None),
        Err(Error::AttributeValueInvalid(CKA_SEED))
    ));
    let key = loaded(
        CKK_ML_DSA,
        KeyMaterial::Private(pqc::generate(set).unwrap()),
    );
    for mechanism in [ml_dsa(7, b""), ml_dsa(CKH_HEDGE_REQUIRED, &[0; 256])] {
        assert!(matches!(
            sign_init(key.clone(), &mechanism),
            Err(Error::MechanismParamInvalid(_))
        ));
    }
    // Hedged signatures differ each time and both verify.
    let hedged = ml_dsa(CKH_HEDGE_REQUIRED, b"ctx");
    let one = sign_init(key.clone(), &hedged).unwrap().sign(b"m").unwrap();
    let two = sign_init(key.clone(), &hedged).unwrap().sign(b"m").unwrap();
    assert_ne!(one, two);
    for signature in [one, two] {
        verify_init(key.clone(), &hedged)
            .unwrap()
            .verify(b"m", &signature)
            .unwrap();
    }
}
