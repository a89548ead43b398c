//! The key that signs certificate blobs (RS512).
//!
//! Either a configured RSA key pair of the token (`CERTSTORAGE_SIGNING_KEYID`,
//! matched by `CKA_ID`), or the device's own RSA-2048 key, kept in its own
//! table: not a PKCS#11 object, so no search shows it. Its public half is
//! stored in clear so that blobs verify before login; its private half is
//! sealed under the token key.
//!
//! The device's own key is created by the first request made while the
//! user is logged in. Before that, with no key stored yet, a request fails
//! with `UserNotLoggedIn`: there is no public key to offer, and no blob can
//! have been signed by a key that does not exist. `C_InitToken` deletes the
//! key; blobs it signed stop verifying, and a key handed out earlier refuses
//! to sign with `BlobSigningKey` (`CKR_DEVICE_ERROR`).

use super::crypto::{self, KeyMaterial, LoadedKey};
use super::objects::{class_and_type, require_allowed_mechanism, require_usage};
use super::pins;
use super::store::Inner;
use crate::device::{BlobSigningKey, Mechanism, PublicHalf};
use crate::error::{Error, Result};
use crate::object::Handle;
use cryptoki_sys::*;
use parking_lot::Mutex;
use std::sync::Arc;

/// Bound the sealed private half to its purpose, before the public half
/// was bound too (tokens of earlier versions; sealed again at login).
const UNBOUND_SIGNING_KEY_AAD: &[u8] = b"azcloudhsm-soft blob signing key v1";

/// Binds the sealed private half to its purpose and to its public half,
/// which is stored in clear for verification: a public key overwritten in
/// the database makes the private half fail to open, so nothing is signed
/// with it, and the verifier is dropped at the next check (fail closed).
fn signing_key_aad(public_der: &[u8]) -> Vec<u8> {
    let mut aad = b"azcloudhsm-soft blob signing key v2\0".to_vec();
    aad.extend_from_slice(&openssl::sha::sha256(public_der));
    aad
}

/// Opens the private half sealed for `public_der`; the second value is
/// false for a seal of the earlier, unbound form.
fn open_private_half(
    token_key: &pins::TokenKey,
    public_der: &[u8],
    sealed: &[u8],
) -> Result<(zeroize::Zeroizing<Vec<u8>>, bool)> {
    let opened = match pins::bound_open(token_key, sealed, &signing_key_aad(public_der)) {
        Some(opened) => opened.map(|plain| (plain, true)),
        None => pins::open_unbound(token_key, sealed, UNBOUND_SIGNING_KEY_AAD)
            .map(|plain| (plain, false)),
    };
    opened.map_err(|_| {
        tracing::error!(
            "soft token: the blob-signing key's public half does not match its sealed private half (changed outside the token?); it neither signs nor verifies"
        );
        Error::KeyBindingBroken("the blob-signing key's public half was replaced".into())
    })
}
/// The size of the device's own key.
const OWN_KEY_BITS: CK_ULONG = 2048;

fn sign_with(key: Arc<LoadedKey>, message: &[u8]) -> Result<Vec<u8>> {
    crypto::sign_init(key, &Mechanism::new(CKM_SHA512_RSA_PKCS))?.sign(message)
}

/// The parsed private half of the device's own key, with its public half,
/// kept while the token key stays open.
#[derive(Default)]
pub(super) struct OwnKeyCache(Mutex<Option<(Vec<u8>, Arc<LoadedKey>)>>);

impl OwnKeyCache {
    /// The parsed private half whose public half is `public_der`.
    fn get(&self, public_der: &[u8]) -> Option<Arc<LoadedKey>> {
        let cached = self.0.lock();
        cached
            .as_ref()
            .filter(|(der, _)| der == public_der)
            .map(|(_, key)| key.clone())
    }

    /// Keeps the parsed private half of the key whose public half is `public_der`.
    fn keep(&self, public_der: Vec<u8>, key: Arc<LoadedKey>) {
        *self.0.lock() = Some((public_der, key));
    }

    /// Forgets the parsed private half.
    pub(super) fn clear(&self) {
        *self.0.lock() = None;
    }
}

/// Where a blob-signing key's private half is.
enum PrivateHalf {
    /// A configured key pair of the token: this object.
    Object(Handle),
    /// The device's own key, in its own table.
    Own,
}

/// A blob-signing key of the soft device. It signs only while the normal
/// user's PIN has opened the token key: the device asks for the key
/// material itself, in no session.
struct SoftSigningKey {
    inner: Arc<Inner>,
    private_half: PrivateHalf,
    public_half: PublicHalf,
}

impl SoftSigningKey {
    fn new(inner: &Arc<Inner>, private_half: PrivateHalf, public_der: Vec<u8>) -> Arc<Self> {
        Arc::new(SoftSigningKey {
            inner: inner.clone(),
            private_half,
            public_half: PublicHalf::new(public_der),
        })
    }
}

impl BlobSigningKey for SoftSigningKey {
    fn public_half(&self) -> &PublicHalf {
        &self.public_half
    }
    fn sign_rs512(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.inner.pins.require_user_pin()?;
        let key = match self.private_half {
            PrivateHalf::Object(handle) => self.inner.configured_private_key(handle)?,
            PrivateHalf::Own => self.inner.own_private_key(self.public_half.der())?,
        };
        sign_with(key, message)
    }
}

