//! The vendor's object, key and random-number functions (PKCS#11 3.0
//! §5.7, §5.14, §5.15), each called with Rust buffers that outlive it.

use super::buffers::{AttributeSlot, VendorMechanism, VendorTemplate};
use super::{call, length, read_only, VendorFunctions, Written};
use crate::error::Result;
use crate::object::Template;
use cryptoki_sys::*;

type Session = CK_SESSION_HANDLE;
type Object = CK_OBJECT_HANDLE;

impl VendorFunctions {
    /// `C_FindObjectsInit` with `template`.
    pub(crate) fn find_objects_init(&self, session: Session, template: &Template) -> Result<()> {
        let mut template = VendorTemplate::new(template);
        call("C_FindObjectsInit", self.list.C_FindObjectsInit, |f| {
            // SAFETY: the template's attributes point into `template`'s values, alive here.
            unsafe { f(session, template.pointer(), template.count()) }
        })
    }

    /// `C_FindObjects` into `batch`: the number of handles written.
    pub(crate) fn find_objects(&self, session: Session, batch: &mut [Object]) -> Result<usize> {
        let mut count: CK_ULONG = 0;
        call("C_FindObjects", self.list.C_FindObjects, |f| {
            // SAFETY: `batch` holds `length(batch)` handles; `count` is a valid place.
            unsafe { f(session, batch.as_mut_ptr(), length(batch), &mut count) }
        })?;
        Ok((count as usize).min(batch.len()))
    }

    /// `C_FindObjectsFinal`.
    pub(crate) fn find_objects_final(&self, session: Session) -> Result<()> {
        // SAFETY: no pointer is passed.
        call(
            "C_FindObjectsFinal",
            self.list.C_FindObjectsFinal,
            |f| unsafe { f(session) },
        )
    }

    /// `C_CreateObject` from `template`: the new object's handle.
    pub(crate) fn create_object(&self, session: Session, template: &Template) -> Result<Object> {
        let (mut template, mut created) = (VendorTemplate::new(template), 0);
        call("C_CreateObject", self.list.C_CreateObject, |f| {
            // SAFETY: the template points into live values; `created` is a valid place.
            unsafe { f(session, template.pointer(), template.count(), &mut created) }
        })?;
        Ok(created)
    }

    /// `C_CopyObject` of `object` with `template`: the copy's handle.
    pub(crate) fn copy_object(
        &self,
        session: Session,
        object: Object,
        template: &Template,
    ) -> Result<Object> {
        let (mut template, mut copy) = (VendorTemplate::new(template), 0);
        call("C_CopyObject", self.list.C_CopyObject, |f| {
            // SAFETY: the template points into live values; `copy` is a valid place.
            unsafe {
                f(
                    session,
                    object,
                    template.pointer(),
                    template.count(),
                    &mut copy,
                )
            }
        })?;
        Ok(copy)
    }

    /// `C_DestroyObject`.
    pub(crate) fn destroy_object(&self, session: Session, object: Object) -> Result<()> {
        // SAFETY: no pointer is passed.
        call("C_DestroyObject", self.list.C_DestroyObject, |f| unsafe {
            f(session, object)
        })
    }

    /// `C_GetObjectSize`.
    pub(crate) fn object_size(&self, session: Session, object: Object) -> Result<CK_ULONG> {
        let mut size: CK_ULONG = 0;
        // SAFETY: `size` is a valid place for the vendor to write.
        call("C_GetObjectSize", self.list.C_GetObjectSize, |f| unsafe {
            f(session, object, &mut size)
        })?;
        Ok(size)
    }

    /// `C_SetAttributeValue` of `object` with `template`.
    pub(crate) fn set_attribute_value(
        &self,
        session: Session,
        object: Object,
        template: &Template,
    ) -> Result<()> {
        let mut template = VendorTemplate::new(template);
        call("C_SetAttributeValue", self.list.C_SetAttributeValue, |f| {
            // SAFETY: the template's attributes point into `template`'s values, alive here.
            unsafe { f(session, object, template.pointer(), template.count()) }
        })
    }

    /// `C_GetAttributeValue` of `object` for `slots`: each slot's buffer
    /// is offered (NULL when empty: a length query), and the length the
    /// vendor reports is stored in the slot whatever the result.
    pub(crate) fn get_attribute_value(
        &self,
        session: Session,
        object: Object,
        slots: &mut [AttributeSlot],
    ) -> Result<()> {
        let mut template: Vec<CK_ATTRIBUTE> = slots.iter_mut().map(AttributeSlot::raw).collect();
        let result = call("C_GetAttributeValue", self.list.C_GetAttributeValue, |f| {
            // SAFETY: every attribute's pValue is NULL or its slot's buffer of
            // ulValueLen bytes, alive (and not otherwise used) during the call.
            unsafe { f(session, object, template.as_mut_ptr(), length(&template)) }
        });
        for (slot, attribute) in slots.iter_mut().zip(&template) {
            slot.length = attribute.ulValueLen;
        }
        result
    }

