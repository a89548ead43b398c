//! The attribute tables of every object class the provider holds itself
//! (PKCS#11 3.0 §4.4 to §4.10, §6), in the one schema of [`super::rules`].
//! A row that two classes share is written once, as a constant, and
//! listed in both tables.

use super::rules::Change::{
    CopyOnly, Free, Never, OnlyToFalse, OnlyToTrue, ReadOnly, SecurityOfficerOnly,
};
use super::rules::Default::{Absent, Bool, Computed, Empty, FromValue, Ulong, Usage};
use super::rules::{Change, Default, Origins, Rule};
use super::{AttributeType, Attributes};
use cryptoki_sys::*;

const fn rule(kind: AttributeType, default: Default, change: Change) -> Rule {
    Rule::new(kind, default, change)
}

/// Read-only and without a default: required, key material, or set by the token.
const fn fixed(kind: AttributeType) -> Rule {
    rule(kind, Absent, ReadOnly)
}

// ----- rows shared by several classes -----

/// Required to create, implied by the operation otherwise, never changed.
const CLASS: Rule = fixed(CKA_CLASS).required_on(Origins::CREATE).searchable();
/// §4.4: cleared for good once false.
const MODIFIABLE: Rule = rule(CKA_MODIFIABLE, Bool(true), OnlyToFalse);
/// §4.4: "can't be set to TRUE once it is set to FALSE".
const COPYABLE: Rule = rule(CKA_COPYABLE, Bool(true), OnlyToFalse);
/// §4.4, as `CKA_COPYABLE`.
const DESTROYABLE: Rule = rule(CKA_DESTROYABLE, Bool(true), OnlyToFalse);
const LABEL: Rule = rule(CKA_LABEL, Empty, Free).searchable();
const ID: Rule = rule(CKA_ID, Empty, Free).searchable();
/// §4.6.1 (certificates), §4.8 (public keys), §4.10 (secret keys).
const TRUSTED: Rule = rule(CKA_TRUSTED, Bool(false), SecurityOfficerOnly);
/// §4.4.1: assigned by the token, in no template of any function
/// (`CKR_ATTRIBUTE_READ_ONLY`, even with the object's own value). Refused
/// in the templates of every class, also of those that have none to read
/// (certificates: [`super::template`] falls back to it).
pub(super) const UNIQUE_ID: Rule = rule(CKA_UNIQUE_ID, Absent, Never).computed();

/// A key's `CKA_TOKEN` and `CKA_PRIVATE` change by copy only (§4.4).
const fn copy_only(kind: AttributeType, default: bool) -> Rule {
    rule(kind, Bool(default), CopyOnly)
}

/// A usage flag, on or off by default with the key's type.
const fn usage(kind: AttributeType) -> Rule {
    rule(kind, Usage, Free)
}

/// A value the caller may set and change freely, empty by default.
const fn free(kind: AttributeType) -> Rule {
    rule(kind, Empty, Free)
}

/// A flag false by default that may change freely.
const fn free_false(kind: AttributeType) -> Rule {
    rule(kind, Bool(false), Free)
}

/// Once true, stays true; false by default.
const fn stays_true(kind: AttributeType, default: bool) -> Rule {
    rule(kind, Bool(default), OnlyToTrue)
}

// ----- keys and data objects of the embedded token -----

/// Every key and data object (§4.4). `CKA_PRIVATE`'s default depends on
/// the class and sits in each class table.
const STORAGE: &[Rule] = &[
    CLASS,
    copy_only(CKA_TOKEN, false),
    MODIFIABLE,
    COPYABLE,
    DESTROYABLE,
    LABEL,
    UNIQUE_ID,
];

/// Every key (§4.7).
const KEY: &[Rule] = &[
    fixed(CKA_KEY_TYPE).required_on(Origins::CREATE),
    ID,
    free(CKA_START_DATE),
    free(CKA_END_DATE),
    usage(CKA_DERIVE),
    fixed(CKA_LOCAL).computed(),
    fixed(CKA_KEY_GEN_MECHANISM).computed(),
    rule(CKA_ALLOWED_MECHANISMS, Empty, ReadOnly),
];

