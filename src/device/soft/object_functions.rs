//! The object functions (PKCS#11 3.0 §5.7): create, copy, destroy, size,
//! get and set attributes, and the constructors of new key objects shared
//! with key generation, unwrapping and derivation.

use super::crypto::{self, KeyMaterial, LoadedKey};
use super::database::encode_attributes;
use super::objects::{self, class_and_type, Origin, Reveal};
use super::store::NewObject;
use super::SoftDevice;
use crate::error::{Error, Result};
use crate::object::tables::ClassRules;
use crate::object::template::{require_permitted, Action};
use crate::object::Answers;
use crate::object::{
    Access, AttributeResult, AttributeType, Attributes, Handle, ObjectStore, Template,
};
use cryptoki_sys::*;
use openssl::pkey::{PKey, Private, Public};
use std::sync::Arc;

/// The largest generic secret this device holds (bytes), however it is made.
pub(super) const MAX_GENERIC_SECRET_LEN: usize = 3072;

/// Copies the attributes crypto computed from key material into a new
/// object's attributes, keeping only those the class has. A key type that
/// differs from the declared one is `TemplateInconsistent`.
fn merge_computed(attributes: &mut Attributes, computed: Attributes) -> Result<()> {
    for (kind, value) in computed.0 {
        if kind == CKA_KEY_TYPE {
            if attributes.get(CKA_KEY_TYPE) != Some(value.as_slice()) {
                return Err(Error::TemplateInconsistent(
                    "key material is not of the declared key type",
                ));
            }
        } else if let Some(given) = attributes
            .get(CKA_EC_PARAMS)
            .filter(|_| kind == CKA_EC_PARAMS)
        {
            // The curve stays named as the caller named it (an OID or a
            // PrintableString), so that searches by it find the key.
            if !crypto::same_curve(given, &value) {
                return Err(Error::TemplateInconsistent(
                    "CKA_EC_PARAMS names another curve than the key's",
                ));
            }
        } else if objects::rule_in(attributes, kind).is_some() {
            attributes.set(kind, value);
        }
    }
    Ok(())
}

/// A new key object from its attributes, what its material says about
/// itself, and the material.
fn key_object(
    mut attributes: Attributes,
    computed: Attributes,
    material: KeyMaterial,
) -> Result<NewObject> {
    merge_computed(&mut attributes, computed)?;
    let key_type = class_and_type(&attributes).1.unwrap_or(CKK_RSA);
    Ok(NewObject {
        attributes,
        key: Some(Arc::new(LoadedKey { key_type, material })),
    })
}

/// A new private key object from its attributes and material.
pub(super) fn private_object(attributes: Attributes, key: PKey<Private>) -> Result<NewObject> {
    let computed = crypto::public_attributes_of_private(&key)?;
    key_object(attributes, computed, KeyMaterial::Private(key))
}

/// A new public key object from its attributes and material.
pub(super) fn public_object(attributes: Attributes, key: PKey<Public>) -> Result<NewObject> {
    let computed = crypto::public_attributes_of_public(&key)?;
    key_object(attributes, computed, KeyMaterial::Public(key))
}

/// A new secret key object; an AES value must be 16, 24 or 32 bytes, a
/// `CKK_DES3` one 24 bytes, a `CKK_DES2` one 16, and a generic secret 1 to
/// 3072 bytes (`AttributeValueInvalid(CKA_VALUE)`). `CKA_VALUE_LEN` is set
/// where the key type has it (not on DES keys, whose length is fixed).
pub(super) fn secret_object(mut attributes: Attributes, value: Vec<u8>) -> Result<NewObject> {
    let key_type = class_and_type(&attributes).1.unwrap_or(CKK_GENERIC_SECRET);
    let valid = match key_type {
        CKK_AES => matches!(value.len(), 16 | 24 | 32),
        CKK_DES3 => value.len() == 24,
        CKK_DES2 => value.len() == 16,
        _ => (1..=MAX_GENERIC_SECRET_LEN).contains(&value.len()),
    };
    if !valid {
        return Err(Error::AttributeValueInvalid(CKA_VALUE));
    }
    if objects::rule_in(&attributes, CKA_VALUE_LEN).is_some() {
        attributes.set_ulong(CKA_VALUE_LEN, value.len() as CK_ULONG);
    }
    Ok(NewObject {
        attributes,
        key: Some(Arc::new(LoadedKey {
            key_type,
            material: KeyMaterial::Secret(value.into()),
        })),
    })
}

