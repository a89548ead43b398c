//! Key generation, and key material in and out of the device: PKCS#11
//! attributes (PKCS#11 3.0 §2.1 RSA, §2.3 EC, §2.3.5 Edwards), PKCS#8 and
//! SubjectPublicKeyInfo DER.

use super::der;
use crate::error::{Error, Result};
use crate::object::{find, Attributes, Template};
use cryptoki_sys::*;
use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::ec::{EcGroup, EcKey, EcPoint, PointConversionForm};
use openssl::nid::Nid;
use openssl::pkey::{HasParams, HasPublic, Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::Rsa;
use std::cmp::Ordering;
use zeroize::Zeroizing;

/// Smallest RSA modulus generated (bits).
pub(super) const RSA_GENERATE_MIN_BITS: CK_ULONG = 2048;
/// Largest RSA modulus generated or used (bits).
pub(super) const RSA_MAX_BITS: CK_ULONG = 4096;
/// Smallest RSA modulus imported and used (bits).
pub(super) const RSA_USE_MIN_BITS: CK_ULONG = 1024;
/// Largest generic secret (bytes).
pub(super) const SECRET_MAX_LEN: usize = 512;

/// The curves the device supports, each named by its `CKA_EC_PARAMS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Curve {
    P256,
    P384,
    P521,
    Ed25519,
}

impl Curve {
    /// The curve `CKA_EC_PARAMS` names. Only named curves (an OID, or for
    /// Ed25519 also the printable string) are accepted: explicit parameters
    /// and unknown curves are `Error::CurveNotSupported`.
    pub(super) fn from_params(params: &[u8]) -> Result<Curve> {
        match params {
            der::P256_PARAMS => Ok(Curve::P256),
            der::P384_PARAMS => Ok(Curve::P384),
            der::P521_PARAMS => Ok(Curve::P521),
            der::ED25519_PARAMS | der::ED25519_PARAMS_NAME => Ok(Curve::Ed25519),
            _ => Err(Error::CurveNotSupported),
        }
    }

