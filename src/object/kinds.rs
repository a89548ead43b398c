//! The value type of each attribute the provider knows, so that values can be
//! validated on input and encoded explicitly in blobs and the token database.

use super::AttributeType;
use cryptoki_sys::*;

/// How an attribute's value is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `CK_BBOOL`, one byte.
    Bool,
    /// `CK_ULONG` (classes, types, mechanisms, categories, lengths).
    Ulong,
    /// An RFC 2279 (UTF-8) string, not NUL-terminated.
    Utf8,
    /// `CK_DATE`: 8 ASCII digits `YYYYMMDD`, or empty.
    Date,
    /// An arbitrary byte array (DER, big integers, ids, ...).
    Bytes,
    /// An array of `CK_MECHANISM_TYPE`.
    MechanismArray,
    /// An attribute array (`CKA_WRAP_TEMPLATE`, ...): not supported as a value.
    AttributeArray,
}

/// The value kind of `kind`, or `None` for an attribute this provider does not know.
pub fn value_kind(kind: AttributeType) -> Option<ValueKind> {
    use ValueKind::*;
    Some(match kind {
        CKA_TOKEN
        | CKA_PRIVATE
        | CKA_MODIFIABLE
        | CKA_COPYABLE
        | CKA_DESTROYABLE
        | CKA_TRUSTED
        | CKA_SENSITIVE
        | CKA_ENCRYPT
        | CKA_DECRYPT
        | CKA_WRAP
        | CKA_UNWRAP
        | CKA_SIGN
        | CKA_SIGN_RECOVER
        | CKA_VERIFY
        | CKA_VERIFY_RECOVER
        | CKA_DERIVE
        | CKA_EXTRACTABLE
        | CKA_LOCAL
        | CKA_NEVER_EXTRACTABLE
        | CKA_ALWAYS_SENSITIVE
        | CKA_WRAP_WITH_TRUSTED
        | CKA_ALWAYS_AUTHENTICATE
        | CKA_ENCAPSULATE
        | CKA_DECAPSULATE => Bool,
        CKA_CLASS
        | CKA_CERTIFICATE_TYPE
        | CKA_CERTIFICATE_CATEGORY
        | CKA_JAVA_MIDP_SECURITY_DOMAIN
        | CKA_NAME_HASH_ALGORITHM
        | CKA_KEY_TYPE
        | CKA_MODULUS_BITS
        | CKA_VALUE_LEN
        | CKA_KEY_GEN_MECHANISM
        | CKA_PARAMETER_SET => Ulong,
        CKA_LABEL | CKA_URL => Utf8,
        CKA_START_DATE | CKA_END_DATE => Date,
        CKA_ID
        | CKA_VALUE
        | CKA_SUBJECT
        | CKA_ISSUER
        | CKA_SERIAL_NUMBER
        | CKA_CHECK_VALUE
        | CKA_PUBLIC_KEY_INFO
        | CKA_HASH_OF_SUBJECT_PUBLIC_KEY
        | CKA_HASH_OF_ISSUER_PUBLIC_KEY
        | CKA_APPLICATION
        | CKA_OBJECT_ID
        | CKA_MODULUS
        | CKA_PUBLIC_EXPONENT
        | CKA_PRIVATE_EXPONENT
        | CKA_PRIME_1
        | CKA_PRIME_2
        | CKA_EXPONENT_1
        | CKA_EXPONENT_2
        | CKA_COEFFICIENT
        | CKA_EC_PARAMS
        | CKA_EC_POINT
        | CKA_UNIQUE_ID
        | CKA_SEED => Bytes,
        CKA_ALLOWED_MECHANISMS => MechanismArray,
        CKA_WRAP_TEMPLATE | CKA_UNWRAP_TEMPLATE | CKA_DERIVE_TEMPLATE => AttributeArray,
        _ => return None,
    })
}

/// Checks that `value` is well formed for an attribute of kind `kind`.
pub fn is_well_formed(kind: ValueKind, value: &[u8]) -> bool {
    match kind {
        ValueKind::Bool => value.len() == 1,
        ValueKind::Ulong => value.len() == std::mem::size_of::<CK_ULONG>(),
        ValueKind::Utf8 => std::str::from_utf8(value).is_ok(),
        ValueKind::Date => {
            value.is_empty() || (value.len() == 8 && value.iter().all(u8::is_ascii_digit))
        }
        ValueKind::Bytes => true,
        ValueKind::MechanismArray => value.len().is_multiple_of(std::mem::size_of::<CK_ULONG>()),
        ValueKind::AttributeArray => false,
    }
}

/// The specification's name of an attribute (`"CKA_LABEL"`), used in blobs and logs.
pub fn attribute_name(kind: AttributeType) -> Option<&'static str> {
    NAMES.iter().find(|(k, _)| *k == kind).map(|(_, n)| *n)
}

/// The attribute type named `name`, the inverse of [`attribute_name`].
pub fn attribute_by_name(name: &str) -> Option<AttributeType> {
    NAMES.iter().find(|(_, n)| *n == name).map(|(k, _)| *k)
}

