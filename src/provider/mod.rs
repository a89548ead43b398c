//! The initialised library, opened from the configuration: the device, the certificate
//! store, the session table and the login state shared by all sessions.
//!
//! Everything here speaks Rust; `ffi/` converts arguments and results.
//! [`Provider`] composes one part per job,
//! each with its own state and lock:
//!
//! - `sessions`: the session table (`sessions::SessionTable`), which
//!   sessions are open and whether each is R/W;
//! - `login`: the login state (`login::LoginState`), the one record of
//!   who is logged in, and the §5.6 rules that depend on it;
//! - `objects`: the owners of objects (`objects::Objects`, the device and
//!   the certificate store), the one place a handle or a template is routed,
//!   and the object functions of §5.7;
//! - `operations`: the cryptographic operations of a session (§5.8 to
//!   §5.16), driven through [`crate::session`].
//!
//! `lifecycle` holds the process's provider (`C_Initialize`, `C_Finalize`,
//! forks).
//!
//! # Lock order
//!
//! Written once, in `docs/architecture.md` ("Locks"): the global provider
//! slot, the login attempt, the login state, the session table, one
//! session's mutex, then the device's and the certificate store's own
//! locks, never the reverse, and none of them across I/O or a PIN's key
//! derivation except the login attempt.

use crate::certstore::Certificates;
use crate::config::Config;
use crate::device::{Device, MechanismInfo, TokenStatus, UserType};
use crate::error::{Error, Result};
use crate::object::Access;
use crate::session::Session;
use cryptoki_sys::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock as StdRwLock};

/// The one slot, ID 1, as the Azure Cloud HSM SDK's samples hard-code it.
pub(crate) const SLOT_ID: CK_SLOT_ID = 1;

mod lifecycle;
mod login;
mod messages;
mod objects;
mod operations;
mod sessions;

pub(crate) use lifecycle::{after_fork, prepare_fork};
pub(crate) use lifecycle::{finalize, forked_child, initialize, provider, untrack_forks};
pub(crate) use messages::{MessageCipher, MessageParameter, MessageResult};
pub(crate) use operations::{Absorbing, Finishing, KeyOperation};

/// The state of the initialised library.
pub(crate) struct Provider {
    objects: objects::Objects,
    sessions: sessions::SessionTable,
    login: login::LoginState,
}

/// The session information `C_GetSessionInfo` reports.
pub(crate) struct SessionInfo {
    pub state: CK_STATE,
    pub flags: CK_FLAGS,
}

/// The token information plus the session counts.
pub(crate) struct TokenInfo {
    pub status: TokenStatus,
    pub session_count: usize,
    pub read_write_session_count: usize,
}

impl Provider {
    fn open(may_create_threads: bool) -> Result<Provider> {
        let config = Config::load().map_err(|e| {
            crate::logging::init_default();
            tracing::error!("configuration: {e}");
            Error::Configuration(e.to_string())
        })?;
        crate::logging::init(&config);
        tracing::info!(source = ?config.source, "initialising");
        let device = crate::backends::open_device(&config, may_create_threads)?;
        let certificates =
            crate::backends::open_certificates(&config, device.clone(), may_create_threads)?;
        Ok(Provider {
            objects: objects::Objects::new(device, certificates),
            sessions: sessions::SessionTable::default(),
            login: login::LoginState::default(),
        })
    }

    fn device(&self) -> &dyn Device {
        self.objects.device()
    }

    fn certificates(&self) -> &Certificates {
        self.objects.certificates()
    }

    // ----- slot and token -----

    /// Fails with `CKR_SLOT_ID_INVALID` for any slot but [`SLOT_ID`].
    pub(crate) fn check_slot(&self, slot: CK_SLOT_ID) -> Result<()> {
        if slot != SLOT_ID {
            return Err(Error::SlotIdInvalid);
        }
        Ok(())
    }

    /// `C_GetTokenInfo`: the device's token and the session counts.
    pub(crate) fn token_info(&self, slot: CK_SLOT_ID) -> Result<TokenInfo> {
        self.check_slot(slot)?;
        let (session_count, read_write_session_count) = self.sessions.counts();
        let status = self.device().token_status()?;
        Ok(TokenInfo {
            status,
            session_count,
            read_write_session_count,
        })
    }

    /// `C_GetMechanismList`.
    pub(crate) fn mechanisms(&self, slot: CK_SLOT_ID) -> Result<Vec<MechanismInfo>> {
        self.check_slot(slot)?;
        let mut mechanisms = self.device().mechanisms();
        // The message-based API (`messages.rs`) runs on the device's
        // single-part AES-GCM, whatever the device.
        for info in &mut mechanisms {
            if info.kind == CKM_AES_GCM && info.flags & (CKF_ENCRYPT | CKF_DECRYPT) != 0 {
                if info.flags & CKF_ENCRYPT != 0 {
                    info.flags |= CKF_MESSAGE_ENCRYPT;
                }
                if info.flags & CKF_DECRYPT != 0 {
                    info.flags |= CKF_MESSAGE_DECRYPT;
                }
                info.flags |= CKF_MULTI_MESSAGE;
            }
        }
        Ok(mechanisms)
    }

