//! Attribute rules as data (PKCS#11 3.0 §4.4 to §4.10): for each object
//! class and key type, which attributes exist, which the caller must or must
//! not give, their defaults, which are sensitive and which may change later.
//!
//! The flags follow the footnotes of the specification's Table 10, so a rule
//! reads like the table it comes from.

use cryptoki_sys::*;

/// Must be given to `C_CreateObject` (footnote 1).
pub const REQUIRED_ON_CREATE: u16 = 1 << 0;
/// Must not be given to `C_CreateObject` (footnote 2).
pub const NOT_ON_CREATE: u16 = 1 << 1;
/// Must be given when generated (footnote 3).
pub const REQUIRED_ON_GENERATE: u16 = 1 << 2;
/// Must not be given when generated or derived (footnote 4).
pub const NOT_ON_GENERATE: u16 = 1 << 3;
/// Must not be given to `C_UnwrapKey` (footnote 6).
pub const NOT_ON_UNWRAP: u16 = 1 << 4;
/// Never revealed while `CKA_SENSITIVE` is true or `CKA_EXTRACTABLE` false (footnote 7).
pub const SENSITIVE: u16 = 1 << 5;
/// May change with `C_SetAttributeValue` and `C_CopyObject` (footnote 8).
pub const MODIFIABLE: u16 = 1 << 6;
/// Once true, stays true (footnote 11).
pub const STAYS_TRUE: u16 = 1 << 7;
/// Once false, stays false (footnote 12).
pub const STAYS_FALSE: u16 = 1 << 8;
/// May change in `C_CopyObject` only (`CKA_TOKEN`, `CKA_PRIVATE`, §4.4).
pub const COPY_ONLY: u16 = 1 << 9;
/// Only the security officer may set it to true, by any path: create,
/// generate, unwrap, derive, copy or set (footnote 10, `CKA_TRUSTED`).
/// Anyone may set it to false.
pub const TRUE_BY_SECURITY_OFFICER: u16 = 1 << 10;

/// Set by the token alone: never given by the caller.
const COMPUTED: u16 = NOT_ON_CREATE | NOT_ON_GENERATE | NOT_ON_UNWRAP;
/// Key material given on import only.
const MATERIAL: u16 = REQUIRED_ON_CREATE | NOT_ON_GENERATE | NOT_ON_UNWRAP;
/// Key material that may be given on import.
const OPTIONAL_MATERIAL: u16 = NOT_ON_GENERATE | NOT_ON_UNWRAP;

/// The value an attribute takes when the caller leaves it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultValue {
    /// No default: the value is required, computed, or comes from key material.
    Absent,
    /// A boolean.
    Bool(bool),
    /// An empty byte string (labels, ids, dates, subjects).
    Empty,
    /// The key's usage flag default, from [`USAGE_DEFAULTS`].
    Usage,
}

/// One attribute's rule within a class.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// The attribute.
    pub kind: CK_ATTRIBUTE_TYPE,
    /// The footnote flags (`REQUIRED_ON_CREATE`, `SENSITIVE`, ...).
    pub flags: u16,
    /// The value when the caller gives none.
    pub default: DefaultValue,
}

