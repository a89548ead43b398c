//! The simple derivations (PKCS#11 3.0 §2.43: `CKM_CONCATENATE_BASE_AND_KEY`,
//! `CKM_CONCATENATE_BASE_AND_DATA`, `CKM_CONCATENATE_DATA_AND_BASE`,
//! `CKM_XOR_BASE_AND_DATA`, `CKM_EXTRACT_KEY_FROM_KEY`; §2.11.4:
//! `CKM_AES_ECB_ENCRYPT_DATA`, `CKM_AES_CBC_ENCRYPT_DATA`) through the C
//! ABI: the values against the specification's example, FIPS 197 and
//! openssl, and the custody of what they make: a key derived from a
//! sensitive or unextractable key keeps that protection.

#[macro_use]
mod common;

use common::*;
use cryptoki::session::Session;
use cryptoki_sys::*;
use openssl::symm::{encrypt, Cipher};

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A template under construction: the values live here while the raw
/// `CK_ATTRIBUTE`s point at them.
#[derive(Default)]
struct Template {
    values: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

impl Template {
    fn ulong(mut self, kind: CK_ATTRIBUTE_TYPE, value: CK_ULONG) -> Self {
        self.values.push((kind, ulong_bytes(value)));
        self
    }
    fn bool(mut self, kind: CK_ATTRIBUTE_TYPE, value: bool) -> Self {
        self.values.push((kind, vec![value as u8]));
        self
    }
    fn bytes(mut self, kind: CK_ATTRIBUTE_TYPE, value: &[u8]) -> Self {
        self.values.push((kind, value.to_vec()));
        self
    }
    fn raw(&mut self) -> Vec<CK_ATTRIBUTE> {
        self.values
            .iter_mut()
            .map(|(kind, value)| raw_attribute(*kind, value))
            .collect()
    }
}

/// A session secret key of `key_type` with `value` that may derive, with
/// the given `CKA_SENSITIVE` and `CKA_EXTRACTABLE`.
fn secret(
    session: &Session,
    key_type: CK_KEY_TYPE,
    value: &[u8],
    sensitive: bool,
    extractable: bool,
) -> CK_OBJECT_HANDLE {
    let mut template = Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type)
        .bytes(CKA_VALUE, value)
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, true)
        .bool(CKA_SENSITIVE, sensitive)
        .bool(CKA_EXTRACTABLE, extractable);
    let mut raw = template.raw();
    let mut handle = CK_INVALID_HANDLE;
    assert_ck!(
        ck!(C_CreateObject(
            session.handle(),
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            &mut handle
        )),
        CKR_OK
    );
    handle
}

/// A readable base key (not sensitive, extractable).
fn readable(session: &Session, key_type: CK_KEY_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    secret(session, key_type, value, false, true)
}

/// The parameter of one simple derivation, owned while a `CK_MECHANISM`
/// points at it.
enum Parameter {
    Data(Vec<u8>, CK_KEY_DERIVATION_STRING_DATA),
    Cbc(Vec<u8>, CK_AES_CBC_ENCRYPT_DATA_PARAMS),
    Ulong(CK_ULONG),
}

impl Parameter {
    fn data(data: &[u8]) -> Box<Parameter> {
        let mut owned = Box::new(Parameter::Data(
            data.to_vec(),
            CK_KEY_DERIVATION_STRING_DATA {
                pData: std::ptr::null_mut(),
                ulLen: data.len() as CK_ULONG,
            },
        ));
        if let Parameter::Data(bytes, p) = &mut *owned {
            p.pData = bytes.as_mut_ptr();
        }
        owned
    }
    fn cbc(iv: [u8; 16], data: &[u8]) -> Box<Parameter> {
        let mut owned = Box::new(Parameter::Cbc(
            data.to_vec(),
            CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                iv,
                pData: std::ptr::null_mut(),
                length: data.len() as CK_ULONG,
            },
        ));
        if let Parameter::Cbc(bytes, p) = &mut *owned {
            p.pData = bytes.as_mut_ptr();
        }
        owned
    }
    fn ulong(value: CK_ULONG) -> Box<Parameter> {
        Box::new(Parameter::Ulong(value))
    }
    fn mechanism(&mut self, kind: CK_MECHANISM_TYPE) -> CK_MECHANISM {
        match self {
            Parameter::Data(_, p) => raw_mechanism_with(kind, p),
            Parameter::Cbc(_, p) => raw_mechanism_with(kind, p),
            Parameter::Ulong(p) => raw_mechanism_with(kind, p),
        }
    }
}

