//! The initialised library: configuration, the device, the certificate
//! store, the session table and the login state shared by all sessions.
//!
//! Everything here speaks Rust; `ffi/` converts arguments and results.

use crate::certstore::Certificates;
use crate::config::Config;
use crate::device::{Device, Mechanism, MechanismInfo, TokenStatus, UserType};
use crate::error::{Error, Result};
use crate::object::{self, Access, AttributeResult, AttributeType, Handle, ObjectStore, Template};
use crate::session::{Search, Session};
use cryptoki_sys::*;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock as StdRwLock};

/// The one slot, ID 1, as the Azure Cloud HSM SDK's samples hard-code it.
pub const SLOT_ID: CK_SLOT_ID = 1;

mod lifecycle;

/// The next session handle, for the whole life of the process: a handle
/// is never issued twice, not even after `C_Finalize` and `C_Initialize`,
/// so a thread still holding a session of the finalised provider gets
/// `CKR_SESSION_HANDLE_INVALID` instead of reaching another thread's new
/// session that happens to have the same number.
static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

pub(crate) use lifecycle::{after_fork, prepare_fork};
pub use lifecycle::{finalize, forked_child, initialize, provider, untrack_forks};

/// The state of the initialised library.
pub struct Provider {
    pub config: Config,
    pub device: Arc<dyn Device>,
    pub certificates: Certificates,
    sessions: RwLock<HashMap<CK_SESSION_HANDLE, SessionEntry>>,
    login: RwLock<Option<UserType>>,
    /// Serialises `C_Login` calls while their PIN check runs outside `login`.
    login_attempt: Mutex<()>,
}

/// One row of the session table. The R/W flag never changes, so it is kept
/// outside the session's mutex: counting sessions or checking for R/O ones
/// never waits for a session busy with a long operation.
#[derive(Clone)]
struct SessionEntry {
    read_write: bool,
    state: Arc<Mutex<Session>>,
}

/// The session information `C_GetSessionInfo` reports.
pub struct SessionInfo {
    pub state: CK_STATE,
    pub flags: CK_FLAGS,
}

/// The token information plus the session counts.
pub struct TokenInfo {
    pub status: TokenStatus,
    pub session_count: usize,
    pub read_write_session_count: usize,
}

impl Provider {
    fn open(may_create_threads: bool) -> Result<Provider> {
        let config = Config::load().map_err(|e| {
            crate::logging::init_default();
            tracing::error!("configuration: {e}");
            Error::GeneralError(format!("configuration: {e}"))
        })?;
        crate::logging::init(&config);
        tracing::info!(source = ?config.source, "initialising");
        let device = crate::backends::open_device(&config, may_create_threads)?;
        let certificates =
            crate::backends::open_certificates(&config, device.clone(), may_create_threads)?;
        Ok(Provider {
            config,
            device,
            certificates,
            sessions: RwLock::new(HashMap::new()),
            login: RwLock::new(None),
            login_attempt: Mutex::new(()),
        })
    }

    // ----- slot and token -----

    /// Fails with `CKR_SLOT_ID_INVALID` for any slot but [`SLOT_ID`].
    pub fn check_slot(&self, slot: CK_SLOT_ID) -> Result<()> {
        if slot != SLOT_ID {
            return Err(Error::SlotIdInvalid);
        }
        Ok(())
    }

    pub fn token_info(&self, slot: CK_SLOT_ID) -> Result<TokenInfo> {
        self.check_slot(slot)?;
        let sessions = self.sessions.read();
        let read_write_session_count = sessions.values().filter(|s| s.read_write).count();
        let status = self.device.token_status()?;
        Ok(TokenInfo {
            status,
            session_count: sessions.len(),
            read_write_session_count,
        })
    }

    pub fn mechanisms(&self, slot: CK_SLOT_ID) -> Result<Vec<MechanismInfo>> {
        self.check_slot(slot)?;
        Ok(self.device.mechanisms())
    }

