//! The login state shared by every session of the application, and the
//! rules of PKCS#11 3.0 §5.6 (`C_Login`, `C_Logout`, `C_InitPIN`,
//! `C_SetPIN`) that depend on it. This is the one record of who is logged
//! in: the device keeps only what a PIN unlocked, and learns of a logout
//! through `Device::logout`.

use super::sessions::SessionTable;
use crate::device::{Device, UserType};
use crate::error::{Error, Result};
use crate::object::Access;
use crate::session::Session;
use cryptoki_sys::CK_SESSION_HANDLE;
use parking_lot::{Mutex, RwLock};

/// Who is logged in, and the lock that serialises logins with logouts.
#[derive(Default)]
pub(super) struct LoginState {
    /// Serialises `C_Login` (while its PIN check runs outside `user`) with
    /// `C_Logout` and the logout of closing the last session.
    attempt: Mutex<()>,
    /// The logged-in user type, read by every session call.
    user: RwLock<Option<UserType>>,
}

impl LoginState {
    /// The caller's access rights in session `handle`. The login state is
    /// read before the session is locked: [`LoginState::login`] holds the
    /// login lock while it looks at the session table, so the two locks
    /// are always taken in this order.
    pub(super) fn access(&self, handle: CK_SESSION_HANDLE, read_write: bool) -> Access {
        let user = *self.user.read();
        Access {
            user: user == Some(UserType::User),
            so: user == Some(UserType::SecurityOfficer),
            read_write,
            session: handle,
        }
    }

    /// Runs `open` (which puts a new session in the table) under the login
    /// lock, so that an SO login cannot slip in between the check and the
    /// insert: §5.6, no R/O session while the SO is logged in
    /// (`CKR_SESSION_READ_WRITE_SO_EXISTS`).
    pub(super) fn admit_session<T>(&self, read_write: bool, open: impl FnOnce() -> T) -> Result<T> {
        let user = self.user.read();
        if !read_write && *user == Some(UserType::SecurityOfficer) {
            return Err(Error::SessionReadWriteSoExists);
        }
        Ok(open())
    }

    /// `C_Login` of `user` with `pin`, checked by `device` through session
    /// `handle`.
    ///
    /// The PIN check (a slow key derivation) runs under the login attempt
    /// only: the login lock, which every session call reads, is taken just
    /// to check the state and to publish the new one, so a login never
    /// stalls the other sessions' operations.
    pub(super) fn login(
        &self,
        sessions: &SessionTable,
        device: &dyn Device,
        handle: CK_SESSION_HANDLE,
        user: UserType,
        pin: &[u8],
    ) -> Result<()> {
        let _attempt = self.attempt.lock();
        check_login_allowed(user, &self.user.read(), sessions)?;
        device.login(handle, user, pin)?;
        let mut current = self.user.write();
        // Sessions opened during the PIN check: `admit_session` inserts
        // under the login lock, so this second look is final.
        if let Err(error) = check_login_allowed(user, &current, sessions) {
            drop(current);
            device.logout();
            return Err(error);
        }
        *current = Some(user);
        Ok(())
    }

    /// `C_Logout`: `CKR_USER_NOT_LOGGED_IN` when no one is logged in.
    pub(super) fn logout(&self, sessions: &SessionTable, device: &dyn Device) -> Result<()> {
        if self.user.read().is_none() {
            return Err(Error::UserNotLoggedIn);
        }
        self.end(sessions, device);
        Ok(())
    }

    /// Ends the login, if any: the device forgets what the PIN unlocked,
    /// and every session's cryptographic operations end (their keys may
    /// have become unusable).
    pub(super) fn end(&self, sessions: &SessionTable, device: &dyn Device) {
        // Serialised with C_Login: a logout between a login's PIN check and
        // its publishing of the state would otherwise close the device's
        // login under a provider that then reports "logged in".
        let _attempt = self.attempt.lock();
        let was = self.user.write().take();
        if was.is_some() {
            device.logout();
            for session in sessions.states() {
                session.lock().cancel_operations();
            }
        }
    }
}

/// §5.6 C_Login: one user type at a time, and the SO only when every
/// session is R/W.
fn check_login_allowed(
    user: UserType,
    current: &Option<UserType>,
    sessions: &SessionTable,
) -> Result<()> {
    match *current {
        Some(current) if current == user => return Err(Error::UserAlreadyLoggedIn),
        Some(_) => return Err(Error::UserAnotherAlreadyLoggedIn),
        None => {}
    }
    if user == UserType::SecurityOfficer && sessions.any_read_only() {
        return Err(Error::SessionReadOnlyExists);
    }
    Ok(())
}

/// `C_Login` with `CKU_CONTEXT_SPECIFIC`: allowed only for the operation
/// just initialised in `session`, by the logged-in user. "Improper use of
/// this user type will result in a return value
/// CKR_OPERATION_NOT_INITIALIZED" (PKCS#11 3.0 §5.6).
pub(super) fn check_context_specific(session: &Session, access: &Access) -> Result<()> {
    if !session.has_cryptographic_operation() {
        return Err(Error::OperationNotInitialized);
    }
    if !access.user {
        return Err(Error::UserNotLoggedIn);
    }
    Ok(())
}

/// `C_InitPIN`: the SO, in a R/W session. A R/O session is refused as such
/// (`CKR_SESSION_READ_ONLY`) whoever is logged in: the SO can never be
/// logged in while one exists, so "not the SO" would misname the problem.
pub(super) fn check_init_pin(access: &Access) -> Result<()> {
    if !access.read_write {
        return Err(Error::SessionReadOnly);
    }
    if !access.so {
        return Err(Error::UserNotLoggedIn);
    }
    Ok(())
}

/// `C_SetPIN`: in a R/W session, for the logged-in user type (the normal
/// user's when no one is logged in); returns whose PIN changes.
pub(super) fn set_pin_owner(access: &Access) -> Result<UserType> {
    if !access.read_write {
        return Err(Error::SessionReadOnly);
    }
    Ok(if access.so {
        UserType::SecurityOfficer
    } else {
        UserType::User
    })
}