/// `C_DeriveKey` of `kind` from `base` into a session key made by `template`.
fn derive(
    session: &Session,
    kind: CK_MECHANISM_TYPE,
    parameter: &mut Parameter,
    base: CK_OBJECT_HANDLE,
    template: Template,
) -> Result<CK_OBJECT_HANDLE, CK_RV> {
    let mut template = template.bool(CKA_TOKEN, false);
    let mut raw = template.raw();
    let mut mechanism = parameter.mechanism(kind);
    let mut handle = CK_INVALID_HANDLE;
    match ck!(C_DeriveKey(
        session.handle(),
        &mut mechanism,
        base,
        raw.as_mut_ptr(),
        raw.len() as CK_ULONG,
        &mut handle
    )) {
        CKR_OK => Ok(handle),
        rv => Err(rv),
    }
}

/// A derived key's `CKA_VALUE`, or the error reading it gives.
fn value(session: &Session, key: CK_OBJECT_HANDLE) -> Result<Vec<u8>, CK_RV> {
    let mut buffer = vec![0u8; 4096];
    let mut template = [raw_attribute(CKA_VALUE, &mut buffer)];
    match ck!(C_GetAttributeValue(
        session.handle(),
        key,
        template.as_mut_ptr(),
        1
    )) {
        CKR_OK => {
            buffer.truncate(template[0].ulValueLen as usize);
            Ok(buffer)
        }
        rv => Err(rv),
    }
}

fn flag(session: &Session, key: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> bool {
    let mut byte = [0u8; 1];
    let mut template = [raw_attribute(kind, &mut byte)];
    assert_ck!(
        ck!(C_GetAttributeValue(
            session.handle(),
            key,
            template.as_mut_ptr(),
            1
        )),
        CKR_OK
    );
    byte[0] != 0
}

fn ulong(session: &Session, key: CK_OBJECT_HANDLE, kind: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
    let mut bytes = [0u8; std::mem::size_of::<CK_ULONG>()];
    let mut template = [raw_attribute(kind, &mut bytes)];
    assert_ck!(
        ck!(C_GetAttributeValue(
            session.handle(),
            key,
            template.as_mut_ptr(),
            1
        )),
        CKR_OK
    );
    CK_ULONG::from_ne_bytes(bytes)
}

fn readable_result() -> Template {
    Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true)
}

#[test]
fn concatenation_and_xor_give_the_specified_bytes() {
    let token = TestToken::new();
    let session = token.user_session();
    let base = readable(&session, CKK_GENERIC_SECRET, &unhex("0102030405"));
    let second = readable(&session, CKK_GENERIC_SECRET, &unhex("a0b0"));
    let cases: Vec<(CK_MECHANISM_TYPE, Box<Parameter>, &str)> = vec![
        (
            CKM_CONCATENATE_BASE_AND_DATA,
            Parameter::data(&unhex("f0f0f0")),
            "0102030405f0f0f0",
        ),
        (
            CKM_CONCATENATE_DATA_AND_BASE,
            Parameter::data(&unhex("f0f0f0")),
            "f0f0f00102030405",
        ),
        (
            CKM_XOR_BASE_AND_DATA,
            Parameter::data(&unhex("f0f0f0")),
            "f1f2f3",
        ),
        (
            CKM_CONCATENATE_BASE_AND_KEY,
            Parameter::ulong(second),
            "0102030405a0b0",
        ),
    ];
    for (kind, mut parameter, expected) in cases {
        let key = derive(&session, kind, &mut parameter, base, readable_result())
            .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
        assert_eq!(value(&session, key), Ok(unhex(expected)), "{kind:#x}");
        assert_eq!(
            ulong(&session, key, CKA_VALUE_LEN),
            expected.len() as CK_ULONG / 2
        );
        assert!(
            !flag(&session, key, CKA_LOCAL),
            "{kind:#x}: a derived key is not local"
        );
    }
    // CKA_VALUE_LEN takes the leading bytes; more than there is is refused.
    let mut data = Parameter::data(&unhex("f0f0f0"));
    let key = derive(
        &session,
        CKM_CONCATENATE_BASE_AND_DATA,
        &mut data,
        base,
        readable_result().ulong(CKA_VALUE_LEN, 6),
    )
    .expect("C_DeriveKey with CKA_VALUE_LEN");
    assert_eq!(value(&session, key), Ok(unhex("0102030405f0")));
    let longer = derive(
        &session,
        CKM_CONCATENATE_BASE_AND_DATA,
        &mut data,
        base,
        readable_result().ulong(CKA_VALUE_LEN, 9),
    );
    assert_eq!(
        longer.map_err(rv_name),
        Err(rv_name(CKR_TEMPLATE_INCONSISTENT))
    );
}

