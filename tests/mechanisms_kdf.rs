//! The SP 800-108 key derivations (PKCS#11 3.0 §2.42:
//! `CKM_SP800_108_COUNTER_KDF`, `CKM_SP800_108_FEEDBACK_KDF`) through the C
//! ABI: their output against OpenSSL's KBKDF (`openssl kdf ... KBKDF`, an
//! independent implementation of SP 800-108), the layout of additional
//! keys, the encodings OpenSSL cannot express against equivalent inputs,
//! the parameter rules, and the attributes of what they make.

#[macro_use]
mod common;

use common::*;
use cryptoki::session::Session;
use cryptoki_sys::*;
use std::process::Command;

const LABEL: &[u8] = b"label";
const CONTEXT: &[u8] = b"context";
const HMAC_KEY: [u8; 20] = [0x0b; 20];
const AES_KEY: [u8; 16] = [0x2b; 16];

/// `openssl kdf -keylen <len> -kdfopt ... KBKDF`: `len` bytes.
fn openssl_kbkdf(options: &[String], len: usize) -> Vec<u8> {
    let mut command = Command::new("openssl");
    command.args(["kdf", "-keylen", &len.to_string()]);
    for option in options {
        command.args(["-kdfopt", option]);
    }
    let output = command
        .arg("KBKDF")
        .output()
        .expect("the openssl command (Debian package openssl) runs");
    assert!(
        output.status.success(),
        "openssl kdf: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    unhex(
        &String::from_utf8(output.stdout)
            .unwrap()
            .trim()
            .replace(':', ""),
    )
}

fn hex_option(name: &str, value: &[u8]) -> String {
    format!("hex{name}:{}", hex(value))
}

/// The OpenSSL options of `prf` keyed by `key`, with the label and context.
fn openssl_options(prf: CK_MECHANISM_TYPE, key: &[u8]) -> Vec<String> {
    let mac: &[&str] = match prf {
        CKM_SHA_1_HMAC => &["mac:HMAC", "digest:SHA1"],
        CKM_SHA256_HMAC => &["mac:HMAC", "digest:SHA2-256"],
        CKM_SHA384_HMAC => &["mac:HMAC", "digest:SHA2-384"],
        CKM_SHA512_HMAC => &["mac:HMAC", "digest:SHA2-512"],
        CKM_SHA3_256_HMAC => &["mac:HMAC", "digest:SHA3-256"],
        _ => &["mac:CMAC", "cipher:AES-128-CBC"],
    };
    let mut options: Vec<String> = mac.iter().map(|o| o.to_string()).collect();
    options.push(hex_option("key", key));
    options.push(hex_option("salt", LABEL));
    options.push(hex_option("info", CONTEXT));
    options
}

/// The input layout OpenSSL's KBKDF uses: [i]32 || label || 0x00 ||
/// context || [L]32, L the sum of the keys; in feedback mode K(i-1) first.
fn openssl_layout(feedback: bool) -> Vec<PrfInput> {
    let mut items = if feedback {
        vec![PrfInput::Iteration(None), PrfInput::Counter(false, 32)]
    } else {
        vec![PrfInput::Iteration(Some((false, 32)))]
    };
    items.extend([
        PrfInput::Bytes(LABEL.to_vec()),
        PrfInput::Bytes(vec![0]),
        PrfInput::Bytes(CONTEXT.to_vec()),
        PrfInput::Dkm(false, false, 32),
    ]);
    items
}

/// A readable base key that may derive.
fn base_key(session: &Session, key_type: CK_KEY_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    let extra = Template::default()
        .bool(CKA_DERIVE, true)
        .bool(CKA_SENSITIVE, false)
        .bool(CKA_EXTRACTABLE, true);
    raw_secret(session, key_type, value, extra)
}

fn secret_of(key_type: CK_KEY_TYPE, len: usize) -> Template {
    let template = Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, key_type);
    if key_type == CKK_DES3 {
        template
    } else {
        template.ulong(CKA_VALUE_LEN, len as CK_ULONG)
    }
}

