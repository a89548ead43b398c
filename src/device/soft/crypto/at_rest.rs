//! Protection of key material at rest: AES-256-GCM sealing under a key
//! derived from a PIN with PBKDF2-HMAC-SHA256.

use crate::error::{Error, Result};
use openssl::cipher::Cipher;
use openssl::cipher_ctx::CipherCtx;
use openssl::hash::MessageDigest;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// AES-256-GCM seal: `nonce || ciphertext || tag`, with a fresh random 96-bit nonce.
pub fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    openssl::rand::rand_bytes(&mut nonce).map_err(|_| Error::RandomNoRng)?;
    let mut context = CipherCtx::new()?;
    context.encrypt_init(Some(Cipher::aes_256_gcm()), Some(key), Some(&nonce))?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    sealed.extend_from_slice(&nonce);
    if !aad.is_empty() {
        context.cipher_update(aad, None)?;
    }
    context.cipher_update_vec(plaintext, &mut sealed)?;
    context.cipher_final_vec(&mut sealed)?;
    let mut tag = [0u8; TAG_LEN];
    context.tag(&mut tag)?;
    sealed.extend_from_slice(&tag);
    Ok(sealed)
}

/// The inverse of [`seal`]. A wrong key, wrong `aad`, truncation or any
/// tampering is `Error::CorruptTokenData`, and no plaintext is returned.
pub fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let tampered = || Error::CorruptTokenData("sealed key material failed authentication".into());
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(tampered());
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut context = CipherCtx::new()?;
    context.decrypt_init(Some(Cipher::aes_256_gcm()), Some(key), Some(nonce))?;
    context.set_tag(tag)?;
    if !aad.is_empty() {
        context.cipher_update(aad, None)?;
    }
    // Sized before use, so no reallocation leaves a copy behind.
    let mut plaintext = Zeroizing::new(Vec::with_capacity(ciphertext.len() + 32));
    context.cipher_update_vec(ciphertext, &mut plaintext)?;
    if context.cipher_final_vec(&mut plaintext).is_err() {
        return Err(tampered());
    }
    Ok(plaintext)
}

/// PBKDF2-HMAC-SHA256 of `pin` into a 32-byte key; `iterations` must be at least 1.
pub fn derive_pin_key(pin: &[u8], salt: &[u8], iterations: u32) -> Result<Zeroizing<[u8; 32]>> {
    if iterations == 0 {
        return Err(Error::ArgumentsBad("PBKDF2 needs at least one iteration"));
    }
    let mut key = Zeroizing::new([0u8; 32]);
    openssl::pkcs5::pbkdf2_hmac(
        pin,
        salt,
        iterations as usize,
        MessageDigest::sha256(),
        key.as_mut(),
    )?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn sealed_data_opens_with_the_same_key_and_aad() {
        let sealed = seal(&KEY, b"secret key bytes", b"object 42").unwrap();
        assert_eq!(sealed.len(), 12 + 16 + 16);
        assert_eq!(
            open(&KEY, &sealed, b"object 42").unwrap().as_slice(),
            b"secret key bytes"
        );
    }

    #[test]
    fn sealing_twice_uses_different_nonces() {
        assert_ne!(
            seal(&KEY, b"x", b"").unwrap(),
            seal(&KEY, b"x", b"").unwrap()
        );
    }

    #[test]
    fn tampered_sealed_data_is_a_device_error() {
        let sealed = seal(&KEY, b"secret", b"aad").unwrap();
        for index in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[index] ^= 1;
            assert!(
                matches!(open(&KEY, &bad, b"aad"), Err(Error::CorruptTokenData(_))),
                "byte {index}"
            );
        }
        assert!(matches!(
            open(&KEY, &sealed, b"other"),
            Err(Error::CorruptTokenData(_))
        ));
        assert!(matches!(
            open(&[8; 32], &sealed, b"aad"),
            Err(Error::CorruptTokenData(_))
        ));
        assert!(matches!(
            open(&KEY, &sealed[..27], b"aad"),
            Err(Error::CorruptTokenData(_))
        ));
    }

    #[test]
    fn pin_key_matches_the_rfc_7914_pbkdf2_sha256_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1), first 32 bytes.
        let key = derive_pin_key(b"passwd", b"salt", 1).unwrap();
        assert_eq!(
            hex(key.as_ref()),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
        assert!(matches!(
            derive_pin_key(b"pin", b"salt", 0),
            Err(Error::ArgumentsBad(_))
        ));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