/// §4.8.
const PUBLIC_KEY: &[Rule] = &[
    copy_only(CKA_PRIVATE, false),
    free(CKA_SUBJECT),
    usage(CKA_ENCRYPT),
    usage(CKA_VERIFY),
    free_false(CKA_VERIFY_RECOVER),
    usage(CKA_WRAP),
    TRUSTED,
    fixed(CKA_PUBLIC_KEY_INFO).computed(),
];

/// What private and secret keys share (§4.9, §4.10): the attributes of
/// key custody.
const CUSTODY: &[Rule] = &[
    stays_true(CKA_SENSITIVE, true),
    // The default is the token's choice; like SoftHSM2, a key leaves the token
    // only if its creator asked for it.
    rule(CKA_EXTRACTABLE, Bool(false), OnlyToFalse),
    fixed(CKA_ALWAYS_SENSITIVE).computed(),
    fixed(CKA_NEVER_EXTRACTABLE).computed(),
    stays_true(CKA_WRAP_WITH_TRUSTED, false),
];

/// §4.9, with [`CUSTODY`].
const PRIVATE_KEY: &[Rule] = &[
    copy_only(CKA_PRIVATE, true),
    free(CKA_SUBJECT),
    usage(CKA_DECRYPT),
    usage(CKA_SIGN),
    free_false(CKA_SIGN_RECOVER),
    usage(CKA_UNWRAP),
    rule(CKA_ALWAYS_AUTHENTICATE, Bool(false), ReadOnly),
    fixed(CKA_PUBLIC_KEY_INFO).computed(),
];

/// §4.10, with [`CUSTODY`].
const SECRET_KEY: &[Rule] = &[
    copy_only(CKA_PRIVATE, true),
    usage(CKA_ENCRYPT),
    usage(CKA_DECRYPT),
    usage(CKA_SIGN),
    usage(CKA_VERIFY),
    usage(CKA_WRAP),
    usage(CKA_UNWRAP),
    TRUSTED,
];

/// §4.5.
const DATA: &[Rule] = &[
    copy_only(CKA_PRIVATE, false),
    free(CKA_APPLICATION),
    free(CKA_OBJECT_ID),
    free(CKA_VALUE),
];

/// §6.1.3: `CKA_MODULUS_BITS` is required to generate, computed otherwise.
const RSA_PUBLIC: &[Rule] = &[
    fixed(CKA_MODULUS)
        .required_on(Origins::CREATE)
        .forbidden_on(Origins::GENERATE.and(Origins::DERIVE)),
    fixed(CKA_MODULUS_BITS)
        .required_on(Origins::GENERATE)
        .forbidden_on(Origins::CREATE),
    fixed(CKA_PUBLIC_EXPONENT).required_on(Origins::CREATE),
];

/// §6.1.4. The CRT values are optional on import: OpenSSL recomputes nothing
/// from them, so a caller may give only n, e and d.
const RSA_PRIVATE: &[Rule] = &[
    fixed(CKA_MODULUS).material(),
    fixed(CKA_PUBLIC_EXPONENT).material(),
    // Not in the specification's table; clients read it to size signatures.
    fixed(CKA_MODULUS_BITS).computed(),
    fixed(CKA_PRIVATE_EXPONENT).material().sensitive(),
    fixed(CKA_PRIME_1).optional_material().sensitive(),
    fixed(CKA_PRIME_2).optional_material().sensitive(),
    fixed(CKA_EXPONENT_1).optional_material().sensitive(),
    fixed(CKA_EXPONENT_2).optional_material().sensitive(),
    fixed(CKA_COEFFICIENT).optional_material().sensitive(),
];

/// §6.3.3 (and §6.3.5 for Edwards keys, §6.3.7 for Montgomery keys).
const EC_PUBLIC: &[Rule] = &[
    fixed(CKA_EC_PARAMS).required_on(Origins::CREATE.and(Origins::GENERATE)),
    fixed(CKA_EC_POINT)
        .required_on(Origins::CREATE)
        .forbidden_on(Origins::GENERATE.and(Origins::DERIVE)),
];

