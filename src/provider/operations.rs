//! The cryptographic operations of a session (PKCS#11 3.0 §5.8 to §5.14):
//! each `*_init` asks the device for an operation object, each later call
//! drives it through [`crate::session::produce`] so length queries and short
//! buffers behave as the specification says. Also the key functions
//! (§5.15, §5.16) and random numbers (§5.17).

use super::Provider;
use crate::device::{
    DecapsulateRequest, DeriveRequest, DerivedKeys, Device, EncapsulateRequest, Encapsulated,
    KeyPair, KeyPairRequest, KeyRequest, Mechanism, UnwrapRequest, WrapRequest,
};
use crate::error::{Error, Result};
use crate::object::{self, Access, Handle};
use crate::session::{consume, ensure_idle, produce, Active, Direction, Output, Session, Step};
use cryptoki_sys::CK_SESSION_HANDLE;

/// The operations a `C_*Init` starts on a key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeyOperation {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
}

/// The operations whose `C_*Update` takes data in and gives nothing out.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Absorbing {
    Digest,
    Sign,
    Verify,
}

/// The operations whose `C_*Final` gives output.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Finishing {
    Encrypt,
    Decrypt,
    Digest,
    Sign,
}

/// Which operation of a session a call drives: one of its slots.
type Slot<O> = fn(&mut Session) -> &mut Option<Active<O>>;

impl Provider {
    /// Installs the operation `init` makes in the slot `slot` picks
    /// (`CKR_OPERATION_ACTIVE` when one is there already).
    fn start<O: ?Sized>(
        &self,
        handle: CK_SESSION_HANDLE,
        slot: Slot<O>,
        init: impl FnOnce(&dyn Device, &Access) -> Result<Box<O>>,
    ) -> Result<()> {
        self.with_session(handle, |session, access| {
            let slot = slot(session);
            ensure_idle(slot)?;
            *slot = Some(Active::new(init(self.device(), access)?));
            Ok(())
        })
    }

    /// One output-producing call of an active operation (see [`produce`]).
    fn produce_in<O: ?Sized>(
        &self,
        handle: CK_SESSION_HANDLE,
        slot: Slot<O>,
        step: Step,
        capacity: Option<usize>,
        compute: impl FnOnce(&mut O) -> Result<Vec<u8>>,
    ) -> Result<Output> {
        self.with_session(handle, |session, _| {
            produce(slot(session), step, capacity, compute)
        })
    }

    /// One call of an active operation that produces no output (see [`consume`]).
    fn consume_in<O: ?Sized>(
        &self,
        handle: CK_SESSION_HANDLE,
        slot: Slot<O>,
        step: Step,
        call: impl FnOnce(&mut O) -> Result<()>,
    ) -> Result<()> {
        self.with_session(handle, |session, _| consume(slot(session), step, call))
    }

