//! PINs and the token key.
//!
//! The token key (32 random bytes) seals every piece of key material at
//! rest. It is never stored in clear: the database holds it sealed twice,
//! once under a key derived from the SO PIN and once under one derived from
//! the user PIN. Opening that seal is the PIN check, so no PIN and no PIN
//! hash is stored: a wrong PIN fails the AES-GCM tag.

use super::crypto;
use crate::error::{Error, Result};
use zeroize::Zeroizing;

/// Shortest PIN accepted (bytes).
pub const MIN_PIN_LEN: usize = 4;
/// Longest PIN accepted (bytes).
pub const MAX_PIN_LEN: usize = 255;

const SALT_LEN: usize = 16;
/// The PBKDF2 iteration counts a PIN record may carry: the range
/// `SOFT_KDF_ITERATIONS` accepts. A record outside it was not written by
/// this library and is refused rather than run (4 billion iterations would
/// hold a login for hours, one would make the PIN cheap to guess).
pub const KDF_ITERATIONS: std::ops::RangeInclusive<u32> = 1_000..=10_000_000;
/// Binds a record to its purpose, so a sealed blob of another kind never opens as one.
const RECORD_AAD: &[u8] = b"azcloudhsm-soft token key v1";

/// The key that seals key material at rest: wiped when dropped, and not
/// `Copy`, so every copy is one that is also wiped.
#[derive(Clone)]
pub struct TokenKey(Zeroizing<[u8; 32]>);

impl TokenKey {
    /// The key's bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Shows that a key is there, never the key.
impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// Checks a new PIN: 4..=255 bytes of UTF-8 (`user:password` included).
pub fn check_new_pin(pin: &[u8]) -> Result<()> {
    if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) {
        return Err(Error::PinLenRange);
    }
    if std::str::from_utf8(pin).is_err() {
        return Err(Error::PinInvalid);
    }
    Ok(())
}

/// A fresh random token key.
pub fn new_token_key() -> Result<TokenKey> {
    let mut key = Zeroizing::new([0u8; 32]);
    openssl::rand::rand_bytes(key.as_mut()).map_err(|_| Error::RandomNoRng)?;
    Ok(TokenKey(key))
}

/// Seals `token_key` under `pin`: `iterations (4 LE) || salt (16) || sealed key`.
/// The iteration count travels with the record so that changing the
/// configured count never locks anyone out of an existing token.
pub fn seal_token_key(token_key: &TokenKey, pin: &[u8], iterations: u32) -> Result<Vec<u8>> {
    let mut salt = [0u8; SALT_LEN];
    openssl::rand::rand_bytes(&mut salt).map_err(|_| Error::RandomNoRng)?;
    let pin_key = crypto::derive_pin_key(pin, &salt, iterations)?;
    let sealed = crypto::seal(&pin_key, token_key.bytes(), RECORD_AAD)?;
    let mut record = Vec::with_capacity(4 + SALT_LEN + sealed.len());
    record.extend_from_slice(&iterations.to_le_bytes());
    record.extend_from_slice(&salt);
    record.extend_from_slice(&sealed);
    Ok(record)
}

/// Opens a record with `pin`: `Ok(None)` when the PIN is wrong, an error
/// when the record itself is corrupt.
pub fn open_token_key(record: &[u8], pin: &[u8]) -> Result<Option<TokenKey>> {
    if record.len() < 4 + SALT_LEN {
        return Err(Error::DeviceError("corrupt PIN record".into()));
    }
    let (iterations, rest) = record.split_at(4);
    let (salt, sealed) = rest.split_at(SALT_LEN);
    let iterations = u32::from_le_bytes(
        iterations
            .try_into()
            .map_err(|_| Error::DeviceError("corrupt PIN record".into()))?,
    );
    if !KDF_ITERATIONS.contains(&iterations) {
        tracing::error!(
            "soft token: a PIN record asks for {iterations} PBKDF2 iterations, outside {}..={}; it is refused",
            KDF_ITERATIONS.start(),
            KDF_ITERATIONS.end()
        );
        return Err(Error::DeviceError(format!(
            "PIN record with {iterations} PBKDF2 iterations"
        )));
    }
    if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) {
        return Ok(None);
    }
    let pin_key = crypto::derive_pin_key(pin, salt, iterations)?;
    match crypto::open(&pin_key, sealed, RECORD_AAD) {
        Ok(plain) => {
            let key: [u8; 32] = plain
                .as_slice()
                .try_into()
                .map_err(|_| Error::DeviceError("corrupt token key".into()))?;
            Ok(Some(TokenKey(Zeroizing::new(key))))
        }
        Err(_) => Ok(None),
    }
}

/// A public fingerprint of the token key, stored with the token so that a
/// process still holding the key of a token re-initialised elsewhere
/// notices before sealing anything under it. The key is 32 random bytes,
/// so its hash reveals nothing usable.
pub fn key_check(token_key: &TokenKey) -> Vec<u8> {
    let mut input = Zeroizing::new(b"azcloudhsm-soft token key check v1".to_vec());
    input.extend_from_slice(token_key.bytes());
    openssl::sha::sha256(&input).to_vec()
}

/// Seals key material at rest, bound to the object's unique id so a
/// sealed value moved to another row does not open.
pub fn seal_material(token_key: &TokenKey, material: &[u8], unique_id: &[u8]) -> Result<Vec<u8>> {
    crypto::seal(token_key.bytes(), material, unique_id)
}

/// The inverse of [`seal_material`].
pub fn open_material(
    token_key: &TokenKey,
    sealed: &[u8],
    unique_id: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    crypto::open(token_key.bytes(), sealed, unique_id)
}