/// §6.3.4; `CKA_EC_POINT` on a private key is this token's addition,
/// because pkcs11-tool and libp11 look for it there.
const EC_PRIVATE: &[Rule] = &[
    fixed(CKA_EC_PARAMS).material(),
    fixed(CKA_VALUE).material().sensitive(),
    fixed(CKA_EC_POINT).computed(),
];

/// PKCS#11 3.2 ML-DSA and ML-KEM public keys: the parameter set is
/// required to create and to generate, pk (ek) to create only.
const POST_QUANTUM_PUBLIC: &[Rule] = &[
    fixed(CKA_PARAMETER_SET).required_on(Origins::CREATE.and(Origins::GENERATE)),
    fixed(CKA_VALUE)
        .required_on(Origins::CREATE)
        .forbidden_on(Origins::GENERATE.and(Origins::DERIVE)),
];

/// PKCS#11 3.2 ML-DSA and ML-KEM private keys: the parameter set comes
/// from the public template when generated and from the key when
/// unwrapped; `C_CreateObject` takes the seed, the expanded key, or both
/// (checked against each other), and both are sensitive.
const POST_QUANTUM_PRIVATE: &[Rule] = &[
    fixed(CKA_PARAMETER_SET).material(),
    fixed(CKA_SEED).optional_material().sensitive(),
    fixed(CKA_VALUE).optional_material().sensitive(),
];

/// PKCS#11 3.2: an ML-KEM public key encapsulates, its private key
/// decapsulates (`CKA_ENCAPSULATE`, `CKA_DECAPSULATE`).
const KEM_PUBLIC: &[Rule] = &[usage(CKA_ENCAPSULATE)];
const KEM_PRIVATE: &[Rule] = &[usage(CKA_DECAPSULATE)];

/// §6.7.1 (AES) and §6.6.1 (generic secret).
const SECRET_VALUE: &[Rule] = &[
    fixed(CKA_VALUE).material().sensitive(),
    fixed(CKA_VALUE_LEN)
        .required_on(Origins::GENERATE)
        .forbidden_on(Origins::CREATE.and(Origins::UNWRAP)),
];

/// §6.5 (`CKK_DES2`, `CKK_DES3`): the value only, whose length the key
/// type fixes, so no `CKA_VALUE_LEN` in any template.
const DES_VALUE: &[Rule] = &[fixed(CKA_VALUE).material().sensitive()];

/// Whether `kind` is a part of a private or secret key that its
/// `CKA_SENSITIVE` and `CKA_EXTRACTABLE` protect (PKCS#11 3.0 §4.9
/// footnote 8): a row the key tables mark sensitive. The vendor device
/// never asks its module for one of a protected key.
pub fn is_key_secret(kind: AttributeType) -> bool {
    [
        RSA_PRIVATE,
        EC_PRIVATE,
        POST_QUANTUM_PRIVATE,
        SECRET_VALUE,
        DES_VALUE,
    ]
    .iter()
    .any(|table| table.iter().any(|rule| rule.kind == kind && rule.sensitive))
}

// ----- certificates -----

/// Every attribute an X.509 certificate object has (§4.4, §4.6, §4.6.3:
/// the reference's second table). Anything else is
/// `CKR_ATTRIBUTE_TYPE_INVALID` for a certificate.
pub const X509_CERTIFICATE: &[Rule] = &[
    CLASS,
    free_false(CKA_TOKEN).searchable(),
    free_false(CKA_PRIVATE).searchable(),
    MODIFIABLE,
    LABEL,
    COPYABLE,
    DESTROYABLE,
    fixed(CKA_CERTIFICATE_TYPE)
        .required_on(Origins::CREATE)
        .searchable(),
    TRUSTED,
    rule(
        CKA_CERTIFICATE_CATEGORY,
        Ulong(CK_CERTIFICATE_CATEGORY_UNSPECIFIED),
        Free,
    ),
    rule(CKA_CHECK_VALUE, Computed, ReadOnly),
    from_value(CKA_START_DATE),
    from_value(CKA_END_DATE),
    from_value(CKA_PUBLIC_KEY_INFO),
    rule(CKA_SUBJECT, Absent, Free)
        .required_on(Origins::CREATE)
        .searchable(),
    ID,
    from_value(CKA_ISSUER).searchable(),
    from_value(CKA_SERIAL_NUMBER).searchable(),
    rule(CKA_VALUE, Absent, Free).required_on(Origins::CREATE),
    free(CKA_URL),
    from_value(CKA_HASH_OF_SUBJECT_PUBLIC_KEY),
    from_value(CKA_HASH_OF_ISSUER_PUBLIC_KEY),
    rule(
        CKA_JAVA_MIDP_SECURITY_DOMAIN,
        Ulong(CK_SECURITY_DOMAIN_UNSPECIFIED),
        Free,
    ),
    rule(CKA_NAME_HASH_ALGORITHM, Ulong(CKM_SHA_1), Free),
];

