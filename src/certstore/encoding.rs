//! Base64url (RFC 4648 §5, no padding) and the explicit JSON encoding of an
//! attribute value by its value kind, shared by the JWS payload and the
//! blob metadata (see `docs/blob-format.md`).

use crate::object::kinds::{is_well_formed, value_kind, ValueKind};
use crate::object::{decode_bool, decode_ulong, encode_bool, encode_ulong, AttributeType};
use serde_json::Value;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const INVALID: u8 = 0xff;

/// The sextet of each byte, or `INVALID`: a table, because decoding every
/// blob's payload at start-up is on the cold-start path.
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Encodes `bytes` as base64url without padding.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for sextet in sextets.iter().take(chunk.len() + 1) {
            out.push(char::from(ALPHABET[*sextet as usize]));
        }
    }
    out
}

/// Decodes base64url without padding; `None` for any other input (padding,
/// whitespace, the standard alphabet, or a dangling character are refused so
/// that one value has exactly one encoding).
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    base64url_decode_into(text, &mut out).then_some(out)
}

/// As [`base64url_decode`], into `out` (cleared first) so that a caller
/// decoding many values (every blob's payload at start-up) reuses one
/// buffer. False when `text` is refused.
pub fn base64url_decode_into(text: &str, out: &mut Vec<u8>) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return false;
    }
    let whole = bytes.len() - bytes.len() % 4;
    let (groups, tail) = bytes.split_at(whole);
    out.clear();
    out.reserve(whole / 4 * 3 + 2);
    let sextets = |chunk: &[u8]| -> Option<u32> {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            match DECODE[usize::from(*c)] {
                INVALID => return None,
                value => n |= u32::from(value) << (18 - 6 * i),
            }
        }
        Some(n)
    };
    for group in groups.chunks_exact(4) {
        let Some(n) = sextets(group) else {
            return false;
        };
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    if tail.is_empty() {
        return true;
    }
    let Some(n) = sextets(tail) else {
        return false;
    };
    let produced = tail.len() - 1;
    let decoded = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    // Bits past the last whole byte must be zero (canonical encoding).
    if decoded[produced..].iter().any(|b| *b != 0) {
        return false;
    }
    out.extend_from_slice(&decoded[..produced]);
    true
}

/// The JSON form of an attribute value: Bool -> bool, Ulong -> number,
/// Utf8 -> string, Date -> `"YYYYMMDD"` or `""`, Bytes -> base64url string.
/// `None` for a kind that has no blob encoding or a malformed value.
// CK_ULONG is u32 on Windows, where the conversions are not useless.
#[allow(clippy::useless_conversion)]
pub fn value_to_json(kind: AttributeType, value: &[u8]) -> Option<Value> {
    let value_kind = value_kind(kind)?;
    if !is_well_formed(value_kind, value) {
        return None;
    }
    Some(match value_kind {
        ValueKind::Bool => Value::Bool(decode_bool(value)?),
        ValueKind::Ulong => Value::from(u64::try_from(decode_ulong(value)?).ok()?),
        ValueKind::Utf8 | ValueKind::Date => {
            Value::String(std::str::from_utf8(value).ok()?.to_owned())
        }
        ValueKind::Bytes => Value::String(base64url_encode(value)),
        ValueKind::MechanismArray | ValueKind::AttributeArray => return None,
    })
}

/// The inverse of [`value_to_json`]: `None` when the JSON does not have the
/// form the attribute's kind requires.
#[allow(clippy::useless_conversion)]
pub fn value_from_json(kind: AttributeType, json: &Value) -> Option<Vec<u8>> {
    let value_kind = value_kind(kind)?;
    let value = match (value_kind, json) {
        (ValueKind::Bool, Value::Bool(b)) => encode_bool(*b),
        (ValueKind::Ulong, Value::Number(n)) => encode_ulong(n.as_u64()?.try_into().ok()?),
        (ValueKind::Utf8 | ValueKind::Date, Value::String(s)) => s.as_bytes().to_vec(),
        (ValueKind::Bytes, Value::String(s)) => base64url_decode(s)?,
        _ => return None,
    };
    is_well_formed(value_kind, &value).then_some(value)
}

/// Parses JSON as `serde_json::from_slice` does, except that an object
/// naming a member twice is refused: a blob is read one way only, so the
/// index (which reads a few members) and the verified read (which reads
/// them all) can never take different values from one text. RFC 7515 §4
/// allows refusing a header with duplicate names; the payload follows the
/// same rule.
pub fn json_without_duplicates(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    use serde::Deserialize;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let UniqueJson(value) = UniqueJson::deserialize(&mut deserializer)?;
    // Trailing characters are refused, as `from_slice` refuses them.
    deserializer.end()?;
    Ok(value)
}

/// A JSON value whose objects name each member once.
struct UniqueJson(Value);

impl<'de> serde::Deserialize<'de> for UniqueJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(UniqueJson)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }
    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut items: A) -> Result<Value, A::Error> {
        let mut array = Vec::new();
        while let Some(UniqueJson(item)) = items.next_element()? {
            array.push(item);
        }
        Ok(Value::Array(array))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(name) = members.next_key::<String>()? {
            if object.contains_key(&name) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate member `{}`",
                    crate::logging::outside(&name)
                )));
            }
            let UniqueJson(value) = members.next_value()?;
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = base64url_encode(&bytes);
            assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
            assert_eq!(base64url_decode(&text), Some(bytes));
        }
    }

    #[test]
    fn base64url_matches_the_rfc_vectors() {
        assert_eq!(base64url_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url_encode(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn base64url_refuses_padding_and_foreign_characters() {
        for bad in ["Zg==", "Zm9v+", "Zm9v/", "Z", "Zm 9v", "Zh"] {
            assert_eq!(base64url_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_value_kind_has_its_json_form() {
        let cases: Vec<(AttributeType, Vec<u8>, Value)> = vec![
            (CKA_TOKEN, encode_bool(true), Value::Bool(true)),
            (CKA_CLASS, encode_ulong(CKO_CERTIFICATE), Value::from(1u64)),
            (
                CKA_LABEL,
                "MyCertificate".into(),
                Value::from("MyCertificate"),
            ),
            (
                CKA_START_DATE,
                b"20250516".to_vec(),
                Value::from("20250516"),
            ),
            (CKA_END_DATE, Vec::new(), Value::from("")),
            (CKA_ID, vec![123], Value::from("ew")),
        ];
        for (kind, bytes, json) in cases {
            assert_eq!(value_to_json(kind, &bytes), Some(json.clone()));
            assert_eq!(value_from_json(kind, &json), Some(bytes));
        }
    }

    #[test]
    fn json_of_the_wrong_form_is_refused() {
        assert_eq!(value_from_json(CKA_TOKEN, &Value::from(1)), None);
        assert_eq!(value_from_json(CKA_CLASS, &Value::from(-1)), None);
        assert_eq!(value_from_json(CKA_START_DATE, &Value::from("2025")), None);
        assert_eq!(value_from_json(CKA_ID, &Value::from("ew==")), None);
    }
}