    /// `C_GetMechanismInfo`.
    pub(crate) fn mechanism_info(
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
    pub(crate) fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &str) -> Result<()> {
        self.check_slot(slot)?;
        self.sessions
            .while_empty(|| self.device().init_token(so_pin, label))?;
        // The device's blob-signing key is new: nothing verified or
        // signed with the old one may be used again.
        self.certificates().forget_keys();
        Ok(())
    }

    // ----- sessions -----

    /// `C_OpenSession`.
    pub(crate) fn open_session(
        &self,
        slot: CK_SLOT_ID,
        flags: CK_FLAGS,
    ) -> Result<CK_SESSION_HANDLE> {
        self.check_slot(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        let read_write = flags & CKF_RW_SESSION != 0;
        self.login.admit_session(read_write, || ())?;
        let handle = sessions::new_handle();
        // The device opens its side of the session with no lock held (a
        // vendor module may take its time); the check is then repeated
        // with the insert, under the login lock.
        self.device().open_session(handle, read_write)?;
        let admitted = self
            .login
            .admit_session(read_write, || self.sessions.insert(handle, read_write));
        if let Err(error) = admitted {
            self.device().close_session(handle);
            return Err(error);
        }
        Ok(handle)
    }

    /// `C_CloseSession`. Closing the last session logs the user out.
    pub(crate) fn close_session(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        let now_empty = self.sessions.remove(handle)?;
        self.device().close_session(handle);
        self.certificates().close_session(handle);
        if now_empty {
            self.login.end(&self.sessions, self.device());
        }
        Ok(())
    }

    /// `C_CloseAllSessions`.
    pub(crate) fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        self.check_slot(slot)?;
        self.close_all_sessions_internal();
        Ok(())
    }

    fn close_all_sessions_internal(&self) {
        for handle in self.sessions.remove_all() {
            self.device().close_session(handle);
            self.certificates().close_session(handle);
        }
        self.login.end(&self.sessions, self.device());
    }

    /// Fails with `CKR_SESSION_HANDLE_INVALID` unless `handle` is open.
    pub(crate) fn check_session(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        self.sessions.get(handle).map(|_| ())
    }

    /// The caller's access rights in session `handle`, without locking the
    /// session: object calls need only these, and may block on the
    /// certificate store or the device, which must never happen under a
    /// session's lock (a `C_Logout` or `C_CloseSession` from another thread
    /// would wait behind it).
    pub(crate) fn access(&self, handle: CK_SESSION_HANDLE) -> Result<Access> {
        let entry = self.sessions.get(handle)?;
        Ok(self.login.access(handle, entry.read_write()))
    }

    /// Runs `f` on the session with the caller's access rights. `f` holds
    /// the session's lock: it must not block on I/O (use [`Provider::access`]).
    pub(crate) fn with_session<T>(
        &self,
        handle: CK_SESSION_HANDLE,
        f: impl FnOnce(&mut Session, &Access) -> Result<T>,
    ) -> Result<T> {
        let entry = self.sessions.get(handle)?;
        let access = self.login.access(handle, entry.read_write());
        let mut session = entry.state().lock();
        f(&mut session, &access)
    }

    /// `C_GetSessionInfo`.
    pub(crate) fn session_info(&self, handle: CK_SESSION_HANDLE) -> Result<SessionInfo> {
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
    /// session of the application (see `login::LoginState::login`).
    pub(crate) fn login(
        &self,
        handle: CK_SESSION_HANDLE,
        user_type: CK_USER_TYPE,
        pin: &[u8],
    ) -> Result<()> {
        let user = match user_type {
            CKU_SO => UserType::SecurityOfficer,
            CKU_USER => UserType::User,
            CKU_CONTEXT_SPECIFIC => {
                return self.with_session(handle, |session, access| {
                    login::check_context_specific(session, access)?;
                    self.device().login_context_specific(handle, pin)
                })
            }
            _ => {
                self.check_session(handle)?;
                return Err(Error::UserTypeInvalid);
            }
        };
        self.check_session(handle)?;
        self.login
            .login(&self.sessions, self.device(), handle, user, pin)
    }

    /// `C_Logout`.
    pub(crate) fn logout(&self, handle: CK_SESSION_HANDLE) -> Result<()> {
        self.check_session(handle)?;
        self.login.logout(&self.sessions, self.device())
    }

    /// `C_InitPIN`: the SO, in a R/W session, sets the user's PIN.
    pub(crate) fn init_pin(&self, handle: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        self.with_session(handle, |_, access| {
            login::check_init_pin(access)?;
            self.device().init_pin(handle, pin)
        })
    }

    /// `C_SetPIN`: changes the PIN of the logged-in user (the user's when no one is logged in).
    pub(crate) fn set_pin(
        &self,
        handle: CK_SESSION_HANDLE,
        old_pin: &[u8],
        new_pin: &[u8],
    ) -> Result<()> {
        self.with_session(handle, |_, access| {
            let user = login::set_pin_owner(access)?;
            let change = crate::device::PinChange {
                user,
                old_pin,
                new_pin,
            };
            self.device().set_pin(handle, change)
        })
    }
}