/// A certificate attribute derived from `CKA_VALUE` unless the caller gives it.
const fn from_value(kind: AttributeType) -> Rule {
    rule(kind, FromValue, Free)
}

// ----- usage defaults -----

/// Which usage flags are on by default, per class and key type: a key can
/// do what its type allows unless the template says otherwise.
const USAGE_DEFAULTS: &[(CK_OBJECT_CLASS, CK_KEY_TYPE, &[AttributeType])] = &[
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
    (CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY, &[CKA_DERIVE]),
    (CKO_PUBLIC_KEY, CKK_ML_DSA, &[CKA_VERIFY]),
    (CKO_PRIVATE_KEY, CKK_ML_DSA, &[CKA_SIGN]),
    (CKO_PUBLIC_KEY, CKK_ML_KEM, &[CKA_ENCAPSULATE]),
    (CKO_PRIVATE_KEY, CKK_ML_KEM, &[CKA_DECAPSULATE]),
    (CKO_SECRET_KEY, CKK_AES, EVERY_SECRET_USE),
    (CKO_SECRET_KEY, CKK_DES2, &[CKA_ENCRYPT, CKA_DECRYPT]),
    (CKO_SECRET_KEY, CKK_DES3, &[CKA_ENCRYPT, CKA_DECRYPT]),
    (CKO_SECRET_KEY, CKK_GENERIC_SECRET, EVERY_SECRET_USE),
    (CKO_SECRET_KEY, CKK_SHA_1_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA224_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA256_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA384_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA512_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA3_224_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA3_256_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA3_384_HMAC, MAC_USE),
    (CKO_SECRET_KEY, CKK_SHA3_512_HMAC, MAC_USE),
];

/// An HMAC key (`CKK_SHA256_HMAC`, ...) signs and verifies, nothing else.
const MAC_USE: &[AttributeType] = &[CKA_SIGN, CKA_VERIFY];

const EVERY_SECRET_USE: &[AttributeType] = &[
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
];

/// The default of usage flag `kind` for a key of `class` and `key_type`.
pub fn usage_default(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE, kind: AttributeType) -> bool {
    USAGE_DEFAULTS
        .iter()
        .any(|(c, k, flags)| *c == class && *k == key_type && flags.contains(&kind))
}

// ----- lookup -----

/// The rules of one kind of object: its class, its key or certificate
/// type, and the rows of every table that makes it up.
#[derive(Clone, Debug)]
pub struct ClassRules {
    class: CK_OBJECT_CLASS,
    subtype: Option<CK_ULONG>,
    tables: Vec<&'static [Rule]>,
}

impl ClassRules {
    /// The rules of an object of `class` and `subtype` (`CKA_KEY_TYPE` for
    /// keys, `CKA_CERTIFICATE_TYPE` for certificates, none for data);
    /// `None` for a class or type the provider holds no table for.
    pub fn of(class: CK_OBJECT_CLASS, subtype: Option<CK_ULONG>) -> Option<ClassRules> {
        let tables = match (class, subtype) {
            (CKO_DATA, _) => vec![STORAGE, DATA],
            (CKO_CERTIFICATE, Some(CKC_X_509)) => vec![X509_CERTIFICATE],
            (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY, Some(key_type)) => {
                let specific = key_type_table(class, key_type)?;
                let mut tables = match class {
                    CKO_PUBLIC_KEY => vec![STORAGE, KEY, PUBLIC_KEY, specific],
                    CKO_PRIVATE_KEY => vec![STORAGE, KEY, PRIVATE_KEY, CUSTODY, specific],
                    _ => vec![STORAGE, KEY, SECRET_KEY, CUSTODY, specific],
                };
                match (class, key_type) {
                    (CKO_PUBLIC_KEY, CKK_ML_KEM) => tables.push(KEM_PUBLIC),
                    (CKO_PRIVATE_KEY, CKK_ML_KEM) => tables.push(KEM_PRIVATE),
                    _ => {}
                }
                tables
            }
            _ => return None,
        };
        Some(ClassRules {
            class,
            subtype: subtype.filter(|_| class != CKO_DATA),
            tables,
        })
    }