impl Inner {
    /// The parsed private half of the configured key pair `handle`, if its
    /// owner lets it sign blobs.
    fn configured_private_key(&self, handle: Handle) -> Result<Arc<LoadedKey>> {
        let (entry, key) = self.own_use_key(handle).map_err(|error| match error {
            Error::KeyHandleInvalid => Error::BlobSigningKey("it was destroyed".into()),
            other => other,
        })?;
        // The blob signature is a use of the key like any other: its owner's
        // CKA_SIGN and CKA_ALLOWED_MECHANISMS hold here too.
        require_usage(
            &entry.attributes,
            CKA_SIGN,
            "CKA_SIGN of the blob signing key is false",
        )?;
        require_allowed_mechanism(&entry.attributes, CKM_SHA512_RSA_PKCS)?;
        Ok(key)
    }

    /// The parsed private half of the device's own key whose public half is
    /// `public_der`, unsealed once and kept while the user stays logged in.
    fn own_private_key(&self, public_der: &[u8]) -> Result<Arc<LoadedKey>> {
        if let Some(key) = self.own_key.get(public_der) {
            return Ok(key);
        }
        let (stored_public, sealed) = self
            .database
            .signing_key()?
            .ok_or_else(|| Error::BlobSigningKey("it was replaced".into()))?;
        if stored_public != public_der {
            return Err(Error::BlobSigningKey("it was replaced".into()));
        }
        let (plain, _) = open_private_half(&self.pins.token_key()?, &stored_public, &sealed)?;
        let key = Arc::new(LoadedKey {
            key_type: CKK_RSA,
            material: KeyMaterial::Private(crypto::private_from_der(&plain)?),
        });
        self.own_key.keep(stored_public, key.clone());
        Ok(key)
    }

    /// Checks, with the token key open, that the stored public half of the
    /// device's own key is the one its private half was sealed for, and
    /// seals a private half of the earlier, unbound form again, bound.
    pub(super) fn bind_signing_key(&self, token_key: &pins::TokenKey) -> Result<()> {
        let Some((public_der, sealed)) = self.database.signing_key()? else {
            return Ok(());
        };
        let (plain, bound) = open_private_half(token_key, &public_der, &sealed)?;
        if !bound {
            let private = crypto::private_from_der(&plain)?;
            if crypto::public_to_der(&crypto::public_from_private(&private)?)? != public_der {
                tracing::error!(
                    "soft token: the blob-signing key's public half does not match its private half (changed outside the token?); it neither signs nor verifies"
                );
                return Err(Error::KeyBindingBroken(
                    "the blob-signing key's public half was replaced".into(),
                ));
            }
            let resealed = pins::bound_seal(token_key, &plain, &signing_key_aad(&public_der))?;
            self.database.reseal_signing_key(&sealed, &resealed)?;
        }
        Ok(())
    }
}

/// The blob-signing key: the token's RSA private key whose `CKA_ID` is
/// `key_id`, or the device's own key when `key_id` is `None`.
pub(super) fn blob_signing_key(
    inner: &Arc<Inner>,
    key_id: Option<&str>,
) -> Result<Arc<dyn BlobSigningKey>> {
    match key_id {
        Some(id) => configured_key(inner, id),
        None => own_key(inner),
    }
}

fn configured_key(inner: &Arc<Inner>, id: &str) -> Result<Arc<dyn BlobSigningKey>> {
    let row = inner
        .token_rows()?
        .into_iter()
        .find(|row| {
            class_and_type(&row.attributes) == (CKO_PRIVATE_KEY, Some(CKK_RSA))
                && row.attributes.get(CKA_ID) == Some(id.as_bytes())
        })
        .ok_or_else(|| Error::BlobSigningKey(format!("no RSA private key with CKA_ID \"{id}\"")))?;
    let public_der = row
        .attributes
        .get(CKA_PUBLIC_KEY_INFO)
        .filter(|der| !der.is_empty())
        .ok_or_else(|| Error::BlobSigningKey(format!("\"{id}\" has no public key info")))?
        .to_vec();
    // With the token key open, the public half (bound to the sealed private
    // half with the key's other attributes) is checked on every request.
    if inner.pins.token_key().is_ok() {
        inner.own_use_key(row.handle).map_err(|error| match error {
            Error::CorruptTokenData(reason) => Error::KeyBindingBroken(format!(
                "signing key \"{id}\" does not open with its attributes: {reason}"
            )),
            other => other,
        })?;
    }
    Ok(SoftSigningKey::new(
        inner,
        PrivateHalf::Object(row.handle),
        public_der,
    ))
}

fn own_key(inner: &Arc<Inner>) -> Result<Arc<dyn BlobSigningKey>> {
    let (public_der, _) = match inner.database.signing_key()? {
        Some(stored) => {
            // With the token key open, the public half is checked against
            // the private half on every request (an AES-GCM open of a
            // kilobyte); before login it cannot be.
            if let Ok(token_key) = inner.pins.token_key() {
                open_private_half(&token_key, &stored.0, &stored.1)?;
            }
            stored
        }
        None => {
            inner.pins.require_user_pin()?;
            let private = crypto::generate_rsa(OWN_KEY_BITS, &[])?;
            let public_der = crypto::public_to_der(&crypto::public_from_private(&private)?)?;
            let sealed = pins::bound_seal(
                &inner.sealing_key()?,
                &crypto::private_to_der(&private)?,
                &signing_key_aad(&public_der),
            )?;
            // Another process may have stored its key first; everyone uses the stored one.
            inner.database.store_signing_key(&public_der, &sealed)?
        }
    };
    Ok(SoftSigningKey::new(inner, PrivateHalf::Own, public_der))
}
