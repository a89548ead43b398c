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
        return Err(Error::CorruptTokenData("corrupt PIN record".into()));
    }
    let (iterations, rest) = record.split_at(4);
    let (salt, sealed) = rest.split_at(SALT_LEN);
    let iterations = u32::from_le_bytes(
        iterations
            .try_into()
            .map_err(|_| Error::CorruptTokenData("corrupt PIN record".into()))?,
    );
    if !KDF_ITERATIONS.contains(&iterations) {
        tracing::error!(
            "soft token: a PIN record asks for {iterations} PBKDF2 iterations, outside {}..={}; it is refused",
            KDF_ITERATIONS.start(),
            KDF_ITERATIONS.end()
        );
        return Err(Error::CorruptTokenData(format!(
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
                .map_err(|_| Error::CorruptTokenData("corrupt token key".into()))?;
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

/// Marks material sealed with its attributes bound ([`material_aad`]);
/// material sealed before that (bound to the unique id alone) has no mark
/// and is sealed again, bound, at the next login (`Inner::bind_sealed_keys`).
pub const BOUND_SEAL: &[u8; 4] = b"azk2";

/// The attributes of a private or secret key that are bound to its sealed
/// value: who it is, what it is, who may see it, what it may do, and how it
/// may leave. Changing any of them in the database (flipping
/// `CKA_SENSITIVE`, widening `CKA_ALLOWED_MECHANISMS`, cloning the row under
/// new attributes) makes the value fail to open: the key becomes unusable,
/// never readable. `CKA_PUBLIC_KEY_INFO` binds a private key's public half,
/// which is what verifies certificate blobs when the key signs them. A
/// trusted public token key has no secret to seal: it gets an empty value
/// sealed with these attributes (an attestation, `Inner::is_trusted`), so
/// `CKA_TRUSTED` set in the database alone trusts nothing.
pub const BOUND_ATTRIBUTES: &[cryptoki_sys::CK_ATTRIBUTE_TYPE] = &[
    cryptoki_sys::CKA_UNIQUE_ID,
    cryptoki_sys::CKA_CLASS,
    cryptoki_sys::CKA_KEY_TYPE,
    cryptoki_sys::CKA_TOKEN,
    cryptoki_sys::CKA_PRIVATE,
    cryptoki_sys::CKA_MODIFIABLE,
    cryptoki_sys::CKA_COPYABLE,
    cryptoki_sys::CKA_DESTROYABLE,
    cryptoki_sys::CKA_SENSITIVE,
    cryptoki_sys::CKA_EXTRACTABLE,
    cryptoki_sys::CKA_ALWAYS_SENSITIVE,
    cryptoki_sys::CKA_NEVER_EXTRACTABLE,
    cryptoki_sys::CKA_ALWAYS_AUTHENTICATE,
    cryptoki_sys::CKA_TRUSTED,
    cryptoki_sys::CKA_WRAP_WITH_TRUSTED,
    cryptoki_sys::CKA_ENCRYPT,
    cryptoki_sys::CKA_DECRYPT,
    cryptoki_sys::CKA_SIGN,
    cryptoki_sys::CKA_VERIFY,
    cryptoki_sys::CKA_SIGN_RECOVER,
    cryptoki_sys::CKA_VERIFY_RECOVER,
    cryptoki_sys::CKA_WRAP,
    cryptoki_sys::CKA_UNWRAP,
    cryptoki_sys::CKA_DERIVE,
    cryptoki_sys::CKA_ALLOWED_MECHANISMS,
    cryptoki_sys::CKA_WRAP_TEMPLATE,
    cryptoki_sys::CKA_UNWRAP_TEMPLATE,
    cryptoki_sys::CKA_DERIVE_TEMPLATE,
    cryptoki_sys::CKA_START_DATE,
    cryptoki_sys::CKA_END_DATE,
    cryptoki_sys::CKA_VALUE_LEN,
    cryptoki_sys::CKA_MODULUS_BITS,
    cryptoki_sys::CKA_PUBLIC_KEY_INFO,
    cryptoki_sys::CKA_MODULUS,
    cryptoki_sys::CKA_PUBLIC_EXPONENT,
    cryptoki_sys::CKA_EC_PARAMS,
    cryptoki_sys::CKA_EC_POINT,
];

/// The associated data that binds [`BOUND_ATTRIBUTES`] of `attributes` to a
/// sealed value: for each, in order, its type, whether it is present, its
/// length and its value, so no two attribute sets give the same bytes.
// CK_ULONG is 64 bits here but 32 on Windows: the casts are for the latter.
#[allow(clippy::unnecessary_cast)]
pub fn material_aad(attributes: &crate::object::Attributes) -> Vec<u8> {
    let mut aad = b"azcloudhsm-soft key attributes v2\0".to_vec();
    for kind in BOUND_ATTRIBUTES {
        aad.extend_from_slice(&(*kind as u64).to_le_bytes());
        match attributes.get(*kind) {
            Some(value) => {
                aad.push(1);
                aad.extend_from_slice(&(value.len() as u64).to_le_bytes());
                aad.extend_from_slice(value);
            }
            None => aad.push(0),
        }
    }
    aad
}

/// Seals key material at rest, bound to the object's [`BOUND_ATTRIBUTES`]:
/// `BOUND_SEAL || nonce || ciphertext || tag`.
pub fn seal_material(
    token_key: &TokenKey,
    material: &[u8],
    attributes: &crate::object::Attributes,
) -> Result<Vec<u8>> {
    bound_seal(token_key, material, &material_aad(attributes))
}

/// The inverse of [`seal_material`]. Material sealed before attributes
/// were bound (no [`BOUND_SEAL`] mark) opens against the unique id alone,
/// as it was sealed; the second value says so, for the caller to seal it
/// again. A value whose attributes were changed outside the token does not
/// open (`Error::CorruptTokenData`).
pub fn open_material(
    token_key: &TokenKey,
    sealed: &[u8],
    attributes: &crate::object::Attributes,
) -> Result<(Zeroizing<Vec<u8>>, bool)> {
    match sealed.strip_prefix(BOUND_SEAL.as_slice()) {
        Some(bound) => Ok((
            crypto::open(token_key.bytes(), bound, &material_aad(attributes))?,
            true,
        )),
        None => {
            let unique_id = attributes
                .get(cryptoki_sys::CKA_UNIQUE_ID)
                .unwrap_or_default();
            Ok((crypto::open(token_key.bytes(), sealed, unique_id)?, false))
        }
    }
}

/// Whether `sealed` already binds its attributes.
pub fn is_bound(sealed: &[u8]) -> bool {
    sealed.starts_with(BOUND_SEAL)
}

/// Seals `material` under `aad` with the [`BOUND_SEAL`] mark.
pub fn bound_seal(token_key: &TokenKey, material: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut sealed = BOUND_SEAL.to_vec();
    sealed.extend_from_slice(&crypto::seal(token_key.bytes(), material, aad)?);
    Ok(sealed)
}

/// Opens what [`bound_seal`] sealed; `None` when `sealed` has no mark.
pub fn bound_open(
    token_key: &TokenKey,
    sealed: &[u8],
    aad: &[u8],
) -> Option<Result<Zeroizing<Vec<u8>>>> {
    sealed
        .strip_prefix(BOUND_SEAL.as_slice())
        .map(|bound| crypto::open(token_key.bytes(), bound, aad))
}

/// Opens material sealed under the token key with `aad`, unmarked (the
/// format before [`BOUND_SEAL`]).
pub fn open_unbound(token_key: &TokenKey, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    crypto::open(token_key.bytes(), sealed, aad)
}
