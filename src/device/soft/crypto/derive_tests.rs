//! The simple derivations' values: the specification's extraction example,
//! FIPS 197's AES example, and the byte layouts of the concatenations and XOR.

use super::derive::derive_value;
use super::test_support::*;
use crate::device::{Mechanism, MechanismParameter};
use crate::error::Error;
use cryptoki_sys::*;

fn with(kind: CK_MECHANISM_TYPE, parameter: MechanismParameter) -> Mechanism {
    Mechanism::with(kind, parameter)
}

#[test]
fn extraction_follows_the_specifications_example_and_wraps_around() {
    // PKCS#11 §2.43.7: 16 bits from bit 21 of 0x329F84A9 are 0x9526.
    let base = loaded_secret(CKK_GENERIC_SECRET, &hex("329f84a9"));
    let extract = with(CKM_EXTRACT_KEY_FROM_KEY, MechanismParameter::ExtractBit(21));
    let value = derive_value(&extract, &base, None, Some(2)).unwrap();
    assert_eq!(&value[..], &hex("9526")[..]);
    let from_zero = with(CKM_EXTRACT_KEY_FROM_KEY, MechanismParameter::ExtractBit(0));
    let value = derive_value(&from_zero, &base, None, None).unwrap();
    assert_eq!(&value[..], &hex("329f84a9")[..]);
    let beyond = with(CKM_EXTRACT_KEY_FROM_KEY, MechanismParameter::ExtractBit(32));
    assert!(matches!(
        derive_value(&beyond, &base, None, Some(2)),
        Err(Error::MechanismParamInvalid(_))
    ));
    assert!(matches!(
        derive_value(&extract, &base, None, Some(5)),
        Err(Error::TemplateInconsistent(_))
    ));
}

#[test]
fn concatenations_and_xor_lay_the_bytes_out_as_specified() {
    let base = loaded_secret(CKK_GENERIC_SECRET, &hex("0102030405"));
    let other = loaded_secret(CKK_AES, &[0xAA; 16]);
    let data = || MechanismParameter::DerivationData(hex("f0f0f0"));
    let cases = [
        (CKM_CONCATENATE_BASE_AND_DATA, "0102030405f0f0f0"),
        (CKM_CONCATENATE_DATA_AND_BASE, "f0f0f00102030405"),
        (CKM_XOR_BASE_AND_DATA, "f1f2f3"),
    ];
    for (kind, expected) in cases {
        let value = derive_value(&with(kind, data()), &base, None, None).unwrap();
        assert_eq!(&value[..], &hex(expected)[..], "{kind:#x}");
    }
    let concatenate = with(
        CKM_CONCATENATE_BASE_AND_KEY,
        MechanismParameter::KeyHandle(7),
    );
    let value = derive_value(&concatenate, &base, Some(&other), None).unwrap();
    assert_eq!(
        &value[..],
        &[&hex("0102030405")[..], &[0xAA; 16]].concat()[..]
    );
    let value = derive_value(&concatenate, &base, Some(&other), Some(6)).unwrap();
    assert_eq!(&value[..], &hex("0102030405aa")[..], "the leading bytes");
    assert!(matches!(
        derive_value(&concatenate, &base, None, None),
        Err(Error::MechanismParamInvalid(_))
    ));
    let public_key = loaded_private(rsa_private());
    assert!(matches!(
        derive_value(
            &with(CKM_XOR_BASE_AND_DATA, data()),
            &public_key,
            None,
            None
        ),
        Err(Error::KeyTypeInconsistent)
    ));
}

#[test]
fn aes_encryption_of_data_matches_the_fips_197_example() {
    let key = loaded_secret(CKK_AES, &hex("000102030405060708090a0b0c0d0e0f"));
    let plaintext = hex("00112233445566778899aabbccddeeff");
    let ecb = with(
        CKM_AES_ECB_ENCRYPT_DATA,
        MechanismParameter::DerivationData(plaintext.clone()),
    );
    let value = derive_value(&ecb, &key, None, None).unwrap();
    assert_eq!(&value[..], &hex("69c4e0d86a7b0430d8cdb78070b4c55a")[..]);
    // CBC with a zero IV is ECB on the first block.
    let cbc = with(
        CKM_AES_CBC_ENCRYPT_DATA,
        MechanismParameter::CbcEncryptData {
            iv: [0; 16],
            data: plaintext.clone(),
        },
    );
    assert_eq!(
        &derive_value(&cbc, &key, None, None).unwrap()[..],
        &value[..]
    );
    for bad in [Vec::new(), vec![0; 15], vec![0; 17]] {
        let ecb = with(
            CKM_AES_ECB_ENCRYPT_DATA,
            MechanismParameter::DerivationData(bad),
        );
        assert!(matches!(
            derive_value(&ecb, &key, None, None),
            Err(Error::MechanismParamInvalid(_))
        ));
    }
    let generic = loaded_secret(CKK_GENERIC_SECRET, &[1; 16]);
    let ecb = with(
        CKM_AES_ECB_ENCRYPT_DATA,
        MechanismParameter::DerivationData(plaintext),
    );
    assert!(derive_value(&ecb, &generic, None, None).is_err());
}