    /// The DER OID the device reports as `CKA_EC_PARAMS`.
    pub(super) fn params(self) -> &'static [u8] {
        match self {
            Curve::P256 => der::P256_PARAMS,
            Curve::P384 => der::P384_PARAMS,
            Curve::P521 => der::P521_PARAMS,
            Curve::Ed25519 => der::ED25519_PARAMS,
        }
    }

    fn from_nid(nid: Option<Nid>) -> Result<Curve> {
        match nid {
            Some(Nid::X9_62_PRIME256V1) => Ok(Curve::P256),
            Some(Nid::SECP384R1) => Ok(Curve::P384),
            Some(Nid::SECP521R1) => Ok(Curve::P521),
            _ => Err(Error::CurveNotSupported),
        }
    }

    /// Bytes of a field element (and of the group order) on this curve.
    pub(super) fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Ed25519 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The curve of an EC or Ed25519 key.
    pub(super) fn of_key<T: HasParams>(key: &PKeyRef<T>) -> Result<Curve> {
        match key.id() {
            Id::ED25519 => Ok(Curve::Ed25519),
            Id::EC => Curve::from_nid(key.ec_key()?.group().curve_name()),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The OpenSSL group of a Weierstrass curve.
    fn group(self) -> Result<EcGroup> {
        let nid = match self {
            Curve::P256 => Nid::X9_62_PRIME256V1,
            Curve::P384 => Nid::SECP384R1,
            Curve::P521 => Nid::SECP521R1,
            Curve::Ed25519 => return Err(Error::CurveNotSupported),
        };
        Ok(EcGroup::from_curve_name(nid)?)
    }
}

/// The PKCS#11 key type of an asymmetric key the device can use; other
/// algorithms and curves are refused.
pub(super) fn key_type_of<T: HasParams>(key: &PKeyRef<T>) -> Result<CK_KEY_TYPE> {
    match key.id() {
        Id::RSA => Ok(CKK_RSA),
        Id::EC => Curve::of_key(key).map(|_| CKK_EC),
        Id::ED25519 => Ok(CKK_EC_EDWARDS),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// Generates an RSA key pair (`CKM_RSA_PKCS_KEY_PAIR_GEN`, PKCS#11 3.0 §2.1.4).
pub fn generate_rsa(bits: CK_ULONG, public_exponent: &[u8]) -> Result<PKey<Private>> {
    if !(RSA_GENERATE_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(Error::KeySizeRange);
    }
    let exponent = if public_exponent.is_empty() {
        BigNum::from_u32(65537)?
    } else {
        BigNum::from_slice(public_exponent)?
    };
    check_public_exponent(&exponent)?;
    let rsa = Rsa::generate_with_e(bits as u32, &exponent)?;
    native_private(PKey::from_rsa(rsa)?)
}

/// The same key as OpenSSL 3 holds keys it decodes itself (provider-side),
/// so that keys made here behave exactly like keys loaded from storage and
/// no operation pays for a legacy-to-provider export.
fn native_private(key: PKey<Private>) -> Result<PKey<Private>> {
    Ok(PKey::private_key_from_pkcs8(&key.private_key_to_pkcs8()?)?)
}

/// As [`native_private`], for a public key.
fn native_public(key: PKey<Public>) -> Result<PKey<Public>> {
    Ok(PKey::public_key_from_der(&key.public_key_to_der()?)?)
}

/// An exponent OpenSSL accepts for every modulus size the device uses.
fn check_public_exponent(exponent: &BigNumRef) -> Result<()> {
    if !exponent.is_odd() || exponent.num_bits() < 2 || exponent.num_bits() > 64 {
        return Err(Error::AttributeValueInvalid(CKA_PUBLIC_EXPONENT));
    }
    Ok(())
}

/// Generates an EC key pair (`CKM_EC_KEY_PAIR_GEN`, §2.3.6) or an Ed25519
/// one (`CKM_EC_EDWARDS_KEY_PAIR_GEN`, §2.3.7) on the curve `ec_params` names.
pub fn generate_ec(ec_params: &[u8]) -> Result<PKey<Private>> {
    match Curve::from_params(ec_params)? {
        Curve::Ed25519 => Ok(PKey::generate_ed25519()?),
        curve => {
            let group = curve.group()?;
            native_private(PKey::from_ec_key(EcKey::generate(&group)?)?)
        }
    }
}

/// Random bytes for an AES or generic secret key: 1..=512 bytes, else `Error::KeySizeRange`.
pub fn generate_secret(len: usize) -> Result<Vec<u8>> {
    if !(1..=SECRET_MAX_LEN).contains(&len) {
        return Err(Error::KeySizeRange);
    }
    let mut value = vec![0u8; len];
    openssl::rand::rand_bytes(&mut value).map_err(|_| Error::RandomNoRng)?;
    Ok(value)
}

/// The public attributes of any asymmetric key (see `public_attributes_of_private`).
pub(super) fn public_attributes<T: HasPublic>(key: &PKeyRef<T>) -> Result<Attributes> {
    let mut attributes = Attributes::new();
    match key.id() {
        Id::RSA => {
            let rsa = key.rsa()?;
            attributes.set_ulong(CKA_KEY_TYPE, CKK_RSA);
            attributes.set(CKA_MODULUS, rsa.n().to_vec());
            attributes.set_ulong(CKA_MODULUS_BITS, rsa.n().num_bits() as CK_ULONG);
            attributes.set(CKA_PUBLIC_EXPONENT, rsa.e().to_vec());
        }
        Id::EC => {
            let curve = Curve::of_key(key)?;
            let ec = key.ec_key()?;
            let mut context = BigNumContext::new()?;
            let point = ec.public_key().to_bytes(
                ec.group(),
                PointConversionForm::UNCOMPRESSED,
                &mut context,
            )?;
            attributes.set_ulong(CKA_KEY_TYPE, CKK_EC);
            attributes.set(CKA_EC_PARAMS, curve.params().to_vec());
            attributes.set(CKA_EC_POINT, der::encode_octet_string(&point));
        }
        Id::ED25519 => {
            attributes.set_ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS);
            attributes.set(CKA_EC_PARAMS, Curve::Ed25519.params().to_vec());
            attributes.set(
                CKA_EC_POINT,
                der::encode_octet_string(&key.raw_public_key()?),
            );
        }
        _ => return Err(Error::KeyTypeInconsistent),
    }
    attributes.set(CKA_PUBLIC_KEY_INFO, key.public_key_to_der()?);
    Ok(attributes)
}

/// The public half of a private key.
pub fn public_from_private(key: &PKey<Private>) -> Result<PKey<Public>> {
    Ok(PKey::public_key_from_der(&key.public_key_to_der()?)?)
}

fn required(template: &Template, kind: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    find(template, kind)
        .map(|a| a.value.as_slice())
        .ok_or(Error::TemplateIncomplete(kind))
}

/// A positive big-endian integer attribute.
fn big_number(template: &Template, kind: CK_ATTRIBUTE_TYPE) -> Result<BigNum> {
    let value = required(template, kind)?;
    let number = BigNum::from_slice(value).map_err(|_| Error::AttributeValueInvalid(kind))?;
    if number.num_bits() == 0 {
        return Err(Error::AttributeValueInvalid(kind));
    }
    Ok(number)
}

fn optional_big_number(template: &Template, kind: CK_ATTRIBUTE_TYPE) -> Result<Option<BigNum>> {
    find(template, kind)
        .map(|_| big_number(template, kind))
        .transpose()
}

/// The modulus and public exponent of an RSA template, checked.
fn rsa_public_numbers(template: &Template) -> Result<(BigNum, BigNum)> {
    let modulus = big_number(template, CKA_MODULUS)?;
    let bits = modulus.num_bits() as CK_ULONG;
    if !(RSA_USE_MIN_BITS..=RSA_MAX_BITS).contains(&bits) || !modulus.is_odd() {
        return Err(Error::AttributeValueInvalid(CKA_MODULUS));
    }
    let exponent = big_number(template, CKA_PUBLIC_EXPONENT)?;
    check_public_exponent(&exponent)?;
    Ok((modulus, exponent))
}

/// Imports a private key from a `C_CreateObject` template (§2.1.3, §2.3.4, §2.3.5).
pub fn import_private(key_type: CK_KEY_TYPE, template: &Template) -> Result<PKey<Private>> {
    match key_type {
        CKK_RSA => import_rsa_private(template),
        CKK_EC => {
            let curve = ec_curve(template, key_type)?;
            let value = required(template, CKA_VALUE)?;
            let group = curve.group()?;
            let invalid = || Error::AttributeValueInvalid(CKA_VALUE);
            let scalar = BigNum::from_slice(value).map_err(|_| invalid())?;
            let mut context = BigNumContext::new()?;
            let mut order = BigNum::new()?;
            group.order(&mut order, &mut context)?;
            if scalar.num_bits() == 0 || scalar.ucmp(&order) != Ordering::Less {
                return Err(invalid());
            }
            let mut point = EcPoint::new(&group)?;
            point.mul_generator2(&group, &scalar, &mut context)?;
            let ec =
                EcKey::from_private_components(&group, &scalar, &point).map_err(|_| invalid())?;
            ec.check_key().map_err(|_| invalid())?;
            native_private(PKey::from_ec_key(ec)?)
        }
        CKK_EC_EDWARDS => {
            ec_curve(template, key_type)?;
            let value = required(template, CKA_VALUE)?;
            // RFC 8032 bytes; some clients send them wrapped as in RFC 8410's CurvePrivateKey.
            let value = der::decode_octet_string(value)
                .filter(|v| v.len() == 32)
                .unwrap_or(value);
            if value.len() != 32 {
                return Err(Error::AttributeValueInvalid(CKA_VALUE));
            }
            PKey::private_key_from_raw_bytes(value, Id::ED25519)
                .map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))
        }
        _ => Err(Error::AttributeValueInvalid(CKA_KEY_TYPE)),
    }
}