const NAMES: &[(AttributeType, &str)] = &[
    (CKA_CLASS, "CKA_CLASS"),
    (CKA_TOKEN, "CKA_TOKEN"),
    (CKA_PRIVATE, "CKA_PRIVATE"),
    (CKA_LABEL, "CKA_LABEL"),
    (CKA_UNIQUE_ID, "CKA_UNIQUE_ID"),
    (CKA_APPLICATION, "CKA_APPLICATION"),
    (CKA_VALUE, "CKA_VALUE"),
    (CKA_OBJECT_ID, "CKA_OBJECT_ID"),
    (CKA_CERTIFICATE_TYPE, "CKA_CERTIFICATE_TYPE"),
    (CKA_ISSUER, "CKA_ISSUER"),
    (CKA_SERIAL_NUMBER, "CKA_SERIAL_NUMBER"),
    (CKA_TRUSTED, "CKA_TRUSTED"),
    (CKA_CERTIFICATE_CATEGORY, "CKA_CERTIFICATE_CATEGORY"),
    (
        CKA_JAVA_MIDP_SECURITY_DOMAIN,
        "CKA_JAVA_MIDP_SECURITY_DOMAIN",
    ),
    (CKA_URL, "CKA_URL"),
    (
        CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
        "CKA_HASH_OF_SUBJECT_PUBLIC_KEY",
    ),
    (
        CKA_HASH_OF_ISSUER_PUBLIC_KEY,
        "CKA_HASH_OF_ISSUER_PUBLIC_KEY",
    ),
    (CKA_NAME_HASH_ALGORITHM, "CKA_NAME_HASH_ALGORITHM"),
    (CKA_CHECK_VALUE, "CKA_CHECK_VALUE"),
    (CKA_KEY_TYPE, "CKA_KEY_TYPE"),
    (CKA_SUBJECT, "CKA_SUBJECT"),
    (CKA_ID, "CKA_ID"),
    (CKA_SENSITIVE, "CKA_SENSITIVE"),
    (CKA_ENCRYPT, "CKA_ENCRYPT"),
    (CKA_DECRYPT, "CKA_DECRYPT"),
    (CKA_WRAP, "CKA_WRAP"),
    (CKA_UNWRAP, "CKA_UNWRAP"),
    (CKA_SIGN, "CKA_SIGN"),
    (CKA_SIGN_RECOVER, "CKA_SIGN_RECOVER"),
    (CKA_VERIFY, "CKA_VERIFY"),
    (CKA_VERIFY_RECOVER, "CKA_VERIFY_RECOVER"),
    (CKA_DERIVE, "CKA_DERIVE"),
    (CKA_START_DATE, "CKA_START_DATE"),
    (CKA_END_DATE, "CKA_END_DATE"),
    (CKA_MODULUS, "CKA_MODULUS"),
    (CKA_MODULUS_BITS, "CKA_MODULUS_BITS"),
    (CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT"),
    (CKA_PRIVATE_EXPONENT, "CKA_PRIVATE_EXPONENT"),
    (CKA_PRIME_1, "CKA_PRIME_1"),
    (CKA_PRIME_2, "CKA_PRIME_2"),
    (CKA_EXPONENT_1, "CKA_EXPONENT_1"),
    (CKA_EXPONENT_2, "CKA_EXPONENT_2"),
    (CKA_COEFFICIENT, "CKA_COEFFICIENT"),
    (CKA_PUBLIC_KEY_INFO, "CKA_PUBLIC_KEY_INFO"),
    (CKA_VALUE_LEN, "CKA_VALUE_LEN"),
    (CKA_EXTRACTABLE, "CKA_EXTRACTABLE"),
    (CKA_LOCAL, "CKA_LOCAL"),
    (CKA_NEVER_EXTRACTABLE, "CKA_NEVER_EXTRACTABLE"),
    (CKA_ALWAYS_SENSITIVE, "CKA_ALWAYS_SENSITIVE"),
    (CKA_KEY_GEN_MECHANISM, "CKA_KEY_GEN_MECHANISM"),
    (CKA_MODIFIABLE, "CKA_MODIFIABLE"),
    (CKA_COPYABLE, "CKA_COPYABLE"),
    (CKA_DESTROYABLE, "CKA_DESTROYABLE"),
    (CKA_EC_PARAMS, "CKA_EC_PARAMS"),
    (CKA_EC_POINT, "CKA_EC_POINT"),
    (CKA_ALWAYS_AUTHENTICATE, "CKA_ALWAYS_AUTHENTICATE"),
    (CKA_WRAP_WITH_TRUSTED, "CKA_WRAP_WITH_TRUSTED"),
    (CKA_WRAP_TEMPLATE, "CKA_WRAP_TEMPLATE"),
    (CKA_UNWRAP_TEMPLATE, "CKA_UNWRAP_TEMPLATE"),
    (CKA_DERIVE_TEMPLATE, "CKA_DERIVE_TEMPLATE"),
    (CKA_ALLOWED_MECHANISMS, "CKA_ALLOWED_MECHANISMS"),
    (CKA_PARAMETER_SET, "CKA_PARAMETER_SET"),
    (CKA_SEED, "CKA_SEED"),
    (CKA_ENCAPSULATE, "CKA_ENCAPSULATE"),
    (CKA_DECAPSULATE, "CKA_DECAPSULATE"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_attribute_round_trips_through_its_name() {
        for (kind, name) in NAMES {
            assert_eq!(attribute_by_name(name), Some(*kind));
            assert_eq!(attribute_name(*kind), Some(*name));
        }
    }

    #[test]
    fn dates_must_be_eight_digits_or_empty() {
        assert!(is_well_formed(ValueKind::Date, b"20250516"));
        assert!(is_well_formed(ValueKind::Date, b""));
        assert!(!is_well_formed(ValueKind::Date, b"2025-05-1"));
    }
}
