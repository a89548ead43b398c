//! The simple derivations (PKCS#11 3.0 §2.43: `CKM_CONCATENATE_BASE_AND_KEY`,
//! `CKM_CONCATENATE_BASE_AND_DATA`, `CKM_CONCATENATE_DATA_AND_BASE`,
//! `CKM_XOR_BASE_AND_DATA`, `CKM_EXTRACT_KEY_FROM_KEY`; §2.11.4:
//! `CKM_AES_ECB_ENCRYPT_DATA`, `CKM_AES_CBC_ENCRYPT_DATA`) through the C
//! ABI: the values against the specification's example, FIPS 197 and
//! openssl, and the finer points of custody: which source protects the
//! result, and how many of a protected key's bytes a result must hold
//! (tests/key_custody.rs checks each derivation's custody as a whole).

#[macro_use]
mod common;

use common::*;
use cryptoki::session::Session;
use cryptoki_sys::*;
use openssl::symm::{encrypt, Cipher};

/// A session secret key of `key_type` with `value` that may derive, with
/// the given `CKA_SENSITIVE` and `CKA_EXTRACTABLE`.
fn secret(
    session: &Session,
    key_type: CK_KEY_TYPE,
    value: &[u8],
    sensitive: bool,
    extractable: bool,
) -> CK_OBJECT_HANDLE {
    let extra = Template::default()
        .bool(CKA_DERIVE, true)
        .bool(CKA_SENSITIVE, sensitive)
        .bool(CKA_EXTRACTABLE, extractable);
    raw_secret(session, key_type, value, extra)
}

