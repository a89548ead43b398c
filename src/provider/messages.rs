//! The message-based encryption API of PKCS#11 3.0 (§5.9, §5.11) for
//! AES-GCM: `C_MessageEncryptInit` opens a context on a key, each message
//! then carries its own IV, associated data and tag (`CK_GCM_MESSAGE_PARAMS`),
//! and `C_MessageEncryptFinal` closes the context.
//!
//! Each message is one single-part `CKM_AES_GCM` operation of the device,
//! so the key's usage flags, its allowed mechanisms and the login rules are
//! the device's, checked once at the context's start and again on every
//! message, and any device that does AES-GCM (the vendor's too) serves the
//! message API. A message given in parts (`C_EncryptMessageBegin`, then
//! `C_EncryptMessageNext` until `CKF_END_OF_MESSAGE`) is gathered here and
//! processed at its end: a decrypted part is never released before its tag
//! has been checked.
//!
//! IVs of encryption come from the context when the caller asks
//! (`CKG_GENERATE*`): a counter starting at zero in the bits after the
//! caller's fixed ones (the deterministic construction of NIST SP 800-38D
//! §8.2.1), the same counter XORed into the caller's first IV, or random
//! bits (§8.2.2, only with at least 96 of them). A counter never repeats
//! within a context: when it has run through its bits, the context refuses
//! to encrypt more. A context keeps the generator (or `CKG_NO_GENERATE`) of
//! its first message, and a counter keeps the IV length and fixed bits of
//! its first IV, so that no two constructions can meet on one IV.

use super::Provider;
use crate::device::{Mechanism, MechanismParameter};
use crate::error::{Error, Result};
use crate::object::{Access, Handle};
use crate::session::{ensure_idle, Active, Direction, Output, Session};
use cryptoki_sys::*;
use zeroize::Zeroizing;

/// The most a message given in parts may hold, as for any one buffer.
const MAX_MESSAGE: usize = 64 << 20;

/// The random part of a generated IV must be at least this long (NIST SP
/// 800-38D §8.2.2), and a context draws at most [`MAX_RANDOM_IVS`] of them.
const MIN_RANDOM_IV_BITS: usize = 96;
const MAX_RANDOM_IVS: u64 = 1 << 32;

/// One message's `CK_GCM_MESSAGE_PARAMS`, as read from the caller.
#[derive(Clone, Debug)]
pub(crate) struct MessageParameter {
    /// `pIv`: the IV (decryption), or its fixed part and, for
    /// `CKG_GENERATE_COUNTER_XOR`, the value the counter is XORed into.
    pub iv: Vec<u8>,
    pub iv_fixed_bits: CK_ULONG,
    pub generator: CK_GENERATOR_FUNCTION,
    /// `pTag` as given: the tag to check (decryption); ignored otherwise.
    pub tag: Vec<u8>,
    pub tag_bits: CK_ULONG,
}

/// What a finished message gives back through its parameter: the IV it
/// was encrypted under (to write to `pIv`) and its tag (to `pTag`).
#[derive(Debug, Default)]
pub(crate) struct MessageResult {
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
}

/// A message-based encryption or decryption context.
pub(crate) struct MessageCipher {
    key: Handle,
    direction: Direction,
    /// The next value of the IV counter (`CKG_GENERATE`, `_COUNTER`, `_COUNTER_XOR`).
    counter: u128,
    /// The IV length and counter bits of the first counter IV: later ones
    /// must keep them, or a counter value placed after a longer fixed part
    /// could rebuild an IV already used.
    counter_layout: Option<(usize, usize)>,
    /// The IV the counter is XORed into, taken from the first message
    /// that asked for `CKG_GENERATE_COUNTER_XOR`.
    xor_base: Option<Vec<u8>>,
    /// The generator of the first IV the context made or was given
    /// (encryption): later messages must use it too.
    construction: Option<CK_GENERATOR_FUNCTION>,
    random_ivs: u64,
    /// The message given in parts, between its `Begin` and its last `Next`.
    current: Option<PartialMessage>,
}