impl Rule {
    /// Whether `flag` is set.
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

const fn rule(kind: CK_ATTRIBUTE_TYPE, flags: u16, default: DefaultValue) -> Rule {
    Rule {
        kind,
        flags,
        default,
    }
}

use DefaultValue::{Absent, Bool, Empty, Usage};

/// Every object (§4.4). `CKA_PRIVATE`'s default depends on the class and sits in each class table.
const STORAGE: &[Rule] = &[
    rule(CKA_CLASS, REQUIRED_ON_CREATE, Absent),
    rule(CKA_TOKEN, COPY_ONLY, Bool(false)),
    rule(CKA_MODIFIABLE, MODIFIABLE | STAYS_FALSE, Bool(true)),
    rule(CKA_COPYABLE, MODIFIABLE | STAYS_FALSE, Bool(true)),
    rule(CKA_DESTROYABLE, MODIFIABLE | STAYS_FALSE, Bool(true)),
    rule(CKA_LABEL, MODIFIABLE, Empty),
    rule(CKA_UNIQUE_ID, COMPUTED, Absent),
];

/// Every key (§4.7).
const KEY: &[Rule] = &[
    rule(CKA_KEY_TYPE, REQUIRED_ON_CREATE, Absent),
    rule(CKA_ID, MODIFIABLE, Empty),
    rule(CKA_START_DATE, MODIFIABLE, Empty),
    rule(CKA_END_DATE, MODIFIABLE, Empty),
    rule(CKA_DERIVE, MODIFIABLE, Usage),
    rule(CKA_LOCAL, COMPUTED, Absent),
    rule(CKA_KEY_GEN_MECHANISM, COMPUTED, Absent),
    rule(CKA_ALLOWED_MECHANISMS, 0, Empty),
];

const PUBLIC_KEY: &[Rule] = &[
    rule(CKA_PRIVATE, COPY_ONLY, Bool(false)),
    rule(CKA_SUBJECT, MODIFIABLE, Empty),
    rule(CKA_ENCRYPT, MODIFIABLE, Usage),
    rule(CKA_VERIFY, MODIFIABLE, Usage),
    rule(CKA_VERIFY_RECOVER, MODIFIABLE, Bool(false)),
    rule(CKA_WRAP, MODIFIABLE, Usage),
    rule(
        CKA_TRUSTED,
        MODIFIABLE | TRUE_BY_SECURITY_OFFICER,
        Bool(false),
    ),
    rule(CKA_PUBLIC_KEY_INFO, COMPUTED, Absent),
];

const PRIVATE_KEY: &[Rule] = &[
    rule(CKA_PRIVATE, COPY_ONLY, Bool(true)),
    rule(CKA_SUBJECT, MODIFIABLE, Empty),
    rule(CKA_SENSITIVE, MODIFIABLE | STAYS_TRUE, Bool(true)),
    rule(CKA_DECRYPT, MODIFIABLE, Usage),
    rule(CKA_SIGN, MODIFIABLE, Usage),
    rule(CKA_SIGN_RECOVER, MODIFIABLE, Bool(false)),
    rule(CKA_UNWRAP, MODIFIABLE, Usage),
    // The default is the token's choice; like SoftHSM2, a key leaves the token
    // only if its creator asked for it.
    rule(CKA_EXTRACTABLE, MODIFIABLE | STAYS_FALSE, Bool(false)),
    rule(CKA_ALWAYS_SENSITIVE, COMPUTED, Absent),
    rule(CKA_NEVER_EXTRACTABLE, COMPUTED, Absent),
    rule(CKA_WRAP_WITH_TRUSTED, MODIFIABLE | STAYS_TRUE, Bool(false)),
    rule(CKA_ALWAYS_AUTHENTICATE, 0, Bool(false)),
    rule(CKA_PUBLIC_KEY_INFO, COMPUTED, Absent),
];

const SECRET_KEY: &[Rule] = &[
    rule(CKA_PRIVATE, COPY_ONLY, Bool(true)),
    rule(CKA_SENSITIVE, MODIFIABLE | STAYS_TRUE, Bool(true)),
    rule(CKA_ENCRYPT, MODIFIABLE, Usage),
    rule(CKA_DECRYPT, MODIFIABLE, Usage),
    rule(CKA_SIGN, MODIFIABLE, Usage),
    rule(CKA_VERIFY, MODIFIABLE, Usage),
    rule(CKA_WRAP, MODIFIABLE, Usage),
    rule(CKA_UNWRAP, MODIFIABLE, Usage),
    rule(CKA_EXTRACTABLE, MODIFIABLE | STAYS_FALSE, Bool(false)),
    rule(CKA_ALWAYS_SENSITIVE, COMPUTED, Absent),
    rule(CKA_NEVER_EXTRACTABLE, COMPUTED, Absent),
    rule(CKA_WRAP_WITH_TRUSTED, MODIFIABLE | STAYS_TRUE, Bool(false)),
    rule(
        CKA_TRUSTED,
        MODIFIABLE | TRUE_BY_SECURITY_OFFICER,
        Bool(false),
    ),
];

const DATA: &[Rule] = &[
    rule(CKA_PRIVATE, COPY_ONLY, Bool(false)),
    rule(CKA_APPLICATION, MODIFIABLE, Empty),
    rule(CKA_OBJECT_ID, MODIFIABLE, Empty),
    rule(CKA_VALUE, MODIFIABLE, Empty),
];

/// §6.1.3: `CKA_MODULUS_BITS` is required to generate, computed otherwise.
const RSA_PUBLIC: &[Rule] = &[
    rule(CKA_MODULUS, REQUIRED_ON_CREATE | NOT_ON_GENERATE, Absent),
    rule(
        CKA_MODULUS_BITS,
        NOT_ON_CREATE | REQUIRED_ON_GENERATE,
        Absent,
    ),
    rule(CKA_PUBLIC_EXPONENT, REQUIRED_ON_CREATE, Absent),
];

/// §6.1.4. The CRT values are optional on import: OpenSSL recomputes nothing
/// from them, so a caller may give only n, e and d.
const RSA_PRIVATE: &[Rule] = &[
    rule(CKA_MODULUS, MATERIAL, Absent),
    rule(CKA_PUBLIC_EXPONENT, MATERIAL, Absent),
    // Not in the specification's table; clients read it to size signatures.
    rule(CKA_MODULUS_BITS, COMPUTED, Absent),
    rule(CKA_PRIVATE_EXPONENT, MATERIAL | SENSITIVE, Absent),
    rule(CKA_PRIME_1, OPTIONAL_MATERIAL | SENSITIVE, Absent),
    rule(CKA_PRIME_2, OPTIONAL_MATERIAL | SENSITIVE, Absent),
    rule(CKA_EXPONENT_1, OPTIONAL_MATERIAL | SENSITIVE, Absent),
    rule(CKA_EXPONENT_2, OPTIONAL_MATERIAL | SENSITIVE, Absent),
    rule(CKA_COEFFICIENT, OPTIONAL_MATERIAL | SENSITIVE, Absent),
];

/// §6.3.3 (and §6.3.5 for Edwards keys).
const EC_PUBLIC: &[Rule] = &[
    rule(
        CKA_EC_PARAMS,
        REQUIRED_ON_CREATE | REQUIRED_ON_GENERATE,
        Absent,
    ),
    rule(CKA_EC_POINT, REQUIRED_ON_CREATE | NOT_ON_GENERATE, Absent),
];

/// §6.3.4; `CKA_EC_POINT` on a private key is this token's addition,
/// because pkcs11-tool and libp11 look for it there.
const EC_PRIVATE: &[Rule] = &[
    rule(CKA_EC_PARAMS, MATERIAL, Absent),
    rule(CKA_VALUE, MATERIAL | SENSITIVE, Absent),
    rule(CKA_EC_POINT, COMPUTED, Absent),
];

/// §6.7.1 (AES) and §6.6.1 (generic secret).
const SECRET_VALUE: &[Rule] = &[
    rule(CKA_VALUE, MATERIAL | SENSITIVE, Absent),
    rule(
        CKA_VALUE_LEN,
        NOT_ON_CREATE | REQUIRED_ON_GENERATE | NOT_ON_UNWRAP,
        Absent,
    ),
];

/// The key types this device holds.
pub const KEY_TYPES: &[CK_KEY_TYPE] =
    &[CKK_RSA, CKK_EC, CKK_EC_EDWARDS, CKK_AES, CKK_GENERIC_SECRET];

/// Which usage flags are on by default, per class and key type: a key can
/// do what its type allows unless the template says otherwise.
pub const USAGE_DEFAULTS: &[(CK_OBJECT_CLASS, CK_KEY_TYPE, &[CK_ATTRIBUTE_TYPE])] = &[
    (
        CKO_PUBLIC_KEY,
        CKK_RSA,
        &[CKA_ENCRYPT, CKA_VERIFY, CKA_WRAP],
    ),
    (CKO_PUBLIC_KEY, CKK_EC, &[CKA_VERIFY]),
    (CKO_PUBLIC_KEY, CKK_EC_EDWARDS, &[CKA_VERIFY]),
    (
        CKO_PRIVATE_KEY,
        CKK_RSA,
        &[CKA_DECRYPT, CKA_SIGN, CKA_UNWRAP],
    ),
    (CKO_PRIVATE_KEY, CKK_EC, &[CKA_SIGN, CKA_DERIVE]),
    (CKO_PRIVATE_KEY, CKK_EC_EDWARDS, &[CKA_SIGN]),
    (
        CKO_SECRET_KEY,
        CKK_AES,
        &[
            CKA_ENCRYPT,
            CKA_DECRYPT,
            CKA_SIGN,
            CKA_VERIFY,
            CKA_WRAP,
            CKA_UNWRAP,
            CKA_DERIVE,
        ],
    ),
    (
        CKO_SECRET_KEY,
        CKK_GENERIC_SECRET,
        &[
            CKA_ENCRYPT,
            CKA_DECRYPT,
            CKA_SIGN,
            CKA_VERIFY,
            CKA_WRAP,
            CKA_UNWRAP,
            CKA_DERIVE,
        ],
    ),
];

/// The default of usage flag `kind` for a key of `class` and `key_type`.
pub fn usage_default(
    class: CK_OBJECT_CLASS,
    key_type: CK_KEY_TYPE,
    kind: CK_ATTRIBUTE_TYPE,
) -> bool {
    USAGE_DEFAULTS
        .iter()
        .any(|(c, k, flags)| *c == class && *k == key_type && flags.contains(&kind))
}

/// The rule tables that make up an object of `class` (and `key_type` for keys);
/// `None` for a class or key type this device does not hold.
pub fn tables(
    class: CK_OBJECT_CLASS,
    key_type: Option<CK_KEY_TYPE>,
) -> Option<Vec<&'static [Rule]>> {
    if class == CKO_DATA {
        return Some(vec![STORAGE, DATA]);
    }
    let key_type = key_type?;
    let specific: &'static [Rule] = match (class, key_type) {
        (CKO_PUBLIC_KEY, CKK_RSA) => RSA_PUBLIC,
        (CKO_PUBLIC_KEY, CKK_EC | CKK_EC_EDWARDS) => EC_PUBLIC,
        (CKO_PRIVATE_KEY, CKK_RSA) => RSA_PRIVATE,
        (CKO_PRIVATE_KEY, CKK_EC | CKK_EC_EDWARDS) => EC_PRIVATE,
        (CKO_SECRET_KEY, CKK_AES | CKK_GENERIC_SECRET) => SECRET_VALUE,
        _ => return None,
    };
    let class_table = match class {
        CKO_PUBLIC_KEY => PUBLIC_KEY,
        CKO_PRIVATE_KEY => PRIVATE_KEY,
        _ => SECRET_KEY,
    };
    Some(vec![STORAGE, KEY, class_table, specific])
}

