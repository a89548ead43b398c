//! Operations with stored keys: the object-level checks before the math,
//! wrapping, unwrapping and derivation.

use super::*;
use crate::device::{
    DeriveRequest, KeyRequest, Mechanism, MechanismParameter, UnwrapRequest, WrapRequest,
};
use crate::object::Attribute;

fn aes_key(device: &SoftDevice, value: &[u8], extra: &[Attribute]) -> Handle {
    create(device, &aes_template(value, extra))
}

/// A signature of `data` with `key`, made in the user's session 1.
fn sign(device: &SoftDevice, mechanism: &Mechanism, key: Handle, data: &[u8]) -> Vec<u8> {
    let mut operation = device
        .sign_init(&user_rw(), mechanism, key)
        .expect("sign_init");
    operation.sign(data).expect("sign")
}

/// Verifies `signature` of `data` with `key` in the user's session 1, or panics.
fn verify(device: &SoftDevice, mechanism: &Mechanism, key: Handle, data: &[u8], signature: &[u8]) {
    let mut operation = device
        .verify_init(&user_rw(), mechanism, key)
        .expect("verify_init");
    operation.verify(data, signature).expect("verify");
}

fn ecdsa() -> Mechanism {
    Mechanism::new(CKM_ECDSA_SHA256)
}

#[test]
fn a_generated_ec_key_signs_and_its_public_half_verifies() {
    let (_dir, device) = logged_in();
    let (public, private) = ec_pair(&device, &[], &[]);
    let signature = sign(&device, &ecdsa(), private, b"hello");
    let mut verify = device.verify_init(&public_rw(), &ecdsa(), public).unwrap();
    verify.verify(b"hello", &signature).unwrap();
    let mut verify = device.verify_init(&public_rw(), &ecdsa(), public).unwrap();
    assert_eq!(
        verify.verify(b"other", &signature).map_err(|e| e.rv()),
        Err(CKR_SIGNATURE_INVALID)
    );
}

#[test]
fn an_ed25519_pair_signs_and_verifies() {
    let (_dir, device) = logged_in();
    let public = [bytes(CKA_EC_PARAMS, ED25519)];
    let (public, private) = generate_pair(
        &device,
        &Mechanism::new(CKM_EC_EDWARDS_KEY_PAIR_GEN),
        &public,
        &[],
    );
    let eddsa = Mechanism::new(CKM_EDDSA);
    let signature = sign(&device, &eddsa, private, b"m");
    verify(&device, &eddsa, public, b"m", &signature);
}

#[test]
fn operation_init_checks_usage_flags_allowed_mechanisms_login_and_handles() {
    let (_dir, device) = logged_in();
    let (public, no_sign) = ec_pair(&device, &[], &[boolean(CKA_SIGN, false)]);
    let allowed = crate::object::encode_ulong(CKM_ECDSA);
    let (_, only_raw) = ec_pair(&device, &[], &[bytes(CKA_ALLOWED_MECHANISMS, &allowed)]);
    let aes = aes_key(&device, &[1u8; 16], &[boolean(CKA_ENCRYPT, false)]);
    let cbc = Mechanism {
        kind: CKM_AES_CBC_PAD,
        parameter: MechanismParameter::Raw(vec![0; 16]),
        caller_parameter: None,
    };
    let sign_init = |access: &Access, key| device.sign_init(access, &ecdsa(), key).map(drop);
    type Named<'a> = (&'a str, crate::error::Result<()>);
    let cases: Vec<(CK_RV, Vec<Named>)> = vec![
        (
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            vec![("CKA_SIGN false", sign_init(&user_rw(), no_sign))],
        ),
        (
            CKR_MECHANISM_INVALID,
            vec![("not an allowed mechanism", sign_init(&user_rw(), only_raw))],
        ),
        (
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            vec![(
                "CKA_ENCRYPT false",
                device.encrypt_init(&user_rw(), &cbc, aes).map(drop),
            )],
        ),
        (
            CKR_USER_NOT_LOGGED_IN,
            vec![("private key, no login", sign_init(&public_rw(), only_raw))],
        ),
        (
            CKR_KEY_FUNCTION_NOT_PERMITTED,
            vec![("public key cannot sign", sign_init(&user_rw(), public))],
        ),
        (
            CKR_KEY_HANDLE_INVALID,
            vec![
                ("unknown handle", sign_init(&user_rw(), 4242)),
                ("session handle", sign_init(&user_rw(), 0x8000_1234)),
            ],
        ),
    ];
    for (expected, results) in cases {
        for (name, result) in results {
            assert_refused(result, expected, name);
        }
    }
}

#[test]
fn a_key_destroyed_by_another_instance_is_refused_after_the_next_find() {
    let (dir, device) = logged_in();
    let (_, private) = ec_pair(&device, &[], &[]);
    device.sign_init(&user_rw(), &ecdsa(), private).unwrap();
    let other = open_logged_in(dir.path());
    other.destroy_object(&user_rw(), private).unwrap();
    find_all(&device, &user_rw());
    let result = device.sign_init(&user_rw(), &ecdsa(), private).map(drop);
    assert_eq!(result.map_err(|e| e.rv()), Err(CKR_KEY_HANDLE_INVALID));
}