fn generic(len: usize) -> Template {
    secret_of(CKK_GENERIC_SECRET, len)
}

fn value(session: &Session, key: CK_OBJECT_HANDLE) -> Vec<u8> {
    raw_secret_value(session, key).unwrap_or_else(|rv| panic!("CKA_VALUE: {}", rv_name(rv)))
}

/// The base key of `prf`: a generic secret for an HMAC, AES for CMAC.
fn base_for(session: &Session, prf: CK_MECHANISM_TYPE) -> (CK_OBJECT_HANDLE, Vec<u8>) {
    if prf == CKM_AES_CMAC {
        (base_key(session, CKK_AES, &AES_KEY), AES_KEY.to_vec())
    } else {
        (
            base_key(session, CKK_GENERIC_SECRET, &HMAC_KEY),
            HMAC_KEY.to_vec(),
        )
    }
}

const PRFS: [CK_MECHANISM_TYPE; 6] = [
    CKM_SHA_1_HMAC,
    CKM_SHA256_HMAC,
    CKM_SHA384_HMAC,
    CKM_SHA512_HMAC,
    CKM_SHA3_256_HMAC,
    CKM_AES_CMAC,
];

#[test]
fn counter_mode_matches_openssl_kbkdf_for_each_prf() {
    let token = TestToken::new();
    let session = token.user_session();
    for prf in PRFS {
        let (base, key) = base_for(&session, prf);
        for len in [16, 42, 100] {
            let kdf = Kbkdf::counter(prf, openssl_layout(false));
            let (derived, _) = kdf.derive(&session, base, generic(len), Vec::new());
            let derived = derived.unwrap_or_else(|rv| panic!("{prf:#x}: {}", rv_name(rv)));
            assert_eq!(
                hex(&value(&session, derived)),
                hex(&openssl_kbkdf(&openssl_options(prf, &key), len)),
                "{prf:#x}, {len} bytes"
            );
        }
    }
}

#[test]
fn feedback_mode_matches_openssl_kbkdf_for_each_prf() {
    let token = TestToken::new();
    let session = token.user_session();
    for prf in PRFS {
        let (base, key) = base_for(&session, prf);
        // OpenSSL takes an IV of one PRF output.
        let h = match prf {
            CKM_SHA_1_HMAC => 20,
            CKM_SHA384_HMAC => 48,
            CKM_SHA512_HMAC => 64,
            CKM_AES_CMAC => 16,
            _ => 32,
        };
        let iv: Vec<u8> = (0..h as u8).collect();
        let kdf = Kbkdf::feedback(prf, openssl_layout(true), &iv);
        let (derived, _) = kdf.derive(&session, base, generic(70), Vec::new());
        let derived = derived.unwrap_or_else(|rv| panic!("{prf:#x}: {}", rv_name(rv)));
        let mut options = openssl_options(prf, &key);
        options.extend(["mode:FEEDBACK".to_string(), hex_option("seed", &iv)]);
        assert_eq!(
            hex(&value(&session, derived)),
            hex(&openssl_kbkdf(&options, 70)),
            "{prf:#x}"
        );
    }
}

