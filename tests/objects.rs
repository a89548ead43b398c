//! Key objects through the object functions (PKCS#11 3.0 §5.7): copy,
//! destroy, set, size, search, and the CKA_MODIFIABLE/CKA_DESTROYABLE/
//! CKA_COPYABLE rules.

#[macro_use]
mod common;

use common::*;
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;

fn aes_key(session: &Session, extra: &[Attribute]) -> ObjectHandle {
    let mut template = vec![
        Attribute::Token(false),
        Attribute::ValueLen(16.into()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Label(b"original".to_vec()),
    ];
    template.retain(|a| {
        !extra
            .iter()
            .any(|e| e.attribute_type() == a.attribute_type())
    });
    template.extend_from_slice(extra);
    session
        .generate_key(&Mechanism::AesKeyGen, &template)
        .unwrap_or_else(|e| panic!("C_GenerateKey AES: {e}"))
}

#[test]
fn copied_key_takes_the_template_changes_and_is_the_same_key() {
    let token = TestToken::new();
    let session = token.user_session();
    let original = aes_key(&session, &[]);
    let copy = session
        .copy_object(
            original,
            &[Attribute::Label(b"copy".to_vec()), Attribute::Token(true)],
        )
        .expect("C_CopyObject");
    assert_ne!(copy, original);
    let attributes = session
        .get_attributes(copy, &[AttributeType::Label, AttributeType::Token])
        .unwrap();
    assert_eq!(
        attributes,
        vec![Attribute::Label(b"copy".to_vec()), Attribute::Token(true)]
    );
    let block = [0x42u8; 16];
    assert_eq!(
        session
            .encrypt(&Mechanism::AesEcb, original, &block)
            .unwrap(),
        session.encrypt(&Mechanism::AesEcb, copy, &block).unwrap()
    );
}

#[test]
fn copy_cannot_make_a_sensitive_key_readable() {
    let token = TestToken::new();
    let session = token.user_session();
    let sensitive = aes_key(&session, &[Attribute::Sensitive(true)]);
    assert_rv(
        session.copy_object(sensitive, &[Attribute::Sensitive(false)]),
        RvError::AttributeReadOnly,
    );
}

#[test]
fn destroyed_key_handle_is_object_handle_invalid() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &[Attribute::Token(true)]);
    session.destroy_object(key).expect("C_DestroyObject");
    assert_rv(
        session.get_attributes(key, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
    assert!(find(&session, &[Attribute::Label(b"original".to_vec())]).is_empty());
}

#[test]
fn protected_keys_refuse_the_prohibited_action() {
    let token = TestToken::new();
    let session = token.user_session();
    let h = session.handle();
    let unmodifiable = aes_key(&session, &[Attribute::Modifiable(false)]).handle();
    let undestroyable = aes_key(&session, &[Attribute::Destroyable(false)]).handle();
    let uncopyable = aes_key(&session, &[Attribute::Copyable(false)]).handle();
    let mut label = *b"changed";
    let mut set = [raw_attribute(CKA_LABEL, &mut label)];
    let mut copy: CK_OBJECT_HANDLE = 0;
    let cases = [
        (
            "set on CKA_MODIFIABLE=false",
            ck!(C_SetAttributeValue(h, unmodifiable, set.as_mut_ptr(), 1)),
        ),
        (
            "destroy on CKA_DESTROYABLE=false",
            ck!(C_DestroyObject(h, undestroyable)),
        ),
        (
            "copy on CKA_COPYABLE=false",
            ck!(C_CopyObject(
                h,
                uncopyable,
                std::ptr::null_mut(),
                0,
                &mut copy
            )),
        ),
    ];
    assert_all_rv(cases.to_vec(), CKR_ACTION_PROHIBITED);
}

#[test]
fn key_object_size_is_reported() {
    let token = TestToken::new();
    let session = token.user_session();
    let key = aes_key(&session, &[]);
    let mut size: CK_ULONG = 0;
    assert_ck!(
        ck!(C_GetObjectSize(session.handle(), key.handle(), &mut size)),
        CKR_OK
    );
    assert!(
        size > 0 && size != CK_UNAVAILABLE_INFORMATION,
        "size {size}"
    );
}

#[test]
fn searches_match_every_attribute_of_the_template() {
    let token = TestToken::new();
    let session = token.user_session();
    // What the token holds before (a vendor token has its storage-signing key).
    let before = find(&session, &[]).len();
    let aes = aes_key(&session, &[Attribute::Id(b"k1".to_vec())]);
    let rsa = generate_rsa(&session, 2048, false, b"k1");
    let ec = generate_ec(&session, P256, false, b"k2");
    let sorted = |mut v: Vec<ObjectHandle>| {
        v.sort_by_key(|h| h.handle());
        v
    };
    assert_eq!(
        sorted(find(&session, &[Attribute::Id(b"k1".to_vec())])),
        sorted(vec![aes, rsa.public, rsa.private])
    );
    assert_eq!(
        find(
            &session,
            &[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::KeyType(KeyType::EC),
            ],
        ),
        vec![ec.private]
    );
    assert_eq!(
        find(
            &session,
            &[
                Attribute::Id(b"k1".to_vec()),
                Attribute::Class(ObjectClass::PUBLIC_KEY),
            ],
        ),
        vec![rsa.public]
    );
    assert_eq!(
        find(&session, &[]).len(),
        before + 5,
        "an empty template finds all"
    );
}

#[test]
fn changed_token_key_attributes_persist_across_reinitialisation() {
    let mut token = TestToken::new();
    {
        let session = token.user_session();
        let key = aes_key(&session, &[Attribute::Token(true)]);
        session
            .update_attributes(
                key,
                &[
                    Attribute::Label(b"renamed".to_vec()),
                    Attribute::Id(b"new-id".to_vec()),
                ],
            )
            .expect("C_SetAttributeValue on a token key");
    }
    token.reinitialize();
    let session = token.user_session();
    let found = find(
        &session,
        &[
            Attribute::Label(b"renamed".to_vec()),
            Attribute::Id(b"new-id".to_vec()),
        ],
    );
    assert_eq!(found.len(), 1);
    assert!(find(&session, &[Attribute::Label(b"original".to_vec())]).is_empty());
}
