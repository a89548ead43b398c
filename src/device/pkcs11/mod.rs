//! The vendor device (`DEVICE=pkcs11`): every key operation is forwarded
//! to a vendor PKCS#11 module loaded at `C_Initialize` (`DEVICE_MODULE`),
//! while certificate objects stay in the provider's store.
//!
//! - `module`: the library, loaded once per process (`RTLD_LOCAL |
//!   RTLD_DEEPBIND`, kept loaded), `C_Initialize` / `C_Finalize` of the
//!   vendor, fork.
//! - `token`: choosing the vendor token (`DEVICE_TOKEN_LABEL`), its
//!   information and mechanisms.
//! - `session`: one vendor session per provider session.
//! - `handles`: vendor handles that fall in the certificate range get aliases.
//! - `attributes`: templates in, attribute values out, never a sensitive one.
//! - `operations`: sign, verify, encrypt, decrypt and digest at the vendor.
//! - `signing_key`: the vendor key that signs certificate blobs.
//!
//! The vendor enforces its own rules (access, attributes, PINs, mechanism
//! parameters) and its return codes reach the caller unchanged; this
//! device adds only two: certificate objects that sit on the vendor token
//! are read-only here, and the secret parts of a protected key are never
//! asked for. No lock of this device is held while the vendor works.
//!
//! This folder has no `unsafe`: every call into the vendor's function list,
//! and every pointer handed to it, is a safe method of
//! `VendorFunctions` in `ffi/vendor/`.

mod attributes;
mod handles;
mod module;
mod operations;
mod session;
mod signing_key;
mod token;

use crate::device::*;
use crate::error::{Error, Result};
use crate::ffi::vendor::{Input, VendorFunctions, VendorMechanism};
use crate::object::{Access, Answers, AttributeType, Handle, ObjectStore, Template};
use cryptoki_sys::*;
use handles::HandleMap;
use module::{vendor_rv, Module, Vendor};
use operations::{collect_output, Way};
use parking_lot::RwLock;
use session::{Sessions, VendorSession};
use std::path::PathBuf;
use std::sync::Arc;

/// Settings of the vendor device, from the configuration.
#[derive(Clone, Debug)]
pub struct Pkcs11Options {
    /// `DEVICE_MODULE`.
    pub module: PathBuf,
    /// `DEVICE_TOKEN_LABEL`; `None` for the first slot with a token.
    pub token_label: Option<String>,
    /// False when the application forbids the library to create threads
    /// (passed on to the vendor as `CKF_LIBRARY_CANT_CREATE_OS_THREADS`).
    pub may_create_threads: bool,
}

/// More objects than one search of a vendor token can hold: a vendor that
/// keeps returning objects is broken, not large.
const MAX_FOUND: usize = 1 << 24;

/// What the device, its sessions, operations and signing key share.
struct Shared {
    vendor: Arc<Vendor>,
    slot: RwLock<CK_SLOT_ID>,
    sessions: Sessions,
    handles: Arc<HandleMap>,
    mechanisms: RwLock<Vec<MechanismInfo>>,
}

impl Shared {
    fn slot(&self) -> CK_SLOT_ID {
        *self.slot.read()
    }

    /// The handles of the vendor objects matching `template`, searched in
    /// the vendor session `session`.
    fn find(&self, session: CK_SESSION_HANDLE, template: &Template) -> Result<Vec<Handle>> {
        let functions = self.vendor.functions();
        functions.find_objects_init(session, template)?;
        let mut found = Vec::new();
        let searched = loop {
            let mut batch = [0 as CK_OBJECT_HANDLE; 256];
            match functions.find_objects(session, &mut batch) {
                Err(error) => break Err(error),
                Ok(0) => break Ok(()),
                Ok(_) if found.len() > MAX_FOUND => {
                    break Err(Error::VendorModule(format!(
                        "vendor C_FindObjects returned more than {MAX_FOUND} objects"
                    )))
                }
                Ok(count) => found.extend_from_slice(&batch[..count]),
            }
        };
        let ended = functions.find_objects_final(session);
        searched?;
        ended?;
        Ok(found)
    }
}

/// The vendor device.
pub struct Pkcs11Device {
    shared: Arc<Shared>,
}