#[test]
fn additional_keys_follow_the_first_each_from_its_own_prf_outputs() {
    let token = TestToken::new();
    let session = token.user_session();
    let (base, key) = base_for(&session, CKM_SHA256_HMAC);
    let openssl = |len| openssl_kbkdf(&openssl_options(CKM_SHA256_HMAC, &key), len);
    // A 48-byte key takes two 32-byte outputs; the 16- and 32-byte keys after
    // it one each: L, as the sum of the segments, is 4 × 256 bits.
    let mut layout = openssl_layout(false);
    *layout.last_mut().unwrap() = PrfInput::Dkm(true, false, 32);
    let kdf = Kbkdf::counter(CKM_SHA256_HMAC, layout);
    let (derived, handles) = kdf.derive(
        &session,
        base,
        generic(48),
        vec![generic(16), secret_of(CKK_AES, 32)],
    );
    let stream = openssl(128);
    assert_eq!(hex(&value(&session, derived.unwrap())), hex(&stream[..48]));
    assert_eq!(hex(&value(&session, handles[0])), hex(&stream[64..80]));
    assert_eq!(hex(&value(&session, handles[1])), hex(&stream[96..128]));
    assert_eq!(raw_ulong(&session, handles[1], CKA_KEY_TYPE), CKK_AES);
    // As the sum of the keys, L is OpenSSL's when the keys fill their outputs.
    let kdf = Kbkdf::counter(CKM_SHA256_HMAC, openssl_layout(false));
    let (derived, handles) = kdf.derive(&session, base, generic(64), vec![generic(32)]);
    let stream = openssl(96);
    assert_eq!(hex(&value(&session, derived.unwrap())), hex(&stream[..64]));
    assert_eq!(hex(&value(&session, handles[0])), hex(&stream[64..]));
}

#[test]
fn little_endian_and_narrow_counters_and_lengths_are_encoded_as_specified() {
    let token = TestToken::new();
    let session = token.user_session();
    let (base, _) = base_for(&session, CKM_SHA256_HMAC);
    // One PRF output, so the counter is 1 and L is 256: feedback mode with
    // no IV (K(0) is empty) and the encodings spelled out as bytes gives
    // the same input.
    let encodings = [
        ((true, 32), (true, 16), vec![1, 0, 0, 0], vec![0x00, 0x01]),
        ((false, 16), (false, 16), vec![0, 1], vec![0x01, 0x00]),
        ((false, 8), (true, 24), vec![1], vec![0x00, 0x01, 0x00]),
        (
            (true, 24),
            (false, 64),
            vec![1, 0, 0],
            vec![0, 0, 0, 0, 0, 0, 1, 0],
        ),
    ];
    for ((counter_le, counter_width), (dkm_le, dkm_width), counter, dkm) in encodings {
        let encoded = Kbkdf::counter(
            CKM_SHA256_HMAC,
            vec![
                PrfInput::Iteration(Some((counter_le, counter_width))),
                PrfInput::Bytes(LABEL.to_vec()),
                PrfInput::Dkm(false, dkm_le, dkm_width),
            ],
        );
        let spelled = Kbkdf::feedback(
            CKM_SHA256_HMAC,
            vec![
                PrfInput::Iteration(None),
                PrfInput::Bytes(counter),
                PrfInput::Bytes(LABEL.to_vec()),
                PrfInput::Bytes(dkm),
            ],
            &[],
        );
        let case = format!("counter {counter_le}/{counter_width}, length {dkm_le}/{dkm_width}");
        let (a, _) = encoded.derive(&session, base, generic(32), Vec::new());
        let (b, _) = spelled.derive(&session, base, generic(32), Vec::new());
        let a = a.unwrap_or_else(|rv| panic!("{case}: {}", rv_name(rv)));
        let b = b.unwrap_or_else(|rv| panic!("{case}: {}", rv_name(rv)));
        assert_eq!(value(&session, a), value(&session, b), "{case}");
    }
}