/// A readable base key (not sensitive, extractable).
fn readable(session: &Session, key_type: CK_KEY_TYPE, value: &[u8]) -> CK_OBJECT_HANDLE {
    secret(session, key_type, value, false, true)
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
    let cases: Vec<(CK_MECHANISM_TYPE, Box<DeriveParameter>, &str)> = vec![
        (
            CKM_CONCATENATE_BASE_AND_DATA,
            DeriveParameter::data(&unhex("f0f0f0")),
            "0102030405f0f0f0",
        ),
        (
            CKM_CONCATENATE_DATA_AND_BASE,
            DeriveParameter::data(&unhex("f0f0f0")),
            "f0f0f00102030405",
        ),
        (
            CKM_XOR_BASE_AND_DATA,
            DeriveParameter::data(&unhex("f0f0f0")),
            "f1f2f3",
        ),
        (
            CKM_CONCATENATE_BASE_AND_KEY,
            DeriveParameter::ulong(second),
            "0102030405a0b0",
        ),
    ];
    for (kind, mut parameter, expected) in cases {
        let key = raw_derive(&session, kind, &mut parameter, base, readable_result())
            .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
        assert_eq!(
            raw_secret_value(&session, key),
            Ok(unhex(expected)),
            "{kind:#x}"
        );
        assert_eq!(
            raw_ulong(&session, key, CKA_VALUE_LEN),
            expected.len() as CK_ULONG / 2
        );
        assert!(
            !raw_bool(&session, key, CKA_LOCAL),
            "{kind:#x}: a derived key is not local"
        );
    }
    // CKA_VALUE_LEN takes the leading bytes; more than there is is refused.
    let mut data = DeriveParameter::data(&unhex("f0f0f0"));
    let key = raw_derive(
        &session,
        CKM_CONCATENATE_BASE_AND_DATA,
        &mut data,
        base,
        readable_result().ulong(CKA_VALUE_LEN, 6),
    )
    .expect("C_DeriveKey with CKA_VALUE_LEN");
    assert_eq!(raw_secret_value(&session, key), Ok(unhex("0102030405f0")));
    let longer = raw_derive(
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
    let mut parameter = DeriveParameter::ulong(21);
    let key = raw_derive(
        &session,
        CKM_EXTRACT_KEY_FROM_KEY,
        &mut parameter,
        base,
        readable_result().ulong(CKA_VALUE_LEN, 2),
    )
    .expect("C_DeriveKey CKM_EXTRACT_KEY_FROM_KEY");
    assert_eq!(raw_secret_value(&session, key), Ok(unhex("9526")));
    let mut beyond = DeriveParameter::ulong(32);
    let result = raw_derive(
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
    let mut ecb = DeriveParameter::data(&plaintext);
    let aes_result = || {
        Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .bool(CKA_SENSITIVE, false)
            .bool(CKA_EXTRACTABLE, true)
    };
    let key = raw_derive(
        &session,
        CKM_AES_ECB_ENCRYPT_DATA,
        &mut ecb,
        base,
        aes_result(),
    )
    .expect("C_DeriveKey CKM_AES_ECB_ENCRYPT_DATA");
    assert_eq!(
        raw_secret_value(&session, key),
        Ok(unhex("69c4e0d86a7b0430d8cdb78070b4c55a"))
    );
    assert_eq!(raw_ulong(&session, key, CKA_KEY_TYPE), CKK_AES);

    let iv = [0x5Cu8; 16];
    let data: Vec<u8> = (0u8..32).collect();
    let mut expected = encrypt(Cipher::aes_128_cbc(), &key_value, Some(&iv), &data).unwrap();
    expected.truncate(32); // openssl pads; the derivation does not
    let mut cbc = DeriveParameter::cbc(iv, &data);
    let key = raw_derive(
        &session,
        CKM_AES_CBC_ENCRYPT_DATA,
        &mut cbc,
        base,
        aes_result(),
    )
    .expect("C_DeriveKey CKM_AES_CBC_ENCRYPT_DATA");
    assert_eq!(raw_secret_value(&session, key), Ok(expected));

    let mut partial = DeriveParameter::data(&plaintext[..15]);
    let result = raw_derive(
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
    let mut data = DeriveParameter::data(&[1u8; 20]);
    let result = raw_derive(&session, CKM_XOR_BASE_AND_DATA, &mut data, base, aes());
    assert_eq!(
        result.map_err(rv_name),
        Err(rv_name(CKR_TEMPLATE_INCOMPLETE))
    );
    let result = raw_derive(
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
    let key = raw_derive(
        &session,
        CKM_XOR_BASE_AND_DATA,
        &mut data,
        base,
        aes().ulong(CKA_VALUE_LEN, 16),
    )
    .expect("an AES key of 16 bytes");
    assert_eq!(raw_ulong(&session, key, CKA_VALUE_LEN), 16);
}

#[test]
fn a_key_derived_from_a_generated_key_keeps_its_history() {
    let token = TestToken::new();
    let session = token.user_session();
    let generate = Template::default()
        .ulong(CKA_VALUE_LEN, 16)
        .bool(CKA_TOKEN, false)
        .bool(CKA_DERIVE, true);
    let base = raw_generate_key(&session, CKM_AES_KEY_GEN, generate).expect("C_GenerateKey");
    let second = secret(&session, CKK_AES, &[9; 16], true, false);
    for (kind, mut parameter) in simple_derivations(second) {
        if refuses_protected(kind) {
            continue; // a generated key is protected: not concatenated nor XORed
        }
        let generic = Template::default()
            .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
            .ulong(CKA_VALUE_LEN, 16);
        let key = raw_derive(&session, kind, &mut parameter, base, generic)
            .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
        // The imported second key has no history: neither has the concatenation.
        let history = kind != CKM_CONCATENATE_BASE_AND_KEY;
        assert_eq!(
            raw_bool(&session, key, CKA_ALWAYS_SENSITIVE),
            history,
            "{kind:#x}"
        );
        assert_eq!(
            raw_bool(&session, key, CKA_NEVER_EXTRACTABLE),
            history,
            "{kind:#x}"
        );
    }
}

#[test]
fn a_base_key_that_may_not_derive_is_key_function_not_permitted() {
    let token = TestToken::new();
    let session = token.user_session();
    let no_derive = raw_secret(
        &session,
        CKK_AES,
        &[5; 16],
        Template::default().bool(CKA_DERIVE, false),
    );
    let may_derive = readable(&session, CKK_AES, &[6; 16]);
    for (kind, mut parameter) in simple_derivations(no_derive) {
        let base = if kind == CKM_CONCATENATE_BASE_AND_KEY {
            may_derive
        } else {
            no_derive
        };
        let result = raw_derive(&session, kind, &mut parameter, base, readable_result());
        assert_eq!(
            result.map_err(rv_name),
            Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED)),
            "{kind:#x}"
        );
    }
}

/// A generic secret result of `len` bytes, with no custody asked.
fn generic(len: CK_ULONG) -> Template {
    Template::default()
        .ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET)
        .ulong(CKA_VALUE_LEN, len)
}

#[test]
fn a_sensitive_but_extractable_base_gives_a_sensitive_key_that_may_be_extractable() {
    let token = TestToken::new();
    let session = token.user_session();
    let base = secret(&session, CKK_AES, &[0x42; 16], true, true);
    for (kind, mut parameter) in simple_derivations(base) {
        if refuses_protected(kind) {
            assert_eq!(
                raw_derive(&session, kind, &mut parameter, base, generic(16)).map_err(rv_name),
                Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED)),
                "{kind:#x}"
            );
            continue;
        }
        let key = raw_derive(
            &session,
            kind,
            &mut parameter,
            base,
            generic(16).bool(CKA_EXTRACTABLE, true),
        )
        .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
        assert!(raw_bool(&session, key, CKA_SENSITIVE), "{kind:#x}");
        assert!(raw_bool(&session, key, CKA_EXTRACTABLE), "{kind:#x}");
        assert_eq!(
            raw_secret_value(&session, key).map_err(rv_name),
            Err(rv_name(CKR_ATTRIBUTE_SENSITIVE)),
            "{kind:#x}"
        );
        let loosened = raw_derive(
            &session,
            kind,
            &mut parameter,
            base,
            generic(16).bool(CKA_SENSITIVE, false),
        );
        assert_eq!(
            loosened.map_err(rv_name),
            Err(rv_name(CKR_TEMPLATE_INCONSISTENT)),
            "{kind:#x}"
        );
    }
}