    /// `C_EncryptInit`, `C_DecryptInit`, `C_SignInit`, `C_VerifyInit`: the
    /// device makes the operation on `key` (never a certificate).
    pub(crate) fn init(
        &self,
        handle: CK_SESSION_HANDLE,
        kind: KeyOperation,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<()> {
        let key = self.operation_key(key)?;
        match kind {
            KeyOperation::Encrypt => self.start(handle, ENCRYPT, |device, access| {
                device.encrypt_init(access, mechanism, key)
            }),
            KeyOperation::Decrypt => self.start(handle, DECRYPT, |device, access| {
                device.decrypt_init(access, mechanism, key)
            }),
            KeyOperation::Sign => self.start(handle, SIGN, |device, access| {
                device.sign_init(access, mechanism, key)
            }),
            KeyOperation::Verify => self.start(handle, VERIFY, |device, access| {
                device.verify_init(access, mechanism, key)
            }),
        }
    }

    /// `C_DigestUpdate`, `C_SignUpdate`, `C_VerifyUpdate`: `data` is taken
    /// in, nothing comes out.
    pub(crate) fn absorb(
        &self,
        handle: CK_SESSION_HANDLE,
        kind: Absorbing,
        data: &[u8],
    ) -> Result<()> {
        match kind {
            Absorbing::Digest => {
                self.consume_in(handle, DIGEST, Step::Update, |op| op.update(data))
            }
            Absorbing::Sign => self.consume_in(handle, SIGN, Step::Update, |op| op.update(data)),
            Absorbing::Verify => {
                self.consume_in(handle, VERIFY, Step::Update, |op| op.update(data))
            }
        }
    }

    /// `C_EncryptFinal`, `C_DecryptFinal`, `C_DigestFinal`, `C_SignFinal`:
    /// the last output of a multi-part operation, under the buffer rules
    /// of [`produce`].
    pub(crate) fn finish(
        &self,
        handle: CK_SESSION_HANDLE,
        kind: Finishing,
        capacity: Option<usize>,
    ) -> Result<Output> {
        let step = Step::Final;
        match kind {
            Finishing::Encrypt => {
                self.produce_in(handle, ENCRYPT, step, capacity, |op| op.finish())
            }
            Finishing::Decrypt => {
                self.produce_in(handle, DECRYPT, step, capacity, |op| op.finish())
            }
            Finishing::Digest => self.produce_in(handle, DIGEST, step, capacity, |op| op.finish()),
            Finishing::Sign => self.produce_in(handle, SIGN, step, capacity, |op| op.finish()),
        }
    }

    /// `C_Encrypt` / `C_Decrypt` (`step` [`Step::Single`]) and
    /// `C_EncryptUpdate` / `C_DecryptUpdate` ([`Step::Update`]).
    pub(crate) fn cipher(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        step: Step,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        let slot = cipher_slot(direction);
        self.produce_in(handle, slot, step, capacity, |op| match step {
            Step::Single => op.one_shot(data),
            Step::Update | Step::Final => op.update(data),
        })
    }

    /// `C_DigestInit`.
    pub(crate) fn digest_init(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
    ) -> Result<()> {
        self.start(handle, DIGEST, |device, access| {
            device.digest_init(access, mechanism)
        })
    }

    /// `C_Digest`.
    pub(crate) fn digest(
        &self,
        handle: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.produce_in(handle, DIGEST, Step::Single, capacity, |op| op.digest(data))
    }

    /// `C_DigestKey` (PKCS#11 3.0 §5.12): continues the digest with the
    /// value of a secret key. The device never hands out a sensitive
    /// key's value, so only a non-sensitive secret key can be digested;
    /// any other key is [`Error::KeyIndigestible`] and the digest goes on.
    pub(crate) fn digest_key(&self, handle: CK_SESSION_HANDLE, key: Handle) -> Result<()> {
        use crate::object::{decode_ulong, AttributeResult};
        use cryptoki_sys::{CKA_CLASS, CKA_VALUE, CKO_SECRET_KEY};
        self.with_session(handle, |s, access| {
            if s.operations.digest.is_none() {
                return Err(Error::OperationNotInitialized);
            }
            let key = self.operation_key(key)?;
            // A device that digests keys itself (a vendor module) does it
            // here, with its own rules and return codes.
            let mut by_device = false;
            consume(&mut s.operations.digest, Step::Update, |op| {
                op.digest_key(key).map_or(Ok(()), |result| {
                    by_device = true;
                    result
                })
            })?;
            if by_device {
                return Ok(());
            }
            let attributes = self
                .device()
                .get_attributes(access, key, &[CKA_CLASS, CKA_VALUE])
                .map_err(|error| match error {
                    Error::ObjectHandleInvalid => Error::KeyHandleInvalid,
                    other => other,
                })?;
            let value = match attributes.as_slice() {
                [AttributeResult::Value(class), AttributeResult::Value(value)]
                    if decode_ulong(class) == Some(CKO_SECRET_KEY) =>
                {
                    value
                }
                // The operation stays as it was: no consume ran.
                _ => return Err(Error::KeyIndigestible),
            };
            consume(&mut s.operations.digest, Step::Update, |op| {
                op.update(value)
            })
        })
    }

    /// `C_Sign`.
    pub(crate) fn sign(
        &self,
        handle: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.produce_in(handle, SIGN, Step::Single, capacity, |op| op.sign(data))
    }

    /// `C_Verify`.
    pub(crate) fn verify(
        &self,
        handle: CK_SESSION_HANDLE,
        data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        self.consume_in(handle, VERIFY, Step::Single, |op| {
            op.verify(data, signature)
        })
    }

    /// `C_VerifyFinal`.
    pub(crate) fn verify_final(&self, handle: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        self.consume_in(handle, VERIFY, Step::Final, |op| op.finish(signature))
    }

    /// `C_SessionCancel` (3.0): ends the operations named by `flags`.
    pub(crate) fn cancel(
        &self,
        handle: CK_SESSION_HANDLE,
        flags: cryptoki_sys::CK_FLAGS,
    ) -> Result<()> {
        self.with_session(handle, |s, _| {
            s.operations.cancel(flags);
            if flags & cryptoki_sys::CKF_FIND_OBJECTS != 0 {
                s.search = None;
            }
            Ok(())
        })
    }

    /// `C_SeedRandom`: [`Error::RandomSeedNotSupported`] when the device
    /// takes no seed.
    pub(crate) fn seed_random(&self, handle: CK_SESSION_HANDLE, seed: &[u8]) -> Result<()> {
        match self.with_session(handle, |_, access| self.device().seed_random(access, seed))? {
            true => Ok(()),
            false => Err(Error::RandomSeedNotSupported),
        }
    }

    /// `C_GenerateRandom`.
    pub(crate) fn generate_random(&self, handle: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<()> {
        self.with_session(handle, |_, access| {
            self.device().generate_random(access, out)
        })
    }

    // ----- keys (§5.15, §5.16) -----

    /// Checks a key handle for an operation's `*Init` call: a certificate
    /// handle is never a key (`CKR_KEY_HANDLE_INVALID`).
    pub(crate) fn operation_key(&self, key: Handle) -> Result<Handle> {
        if object::is_certificate_handle(key) {
            return Err(Error::KeyHandleInvalid);
        }
        Ok(key)
    }

    /// `C_GenerateKey`.
    pub(crate) fn generate_key(
        &self,
        handle: CK_SESSION_HANDLE,
        request: KeyRequest<'_>,
    ) -> Result<Handle> {
        let access = self.access(handle)?;
        self.device().generate_key(&access, request)
    }

    /// `C_GenerateKeyPair`.
    pub(crate) fn generate_key_pair(
        &self,
        handle: CK_SESSION_HANDLE,
        request: KeyPairRequest<'_>,
    ) -> KeyPair {
        let access = self.access(handle)?;
        self.device().generate_key_pair(&access, request)
    }

    /// `C_WrapKey`: a certificate neither wraps nor is wrapped.
    pub(crate) fn wrap_key(
        &self,
        handle: CK_SESSION_HANDLE,
        request: WrapRequest<'_>,
    ) -> Result<Vec<u8>> {
        if object::is_certificate_handle(request.wrapping_key) {
            return Err(Error::WrappingKeyHandleInvalid);
        }
        let key = self.operation_key(request.key)?;
        let access = self.access(handle)?;
        self.device()
            .wrap_key(&access, WrapRequest { key, ..request })
    }

    /// `C_UnwrapKey`: a certificate does not unwrap.
    pub(crate) fn unwrap_key(
        &self,
        handle: CK_SESSION_HANDLE,
        request: UnwrapRequest<'_>,
    ) -> Result<Handle> {
        if object::is_certificate_handle(request.unwrapping_key) {
            return Err(Error::UnwrappingKeyHandleInvalid);
        }
        let access = self.access(handle)?;
        self.device().unwrap_key(&access, request)
    }

    /// `C_DeriveKey`: a certificate is no base key.
    pub(crate) fn derive_key(
        &self,
        handle: CK_SESSION_HANDLE,
        request: DeriveRequest<'_>,
    ) -> Result<DerivedKeys> {
        let base_key = self.operation_key(request.base_key)?;
        let access = self.access(handle)?;
        self.device().derive_key(
            &access,
            DeriveRequest {
                base_key,
                ..request
            },
        )
    }

    /// `C_EncapsulateKey` (3.2): a certificate is no public key.
    pub(crate) fn encapsulate_key(
        &self,
        handle: CK_SESSION_HANDLE,
        request: EncapsulateRequest<'_>,
    ) -> Result<Encapsulated> {
        let public_key = self.operation_key(request.public_key)?;
        let access = self.access(handle)?;
        self.device().encapsulate_key(
            &access,
            EncapsulateRequest {
                public_key,
                ..request
            },
        )
    }

    /// `C_DecapsulateKey` (3.2): a certificate is no private key.
    pub(crate) fn decapsulate_key(
        &self,
        handle: CK_SESSION_HANDLE,
        request: DecapsulateRequest<'_>,
    ) -> Result<Handle> {
        let private_key = self.operation_key(request.private_key)?;
        let access = self.access(handle)?;
        self.device().decapsulate_key(
            &access,
            DecapsulateRequest {
                private_key,
                ..request
            },
        )
    }
}

/// The encryption or the decryption slot.
fn cipher_slot(direction: Direction) -> Slot<dyn crate::device::CipherOperation> {
    match direction {
        Direction::Encrypt => ENCRYPT,
        Direction::Decrypt => DECRYPT,
    }
}

/// The encryption slot.
const ENCRYPT: Slot<dyn crate::device::CipherOperation> = |session| &mut session.operations.encrypt;
/// The decryption slot.
const DECRYPT: Slot<dyn crate::device::CipherOperation> = |session| &mut session.operations.decrypt;
/// The digest slot.
const DIGEST: Slot<dyn crate::device::DigestOperation> = |session| &mut session.operations.digest;
/// The signing slot.
const SIGN: Slot<dyn crate::device::SignOperation> = |session| &mut session.operations.sign;
/// The verification slot.
const VERIFY: Slot<dyn crate::device::VerifyOperation> = |session| &mut session.operations.verify;
