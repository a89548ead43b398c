//! Encryption and decryption (PKCS#11 3.0 §5.8, §5.9): RSA PKCS#1 v1.5 and
//! OAEP (§2.1.8, §2.1.9), AES ECB, CBC, CBC with PKCS#7 padding, CTR and
//! GCM (§2.10, §2.12), and Triple DES ECB, CBC and CBC with padding
//! (§2.16), three-key or two-key (no single DES).

use super::loaded::{check_rsa_size, AsymmetricKey, KeyContext};
use super::mechanisms::Hash;
use super::{no_parameter, LoadedKey};
use crate::device::{CipherOperation, Mechanism, MechanismParameter};
use crate::error::{Error, Result};
use cryptoki_sys::*;
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use openssl::pkey_ctx::PkeyCtxRef;
use openssl::rsa::Padding;
use std::sync::Arc;

const AES_BLOCK: usize = 16;
const DES_BLOCK: usize = 8;
/// OpenSSL takes at most `c_int` bytes per call.
const CHUNK: usize = 1 << 30;

/// `C_EncryptInit` (§5.8) and `C_DecryptInit` (§5.9).
pub(super) fn cipher_init(
    key: Arc<LoadedKey>,
    mechanism: &Mechanism,
    encrypt: bool,
) -> Result<Box<dyn CipherOperation>> {
    match mechanism.kind {
        CKM_RSA_PKCS | CKM_RSA_PKCS_OAEP => {
            let padding = RsaPadding::of(mechanism)?;
            let rsa = if encrypt {
                key.asymmetric_key(CKK_RSA)?
            } else {
                AsymmetricKey::Private(key.private_key(CKK_RSA)?)
            };
            let implicit_rejection = !encrypt && matches!(padding, RsaPadding::Pkcs1);
            let (context, modulus_len, max_plaintext) = rsa_context(rsa, &padding, encrypt)?;
            Ok(Box::new(RsaCipher {
                context,
                modulus_len,
                max_plaintext,
                encrypt,
                implicit_rejection,
                data: Vec::new(),
                key,
            }))
        }
        CKM_AES_ECB | CKM_AES_CBC | CKM_AES_CBC_PAD | CKM_AES_CTR | CKM_AES_GCM => {
            let value = key.aes_key()?;
            let (mode, iv) = aes_mode(mechanism)?;
            let cipher = aes_cipher(mode, value.len());
            Ok(Box::new(BlockCipher::new(
                (cipher, AES_BLOCK),
                value,
                (mode, iv),
                mechanism,
                encrypt,
            )?))
        }
        CKM_DES3_ECB | CKM_DES3_CBC | CKM_DES3_CBC_PAD => {
            let value = key.des3_key()?;
            let (mode, iv) = des3_mode(mechanism)?;
            let cipher = match mode {
                Mode::Ecb => Cipher::des_ede3_ecb(),
                _ => Cipher::des_ede3_cbc(),
            };
            Ok(Box::new(BlockCipher::new(
                (cipher, DES_BLOCK),
                &value,
                (mode, iv),
                mechanism,
                encrypt,
            )?))
        }
        other => Err(Error::MechanismInvalid(other)),
    }
}

/// The padding of an RSA encryption mechanism.
pub(super) enum RsaPadding {
    Pkcs1,
    Oaep { hash: Hash, label: Vec<u8> },
}

