//! `C_DeriveKey` with the SP 800-108 key derivations (PKCS#11 3.0 §2.42):
//! the object-level rules. The values are computed by [`crypto::kbkdf`].
//!
//! One derivation makes the key of the call's template and one key per
//! `CK_DERIVED_KEY` of the parameter, all or none. Unlike the simple
//! derivations, the keys are PRF outputs, not pieces of the base key, so
//! their template may ask for any `CKA_SENSITIVE` and `CKA_EXTRACTABLE`;
//! where it is silent they take the base key's values (§2.42.7).

use super::crypto;
use super::derive::{derivable, wanted_len};
use super::object_functions::secret_object;
use super::objects::{self, Origin};
use super::store::{Entry, Inner};
use crate::device::{DeriveRequest, DerivedKeys, Mechanism, MechanismParameter};
use crate::error::{Error, Result};
use crate::object::{find_bool, find_ulong, Access, Attribute, Attributes, Template};
use cryptoki_sys::*;

/// The attributes and the length of one key to derive, from its template.
fn planned(
    access: &Access,
    mechanism: &Mechanism,
    base: &Entry,
    template: &Template,
) -> Result<(Attributes, usize)> {
    let class = find_ulong(template, CKA_CLASS)?.unwrap_or(CKO_SECRET_KEY);
    let key_type = find_ulong(template, CKA_KEY_TYPE)?.unwrap_or(CKK_GENERIC_SECRET);
    if class != CKO_SECRET_KEY || !derivable(key_type) {
        return Err(Error::TemplateInconsistent(
            "SP 800-108 makes AES, Triple DES, HMAC or generic secret keys",
        ));
    }
    let mut full = template.to_vec();
    for (kind, default) in [(CKA_SENSITIVE, true), (CKA_EXTRACTABLE, false)] {
        if find_bool(template, kind)?.is_none() {
            let inherited = base.attributes.bool_or(kind, default);
            full.push(Attribute::new(kind, vec![inherited as CK_BBOOL]));
        }
    }
    let origin = Origin::Derive {
        mechanism: mechanism.kind,
        always_sensitive: base.attributes.bool_or(CKA_ALWAYS_SENSITIVE, false),
        never_extractable: base.attributes.bool_or(CKA_NEVER_EXTRACTABLE, false),
    };
    let attributes = objects::build(class, Some(key_type), &full, origin, access)?;
    let len = wanted_len(key_type, &attributes)?.ok_or(Error::TemplateIncomplete(CKA_VALUE_LEN))?;
    access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
    Ok((attributes, len))
}

impl Inner {
    /// `C_DeriveKey` with `CKM_SP800_108_COUNTER_KDF` or
    /// `CKM_SP800_108_FEEDBACK_KDF`.
    pub(super) fn kbkdf_derive(
        &self,
        access: &Access,
        request: DeriveRequest<'_>,
    ) -> Result<DerivedKeys> {
        let DeriveRequest {
            mechanism,
            base_key,
            template,
        } = request;
        let MechanismParameter::Kbkdf(parameter) = &mechanism.parameter else {
            return Err(Error::MechanismParamInvalid(
                "SP 800-108 needs a CK_SP800_108_KDF_PARAMS or CK_SP800_108_FEEDBACK_KDF_PARAMS",
            ));
        };
        let feedback = mechanism.kind == CKM_SP800_108_FEEDBACK_KDF;
        crypto::check_kbkdf(feedback, parameter)?;
        let refusal = "CKA_DERIVE is false";
        let (base, base_value) =
            self.operation_key(access, base_key, mechanism, CKA_DERIVE, refusal)?;
        let templates =
            std::iter::once(template).chain(parameter.additional_keys.iter().map(Vec::as_slice));
        let plans = templates
            .map(|template| planned(access, mechanism, &base, template))
            .collect::<Result<Vec<_>>>()?;
        let lens: Vec<usize> = plans.iter().map(|(_, len)| *len).collect();
        let values = crypto::kbkdf(feedback, parameter, &base_value, &lens)?;
        let objects = plans
            .into_iter()
            .zip(values)
            .map(|((attributes, _), value)| secret_object(attributes, value.to_vec()))
            .collect::<Result<Vec<_>>>()?;
        let mut handles = self.insert(access, objects)?.into_iter();
        let key = handles.next().ok_or(Error::Internal("no handle"))?;
        Ok(DerivedKeys {
            key,
            additional: handles.collect(),
        })
    }
}