impl Pkcs11Device {
    /// Loads and initialises the vendor module and picks its token.
    /// Failures are logged naming the configuration key at fault:
    /// `CKR_DEVICE_ERROR` for a module that does not load, is not a
    /// PKCS#11 library or does not initialise; `CKR_TOKEN_NOT_PRESENT` when
    /// no token matches.
    pub fn open(options: &Pkcs11Options) -> Result<Pkcs11Device> {
        let module = Module::load(&options.module)?;
        let vendor = Vendor::initialize(module, options.may_create_threads)?;
        let path = module.path().display();
        let (slot, seen) =
            token::find_token(&vendor, options.token_label.as_deref()).inspect_err(|error| {
                tracing::error!("DEVICE_MODULE={path}: cannot list its tokens: {error}")
            })?;
        let slot = match (slot, &options.token_label) {
            (Some(slot), _) => slot,
            (None, Some(label)) => {
                let message = format!(
                    "DEVICE_TOKEN_LABEL={label}: no token of DEVICE_MODULE={path} has this label (labels seen: {seen:?})"
                );
                tracing::error!("{message}");
                return Err(Error::TokenNotPresent(message));
            }
            (None, None) => {
                let message = format!("DEVICE_MODULE={path}: no slot of the module holds a token");
                tracing::error!("{message}");
                return Err(Error::TokenNotPresent(message));
            }
        };
        let mechanisms = token::mechanisms(&vendor, slot).inspect_err(|error| {
            tracing::error!(
                "DEVICE_MODULE={path}: cannot list the mechanisms of slot {slot}: {error}"
            )
        })?;
        tracing::info!(
            "DEVICE_MODULE={path}: presenting vendor slot {slot} as slot 1 ({} mechanisms)",
            mechanisms.len()
        );
        Ok(Pkcs11Device {
            shared: Arc::new(Shared {
                vendor,
                slot: RwLock::new(slot),
                sessions: Sessions::default(),
                handles: Arc::new(HandleMap::default()),
                mechanisms: RwLock::new(mechanisms),
            }),
        })
    }

    fn vendor(&self) -> &Vendor {
        &self.shared.vendor
    }

    fn functions(&self) -> &VendorFunctions {
        self.shared.vendor.functions()
    }

    /// The vendor session behind the provider's session `ours`.
    fn session(&self, ours: CK_SESSION_HANDLE) -> Result<Arc<VendorSession>> {
        self.shared.sessions.get(ours)
    }

    fn session_of(&self, access: &Access) -> Result<Arc<VendorSession>> {
        self.session(access.session)
    }

    /// Where an operation with `key` runs: the caller's vendor session, the vendor's key.
    fn target(&self, access: &Access, key: Handle) -> Result<operations::Target> {
        Ok((self.session(access.session)?, self.vendor_handle(key)))
    }

    fn vendor_handle(&self, shown: Handle) -> Handle {
        self.shared.handles.to_vendor(shown)
    }

    fn shown(&self, vendor: Handle) -> Handle {
        self.shared.handles.to_shown(vendor)
    }

    /// Certificate objects the vendor token holds itself are read-only:
    /// the provider's certificates live in its own store.
    fn refuse_vendor_certificate(
        &self,
        session: &VendorSession,
        object: Handle,
        refusal: Error,
    ) -> Result<()> {
        if attributes::class_of(self.vendor(), session.handle, object)? == Some(CKO_CERTIFICATE) {
            return Err(refusal);
        }
        Ok(())
    }

    /// The vendor session and object behind `handle`, for a copy or a
    /// destruction (which a vendor certificate refuses).
    fn writable(&self, access: &Access, handle: Handle) -> Result<(Arc<VendorSession>, Handle)> {
        let session = self.session(access.session)?;
        let object = self.vendor_handle(handle);
        self.refuse_vendor_certificate(
            &session,
            object,
            Error::ActionProhibited("certificates on the vendor token are read-only"),
        )?;
        Ok((session, object))
    }
}

fn user_type(user: UserType) -> CK_USER_TYPE {
    match user {
        UserType::SecurityOfficer => CKU_SO,
        UserType::User => CKU_USER,
    }
}

impl TokenControl for Pkcs11Device {
    fn token_status(&self) -> Result<TokenStatus> {
        token::token_status(self.vendor(), self.shared.slot())
    }

    /// `C_InitToken` at the vendor. Some vendors (SoftHSM2) move a token
    /// to a new slot when it is initialised: it is found again by its new label.
    fn init_token(&self, so_pin: &[u8], label: &str) -> Result<()> {
        let slot = self.shared.slot();
        let mut padded = [b' '; 32];
        let mut end = label.len().min(32);
        while !label.is_char_boundary(end) {
            end -= 1;
        }
        padded[..end].copy_from_slice(&label.as_bytes()[..end]);
        let label = String::from_utf8_lossy(&padded[..end]).into_owned();
        self.functions().init_token(slot, so_pin, &padded)?;
        self.shared.handles.clear();
        let still_here = token::token_info(self.vendor(), slot)
            .map(|info| token::field_text(&info.label) == label)
            .unwrap_or(false);
        if !still_here {
            match token::find_token(self.vendor(), Some(&label))? {
                (Some(moved), _) => {
                    tracing::info!(
                        "the vendor moved the initialised token from slot {slot} to {moved}"
                    );
                    *self.shared.slot.write() = moved;
                }
                (None, _) => tracing::warn!(
                    "the vendor token initialised in slot {slot} as \"{label}\" is no longer found"
                ),
            }
        }
        let slot = self.shared.slot();
        if let Ok(mechanisms) = token::mechanisms(self.vendor(), slot) {
            *self.shared.mechanisms.write() = mechanisms;
        }
        Ok(())
    }