#[test]
fn a_concatenation_with_a_protected_key_on_either_side_is_key_function_not_permitted() {
    let token = TestToken::new();
    let session = token.user_session();
    let readable_key = readable(&session, CKK_AES, &[0x11; 16]);
    let sensitive = secret(&session, CKK_AES, &[0x22; 16], true, true);
    let unextractable = secret(&session, CKK_AES, &[0x33; 16], false, false);
    for protected in [sensitive, unextractable] {
        let cases: Vec<(CK_MECHANISM_TYPE, Box<DeriveParameter>, CK_OBJECT_HANDLE)> = vec![
            (
                CKM_CONCATENATE_BASE_AND_KEY,
                DeriveParameter::ulong(protected),
                readable_key,
            ),
            (
                CKM_CONCATENATE_BASE_AND_KEY,
                DeriveParameter::ulong(readable_key),
                protected,
            ),
            (
                CKM_CONCATENATE_BASE_AND_DATA,
                DeriveParameter::data(&[1; 16]),
                protected,
            ),
            (
                CKM_CONCATENATE_DATA_AND_BASE,
                DeriveParameter::data(&[1; 16]),
                protected,
            ),
        ];
        for (kind, mut parameter, base) in cases {
            assert_eq!(
                raw_derive(&session, kind, &mut parameter, base, generic(32)).map_err(rv_name),
                Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED)),
                "{kind:#x}"
            );
        }
    }
}

#[test]
fn a_protected_key_is_not_xored_and_does_not_become_a_two_key_triple_des_key() {
    let token = TestToken::new();
    let session = token.user_session();
    // A template for `key_type`, readable if `readable`.
    let template = |key_type, readable: bool| {
        let template = Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, key_type)
            .bool(CKA_ENCRYPT, true);
        match readable {
            true => template
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true),
            false => template,
        }
    };
    let readable_key = readable(&session, CKK_GENERIC_SECRET, &[0x5a; 24]);
    for (sensitive, extractable) in [(true, true), (false, false), (true, false)] {
        let protected = secret(
            &session,
            CKK_GENERIC_SECRET,
            &[0x5a; 24],
            sensitive,
            extractable,
        );
        // A one-bit difference in one DES key of three would let that DES
        // key be searched for alone.
        let mut one_bit = vec![0; 24];
        one_bit[16] = 2;
        let mut parameter = DeriveParameter::data(&one_bit);
        assert_eq!(
            raw_derive(
                &session,
                CKM_XOR_BASE_AND_DATA,
                &mut parameter,
                protected,
                template(CKK_DES3, false)
            )
            .map_err(rv_name),
            Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED)),
            "sensitive {sensitive}, extractable {extractable}"
        );
        let mut from_bit_0 = DeriveParameter::ulong(0);
        assert_eq!(
            raw_derive(
                &session,
                CKM_EXTRACT_KEY_FROM_KEY,
                &mut from_bit_0,
                protected,
                template(CKK_DES2, false)
            )
            .map_err(rv_name),
            Err(rv_name(CKR_TEMPLATE_INCONSISTENT)),
            "sensitive {sensitive}, extractable {extractable}"
        );
        // A three-key Triple DES key holding all 24 bytes is made.
        let mut from_bit_0 = DeriveParameter::ulong(0);
        raw_derive(
            &session,
            CKM_EXTRACT_KEY_FROM_KEY,
            &mut from_bit_0,
            protected,
            template(CKK_DES3, false),
        )
        .expect("a CKK_DES3 key holding the whole protected key");
        // A readable key may be both.
        let mut parameter = DeriveParameter::data(&one_bit);
        raw_derive(
            &session,
            CKM_XOR_BASE_AND_DATA,
            &mut parameter,
            readable_key,
            template(CKK_DES3, true),
        )
        .expect("XOR of a readable key");
        let mut from_bit_0 = DeriveParameter::ulong(0);
        raw_derive(
            &session,
            CKM_EXTRACT_KEY_FROM_KEY,
            &mut from_bit_0,
            readable_key,
            template(CKK_DES2, true),
        )
        .expect("a CKK_DES2 key from a readable key");
    }
}