#[test]
fn extraction_matches_the_specifications_example() {
    let token = TestToken::new();
    let session = token.user_session();
    // PKCS#11 §2.43.7: 16 bits from bit 21 of 0x329F84A9 are 0x9526.
    let base = readable(&session, CKK_GENERIC_SECRET, &unhex("329f84a9"));
    let mut parameter = Parameter::ulong(21);
    let key = derive(
        &session,
        CKM_EXTRACT_KEY_FROM_KEY,
        &mut parameter,
        base,
        readable_result().ulong(CKA_VALUE_LEN, 2),
    )
    .expect("C_DeriveKey CKM_EXTRACT_KEY_FROM_KEY");
    assert_eq!(value(&session, key), Ok(unhex("9526")));
    let mut beyond = Parameter::ulong(32);
    let result = derive(
        &session,
        CKM_EXTRACT_KEY_FROM_KEY,
        &mut beyond,
        base,
        readable_result(),
    );
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_MECHANISM_PARAM_INVALID))
    );
}

#[test]
fn aes_encryption_of_data_matches_fips_197_and_openssl() {
    let token = TestToken::new();
    let session = token.user_session();
    let key_value = unhex("000102030405060708090a0b0c0d0e0f");
    let base = readable(&session, CKK_AES, &key_value);
    let plaintext = unhex("00112233445566778899aabbccddeeff");
    let mut ecb = Parameter::data(&plaintext);
    let aes_result = || {
        Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .bool(CKA_SENSITIVE, false)
            .bool(CKA_EXTRACTABLE, true)
    };
    let key = derive(
        &session,
        CKM_AES_ECB_ENCRYPT_DATA,
        &mut ecb,
        base,
        aes_result(),
    )
    .expect("C_DeriveKey CKM_AES_ECB_ENCRYPT_DATA");
    assert_eq!(
        value(&session, key),
        Ok(unhex("69c4e0d86a7b0430d8cdb78070b4c55a"))
    );
    assert_eq!(ulong(&session, key, CKA_KEY_TYPE), CKK_AES);

    let iv = [0x5Cu8; 16];
    let data: Vec<u8> = (0u8..32).collect();
    let mut expected = encrypt(Cipher::aes_128_cbc(), &key_value, Some(&iv), &data).unwrap();
    expected.truncate(32); // openssl pads; the derivation does not
    let mut cbc = Parameter::cbc(iv, &data);
    let key = derive(
        &session,
        CKM_AES_CBC_ENCRYPT_DATA,
        &mut cbc,
        base,
        aes_result(),
    )
    .expect("C_DeriveKey CKM_AES_CBC_ENCRYPT_DATA");
    assert_eq!(value(&session, key), Ok(expected));

    let mut partial = Parameter::data(&plaintext[..15]);
    let result = derive(
        &session,
        CKM_AES_ECB_ENCRYPT_DATA,
        &mut partial,
        base,
        aes_result(),
    );
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_MECHANISM_PARAM_INVALID))
    );
}

#[test]
fn a_derived_aes_key_needs_an_aes_length() {
    let token = TestToken::new();
    let session = token.user_session();
    let base = readable(&session, CKK_GENERIC_SECRET, &[7u8; 20]);
    let aes = || {
        Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
    };
    let mut data = Parameter::data(&[1u8; 20]);
    let result = derive(&session, CKM_XOR_BASE_AND_DATA, &mut data, base, aes());
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_TEMPLATE_INCOMPLETE))
    );
    let result = derive(
        &session,
        CKM_XOR_BASE_AND_DATA,
        &mut data,
        base,
        aes().ulong(CKA_VALUE_LEN, 20),
    );
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_ATTRIBUTE_VALUE_INVALID))
    );
    let key = derive(
        &session,
        CKM_XOR_BASE_AND_DATA,
        &mut data,
        base,
        aes().ulong(CKA_VALUE_LEN, 16),
    )
    .expect("an AES key of 16 bytes");
    assert_eq!(ulong(&session, key, CKA_VALUE_LEN), 16);
}

/// Every simple derivation with a parameter that works on a 16-byte base
/// (`second`: the other key of `CKM_CONCATENATE_BASE_AND_KEY`).
fn every_simple_derivation(second: CK_OBJECT_HANDLE) -> Vec<(CK_MECHANISM_TYPE, Box<Parameter>)> {
    vec![
        (CKM_CONCATENATE_BASE_AND_KEY, Parameter::ulong(second)),
        (CKM_CONCATENATE_BASE_AND_DATA, Parameter::data(b"data")),
        (CKM_CONCATENATE_DATA_AND_BASE, Parameter::data(b"data")),
        (CKM_XOR_BASE_AND_DATA, Parameter::data(&[0x33; 16])),
        (CKM_EXTRACT_KEY_FROM_KEY, Parameter::ulong(3)),
        (CKM_AES_ECB_ENCRYPT_DATA, Parameter::data(&[0x33; 16])),
        (
            CKM_AES_CBC_ENCRYPT_DATA,
            Parameter::cbc([1; 16], &[0x33; 16]),
        ),
    ]
}

