//! The cryptographic operations of a session (PKCS#11 3.0 §5.8 to §5.14):
//! each `*_init` asks the device for an operation object, each later call
//! drives it through [`crate::session::produce`] so length queries and short
//! buffers behave as the specification says.

use crate::device::Mechanism;
use crate::error::{Error, Result};
use crate::object::Handle;
use crate::provider::Provider;
use crate::session::{consume, ensure_idle, produce, Active, Direction, Output, Step};
use cryptoki_sys::CK_SESSION_HANDLE;

impl Provider {
    /// `C_EncryptInit` / `C_DecryptInit`.
    pub fn cipher_init(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<()> {
        let key = self.operation_key(key)?;
        self.with_session(handle, |session, access| {
            ensure_idle(session.cipher(direction))?;
            let operation = match direction {
                Direction::Encrypt => self.device.encrypt_init(access, mechanism, key)?,
                Direction::Decrypt => self.device.decrypt_init(access, mechanism, key)?,
            };
            *session.cipher(direction) = Some(Active::new(operation));
            Ok(())
        })
    }

    /// `C_Encrypt` / `C_Decrypt`.
    pub fn cipher(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.with_session(handle, |s, _| {
            produce(s.cipher(direction), Step::Single, capacity, |op| {
                op.one_shot(data)
            })
        })
    }

    /// `C_EncryptUpdate` / `C_DecryptUpdate`.
    pub fn cipher_update(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.with_session(handle, |s, _| {
            produce(s.cipher(direction), Step::Update, capacity, |op| {
                op.update(data)
            })
        })
    }

    /// `C_EncryptFinal` / `C_DecryptFinal`.
    pub fn cipher_final(
        &self,
        handle: CK_SESSION_HANDLE,
        direction: Direction,
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.with_session(handle, |s, _| {
            produce(s.cipher(direction), Step::Final, capacity, |op| op.finish())
        })
    }

    pub fn digest_init(&self, handle: CK_SESSION_HANDLE, mechanism: &Mechanism) -> Result<()> {
        self.with_session(handle, |session, access| {
            ensure_idle(&session.operations.digest)?;
            session.operations.digest =
                Some(Active::new(self.device.digest_init(access, mechanism)?));
            Ok(())
        })
    }

    pub fn digest(
        &self,
        handle: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.with_session(handle, |s, _| {
            produce(&mut s.operations.digest, Step::Single, capacity, |op| {
                op.digest(data)
            })
        })
    }

    pub fn digest_update(&self, handle: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(handle, |s, _| {
            consume(&mut s.operations.digest, Step::Update, |op| op.update(data))
        })
    }

    /// `C_DigestKey` (PKCS#11 3.0 §5.12): continues the digest with the
    /// value of a secret key. The device never hands out a sensitive
    /// key's value, so only a non-sensitive secret key can be digested;
    /// any other key is [`Error::KeyIndigestible`] and the digest goes on.
    pub fn digest_key(&self, handle: CK_SESSION_HANDLE, key: Handle) -> Result<()> {
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
                .device
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

    pub fn digest_final(
        &self,
        handle: CK_SESSION_HANDLE,
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.with_session(handle, |s, _| {
            produce(&mut s.operations.digest, Step::Final, capacity, |op| {
                op.finish()
            })
        })
    }

    pub fn sign_init(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<()> {
        let key = self.operation_key(key)?;
        self.with_session(handle, |session, access| {
            ensure_idle(&session.operations.sign)?;
            session.operations.sign =
                Some(Active::new(self.device.sign_init(access, mechanism, key)?));
            Ok(())
        })
    }

    pub fn sign(
        &self,
        handle: CK_SESSION_HANDLE,
        data: &[u8],
        capacity: Option<usize>,
    ) -> Result<Output> {
        self.with_session(handle, |s, _| {
            produce(&mut s.operations.sign, Step::Single, capacity, |op| {
                op.sign(data)
            })
        })
    }

    pub fn sign_update(&self, handle: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(handle, |s, _| {
            consume(&mut s.operations.sign, Step::Update, |op| op.update(data))
        })
    }

    pub fn sign_final(&self, handle: CK_SESSION_HANDLE, capacity: Option<usize>) -> Result<Output> {
        self.with_session(handle, |s, _| {
            produce(&mut s.operations.sign, Step::Final, capacity, |op| {
                op.finish()
            })
        })
    }

    pub fn verify_init(
        &self,
        handle: CK_SESSION_HANDLE,
        mechanism: &Mechanism,
        key: Handle,
    ) -> Result<()> {
        let key = self.operation_key(key)?;
        self.with_session(handle, |session, access| {
            ensure_idle(&session.operations.verify)?;
            session.operations.verify = Some(Active::new(
                self.device.verify_init(access, mechanism, key)?,
            ));
            Ok(())
        })
    }

    pub fn verify(&self, handle: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        self.with_session(handle, |s, _| {
            consume(&mut s.operations.verify, Step::Single, |op| {
                op.verify(data, signature)
            })
        })
    }

    pub fn verify_update(&self, handle: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        self.with_session(handle, |s, _| {
            consume(&mut s.operations.verify, Step::Update, |op| op.update(data))
        })
    }

    pub fn verify_final(&self, handle: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        self.with_session(handle, |s, _| {
            consume(&mut s.operations.verify, Step::Final, |op| {
                op.finish(signature)
            })
        })
    }

    /// `C_SessionCancel` (3.0): ends the operations named by `flags`.
    pub fn cancel(&self, handle: CK_SESSION_HANDLE, flags: cryptoki_sys::CK_FLAGS) -> Result<()> {
        use cryptoki_sys::*;
        self.with_session(handle, |s, _| {
            s.operations.cancel(flags);
            if flags & CKF_FIND_OBJECTS != 0 {
                s.search = None;
            }
            Ok(())
        })
    }

    /// `C_SeedRandom`: false when the device takes no seed.
    /// `C_SeedRandom`: [`Error::RandomSeedNotSupported`] when the device
    /// takes no seed.
    pub fn seed_random(&self, handle: CK_SESSION_HANDLE, seed: &[u8]) -> Result<()> {
        match self.with_session(handle, |_, access| self.device.seed_random(access, seed))? {
            true => Ok(()),
            false => Err(Error::RandomSeedNotSupported),
        }
    }

    /// `C_GenerateRandom`.
    pub fn generate_random(&self, handle: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<()> {
        self.with_session(handle, |_, access| self.device.generate_random(access, out))
    }
}
