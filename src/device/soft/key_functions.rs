//! The key functions (PKCS#11 3.0 §5.8 to §5.16): starting operations with
//! a stored key, generating, wrapping, unwrapping and deriving keys. The
//! math is in [`super::crypto`]; here are the object-level rules: usage
//! flags, `CKA_ALLOWED_MECHANISMS`, extractability and the new objects' attributes.

use super::crypto::fips;
use super::crypto::{self, KeyMaterial, LoadedKey};
use super::object_functions::{
    declared_class_and_type, private_object, public_object, secret_object, MAX_GENERIC_SECRET_LEN,
};
use super::objects::{self, Origin};
use super::store::{Entry, Inner};
use super::{signing_key, SoftDevice};
use crate::device::DerivedKeys;
use crate::device::{
    BlobSigningKey, Cipher, DecapsulateRequest, DeriveRequest, Digesting, EncapsulateRequest,
    Encapsulated, KeyManagement, KeyPair, KeyPairRequest, KeyRequest, Mechanism,
    MechanismParameter, Operations, Signing, UnwrapRequest, Verifying, WrapRequest,
};
use crate::error::{Error, Result};
use crate::object::{find, Access, Attributes, Handle, Template};
use cryptoki_sys::*;
use std::sync::Arc;

/// Replaces `KeyHandleInvalid` with the error the calling function reports.
fn rename_invalid(error: Error, renamed: fn() -> Error) -> Error {
    match error {
        Error::KeyHandleInvalid | Error::ObjectHandleInvalid => renamed(),
        other => other,
    }
}

/// When one template of a pair gives `CKA_ID` or `CKA_LABEL` and the other
/// does not, both halves get it, so the pair can be found together.
fn share_identity(
    public: &mut Attributes,
    public_template: &Template,
    private: &mut Attributes,
    private_template: &Template,
) {
    for kind in [CKA_ID, CKA_LABEL] {
        match (find(public_template, kind), find(private_template, kind)) {
            (Some(given), None) => private.set(kind, given.value.clone()),
            (None, Some(given)) => public.set(kind, given.value.clone()),
            _ => {}
        }
    }
}

impl Inner {
    /// The parsed key behind `handle` for `mechanism`, after the checks
    /// every operation makes: the usage flag and the allowed mechanisms.
    pub(super) fn operation_key(
        &self,
        access: &Access,
        handle: Handle,
        mechanism: &Mechanism,
        usage: CK_ATTRIBUTE_TYPE,
        name: &'static str,
    ) -> Result<(Arc<Entry>, Arc<LoadedKey>)> {
        let (entry, key) = self.key_entry(access, handle)?;
        objects::require_usage(&entry.attributes, usage, name)?;
        objects::require_allowed_mechanism(&entry.attributes, mechanism.kind)?;
        if self.fips_approved_only {
            fips::check_use(mechanism.kind, usage_flag(usage), &key)?;
            fips::check_parameter(mechanism, &key)?;
        }
        Ok((entry, key))
    }

    /// [`Inner::operation_key`] for a `C_*Init` whose key needs the
    /// `usage` flag (`CKA_ENCRYPT`, `CKA_DECRYPT`, `CKA_SIGN`, `CKA_VERIFY`).
    fn usable_key(
        &self,
        access: &Access,
        handle: Handle,
        mechanism: &Mechanism,
        usage: CK_ATTRIBUTE_TYPE,
    ) -> Result<Arc<LoadedKey>> {
        let refusal = match usage {
            CKA_ENCRYPT => "CKA_ENCRYPT is false",
            CKA_DECRYPT => "CKA_DECRYPT is false",
            CKA_SIGN => "CKA_SIGN is false",
            CKA_VERIFY => "CKA_VERIFY is false",
            _ => "the key's usage attribute is false",
        };
        let (_, key) = self.operation_key(access, handle, mechanism, usage, refusal)?;
        Ok(key)
    }
}

