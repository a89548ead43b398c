//! The key derivations of NIST SP 800-108 in counter mode (§5.1,
//! `CKM_SP800_108_COUNTER_KDF`) and feedback mode (§5.2,
//! `CKM_SP800_108_FEEDBACK_KDF`), with an HMAC or AES-CMAC as the PRF, as
//! PKCS#11 3.0 §2.42 lays out their input.
//!
//! Here are the values only; which attributes the keys get is the
//! device's rule (device/soft/kbkdf.rs).

use super::mac::{cmac_context, hmac_context, CMAC_LEN};
use super::mechanisms::Hash;
use super::LoadedKey;
use crate::device::{KbkdfData, KbkdfInteger, KbkdfParameter};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::md_ctx::MdCtx;
use zeroize::Zeroizing;

/// The PRF of `prf`: the hash of an HMAC, or `None` for AES-CMAC.
fn prf_hash(prf: CK_MECHANISM_TYPE) -> Result<Option<Hash>> {
    let digest = match prf {
        CKM_AES_CMAC => return Ok(None),
        CKM_SHA_1_HMAC => CKM_SHA_1,
        CKM_SHA224_HMAC => CKM_SHA224,
        CKM_SHA256_HMAC => CKM_SHA256,
        CKM_SHA384_HMAC => CKM_SHA384,
        CKM_SHA512_HMAC => CKM_SHA512,
        CKM_SHA3_224_HMAC => CKM_SHA3_224,
        CKM_SHA3_256_HMAC => CKM_SHA3_256,
        CKM_SHA3_384_HMAC => CKM_SHA3_384,
        CKM_SHA3_512_HMAC => CKM_SHA3_512,
        _ => {
            return Err(Error::MechanismParamInvalid(
                "the SP 800-108 PRF is an HMAC (SHA-1, SHA-2, SHA-3) or CKM_AES_CMAC",
            ))
        }
    };
    Hash::from_mechanism(digest)
        .map(Some)
        .ok_or(Error::Internal("an HMAC without its hash"))
}

/// A keyed PRF, ready to run once per iteration.
struct Prf<'a> {
    key: &'a LoadedKey,
    hash: Option<Hash>,
}

impl Prf<'_> {
    fn context(&self) -> Result<MdCtx> {
        match self.hash {
            Some(hash) => hmac_context(self.key, hash),
            None => cmac_context(self.key),
        }
    }
    /// The length of one output (a segment), in bytes.
    fn output_len(&self) -> usize {
        self.hash.map_or(CMAC_LEN, |hash| hash.md.size())
    }
}

/// `value` in `format`: its width in bytes, big- or little-endian.
/// `CKR_MECHANISM_PARAM_INVALID` if it does not fit.
fn encode(value: u64, format: KbkdfInteger) -> Result<Vec<u8>> {
    let bytes = (format.width_bits / 8) as usize;
    if bytes < 8 && value >> (bytes * 8) != 0 {
        return Err(Error::MechanismParamInvalid(
            "an SP 800-108 counter or length does not fit its width",
        ));
    }
    let big = value.to_be_bytes();
    let mut encoded = big[8 - bytes..].to_vec();
    if format.little_endian {
        encoded.reverse();
    }
    Ok(encoded)
}

