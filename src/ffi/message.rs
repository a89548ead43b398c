//! Message-based encryption and decryption (PKCS#11 3.0 §5.9, §5.11) for
//! AES-GCM, run by `provider/messages.rs`. Here: reading the caller's
//! `CK_GCM_MESSAGE_PARAMS`, and writing back the IV a message was
//! encrypted under (`pIv`) and its tag (`pTag`) once its output is delivered.

use super::convert::{bytes, capacity, deliver, inner_bytes};
use super::export::export;
use crate::error::{Error, Result};
use crate::provider::{MessageParameter, MessageResult};
use crate::session::{Direction, Output};
use cryptoki_sys::*;
use std::ffi::c_void;

/// `CK_GCM_MESSAGE_PARAMS` (PKCS#11 3.0 §2.12.3), which `cryptoki-sys`
/// does not declare.
#[repr(C)]
#[derive(Clone, Copy)]
struct GcmMessageParams {
    iv: *mut CK_BYTE,
    iv_len: CK_ULONG,
    iv_fixed_bits: CK_ULONG,
    generator: CK_GENERATOR_FUNCTION,
    tag: *mut CK_BYTE,
    tag_bits: CK_ULONG,
}

/// The longest IV and tag read from a parameter: longer ones are refused
/// (the device takes IVs of 1 to 128 bytes, tags of 96 to 128 bits).
const MAX_IV: CK_ULONG = 256;
const MAX_TAG_BITS: CK_ULONG = 128;

/// The caller's `CK_GCM_MESSAGE_PARAMS`, as given and as read.
struct Parameter {
    raw: GcmMessageParams,
    read: MessageParameter,
}

/// Reads the parameter of one message: `pTag` is read only for
/// decryption, where it holds the tag to check.
///
/// # Safety
///
/// `parameter` is NULL or valid for reading `length` bytes; when they are
/// a `CK_GCM_MESSAGE_PARAMS`, its `pIv` and `pTag` are NULL or valid for
/// `ulIvLen` and `ulTagBits / 8` bytes.
unsafe fn parameter(
    parameter: *const c_void,
    length: CK_ULONG,
    direction: Direction,
) -> Result<Parameter> {
    if parameter.is_null() || length as usize != std::mem::size_of::<GcmMessageParams>() {
        return Err(Error::MechanismParamInvalid(
            "the parameter of a message must be a CK_GCM_MESSAGE_PARAMS",
        ));
    }
    // SAFETY: non-NULL and `length` bytes long, the size of the structure
    // (this function's contract, checked above).
    let raw = unsafe { std::ptr::read_unaligned(parameter as *const GcmMessageParams) };
    if raw.iv_len > MAX_IV || raw.tag_bits > MAX_TAG_BITS || raw.tag.is_null() {
        return Err(Error::MechanismParamInvalid(
            "CK_GCM_MESSAGE_PARAMS: IV over 256 bytes, tag over 128 bits, or no tag buffer",
        ));
    }
    // SAFETY: `pIv` holds `ulIvLen` bytes (this function's contract).
    let iv = unsafe { inner_bytes(raw.iv, raw.iv_len) }?;
    let tag = match direction {
        // SAFETY: `pTag` holds `ulTagBits / 8` bytes (this function's contract).
        Direction::Decrypt => unsafe { inner_bytes(raw.tag, raw.tag_bits / 8) }?,
        Direction::Encrypt => Vec::new(),
    };
    Ok(Parameter {
        raw,
        read: MessageParameter {
            iv,
            iv_fixed_bits: raw.iv_fixed_bits,
            generator: raw.generator,
            tag,
            tag_bits: raw.tag_bits,
        },
    })
}

impl Parameter {
    /// Writes the IV (when `iv`) and the tag (when `tag`) of an encrypted
    /// message back to the caller's `pIv` and `pTag`.
    ///
    /// # Safety
    ///
    /// As for [`parameter`], which read `self`: `pIv` and `pTag` are valid
    /// for writing `ulIvLen` and `ulTagBits / 8` bytes.
    unsafe fn give_back(&self, result: &MessageResult, iv: bool, tag: bool) -> Result<()> {
        if iv && !result.iv.is_empty() {
            if result.iv.len() != self.raw.iv_len as usize || self.raw.iv.is_null() {
                return Err(Error::Internal("a message IV of another length than pIv"));
            }
            // SAFETY: `pIv` is valid for `ulIvLen` bytes, the IV's length
            // (this function's contract, checked above).
            unsafe { std::ptr::copy_nonoverlapping(result.iv.as_ptr(), self.raw.iv, result.iv.len()) };
        }
        if tag && !result.tag.is_empty() {
            if result.tag.len() != (self.raw.tag_bits / 8) as usize {
                return Err(Error::Internal("a message tag of another length than pTag"));
            }
            // SAFETY: `pTag` is non-NULL (checked by `parameter`) and valid
            // for `ulTagBits / 8` bytes, the tag's length (this function's contract).
            unsafe { std::ptr::copy_nonoverlapping(result.tag.as_ptr(), self.raw.tag, result.tag.len()) };
        }
        Ok(())
    }
}