/// The curve of an EC (`CKK_EC`) or Edwards (`CKK_EC_EDWARDS`) template.
fn ec_curve(template: &Template, key_type: CK_KEY_TYPE) -> Result<Curve> {
    let curve = Curve::from_params(required(template, CKA_EC_PARAMS)?)?;
    if (curve == Curve::Ed25519) != (key_type == CKK_EC_EDWARDS) {
        return Err(Error::CurveNotSupported);
    }
    Ok(curve)
}

fn import_rsa_private(template: &Template) -> Result<PKey<Private>> {
    let (n, e) = rsa_public_numbers(template)?;
    let d = big_number(template, CKA_PRIVATE_EXPONENT)?;
    if d.ucmp(&n) != Ordering::Less {
        return Err(Error::AttributeValueInvalid(CKA_PRIVATE_EXPONENT));
    }
    let mut context = BigNumContext::new()?;
    let (p, q) = match (
        optional_big_number(template, CKA_PRIME_1)?,
        optional_big_number(template, CKA_PRIME_2)?,
    ) {
        (Some(p), Some(q)) => {
            let mut product = BigNum::new()?;
            product.checked_mul(&p, &q, &mut context)?;
            if product != n {
                return Err(Error::AttributeValueInvalid(CKA_PRIME_1));
            }
            (p, q)
        }
        _ => recover_factors(&n, &e, &d, &mut context)?,
    };
    let given = (
        optional_big_number(template, CKA_EXPONENT_1)?,
        optional_big_number(template, CKA_EXPONENT_2)?,
        optional_big_number(template, CKA_COEFFICIENT)?,
    );
    let (dp, dq, qinv) = match given {
        (Some(dp), Some(dq), Some(qinv)) => (dp, dq, qinv),
        _ => crt_values(&d, &p, &q, &mut context)?,
    };
    let rsa = Rsa::from_private_components(n, e, d, p, q, dp, dq, qinv)?;
    if !rsa.check_key().unwrap_or(false) {
        return Err(Error::AttributeValueInvalid(CKA_PRIVATE_EXPONENT));
    }
    native_private(PKey::from_rsa(rsa)?)
}