impl RsaPadding {
    /// `CKM_RSA_PKCS` (no parameter) or `CKM_RSA_PKCS_OAEP` (`CK_RSA_PKCS_OAEP_PARAMS`
    /// with a SHA-1/SHA-2 hash, MGF1 with the same hash, and the label as source data).
    pub(super) fn of(mechanism: &Mechanism) -> Result<RsaPadding> {
        match (mechanism.kind, &mechanism.parameter) {
            (CKM_RSA_PKCS, _) => no_parameter(mechanism).map(|_| RsaPadding::Pkcs1),
            (CKM_RSA_PKCS_OAEP, MechanismParameter::Oaep { hash, mgf, label }) => {
                let hash = Hash::from_mechanism(*hash)
                    .ok_or(Error::MechanismParamInvalid("OAEP hash not supported"))?;
                if *mgf != hash.mgf {
                    return Err(Error::MechanismParamInvalid(
                        "OAEP MGF must be MGF1 with the same hash",
                    ));
                }
                Ok(RsaPadding::Oaep {
                    hash,
                    label: label.clone(),
                })
            }
            (CKM_RSA_PKCS_OAEP, _) => Err(Error::MechanismParamInvalid(
                "OAEP needs CK_RSA_PKCS_OAEP_PARAMS",
            )),
            (other, _) => Err(Error::MechanismInvalid(other)),
        }
    }

    fn configure<T>(&self, context: &mut PkeyCtxRef<T>) -> Result<()> {
        match self {
            RsaPadding::Pkcs1 => context.set_rsa_padding(Padding::PKCS1)?,
            RsaPadding::Oaep { hash, label } => {
                context.set_rsa_padding(Padding::PKCS1_OAEP)?;
                context.set_rsa_oaep_md(hash.md)?;
                context.set_rsa_mgf1_md(hash.md)?;
                if !label.is_empty() {
                    crate::ffi::openssl::set_oaep_label(context, label)?;
                }
            }
        }
        Ok(())
    }
}

/// An RSA encryption (or, with a private key, decryption) context, with the
/// modulus length and the largest plaintext it takes.
pub(super) fn rsa_context(
    key: AsymmetricKey<'_>,
    padding: &RsaPadding,
    encrypt: bool,
) -> Result<(KeyContext, usize, usize)> {
    check_rsa_size(key.bits())?;
    let modulus_len = key.bits().div_ceil(8) as usize;
    let overhead = match padding {
        RsaPadding::Pkcs1 => 11,
        RsaPadding::Oaep { hash, .. } => 2 * hash.len() + 2,
    };
    if overhead > modulus_len {
        return Err(Error::MechanismParamInvalid(
            "OAEP hash too long for the key",
        ));
    }
    let mut context = key.context()?;
    if encrypt {
        context.encrypt_init()?;
    } else {
        context.decrypt_init()?;
    }
    match &mut context {
        // PKCS#1 v1.5 decryption: the raw RSA result, whose padding
        // `implicit_rejection` checks without a padding oracle.
        KeyContext::Private(context) if !encrypt && matches!(padding, RsaPadding::Pkcs1) => {
            context.set_rsa_padding(Padding::NONE)?
        }
        KeyContext::Private(context) => padding.configure(context)?,
        KeyContext::Public(context) => padding.configure(context)?,
    }
    Ok((context, modulus_len, modulus_len - overhead))
}

/// RSA is single-part: the input is collected and processed at the end.
struct RsaCipher {
    context: KeyContext,
    modulus_len: usize,
    max_plaintext: usize,
    encrypt: bool,
    /// PKCS#1 v1.5 decryption: a bad padding gives the synthetic message.
    implicit_rejection: bool,
    data: Vec<u8>,
    key: Arc<LoadedKey>,
}

impl RsaCipher {
    fn check_len(&self, len: usize, complete: bool) -> Result<()> {
        if self.encrypt && len > self.max_plaintext {
            return Err(Error::DataLenRange);
        }
        if !self.encrypt && (len > self.modulus_len || (complete && len != self.modulus_len)) {
            return Err(Error::EncryptedDataLenRange);
        }
        Ok(())
    }

