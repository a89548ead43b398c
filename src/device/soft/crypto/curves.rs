//! The curves of the device (PKCS#11 3.0 §2.3): the Weierstrass curves of
//! `CKK_EC` (P-224, P-256, P-384, P-521, secp256k1), the Edwards curves of
//! `CKK_EC_EDWARDS` (Ed25519, Ed448) and the Montgomery curves of
//! `CKK_EC_MONTGOMERY` (X25519, X448), each named by its `CKA_EC_PARAMS`.

use super::der;
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{HasParams, Id, PKey, PKeyRef, Private};

/// A curve the device supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Curve {
    P224,
    P256,
    P384,
    P521,
    Secp256k1,
    Ed25519,
    Ed448,
    X25519,
    X448,
}

/// A curve, its DER OID, and the printable names PKCS#11 3.0 §2.3.3,
/// §2.3.5 and §2.3.7 allow in `CKA_EC_PARAMS` instead of it.
type CurveRow = (Curve, &'static [u8], &'static [&'static [u8]]);

/// Every curve.
const CURVES: &[CurveRow] = &[
    (Curve::P224, der::P224_PARAMS, &[b"secp224r1"]),
    (
        Curve::P256,
        der::P256_PARAMS,
        &[b"prime256v1", b"secp256r1"],
    ),
    (Curve::P384, der::P384_PARAMS, &[b"secp384r1"]),
    (Curve::P521, der::P521_PARAMS, &[b"secp521r1"]),
    (Curve::Secp256k1, der::SECP256K1_PARAMS, &[b"secp256k1"]),
    (Curve::Ed25519, der::ED25519_PARAMS, &[b"edwards25519"]),
    (Curve::Ed448, der::ED448_PARAMS, &[b"edwards448"]),
    (Curve::X25519, der::X25519_PARAMS, &[b"curve25519"]),
    (Curve::X448, der::X448_PARAMS, &[b"curve448"]),
];

impl Curve {
    /// The curve `CKA_EC_PARAMS` names, by OID or as a DER PrintableString
    /// name. Explicit parameters and unknown curves are `Error::CurveNotSupported`.
    pub(super) fn from_params(params: &[u8]) -> Result<Curve> {
        let name = der::decode_printable_string(params);
        CURVES
            .iter()
            .find(|(_, oid, names)| {
                params == *oid || name.is_some_and(|name| names.contains(&name))
            })
            .map(|(curve, _, _)| *curve)
            .ok_or(Error::CurveNotSupported)
    }

    /// The DER OID the device reports as `CKA_EC_PARAMS`.
    pub(super) fn params(self) -> &'static [u8] {
        CURVES
            .iter()
            .find(|(curve, _, _)| *curve == self)
            .map(|(_, oid, _)| *oid)
            .expect("every curve is in the table")
    }

    /// `CKK_EC`, `CKK_EC_EDWARDS` or `CKK_EC_MONTGOMERY`.
    pub(super) fn key_type(self) -> CK_KEY_TYPE {
        match self {
            Curve::Ed25519 | Curve::Ed448 => CKK_EC_EDWARDS,
            Curve::X25519 | Curve::X448 => CKK_EC_MONTGOMERY,
            _ => CKK_EC,
        }
    }

    /// The OpenSSL algorithm of an Edwards or Montgomery curve, whose keys
    /// are raw byte strings (RFC 8032, RFC 7748); `None` for Weierstrass curves.
    pub(super) fn raw_id(self) -> Option<Id> {
        match self {
            Curve::Ed25519 => Some(Id::ED25519),
            Curve::Ed448 => Some(Id::ED448),
            Curve::X25519 => Some(Id::X25519),
            Curve::X448 => Some(Id::X448),
            _ => None,
        }
    }

    fn from_nid(nid: Option<Nid>) -> Result<Curve> {
        match nid {
            Some(Nid::SECP224R1) => Ok(Curve::P224),
            Some(Nid::X9_62_PRIME256V1) => Ok(Curve::P256),
            Some(Nid::SECP384R1) => Ok(Curve::P384),
            Some(Nid::SECP521R1) => Ok(Curve::P521),
            Some(Nid::SECP256K1) => Ok(Curve::Secp256k1),
            _ => Err(Error::CurveNotSupported),
        }
    }

    /// Bytes of a field element on a Weierstrass curve; of a raw public
    /// (and private) key on an Edwards or Montgomery curve.
    pub(super) fn field_len(self) -> usize {
        match self {
            Curve::P224 => 28,
            Curve::P256 | Curve::Secp256k1 | Curve::Ed25519 | Curve::X25519 => 32,
            Curve::P384 => 48,
            Curve::X448 => 56,
            Curve::Ed448 => 57,
            Curve::P521 => 66,
        }
    }

    /// The curve's size as `C_GetMechanismInfo` gives it (PKCS#11 3.0
    /// §2.3): the bits of the field, 255 for Curve25519 and 448 for Curve448.
    #[cfg(test)]
    pub(super) fn bits(self) -> CK_ULONG {
        match self {
            Curve::P224 => 224,
            Curve::P256 | Curve::Secp256k1 => 256,
            Curve::Ed25519 | Curve::X25519 => 255,
            Curve::P384 => 384,
            Curve::Ed448 | Curve::X448 => 448,
            Curve::P521 => 521,
        }
    }

    /// The curve of an EC, Edwards or Montgomery key.
    pub(super) fn of_key<T: HasParams>(key: &PKeyRef<T>) -> Result<Curve> {
        match key.id() {
            Id::EC => Curve::from_nid(key.ec_key()?.group().curve_name()),
            id => CURVES
                .iter()
                .map(|(curve, _, _)| *curve)
                .find(|curve| curve.raw_id() == Some(id))
                .ok_or(Error::KeyTypeInconsistent),
        }
    }

    /// The OpenSSL group of a Weierstrass curve.
    pub(super) fn group(self) -> Result<EcGroup> {
        let nid = match self {
            Curve::P224 => Nid::SECP224R1,
            Curve::P256 => Nid::X9_62_PRIME256V1,
            Curve::P384 => Nid::SECP384R1,
            Curve::P521 => Nid::SECP521R1,
            Curve::Secp256k1 => Nid::SECP256K1,
            _ => return Err(Error::CurveNotSupported),
        };
        Ok(EcGroup::from_curve_name(nid)?)
    }

    /// A new key pair on this curve, held as OpenSSL 3 holds keys it
    /// decodes itself (see `keys::native_private`).
    pub(super) fn generate(self) -> Result<PKey<Private>> {
        Ok(match self {
            Curve::Ed25519 => PKey::generate_ed25519()?,
            Curve::Ed448 => PKey::generate_ed448()?,
            Curve::X25519 => PKey::generate_x25519()?,
            Curve::X448 => PKey::generate_x448()?,
            curve => {
                let group = curve.group()?;
                let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
                PKey::private_key_from_pkcs8(&key.private_key_to_pkcs8()?)?
            }
        })
    }
}
