//! Token state and PINs (PKCS#11 3.0 §5.5 C_InitToken, §5.6 C_InitPIN,
//! C_SetPIN, C_Login, C_Logout).
//!
//! Every check reads the token row afresh, so failures counted by another
//! process sharing the token directory count here too, and a PIN locked
//! anywhere is locked everywhere. A check is counted before its key
//! derivation runs (see `Database::begin_pin_attempt`), so concurrent wrong
//! PINs never get more tries than `PIN_MAX_FAILURES`.

use super::database::{PinAttempt, PinOwner, TokenRow};
use super::pins::{self, TokenKey};
use super::store::Inner;
use super::{crypto, SoftDevice};
use crate::device::{MechanismInfo, TokenControl, TokenDetails, TokenStatus, UserType};
use crate::error::{Error, Result};
use crate::object::Access;
use cryptoki_sys::{
    CKF_LOGIN_REQUIRED, CKF_RNG, CK_EFFECTIVELY_INFINITE, CK_SESSION_HANDLE,
    CK_UNAVAILABLE_INFORMATION,
};
use parking_lot::RwLock;

/// How long a PIN check waits for the checks that hold every remaining try.
const PIN_CHECK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The embedded token's own `CK_TOKEN_INFO` values: no session limit, no
/// memory figures, and the library's version for hardware and firmware.
fn embedded_details() -> TokenDetails {
    TokenDetails {
        manufacturer: "azcloudhsm-pkcs11".to_string(),
        model: "soft device".to_string(),
        other_flags: CKF_RNG | CKF_LOGIN_REQUIRED,
        max_session_count: CK_EFFECTIVELY_INFINITE,
        max_rw_session_count: CK_EFFECTIVELY_INFINITE,
        total_public_memory: CK_UNAVAILABLE_INFORMATION,
        free_public_memory: CK_UNAVAILABLE_INFORMATION,
        total_private_memory: CK_UNAVAILABLE_INFORMATION,
        free_private_memory: CK_UNAVAILABLE_INFORMATION,
        hardware_version: crate::device::package_version(),
        firmware_version: crate::device::package_version(),
        utc_time: String::new(),
    }
}

fn owner_of(user: UserType) -> PinOwner {
    match user {
        UserType::SecurityOfficer => PinOwner::SecurityOfficer,
        UserType::User => PinOwner::User,
    }
}

/// The token key while a login holds it open, and which PIN opened it.
/// Who is logged in is the provider's to know (the device is told of a
/// logout); the token knows only which of its PINs opened the key, as a
/// vendor token knows the state of its sessions.
#[derive(Default)]
pub(super) struct OpenTokenKey(RwLock<Option<(PinOwner, TokenKey)>>);

impl OpenTokenKey {
    /// Keeps the token key `owner`'s PIN opened.
    fn open(&self, owner: PinOwner, token_key: TokenKey) {
        *self.0.write() = Some((owner, token_key));
    }

    /// Forgets the token key.
    pub(super) fn close(&self) {
        *self.0.write() = None;
    }

    /// The token key, or `UserNotLoggedIn` when no PIN has opened it.
    fn get(&self) -> Result<TokenKey> {
        let open = self.0.read();
        open.as_ref()
            .map(|(_, token_key)| token_key.clone())
            .ok_or(Error::UserNotLoggedIn)
    }

    /// Whose PIN opened the token key, while it is open.
    fn opened_by(&self) -> Option<PinOwner> {
        self.0.read().as_ref().map(|(owner, _)| *owner)
    }
}

impl Inner {
    /// The token key, or `UserNotLoggedIn` when no PIN has opened it.
    pub(super) fn require_token_key(&self) -> Result<TokenKey> {
        self.token_key.get()
    }

    /// Fails with `UserNotLoggedIn` unless the token key is open and the
    /// normal user's PIN opened it: the keys' owner, not the SO, signs
    /// with them.
    pub(super) fn require_user_pin(&self) -> Result<()> {
        match self.token_key.opened_by() {
            Some(PinOwner::User) => Ok(()),
            _ => Err(Error::UserNotLoggedIn),
        }
    }

