//! Routing of objects to their owner, and the object functions of
//! PKCS#11 3.0 §5.7 (`C_CreateObject` .. `C_FindObjectsFinal`).

use super::Provider;
use crate::certstore::Certificates;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::object::{self, Access, AttributeResult, AttributeType, Handle, ObjectStore, Template};
use crate::session::{ensure_idle, Search};
use cryptoki_sys::{CKA_CLASS, CKO_CERTIFICATE, CK_SESSION_HANDLE, CK_ULONG};
use std::sync::Arc;

/// The owners of objects: the device (keys, and certificates a vendor
/// token holds itself) and the certificate store. No lock of its own: each
/// owner guards its own state.
pub(super) struct Objects {
    device: Arc<dyn Device>,
    certificates: Certificates,
}

impl Objects {
    pub(super) fn new(device: Arc<dyn Device>, certificates: Certificates) -> Self {
        Objects {
            device,
            certificates,
        }
    }

    /// The device.
    pub(super) fn device(&self) -> &dyn Device {
        &*self.device
    }

    /// The certificate store.
    pub(super) fn certificates(&self) -> &Certificates {
        &self.certificates
    }

    /// The owner of `object`: the certificate store for the certificate
    /// range, the device for every other handle. With `Objects::owner_for`
    /// and `Objects::owners`, the one place where objects are routed.
    fn owner_of(&self, object: Handle) -> &dyn ObjectStore {
        if object::is_certificate_handle(object) {
            &self.certificates
        } else {
            &*self.device
        }
    }

    /// The owner a new object of `template` goes to: the certificate store
    /// for a certificate, the device for everything else.
    fn owner_for(&self, template: &Template) -> Result<&dyn ObjectStore> {
        Ok(
            if object::find_ulong(template, CKA_CLASS)? == Some(CKO_CERTIFICATE) {
                &self.certificates
            } else {
                &*self.device
            },
        )
    }

    /// Every owner of objects, in the order a search lists them: the
    /// device first (a vendor token may hold certificates of its own), then
    /// the certificate store.
    fn owners(&self) -> [&dyn ObjectStore; 2] {
        [&*self.device, &self.certificates]
    }

    /// The objects matching `template`, of every owner that could hold a
    /// match, in `Objects::owners` order.
    ///
    /// A template no certificate can match (another class, or an attribute
    /// certificates do not have, such as `CKA_KEY_TYPE`) never asks the
    /// certificate store, so key searches keep working while the store is
    /// unreachable. Any other template needs the store: during an outage it
    /// fails with `CKR_DEVICE_ERROR` rather than return keys alone, which a
    /// caller could take for "no such certificate" (docs/architecture.md).
    fn find(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        // The device always could hold a match: a vendor token may hold
        // certificates of its own (the soft device answers a
        // certificate-class search without reading its rows).
        let mut handles = Vec::new();
        for owner in self.owners() {
            if owner.could_hold(template) {
                handles.extend(owner.find_objects(access, template)?);
            }
        }
        Ok(handles)
    }
}

impl Provider {
    /// `C_CreateObject`, by the owner `Objects::owner_for` picks.
    pub(crate) fn create_object(
        &self,
        handle: CK_SESSION_HANDLE,
        template: &Template,
    ) -> Result<Handle> {
        let access = self.access(handle)?;
        self.objects
            .owner_for(template)?
            .create_object(&access, template)
    }

    /// `C_CopyObject`.
    pub(crate) fn copy_object(
        &self,
        handle: CK_SESSION_HANDLE,
        object: Handle,
        template: &Template,
    ) -> Result<Handle> {
        let access = self.access(handle)?;
        self.objects
            .owner_of(object)
            .copy_object(&access, object, template)
    }

    /// `C_DestroyObject`.
    pub(crate) fn destroy_object(&self, handle: CK_SESSION_HANDLE, object: Handle) -> Result<()> {
        let access = self.access(handle)?;
        self.objects
            .owner_of(object)
            .destroy_object(&access, object)
    }

    /// `C_GetObjectSize`.
    pub(crate) fn object_size(
        &self,
        handle: CK_SESSION_HANDLE,
        object: Handle,
    ) -> Result<CK_ULONG> {
        let access = self.access(handle)?;
        self.objects.owner_of(object).object_size(&access, object)
    }

    /// `C_GetAttributeValue`.
    pub(crate) fn get_attributes(
        &self,
        handle: CK_SESSION_HANDLE,
        object: Handle,
        kinds: &[AttributeType],
    ) -> Result<Vec<AttributeResult>> {
        let access = self.access(handle)?;
        self.objects
            .owner_of(object)
            .get_attributes(&access, object, kinds)
    }

    /// `C_SetAttributeValue`.
    pub(crate) fn set_attributes(
        &self,
        handle: CK_SESSION_HANDLE,
        object: Handle,
        template: &Template,
    ) -> Result<()> {
        let access = self.access(handle)?;
        self.objects
            .owner_of(object)
            .set_attributes(&access, object, template)
    }

    /// `C_FindObjectsInit`: every owner's matches (see `Objects::find`)
    /// in one cursor. The search runs without the session's lock (the
    /// certificate store may be a network away); the cursor is installed
    /// after it, if no other search became active meanwhile.
    pub(crate) fn find_init(&self, handle: CK_SESSION_HANDLE, template: &Template) -> Result<()> {
        self.with_session(handle, |session, _| ensure_idle(&session.search))?;
        let access = self.access(handle)?;
        let handles = self.objects.find(&access, template)?;
        self.with_session(handle, |session, _| {
            ensure_idle(&session.search)?;
            session.search = Some(Search::new(handles));
            Ok(())
        })
    }

    /// `C_FindObjects`: at most `count` handles per call.
    pub(crate) fn find_next(&self, handle: CK_SESSION_HANDLE, count: usize) -> Result<Vec<Handle>> {
        self.with_session(handle, |session, _| {
            let search = session
                .search
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?;
            Ok(search.next(count).to_vec())
        })
    }

    /// `C_FindObjectsFinal`.
    pub(crate) fn find_final(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        self.with_session(handle, |session, _| {
            session
                .search
                .take()
                .ok_or(Error::OperationNotInitialized)?;
            Ok(())
        })
    }
}