/// `d mod (p-1)`, `d mod (q-1)`, `q^-1 mod p`.
fn crt_values(
    d: &BigNum,
    p: &BigNum,
    q: &BigNum,
    context: &mut BigNumContext,
) -> Result<(BigNum, BigNum, BigNum)> {
    let mut p1 = BigNumRef::to_owned(p)?;
    p1.sub_word(1)?;
    let mut q1 = BigNumRef::to_owned(q)?;
    q1.sub_word(1)?;
    let mut dp = BigNum::new()?;
    dp.nnmod(d, &p1, context)?;
    let mut dq = BigNum::new()?;
    dq.nnmod(d, &q1, context)?;
    let mut qinv = BigNum::new()?;
    qinv.mod_inverse(q, p, context)
        .map_err(|_| Error::AttributeValueInvalid(CKA_PRIME_2))?;
    Ok((dp, dq, qinv))
}

/// The prime factors of `n` from the exponents (NIST SP 800-56B rev. 2, Appendix C).
fn recover_factors(
    n: &BigNum,
    e: &BigNum,
    d: &BigNum,
    context: &mut BigNumContext,
) -> Result<(BigNum, BigNum)> {
    let invalid = || Error::AttributeValueInvalid(CKA_PRIVATE_EXPONENT);
    let mut k = BigNum::new()?;
    k.checked_mul(d, e, context)?;
    k.sub_word(1)?;
    if k.is_odd() || k.num_bits() == 0 {
        return Err(invalid());
    }
    let t = (0..k.num_bits())
        .take_while(|bit| !k.is_bit_set(*bit))
        .count() as i32;
    let mut r = BigNum::new()?;
    r.rshift(&k, t)?;
    let mut n_minus_1 = BigNumRef::to_owned(n)?;
    n_minus_1.sub_word(1)?;
    let one = BigNum::from_u32(1)?;
    for _ in 0..100 {
        let mut g = BigNum::new()?;
        n_minus_1.rand_range(&mut g)?;
        if g.num_bits() < 2 {
            continue;
        }
        let mut y = BigNum::new()?;
        y.mod_exp(&g, &r, n, context)?;
        if y == one || y == n_minus_1 {
            continue;
        }
        for _ in 0..t {
            let mut x = BigNum::new()?;
            x.mod_sqr(&y, n, context)?;
            if x == one {
                // y is a non-trivial square root of 1: gcd(y - 1, n) is a factor.
                y.sub_word(1)?;
                let mut p = BigNum::new()?;
                p.gcd(&y, n, context)?;
                let mut q = BigNum::new()?;
                q.checked_div(n, &p, context)?;
                return if p.ucmp(&q) == Ordering::Less {
                    Ok((q, p))
                } else {
                    Ok((p, q))
                };
            }
            if x == n_minus_1 {
                break;
            }
            y = x;
        }
    }
    Err(invalid())
}