    fn process(&mut self, last: &[u8]) -> Result<Vec<u8>> {
        let input: &[u8] = if self.data.is_empty() {
            last
        } else {
            self.data.extend_from_slice(last);
            &self.data
        };
        self.check_len(input.len(), true)?;
        let result = if self.encrypt {
            self.context.encrypt(input)
        } else if self.implicit_rejection {
            // Only a ciphertext not below the modulus fails here, which
            // anyone can tell from the public key.
            let em = zeroize::Zeroizing::new(
                self.context
                    .decrypt(input)?
                    .ok_or(Error::EncryptedDataInvalid)?,
            );
            super::implicit_rejection::decode_with_key(self.key.private_key(CKK_RSA)?, input, &em)
                .map(|message| message.to_vec())
        } else {
            self.context
                .decrypt(input)?
                .ok_or(Error::EncryptedDataInvalid)
        };
        self.data.clear();
        result
    }
}

impl CipherOperation for RsaCipher {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.check_len(self.data.len() + data.len(), false)?;
        self.data.extend_from_slice(data);
        Ok(Vec::new())
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        self.process(&[])
    }

    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.process(data)
    }
}

/// The mode of a block cipher mechanism.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Ecb,
    Cbc,
    CbcPad,
    Ctr,
    Gcm,
}

/// An AES or Triple DES operation. GCM decryption holds everything back
/// until the tag is verified at the end, so no unauthenticated plaintext
/// is ever released.
struct BlockCipher {
    context: CipherCtx,
    mode: Mode,
    /// The cipher's block size: 16 for AES, 8 for DES.
    block: usize,
    encrypt: bool,
    /// Bytes given so far.
    total: u128,
    /// CTR: blocks left before the counter bits would wrap.
    counter_blocks: u128,
    /// GCM: the tag length in bytes.
    tag_len: usize,
    /// GCM decryption: the ciphertext and tag, collected.
    collected: Vec<u8>,
}

fn aes_cipher(mode: Mode, key_len: usize) -> &'static CipherRef {
    match (mode, key_len) {
        (Mode::Ecb, 16) => Cipher::aes_128_ecb(),
        (Mode::Ecb, 24) => Cipher::aes_192_ecb(),
        (Mode::Ecb, _) => Cipher::aes_256_ecb(),
        (Mode::Cbc | Mode::CbcPad, 16) => Cipher::aes_128_cbc(),
        (Mode::Cbc | Mode::CbcPad, 24) => Cipher::aes_192_cbc(),
        (Mode::Cbc | Mode::CbcPad, _) => Cipher::aes_256_cbc(),
        (Mode::Ctr, 16) => Cipher::aes_128_ctr(),
        (Mode::Ctr, 24) => Cipher::aes_192_ctr(),
        (Mode::Ctr, _) => Cipher::aes_256_ctr(),
        (Mode::Gcm, 16) => Cipher::aes_128_gcm(),
        (Mode::Gcm, 24) => Cipher::aes_192_gcm(),
        (Mode::Gcm, _) => Cipher::aes_256_gcm(),
    }
}

/// How many blocks a CTR counter of `bits` bits starting at `block` can count before wrapping.
fn counter_capacity(bits: CK_ULONG, block: &[u8; 16]) -> u128 {
    let value = u128::from_be_bytes(*block);
    if bits >= 128 {
        return (u128::MAX - value).saturating_add(1);
    }
    let modulus = 1u128 << bits;
    modulus - (value & (modulus - 1))
}

