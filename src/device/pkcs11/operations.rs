//! Cryptographic operations run by the vendor in the caller's vendor
//! session, with the caller's mechanism parameters.
//!
//! Output is collected with a buffer large enough for the usual result
//! and, when the vendor answers `CKR_BUFFER_TOO_SMALL` (which leaves its
//! operation active, PKCS#11 3.0 §5.2), once more with the length it
//! asked for; the provider's session layer then applies the caller's
//! buffer rules. An operation the provider drops before it ends (a
//! cancelled or abandoned one) is ended at the vendor too.

use super::handles::HandleMap;
use super::module::vendor_rv;
use super::session::VendorSession;
use crate::device::{CipherOperation, DigestOperation, Mechanism, SignOperation, VerifyOperation};
use crate::error::{Error, Result};
use crate::ffi::vendor::{
    Finish, Input, Start, Transform, VendorFunctions, VendorMechanism, Written,
};
use crate::object::Handle;
use cryptoki_sys::*;
use std::sync::Arc;

/// The largest output accepted from the vendor for one call.
const MAX_OUTPUT: CK_ULONG = 64 << 20;

/// Runs an output-producing vendor call by the buffer rules: first with
/// `initial` bytes of room, then with what the vendor asks for.
pub(super) fn collect_output(
    function: &'static str,
    initial: usize,
    mut call: impl FnMut(&mut [u8]) -> Written,
) -> Result<Vec<u8>> {
    let mut buffer = vec![0u8; initial.max(1)];
    for _ in 0..3 {
        let Written { result, length } = call(&mut buffer);
        match result {
            Ok(()) => {
                if length as usize > buffer.len() {
                    return Err(Error::VendorModule(format!(
                        "vendor {function} reported {length} bytes of output for a buffer of {}",
                        buffer.len()
                    )));
                }
                buffer.truncate(length as usize);
                return Ok(buffer);
            }
            Err(error) if vendor_rv(&error) == Some(CKR_BUFFER_TOO_SMALL) => {
                if length as usize <= buffer.len() || length > MAX_OUTPUT {
                    return Err(Error::VendorModule(format!(
                        "vendor {function} asked for a buffer of {length} bytes after one of {}",
                        buffer.len()
                    )));
                }
                buffer = vec![0u8; length as usize];
            }
            Err(error) => return Err(error),
        }
    }
    Err(Error::VendorModule(format!(
        "vendor {function} kept asking for a larger buffer"
    )))
}

/// Room for the output of `input` bytes through a cipher: block padding,
/// tags and RSA moduli up to 8192 bits fit at once.
fn cipher_room(input: usize) -> usize {
    input.saturating_add(1024)
}

/// Room for a signature: RSA-16384, ECDSA and EdDSA fit at once.
const SIGNATURE_ROOM: usize = 2048;
/// Room for a digest (SHA-512 and SHA3-512 fit).
const DIGEST_ROOM: usize = 128;

/// How an operation dropped before its end is ended at the vendor: by
/// its final call, or (a verification) by its final call with no signature.
#[derive(Clone, Copy)]
enum Abandon {
    Finish(Finish, usize),
    Input(Input),
}

/// Where an operation runs: the vendor session and the vendor's key.
pub(super) type Target = (Arc<VendorSession>, Handle);

/// Whether a call ends the operation: an update ends it only by failing
/// (PKCS#11 3.0 §5.2), a last call whatever its outcome (but
/// `CKR_BUFFER_TOO_SMALL`, absorbed by [`collect_output`]).
#[derive(Clone, Copy, PartialEq)]
enum Step {
    Update,
    Last,
}
use Step::{Last, Update};

/// How a signature starts, and ends when abandoned.
const SIGNING: (Start, Abandon) = (
    Start::SIGN_INIT,
    Abandon::Finish(Finish::SIGN_FINAL, SIGNATURE_ROOM),
);
/// How a verification starts, and ends when abandoned: with an empty
/// signature.
const VERIFYING: (Start, Abandon) = (Start::VERIFY_INIT, Abandon::Input(Input::VERIFY_FINAL));

/// What every operation holds: its vendor session, whether the vendor's
/// operation has ended (and how to end it if not), and the mechanism
/// parameter the vendor was given.
struct Running {
    session: Arc<VendorSession>,
    ended: bool,
    abandon: Abandon,
    _mechanism: VendorMechanism,
}

impl Running {
    /// Starts an operation of `kind` on `target` with `mechanism`.
    fn start(
        (session, key): Target,
        (start, abandon): (Start, Abandon),
        mechanism: &Mechanism,
    ) -> Result<Running> {
        let mut mechanism = VendorMechanism::new(mechanism)?;
        let functions = session.vendor.functions();
        functions.start(start, session.handle, &mut mechanism, key)?;
        Ok(Running::new(session, mechanism, abandon))
    }
    fn new(session: Arc<VendorSession>, mechanism: VendorMechanism, abandon: Abandon) -> Running {
        Running {
            session,
            ended: false,
            abandon,
            _mechanism: mechanism,
        }
    }
    fn functions(&self) -> &VendorFunctions {
        self.session.vendor.functions()
    }
    fn input(&mut self, step: Step, function: Input, data: &[u8]) -> Result<()> {
        let result = (self.functions()).input(function, self.session.handle, data);
        self.record(step, result)
    }
    fn transform(
        &mut self,
        step: Step,
        function: Transform,
        data: &[u8],
        room: usize,
    ) -> Result<Vec<u8>> {
        let (functions, handle) = (self.functions(), self.session.handle);
        let result = collect_output(function.name(), room, |output| {
            functions.transform(function, handle, data, output)
        });
        self.record(step, result)
    }
    fn finish(&mut self, function: Finish, room: usize) -> Result<Vec<u8>> {
        let (functions, handle) = (self.functions(), self.session.handle);
        let result = collect_output(function.name(), room, |output| {
            functions.finish(function, handle, output)
        });
        self.record(Last, result)
    }
    /// Records whether the vendor's operation has ended with `result`.
    fn record<T>(&mut self, step: Step, result: Result<T>) -> Result<T> {
        if step == Last || result.is_err() {
            self.ended = true;
        }
        result
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.ended {
            let _ = match self.abandon {
                Abandon::Finish(function, room) => self.finish(function, room).map(drop),
                Abandon::Input(function) => self.input(Last, function, &[]),
            };
        }
    }
}