/// The rule of `kind` for an object of `class`/`key_type`; `None` when the
/// object has no such attribute.
pub fn rule_of(
    class: CK_OBJECT_CLASS,
    key_type: Option<CK_KEY_TYPE>,
    kind: CK_ATTRIBUTE_TYPE,
) -> Option<Rule> {
    tables(class, key_type)?
        .into_iter()
        .flat_map(|table| table.iter())
        .find(|rule| rule.kind == kind)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_attribute_appears_twice_in_one_class() {
        for class in [CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY] {
            for key_type in KEY_TYPES {
                let Some(tables) = tables(class, Some(*key_type)) else {
                    continue;
                };
                let mut kinds: Vec<_> = tables
                    .iter()
                    .flat_map(|t| t.iter().map(|r| r.kind))
                    .collect();
                let before = kinds.len();
                kinds.sort_unstable();
                kinds.dedup();
                assert_eq!(kinds.len(), before, "class {class} key type {key_type}");
            }
        }
    }

    #[test]
    fn every_rule_names_an_attribute_with_a_known_value_kind() {
        for class in [CKO_DATA, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY] {
            for key_type in KEY_TYPES {
                let Some(tables) = tables(class, Some(*key_type)) else {
                    continue;
                };
                for rule in tables.iter().flat_map(|t| t.iter()) {
                    assert!(
                        crate::object::value_kind(rule.kind).is_some(),
                        "0x{:x}",
                        rule.kind
                    );
                }
            }
        }
    }

    #[test]
    fn private_and_secret_keys_are_sensitive_and_unextractable_by_default() {
        for (class, key_type) in [
            (CKO_PRIVATE_KEY, CKK_RSA),
            (CKO_PRIVATE_KEY, CKK_EC),
            (CKO_PRIVATE_KEY, CKK_EC_EDWARDS),
            (CKO_SECRET_KEY, CKK_AES),
            (CKO_SECRET_KEY, CKK_GENERIC_SECRET),
        ] {
            let default = |kind| rule_of(class, Some(key_type), kind).map(|r| r.default);
            assert_eq!(
                (default(CKA_SENSITIVE), default(CKA_EXTRACTABLE)),
                (Some(Bool(true)), Some(Bool(false))),
                "class {class} key type {key_type}"
            );
            let extractable = rule_of(class, Some(key_type), CKA_EXTRACTABLE).unwrap();
            let sensitive = rule_of(class, Some(key_type), CKA_SENSITIVE).unwrap();
            assert!(extractable.has(STAYS_FALSE) && sensitive.has(STAYS_TRUE));
        }
    }

    #[test]
    fn only_public_and_secret_keys_have_a_security_officer_only_cka_trusted() {
        let trusted = |class, key_type| {
            rule_of(class, Some(key_type), CKA_TRUSTED).map(|r| r.has(TRUE_BY_SECURITY_OFFICER))
        };
        assert_eq!(
            (
                trusted(CKO_PUBLIC_KEY, CKK_RSA),
                trusted(CKO_SECRET_KEY, CKK_AES),
                trusted(CKO_PRIVATE_KEY, CKK_RSA),
            ),
            (Some(true), Some(true), None)
        );
    }

    #[test]
    fn private_key_values_are_sensitive_and_public_ones_are_not() {
        let d =
            rule_of(CKO_PRIVATE_KEY, Some(CKK_RSA), CKA_PRIVATE_EXPONENT).map(|r| r.has(SENSITIVE));
        let n = rule_of(CKO_PRIVATE_KEY, Some(CKK_RSA), CKA_MODULUS).map(|r| r.has(SENSITIVE));
        assert_eq!((d, n), (Some(true), Some(false)));
    }
}