    /// The token key for sealing new material: the unlocked key, if it is
    /// still the token's (another process may have re-initialised the token,
    /// and material sealed under the old key would be lost to everyone else).
    pub(super) fn sealing_key(&self) -> Result<TokenKey> {
        let token_key = self.require_token_key()?;
        if self.database.token()?.key_check != Some(pins::key_check(&token_key)) {
            tracing::warn!("soft token: re-initialised by another process; log in again");
            self.forget_keys();
            return Err(Error::UserNotLoggedIn);
        }
        Ok(token_key)
    }

    /// Checks `pin` for `owner` against the stored record, counting a
    /// failure or resetting the counter, and returns the token key.
    fn check_pin(&self, row: &TokenRow, owner: PinOwner, pin: &[u8]) -> Result<TokenKey> {
        let (record, failures) = match owner {
            PinOwner::SecurityOfficer => (&row.so_pin, row.so_failures),
            PinOwner::User => (&row.user_pin, row.user_failures),
        };
        let record = record.as_deref().ok_or(match owner {
            PinOwner::SecurityOfficer => Error::TokenNotRecognized,
            PinOwner::User => Error::UserPinNotInitialized,
        })?;
        if failures >= self.options.max_pin_failures {
            return Err(Error::PinLocked);
        }
        let attempt = self.count_attempt(owner)?;
        let opened = pins::open_token_key(record, pin);
        let correct = matches!(opened, Ok(Some(_)));
        let failures = self.database.end_pin_attempt(owner, attempt, correct)?;
        match opened? {
            Some(token_key) => Ok(token_key),
            None => {
                tracing::info!("soft token: wrong PIN ({failures} consecutive failures)");
                Err(Error::PinIncorrect)
            }
        }
    }

    /// Counts a PIN check as a failure before the slow key derivation
    /// runs, waiting while other checks hold every remaining try. A count
    /// that cannot be stored fails the check.
    fn count_attempt(&self, owner: PinOwner) -> Result<i64> {
        let started = std::time::Instant::now();
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs() as i64);
            match self
                .database
                .begin_pin_attempt(owner, self.options.max_pin_failures, now)?
            {
                PinAttempt::Counted(attempt) => return Ok(attempt),
                PinAttempt::Locked => return Err(Error::PinLocked),
                PinAttempt::Busy if started.elapsed() < PIN_CHECK_WAIT => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                PinAttempt::Busy => {
                    tracing::warn!(
                        "soft token: PIN checks of other sessions hold every remaining try"
                    );
                    return Err(Error::Busy("PIN checks of other sessions did not end"));
                }
            }
        }
    }

    fn initialized_row(&self) -> Result<TokenRow> {
        let row = self.database.token()?;
        if !row.initialized {
            return Err(Error::TokenNotRecognized);
        }
        Ok(row)
    }
}

impl TokenControl for SoftDevice {
    /// `CK_TOKEN_INFO` as the token row says now.
    fn token_status(&self) -> Result<TokenStatus> {
        let inner = &*self.inner;
        let row = match inner.database.token() {
            Ok(row) => row,
            Err(error) => {
                tracing::warn!("soft token: cannot read token state: {error}");
                return Ok(TokenStatus {
                    min_pin_len: pins::MIN_PIN_LEN,
                    max_pin_len: pins::MAX_PIN_LEN,
                    ..TokenStatus::default()
                });
            }
        };
        let max = inner.options.max_pin_failures;
        let flags = |failures: u32| {
            (
                failures > 0 && failures < max,
                failures + 1 == max,
                failures >= max,
            )
        };
        let (user_pin_count_low, user_pin_final_try, user_pin_locked) = flags(row.user_failures);
        let (so_pin_count_low, so_pin_final_try, so_pin_locked) = flags(row.so_failures);
        Ok(TokenStatus {
            label: row.label,
            serial: row.serial,
            initialized: row.initialized,
            user_pin_initialized: row.user_pin.is_some(),
            user_pin_count_low,
            user_pin_final_try,
            user_pin_locked,
            so_pin_count_low,
            so_pin_final_try,
            so_pin_locked,
            min_pin_len: pins::MIN_PIN_LEN,
            max_pin_len: pins::MAX_PIN_LEN,
            details: embedded_details(),
        })
    }