    /// The rules of an X.509 certificate.
    pub fn x509_certificate() -> ClassRules {
        ClassRules {
            class: CKO_CERTIFICATE,
            subtype: Some(CKC_X_509),
            tables: vec![X509_CERTIFICATE],
        }
    }

    /// The rules of a stored object, read from its `CKA_CLASS` and its key
    /// or certificate type.
    pub fn of_object(object: &Attributes) -> Option<ClassRules> {
        let class = object.ulong(CKA_CLASS)?;
        let subtype = subtype_attribute(class).and_then(|kind| object.ulong(kind));
        ClassRules::of(class, subtype)
    }

    /// The object's class.
    pub fn class(&self) -> CK_OBJECT_CLASS {
        self.class
    }

    /// The object's key or certificate type, and the attribute that holds it.
    pub fn subtype(&self) -> Option<(AttributeType, CK_ULONG)> {
        Some((subtype_attribute(self.class)?, self.subtype?))
    }

    /// The rule of `kind`; `None` when the object has no such attribute.
    pub fn rule(&self, kind: AttributeType) -> Option<&'static Rule> {
        self.iter().find(|rule| rule.kind == kind)
    }

    /// Every rule, table by table.
    pub fn iter(&self) -> impl Iterator<Item = &'static Rule> + '_ {
        self.tables.iter().flat_map(|table| table.iter())
    }

    /// The default of usage flag `kind` for this object.
    pub fn usage_default(&self, kind: AttributeType) -> bool {
        self.subtype
            .is_some_and(|key_type| usage_default(self.class, key_type, kind))
    }
}

/// The attribute that holds the type within `class`.
fn subtype_attribute(class: CK_OBJECT_CLASS) -> Option<AttributeType> {
    match class {
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => Some(CKA_KEY_TYPE),
        CKO_CERTIFICATE => Some(CKA_CERTIFICATE_TYPE),
        _ => None,
    }
}

fn key_type_table(class: CK_OBJECT_CLASS, key_type: CK_KEY_TYPE) -> Option<&'static [Rule]> {
    Some(match (class, key_type) {
        (CKO_PUBLIC_KEY, CKK_RSA) => RSA_PUBLIC,
        (CKO_PUBLIC_KEY, CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY) => EC_PUBLIC,
        (CKO_PRIVATE_KEY, CKK_RSA) => RSA_PRIVATE,
        (CKO_PRIVATE_KEY, CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY) => EC_PRIVATE,
        (CKO_PUBLIC_KEY, CKK_ML_DSA | CKK_ML_KEM) => POST_QUANTUM_PUBLIC,
        (CKO_PRIVATE_KEY, CKK_ML_DSA | CKK_ML_KEM) => POST_QUANTUM_PRIVATE,
        (
            CKO_SECRET_KEY,
            CKK_AES | CKK_GENERIC_SECRET | CKK_SHA_1_HMAC | CKK_SHA224_HMAC | CKK_SHA256_HMAC
            | CKK_SHA384_HMAC | CKK_SHA512_HMAC | CKK_SHA3_224_HMAC | CKK_SHA3_256_HMAC
            | CKK_SHA3_384_HMAC | CKK_SHA3_512_HMAC,
        ) => SECRET_VALUE,
        (CKO_SECRET_KEY, CKK_DES2 | CKK_DES3) => DES_VALUE,
        _ => return None,
    })
}