#[test]
fn a_key_made_by_another_instance_is_usable_here() {
    let (dir, device) = logged_in();
    let other = open_logged_in(dir.path());
    let (public, private) = ec_pair(&other, &[], &[]);
    let signature = sign(&device, &ecdsa(), private, b"x");
    verify(&other, &ecdsa(), public, b"x", &signature);
}

/// Wraps `key` under `wrapping` (AES key wrap with padding) and unwraps
/// the result with `template`: the new key's handle.
fn wrap_and_unwrap(
    device: &SoftDevice,
    wrapping: Handle,
    key: Handle,
    template: &[Attribute],
) -> Handle {
    let mechanism = Mechanism::new(CKM_AES_KEY_WRAP_PAD);
    let wrapped = device
        .wrap_key(&user_rw(), wrap_request(&mechanism, wrapping, key))
        .expect("wrap_key");
    device
        .unwrap_key(
            &user_rw(),
            UnwrapRequest {
                mechanism: &mechanism,
                unwrapping_key: wrapping,
                wrapped: &wrapped,
                template,
            },
        )
        .expect("unwrap_key")
}

#[test]
fn a_secret_key_wraps_and_unwraps_into_an_equal_key() {
    let (_dir, device) = logged_in();
    let wrapping = aes_key(&device, &[8u8; 32], &[]);
    let target = aes_key(&device, &[9u8; 24], &[boolean(CKA_EXTRACTABLE, true)]);
    let template = [
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, CKK_AES),
        boolean(CKA_SENSITIVE, false),
        boolean(CKA_EXTRACTABLE, true),
    ];
    let unwrapped = wrap_and_unwrap(&device, wrapping, target, &template);
    assert_value(&device, unwrapped, CKA_VALUE, vec![9u8; 24]);
    assert_value(
        &device,
        unwrapped,
        CKA_VALUE_LEN,
        crate::object::encode_ulong(24),
    );
    assert_value(&device, unwrapped, CKA_LOCAL, vec![CK_FALSE]);
}

#[test]
fn a_private_key_wraps_as_pkcs8_and_unwraps_into_a_working_key() {
    let (_dir, device) = logged_in();
    let wrapping = aes_key(&device, &[8u8; 32], &[]);
    let (public, private) = ec_pair(&device, &[], &[boolean(CKA_EXTRACTABLE, true)]);
    let template = [
        ulong(CKA_CLASS, CKO_PRIVATE_KEY),
        ulong(CKA_KEY_TYPE, CKK_EC),
    ];
    let unwrapped = wrap_and_unwrap(&device, wrapping, private, &template);
    let signature = sign(&device, &ecdsa(), unwrapped, b"w");
    verify(&device, &ecdsa(), public, b"w", &signature);
}

#[test]
fn wrap_and_unwrap_errors_name_the_right_key() {
    let (_dir, device) = logged_in();
    let wrapping = aes_key(&device, &[8u8; 32], &[]);
    let no_wrap = aes_key(
        &device,
        &[8u8; 32],
        &[boolean(CKA_WRAP, false), boolean(CKA_UNWRAP, false)],
    );
    let unextractable = aes_key(&device, &[7u8; 16], &[boolean(CKA_EXTRACTABLE, false)]);
    let target = aes_key(&device, &[6u8; 16], &[]);
    let data = create(&device, &data_template("d"));
    let mechanism = Mechanism::new(CKM_AES_KEY_WRAP_PAD);
    let template = [
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, CKK_AES),
    ];
    let wrap = |wrapping, key| {
        device
            .wrap_key(&user_rw(), wrap_request(&mechanism, wrapping, key))
            .map(drop)
            .map_err(|e| e.rv())
    };
    let unwrap = |key| {
        device
            .unwrap_key(
                &user_rw(),
                UnwrapRequest {
                    mechanism: &mechanism,
                    unwrapping_key: key,
                    wrapped: &[0u8; 40],
                    template: &template,
                },
            )
            .map(drop)
            .map_err(|e| e.rv())
    };
    assert_eq!(wrap(4242, target), Err(CKR_WRAPPING_KEY_HANDLE_INVALID));
    assert_eq!(wrap(wrapping, 4242), Err(CKR_KEY_HANDLE_INVALID));
    assert_eq!(wrap(no_wrap, target), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
    assert_eq!(wrap(wrapping, unextractable), Err(CKR_KEY_UNEXTRACTABLE));
    assert_eq!(wrap(wrapping, data), Err(CKR_KEY_NOT_WRAPPABLE));
    assert_eq!(unwrap(4242), Err(CKR_UNWRAPPING_KEY_HANDLE_INVALID));
    assert_eq!(unwrap(no_wrap), Err(CKR_KEY_FUNCTION_NOT_PERMITTED));
}