impl BlockCipher {
    /// An operation of `cipher` (with its block size) on `key`, in `mode`
    /// with its IV, both checked by the mechanism's mode function.
    fn new(
        (cipher, block): (&CipherRef, usize),
        key: &[u8],
        (mode, iv): (Mode, Option<&[u8]>),
        mechanism: &Mechanism,
        encrypt: bool,
    ) -> Result<BlockCipher> {
        let mut context = CipherCtx::new()?;
        let init = |context: &mut CipherCtx, cipher, key, iv| {
            if encrypt {
                context.encrypt_init(cipher, key, iv)
            } else {
                context.decrypt_init(cipher, key, iv)
            }
        };
        let mut counter_blocks = u128::MAX;
        let mut tag_len = 0;
        match &mechanism.parameter {
            MechanismParameter::Gcm { iv, aad, tag_bits } => {
                init(&mut context, Some(cipher), None, None)?;
                context.set_iv_length(iv.len())?;
                init(&mut context, None, Some(key), Some(iv))?;
                if !aad.is_empty() {
                    for chunk in aad.chunks(CHUNK) {
                        context.cipher_update(chunk, None)?;
                    }
                }
                tag_len = *tag_bits as usize / 8;
            }
            MechanismParameter::Ctr {
                counter_bits,
                block,
            } => {
                init(&mut context, Some(cipher), Some(key), iv)?;
                counter_blocks = counter_capacity(*counter_bits, block);
            }
            _ => {
                init(&mut context, Some(cipher), Some(key), iv)?;
                context.set_padding(mode == Mode::CbcPad);
            }
        }
        Ok(BlockCipher {
            context,
            mode,
            block,
            encrypt,
            total: 0,
            counter_blocks,
            tag_len,
            collected: Vec::new(),
        })
    }

    fn length_error(&self) -> Error {
        if self.encrypt {
            Error::DataLenRange
        } else {
            Error::EncryptedDataLenRange
        }
    }

    /// Runs `input` through the cipher, appending to `output`.
    fn transform(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<()> {
        self.total += input.len() as u128;
        if self.mode == Mode::Ctr && self.total.div_ceil(self.block as u128) > self.counter_blocks {
            return Err(self.length_error());
        }
        for chunk in input.chunks(CHUNK) {
            self.context.cipher_update_vec(chunk, output)?;
        }
        Ok(())
    }

    /// GCM decryption of the whole ciphertext and tag.
    fn open(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        if input.len() < self.tag_len {
            return Err(Error::EncryptedDataLenRange);
        }
        let (ciphertext, tag) = input.split_at(input.len() - self.tag_len);
        self.context.set_tag(tag)?;
        let mut plaintext = Vec::with_capacity(ciphertext.len() + self.block);
        for chunk in ciphertext.chunks(CHUNK) {
            self.context.cipher_update_vec(chunk, &mut plaintext)?;
        }
        if self.context.cipher_final_vec(&mut plaintext).is_err() {
            plaintext.fill(0);
            return Err(Error::EncryptedDataInvalid);
        }
        Ok(plaintext)
    }

    fn final_block(&mut self, output: &mut Vec<u8>) -> Result<()> {
        match self.mode {
            Mode::Ecb | Mode::Cbc if !self.total.is_multiple_of(self.block as u128) => {
                return Err(self.length_error())
            }
            Mode::CbcPad
                if !self.encrypt
                    && (self.total == 0 || !self.total.is_multiple_of(self.block as u128)) =>
            {
                return Err(Error::EncryptedDataLenRange)
            }
            _ => {}
        }
        if self.context.cipher_final_vec(output).is_err() {
            return Err(if self.encrypt {
                Error::Internal("block cipher final block failed")
            } else {
                Error::EncryptedDataInvalid
            });
        }
        if self.mode == Mode::Gcm {
            let start = output.len();
            output.resize(start + self.tag_len, 0);
            self.context.tag(&mut output[start..])?;
        }
        Ok(())
    }
}

/// A block cipher mode and its IV (or initial counter block).
type ModeAndIv<'a> = (Mode, Option<&'a [u8]>);

/// ECB (no parameter), CBC or CBC with padding (an IV of one `block`) when
/// `mechanism` is one of the three `kinds` of a block cipher; `None` when
/// it is another mechanism.
fn ecb_or_cbc(
    mechanism: &Mechanism,
    kinds: [CK_MECHANISM_TYPE; 3],
    block: usize,
) -> Option<Result<ModeAndIv<'_>>> {
    let mode = match kinds.iter().position(|kind| *kind == mechanism.kind)? {
        0 => return Some(no_parameter(mechanism).map(|_| (Mode::Ecb, None))),
        1 => Mode::Cbc,
        _ => Mode::CbcPad,
    };
    Some(match &mechanism.parameter {
        MechanismParameter::Raw(iv) if iv.len() == block => Ok((mode, Some(&iv[..]))),
        _ => Err(Error::MechanismParamInvalid(
            "CBC needs an IV of one block (16 bytes for AES, 8 for DES)",
        )),
    })
}

