//! Key generation, and key material in and out of the device: PKCS#11
//! attributes (PKCS#11 3.0 §2.1 RSA, §2.3 EC, Edwards and Montgomery,
//! §2.16 Triple DES), PKCS#8 and SubjectPublicKeyInfo DER.

use super::curves::Curve;
use super::der;
use super::pqc::{self, ParameterSet};
use crate::error::{Error, Result};
use crate::object::{find, Attributes, Template};
use cryptoki_sys::*;
use openssl::bn::{BigNum, BigNumContext, BigNumRef};
use openssl::ec::{EcKey, EcPoint, PointConversionForm};
use openssl::pkey::{HasParams, HasPublic, Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::Rsa;
use std::cmp::Ordering;
use zeroize::Zeroizing;

/// Smallest RSA modulus generated, imported and used (bits).
pub(super) const RSA_MIN_BITS: CK_ULONG = 1024;
/// Largest RSA modulus generated (bits): generating more takes minutes.
pub(super) const RSA_GENERATE_MAX_BITS: CK_ULONG = 4096;
/// Largest RSA private key imported (and so signing or decrypting), in bits.
pub(super) const RSA_PRIVATE_MAX_BITS: CK_ULONG = 8192;
/// Largest RSA public key imported (and so verifying or encrypting), in bits.
pub(super) const RSA_PUBLIC_MAX_BITS: CK_ULONG = 16384;
/// Largest generic secret (bytes).
pub(super) const SECRET_MAX_LEN: usize = 3072;
/// A Triple DES key (`CKK_DES3`, PKCS#11 3.0 §2.16): three 8-byte DES keys.
pub(super) const DES3_KEY_LEN: usize = 24;
/// A double-length DES key (`CKK_DES2`), used as K1 K2 K1.
pub(super) const DES2_KEY_LEN: usize = 16;

/// The PKCS#11 key type of an asymmetric key the device can use; other
/// algorithms and curves are refused.
pub(super) fn key_type_of<T: HasParams>(key: &PKeyRef<T>) -> Result<CK_KEY_TYPE> {
    match key.id() {
        Id::RSA => Ok(CKK_RSA),
        _ => match ParameterSet::of_key(key) {
            Some(set) => Ok(set.key_type()),
            None => Curve::of_key(key).map(Curve::key_type),
        },
    }
}

/// Generates an ML-DSA (`CKM_ML_DSA_KEY_PAIR_GEN`) or ML-KEM
/// (`CKM_ML_KEM_KEY_PAIR_GEN`) key pair of the parameter set
/// `parameter_set` (PKCS#11 3.2 `CKA_PARAMETER_SET` of the public template).
pub fn generate_post_quantum(
    key_type: CK_KEY_TYPE,
    parameter_set: CK_ULONG,
) -> Result<PKey<Private>> {
    pqc::generate(ParameterSet::of(key_type, parameter_set)?)
}

/// The parameter set a template names for a key of `key_type`.
fn parameter_set(template: &Template, key_type: CK_KEY_TYPE) -> Result<ParameterSet> {
    let value = crate::object::find_ulong(template, CKA_PARAMETER_SET)?
        .ok_or(Error::TemplateIncomplete(CKA_PARAMETER_SET))?;
    ParameterSet::of(key_type, value)
}

/// Generates an RSA key pair (`CKM_RSA_PKCS_KEY_PAIR_GEN`, PKCS#11 3.0 §2.1.4).
pub fn generate_rsa(bits: CK_ULONG, public_exponent: &[u8]) -> Result<PKey<Private>> {
    if !(RSA_MIN_BITS..=RSA_GENERATE_MAX_BITS).contains(&bits) {
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

/// Generates an EC key pair (`CKM_EC_KEY_PAIR_GEN`, §2.3.6), an Edwards
/// one (`CKM_EC_EDWARDS_KEY_PAIR_GEN`, §2.3.7) or a Montgomery one
/// (`CKM_EC_MONTGOMERY_KEY_PAIR_GEN`, §2.3.8) on the curve `ec_params` names.
pub fn generate_ec(ec_params: &[u8]) -> Result<PKey<Private>> {
    Curve::from_params(ec_params)?.generate()
}

/// Random bytes for an AES or generic secret key: 1..=3072 bytes, else `Error::KeySizeRange`.
pub fn generate_secret(len: usize) -> Result<Vec<u8>> {
    if !(1..=SECRET_MAX_LEN).contains(&len) {
        return Err(Error::KeySizeRange);
    }
    let mut value = vec![0u8; len];
    openssl::rand::rand_bytes(&mut value).map_err(|_| Error::RandomNoRng)?;
    Ok(value)
}

/// A random Triple DES key (`CKM_DES3_KEY_GEN`, §2.16.6): 24 bytes, each
/// with odd parity (FIPS 46-3: the low bit of each byte is its parity bit).
pub fn generate_des3() -> Result<Vec<u8>> {
    let mut value = generate_secret(DES3_KEY_LEN)?;
    for byte in &mut value {
        let high = *byte & 0xFE;
        *byte = high | u8::from(high.count_ones() % 2 == 0);
    }
    Ok(value)
}

/// The public attributes of any asymmetric key (see `public_attributes_of_private`).
pub(super) fn public_attributes<T: HasPublic>(key: &PKeyRef<T>) -> Result<Attributes> {
    let mut attributes = Attributes::new();
    if let Some(set) = ParameterSet::of_key(key) {
        // CKA_VALUE is pk on the public object only: on the private one it
        // is sk (see `public_value_attribute`).
        attributes.set_ulong(CKA_KEY_TYPE, set.key_type());
        attributes.set_ulong(CKA_PARAMETER_SET, set.value());
        attributes.set(CKA_PUBLIC_KEY_INFO, key.public_key_to_der()?);
        return Ok(attributes);
    }
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
        Id::ED25519 | Id::ED448 | Id::X25519 | Id::X448 => {
            let curve = Curve::of_key(key)?;
            attributes.set_ulong(CKA_KEY_TYPE, curve.key_type());
            attributes.set(CKA_EC_PARAMS, curve.params().to_vec());
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

/// The `CKA_VALUE` a public key object of an ML-DSA or ML-KEM key holds
/// (pk, ek), `None` for the other key types (whose public values have
/// attributes of their own).
pub(super) fn public_value_attribute(key: &PKeyRef<Public>) -> Result<Option<Vec<u8>>> {
    match ParameterSet::of_key(key) {
        Some(_) => Ok(Some(pqc::public_value(key)?)),
        None => Ok(None),
    }
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

/// The modulus and public exponent of an RSA template, checked: a modulus
/// of `RSA_MIN_BITS` to `max_bits`.
fn rsa_public_numbers(template: &Template, max_bits: CK_ULONG) -> Result<(BigNum, BigNum)> {
    let modulus = big_number(template, CKA_MODULUS)?;
    let bits = modulus.num_bits() as CK_ULONG;
    if !(RSA_MIN_BITS..=max_bits).contains(&bits) || !modulus.is_odd() {
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
        CKK_EC_EDWARDS | CKK_EC_MONTGOMERY => import_raw_private(template, key_type),
        CKK_ML_DSA | CKK_ML_KEM => pqc::import_private(
            parameter_set(template, key_type)?,
            find(template, CKA_SEED).map(|a| a.value.as_slice()),
            find(template, CKA_VALUE).map(|a| a.value.as_slice()),
        ),
        _ => Err(Error::AttributeValueInvalid(CKA_KEY_TYPE)),
    }
}

/// An Edwards or Montgomery private key: `CKA_VALUE` holds the RFC 8032 /
/// RFC 7748 bytes, which some clients send wrapped in a DER OCTET STRING as
/// in RFC 8410's CurvePrivateKey.
fn import_raw_private(template: &Template, key_type: CK_KEY_TYPE) -> Result<PKey<Private>> {
    let curve = ec_curve(template, key_type)?;
    let id = curve.raw_id().ok_or(Error::CurveNotSupported)?;
    let value = required(template, CKA_VALUE)?;
    let value = der::decode_octet_string(value)
        .filter(|v| v.len() == curve.field_len())
        .unwrap_or(value);
    if value.len() != curve.field_len() {
        return Err(Error::AttributeValueInvalid(CKA_VALUE));
    }
    PKey::private_key_from_raw_bytes(value, id).map_err(|_| Error::AttributeValueInvalid(CKA_VALUE))
}

/// The curve of an EC (`CKK_EC`), Edwards (`CKK_EC_EDWARDS`) or Montgomery
/// (`CKK_EC_MONTGOMERY`) template: one of the key type's curves, else
/// `Error::CurveNotSupported`.
fn ec_curve(template: &Template, key_type: CK_KEY_TYPE) -> Result<Curve> {
    let curve = Curve::from_params(required(template, CKA_EC_PARAMS)?)?;
    if curve.key_type() != key_type {
        return Err(Error::CurveNotSupported);
    }
    Ok(curve)
}

fn import_rsa_private(template: &Template) -> Result<PKey<Private>> {
    let (n, e) = rsa_public_numbers(template, RSA_PRIVATE_MAX_BITS)?;
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
            let (n, e) = rsa_public_numbers(template, RSA_PUBLIC_MAX_BITS)?;
            native_public(PKey::from_rsa(Rsa::from_public_components(n, e)?)?)
        }
        CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY => {
            let curve = ec_curve(template, key_type)?;
            let point = required(template, CKA_EC_POINT)?;
            public_key_from_point(curve, point).ok_or(Error::AttributeValueInvalid(CKA_EC_POINT))
        }
        CKK_ML_DSA | CKK_ML_KEM => pqc::import_public(
            parameter_set(template, key_type)?,
            required(template, CKA_VALUE)?,
        ),
        _ => Err(Error::AttributeValueInvalid(CKA_KEY_TYPE)),
    }
}

/// A public key from an EC point given raw (`04 || X || Y`, or compressed;
/// the RFC 8032 / RFC 7748 bytes on Edwards and Montgomery curves) or
/// wrapped in a DER OCTET STRING, as PKCS#11 clients send both. `None` when
/// the point is malformed or not on the curve.
pub(super) fn public_key_from_point(curve: Curve, point: &[u8]) -> Option<PKey<Public>> {
    let field = curve.field_len();
    if let Some(id) = curve.raw_id() {
        let raw = if point.len() == field {
            point
        } else {
            der::decode_octet_string(point).filter(|p| p.len() == field)?
        };
        return PKey::public_key_from_raw_bytes(raw, id).ok();
    }
    let raw = match point.first() {
        Some(4) if point.len() == 2 * field + 1 => point,
        Some(2 | 3) if point.len() == field + 1 => point,
        _ => der::decode_octet_string(point)?,
    };
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
    if key_type_of(&key)? == CKK_RSA && key.bits() as CK_ULONG > RSA_PRIVATE_MAX_BITS {
        return Err(Error::KeySizeRange);
    }
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