#[test]
fn a_key_derived_from_a_sensitive_key_cannot_be_read_or_made_readable() {
    let token = TestToken::new();
    let session = token.user_session();
    let sensitive = secret(&session, CKK_AES, &[0x42; 16], true, false);
    let readable_second = readable(&session, CKK_AES, &[0x24; 16]);
    let generic = || {
        Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, 16)
    };
    for (kind, mut parameter) in every_simple_derivation(readable_second) {
        // Asked for nothing: sensitive and unextractable, as the base.
        let key = derive(&session, kind, &mut parameter, sensitive, generic())
            .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
        assert!(flag(&session, key, CKA_SENSITIVE), "{kind:#x}");
        assert!(!flag(&session, key, CKA_EXTRACTABLE), "{kind:#x}");
        assert_eq!(
            value(&session, key).map_err(rv_name),
            Err(rv_name(CKR_ATTRIBUTE_SENSITIVE)),
            "{kind:#x}"
        );
        // The base key was imported: the derived key has no history to claim.
        assert!(!flag(&session, key, CKA_ALWAYS_SENSITIVE), "{kind:#x}");
        assert!(!flag(&session, key, CKA_NEVER_EXTRACTABLE), "{kind:#x}");
        // Asked to be readable: refused, and nothing is made.
        for loosening in [
            generic().bool(CKA_SENSITIVE, false),
            generic().bool(CKA_EXTRACTABLE, true),
        ] {
            let result = derive(&session, kind, &mut parameter, sensitive, loosening);
            assert_eq!(
                result.map_err(rv_name),
                Err(rv_name(CKR_TEMPLATE_INCONSISTENT)),
                "{kind:#x}"
            );
        }
    }
    // The second key of a concatenation protects the result as the base does.
    let readable_base = readable(&session, CKK_AES, &[0x11; 16]);
    let mut parameter = Parameter::ulong(sensitive);
    let result = derive(
        &session,
        CKM_CONCATENATE_BASE_AND_KEY,
        &mut parameter,
        readable_base,
        generic()
            .ulong(CKA_VALUE_LEN, 32)
            .bool(CKA_SENSITIVE, false),
    );
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_TEMPLATE_INCONSISTENT))
    );
}

#[test]
fn a_key_derived_from_a_generated_key_keeps_its_history() {
    let token = TestToken::new();
    let session = token.user_session();
    let mut mechanism = raw_mechanism(CKM_AES_KEY_GEN);
    let mut template = Template::default()
        .ulong(CKA_VALUE_LEN, 16)
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, true);
    let mut raw = template.raw();
    let mut base = CK_INVALID_HANDLE;
    assert_ck!(
        ck!(C_GenerateKey(
            session.handle(),
            &mut mechanism,
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            &mut base
        )),
        CKR_OK
    );
    let second = secret(&session, CKK_AES, &[9; 16], true, false);
    for (kind, mut parameter) in every_simple_derivation(second) {
        let generic = Template::default()
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, 16);
        let key = derive(&session, kind, &mut parameter, base, generic)
            .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
        // The imported second key has no history: neither has the concatenation.
        let history = kind != CKM_CONCATENATE_BASE_AND_KEY;
        assert_eq!(
            flag(&session, key, CKA_ALWAYS_SENSITIVE),
            history,
            "{kind:#x}"
        );
        assert_eq!(
            flag(&session, key, CKA_NEVER_EXTRACTABLE),
            history,
            "{kind:#x}"
        );
    }
}

#[test]
fn a_base_key_that_may_not_derive_is_key_function_not_permitted() {
    let token = TestToken::new();
    let session = token.user_session();
    let mut create = Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .bytes(CKA_VALUE, &[5; 16])
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, false);
    let mut raw = create.raw();
    let mut no_derive = CK_INVALID_HANDLE;
    assert_ck!(
        ck!(C_CreateObject(
            session.handle(),
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            &mut no_derive
        )),
        CKR_OK
    );
    let may_derive = readable(&session, CKK_AES, &[6; 16]);
    for (kind, mut parameter) in every_simple_derivation(no_derive) {
        let base = if kind == CKM_CONCATENATE_BASE_AND_KEY {
            may_derive
        } else {
            no_derive
        };
        let result = derive(&session, kind, &mut parameter, base, readable_result());
        assert_eq!(
            result.map_err(rv_name),
            Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED)),
            "{kind:#x}"
        );
    }
}