    /// Initialises the token, or re-initialises it with the right SO PIN:
    /// every object goes, the user PIN is cleared, a new token key replaces
    /// the old one (so the device's blob-signing key is new too, and blobs
    /// signed by the old one stop verifying).
    fn init_token(&self, so_pin: &[u8], label: &str) -> Result<()> {
        let inner = &*self.inner;
        let row = inner.database.token()?;
        if row.initialized {
            inner.check_pin(&row, PinOwner::SecurityOfficer, so_pin)?;
        } else {
            pins::check_new_pin(so_pin)?;
        }
        let token_key = pins::new_token_key()?;
        let so_record = pins::seal_token_key(&token_key, so_pin, inner.options.kdf_iterations)?;
        inner
            .database
            .initialize(label, &so_record, &pins::key_check(&token_key))?;
        inner.forget_keys();
        inner.forget_objects();
        inner.forget_signing_key();
        Ok(())
    }

    /// Checks `user`'s PIN and keeps the token key it opens.
    fn login(&self, _session: CK_SESSION_HANDLE, user: UserType, pin: &[u8]) -> Result<()> {
        let inner = &*self.inner;
        let row = inner.initialized_row()?;
        let owner = owner_of(user);
        let token_key = inner.check_pin(&row, owner, pin)?;
        // A token of an earlier version: its keys get their attributes
        // bound now, and the signing key its public half. Neither failure
        // stops the login: the keys concerned stay unusable, and say so.
        match inner.bind_sealed_keys(&token_key) {
            Ok(0) => {}
            Ok(bound) => tracing::info!(
                "soft token: bound the attributes of {bound} keys to their sealed values"
            ),
            Err(error) => tracing::warn!("soft token: cannot bind key attributes now: {error}"),
        }
        if let Err(error) = inner.bind_signing_key(&token_key) {
            tracing::warn!("soft token: blob-signing key: {error}");
        }
        inner.token_key.open(owner, token_key);
        Ok(())
    }

    /// Forgets the token key and every parsed private or secret key, and
    /// destroys private session objects, as SoftHSM does.
    fn logout(&self) {
        self.inner.forget_keys();
        self.inner.drop_private_session_objects();
    }

    fn close_session(&self, session: CK_SESSION_HANDLE) {
        self.inner.close_session(session)
    }

    fn mechanisms(&self) -> Vec<MechanismInfo> {
        crypto::mechanism_infos()
    }

    fn generate_random(&self, _access: &Access, out: &mut [u8]) -> Result<()> {
        openssl::rand::rand_bytes(out).map_err(|_| Error::RandomNoRng)
    }

    /// Sets the user PIN; the SO is logged in, so the token key is open.
    fn init_pin(&self, _session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let inner = &*self.inner;
        inner.initialized_row()?;
        pins::check_new_pin(pin)?;
        let token_key = inner.require_token_key()?;
        let record = pins::seal_token_key(&token_key, pin, inner.options.kdf_iterations)?;
        inner.database.set_pin_record(PinOwner::User, &record)
    }

    /// Changes `user`'s PIN after checking the old one (a wrong old PIN
    /// counts as a failed login).
    fn set_pin(
        &self,
        _session: CK_SESSION_HANDLE,
        user: UserType,
        old_pin: &[u8],
        new_pin: &[u8],
    ) -> Result<()> {
        let inner = &*self.inner;
        let row = inner.initialized_row()?;
        let owner = owner_of(user);
        let token_key = inner.check_pin(&row, owner, old_pin)?;
        pins::check_new_pin(new_pin)?;
        let record = pins::seal_token_key(&token_key, new_pin, inner.options.kdf_iterations)?;
        inner.database.set_pin_record(owner, &record)
    }
}