impl Operations for SoftDevice {
    /// `C_EncryptInit`.
    fn encrypt_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Cipher {
        let key = self.inner.usable_key(access, key, mechanism, CKA_ENCRYPT)?;
        crypto::encrypt_init(key, mechanism)
    }

    /// `C_DecryptInit`.
    fn decrypt_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Cipher {
        let key = self.inner.usable_key(access, key, mechanism, CKA_DECRYPT)?;
        crypto::decrypt_init(key, mechanism)
    }

    fn digest_init(&self, _access: &Access, mechanism: &Mechanism) -> Digesting {
        crypto::digest_init(mechanism)
    }

    /// `C_SignInit`.
    fn sign_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Signing {
        let key = self.inner.usable_key(access, key, mechanism, CKA_SIGN)?;
        crypto::sign_init(key, mechanism)
    }

    /// `C_VerifyInit`.
    fn verify_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Verifying {
        let key = self.inner.usable_key(access, key, mechanism, CKA_VERIFY)?;
        crypto::verify_init(key, mechanism)
    }
}

/// The length `C_GenerateKey` makes a secret of `key_type`: the template's
/// `CKA_VALUE_LEN` (16, 24 or 32 for AES; 1 to 3072 for a generic secret,
/// at least 14 under `FIPS_APPROVED_ONLY`; 14 to 3072 for an HMAC key,
/// which no HMAC takes shorter), or `None` for Triple DES, whose
/// length is fixed. Any other is `AttributeValueInvalid(CKA_VALUE_LEN)`.
fn generated_len(
    key_type: CK_KEY_TYPE,
    attributes: &Attributes,
    fips_approved_only: bool,
) -> Result<Option<CK_ULONG>> {
    if key_type == CKK_DES3 {
        return Ok(None);
    }
    let len = attributes
        .ulong(CKA_VALUE_LEN)
        .ok_or(Error::TemplateIncomplete(CKA_VALUE_LEN))?;
    let valid = match key_type {
        CKK_AES => matches!(len, 16 | 24 | 32),
        CKK_GENERIC_SECRET => {
            (1..=MAX_GENERIC_SECRET_LEN as CK_ULONG).contains(&len)
                && (!fips_approved_only || fips::check_secret_len(len).is_ok())
        }
        _ => (crypto::HMAC_MIN_KEY_LEN as CK_ULONG..=MAX_GENERIC_SECRET_LEN as CK_ULONG)
            .contains(&len),
    };
    if !valid {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    Ok(Some(len))
}

impl KeyManagement for SoftDevice {
    /// `C_GenerateKey`: `CKM_AES_KEY_GEN` (`CKA_VALUE_LEN` 16, 24 or 32),
    /// `CKM_DES3_KEY_GEN` (24 bytes with odd parity, no `CKA_VALUE_LEN`)
    /// and `CKM_GENERIC_SECRET_KEY_GEN` (`CKA_VALUE_LEN` 1 to 3072); the HMAC
    /// key generations (`CKM_SHA256_KEY_GEN`, ...) make a key of the HMAC
    /// key type (`CKK_SHA256_HMAC`, ...) with a value as a generic secret's.
    fn generate_key(&self, access: &Access, request: KeyRequest<'_>) -> Result<Handle> {
        let inner = &*self.inner;
        let KeyRequest {
            mechanism,
            template,
        } = request;
        let key_type = match mechanism.kind {
            CKM_AES_KEY_GEN => CKK_AES,
            CKM_DES3_KEY_GEN => CKK_DES3,
            CKM_GENERIC_SECRET_KEY_GEN => CKK_GENERIC_SECRET,
            other => crypto::hmac_key_generated_by(other).ok_or(Error::MechanismInvalid(other))?,
        };
        if inner.fips_approved_only {
            fips::check_mechanism(mechanism.kind, CKF_GENERATE)?;
        }
        let attributes = objects::build(
            CKO_SECRET_KEY,
            Some(key_type),
            template,
            Origin::Generate(mechanism.kind),
            access,
        )?;
        let len = generated_len(key_type, &attributes, inner.fips_approved_only)?;
        access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
        if attributes.bool_or(CKA_PRIVATE, true) {
            access.require_user()?;
        }
        let value = match len {
            Some(len) => crypto::generate_secret(len as usize)?,
            None => crypto::generate_des3()?,
        };
        inner.insert_one(access, secret_object(attributes, value)?)
    }

    /// `C_GenerateKeyPair`: RSA (`CKA_MODULUS_BITS`, optional
    /// `CKA_PUBLIC_EXPONENT`), EC, Edwards and Montgomery (`CKA_EC_PARAMS`), both halves
    /// stored together or not at all. Returns (public, private).
    fn generate_key_pair(&self, access: &Access, request: KeyPairRequest<'_>) -> KeyPair {
        let inner = &*self.inner;
        let KeyPairRequest {
            mechanism,
            public_template,
            private_template,
        } = request;
        let key_type = match mechanism.kind {
            CKM_RSA_PKCS_KEY_PAIR_GEN => CKK_RSA,
            CKM_EC_KEY_PAIR_GEN => CKK_EC,
            CKM_EC_EDWARDS_KEY_PAIR_GEN => CKK_EC_EDWARDS,
            CKM_EC_MONTGOMERY_KEY_PAIR_GEN => CKK_EC_MONTGOMERY,
            CKM_ML_DSA_KEY_PAIR_GEN => CKK_ML_DSA,
            CKM_ML_KEM_KEY_PAIR_GEN => CKK_ML_KEM,
            other => return Err(Error::MechanismInvalid(other)),
        };
        if inner.fips_approved_only {
            fips::check_mechanism(mechanism.kind, CKF_GENERATE_KEY_PAIR)?;
        }
        let origin = Origin::Generate(mechanism.kind);
        let mut public = objects::build(
            CKO_PUBLIC_KEY,
            Some(key_type),
            public_template,
            origin,
            access,
        )?;
        let mut private = objects::build(
            CKO_PRIVATE_KEY,
            Some(key_type),
            private_template,
            origin,
            access,
        )?;
        share_identity(&mut public, public_template, &mut private, private_template);
        // Refused before the slow generation rather than after it.
        for attributes in [&public, &private] {
            access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
            if attributes.bool_or(CKA_PRIVATE, true) {
                access.require_user()?;
            }
        }
        let key = match key_type {
            CKK_RSA => {
                let bits = public
                    .ulong(CKA_MODULUS_BITS)
                    .ok_or(Error::TemplateIncomplete(CKA_MODULUS_BITS))?;
                crypto::generate_rsa(bits, public.get(CKA_PUBLIC_EXPONENT).unwrap_or_default())?
            }
            CKK_ML_DSA | CKK_ML_KEM => crypto::generate_post_quantum(
                key_type,
                public
                    .ulong(CKA_PARAMETER_SET)
                    .ok_or(Error::TemplateIncomplete(CKA_PARAMETER_SET))?,
            )?,
            _ => crypto::generate_ec(
                public
                    .get(CKA_EC_PARAMS)
                    .ok_or(Error::TemplateIncomplete(CKA_EC_PARAMS))?,
            )?,
        };
        if inner.fips_approved_only {
            fips::check_key(&key)?;
        }
        if let (Some(params), None) = (public.get(CKA_EC_PARAMS), private.get(CKA_EC_PARAMS)) {
            let params = params.to_vec();
            private.set(CKA_EC_PARAMS, params);
        }
        let public_key = crypto::public_from_private(&key)?;
        let objects = vec![
            public_object(public, public_key)?,
            private_object(private, key)?,
        ];
        match inner.insert(access, objects)?.as_slice() {
            [public, private] => Ok((*public, *private)),
            _ => Err(Error::Internal("key pair stored without two handles")),
        }
    }

    /// `C_WrapKey` (PKCS#11 3.0 §5.18.1): a secret key's value or a private
    /// key's PKCS#8, wrapped. A key whose `CKA_EXTRACTABLE` is false never
    /// leaves, whatever the wrapping key (`KeyUnextractable`); a key with
    /// `CKA_WRAP_WITH_TRUSTED` leaves only under a key whose `CKA_TRUSTED`
    /// is true (`KeyNotWrappable`).
    fn wrap_key(&self, access: &Access, request: WrapRequest<'_>) -> Result<Vec<u8>> {
        let inner = &*self.inner;
        let mechanism = request.mechanism;
        let (wrapping_entry, wrapping) = inner
            .operation_key(
                access,
                request.wrapping_key,
                mechanism,
                CKA_WRAP,
                "CKA_WRAP is false",
            )
            .map_err(|error| rename_invalid(error, || Error::WrappingKeyHandleInvalid))?;
        let entry = inner
            .entry(access, request.key)
            .map_err(|error| rename_invalid(error, || Error::KeyHandleInvalid))?;
        let (class, _) = objects::class_and_type(&entry.attributes);
        if !matches!(class, CKO_PRIVATE_KEY | CKO_SECRET_KEY) {
            return Err(Error::KeyNotWrappable(
                "only private and secret keys are wrapped",
            ));
        }
        objects::require_extractable(&entry.attributes)?;
        objects::require_trusted_wrapping(&entry.attributes, inner.is_trusted(&wrapping_entry))?;
        let plain = match &inner.loaded_key(&entry)?.material {
            KeyMaterial::Private(pkey) => crypto::private_to_der(pkey)?,
            KeyMaterial::Secret(value) => value.clone(),
            KeyMaterial::Public(_) => {
                return Err(Error::KeyNotWrappable("a public key has no secret to wrap"))
            }
        };
        crypto::wrap(mechanism, &wrapping, &plain)
    }

    /// `C_UnwrapKey`: the template names the class and key type of the result.
    fn unwrap_key(&self, access: &Access, request: UnwrapRequest<'_>) -> Result<Handle> {
        let inner = &*self.inner;
        let UnwrapRequest {
            mechanism,
            unwrapping_key,
            wrapped,
            template,
        } = request;
        let (_, unwrapping) = inner
            .operation_key(
                access,
                unwrapping_key,
                mechanism,
                CKA_UNWRAP,
                "CKA_UNWRAP is false",
            )
            .map_err(|error| rename_invalid(error, || Error::UnwrappingKeyHandleInvalid))?;
        let (class, key_type) = declared_class_and_type(template)?;
        let attributes = objects::build(class, key_type, template, Origin::Unwrap, access)?;
        access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
        if attributes.bool_or(CKA_PRIVATE, true) {
            access.require_user()?;
        }
        let plain = crypto::unwrap(mechanism, &unwrapping, wrapped)?;
        let object = match class {
            CKO_SECRET_KEY => {
                secret_object(attributes, plain).map_err(|_| Error::WrappedKeyInvalid)?
            }
            CKO_PRIVATE_KEY => {
                let key = crypto::private_from_der(&plain).map_err(|_| Error::WrappedKeyInvalid)?;
                private_object(attributes, key)?
            }
            _ => {
                return Err(Error::TemplateInconsistent(
                    "only private and secret keys can be unwrapped",
                ))
            }
        };
        inner.insert_one(access, object)
    }

    /// `C_DeriveKey` with `CKM_ECDH1_DERIVE` (from an EC or Montgomery key)
    /// into an AES or generic secret key, with a simple derivation
    /// (`derive.rs`) or with SP 800-108 (`kbkdf.rs`).
    fn derive_key(&self, access: &Access, request: DeriveRequest<'_>) -> Result<DerivedKeys> {
        let inner = &*self.inner;
        let DeriveRequest {
            mechanism,
            base_key,
            template,
        } = request;
        if crypto::is_simple_derivation(mechanism.kind) {
            if inner.fips_approved_only {
                fips::check_mechanism(mechanism.kind, CKF_DERIVE)?;
            }
            return inner.simple_derive(access, request).map(Into::into);
        }
        if matches!(
            mechanism.kind,
            CKM_SP800_108_COUNTER_KDF | CKM_SP800_108_FEEDBACK_KDF
        ) {
            return inner.kbkdf_derive(access, request);
        }
        if mechanism.kind != CKM_ECDH1_DERIVE {
            return Err(Error::MechanismInvalid(mechanism.kind));
        }
        let (base, key) = inner.operation_key(
            access,
            base_key,
            mechanism,
            CKA_DERIVE,
            "CKA_DERIVE is false",
        )?;
        let class = crate::object::find_ulong(template, CKA_CLASS)?.unwrap_or(CKO_SECRET_KEY);
        let key_type = objects::required_ulong(template, CKA_KEY_TYPE)?;
        if class != CKO_SECRET_KEY || !matches!(key_type, CKK_AES | CKK_GENERIC_SECRET) {
            return Err(Error::TemplateInconsistent(
                "ECDH derives AES or generic secret keys",
            ));
        }
        let origin = Origin::Derive {
            mechanism: mechanism.kind,
            always_sensitive: base.attributes.bool_or(CKA_ALWAYS_SENSITIVE, false),
            never_extractable: base.attributes.bool_or(CKA_NEVER_EXTRACTABLE, false),
        };
        let attributes = objects::build(class, Some(key_type), template, origin, access)?;
        let len = attributes.ulong(CKA_VALUE_LEN).unwrap_or(0);
        if key_type == CKK_AES && !matches!(len, 16 | 24 | 32) {
            return Err(if attributes.contains(CKA_VALUE_LEN) {
                Error::AttributeValueInvalid(CKA_VALUE_LEN)
            } else {
                Error::TemplateIncomplete(CKA_VALUE_LEN)
            });
        }
        access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
        let value = crypto::ecdh_derive(mechanism, &key, len as usize)?;
        inner
            .insert_one(access, secret_object(attributes, value)?)
            .map(Into::into)
    }

    /// `C_EncapsulateKey` with `CKM_ML_KEM` (PKCS#11 3.2): the public key
    /// needs `CKA_ENCAPSULATE`; the new key's template is as for
    /// [`Inner::kem_secret_attributes`]. A length query (or a buffer too
    /// small) makes nothing.
    fn encapsulate_key(
        &self,
        access: &Access,
        request: EncapsulateRequest<'_>,
    ) -> Result<Encapsulated> {
        let inner = &*self.inner;
        let EncapsulateRequest {
            mechanism,
            public_key,
            template,
            capacity,
        } = request;
        check_kem_mechanism(mechanism)?;
        let (_, key) = inner.operation_key(
            access,
            public_key,
            mechanism,
            CKA_ENCAPSULATE,
            "CKA_ENCAPSULATE is false",
        )?;
        let len = crypto::ciphertext_len(&key)?;
        if capacity.is_none_or(|capacity| capacity < len) {
            return Ok(Encapsulated::Length(len));
        }
        // The secret never left the token: the new key may claim it.
        let origin = Origin::Derive {
            mechanism: mechanism.kind,
            always_sensitive: true,
            never_extractable: true,
        };
        let (attributes, value_len) = kem_secret_attributes(access, template, origin)?;
        let (ciphertext, secret) = crypto::encapsulate(&key)?;
        let handle = inner.insert_one(
            access,
            secret_object(attributes, secret[..value_len].to_vec())?,
        )?;
        Ok(Encapsulated::Key {
            ciphertext,
            key: handle,
        })
    }

    /// `C_DecapsulateKey` with `CKM_ML_KEM`: the private key needs
    /// `CKA_DECAPSULATE`; the new key inherits its `CKA_ALWAYS_SENSITIVE`
    /// and `CKA_NEVER_EXTRACTABLE` as a derived key does.
    fn decapsulate_key(&self, access: &Access, request: DecapsulateRequest<'_>) -> Result<Handle> {
        let inner = &*self.inner;
        let DecapsulateRequest {
            mechanism,
            private_key,
            template,
            ciphertext,
        } = request;
        check_kem_mechanism(mechanism)?;
        let (base, key) = inner.operation_key(
            access,
            private_key,
            mechanism,
            CKA_DECAPSULATE,
            "CKA_DECAPSULATE is false",
        )?;
        let origin = Origin::Derive {
            mechanism: mechanism.kind,
            always_sensitive: base.attributes.bool_or(CKA_ALWAYS_SENSITIVE, false),
            never_extractable: base.attributes.bool_or(CKA_NEVER_EXTRACTABLE, false),
        };
        let (attributes, value_len) = kem_secret_attributes(access, template, origin)?;
        let secret = crypto::decapsulate(&key, ciphertext)?;
        inner.insert_one(
            access,
            secret_object(attributes, secret[..value_len].to_vec())?,
        )
    }

    fn blob_signing_key(&self, key_id: Option<&str>) -> Result<Arc<dyn BlobSigningKey>> {
        signing_key::blob_signing_key(&self.inner, key_id)
    }
}

/// `CKM_ML_KEM`, which takes no parameter.
fn check_kem_mechanism(mechanism: &Mechanism) -> Result<()> {
    if mechanism.kind != CKM_ML_KEM {
        return Err(Error::MechanismInvalid(mechanism.kind));
    }
    match &mechanism.parameter {
        MechanismParameter::None => Ok(()),
        MechanismParameter::Raw(bytes) if bytes.is_empty() => Ok(()),
        _ => Err(Error::MechanismParamInvalid(
            "CKM_ML_KEM takes no parameter",
        )),
    }
}

/// The attributes of the secret key a KEM makes, and how many bytes of
/// the 32-byte shared secret it keeps: a generic secret (the default key
/// type) or an AES key; `CKA_VALUE_LEN` absent keeps all 32 bytes, else
/// the leading 1 to 32 (16, 24 or 32 for AES).
fn kem_secret_attributes(
    access: &Access,
    template: &Template,
    origin: Origin,
) -> Result<(Attributes, usize)> {
    let class = crate::object::find_ulong(template, CKA_CLASS)?.unwrap_or(CKO_SECRET_KEY);
    let key_type = crate::object::find_ulong(template, CKA_KEY_TYPE)?.unwrap_or(CKK_GENERIC_SECRET);
    if class != CKO_SECRET_KEY || !matches!(key_type, CKK_AES | CKK_GENERIC_SECRET) {
        return Err(Error::TemplateInconsistent(
            "a KEM makes AES or generic secret keys",
        ));
    }
    let mut attributes = objects::build(class, Some(key_type), template, origin, access)?;
    let full = crypto::KEM_SHARED_SECRET_LEN;
    let len = match attributes.ulong(CKA_VALUE_LEN) {
        None => full,
        Some(len) if (1..=full as CK_ULONG).contains(&len) => len as usize,
        Some(_) => return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN)),
    };
    if key_type == CKK_AES && !matches!(len, 16 | 24 | 32) {
        return Err(Error::AttributeValueInvalid(CKA_VALUE_LEN));
    }
    attributes.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
    attributes.set_ulong(CKA_KEY_TYPE, key_type);
    access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
    Ok((attributes, len))
}

/// The mechanism flag of a key's usage attribute (`CKA_SIGN` → `CKF_SIGN`).
fn usage_flag(usage: CK_ATTRIBUTE_TYPE) -> CK_FLAGS {
    match usage {
        CKA_ENCRYPT => CKF_ENCRYPT,
        CKA_DECRYPT => CKF_DECRYPT,
        CKA_SIGN => CKF_SIGN,
        CKA_VERIFY => CKF_VERIFY,
        CKA_WRAP => CKF_WRAP,
        CKA_UNWRAP => CKF_UNWRAP,
        CKA_ENCAPSULATE => CKF_ENCAPSULATE,
        CKA_DECAPSULATE => CKF_DECAPSULATE,
        _ => CKF_DERIVE,
    }
}