#[test]
fn parameters_against_the_rules_of_section_2_42_are_mechanism_param_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let (hmac_base, _) = base_for(&session, CKM_SHA256_HMAC);
    let (aes_base, _) = base_for(&session, CKM_AES_CMAC);
    let counter = |items| Kbkdf::counter(CKM_SHA256_HMAC, items);
    let label = || PrfInput::Bytes(LABEL.to_vec());
    let iteration = || PrfInput::Iteration(Some((false, 32)));
    let cases: Vec<(&str, Kbkdf, CK_OBJECT_HANDLE, usize)> = vec![
        (
            "no iteration variable",
            counter(vec![label()]),
            hmac_base,
            32,
        ),
        (
            "two iteration variables",
            counter(vec![iteration(), iteration()]),
            hmac_base,
            32,
        ),
        (
            "a counter in counter mode",
            counter(vec![iteration(), PrfInput::Counter(false, 32)]),
            hmac_base,
            32,
        ),
        (
            "a 12-bit counter",
            counter(vec![PrfInput::Iteration(Some((false, 12)))]),
            hmac_base,
            32,
        ),
        (
            "a 40-bit counter",
            counter(vec![PrfInput::Iteration(Some((false, 40)))]),
            hmac_base,
            32,
        ),
        (
            "a counter-mode iteration variable without a format",
            counter(vec![PrfInput::Iteration(None)]),
            hmac_base,
            32,
        ),
        (
            "two DKM lengths",
            counter(vec![
                iteration(),
                PrfInput::Dkm(false, false, 32),
                PrfInput::Dkm(true, false, 32),
            ]),
            hmac_base,
            32,
        ),
        (
            "a 4-bit DKM length",
            counter(vec![iteration(), PrfInput::Dkm(false, false, 4)]),
            hmac_base,
            32,
        ),
        (
            "an empty byte array",
            counter(vec![iteration(), PrfInput::Bytes(Vec::new())]),
            hmac_base,
            32,
        ),
        (
            "a key handle",
            counter(vec![iteration(), PrfInput::Other(CK_SP800_108_KEY_HANDLE)]),
            hmac_base,
            32,
        ),
        (
            "an unknown data type",
            counter(vec![iteration(), PrfInput::Other(0x99)]),
            hmac_base,
            32,
        ),
        (
            "a PRF that is a digest",
            Kbkdf::counter(CKM_SHA256, vec![iteration()]),
            hmac_base,
            32,
        ),
        (
            "an iteration variable with a value in feedback mode",
            Kbkdf::feedback(CKM_SHA256_HMAC, vec![iteration()], &[]),
            hmac_base,
            32,
        ),
        (
            "two counters in feedback mode",
            Kbkdf::feedback(
                CKM_SHA256_HMAC,
                vec![
                    PrfInput::Iteration(None),
                    PrfInput::Counter(false, 8),
                    PrfInput::Counter(false, 8),
                ],
                &[],
            ),
            hmac_base,
            32,
        ),
        (
            "more outputs than an 8-bit counter counts",
            Kbkdf::counter(CKM_AES_CMAC, vec![PrfInput::Iteration(Some((false, 8)))]),
            aes_base,
            3072,
        ),
        (
            "a length that does not fit an 8-bit DKM length",
            counter(vec![iteration(), PrfInput::Dkm(false, false, 8)]),
            hmac_base,
            32,
        ),
    ];
    for (case, kdf, base, len) in cases {
        let additional = if len == 3072 {
            vec![generic(3072)]
        } else {
            Vec::new()
        };
        let (result, _) = kdf.derive(&session, base, generic(len), additional);
        assert_eq!(
            result.map_err(rv_name),
            Err(rv_name(CKR_MECHANISM_PARAM_INVALID)),
            "{case}"
        );
    }
    // The parameter structure of the other mode.
    let mut wrong = CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 0,
        pDataParams: std::ptr::null_mut(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    };
    let mut mechanism = raw_mechanism_with(CKM_SP800_108_FEEDBACK_KDF, &mut wrong);
    let mut template = generic(32).bool(CKA_TOKEN, false);
    let mut raw = template.raw();
    let mut handle = CK_INVALID_HANDLE;
    assert_ck!(
        ck!(C_DeriveKey(
            session.handle(),
            &mut mechanism,
            hmac_base,
            raw.as_mut_ptr(),
            raw.len() as CK_ULONG,
            &mut handle
        )),
        CKR_MECHANISM_PARAM_INVALID
    );
}