    /// `C_GenerateKey`: the new key's handle.
    pub(crate) fn generate_key(
        &self,
        session: Session,
        mechanism: &mut VendorMechanism,
        template: &Template,
    ) -> Result<Object> {
        let (mut raw, mut template, mut key) = (mechanism.raw(), VendorTemplate::new(template), 0);
        call("C_GenerateKey", self.list.C_GenerateKey, |f| {
            // SAFETY: the mechanism and template point into live buffers; `key` is a valid place.
            unsafe {
                f(
                    session,
                    &mut raw,
                    template.pointer(),
                    template.count(),
                    &mut key,
                )
            }
        })?;
        Ok(key)
    }

    /// `C_GenerateKeyPair`: the public and the private key's handles.
    pub(crate) fn generate_key_pair(
        &self,
        session: Session,
        mechanism: &mut VendorMechanism,
        (public, private): (&Template, &Template),
    ) -> Result<(Object, Object)> {
        let mut raw = mechanism.raw();
        let (mut public, mut private) = (VendorTemplate::new(public), VendorTemplate::new(private));
        let (mut public_key, mut private_key) = (0, 0);
        call("C_GenerateKeyPair", self.list.C_GenerateKeyPair, |f| {
            // SAFETY: the mechanism and both templates point into live
            // buffers; both handles are valid places.
            unsafe {
                f(
                    session,
                    &mut raw,
                    public.pointer(),
                    public.count(),
                    private.pointer(),
                    private.count(),
                    &mut public_key,
                    &mut private_key,
                )
            }
        })?;
        Ok((public_key, private_key))
    }

    /// `C_WrapKey` of `key` under `wrapping_key`, into `output`.
    pub(crate) fn wrap_key(
        &self,
        session: Session,
        mechanism: &mut VendorMechanism,
        (wrapping_key, key): (Object, Object),
        output: &mut [u8],
    ) -> Written {
        let (mut raw, mut written) = (mechanism.raw(), length(output));
        let result = call("C_WrapKey", self.list.C_WrapKey, |f| {
            // SAFETY: the mechanism points into a live buffer; `output` holds `written` bytes.
            unsafe {
                f(
                    session,
                    &mut raw,
                    wrapping_key,
                    key,
                    output.as_mut_ptr(),
                    &mut written,
                )
            }
        });
        Written {
            result,
            length: written,
        }
    }

    /// `C_UnwrapKey` of `wrapped` under `unwrapping_key`: the new key's handle.
    pub(crate) fn unwrap_key(
        &self,
        session: Session,
        mechanism: &mut VendorMechanism,
        (unwrapping_key, wrapped): (Object, &[u8]),
        template: &Template,
    ) -> Result<Object> {
        let (mut raw, mut template, mut key) = (mechanism.raw(), VendorTemplate::new(template), 0);
        call("C_UnwrapKey", self.list.C_UnwrapKey, |f| {
            // SAFETY: the mechanism, `wrapped` (only read) and the template
            // are live buffers of the lengths given; `key` is a valid place.
            unsafe {
                let (pointer, count) = (template.pointer(), template.count());
                f(
                    session,
                    &mut raw,
                    unwrapping_key,
                    read_only(wrapped),
                    length(wrapped),
                    pointer,
                    count,
                    &mut key,
                )
            }
        })?;
        Ok(key)
    }

    /// `C_DeriveKey` from `base_key`: the new key's handle.
    pub(crate) fn derive_key(
        &self,
        session: Session,
        mechanism: &mut VendorMechanism,
        base_key: Object,
        template: &Template,
    ) -> Result<Object> {
        let (mut raw, mut template, mut key) = (mechanism.raw(), VendorTemplate::new(template), 0);
        call("C_DeriveKey", self.list.C_DeriveKey, |f| {
            // SAFETY: the mechanism and template point into live buffers; `key` is a valid place.
            unsafe {
                f(
                    session,
                    &mut raw,
                    base_key,
                    template.pointer(),
                    template.count(),
                    &mut key,
                )
            }
        })?;
        Ok(key)
    }

    /// `C_GenerateRandom` into `output`.
    pub(crate) fn generate_random(&self, session: Session, output: &mut [u8]) -> Result<()> {
        call("C_GenerateRandom", self.list.C_GenerateRandom, |f| {
            // SAFETY: `output` is a live buffer of its length, ours to have written.
            unsafe { f(session, output.as_mut_ptr(), length(output)) }
        })
    }
}