#[test]
fn ecdh_derives_the_same_aes_key_on_both_sides() {
    let (_dir, device) = logged_in();
    let (alice_public, alice) = ec_pair(&device, &[], &[]);
    let (bob_public, bob) = ec_pair(&device, &[], &[]);
    let point_of = |public| value_of(&device, &user_rw(), public, CKA_EC_POINT);
    let template = [
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, CKK_AES),
        ulong(CKA_VALUE_LEN, 32),
        boolean(CKA_SENSITIVE, false),
        boolean(CKA_EXTRACTABLE, true),
    ];
    let derive = |private, peer_point: Vec<u8>| {
        let mechanism = Mechanism {
            kind: CKM_ECDH1_DERIVE,
            parameter: MechanismParameter::Ecdh {
                kdf: CKD_NULL,
                shared_data: Vec::new(),
                public_data: peer_point,
            },
            caller_parameter: None,
        };
        let key = device
            .derive_key(&user_rw(), derive_request(&mechanism, private, &template))
            .unwrap()
            .key;
        value_of(&device, &user_rw(), key, CKA_VALUE)
    };
    let from_alice = derive(alice, point_of(bob_public));
    let from_bob = derive(bob, point_of(alice_public));
    assert_eq!(from_alice.len(), 32);
    assert_eq!(from_alice, from_bob);
}

#[test]
fn ecdh_into_aes_needs_a_value_length() {
    let (_dir, device) = logged_in();
    let (public, private) = ec_pair(&device, &[], &[]);
    let mechanism = Mechanism {
        kind: CKM_ECDH1_DERIVE,
        parameter: MechanismParameter::Ecdh {
            kdf: CKD_NULL,
            shared_data: Vec::new(),
            public_data: value_of(&device, &user_rw(), public, CKA_EC_POINT),
        },
        caller_parameter: None,
    };
    let template = [
        ulong(CKA_CLASS, CKO_SECRET_KEY),
        ulong(CKA_KEY_TYPE, CKK_AES),
    ];
    let result = device
        .derive_key(&user_rw(), derive_request(&mechanism, private, &template))
        .map_err(|e| e.rv());
    assert_eq!(result, Err(CKR_TEMPLATE_INCOMPLETE));
}

#[test]
fn a_generated_generic_secret_computes_and_checks_an_hmac() {
    let (_dir, device) = logged_in();
    let template = [boolean(CKA_TOKEN, true), ulong(CKA_VALUE_LEN, 32)];
    let mechanism = Mechanism::new(CKM_GENERIC_SECRET_KEY_GEN);
    let key = device
        .generate_key(
            &user_rw(),
            KeyRequest {
                mechanism: &mechanism,
                template: &template,
            },
        )
        .unwrap();
    let hmac = Mechanism::new(CKM_SHA256_HMAC);
    let tag = sign(&device, &hmac, key, b"data");
    assert_eq!(tag.len(), 32);
    verify(&device, &hmac, key, b"data", &tag);
}

#[test]
fn a_session_key_pair_works_until_its_session_closes() {
    let (_dir, device) = logged_in();
    let public = [bytes(CKA_EC_PARAMS, P256)];
    let mechanism = Mechanism::new(CKM_EC_KEY_PAIR_GEN);
    let (public, private) = generate_pair(&device, &mechanism, &public, &[]);
    assert!(public >= 0x8000_0000 && private >= 0x8000_0000);
    let signature = sign(&device, &ecdsa(), private, b"s");
    verify(&device, &ecdsa(), public, b"s", &signature);
    device.close_session(1);
    let result = device.sign_init(&user_rw(), &ecdsa(), private).map(drop);
    assert_eq!(result.map_err(|e| e.rv()), Err(CKR_KEY_HANDLE_INVALID));
}

#[test]
fn a_token_key_signs_again_after_logout_and_login() {
    let (_dir, device) = logged_in();
    let (_, private) = ec_pair(&device, &[], &[]);
    device.sign_init(&user_rw(), &ecdsa(), private).unwrap();
    device.logout();
    let result = device.sign_init(&public_rw(), &ecdsa(), private).map(drop);
    assert_eq!(result.map_err(|e| e.rv()), Err(CKR_USER_NOT_LOGGED_IN));
    device.login(0, UserType::User, USER_PIN).unwrap();
    sign(&device, &ecdsa(), private, b"again");
}

/// `C_WrapKey`'s request: `key` wrapped with `wrapping_key`.
fn wrap_request(mechanism: &Mechanism, wrapping_key: Handle, key: Handle) -> WrapRequest<'_> {
    WrapRequest {
        mechanism,
        wrapping_key,
        key,
    }
}

/// `C_DeriveKey`'s request.
fn derive_request<'a>(
    mechanism: &'a Mechanism,
    base_key: Handle,
    template: &'a [Attribute],
) -> DeriveRequest<'a> {
    DeriveRequest {
        mechanism,
        base_key,
        template,
    }
}
