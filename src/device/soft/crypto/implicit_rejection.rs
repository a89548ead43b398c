//! RSA PKCS#1 v1.5 decryption without a padding oracle: implicit rejection,
//! the countermeasure of the IRTF CFRG's RSA guidance that OpenSSL 3.2 and
//! later apply by default (Debian 12's OpenSSL 3.0 does not).
//!
//! A ciphertext whose padding is wrong does not fail: it decrypts to a
//! synthetic message that only the private key can compute, the same one on
//! every call, and the work done and the memory read are the same whether
//! the padding was right or not, so neither the answer, nor its timing, nor
//! its length tell an attacker which it was (Bleichenbacher, "Marvin").
//!
//! The steps, on the raw RSA decryption `em` (k bytes) of ciphertext `c`:
//! 1. `kdk = HMAC-SHA256(key = SHA-256(d as k big-endian bytes), c left-padded to k bytes)`;
//! 2. `synthetic = PRF(kdk, "message", 8k bits)`, and a length: the last of
//!    128 16-bit words of `PRF(kdk, "length", 2048 bits)`, masked to the bit
//!    width of `k - 10`, that is below `k - 10` (0 if none is);
//! 3. `em` is well formed when `em[0] = 0`, `em[1] = 2`, and the first zero
//!    byte after them is at index 10 or later; the message is what follows
//!    it, else the synthetic message's last `length` bytes.
//!
//! `PRF(key, label, bits)` is the concatenation, for i = 0, 1, ..., of
//! `HMAC-SHA256(key, i as 2 big-endian bytes || label || bits as 2
//! big-endian bytes)`, cut to `bits / 8` bytes.

use crate::error::{Error, Result};
use openssl::pkey::{PKey, Private};
use openssl::sha::Sha256;
use std::hint::black_box;
use zeroize::Zeroizing;

/// Bytes of the length candidates (128 candidates of 2 bytes).
const LENGTH_CANDIDATES: usize = 128;
/// `0x00 0x02`, at least 8 bytes of padding, and the zero separator.
const MIN_OVERHEAD: usize = 11;

/// The message of `em`, the raw RSA decryption of `ciphertext` under the
/// private key whose exponent is `d` (k big-endian bytes), or the synthetic
/// message when `em` is not a well-formed PKCS#1 v1.5 type 2 block.
pub fn decode(d: &[u8], ciphertext: &[u8], em: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let k = em.len();
    if k < MIN_OVERHEAD || d.len() != k || ciphertext.len() > k {
        return Err(Error::EncryptedDataLenRange);
    }
    let kdk = key_derivation_key(d, ciphertext, k)?;
    let synthetic = prf(&kdk, b"message", k)?;
    let synthetic_start = k - synthetic_length(&prf(&kdk, b"length", 2 * LENGTH_CANDIDATES)?, k);

    // Every byte is looked at, whatever is found on the way.
    let mut good = is_zero(em[0]) & equals(em[1], 2);
    let mut found_zero = 0u32;
    let mut separator = 0usize;
    for (index, byte) in em.iter().enumerate().skip(2) {
        let zero = is_zero(*byte);
        separator = select(!found_zero & zero, index, separator);
        found_zero |= zero;
    }
    good &= at_least(separator, MIN_OVERHEAD - 1);
    let start = select(good, separator + 1, synthetic_start);
    let start = black_box(start);

    // The chosen bytes come from both buffers at every index, so which one
    // was chosen does not show in the memory read.
    let mut message = Zeroizing::new(Vec::with_capacity(k));
    for index in start..k {
        message.push(select_byte(good, em[index], synthetic[index]));
    }
    Ok(message)
}

/// [`decode`] with the private exponent taken from `key`.
pub fn decode_with_key(
    key: &PKey<Private>,
    ciphertext: &[u8],
    em: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let rsa = key.rsa()?;
    let d = Zeroizing::new(rsa.d().to_vec_padded(em.len() as i32)?);
    decode(&d, ciphertext, em)
}