/// The AES mode of `mechanism` and its IV (or initial counter block), once
/// the parameter is checked: a wrong one is `CKR_MECHANISM_PARAM_INVALID`.
fn aes_mode(mechanism: &Mechanism) -> Result<ModeAndIv<'_>> {
    let block_modes = [CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD];
    if let Some(mode) = ecb_or_cbc(mechanism, block_modes, AES_BLOCK) {
        return mode;
    }
    Ok(match (mechanism.kind, &mechanism.parameter) {
        (
            CKM_AES_CTR,
            MechanismParameter::Ctr {
                counter_bits,
                block,
            },
        ) if (1..=128).contains(counter_bits) => (Mode::Ctr, Some(&block[..])),
        (CKM_AES_CTR, _) => {
            return Err(Error::MechanismParamInvalid(
                "AES-CTR needs CK_AES_CTR_PARAMS, 1 to 128 counter bits",
            ))
        }
        (CKM_AES_GCM, MechanismParameter::Gcm { iv, tag_bits, .. }) => {
            // OpenSSL's GCM holds at most 128 IV bytes (a longer one
            // failed inside it: found by the mechanism_parameters fuzz
            // target).
            if !(1..=128).contains(&iv.len()) {
                return Err(Error::MechanismParamInvalid(
                    "AES-GCM IV must be 1 to 128 bytes",
                ));
            }
            if !(96..=128).contains(tag_bits) || tag_bits % 8 != 0 {
                return Err(Error::MechanismParamInvalid(
                    "AES-GCM tag must be 96 to 128 bits, in whole bytes",
                ));
            }
            (Mode::Gcm, Some(&iv[..]))
        }
        (CKM_AES_GCM, _) => {
            return Err(Error::MechanismParamInvalid("AES-GCM needs CK_GCM_PARAMS"))
        }
        (other, _) => return Err(Error::MechanismInvalid(other)),
    })
}

/// The Triple DES mode of `mechanism` and its IV: CBC takes an 8-byte IV,
/// ECB no parameter (PKCS#11 3.0 §2.16.7 to §2.16.9).
fn des3_mode(mechanism: &Mechanism) -> Result<ModeAndIv<'_>> {
    let block_modes = [CKM_DES3_ECB, CKM_DES3_CBC, CKM_DES3_CBC_PAD];
    ecb_or_cbc(mechanism, block_modes, DES_BLOCK)
        .unwrap_or(Err(Error::MechanismInvalid(mechanism.kind)))
}

impl CipherOperation for BlockCipher {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.mode == Mode::Gcm && !self.encrypt {
            self.collected.extend_from_slice(data);
            return Ok(Vec::new());
        }
        let mut output = Vec::with_capacity(data.len() + self.block);
        self.transform(data, &mut output)?;
        Ok(output)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        if self.mode == Mode::Gcm && !self.encrypt {
            let collected = std::mem::take(&mut self.collected);
            return self.open(&collected);
        }
        let mut output = Vec::with_capacity(self.block + self.tag_len);
        self.final_block(&mut output)?;
        Ok(output)
    }

    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        if self.mode == Mode::Gcm && !self.encrypt {
            if self.collected.is_empty() {
                return self.open(data);
            }
            self.collected.extend_from_slice(data);
            return self.finish();
        }
        let mut output = Vec::with_capacity(data.len() + self.block + self.tag_len);
        self.transform(data, &mut output)?;
        self.final_block(&mut output)?;
        Ok(output)
    }
}