/// A message between `C_*MessageBegin` and its last part.
struct PartialMessage {
    iv: Vec<u8>,
    aad: Vec<u8>,
    data: Zeroizing<Vec<u8>>,
}

impl MessageCipher {
    /// The IV of the next message encrypted with `parameter`, counting it.
    /// A context keeps the IV construction of its first message: a counter
    /// shared by fixed parts of other lengths, by the XORed form, or by IVs
    /// the caller gives could rebuild an IV already used.
    fn next_iv(
        &mut self,
        parameter: &MessageParameter,
        random: impl FnOnce(&mut [u8]) -> Result<()>,
    ) -> Result<Vec<u8>> {
        let length = parameter.iv.len();
        let fixed = usize::try_from(parameter.iv_fixed_bits).unwrap_or(usize::MAX);
        if length == 0 || fixed > length * 8 {
            return Err(Error::MechanismParamInvalid(
                "CK_GCM_MESSAGE_PARAMS: the IV is empty or shorter than its fixed bits",
            ));
        }
        if self
            .construction
            .is_some_and(|first| first != parameter.generator)
        {
            return Err(Error::MechanismParamInvalid(
                "CK_GCM_MESSAGE_PARAMS: the IV generator changed within the context",
            ));
        }
        let free = length * 8 - fixed;
        let iv = match parameter.generator {
            CKG_NO_GENERATE => parameter.iv.clone(),
            CKG_GENERATE | CKG_GENERATE_COUNTER | CKG_GENERATE_COUNTER_XOR => {
                if self
                    .counter_layout
                    .is_some_and(|layout| layout != (length, free))
                {
                    return Err(Error::MechanismParamInvalid(
                        "CK_GCM_MESSAGE_PARAMS: the IV length or fixed bits changed within the context",
                    ));
                }
                let counter = self.take_counter(free)?;
                self.counter_layout = Some((length, free));
                let xor = parameter.generator == CKG_GENERATE_COUNTER_XOR;
                let mut iv = if xor {
                    self.xor_base
                        .get_or_insert_with(|| parameter.iv.clone())
                        .clone()
                } else {
                    parameter.iv.clone()
                };
                set_low_bits(&mut iv, free, counter, xor);
                iv
            }
            CKG_GENERATE_RANDOM => {
                if free < MIN_RANDOM_IV_BITS {
                    return Err(Error::MechanismParamInvalid(
                        "CKG_GENERATE_RANDOM needs at least 96 bits of the IV to draw",
                    ));
                }
                if self.random_ivs >= MAX_RANDOM_IVS {
                    return Err(Error::KeyFunctionNotPermitted(
                        "this context has drawn 2^32 random IVs, the most NIST SP 800-38D allows",
                    ));
                }
                let mut drawn = vec![0u8; length];
                random(&mut drawn)?;
                let mut iv = parameter.iv.clone();
                merge_low_bits(&mut iv, &drawn, free);
                self.random_ivs += 1;
                iv
            }
            _ => {
                return Err(Error::MechanismParamInvalid(
                    "CK_GCM_MESSAGE_PARAMS: unknown IV generator",
                ))
            }
        };
        self.construction = Some(parameter.generator);
        Ok(iv)
    }

    /// The counter's current value, advanced; refused once `bits` of
    /// counter are used up, since the next IV would repeat one.
    fn take_counter(&mut self, bits: usize) -> Result<u128> {
        let limit = if bits >= 128 {
            u128::MAX
        } else {
            1u128 << bits
        };
        if bits == 0 || self.counter >= limit {
            return Err(Error::KeyFunctionNotPermitted(
                "the IV counter of this context is used up: a new IV would repeat one",
            ));
        }
        let value = self.counter;
        self.counter += 1;
        Ok(value)
    }
}

/// Writes `value` into the low `bits` bits of `iv` (big-endian), or XORs
/// it in (`xor`).
fn set_low_bits(iv: &mut [u8], bits: usize, value: u128, xor: bool) {
    for (index, byte) in iv.iter_mut().rev().enumerate() {
        let shift = index * 8;
        if shift >= bits {
            break;
        }
        let mask: u8 = if bits - shift >= 8 {
            0xff
        } else {
            (1u8 << (bits - shift)) - 1
        };
        let part = if shift < 128 {
            (value >> shift) as u8
        } else {
            0
        } & mask;
        *byte = if xor {
            *byte ^ part
        } else {
            (*byte & !mask) | part
        };
    }
}

