//! Building a certificate's attributes: the caller's, what CKA_VALUE gives
//! (PKCS#11 3.0 §4.6.3), and the defaults of the rules table.

use super::{visible, Certificates};
use crate::certstore::rules::{fill_defaults, CERTIFICATE_RULES};
use crate::certstore::x509;
use crate::error::{Error, Result};
use crate::object::rules::Default;
use crate::object::{Access, Attributes};
use cryptoki_sys::*;

impl Certificates {
    /// A new certificate: the caller's attributes, then what CKA_VALUE
    /// gives for the ones left out, then the plain defaults. A caller's
    /// CKA_CHECK_VALUE must be the one CKA_VALUE gives.
    pub(super) fn build_object(&self, access: &Access, given: Attributes) -> Result<Attributes> {
        let derived = self.derive(access, &given);
        if let Some(check) = given.get(CKA_CHECK_VALUE) {
            if !check.is_empty() && Some(check) != derived.get(CKA_CHECK_VALUE) {
                return Err(Error::AttributeValueInvalid(CKA_CHECK_VALUE));
            }
        }
        let mut object = given;
        object.0.remove(&CKA_CHECK_VALUE);
        for (kind, value) in derived.0 {
            object.0.entry(kind).or_insert(value);
        }
        fill_defaults(&mut object);
        Ok(object)
    }

    /// What `object`'s CKA_VALUE gives, with the issuer's key looked up
    /// among the visible certificates when the issuer is another one.
    pub(super) fn derive(&self, access: &Access, object: &Attributes) -> Attributes {
        let value = object.get(CKA_VALUE).unwrap_or_default();
        let algorithm = object.ulong(CKA_NAME_HASH_ALGORITHM).unwrap_or(CKM_SHA_1);
        let issuer_key = x509::parse(value)
            .filter(|parsed| !parsed.is_self_issued())
            .and_then(|parsed| self.issuer_key(access, &parsed.issuer));
        x509::derived_attributes(value, algorithm, issuer_key.as_deref())
    }

    /// The subject public key of a visible certificate whose subject is `issuer`.
    pub(super) fn issuer_key(&self, access: &Access, issuer: &[u8]) -> Option<Vec<u8>> {
        let key_of = |object: &Attributes| {
            x509::parse(object.get(CKA_VALUE)?)
                .filter(|p| p.subject == issuer)
                .map(|p| p.subject_public_key)
        };
        let in_sessions = self
            .sessions
            .read()
            .values()
            .filter(|s| visible(access, &s.object) && s.object.get(CKA_SUBJECT) == Some(issuer))
            .find_map(|s| key_of(&s.object));
        if in_sessions.is_some() {
            return in_sessions;
        }
        let handles = self.index.read().with_subject(issuer);
        handles.into_iter().find_map(|handle| {
            let (object, _) = self.load_token(handle).ok()?;
            visible(access, &object).then(|| key_of(&object)).flatten()
        })
    }

    /// `current` with `changes` applied and, when CKA_VALUE or the hash
    /// algorithm changed, the derived attributes brought up to date.
    pub(super) fn apply_changes(
        &self,
        access: &Access,
        current: &Attributes,
        changes: &Attributes,
    ) -> Attributes {
        let mut next = current.clone();
        for (kind, value) in &changes.0 {
            next.set(*kind, value.clone());
        }
        if !changes.contains(CKA_VALUE) && !changes.contains(CKA_NAME_HASH_ALGORITHM) {
            return next;
        }
        let (old, new) = (self.derive(access, current), self.derive(access, &next));
        for rule in CERTIFICATE_RULES
            .iter()
            .filter(|r| r.default == Default::FromValue)
        {
            let was_derived = current
                .get(rule.kind)
                .is_none_or(|v| v.is_empty() || Some(v) == old.get(rule.kind));
            if was_derived && !changes.contains(rule.kind) {
                next.set(rule.kind, new.get(rule.kind).unwrap_or_default().to_vec());
            }
        }
        next.set(
            CKA_CHECK_VALUE,
            new.get(CKA_CHECK_VALUE).unwrap_or_default().to_vec(),
        );
        next
    }
}