    fn open_session(&self, ours: CK_SESSION_HANDLE, read_write: bool) -> Result<()> {
        let session = VendorSession::open(&self.shared.vendor, self.shared.slot(), read_write)?;
        self.shared.sessions.insert(ours, session);
        Ok(())
    }

    fn login(&self, session: CK_SESSION_HANDLE, user: UserType, pin: &[u8]) -> Result<()> {
        let session = self.session(session)?;
        self.functions().login(session.handle, user_type(user), pin)
    }

    fn login_context_specific(&self, session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let session = self.session(session)?;
        (self.functions()).login(session.handle, CKU_CONTEXT_SPECIFIC, pin)
    }

    /// `C_Logout` at the vendor, through any session (login is per
    /// application). With no session left the vendor has logged out already.
    fn logout(&self) {
        if let Some(session) = self.shared.sessions.any() {
            if let Err(error) = self.functions().logout(session.handle) {
                if vendor_rv(&error) != Some(CKR_USER_NOT_LOGGED_IN) {
                    tracing::warn!("vendor logout: {error}");
                }
            }
        }
    }

    fn init_pin(&self, session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let session = self.session(session)?;
        self.functions().init_pin(session.handle, pin)
    }

    fn set_pin(&self, session: CK_SESSION_HANDLE, change: PinChange<'_>) -> Result<()> {
        let session = self.session(session)?;
        (self.functions()).set_pin(session.handle, change.old_pin, change.new_pin)
    }

    fn mechanisms(&self) -> Vec<MechanismInfo> {
        self.shared.mechanisms.read().clone()
    }

    fn generate_random(&self, access: &Access, out: &mut [u8]) -> Result<()> {
        let session = self.session(access.session)?;
        self.functions().generate_random(session.handle, out)
    }

    fn seed_random(&self, access: &Access, seed: &[u8]) -> Result<bool> {
        let session = self.session(access.session)?;
        match (self.functions()).input(Input::SEED_RANDOM, session.handle, seed) {
            Ok(()) => Ok(true),
            Err(error) if vendor_rv(&error) == Some(CKR_RANDOM_SEED_NOT_SUPPORTED) => Ok(false),
            Err(error) => Err(error),
        }
    }

    fn close_session(&self, ours: CK_SESSION_HANDLE) {
        // Dropped here, outside the table's lock; the vendor session closes
        // once no operation holds it.
        drop(self.shared.sessions.remove(ours));
    }
}

impl Operations for Pkcs11Device {
    fn encrypt_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Cipher {
        operations::cipher_init(self.target(access, key)?, Way::Encrypt, mechanism)
    }

    fn decrypt_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Cipher {
        operations::cipher_init(self.target(access, key)?, Way::Decrypt, mechanism)
    }

    fn digest_init(&self, access: &Access, mechanism: &Mechanism) -> Digesting {
        let handles = self.shared.handles.clone();
        operations::digest_init(self.session_of(access)?, handles, mechanism)
    }

    fn sign_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Signing {
        operations::sign_init(self.target(access, key)?, mechanism)
    }

    fn verify_init(&self, access: &Access, mechanism: &Mechanism, key: Handle) -> Verifying {
        operations::verify_init(self.target(access, key)?, mechanism)
    }
}

impl KeyManagement for Pkcs11Device {
    fn generate_key(&self, access: &Access, request: KeyRequest<'_>) -> Result<Handle> {
        let session = self.session(access.session)?;
        let mut mechanism = VendorMechanism::new(request.mechanism)?;
        let key =
            (self.functions()).generate_key(session.handle, &mut mechanism, request.template)?;
        Ok(self.shown(key))
    }

    fn generate_key_pair(&self, access: &Access, request: KeyPairRequest<'_>) -> KeyPair {
        let session = self.session(access.session)?;
        let mut mechanism = VendorMechanism::new(request.mechanism)?;
        let templates = (request.public_template, request.private_template);
        let (public, private) =
            (self.functions()).generate_key_pair(session.handle, &mut mechanism, templates)?;
        Ok((self.shown(public), self.shown(private)))
    }

