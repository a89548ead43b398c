//! One schema for the attribute rules of every object class (PKCS#11 3.0
//! §4.4 to §4.10): for each attribute of a class, on which ways of making
//! an object the caller must or must not give it, its default, how it may
//! change later, whether it is sensitive, and whether searches index it.
//!
//! The fields follow the footnotes of the specification's Table 10, so a
//! row reads like the table it comes from. The tables themselves are in
//! [`super::tables`]; [`super::template`] reads templates against them.

use super::AttributeType;
use cryptoki_sys::*;

/// How an object comes into being; each way allows different attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `C_CreateObject`: key material comes from the template.
    Create,
    /// `C_GenerateKey(Pair)` with this mechanism.
    Generate(CK_MECHANISM_TYPE),
    /// `C_UnwrapKey`.
    Unwrap,
    /// `C_DeriveKey` with this mechanism, from a base key with these
    /// `CKA_ALWAYS_SENSITIVE` and `CKA_NEVER_EXTRACTABLE` values.
    Derive {
        /// The derivation mechanism.
        mechanism: CK_MECHANISM_TYPE,
        /// The base key's `CKA_ALWAYS_SENSITIVE`.
        always_sensitive: bool,
        /// The base key's `CKA_NEVER_EXTRACTABLE`.
        never_extractable: bool,
    },
}

/// A set of [`Origin`]s, as the footnotes name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origins(u8);

impl Origins {
    /// No way at all.
    pub const NONE: Origins = Origins(0);
    /// `C_CreateObject`.
    pub const CREATE: Origins = Origins(1);
    /// `C_GenerateKey` and `C_GenerateKeyPair`.
    pub const GENERATE: Origins = Origins(1 << 1);
    /// `C_UnwrapKey`.
    pub const UNWRAP: Origins = Origins(1 << 2);
    /// `C_DeriveKey`.
    pub const DERIVE: Origins = Origins(1 << 3);
    /// Every way: the token alone sets the attribute.
    pub const ALL: Origins = Origins(0b1111);

    /// Both sets.
    pub const fn and(self, other: Origins) -> Origins {
        Origins(self.0 | other.0)
    }

    /// Whether `origin` is in the set.
    pub fn includes(self, origin: Origin) -> bool {
        let bit = match origin {
            Origin::Create => Origins::CREATE,
            Origin::Generate(_) => Origins::GENERATE,
            Origin::Unwrap => Origins::UNWRAP,
            Origin::Derive { .. } => Origins::DERIVE,
        };
        self.0 & bit.0 != 0
    }
}

/// The value an attribute takes when the caller leaves it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// None: the value is required, set by the token, or comes from key material.
    Absent,
    /// A `CK_BBOOL`.
    Bool(bool),
    /// A `CK_ULONG`.
    Ulong(CK_ULONG),
    /// An empty value (labels, ids, dates, subjects).
    Empty,
    /// The key's usage flag default for its class and key type
    /// ([`super::tables::usage_default`]).
    Usage,
    /// Derived from `CKA_VALUE` when it parses (a certificate's issuer,
    /// dates, ...), else empty.
    FromValue,
    /// Computed from `CKA_VALUE`, always (`CKA_CHECK_VALUE`).
    Computed,
}

/// How `C_SetAttributeValue` and `C_CopyObject` may change an attribute
/// (footnotes 8, 10, 11 and 12 of Table 10). Restating the current value
/// is never a change, except under [`Change::SecurityOfficerOnly`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Any value, by set and copy.
    Free,
    /// Once false, stays false (`CKA_COPYABLE`: "can't be set to TRUE once
    /// it is set to FALSE").
    OnlyToFalse,
    /// Once true, stays true (`CKA_SENSITIVE`).
    OnlyToTrue,
    /// Never (`CKR_ATTRIBUTE_READ_ONLY`).
    ReadOnly,
    /// By `C_CopyObject` only (a key's `CKA_TOKEN` and `CKA_PRIVATE`, §4.4).
    CopyOnly,
    /// Anyone may make it false; only the security officer may give it true,
    /// by any path (footnote 10, `CKA_TRUSTED`), even when it is true already.
    SecurityOfficerOnly,
    /// Never in a template, not even with its current value: the token
    /// alone assigns it (`CKA_UNIQUE_ID`, PKCS#11 3.0 §4.4.1).
    Never,
}

/// One attribute's rule within a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The attribute.
    pub kind: AttributeType,
    /// The ways of making an object that must give it (footnotes 1 and 3).
    pub required_on: Origins,
    /// The ways of making an object that must not give it (footnotes 2, 4
    /// and 6): `CKR_ATTRIBUTE_READ_ONLY`.
    pub forbidden_on: Origins,
    /// The value when the caller gives none.
    pub default: Default,
    /// Whether and how it may change later.
    pub change: Change,
    /// Never revealed while `CKA_SENSITIVE` is true or `CKA_EXTRACTABLE`
    /// false, and never kept among the stored attributes (footnote 7).
    pub sensitive: bool,
    /// The certificate store keeps it in its search index and blob metadata.
    pub searchable: bool,
}

impl Rule {
    /// A rule for `kind` with this default and change rule, that requires
    /// and forbids nothing and is neither sensitive nor searchable: the
    /// builders below say what differs.
    pub const fn new(kind: AttributeType, default: Default, change: Change) -> Rule {
        Rule {
            kind,
            required_on: Origins::NONE,
            forbidden_on: Origins::NONE,
            default,
            change,
            sensitive: false,
            searchable: false,
        }
    }

    /// Must be given on `origins`.
    pub const fn required_on(mut self, origins: Origins) -> Rule {
        self.required_on = origins;
        self
    }

    /// Must not be given on `origins`.
    pub const fn forbidden_on(mut self, origins: Origins) -> Rule {
        self.forbidden_on = origins;
        self
    }

    /// Set by the token alone: never given by the caller.
    pub const fn computed(self) -> Rule {
        self.forbidden_on(Origins::ALL)
    }

    /// Key material: given on import only.
    pub const fn material(self) -> Rule {
        self.required_on(Origins::CREATE).optional_material()
    }

    /// Key material that may be given on import, and only then.
    pub const fn optional_material(self) -> Rule {
        self.forbidden_on(Origins::GENERATE.and(Origins::DERIVE).and(Origins::UNWRAP))
    }

    /// Sensitive (footnote 7).
    pub const fn sensitive(mut self) -> Rule {
        self.sensitive = true;
        self
    }

    /// Kept in the certificate store's search index.
    pub const fn searchable(mut self) -> Rule {
        self.searchable = true;
        self
    }
}