/// The mechanism of `C_MessageEncryptInit` / `C_MessageDecryptInit`: its
/// parameter, when there is one, is a `CK_GCM_MESSAGE_PARAMS` that each
/// message brings again, so it is not read.
///
/// # Safety
///
/// `mechanism` is NULL or valid for reading one `CK_MECHANISM`.
unsafe fn message_mechanism(mechanism: *const CK_MECHANISM) -> Result<CK_MECHANISM_TYPE> {
    // SAFETY: NULL is refused; otherwise a valid CK_MECHANISM (this function's contract).
    let raw = unsafe { mechanism.as_ref() }.ok_or(Error::ArgumentsBad("NULL mechanism"))?;
    if !raw.pParameter.is_null()
        && raw.ulParameterLen as usize != std::mem::size_of::<GcmMessageParams>()
    {
        return Err(Error::MechanismParamInvalid(
            "the parameter of a message-based AES-GCM init is NULL or a CK_GCM_MESSAGE_PARAMS",
        ));
    }
    Ok(raw.mechanism)
}

/// The flags of `C_*MessageNext`: whether this part is the last.
fn last_part(flags: CK_FLAGS) -> Result<bool> {
    if flags & !CKF_END_OF_MESSAGE != 0 {
        return Err(Error::ArgumentsBad("unknown flags: only CKF_END_OF_MESSAGE is defined"));
    }
    Ok(flags & CKF_END_OF_MESSAGE != 0)
}

/// Delivers a message's output, then gives back its tag, and its IV when
/// `iv` (a whole message: a message in parts gave its IV at `Begin`), when
/// the whole output went out (never after a length query or a short buffer).
///
/// # Safety
///
/// As for [`deliver`] and [`Parameter::give_back`].
unsafe fn deliver_message(
    (output, result): (Output, MessageResult),
    parameter: &Parameter,
    direction: Direction,
    iv: bool,
    buffer: *mut u8,
    length: *mut CK_ULONG,
) -> Result<()> {
    let ready = matches!(output, Output::Ready(_));
    // SAFETY: this function's contract.
    unsafe { deliver(output, buffer, length) }?;
    if ready && direction == Direction::Encrypt {
        // SAFETY: this function's contract.
        unsafe { parameter.give_back(&result, iv, true) }?;
    }
    Ok(())
}

/// `C_EncryptMessage` / `C_DecryptMessage`.
///
/// # Safety
///
/// As for the exports that call it.
#[allow(clippy::too_many_arguments)]
unsafe fn single(
    direction: Direction,
    session: CK_SESSION_HANDLE,
    raw_parameter: *mut c_void,
    parameter_len: CK_ULONG,
    aad: *mut CK_BYTE,
    aad_len: CK_ULONG,
    input: *mut CK_BYTE,
    input_len: CK_ULONG,
    output: *mut CK_BYTE,
    output_len: *mut CK_ULONG,
) -> Result<()> {
    let provider = super::session_provider(session)?;
    provider.message_active(session, direction)?;
    // SAFETY: the caller's parameter, buffers and length word, valid for
    // the lengths given (PKCS#11 contract); each reader checks NULL.
    unsafe {
        let parameter = parameter(raw_parameter, parameter_len, direction)?;
        let aad = bytes(aad, aad_len)?;
        let input = bytes(input, input_len)?;
        let room = capacity(output, output_len)?;
        let result = provider.message_single(session, direction, &parameter.read, aad, input, room)?;
        deliver_message(result, &parameter, direction, true, output, output_len)
    }
}

/// `C_EncryptMessageBegin` / `C_DecryptMessageBegin`.
///
/// # Safety
///
/// As for the exports that call it.
unsafe fn begin(
    direction: Direction,
    session: CK_SESSION_HANDLE,
    raw_parameter: *mut c_void,
    parameter_len: CK_ULONG,
    aad: *mut CK_BYTE,
    aad_len: CK_ULONG,
) -> Result<()> {
    let provider = super::session_provider(session)?;
    provider.message_active(session, direction)?;
    // SAFETY: as for `single`.
    unsafe {
        let parameter = parameter(raw_parameter, parameter_len, direction)?;
        let aad = bytes(aad, aad_len)?;
        let iv = provider.message_begin(session, direction, &parameter.read, aad)?;
        if direction == Direction::Encrypt {
            let result = MessageResult { iv, tag: Vec::new() };
            parameter.give_back(&result, true, false)?;
        }
        Ok(())
    }
}

/// `C_EncryptMessageNext` / `C_DecryptMessageNext`.
///
/// # Safety
///
/// As for the exports that call it.
#[allow(clippy::too_many_arguments)]
unsafe fn next(
    direction: Direction,
    session: CK_SESSION_HANDLE,
    raw_parameter: *mut c_void,
    parameter_len: CK_ULONG,
    input: *mut CK_BYTE,
    input_len: CK_ULONG,
    output: *mut CK_BYTE,
    output_len: *mut CK_ULONG,
    flags: CK_FLAGS,
) -> Result<()> {
    let provider = super::session_provider(session)?;
    provider.message_active(session, direction)?;
    // SAFETY: as for `single`.
    unsafe {
        let parameter = parameter(raw_parameter, parameter_len, direction)?;
        let input = bytes(input, input_len)?;
        let room = capacity(output, output_len)?;
        let end = last_part(flags)?;
        let result = provider.message_next(session, direction, &parameter.read, input, room, end)?;
        deliver_message(result, &parameter, direction, false, output, output_len)
    }
}