    fn wrap_key(&self, access: &Access, request: WrapRequest<'_>) -> Result<Vec<u8>> {
        let session = self.session(access.session)?;
        let mut mechanism = VendorMechanism::new(request.mechanism)?;
        let keys = (
            self.vendor_handle(request.wrapping_key),
            self.vendor_handle(request.key),
        );
        collect_output("C_WrapKey", 8192, |wrapped| {
            (self.functions()).wrap_key(session.handle, &mut mechanism, keys, wrapped)
        })
    }

    fn unwrap_key(&self, access: &Access, request: UnwrapRequest<'_>) -> Result<Handle> {
        let session = self.session(access.session)?;
        let mut mechanism = VendorMechanism::new(request.mechanism)?;
        let unwrapping = (self.vendor_handle(request.unwrapping_key), request.wrapped);
        let key = (self.functions()).unwrap_key(
            session.handle,
            &mut mechanism,
            unwrapping,
            request.template,
        )?;
        Ok(self.shown(key))
    }

    fn derive_key(&self, access: &Access, request: DeriveRequest<'_>) -> Result<DerivedKeys> {
        if let MechanismParameter::Kbkdf(parameter) = &request.mechanism.parameter {
            // Their handles would come back as the vendor's, inside the
            // caller's parameter, where no translation can reach them.
            if !parameter.additional_keys.is_empty() {
                return Err(Error::MechanismParamInvalid(
                    "additional derived keys are not forwarded to the vendor module",
                ));
            }
        }
        let session = self.session(access.session)?;
        // The second key of CKM_CONCATENATE_BASE_AND_KEY is a handle inside
        // the parameter: the vendor's own, not the one the caller sees.
        let translated;
        let forwarded = match request.mechanism.parameter {
            MechanismParameter::KeyHandle(handle) => {
                let vendor = self.vendor_handle(handle) as CK_OBJECT_HANDLE;
                translated = Mechanism {
                    caller_parameter: Some(vendor.to_ne_bytes().to_vec()),
                    ..request.mechanism.clone()
                };
                &translated
            }
            _ => request.mechanism,
        };
        let mut mechanism = VendorMechanism::new(forwarded)?;
        let base_key = self.vendor_handle(request.base_key);
        let key = (self.functions()).derive_key(
            session.handle,
            &mut mechanism,
            base_key,
            request.template,
        )?;
        Ok(self.shown(key).into())
    }

    fn blob_signing_key(&self, key_id: Option<&str>) -> Result<Arc<dyn BlobSigningKey>> {
        signing_key::blob_signing_key(&self.shared, key_id)
    }
}

impl ObjectStore for Pkcs11Device {
    fn create_object(&self, access: &Access, template: &Template) -> Result<Handle> {
        let session = self.session(access.session)?;
        let created = self.functions().create_object(session.handle, template)?;
        Ok(self.shown(created))
    }
    fn find_objects(&self, access: &Access, template: &Template) -> Result<Vec<Handle>> {
        let session = self.session(access.session)?;
        let found = self.shared.find(session.handle, template)?;
        Ok(found.into_iter().map(|h| self.shown(h)).collect())
    }
    fn copy_object(&self, access: &Access, handle: Handle, template: &Template) -> Result<Handle> {
        let (session, object) = self.writable(access, handle)?;
        let copy = self
            .functions()
            .copy_object(session.handle, object, template)?;
        Ok(self.shown(copy))
    }

    fn destroy_object(&self, access: &Access, handle: Handle) -> Result<()> {
        let (session, object) = self.writable(access, handle)?;
        self.functions().destroy_object(session.handle, object)?;
        self.shared.handles.forget(handle);
        Ok(())
    }

    fn object_size(&self, access: &Access, handle: Handle) -> Result<CK_ULONG> {
        let session = self.session(access.session)?;
        (self.functions()).object_size(session.handle, self.vendor_handle(handle))
    }

    fn get_attributes(&self, access: &Access, handle: Handle, kinds: &[AttributeType]) -> Answers {
        let session = self.session(access.session)?;
        attributes::get_attributes(
            self.vendor(),
            session.handle,
            self.vendor_handle(handle),
            kinds,
        )
    }

    fn set_attributes(&self, access: &Access, handle: Handle, template: &Template) -> Result<()> {
        let session = self.session(access.session)?;
        let object = self.vendor_handle(handle);
        if let Some(first) = template.first() {
            self.refuse_vendor_certificate(&session, object, Error::AttributeReadOnly(first.kind))?;
        }
        (self.functions()).set_attribute_value(session.handle, object, template)
    }
}