/// Imports a public key from a `C_CreateObject` template.
pub fn import_public(key_type: CK_KEY_TYPE, template: &Template) -> Result<PKey<Public>> {
    match key_type {
        CKK_RSA => {
            let (n, e) = rsa_public_numbers(template)?;
            native_public(PKey::from_rsa(Rsa::from_public_components(n, e)?)?)
        }
        CKK_EC | CKK_EC_EDWARDS => {
            let curve = ec_curve(template, key_type)?;
            let point = required(template, CKA_EC_POINT)?;
            public_key_from_point(curve, point).ok_or(Error::AttributeValueInvalid(CKA_EC_POINT))
        }
        _ => Err(Error::AttributeValueInvalid(CKA_KEY_TYPE)),
    }
}

/// A public key from an EC point given raw (`04 || X || Y`, or compressed;
/// 32 bytes for Ed25519) or wrapped in a DER OCTET STRING, as PKCS#11
/// clients send both. `None` when the point is malformed or not on the curve.
pub(super) fn public_key_from_point(curve: Curve, point: &[u8]) -> Option<PKey<Public>> {
    let field = curve.field_len();
    let raw = match (curve, point.first()) {
        (Curve::Ed25519, _) if point.len() == field => point,
        (Curve::Ed25519, _) => der::decode_octet_string(point).filter(|p| p.len() == field)?,
        (_, Some(4)) if point.len() == 2 * field + 1 => point,
        (_, Some(2 | 3)) if point.len() == field + 1 => point,
        _ => der::decode_octet_string(point)?,
    };
    if curve == Curve::Ed25519 {
        return PKey::public_key_from_raw_bytes(raw, Id::ED25519).ok();
    }
    let group = curve.group().ok()?;
    let mut context = BigNumContext::new().ok()?;
    let point = EcPoint::from_bytes(&group, raw, &mut context).ok()?;
    let ec = EcKey::from_public_key(&group, &point).ok()?;
    ec.check_key().ok()?;
    native_public(PKey::from_ec_key(ec).ok()?).ok()
}

/// PKCS#8 DER of a private key.
pub fn private_to_der(key: &PKey<Private>) -> Result<Zeroizing<Vec<u8>>> {
    Ok(Zeroizing::new(key.private_key_to_pkcs8()?))
}

/// A private key from PKCS#8 DER. Malformed input is `Error::WrappedKeyInvalid`
/// (such bytes only arrive through an unwrap: the device's own storage is
/// authenticated); an algorithm or curve the device lacks, `Error::KeyTypeInconsistent`
/// or `Error::CurveNotSupported`.
pub fn private_from_der(der: &[u8]) -> Result<PKey<Private>> {
    let key = PKey::private_key_from_pkcs8(der).map_err(|_| Error::WrappedKeyInvalid)?;
    key_type_of(&key)?;
    Ok(key)
}

/// SubjectPublicKeyInfo DER of a public key.
pub fn public_to_der(key: &PKey<Public>) -> Result<Vec<u8>> {
    Ok(key.public_key_to_der()?)
}

/// A public key from SubjectPublicKeyInfo DER; malformed input is
/// `Error::AttributeValueInvalid(CKA_PUBLIC_KEY_INFO)`.
pub fn public_from_der(der: &[u8]) -> Result<PKey<Public>> {
    let key = PKey::public_key_from_der(der)
        .map_err(|_| Error::AttributeValueInvalid(CKA_PUBLIC_KEY_INFO))?;
    key_type_of(&key)?;
    Ok(key)
}