/// Checks the data parameters against the mode's rules (§2.42.3, §2.42.4):
/// one iteration variable (with a counter format in counter mode, without
/// in feedback mode), an optional counter only in feedback mode, at most
/// one of it and of the DKM length, widths of 8 to 32 bits for counters
/// and 8 to 64 for the length, in whole bytes, and no empty byte array.
fn check_data(feedback: bool, data: &[KbkdfData]) -> Result<()> {
    let invalid = Error::MechanismParamInvalid;
    let count = |wanted: fn(&KbkdfData) -> bool| data.iter().filter(|d| wanted(d)).count();
    if count(|d| matches!(d, KbkdfData::Iteration(_))) != 1 {
        return Err(invalid(
            "SP 800-108 input needs exactly one CK_SP800_108_ITERATION_VARIABLE",
        ));
    }
    if count(|d| matches!(d, KbkdfData::Counter(_))) > usize::from(feedback) {
        return Err(invalid(
            "CK_SP800_108_COUNTER: none in counter mode, at most one in feedback mode",
        ));
    }
    if count(|d| matches!(d, KbkdfData::DkmLength { .. })) > 1 {
        return Err(invalid("at most one CK_SP800_108_DKM_LENGTH"));
    }
    let counter_width =
        |f: &KbkdfInteger| f.width_bits.is_multiple_of(8) && (8..=32).contains(&f.width_bits);
    for item in data {
        let valid = match item {
            KbkdfData::Iteration(None) => feedback,
            KbkdfData::Iteration(Some(format)) => !feedback && counter_width(format),
            KbkdfData::Counter(format) => counter_width(format),
            KbkdfData::DkmLength { format, .. } => {
                format.width_bits.is_multiple_of(8) && (8..=64).contains(&format.width_bits)
            }
            KbkdfData::Bytes(bytes) => !bytes.is_empty(),
        };
        if !valid {
            return Err(invalid(
                "an SP 800-108 data parameter of the wrong shape, width or length",
            ));
        }
    }
    Ok(())
}

/// The number of iterations a counter of `format` can count: 2^r − 1.
fn counter_limit(format: &KbkdfInteger) -> u64 {
    u32::try_from(format.width_bits)
        .ok()
        .and_then(|bits| 1u64.checked_shl(bits))
        .map_or(u64::MAX, |limit| limit - 1)
}

/// Checks `parameter` for its mode (`feedback`) before anything is made:
/// its data parameters and its PRF.
pub fn check_kbkdf(feedback: bool, parameter: &KbkdfParameter) -> Result<()> {
    check_data(feedback, &parameter.data)?;
    prf_hash(parameter.prf).map(|_| ())
}

/// The keys of `lens` bytes each that `parameter` derives from `base`,
/// in order, each from its own PRF outputs (§2.42.6: no key shares a
/// segment with another). `feedback` picks the mode.
pub fn kbkdf(
    feedback: bool,
    parameter: &KbkdfParameter,
    base: &LoadedKey,
    lens: &[usize],
) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    check_data(feedback, &parameter.data)?;
    let prf = Prf {
        key: base,
        hash: prf_hash(parameter.prf)?,
    };
    let h = prf.output_len();
    let segments: Vec<usize> = lens.iter().map(|len| len.div_ceil(h)).collect();
    let n: usize = segments.iter().sum();
    let mut limit = u64::from(u32::MAX);
    for item in &parameter.data {
        if let KbkdfData::Iteration(Some(format)) | KbkdfData::Counter(format) = item {
            limit = limit.min(counter_limit(format));
        }
    }
    if n as u64 > limit {
        return Err(Error::MechanismParamInvalid(
            "more keying material than the SP 800-108 counter can count",
        ));
    }
    let dkm_bits = |sum_of_segments: bool| -> u64 {
        let bytes = if sum_of_segments {
            n.saturating_mul(h)
        } else {
            lens.iter().sum()
        };
        (bytes as u64).saturating_mul(8)
    };
    let mut stream = Zeroizing::new(Vec::with_capacity(n * h));
    let mut previous = Zeroizing::new(parameter.iv.clone());
    for i in 1..=n as u64 {
        let mut context = prf.context()?;
        for item in &parameter.data {
            match item {
                KbkdfData::Iteration(None) => context.digest_sign_update(&previous)?,
                KbkdfData::Iteration(Some(format)) | KbkdfData::Counter(format) => {
                    context.digest_sign_update(&encode(i, *format)?)?
                }
                KbkdfData::DkmLength {
                    sum_of_segments,
                    format,
                } => context.digest_sign_update(&encode(dkm_bits(*sum_of_segments), *format)?)?,
                KbkdfData::Bytes(bytes) => context.digest_sign_update(bytes)?,
            }
        }
        let mut output = Zeroizing::new(vec![0u8; h]);
        let written = context.digest_sign_final(Some(&mut output))?;
        output.truncate(written);
        stream.extend_from_slice(&output);
        previous = output;
    }
    let mut keys = Vec::with_capacity(lens.len());
    let mut offset = 0;
    for (len, count) in lens.iter().zip(&segments) {
        keys.push(Zeroizing::new(stream[offset..offset + len].to_vec()));
        offset += count * h;
    }
    Ok(keys)
}