/// One derivation of a short result: mechanism, parameter, base, length.
type Probe = (
    CK_MECHANISM_TYPE,
    Box<DeriveParameter>,
    CK_OBJECT_HANDLE,
    CK_ULONG,
);

/// The derivations that could give a searchable piece of `base` (32
/// bytes), each holding `held` of its bytes.
fn probes(base: CK_OBJECT_HANDLE, held: CK_ULONG) -> Vec<Probe> {
    let extract = |bit| {
        (
            CKM_EXTRACT_KEY_FROM_KEY,
            DeriveParameter::ulong(bit),
            base,
            held,
        )
    };
    vec![
        extract(0),
        extract(8 * 17),
        (
            CKM_AES_ECB_ENCRYPT_DATA,
            DeriveParameter::data(&[7; 16]),
            base,
            held,
        ),
    ]
}

#[test]
fn a_result_holding_fewer_than_16_bytes_of_a_protected_key_is_template_inconsistent() {
    let token = TestToken::new();
    let session = token.user_session();
    for (sensitive, extractable) in [(true, true), (false, false), (true, false)] {
        let base = secret(&session, CKK_AES, &[0x42; 32], sensitive, extractable);
        for held in [1, 15] {
            for (kind, mut parameter, from, len) in probes(base, held) {
                let result = raw_derive(&session, kind, &mut parameter, from, generic(len));
                assert_eq!(
                    result.map_err(rv_name),
                    Err(rv_name(CKR_TEMPLATE_INCONSISTENT)),
                    "{kind:#x}: {held} bytes of a key with sensitive {sensitive}, \
                     extractable {extractable}"
                );
            }
        }
        for (kind, mut parameter, from, len) in probes(base, 16) {
            raw_derive(&session, kind, &mut parameter, from, generic(len))
                .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}, 16 bytes: {}", rv_name(rv)));
        }
    }
    // A readable key's pieces are no secret: any length derives.
    let base = readable(&session, CKK_AES, &[0x42; 32]);
    for (kind, mut parameter, from, len) in probes(base, 1) {
        let key = raw_derive(
            &session,
            kind,
            &mut parameter,
            from,
            generic(len)
                .bool(CKA_SENSITIVE, false)
                .bool(CKA_EXTRACTABLE, true),
        )
        .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x} from a readable key: {}", rv_name(rv)));
        assert_eq!(raw_ulong(&session, key, CKA_VALUE_LEN), len, "{kind:#x}");
    }
    // A protected key shorter than 16 bytes derives only when all of it is held.
    let short = secret(&session, CKK_GENERIC_SECRET, &[0x42; 8], true, false);
    let mut from_bit_0 = DeriveParameter::ulong(0);
    let kind = CKM_EXTRACT_KEY_FROM_KEY;
    raw_derive(&session, kind, &mut from_bit_0, short, generic(8)).expect("all 8 bytes");
    assert_eq!(
        raw_derive(&session, kind, &mut from_bit_0, short, generic(7)).map_err(rv_name),
        Err(rv_name(CKR_TEMPLATE_INCONSISTENT))
    );
}

