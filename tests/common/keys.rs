//! Keys and objects the tests need: generated and imported keys, their
//! attributes, and the openssl view of a token public key.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

/// The DER `CKA_EC_PARAMS` (a named-curve OID) of the curves the tests use.
pub const P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
pub const P384: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
pub const P521: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23];
pub const ED25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];
pub const P224: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x21];
pub const SECP256K1: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A];
pub const ED448: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x71];
pub const X25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x6E];
pub const X448: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x6F];

/// A key pair's two handles.
#[derive(Clone, Copy, Debug)]
pub struct KeyPair {
    pub public: ObjectHandle,
    pub private: ObjectHandle,
}

/// Generates an RSA key pair (e = 65537) usable for everything RSA does.
pub fn generate_rsa(session: &Session, bits: u64, token: bool, id: &[u8]) -> KeyPair {
    let public = [
        Attribute::Token(token),
        Attribute::ModulusBits(bits.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Wrap(true),
        Attribute::Id(id.to_vec()),
    ];
    let private = [
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
        Attribute::Unwrap(true),
        Attribute::Id(id.to_vec()),
    ];
    let (public, private) = session
        .generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .unwrap_or_else(|e| panic!("C_GenerateKeyPair RSA-{bits}: {e}"));
    KeyPair { public, private }
}

/// Generates an EC (or, with [`ED25519`], an Edwards) key pair.
pub fn generate_ec(session: &Session, params: &[u8], token: bool, id: &[u8]) -> KeyPair {
    let edwards = params == ED25519;
    let mut public = vec![
        Attribute::Token(token),
        Attribute::EcParams(params.to_vec()),
        Attribute::Verify(true),
        Attribute::Id(id.to_vec()),
    ];
    let mut private = vec![
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Sign(true),
        Attribute::Id(id.to_vec()),
    ];
    if !edwards {
        public.push(Attribute::Derive(true));
        private.push(Attribute::Derive(true));
    }
    let mechanism = if edwards {
        Mechanism::EccEdwardsKeyPairGen
    } else {
        Mechanism::EccKeyPairGen
    };
    let (public, private) = session
        .generate_key_pair(&mechanism, &public, &private)
        .unwrap_or_else(|e| panic!("C_GenerateKeyPair EC {params:02x?}: {e}"));
    KeyPair { public, private }
}

/// Imports a secret key of `key_type` with a known value, usable for everything.
pub fn import_secret(session: &Session, key_type: KeyType, value: &[u8]) -> ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::Value(value.to_vec()),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    if key_type == KeyType::AES {
        template.extend([
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
        ]);
    }
    session
        .create_object(&template)
        .unwrap_or_else(|e| panic!("C_CreateObject secret {key_type:?}: {e}"))
}

/// One attribute's bytes (panics when unavailable).
pub fn attribute_bytes(session: &Session, object: ObjectHandle, kind: AttributeType) -> Vec<u8> {
    let attributes = session
        .get_attributes(object, &[kind])
        .unwrap_or_else(|e| panic!("C_GetAttributeValue {kind:?}: {e}"));
    match attributes.into_iter().next() {
        Some(Attribute::Modulus(v))
        | Some(Attribute::PublicExponent(v))
        | Some(Attribute::EcPoint(v))
        | Some(Attribute::EcParams(v))
        | Some(Attribute::Value(v))
        | Some(Attribute::PublicKeyInfo(v))
        | Some(Attribute::Id(v))
        | Some(Attribute::Subject(v))
        | Some(Attribute::Issuer(v))
        | Some(Attribute::SerialNumber(v))
        | Some(Attribute::Label(v)) => v,
        other => panic!("{kind:?}: unexpected {other:?}"),
    }
}

/// Strips the DER OCTET STRING around a `CKA_EC_POINT`.
pub fn ec_point_octets(der: &[u8]) -> Vec<u8> {
    assert_eq!(
        der.first(),
        Some(&0x04),
        "CKA_EC_POINT is a DER OCTET STRING"
    );
    let (length, start) = match der[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 => (der[2] as usize, 3),
        0x82 => (((der[2] as usize) << 8) | der[3] as usize, 4),
        n => panic!("unexpected DER length byte {n:#x}"),
    };
    assert_eq!(der.len(), start + length, "CKA_EC_POINT length");
    der[start..].to_vec()
}

/// DER OCTET STRING around `octets`.
pub fn der_octet_string(octets: &[u8]) -> Vec<u8> {
    let mut der = vec![0x04];
    match octets.len() {
        n if n < 0x80 => der.push(n as u8),
        n if n < 0x100 => der.extend([0x81, n as u8]),
        n => der.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    der.extend_from_slice(octets);
    der
}

/// The openssl public key of a token public key, built from the exported
/// attributes: `CKA_MODULUS`/`CKA_PUBLIC_EXPONENT` for RSA,
/// `CKA_EC_PARAMS`/`CKA_EC_POINT` for EC, Edwards and Montgomery keys (by OID).
pub fn openssl_public_key(
    session: &Session,
    public: ObjectHandle,
) -> openssl::pkey::PKey<openssl::pkey::Public> {
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcGroup, EcKey, EcPoint};
    use openssl::nid::Nid;
    use openssl::pkey::{Id, PKey};
    use openssl::rsa::Rsa;
    let key_type = match session
        .get_attributes(public, &[AttributeType::KeyType])
        .expect("CKA_KEY_TYPE")
        .pop()
    {
        Some(Attribute::KeyType(t)) => t,
        other => panic!("CKA_KEY_TYPE: {other:?}"),
    };
    if key_type == KeyType::RSA {
        let n = attribute_bytes(session, public, AttributeType::Modulus);
        let e = attribute_bytes(session, public, AttributeType::PublicExponent);
        let rsa = Rsa::from_public_components(
            BigNum::from_slice(&n).unwrap(),
            BigNum::from_slice(&e).unwrap(),
        )
        .unwrap();
        return PKey::from_rsa(rsa).unwrap();
    }
    let params = attribute_bytes(session, public, AttributeType::EcParams);
    let point = ec_point_octets(&attribute_bytes(session, public, AttributeType::EcPoint));
    let raw_id = match params.as_slice() {
        p if p == ED25519 => Some(Id::ED25519),
        p if p == ED448 => Some(Id::ED448),
        p if p == X25519 => Some(Id::X25519),
        p if p == X448 => Some(Id::X448),
        _ => None,
    };
    if let Some(id) = raw_id {
        return PKey::public_key_from_raw_bytes(&point, id).unwrap();
    }
    let nid = match params.as_slice() {
        p if p == P224 => Nid::SECP224R1,
        p if p == P256 => Nid::X9_62_PRIME256V1,
        p if p == SECP256K1 => Nid::SECP256K1,
        p if p == P384 => Nid::SECP384R1,
        p if p == P521 => Nid::SECP521R1,
        other => panic!("unknown curve {other:02x?}"),
    };
    let group = EcGroup::from_curve_name(nid).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let point = EcPoint::from_bytes(&group, &point, &mut ctx).expect("a point on the curve");
    PKey::from_ec_key(EcKey::from_public_key(&group, &point).unwrap()).unwrap()
}

/// Finds objects matching `template`, all of them.
pub fn find(session: &Session, template: &[Attribute]) -> Vec<ObjectHandle> {
    session
        .find_objects(template)
        .unwrap_or_else(|e| panic!("C_FindObjects: {e}"))
}