struct VendorSign(Running);

impl SignOperation for VendorSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0.input(Update, Input::SIGN_UPDATE, data)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        self.0.finish(Finish::SIGN_FINAL, SIGNATURE_ROOM)
    }
    fn sign(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.0
            .transform(Last, Transform::SIGN, data, SIGNATURE_ROOM)
    }
}

struct VendorVerify(Running);

impl VerifyOperation for VendorVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0.input(Update, Input::VERIFY_UPDATE, data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        self.0.input(Last, Input::VERIFY_FINAL, signature)
    }
    fn verify(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        let result = (self.0.functions()).verify(self.0.session.handle, data, signature);
        self.0.record(Last, result)
    }
}

/// Which way a [`VendorCipher`] goes.
#[derive(Clone, Copy)]
pub(super) enum Way {
    Encrypt,
    Decrypt,
}

/// The vendor functions of one way.
struct CipherCalls {
    start: Start,
    update: Transform,
    finish: Finish,
    one_shot: Transform,
}

impl Way {
    fn calls(self) -> CipherCalls {
        match self {
            Way::Encrypt => CipherCalls {
                start: Start::ENCRYPT_INIT,
                update: Transform::ENCRYPT_UPDATE,
                finish: Finish::ENCRYPT_FINAL,
                one_shot: Transform::ENCRYPT,
            },
            Way::Decrypt => CipherCalls {
                start: Start::DECRYPT_INIT,
                update: Transform::DECRYPT_UPDATE,
                finish: Finish::DECRYPT_FINAL,
                one_shot: Transform::DECRYPT,
            },
        }
    }
}

struct VendorCipher {
    running: Running,
    calls: CipherCalls,
}

impl CipherOperation for VendorCipher {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let room = cipher_room(data.len());
        self.running
            .transform(Update, self.calls.update, data, room)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        self.running.finish(self.calls.finish, cipher_room(0))
    }
    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let room = cipher_room(data.len());
        self.running
            .transform(Last, self.calls.one_shot, data, room)
    }
}

struct VendorDigest {
    running: Running,
    handles: Arc<HandleMap>,
}

impl DigestOperation for VendorDigest {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.running.input(Update, Input::DIGEST_UPDATE, data)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        self.running.finish(Finish::DIGEST_FINAL, DIGEST_ROOM)
    }
    fn digest(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.running
            .transform(Last, Transform::DIGEST, data, DIGEST_ROOM)
    }
    fn digest_key(&mut self, key: Handle) -> Option<Result<()>> {
        let key = self.handles.to_vendor(key);
        let result = (self.running.functions()).digest_key(self.running.session.handle, key);
        Some(self.running.record(Update, result))
    }
}

/// `C_SignInit` on `target`.
pub(super) fn sign_init(target: Target, mechanism: &Mechanism) -> Result<Box<dyn SignOperation>> {
    Ok(Box::new(VendorSign(Running::start(
        target, SIGNING, mechanism,
    )?)))
}

/// `C_VerifyInit` on `target`.
pub(super) fn verify_init(
    target: Target,
    mechanism: &Mechanism,
) -> Result<Box<dyn VerifyOperation>> {
    Ok(Box::new(VendorVerify(Running::start(
        target, VERIFYING, mechanism,
    )?)))
}

/// `C_EncryptInit` or `C_DecryptInit` on `target`.
pub(super) fn cipher_init(
    target: Target,
    way: Way,
    mechanism: &Mechanism,
) -> Result<Box<dyn CipherOperation>> {
    let calls = way.calls();
    let kind = (calls.start, Abandon::Finish(calls.finish, cipher_room(0)));
    let running = Running::start(target, kind, mechanism)?;
    Ok(Box::new(VendorCipher { running, calls }))
}

/// `C_DigestInit` in `session`.
pub(super) fn digest_init(
    session: Arc<VendorSession>,
    handles: Arc<HandleMap>,
    mechanism: &Mechanism,
) -> Result<Box<dyn DigestOperation>> {
    let mut vendor_mechanism = VendorMechanism::new(mechanism)?;
    (session.vendor.functions()).digest_init(session.handle, &mut vendor_mechanism)?;
    let abandon = Abandon::Finish(Finish::DIGEST_FINAL, DIGEST_ROOM);
    Ok(Box::new(VendorDigest {
        running: Running::new(session, vendor_mechanism, abandon),
        handles,
    }))
}