#[test]
fn an_exact_copy_of_a_wrap_with_trusted_key_is_wrapped_only_under_a_trusted_key() {
    let token = TestToken::new();
    let session = token.user_session();
    let protected = Template::default()
        .bool(CKA_DERIVE, true)
        .bool(CKA_SENSITIVE, true)
        .bool(CKA_EXTRACTABLE, true)
        .bool(CKA_WRAP_WITH_TRUSTED, true);
    let base = raw_secret(&session, CKK_AES, &[0x42; 16], protected);
    let own_kek = raw_secret(
        &session,
        CKK_AES,
        &[0x24; 16],
        Template::default().bool(CKA_WRAP, true),
    );
    let copies = [(CKM_EXTRACT_KEY_FROM_KEY, DeriveParameter::ulong(0))];
    for (kind, mut parameter) in copies {
        let aes = Template::default()
            .ulong(CKA_CLASS, CKO_SECRET_KEY)
            .ulong(CKA_KEY_TYPE, CKK_AES)
            .ulong(CKA_VALUE_LEN, 16)
            .bool(CKA_EXTRACTABLE, true);
        let unguarded = aes.clone().bool(CKA_WRAP_WITH_TRUSTED, false);
        assert_eq!(
            raw_derive(&session, kind, &mut parameter, base, unguarded).map_err(rv_name),
            Err(rv_name(CKR_TEMPLATE_INCONSISTENT)),
            "{kind:#x}"
        );
        let public = aes.clone().bool(CKA_PRIVATE, false);
        assert_eq!(
            raw_derive(&session, kind, &mut parameter, base, public).map_err(rv_name),
            Err(rv_name(CKR_TEMPLATE_INCONSISTENT)),
            "{kind:#x}"
        );
        let copy = raw_derive(&session, kind, &mut parameter, base, aes)
            .unwrap_or_else(|rv| panic!("C_DeriveKey {kind:#x}: {}", rv_name(rv)));
        assert!(raw_bool(&session, copy, CKA_WRAP_WITH_TRUSTED), "{kind:#x}");
        assert!(raw_bool(&session, copy, CKA_PRIVATE), "{kind:#x}");
        let mut mechanism = raw_mechanism(CKM_AES_KEY_WRAP);
        let mut wrapped = vec![0u8; 64];
        let mut len = wrapped.len() as CK_ULONG;
        assert_ck!(
            ck!(C_WrapKey(
                session.handle(),
                &mut mechanism,
                own_kek,
                copy,
                wrapped.as_mut_ptr(),
                &mut len
            )),
            CKR_KEY_NOT_WRAPPABLE
        );
    }
}

#[test]
fn a_protected_key_is_not_rebuilt_through_a_known_protected_key_or_a_derived_one() {
    let token = TestToken::new();
    let session = token.user_session();
    let target = secret(&session, CKK_GENERIC_SECRET, &[0x42; 32], true, false);
    // A sensitive key whose value the caller chose, and so knows: 16 known
    // bytes and one of the target's would be a 17-byte HMAC key to search.
    let known = secret(&session, CKK_GENERIC_SECRET, &[0x24; 16], true, false);
    let mut parameter = DeriveParameter::ulong(target);
    let kind = CKM_CONCATENATE_BASE_AND_KEY;
    assert_eq!(
        raw_derive(&session, kind, &mut parameter, known, generic(17)).map_err(rv_name),
        Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED))
    );
    // 3000 known bytes, then the target: a key to extract one byte of the
    // target and 15 known ones from.
    let mut known_prefix = DeriveParameter::data(&[0x11; 3000]);
    assert_eq!(
        raw_derive(
            &session,
            CKM_CONCATENATE_DATA_AND_BASE,
            &mut known_prefix,
            target,
            Template::default()
        )
        .map_err(rv_name),
        Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED))
    );
    // What a protected key may give holds only unknown bytes, and what is
    // derived from that again holds 16 of them at least.
    let mut from_bit_0 = DeriveParameter::ulong(0);
    let piece = raw_derive(
        &session,
        CKM_EXTRACT_KEY_FROM_KEY,
        &mut from_bit_0,
        target,
        generic(16),
    )
    .expect("16 bytes of the target");
    let mut one_byte_xor = DeriveParameter::data(&[0]);
    assert_eq!(
        raw_derive(
            &session,
            CKM_XOR_BASE_AND_DATA,
            &mut one_byte_xor,
            piece,
            generic(1)
        )
        .map_err(rv_name),
        Err(rv_name(CKR_KEY_FUNCTION_NOT_PERMITTED))
    );
    // Readable keys made by a simple derivation derive on: nothing to protect.
    let readable_base = readable(&session, CKK_GENERIC_SECRET, &[0x33; 32]);
    let readable_template = || {
        generic(32)
            .bool(CKA_SENSITIVE, false)
            .bool(CKA_EXTRACTABLE, true)
    };
    let mut zeros = DeriveParameter::data(&[0; 32]);
    let first = raw_derive(
        &session,
        CKM_CONCATENATE_BASE_AND_DATA,
        &mut zeros,
        readable_base,
        readable_template(),
    )
    .expect("a readable key from a readable key");
    raw_derive(
        &session,
        CKM_CONCATENATE_DATA_AND_BASE,
        &mut zeros,
        first,
        readable_template(),
    )
    .expect("and another from it");
}