/// Reads `CKA_CLASS` and, for keys, `CKA_KEY_TYPE` from a template, both
/// required; classes and key types this device does not hold are
/// `AttributeValueInvalid`.
pub(super) fn declared_class_and_type(
    template: &Template,
) -> Result<(CK_OBJECT_CLASS, Option<CK_KEY_TYPE>)> {
    let class = objects::required_ulong(template, CKA_CLASS)?;
    match class {
        CKO_DATA => Ok((class, None)),
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
            let key_type = objects::required_ulong(template, CKA_KEY_TYPE)?;
            if ClassRules::of(class, Some(key_type)).is_none() {
                return Err(Error::AttributeValueInvalid(CKA_KEY_TYPE));
            }
            Ok((class, Some(key_type)))
        }
        _ => Err(Error::AttributeValueInvalid(CKA_CLASS)),
    }
}

impl ObjectStore for SoftDevice {
    /// `C_CreateObject` for data objects and imported keys.
    fn create_object(&self, access: &Access, template: &Template) -> Result<Handle> {
        let inner = &*self.inner;
        let (class, key_type) = declared_class_and_type(template)?;
        let attributes = objects::build(class, key_type, template, Origin::Create, access)?;
        // Refuse early, before any parsing, what `insert` would refuse anyway.
        access.require_read_write(attributes.bool_or(CKA_TOKEN, false))?;
        if attributes.bool_or(CKA_PRIVATE, true) {
            access.require_user()?;
        }
        let object = match (class, key_type) {
            (CKO_PUBLIC_KEY, Some(key_type)) => {
                public_object(attributes, crypto::import_public(key_type, template)?)?
            }
            (CKO_PRIVATE_KEY, Some(key_type)) => {
                private_object(attributes, crypto::import_private(key_type, template)?)?
            }
            (CKO_SECRET_KEY, Some(_)) => {
                let value = crate::object::find(template, CKA_VALUE)
                    .ok_or(Error::TemplateIncomplete(CKA_VALUE))?;
                secret_object(attributes, value.value.clone())?
            }
            _ => NewObject {
                attributes,
                key: None,
            },
        };
        inner.insert_one(access, object)
    }

    fn find_objects(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        self.inner.find(access, template)
    }

    /// `C_CopyObject`: a new object with the same material and the
    /// template's changes (`CKA_COPYABLE` false is `ActionProhibited`).
    fn copy_object(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle> {
        let inner = &*self.inner;
        let entry = inner.entry(access, handle)?;
        let attributes =
            objects::apply_changes(&entry.attributes, template, Action::CopyObject, access)?;
        let key = match class_and_type(&entry.attributes).0 {
            CKO_PRIVATE_KEY | CKO_SECRET_KEY => Some(inner.loaded_key(&entry)?),
            _ => entry.key.clone(),
        };
        inner.insert_one(access, NewObject { attributes, key })
    }

    /// `C_DestroyObject` (`CKA_DESTROYABLE` false is `ActionProhibited`).
    fn destroy_object(&self, access: &Access, handle: Handle) -> Result<()> {
        let inner = &*self.inner;
        let entry = inner.entry(access, handle)?;
        access.require_read_write(entry.is_token())?;
        require_permitted(&entry.attributes, Action::DestroyObject)?;
        inner.remove(&entry)
    }

    /// `C_GetObjectSize`: the bytes the object occupies in the database.
    fn object_size(&self, access: &Access, handle: Handle) -> Result<CK_ULONG> {
        let inner = &*self.inner;
        let entry = inner.entry(access, handle)?;
        let size =
            encode_attributes(&entry.attributes).len() + entry.sealed.as_ref().map_or(0, Vec::len);
        Ok(size as CK_ULONG)
    }

    /// `C_GetAttributeValue`: one result per requested attribute.
    fn get_attributes(&self, access: &Access, handle: Handle, kinds: &[AttributeType]) -> Answers {
        let inner = &*self.inner;
        let entry = inner.entry(access, handle)?;
        kinds
            .iter()
            .map(|kind| {
                Ok(match objects::reveal(&entry.attributes, *kind) {
                    Reveal::Value(value) => AttributeResult::Value(value),
                    Reveal::Sensitive => AttributeResult::Sensitive,
                    Reveal::Invalid => AttributeResult::Invalid,
                    Reveal::FromMaterial => {
                        match objects::sensitive_value(&*inner.loaded_key(&entry)?, *kind) {
                            Some(value) => AttributeResult::Value(value),
                            None => AttributeResult::Invalid,
                        }
                    }
                })
            })
            .collect()
    }

    /// `C_SetAttributeValue`: all of the template or nothing.
    fn set_attributes(&self, access: &Access, handle: Handle, template: &Template) -> Result<()> {
        let inner = &*self.inner;
        let entry = inner.entry(access, handle)?;
        access.require_read_write(entry.is_token())?;
        let attributes = objects::apply_changes(
            &entry.attributes,
            template,
            Action::SetAttributeValue,
            access,
        )?;
        inner.update(&entry, attributes)
    }
}