/// Copies the low `bits` bits of `drawn` into `iv` (same length).
fn merge_low_bits(iv: &mut [u8], drawn: &[u8], bits: usize) {
    for (index, (byte, new)) in iv.iter_mut().rev().zip(drawn.iter().rev()).enumerate() {
        let shift = index * 8;
        if shift >= bits {
            break;
        }
        let mask: u8 = if bits - shift >= 8 {
            0xff
        } else {
            (1u8 << (bits - shift)) - 1
        };
        *byte = (*byte & !mask) | (new & mask);
    }
}

/// The `CKM_AES_GCM` mechanism of one message. Its parameter is given
/// both parsed (for the software device) and as the bytes of a
/// `CK_GCM_PARAMS` pointing at `iv` and `aad` (for a device that forwards
/// it), so both must outlive the operation made with it.
fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> Mechanism {
    const _: () = assert!(std::mem::size_of::<CK_GCM_PARAMS>() == 6 * std::mem::size_of::<usize>());
    let words: [usize; 6] = [
        iv.as_ptr() as usize,
        iv.len(),
        iv.len() * 8,
        aad.as_ptr() as usize,
        aad.len(),
        tag_bits as usize,
    ];
    Mechanism {
        kind: CKM_AES_GCM,
        parameter: MechanismParameter::Gcm {
            iv: iv.to_vec(),
            aad: aad.to_vec(),
            tag_bits,
        },
        caller_parameter: Some(words.iter().flat_map(|word| word.to_ne_bytes()).collect()),
    }
}

/// The tag length in bytes of `parameter`; the device checks the range.
fn tag_length(parameter: &MessageParameter) -> Result<usize> {
    if !parameter.tag_bits.is_multiple_of(8) || !(96..=128).contains(&parameter.tag_bits) {
        return Err(Error::MechanismParamInvalid(
            "AES-GCM tag must be 96 to 128 bits, in whole bytes",
        ));
    }
    Ok(parameter.tag_bits as usize / 8)
}

/// The message slot of `direction`.
fn slot(session: &mut Session, direction: Direction) -> &mut Option<Active<MessageCipher>> {
    match direction {
        Direction::Encrypt => &mut session.operations.message_encrypt,
        Direction::Decrypt => &mut session.operations.message_decrypt,
    }
}

/// The output of a call that produces `needed` bytes into `capacity`
/// (`None` for a length query): `Some` when the call must stop here.
fn short_of(needed: usize, capacity: Option<usize>) -> Option<Output> {
    match capacity {
        Some(room) if room >= needed => None,
        _ => Some(Output::Pending(needed)),
    }
}

impl Provider {
    /// Runs one whole AES-GCM message through the device: `data` is the
    /// plaintext (encryption) or the ciphertext (decryption, whose tag is
    /// in `parameter`).
    fn run_message(
        &self,
        access: &Access,
        context: &mut MessageCipher,
        iv: Vec<u8>,
        aad: &[u8],
        data: &[u8],
        parameter: &MessageParameter,
    ) -> Result<(Vec<u8>, MessageResult)> {
        let tag_length = tag_length(parameter)?;
        let mechanism = gcm(&iv, aad, parameter.tag_bits);
        match context.direction {
            Direction::Encrypt => {
                let mut operation = self
                    .device()
                    .encrypt_init(access, &mechanism, context.key)?;
                let mut output = operation.one_shot(data)?;
                if output.len() != data.len() + tag_length {
                    return Err(Error::Internal(
                        "AES-GCM gave output of an unexpected length",
                    ));
                }
                let tag = output.split_off(data.len());
                Ok((output, MessageResult { iv, tag }))
            }
            Direction::Decrypt => {
                if parameter.tag.len() != tag_length {
                    return Err(Error::MechanismParamInvalid(
                        "CK_GCM_MESSAGE_PARAMS: pTag must hold ulTagBits / 8 bytes",
                    ));
                }
                let mut sealed = Zeroizing::new(Vec::with_capacity(data.len() + tag_length));
                sealed.extend_from_slice(data);
                sealed.extend_from_slice(&parameter.tag);
                let mut operation = self
                    .device()
                    .decrypt_init(access, &mechanism, context.key)?;
                let plaintext = operation.one_shot(&sealed)?;
                Ok((
                    plaintext,
                    MessageResult {
                        iv,
                        tag: Vec::new(),
                    },
                ))
            }
        }
    }