#[test]
fn a_base_key_the_prf_cannot_take_is_key_type_inconsistent() {
    let token = TestToken::new();
    let session = token.user_session();
    let (hmac_base, _) = base_for(&session, CKM_SHA256_HMAC);
    let (aes_base, _) = base_for(&session, CKM_AES_CMAC);
    for (prf, base) in [(CKM_SHA256_HMAC, aes_base), (CKM_AES_CMAC, hmac_base)] {
        let kdf = Kbkdf::counter(prf, openssl_layout(false));
        let (result, _) = kdf.derive(&session, base, generic(32), Vec::new());
        assert_eq!(
            result.map_err(rv_name),
            Err(rv_name(CKR_KEY_TYPE_INCONSISTENT)),
            "{prf:#x}"
        );
    }
}

#[test]
fn a_bad_additional_template_makes_no_key_and_marks_every_handle_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let (base, _) = base_for(&session, CKM_SHA256_HMAC);
    let before = session.find_objects(&[]).unwrap().len();
    let kdf = Kbkdf::counter(CKM_SHA256_HMAC, openssl_layout(false));
    let aes_without_length = Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES);
    let (result, handles) = kdf.derive(
        &session,
        base,
        generic(32),
        vec![generic(16), aes_without_length],
    );
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_TEMPLATE_INCOMPLETE))
    );
    assert_eq!(handles, vec![CK_INVALID_HANDLE; 2]);
    assert_eq!(session.find_objects(&[]).unwrap().len(), before);
    // A parameter refused while it is read: the handles say so too.
    let unreadable = Kbkdf::counter(
        CKM_SHA256_HMAC,
        vec![
            PrfInput::Iteration(Some((false, 32))),
            PrfInput::Other(CK_SP800_108_DKM_LENGTH),
        ],
    );
    let (result, handles) = unreadable.derive(&session, base, generic(32), vec![generic(16)]);
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_MECHANISM_PARAM_INVALID))
    );
    assert_eq!(handles, vec![CK_INVALID_HANDLE]);
}

#[test]
fn derived_keys_take_the_base_keys_sensitivity_unless_the_template_says() {
    let token = TestToken::new();
    let session = token.user_session();
    let generate = Template::default()
        .ulong(CKA_VALUE_LEN, 32)
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, true);
    let generated =
        raw_generate_key(&session, CKM_GENERIC_SECRET_KEY_GEN, generate).expect("C_GenerateKey");
    let (readable, _) = base_for(&session, CKM_SHA256_HMAC);
    let kdf = Kbkdf::counter(CKM_SHA256_HMAC, openssl_layout(false));
    let attributes = [
        CKA_SENSITIVE,
        CKA_EXTRACTABLE,
        CKA_ALWAYS_SENSITIVE,
        CKA_NEVER_EXTRACTABLE,
    ];
    let cases = [
        (generated, generic(32), [true, false, true, true]),
        (
            generated,
            generic(32)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true),
            [false, true, false, false],
        ),
        (readable, generic(32), [false, true, false, false]),
        (
            readable,
            generic(32)
                .bool(CKA_SENSITIVE, true)
                .bool(CKA_EXTRACTABLE, false),
            [true, false, false, false],
        ),
    ];
    for (i, (base, template, expected)) in cases.into_iter().enumerate() {
        let (derived, handles) = kdf.derive(&session, base, template.clone(), vec![template]);
        let derived = derived.unwrap_or_else(|rv| panic!("case {i}: {}", rv_name(rv)));
        for key in [derived, handles[0]] {
            let got: Vec<bool> = attributes
                .iter()
                .map(|&a| raw_bool(&session, key, a))
                .collect();
            assert_eq!(got, expected, "case {i}");
            assert!(!raw_bool(&session, key, CKA_LOCAL), "case {i}");
        }
        if expected[0] {
            assert_eq!(
                raw_secret_value(&session, derived).map_err(rv_name),
                Err(rv_name(CKR_ATTRIBUTE_SENSITIVE))
            );
        }
    }
}