    pub fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        kind: CK_MECHANISM_TYPE,
    ) -> Result<MechanismInfo> {
        self.mechanisms(slot)?
            .into_iter()
            .find(|m| m.kind == kind)
            .ok_or(Error::MechanismInvalid(kind))
    }

    /// `C_InitToken`: no session may be open (`CKR_SESSION_EXISTS`). The
    /// session table stays read-locked until the token is initialised, so
    /// no session opens half-way through.
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &str) -> Result<()> {
        self.check_slot(slot)?;
        let sessions = self.sessions.read();
        if !sessions.is_empty() {
            return Err(Error::SessionExists);
        }
        let result = self.device.init_token(so_pin, label);
        drop(sessions);
        if result.is_ok() {
            // The device's blob-signing key is new: nothing verified or
            // signed with the old one may be used again.
            self.certificates.forget_keys();
        }
        result
    }

    // ----- sessions -----

    /// `C_OpenSession`.
    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        self.check_slot(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        let read_write = flags & CKF_RW_SESSION != 0;
        let so_refuses = |login: &Option<UserType>| {
            if !read_write && *login == Some(UserType::SecurityOfficer) {
                return Err(Error::SessionReadWriteSoExists);
            }
            Ok(())
        };
        so_refuses(&self.login.read())?;
        let handle = NEXT_SESSION.fetch_add(1, Ordering::Relaxed);
        // The device opens its side of the session with no lock held (a
        // vendor module may take its time); the check is then repeated
        // under the login lock, held until the session is in the table, so
        // an SO login cannot slip in between the check and the insert.
        self.device.open_session(handle, read_write)?;
        let login = self.login.read();
        if let Err(error) = so_refuses(&login) {
            drop(login);
            self.device.close_session(handle);
            return Err(error);
        }
        let state = Arc::new(Mutex::new(Session::new(handle, read_write)));
        self.sessions
            .write()
            .insert(handle, SessionEntry { read_write, state });
        drop(login);
        Ok(handle)
    }

    /// `C_CloseSession`. Closing the last session logs the user out.
    pub fn close_session(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        let (removed, now_empty) = {
            let mut sessions = self.sessions.write();
            let removed = sessions.remove(&handle);
            (removed, sessions.is_empty())
        };
        removed.ok_or(Error::SessionHandleInvalid)?;
        self.device.close_session(handle);
        self.certificates.close_session(handle);
        if now_empty {
            self.logout_internal();
        }
        Ok(())
    }

    /// `C_CloseAllSessions`.
    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        self.check_slot(slot)?;
        self.close_all_sessions_internal();
        Ok(())
    }

    fn close_all_sessions_internal(&self) {
        let handles: Vec<_> = self.sessions.write().drain().map(|(h, _)| h).collect();
        for handle in handles {
            self.device.close_session(handle);
            self.certificates.close_session(handle);
        }
        self.logout_internal();
    }

    /// Fails with `CKR_SESSION_HANDLE_INVALID` unless `handle` is open.
    pub fn check_session(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        self.session(handle).map(|_| ())
    }

    fn session(&self, handle: CK_SESSION_HANDLE) -> Result<SessionEntry> {
        self.sessions
            .read()
            .get(&handle)
            .cloned()
            .ok_or(Error::SessionHandleInvalid)
    }

    /// The caller's access rights in session `handle`, without locking the
    /// session: object calls need only these, and may block on the
    /// certificate store or the device, which must never happen under a
    /// session's lock (a `C_Logout` or `C_CloseSession` from another thread
    /// would wait behind it).
    pub fn access(&self, handle: CK_SESSION_HANDLE) -> Result<Access> {
        let entry = self.session(handle)?;
        Ok(self.access_of(handle, &entry))
    }

    fn access_of(&self, handle: CK_SESSION_HANDLE, entry: &SessionEntry) -> Access {
        // The login state is read before the session is locked: `login`
        // holds the login lock while it looks at the session table, so the
        // two locks are always taken in this order.
        let login = *self.login.read();
        Access {
            user: login == Some(UserType::User),
            so: login == Some(UserType::SecurityOfficer),
            read_write: entry.read_write,
            session: handle,
        }
    }

    /// Runs `f` on the session with the caller's access rights. `f` holds
    /// the session's lock: it must not block on I/O (use [`Provider::access`]).
    pub fn with_session<T>(
        &self,
        handle: CK_SESSION_HANDLE,
        f: impl FnOnce(&mut Session, &Access) -> Result<T>,
    ) -> Result<T> {
        let entry = self.session(handle)?;
        let access = self.access_of(handle, &entry);
        let mut session = entry.state.lock();
        f(&mut session, &access)
    }

    /// `C_GetSessionInfo`.
    pub fn session_info(&self, handle: CK_SESSION_HANDLE) -> Result<SessionInfo> {
        self.with_session(handle, |session, access| {
            let state = match (session.read_write, access.user, access.so) {
                (_, _, true) => CKS_RW_SO_FUNCTIONS,
                (true, true, _) => CKS_RW_USER_FUNCTIONS,
                (true, false, _) => CKS_RW_PUBLIC_SESSION,
                (false, true, _) => CKS_RO_USER_FUNCTIONS,
                (false, false, _) => CKS_RO_PUBLIC_SESSION,
            };
            let mut flags = CKF_SERIAL_SESSION;
            if session.read_write {
                flags |= CKF_RW_SESSION;
            }
            Ok(SessionInfo { state, flags })
        })
    }

    // ----- login (PKCS#11 3.0 §5.6) -----

    /// `C_Login` (PKCS#11 3.0 §5.6). The login state is shared by every
    /// session of the application.
    ///
    /// The PIN check (a slow key derivation) runs under `login_attempt`
    /// only: the login lock, which every session call reads, is taken just
    /// to check the state and to publish the new one, so a login never
    /// stalls the other sessions' operations.
    pub fn login(
        &self,
        handle: CK_SESSION_HANDLE,
        user_type: CK_USER_TYPE,
        pin: &[u8],
    ) -> Result<()> {
        let user = match user_type {
            CKU_SO => UserType::SecurityOfficer,
            CKU_USER => UserType::User,
            CKU_CONTEXT_SPECIFIC => return self.login_context_specific(handle, pin),
            _ => {
                self.session(handle)?;
                return Err(Error::UserTypeInvalid);
            }
        };
        self.session(handle)?;
        let _attempt = self.login_attempt.lock();
        self.check_login_allowed(user)?;
        self.device.login(handle, user, pin)?;
        let mut login = self.login.write();
        // Sessions opened during the PIN check: `open_session` inserts
        // under the login lock, so this second look is final.
        if let Err(error) = self.check_login_allowed_locked(user, &login) {
            drop(login);
            self.device.logout();
            return Err(error);
        }
        *login = Some(user);
        Ok(())
    }

    fn check_login_allowed(&self, user: UserType) -> Result<()> {
        let login = self.login.read();
        self.check_login_allowed_locked(user, &login)
    }

    /// §5.6 C_Login: one user type at a time, and the SO only when every
    /// session is R/W.
    fn check_login_allowed_locked(&self, user: UserType, login: &Option<UserType>) -> Result<()> {
        match *login {
            Some(current) if current == user => return Err(Error::UserAlreadyLoggedIn),
            Some(_) => return Err(Error::UserAnotherAlreadyLoggedIn),
            None => {}
        }
        if user == UserType::SecurityOfficer && self.sessions.read().values().any(|s| !s.read_write)
        {
            return Err(Error::SessionReadOnlyExists);
        }
        Ok(())
    }

    /// `C_Login` with `CKU_CONTEXT_SPECIFIC`: re-authenticates the user for
    /// the operation just initialised in this session. "Improper use of
    /// this user type will result in a return value
    /// CKR_OPERATION_NOT_INITIALIZED" (PKCS#11 3.0 §5.6).
    fn login_context_specific(&self, handle: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        self.with_session(handle, |session, access| {
            if !session.has_cryptographic_operation() {
                return Err(Error::OperationNotInitialized);
            }
            if !access.user {
                return Err(Error::UserNotLoggedIn);
            }
            self.device.login_context_specific(handle, pin)
        })
    }

    /// `C_Logout`.
    pub fn logout(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        self.session(handle)?;
        if self.login.read().is_none() {
            return Err(Error::UserNotLoggedIn);
        }
        self.logout_internal();
        Ok(())
    }

    fn logout_internal(&self) {
        // Serialised with C_Login: a logout between a login's PIN check and
        // its publishing of the state would otherwise close the device's
        // login under a provider that then reports "logged in".
        let _attempt = self.login_attempt.lock();
        let was = self.login.write().take();
        if was.is_some() {
            self.device.logout();
            let sessions: Vec<_> = self
                .sessions
                .read()
                .values()
                .map(|s| s.state.clone())
                .collect();
            for session in sessions {
                session.lock().cancel_operations();
            }
        }
    }

    /// `C_InitPIN`: the SO, in a R/W session, sets the user's PIN. A R/O
    /// session is refused as such (`CKR_SESSION_READ_ONLY`) whoever is
    /// logged in: the SO can never be logged in while one exists, so "not
    /// the SO" would misname the problem.
    pub fn init_pin(&self, handle: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        self.with_session(handle, |_, access| {
            if !access.read_write {
                return Err(Error::SessionReadOnly);
            }
            if !access.so {
                return Err(Error::UserNotLoggedIn);
            }
            self.device.init_pin(handle, pin)
        })
    }

    /// `C_SetPIN`: changes the PIN of the logged-in user (the user's when no one is logged in).
    pub fn set_pin(&self, handle: CK_SESSION_HANDLE, old_pin: &[u8], new_pin: &[u8]) -> Result<()> {
        self.with_session(handle, |_, access| {
            if !access.read_write {
                return Err(Error::SessionReadOnly);
            }
            let user = if access.so {
                UserType::SecurityOfficer
            } else {
                UserType::User
            };
            self.device.set_pin(handle, user, old_pin, new_pin)
        })
    }

    // ----- objects (§5.7) -----

    /// `C_CreateObject`, by the owner [`Provider::owner_for`] picks.
    pub fn create_object(&self, handle: CK_SESSION_HANDLE, template: &Template) -> Result<Handle> {
        let access = self.access(handle)?;
        self.owner_for(template)?.create_object(&access, template)
    }

    /// The owner of `object`: the certificate store for the certificate
    /// range, the device for every other handle. With [`Provider::owner_for`]
    /// and [`Provider::owners`], the one place where objects are routed.
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

    pub fn copy_object(
        &self,
        handle: CK_SESSION_HANDLE,
        object: Handle,
        template: &Template,
    ) -> Result<Handle> {
        let access = self.access(handle)?;
        self.owner_of(object).copy_object(&access, object, template)
    }

    pub fn destroy_object(&self, handle: CK_SESSION_HANDLE, object: Handle) -> Result<()> {
        let access = self.access(handle)?;
        self.owner_of(object).destroy_object(&access, object)
    }

    pub fn object_size(&self, handle: CK_SESSION_HANDLE, object: Handle) -> Result<CK_ULONG> {
        let access = self.access(handle)?;
        self.owner_of(object).object_size(&access, object)
    }

    pub fn get_attributes(
        &self,
        handle: CK_SESSION_HANDLE,
        object: Handle,
        kinds: &[AttributeType],
    ) -> Result<Vec<AttributeResult>> {
        let access = self.access(handle)?;
        self.owner_of(object).get_attributes(&access, object, kinds)
    }

    pub fn set_attributes(
        &self,
        handle: CK_SESSION_HANDLE,
        object: Handle,
        template: &Template,
    ) -> Result<()> {
        let access = self.access(handle)?;
        self.owner_of(object)
            .set_attributes(&access, object, template)
    }

    /// `C_FindObjectsInit`: the device's objects (keys, and certificates a
    /// vendor token holds itself), then the certificate store's, as the
    /// template allows, in one cursor. The search runs without the session's lock (the
    /// certificate store may be a network away); the cursor is installed
    /// after it, if no other search became active meanwhile.
    ///
    /// A template no certificate can match (another class, or an attribute
    /// certificates do not have, such as `CKA_KEY_TYPE`) never asks the
    /// certificate store, so key searches keep working while the store is
    /// unreachable. Any other template needs the store: during an outage it
    /// fails with `CKR_DEVICE_ERROR` rather than return keys alone, which a
    /// caller could take for "no such certificate" (docs/architecture.md).
    pub fn find_init(&self, handle: CK_SESSION_HANDLE, template: &Template) -> Result<()> {
        self.with_session(handle, |session, _| {
            crate::session::ensure_idle(&session.search)
        })?;
        let access = self.access(handle)?;
        // The device always could hold a match: a vendor token may hold
        // certificates of its own (the soft device answers a
        // certificate-class search without reading its rows).
        let mut handles = Vec::new();
        for owner in self.owners() {
            if owner.could_hold(template) {
                handles.extend(owner.find_objects(&access, template)?);
            }
        }
        self.with_session(handle, |session, _| {
            crate::session::ensure_idle(&session.search)?;
            session.search = Some(Search::new(handles));
            Ok(())
        })
    }

    /// `C_FindObjects`: at most `count` handles per call.
    pub fn find_next(&self, handle: CK_SESSION_HANDLE, count: usize) -> Result<Vec<Handle>> {
        self.with_session(handle, |session, _| {
            let search = session
                .search
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?;
            Ok(search.next(count).to_vec())
        })
    }

    /// `C_FindObjectsFinal`.
    pub fn find_final(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        self.with_session(handle, |session, _| {
            session
                .search
                .take()
                .ok_or(Error::OperationNotInitialized)?;
            Ok(())
        })
    }

    // ----- keys (§5.15, §5.16) -----

    fn key_handle(&self, key: Handle) -> Result<Handle> {
        if object::is_certificate_handle(key) {
            return Err(Error::KeyHandleInvalid);
        }
        Ok(key)
    }

    pub fn generate_key(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
        template: &Template,
    ) -> Result<Handle> {
        let access = self.access(handle)?;
        self.device.generate_key(&access, mechanism, template)
    }

    pub fn generate_key_pair(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
        public_template: &Template,
        private_template: &Template,
    ) -> Result<(Handle, Handle)> {
        let access = self.access(handle)?;
        self.device
            .generate_key_pair(&access, mechanism, public_template, private_template)
    }

    pub fn wrap_key(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
        wrapping_key: Handle,
        key: Handle,
    ) -> Result<Vec<u8>> {
        if object::is_certificate_handle(wrapping_key) {
            return Err(Error::WrappingKeyHandleInvalid);
        }
        let key = self.key_handle(key)?;
        let access = self.access(handle)?;
        self.device.wrap_key(&access, mechanism, wrapping_key, key)
    }

    pub fn unwrap_key(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
        unwrapping_key: Handle,
        wrapped: &[u8],
        template: &Template,
    ) -> Result<Handle> {
        if object::is_certificate_handle(unwrapping_key) {
            return Err(Error::UnwrappingKeyHandleInvalid);
        }
        let access = self.access(handle)?;
        self.device
            .unwrap_key(&access, mechanism, unwrapping_key, wrapped, template)
    }

    pub fn derive_key(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
        base_key: Handle,
        template: &Template,
    ) -> Result<Handle> {
        let base_key = self.key_handle(base_key)?;
        let access = self.access(handle)?;
        self.device
            .derive_key(&access, mechanism, base_key, template)
    }

    /// Checks a key handle for an operation's `*Init` call.
    pub fn operation_key(&self, key: Handle) -> Result<Handle> {
        self.key_handle(key)
    }
}