/// `HMAC-SHA256(SHA-256(d), 0...0 || ciphertext)`, the ciphertext
/// left-padded with zeros to `k` bytes.
fn key_derivation_key(d: &[u8], ciphertext: &[u8], k: usize) -> Result<Zeroizing<[u8; 32]>> {
    let d_hash = Zeroizing::new(openssl::sha::sha256(d));
    let mut mac = HmacSha256::new(&d_hash).start();
    mac.update(&vec![0u8; k - ciphertext.len()]);
    mac.update(ciphertext);
    Ok(Zeroizing::new(mac.finish()))
}

/// `len` bytes of the HMAC-SHA256 counter-mode PRF under `kdk`.
fn prf(kdk: &[u8; 32], label: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let bits = u16::try_from(len * 8)
        .map_err(|_| Error::Internal("implicit rejection: modulus too large"))?;
    let key = HmacSha256::new(kdk);
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut counter: u16 = 0;
    while out.len() < len {
        let mut mac = key.start();
        mac.update(&counter.to_be_bytes());
        mac.update(label);
        mac.update(&bits.to_be_bytes());
        out.extend_from_slice(&mac.finish());
        counter += 1;
    }
    out.truncate(len);
    Ok(out)
}

/// HMAC-SHA256 (RFC 2104) with a key of at most 64 bytes, its inner and
/// outer hash states prepared once, so each MAC under the key costs two
/// state copies and the hashing itself.
struct HmacSha256 {
    inner: Sha256,
    outer: Sha256,
}

/// One MAC being computed.
struct HmacRun {
    inner: Sha256,
    outer: Sha256,
}

impl HmacSha256 {
    fn new(key: &[u8; 32]) -> HmacSha256 {
        let mut inner_pad = Zeroizing::new([0x36u8; 64]);
        let mut outer_pad = Zeroizing::new([0x5cu8; 64]);
        for (index, byte) in key.iter().enumerate() {
            inner_pad[index] ^= byte;
            outer_pad[index] ^= byte;
        }
        let mut inner = Sha256::new();
        inner.update(inner_pad.as_slice());
        let mut outer = Sha256::new();
        outer.update(outer_pad.as_slice());
        HmacSha256 { inner, outer }
    }

    fn start(&self) -> HmacRun {
        HmacRun {
            inner: self.inner.clone(),
            outer: self.outer.clone(),
        }
    }
}

impl HmacRun {
    fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    fn finish(self) -> [u8; 32] {
        let mut outer = self.outer;
        outer.update(&Zeroizing::new(self.inner.finish())[..]);
        outer.finish()
    }
}

/// The synthetic message's length: the last candidate below `k - 10`,
/// each masked to that bound's bit width; 0 if none is below it.
fn synthetic_length(candidates: &[u8], k: usize) -> usize {
    let bound = (k - MIN_OVERHEAD + 1) as u32;
    let mut mask = bound;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    let mut length = 0usize;
    for pair in candidates.chunks_exact(2) {
        let candidate = (u32::from(pair[0]) << 8 | u32::from(pair[1])) & mask;
        length = select(below(candidate, bound), candidate as usize, length);
    }
    length
}

// ----- constant-time helpers: all-ones or all-zeros masks, no branches -----

/// All ones when `byte` is zero.
fn is_zero(byte: u8) -> u32 {
    let value = black_box(u32::from(byte));
    // For 0..=255, value - 1 has its top bit set only when value is 0.
    0u32.wrapping_sub(value.wrapping_sub(1) >> 31)
}

/// All ones when `a == b`.
fn equals(a: u8, b: u8) -> u32 {
    is_zero(a ^ b)
}

/// All ones when `a < b` (both below 2^31).
fn below(a: u32, b: u32) -> u32 {
    0u32.wrapping_sub(black_box(a.wrapping_sub(b)) >> 31)
}

/// All ones when `a >= b` (both below 2^31).
fn at_least(a: usize, b: usize) -> u32 {
    !below(a as u32, b as u32)
}

/// `a` where `mask` is all ones, else `b`.
fn select(mask: u32, a: usize, b: usize) -> usize {
    let mask = 0usize.wrapping_sub((black_box(mask) & 1) as usize);
    (a & mask) | (b & !mask)
}

/// `a` where `mask` is all ones, else `b`.
fn select_byte(mask: u32, a: u8, b: u8) -> u8 {
    let mask = black_box(mask) as u8;
    (a & mask) | (b & !mask)
}

#[cfg(test)]
#[path = "implicit_rejection_tests.rs"]
mod tests;
