//! The few DER shapes the device reads and writes by hand: OCTET STRING
//! wrapping of EC points, the named-curve parameters PKCS#11 uses for
//! `CKA_EC_PARAMS`, and the conversion between PKCS#11's `r || s` ECDSA
//! signatures and the `ECDSA-Sig-Value` SEQUENCE OpenSSL speaks.
//!
//! These run on every ECDSA signature, so they avoid allocating beyond the
//! output and never go through a general ASN.1 parser.

use crate::error::{Error, Result};

/// `CKA_EC_PARAMS` for P-224: OID 1.3.132.0.33.
pub(super) const P224_PARAMS: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x21];
/// `CKA_EC_PARAMS` for secp256k1: OID 1.3.132.0.10.
pub(super) const SECP256K1_PARAMS: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A];
/// `CKA_EC_PARAMS` for P-256: OID 1.2.840.10045.3.1.7.
pub(super) const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
/// `CKA_EC_PARAMS` for P-384: OID 1.3.132.0.34.
pub(super) const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
/// `CKA_EC_PARAMS` for P-521: OID 1.3.132.0.35.
pub(super) const P521_PARAMS: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23];
/// `CKA_EC_PARAMS` for Ed25519: OID 1.3.101.112 (RFC 8410).
pub(super) const ED25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];
/// `CKA_EC_PARAMS` for Ed25519 as PKCS#11 3.0 also allows: PrintableString "edwards25519".
#[cfg(test)]
pub(super) const ED25519_PARAMS_NAME: &[u8] = b"\x13\x0cedwards25519";
/// `CKA_EC_PARAMS` for Ed448: OID 1.3.101.113 (RFC 8410).
pub(super) const ED448_PARAMS: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x71];
/// `CKA_EC_PARAMS` for X25519: OID 1.3.101.110 (RFC 8410).
pub(super) const X25519_PARAMS: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x6E];
/// `CKA_EC_PARAMS` for X448: OID 1.3.101.111 (RFC 8410).
pub(super) const X448_PARAMS: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x6F];

const TAG_PRINTABLE_STRING: u8 = 0x13;

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_SEQUENCE: u8 = 0x30;

/// Appends a DER length.
fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Reads one TLV with tag `tag` at the start of `input`: its contents and what follows.
fn read_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len_byte, rest) = rest.split_first()?;
    let (len, rest) = if len_byte < 0x80 {
        (len_byte as usize, rest)
    } else {
        let count = (len_byte & 0x7F) as usize;
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(count);
        // DER: minimal length encoding.
        if len_bytes[0] == 0 {
            return None;
        }
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        if len < 0x80 {
            return None;
        }
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// DER OCTET STRING holding `contents`.
pub(super) fn encode_octet_string(contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(TAG_OCTET_STRING);
    push_length(&mut out, contents.len());
    out.extend_from_slice(contents);
    out
}

/// The contents of a DER OCTET STRING that spans all of `input`.
pub(super) fn decode_octet_string(input: &[u8]) -> Option<&[u8]> {
    match read_tlv(input, TAG_OCTET_STRING)? {
        (contents, []) => Some(contents),
        _ => None,
    }
}

/// The contents of a DER PrintableString that spans all of `input`
/// (PKCS#11 3.0 §2.3.3: a curve named by its printable name).
pub(super) fn decode_printable_string(input: &[u8]) -> Option<&[u8]> {
    match read_tlv(input, TAG_PRINTABLE_STRING)? {
        (contents, []) => Some(contents),
        _ => None,
    }
}

/// Converts an `ECDSA-Sig-Value` (DER) into PKCS#11's `r || s`, each
/// left-padded to `scalar_len` bytes.
pub(super) fn ecdsa_der_to_raw(der: &[u8], scalar_len: usize) -> Result<Vec<u8>> {
    let malformed = || Error::Internal("openssl returned a malformed ECDSA signature");
    let (body, rest) = read_tlv(der, TAG_SEQUENCE).ok_or_else(malformed)?;
    if !rest.is_empty() {
        return Err(malformed());
    }
    let (r, body) = read_tlv(body, TAG_INTEGER).ok_or_else(malformed)?;
    let (s, body) = read_tlv(body, TAG_INTEGER).ok_or_else(malformed)?;
    if !body.is_empty() {
        return Err(malformed());
    }
    let mut out = vec![0u8; 2 * scalar_len];
    let (r_slot, s_slot) = out.split_at_mut(scalar_len);
    for (value, slot) in [(r, r_slot), (s, s_slot)] {
        let value = strip_leading_zeros(value);
        if value.len() > scalar_len {
            return Err(malformed());
        }
        slot[scalar_len - value.len()..].copy_from_slice(value);
    }
    Ok(out)
}

/// Converts PKCS#11's `r || s` into an `ECDSA-Sig-Value` (DER). The caller
/// has checked that `raw` has an even length.
pub(super) fn ecdsa_raw_to_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::with_capacity(raw.len() + 8);
    for value in [r, s] {
        let value = strip_leading_zeros(value);
        let pad = value.first().is_none_or(|b| b & 0x80 != 0);
        body.push(TAG_INTEGER);
        push_length(&mut body, value.len() + pad as usize);
        if pad {
            body.push(0);
        }
        body.extend_from_slice(value);
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(TAG_SEQUENCE);
    push_length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn strip_leading_zeros(value: &[u8]) -> &[u8] {
    let zeros = value.iter().take_while(|b| **b == 0).count();
    &value[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_string_round_trips_short_and_long_forms() {
        for len in [0usize, 1, 65, 127, 128, 133, 255, 256, 70000] {
            let contents = vec![0xAB; len];
            let der = encode_octet_string(&contents);
            assert_eq!(
                decode_octet_string(&der),
                Some(contents.as_slice()),
                "length {len}"
            );
        }
    }

    #[test]
    fn octet_string_with_trailing_bytes_or_wrong_tag_is_refused() {
        assert_eq!(decode_octet_string(&[0x04, 0x01, 0xAA, 0x00]), None);
        assert_eq!(decode_octet_string(&[0x03, 0x01, 0xAA]), None);
        assert_eq!(
            decode_octet_string(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]),
            None,
            "non-minimal length"
        );
        assert_eq!(decode_octet_string(&[0x04, 0x05, 1, 2]), None, "truncated");
    }

    #[test]
    fn ecdsa_signature_converts_both_ways() {
        // r has its high bit set (needs a 0x00 in DER), s has a leading zero byte.
        let mut raw = vec![0u8; 64];
        raw[0] = 0x80;
        raw[31] = 1;
        raw[33] = 0x7F;
        raw[63] = 2;
        let der = ecdsa_raw_to_der(&raw);
        assert_eq!(&der[..5], &[0x30, 0x44, 0x02, 0x21, 0x00]);
        assert_eq!(ecdsa_der_to_raw(&der, 32).unwrap(), raw);
    }
}