export! {
    /// `C_MessageEncryptInit`: `CKM_AES_GCM` only.
    fn C_MessageEncryptInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) {
        let provider = super::session_provider(session)?;
        // SAFETY: `mechanism` is NULL or the caller's CK_MECHANISM.
        let kind = unsafe { message_mechanism(mechanism) }?;
        provider.message_init(session, Direction::Encrypt, kind, key)
    }
    /// `C_EncryptMessage`: one whole message; its IV and tag are written
    /// to the parameter's `pIv` and `pTag`.
    fn C_EncryptMessage(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, aad: *mut CK_BYTE, aad_len: CK_ULONG, plaintext: *mut CK_BYTE, plaintext_len: CK_ULONG, ciphertext: *mut CK_BYTE, ciphertext_len: *mut CK_ULONG) {
        // SAFETY: the caller's arguments, as PKCS#11 3.0 §5.9 gives them.
        unsafe { single(Direction::Encrypt, session, parameter, parameter_len, aad, aad_len, plaintext, plaintext_len, ciphertext, ciphertext_len) }
    }
    /// `C_EncryptMessageBegin`: the IV is written to `pIv` now.
    fn C_EncryptMessageBegin(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, aad: *mut CK_BYTE, aad_len: CK_ULONG) {
        // SAFETY: as for `C_EncryptMessage`.
        unsafe { begin(Direction::Encrypt, session, parameter, parameter_len, aad, aad_len) }
    }
    /// `C_EncryptMessageNext`: the ciphertext and the tag come with the
    /// last part (`CKF_END_OF_MESSAGE`).
    fn C_EncryptMessageNext(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, plaintext: *mut CK_BYTE, plaintext_len: CK_ULONG, ciphertext: *mut CK_BYTE, ciphertext_len: *mut CK_ULONG, flags: CK_FLAGS) {
        // SAFETY: as for `C_EncryptMessage`.
        unsafe { next(Direction::Encrypt, session, parameter, parameter_len, plaintext, plaintext_len, ciphertext, ciphertext_len, flags) }
    }
    /// `C_MessageEncryptFinal`.
    fn C_MessageEncryptFinal(session: CK_SESSION_HANDLE) {
        super::session_provider(session)?.message_final(session, Direction::Encrypt)
    }
    /// `C_MessageDecryptInit`: `CKM_AES_GCM` only.
    fn C_MessageDecryptInit(session: CK_SESSION_HANDLE, mechanism: *mut CK_MECHANISM, key: CK_OBJECT_HANDLE) {
        let provider = super::session_provider(session)?;
        // SAFETY: `mechanism` is NULL or the caller's CK_MECHANISM.
        let kind = unsafe { message_mechanism(mechanism) }?;
        provider.message_init(session, Direction::Decrypt, kind, key)
    }
    /// `C_DecryptMessage`: one whole message, checked against the
    /// parameter's `pTag` before any plaintext is given.
    fn C_DecryptMessage(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, aad: *mut CK_BYTE, aad_len: CK_ULONG, ciphertext: *mut CK_BYTE, ciphertext_len: CK_ULONG, plaintext: *mut CK_BYTE, plaintext_len: *mut CK_ULONG) {
        // SAFETY: the caller's arguments, as PKCS#11 3.0 §5.11 gives them.
        unsafe { single(Direction::Decrypt, session, parameter, parameter_len, aad, aad_len, ciphertext, ciphertext_len, plaintext, plaintext_len) }
    }
    /// `C_DecryptMessageBegin`.
    fn C_DecryptMessageBegin(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, aad: *mut CK_BYTE, aad_len: CK_ULONG) {
        // SAFETY: as for `C_DecryptMessage`.
        unsafe { begin(Direction::Decrypt, session, parameter, parameter_len, aad, aad_len) }
    }
    /// `C_DecryptMessageNext`: the plaintext comes with the last part,
    /// once the tag of that call's parameter has been checked.
    fn C_DecryptMessageNext(session: CK_SESSION_HANDLE, parameter: *mut c_void, parameter_len: CK_ULONG, ciphertext: *mut CK_BYTE, ciphertext_len: CK_ULONG, plaintext: *mut CK_BYTE, plaintext_len: *mut CK_ULONG, flags: CK_FLAGS) {
        // SAFETY: as for `C_DecryptMessage`.
        unsafe { next(Direction::Decrypt, session, parameter, parameter_len, ciphertext, ciphertext_len, plaintext, plaintext_len, flags) }
    }
    /// `C_MessageDecryptFinal`.
    fn C_MessageDecryptFinal(session: CK_SESSION_HANDLE) {
        super::session_provider(session)?.message_final(session, Direction::Decrypt)
    }
}