    /// The IV of a new message: generated or given (encryption), given (decryption).
    fn message_iv(
        &self,
        access: &Access,
        context: &mut MessageCipher,
        parameter: &MessageParameter,
    ) -> Result<Vec<u8>> {
        match context.direction {
            Direction::Encrypt => {
                context.next_iv(parameter, |out| self.device().generate_random(access, out))
            }
            Direction::Decrypt if parameter.iv.is_empty() => Err(Error::MechanismParamInvalid(
                "CK_GCM_MESSAGE_PARAMS: the IV is empty",
            )),
            Direction::Decrypt => Ok(parameter.iv.clone()),
        }
    }

    /// `C_MessageEncryptInit` / `C_MessageDecryptInit`: only `CKM_AES_GCM`;
    /// the key is tried by the device at once, so a key that may not
    /// encrypt (or decrypt) fails here with the device's error.
    pub(crate) fn message_init(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        mechanism: CK_MECHANISM_TYPE,
        key: Handle,
    ) -> Result<()> {
        if mechanism != CKM_AES_GCM {
            return Err(Error::MechanismInvalid(mechanism));
        }
        let key = self.operation_key(key)?;
        self.with_session(handle, |session, access| {
            ensure_idle(slot(session, direction))?;
            let probe = gcm(&[0u8; 12], &[], 128);
            match direction {
                Direction::Encrypt => drop(self.device().encrypt_init(access, &probe, key)?),
                Direction::Decrypt => drop(self.device().decrypt_init(access, &probe, key)?),
            }
            *slot(session, direction) = Some(Active::new(Box::new(MessageCipher {
                key,
                direction,
                counter: 0,
                counter_layout: None,
                xor_base: None,
                construction: None,
                random_ivs: 0,
                current: None,
            })));
            Ok(())
        })
    }

