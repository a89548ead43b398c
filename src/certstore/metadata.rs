//! Blob metadata: the searchable attributes of a certificate, stored beside
//! the blob (Azure blob metadata) so that a listing can be searched without
//! reading bodies. Names are C# identifiers and values ASCII, as Azure
//! requires; see `docs/blob-format.md`.
//!
//! Metadata is not signed: whatever it says is checked against the signed
//! payload when the body is read, and a disagreement is treated as
//! tampering.

use super::encoding::{base64url_decode, base64url_encode};
use super::rules::searchable_kinds;
use super::Metadata;
use crate::object::kinds::{attribute_name, value_kind, ValueKind};
use crate::object::{decode_bool, decode_ulong, encode_bool, encode_ulong, Attributes};
use std::collections::BTreeMap;

/// The metadata `format` key's value this code writes and reads.
pub const FORMAT: &str = "1";

/// The metadata of a certificate: `format` plus one `cka_<name>` key per
/// searchable attribute (CKA_CLASS -> `cka_class`). Booleans are
/// `true`/`false`, numbers decimal, byte arrays and strings base64url
/// (labels may be UTF-8; metadata must be ASCII).
pub fn encode(object: &Attributes) -> BTreeMap<String, String> {
    let mut metadata = BTreeMap::new();
    metadata.insert("format".to_owned(), FORMAT.to_owned());
    for kind in searchable_kinds() {
        let (Some(name), Some(value), Some(value_kind)) =
            (attribute_name(kind), object.get(kind), value_kind(kind))
        else {
            continue;
        };
        let text = match value_kind {
            ValueKind::Bool => decode_bool(value).map(|b| b.to_string()),
            ValueKind::Ulong => decode_ulong(value).map(|n| n.to_string()),
            _ => Some(base64url_encode(value)),
        };
        if let Some(text) = text {
            metadata.insert(name.to_ascii_lowercase(), text);
        }
    }
    metadata
}

/// The searchable attributes that `metadata` describes; `None` when it is
/// not certificate metadata of format 1 or a value is malformed. Keys other
/// than `format` and the searchable attributes are ignored (Azure may add
/// its own).
pub fn decode(metadata: &Metadata) -> Option<Attributes> {
    if metadata.get("format").map(String::as_str) != Some(FORMAT) {
        return None;
    }
    let mut attributes = Attributes::new();
    for kind in searchable_kinds() {
        let name = attribute_name(kind)?.to_ascii_lowercase();
        let Some(text) = metadata.get(&name) else {
            continue;
        };
        let value = match value_kind(kind)? {
            ValueKind::Bool => match text.as_str() {
                "true" => encode_bool(true),
                "false" => encode_bool(false),
                _ => return None,
            },
            ValueKind::Ulong => encode_ulong(text.parse().ok()?),
            _ => base64url_decode(text)?,
        };
        attributes.set(kind, value);
    }
    Some(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::*;

    fn sample() -> Attributes {
        let mut object = Attributes::new();
        object.set_ulong(CKA_CLASS, CKO_CERTIFICATE);
        object.set_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509);
        object.set_bool(CKA_TOKEN, true);
        object.set_bool(CKA_PRIVATE, false);
        object.set(CKA_LABEL, "Étiquette ✓".as_bytes().to_vec());
        object.set(CKA_ID, vec![123]);
        object.set(CKA_SUBJECT, vec![0x30, 0x00]);
        object.set(CKA_ISSUER, Vec::new());
        object.set(CKA_SERIAL_NUMBER, vec![2, 1, 5]);
        object.set(CKA_VALUE, vec![1, 2, 3]);
        object
    }

    #[test]
    fn metadata_round_trips_the_searchable_attributes_only() {
        let object = sample();
        let metadata = encode(&object);
        let decoded = decode(&metadata).expect("decodes");
        assert_eq!(decoded, super::super::rules::search_attributes(&object));
        assert!(!decoded.contains(CKA_VALUE));
    }

    #[test]
    fn metadata_names_are_identifiers_and_values_are_ascii() {
        for (name, value) in encode(&sample()) {
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{name}"
            );
            assert!(!name.starts_with(|c: char| c.is_ascii_digit()));
            assert!(value.is_ascii(), "{name}={value}");
        }
    }

    #[test]
    fn metadata_of_another_format_or_with_bad_values_is_refused() {
        let mut metadata = encode(&sample());
        metadata.insert("format".into(), "2".into());
        assert_eq!(decode(&metadata), None);
        let mut metadata = encode(&sample());
        metadata.insert("cka_private".into(), "yes".into());
        assert_eq!(decode(&metadata), None);
        let mut metadata = encode(&sample());
        metadata.insert("cka_label".into(), "not base64!".into());
        assert_eq!(decode(&metadata), None);
    }
}
