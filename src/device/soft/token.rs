//! Token state and PINs (PKCS#11 3.0 §5.5 C_InitToken, §5.6 C_InitPIN,
//! C_SetPIN, C_Login, C_Logout).
//!
//! Every check reads the token row afresh, so failures counted by another
//! process sharing the token directory count here too, and a PIN locked
//! anywhere is locked everywhere. A check is counted before its key
//! derivation runs (see `Database::begin_pin_attempt`), so concurrent wrong
//! PINs never get more tries than `PIN_MAX_FAILURES`.

use super::database::{Database, PinAttempt, PinOwner, TokenRow};
use super::pins::{self, TokenKey};
use super::{crypto, SoftDevice, SoftOptions};
use crate::device::{MechanismInfo, PinChange, TokenControl, TokenDetails, TokenStatus, UserType};
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
/// The model says whether only FIPS 140-3 approved functions are offered.
fn embedded_details(fips_approved_only: bool) -> TokenDetails {
    TokenDetails {
        manufacturer: "azcloudhsm-pkcs11".to_string(),
        model: if fips_approved_only {
            "soft device FIPS"
        } else {
            "soft device"
        }
        .to_string(),
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

/// Token and PINs: the PIN settings, and the token key while a login
/// holds it open with which PIN opened it. Who is logged in is the
/// provider's to know (the device is told of a logout); the token knows
/// only which of its PINs opened the key, as a vendor token knows the
/// state of its sessions.
pub(super) struct TokenPins {
    max_failures: u32,
    kdf_iterations: u32,
    open: RwLock<Option<(PinOwner, TokenKey)>>,
}

impl TokenPins {
    /// The PIN settings of `options`, the token key closed.
    pub(super) fn new(options: &SoftOptions) -> Self {
        TokenPins {
            max_failures: options.max_pin_failures,
            kdf_iterations: options.kdf_iterations,
            open: RwLock::new(None),
        }
    }

    /// Keeps the token key `owner`'s PIN opened.
    fn open(&self, owner: PinOwner, token_key: TokenKey) {
        *self.open.write() = Some((owner, token_key));
    }

    /// Forgets the token key.
    pub(super) fn close(&self) {
        *self.open.write() = None;
    }

    /// The token key, or `UserNotLoggedIn` when no PIN has opened it.
    pub(super) fn token_key(&self) -> Result<TokenKey> {
        let open = self.open.read();
        open.as_ref()
            .map(|(_, token_key)| token_key.clone())
            .ok_or(Error::UserNotLoggedIn)
    }

    /// Fails with `UserNotLoggedIn` unless the token key is open and the
    /// normal user's PIN opened it: the keys' owner, not the SO, signs
    /// with them.
    pub(super) fn require_user_pin(&self) -> Result<()> {
        match self.open.read().as_ref() {
            Some((PinOwner::User, _)) => Ok(()),
            _ => Err(Error::UserNotLoggedIn),
        }
    }

    /// `token_key` sealed under a new `pin`, as the PIN record stores it.
    fn record_for(&self, token_key: &TokenKey, pin: &[u8]) -> Result<Vec<u8>> {
        pins::seal_token_key(token_key, pin, self.kdf_iterations)
    }

    /// `CK_TOKEN_INFO`'s count-low, final-try and locked flags for
    /// `failures` consecutive wrong PINs.
    fn failure_flags(&self, failures: u32) -> (bool, bool, bool) {
        let max = self.max_failures;
        (
            failures > 0 && failures < max,
            failures + 1 == max,
            failures >= max,
        )
    }

    /// Checks `pin` for `owner` against the stored record, counting a
    /// failure or resetting the counter, and returns the token key.
    fn check_pin(
        &self,
        database: &Database,
        row: &TokenRow,
        owner: PinOwner,
        pin: &[u8],
    ) -> Result<TokenKey> {
        let (record, failures) = match owner {
            PinOwner::SecurityOfficer => (&row.so_pin, row.so_failures),
            PinOwner::User => (&row.user_pin, row.user_failures),
        };
        let record = record.as_deref().ok_or(match owner {
            PinOwner::SecurityOfficer => Error::TokenNotRecognized,
            PinOwner::User => Error::UserPinNotInitialized,
        })?;
        if failures >= self.max_failures {
            return Err(Error::PinLocked);
        }
        let attempt = self.count_attempt(database, owner)?;
        let opened = pins::open_token_key(record, pin);
        let correct = matches!(opened, Ok(Some(_)));
        let failures = database.end_pin_attempt(owner, attempt, correct)?;
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
    fn count_attempt(&self, database: &Database, owner: PinOwner) -> Result<i64> {
        let started = std::time::Instant::now();
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs() as i64);
            match database.begin_pin_attempt(owner, self.max_failures, now)? {
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
}

/// The token row, `TokenNotRecognized` while the token is not initialised.
fn initialized_row(database: &Database) -> Result<TokenRow> {
    let row = database.token()?;
    if !row.initialized {
        return Err(Error::TokenNotRecognized);
    }
    Ok(row)
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
        let (user_pin_count_low, user_pin_final_try, user_pin_locked) =
            inner.pins.failure_flags(row.user_failures);
        let (so_pin_count_low, so_pin_final_try, so_pin_locked) =
            inner.pins.failure_flags(row.so_failures);
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
            details: embedded_details(inner.fips_approved_only),
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
            (inner.pins).check_pin(&inner.database, &row, PinOwner::SecurityOfficer, so_pin)?;
        } else {
            pins::check_new_pin(so_pin)?;
        }
        let token_key = pins::new_token_key()?;
        let so_record = inner.pins.record_for(&token_key, so_pin)?;
        inner
            .database
            .initialize(label, &so_record, &pins::key_check(&token_key))?;
        inner.forget_keys();
        inner.forget_objects();
        Ok(())
    }

    /// Checks `user`'s PIN and keeps the token key it opens.
    fn login(&self, _session: CK_SESSION_HANDLE, user: UserType, pin: &[u8]) -> Result<()> {
        let inner = &*self.inner;
        let row = initialized_row(&inner.database)?;
        let owner = owner_of(user);
        let token_key = inner.pins.check_pin(&inner.database, &row, owner, pin)?;
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
        inner.pins.open(owner, token_key);
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

    /// Every mechanism, or with `FIPS_APPROVED_ONLY` what the policy
    /// leaves of each ([`crypto::fips::restrict`]).
    fn mechanisms(&self) -> Vec<MechanismInfo> {
        let all = crypto::mechanism_infos();
        if !self.inner.fips_approved_only {
            return all;
        }
        all.into_iter().filter_map(crypto::fips::restrict).collect()
    }

    fn generate_random(&self, _access: &Access, out: &mut [u8]) -> Result<()> {
        openssl::rand::rand_bytes(out).map_err(|_| Error::RandomNoRng)
    }

    /// Mixes `seed` into the generator as additional input; the generator
    /// keeps drawing on the operating system's entropy, so no seed makes
    /// it weaker or predictable.
    fn seed_random(&self, _access: &Access, seed: &[u8]) -> Result<bool> {
        crate::ffi::openssl::mix_into_generator(seed);
        Ok(true)
    }

    /// Sets the user PIN; the SO is logged in, so the token key is open.
    fn init_pin(&self, _session: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let inner = &*self.inner;
        initialized_row(&inner.database)?;
        pins::check_new_pin(pin)?;
        let token_key = inner.pins.token_key()?;
        let record = inner.pins.record_for(&token_key, pin)?;
        inner.database.set_pin_record(PinOwner::User, &record)
    }

    /// Changes `user`'s PIN after checking the old one (a wrong old PIN
    /// counts as a failed login).
    fn set_pin(&self, _session: CK_SESSION_HANDLE, change: PinChange<'_>) -> Result<()> {
        let inner = &*self.inner;
        let row = initialized_row(&inner.database)?;
        let owner = owner_of(change.user);
        let token_key = (inner.pins).check_pin(&inner.database, &row, owner, change.old_pin)?;
        pins::check_new_pin(change.new_pin)?;
        let record = inner.pins.record_for(&token_key, change.new_pin)?;
        inner.database.set_pin_record(owner, &record)
    }
}