    /// `C_EncryptMessage` / `C_DecryptMessage`: one whole message. A length
    /// query or a short buffer changes nothing (no IV is drawn); an error
    /// ends this message only, never the context.
    pub(crate) fn message_single(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        parameter: &MessageParameter,
        aad: &[u8],
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<(Output, MessageResult)> {
        self.with_session(handle, |session, access| {
            let context = &mut slot(session, direction)
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?
                .operation;
            if context.current.is_some() {
                return Err(Error::OperationActive);
            }
            tag_length(parameter)?;
            if let Some(short) = short_of(data.len(), capacity) {
                return Ok((short, MessageResult::default()));
            }
            let iv = self.message_iv(access, context, parameter)?;
            let (output, result) = self.run_message(access, context, iv, aad, data, parameter)?;
            Ok((Output::Ready(output), result))
        })
    }

    /// `C_EncryptMessageBegin` / `C_DecryptMessageBegin`: the IV is drawn
    /// now (returned to the caller's `pIv`), the parts follow.
    pub(crate) fn message_begin(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        parameter: &MessageParameter,
        aad: &[u8],
    ) -> Result<Vec<u8>> {
        self.with_session(handle, |session, access| {
            let context = &mut slot(session, direction)
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?
                .operation;
            if context.current.is_some() {
                return Err(Error::OperationActive);
            }
            tag_length(parameter)?;
            let iv = self.message_iv(access, context, parameter)?;
            context.current = Some(PartialMessage {
                iv: iv.clone(),
                aad: aad.to_vec(),
                data: Zeroizing::new(Vec::new()),
            });
            Ok(iv)
        })
    }

    /// `C_EncryptMessageNext` / `C_DecryptMessageNext`: a part is gathered
    /// (no output); the last (`end`) runs the whole message, whose tag
    /// comes from (decryption) or goes to (encryption) this call's
    /// parameter. A length query or a short buffer changes nothing; an
    /// error ends the message, not the context.
    pub(crate) fn message_next(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        parameter: &MessageParameter,
        data: &[u8],
        capacity: Option<usize>,
        end: bool,
    ) -> Result<(Output, MessageResult)> {
        self.with_session(handle, |session, access| {
            let context = &mut slot(session, direction)
                .as_mut()
                .ok_or(Error::OperationNotInitialized)?
                .operation;
            let gathered = context
                .current
                .as_ref()
                .ok_or(Error::OperationNotInitialized)?
                .data
                .len();
            let needed = if end {
                gathered.saturating_add(data.len())
            } else {
                0
            };
            if let Some(short) = short_of(needed, capacity) {
                return Ok((short, MessageResult::default()));
            }
            let Some(mut message) = context.current.take() else {
                return Err(Error::OperationNotInitialized);
            };
            if gathered.saturating_add(data.len()) > MAX_MESSAGE {
                return Err(Error::DataLenRange);
            }
            message.data.extend_from_slice(data);
            if !end {
                context.current = Some(message);
                return Ok((Output::Ready(Vec::new()), MessageResult::default()));
            }
            let (output, result) = self.run_message(
                access,
                context,
                message.iv.clone(),
                &message.aad,
                &message.data,
                parameter,
            )?;
            Ok((Output::Ready(output), result))
        })
    }

    /// `Ok` when a message-based context of `direction` is active in the
    /// session: checked before the parameter is read, so that a call
    /// without a context says so whatever its arguments.
    pub(crate) fn message_active(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
    ) -> Result<()> {
        self.with_session(handle, |session, _| {
            slot(session, direction)
                .as_ref()
                .map(|_| ())
                .ok_or(Error::OperationNotInitialized)
        })
    }

    /// `C_MessageEncryptFinal` / `C_MessageDecryptFinal`: the context
    /// ends, with any message left unfinished.
    pub(crate) fn message_final(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
    ) -> Result<()> {
        self.with_session(handle, |session, _| {
            let slot = slot(session, direction);
            slot.take().ok_or(Error::OperationNotInitialized)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> MessageCipher {
        MessageCipher {
            key: 1,
            direction: Direction::Encrypt,
            counter: 0,
            counter_layout: None,
            xor_base: None,
            construction: None,
            random_ivs: 0,
            current: None,
        }
    }

    fn parameter(
        iv: Vec<u8>,
        fixed: CK_ULONG,
        generator: CK_GENERATOR_FUNCTION,
    ) -> MessageParameter {
        MessageParameter {
            iv,
            iv_fixed_bits: fixed,
            generator,
            tag: Vec::new(),
            tag_bits: 128,
        }
    }

    fn no_random(_: &mut [u8]) -> Result<()> {
        panic!("no random bits expected")
    }

    #[test]
    fn a_counter_fills_the_bits_after_the_fixed_ones_from_zero() {
        let mut context = context();
        let p = parameter(vec![0xAB; 12], 32, CKG_GENERATE_COUNTER);
        let first = context.next_iv(&p, no_random).unwrap();
        let second = context.next_iv(&p, no_random).unwrap();
        assert_eq!(first, [0xAB, 0xAB, 0xAB, 0xAB, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(second, [0xAB, 0xAB, 0xAB, 0xAB, 0, 0, 0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn a_counter_of_few_bits_keeps_the_fixed_bits_of_a_shared_byte_and_then_is_used_up() {
        let mut context = context();
        // 94 fixed bits: two bits of counter, four IVs, then a refusal.
        let p = parameter(vec![0xFF; 12], 94, CKG_GENERATE_COUNTER);
        let last_bytes: Vec<u8> = (0..4)
            .map(|_| context.next_iv(&p, no_random).unwrap()[11])
            .collect();
        assert_eq!(last_bytes, [0xFC, 0xFD, 0xFE, 0xFF]);
        assert!(matches!(
            context.next_iv(&p, no_random),
            Err(Error::KeyFunctionNotPermitted(_))
        ));
    }

    #[test]
    fn the_xor_counter_runs_over_the_first_iv_of_the_context() {
        let mut context = context();
        let first = parameter(vec![0x0F; 12], 0, CKG_GENERATE_COUNTER_XOR);
        assert_eq!(context.next_iv(&first, no_random).unwrap(), vec![0x0F; 12]);
        // The caller may hand back the IV it was given: the base stays the first one.
        let again = parameter(vec![0x0F; 12], 0, CKG_GENERATE_COUNTER_XOR);
        let mut expected = vec![0x0F; 12];
        expected[11] = 0x0E;
        assert_eq!(context.next_iv(&again, no_random).unwrap(), expected);
    }

    #[test]
    fn random_ivs_keep_the_fixed_bits_and_need_96_drawn_bits() {
        let mut context = context();
        let p = parameter(vec![0x11; 16], 32, CKG_GENERATE_RANDOM);
        let iv = context
            .next_iv(&p, |out| {
                out.fill(0xEE);
                Ok(())
            })
            .unwrap();
        assert_eq!(&iv[..4], &[0x11; 4]);
        assert_eq!(&iv[4..], &[0xEE; 12]);
        let short = parameter(vec![0x11; 12], 8, CKG_GENERATE_RANDOM);
        assert!(matches!(
            context.next_iv(&short, no_random),
            Err(Error::MechanismParamInvalid(_))
        ));
    }

    #[test]
    fn fixed_bits_beyond_the_iv_and_unknown_generators_are_refused() {
        let mut context = context();
        for p in [
            parameter(vec![0; 12], 97, CKG_GENERATE_COUNTER),
            parameter(vec![], 0, CKG_NO_GENERATE),
            parameter(vec![0; 12], 0, 99),
            parameter(vec![0; 12], 96, CKG_GENERATE),
        ] {
            assert!(context.next_iv(&p, no_random).is_err(), "{p:?}");
        }
    }

    #[test]
    fn a_context_keeps_the_generator_of_its_first_message() {
        let counter = parameter(vec![0; 12], 32, CKG_GENERATE_COUNTER);
        let xor = parameter(vec![0; 12], 32, CKG_GENERATE_COUNTER_XOR);
        let given = parameter(vec![0; 12], 0, CKG_NO_GENERATE);
        let random = parameter(vec![0; 16], 0, CKG_GENERATE_RANDOM);
        let draw = |out: &mut [u8]| {
            out.fill(1);
            Ok(())
        };
        for (first, then) in [
            (&counter, &xor),
            (&xor, &counter),
            (&counter, &given),
            (&given, &counter),
            (&random, &counter),
        ] {
            let mut context = context();
            context.next_iv(first, draw).unwrap();
            assert!(
                matches!(
                    context.next_iv(then, draw),
                    Err(Error::MechanismParamInvalid(_))
                ),
                "{first:?} then {then:?}"
            );
            context.next_iv(first, draw).unwrap();
        }
        // A refused first message fixes nothing.
        let mut context = context();
        let too_short = parameter(vec![0; 12], 96, CKG_GENERATE_COUNTER);
        assert!(context.next_iv(&too_short, no_random).is_err());
        assert_eq!(context.next_iv(&xor, no_random).unwrap(), vec![0; 12]);
    }

    #[test]
    fn a_counter_context_keeps_the_iv_length_and_fixed_bits_of_its_first_iv() {
        let mut context = context();
        let first = parameter(vec![0xAB; 12], 32, CKG_GENERATE_COUNTER);
        context.next_iv(&first, no_random).unwrap();
        for changed in [
            parameter(vec![0xAB; 12], 40, CKG_GENERATE_COUNTER),
            parameter(vec![0xAB; 16], 32, CKG_GENERATE),
        ] {
            assert!(
                matches!(
                    context.next_iv(&changed, no_random),
                    Err(Error::MechanismParamInvalid(_))
                ),
                "{changed:?}"
            );
        }
        let mut expected = vec![0xAB; 4];
        expected.extend([0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(context.next_iv(&first, no_random).unwrap(), expected);
    }
}
