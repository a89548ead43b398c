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
use super::module::{vendor_call, vendor_rv};
use super::session::VendorSession;
use crate::device::{
    CipherOperation, DigestOperation, Mechanism, MechanismParameter, SignOperation, VerifyOperation,
};
use crate::error::{Error, Result};
use crate::object::Handle;
use cryptoki_sys::*;
use std::sync::Arc;

/// The largest output accepted from the vendor for one call.
const MAX_OUTPUT: CK_ULONG = 64 << 20;

/// A mechanism as the vendor takes it. The parameter is copied into a
/// buffer aligned for any C structure, and kept for the life of the
/// operation in case the vendor holds on to it.
pub struct CMechanism {
    kind: CK_MECHANISM_TYPE,
    parameter: Option<Vec<u64>>,
    length: usize,
}

impl CMechanism {
    pub fn new(mechanism: &Mechanism) -> Result<CMechanism> {
        let bytes: Option<&[u8]> = match (&mechanism.caller_parameter, &mechanism.parameter) {
            (Some(bytes), _) => Some(bytes),
            (None, MechanismParameter::None) => None,
            (None, MechanismParameter::Raw(bytes)) => Some(bytes),
            (None, _) => {
                return Err(Error::MechanismParamInvalid(
                    "a structured parameter without the caller's bytes cannot be forwarded",
                ))
            }
        };
        let parameter = bytes.map(|bytes| {
            let mut words = vec![0u64; bytes.len().div_ceil(8)];
            // SAFETY: `words` holds at least `bytes.len()` bytes, and the
            // two buffers are distinct allocations.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    words.as_mut_ptr() as *mut u8,
                    bytes.len(),
                )
            };
            words
        });
        Ok(CMechanism {
            kind: mechanism.kind,
            length: bytes.map_or(0, <[u8]>::len),
            parameter,
        })
    }

    /// The `CK_MECHANISM` to pass; valid while `self` is.
    pub fn raw(&mut self) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: self.kind,
            pParameter: match &mut self.parameter {
                Some(words) if self.length > 0 => words.as_mut_ptr() as *mut std::ffi::c_void,
                Some(_) => std::ptr::NonNull::<u64>::dangling().as_ptr() as *mut std::ffi::c_void,
                None => std::ptr::null_mut(),
            },
            ulParameterLen: self.length as CK_ULONG,
        }
    }

    /// The parameter buffer, to keep alive with the operation.
    pub fn into_parameter(self) -> Option<Vec<u64>> {
        self.parameter
    }
}

/// Runs an output-producing vendor call by the buffer rules: first with
/// `initial` bytes of room, then with what the vendor asks for.
pub fn collect_output(
    function: &'static str,
    initial: usize,
    mut call: impl FnMut(*mut u8, &mut CK_ULONG) -> Result<()>,
) -> Result<Vec<u8>> {
    let mut buffer = vec![0u8; initial.max(1)];
    for _ in 0..3 {
        let mut length = buffer.len() as CK_ULONG;
        match call(buffer.as_mut_ptr(), &mut length) {
            Ok(()) => {
                if length as usize > buffer.len() {
                    return Err(Error::DeviceError(format!(
                        "vendor {function} reported {length} bytes of output for a buffer of {}",
                        buffer.len()
                    )));
                }
                buffer.truncate(length as usize);
                return Ok(buffer);
            }
            Err(error) if vendor_rv(&error) == Some(CKR_BUFFER_TOO_SMALL) => {
                if length as usize <= buffer.len() || length > MAX_OUTPUT {
                    return Err(Error::DeviceError(format!(
                        "vendor {function} asked for a buffer of {length} bytes after one of {}",
                        buffer.len()
                    )));
                }
                buffer = vec![0u8; length as usize];
            }
            Err(error) => return Err(error),
        }
    }
    Err(Error::DeviceError(format!(
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

fn input(data: &[u8]) -> (*mut u8, CK_ULONG) {
    (data.as_ptr() as *mut u8, data.len() as CK_ULONG)
}

/// What every operation holds: its vendor session, whether the vendor's
/// operation has ended, and the mechanism parameter the vendor was given.
struct Running {
    session: Arc<VendorSession>,
    ended: bool,
    _parameter: Option<Vec<u64>>,
}

impl Running {
    fn new(session: Arc<VendorSession>, mechanism: CMechanism) -> Running {
        Running {
            session,
            ended: false,
            _parameter: mechanism.into_parameter(),
        }
    }
    fn handle(&self) -> CK_SESSION_HANDLE {
        self.session.handle
    }
    /// Records the outcome of a call that ends the operation unless it is
    /// `CKR_BUFFER_TOO_SMALL` (absorbed by [`collect_output`]).
    fn ending<T>(&mut self, result: Result<T>) -> Result<T> {
        self.ended = true;
        result
    }
    /// An update: only an error ends the operation (PKCS#11 3.0 §5.2).
    fn updating<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.ended = true;
        }
        result
    }
}

/// `C_SignInit` in `session`.
pub fn sign_init(
    session: Arc<VendorSession>,
    mechanism: &Mechanism,
    key: Handle,
) -> Result<Box<dyn SignOperation>> {
    let mut c_mechanism = CMechanism::new(mechanism)?;
    let mut raw = c_mechanism.raw();
    vendor_call!(session.vendor, C_SignInit(session.handle, &mut raw, key))?;
    Ok(Box::new(VendorSign(Running::new(session, c_mechanism))))
}

struct VendorSign(Running);

impl SignOperation for VendorSign {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let (pointer, length) = input(data);
        let result = vendor_call!(
            self.0.session.vendor,
            C_SignUpdate(self.0.handle(), pointer, length)
        );
        self.0.updating(result)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        let (vendor, handle) = (&self.0.session.vendor, self.0.handle());
        let result = collect_output("C_SignFinal", SIGNATURE_ROOM, |buffer, length| {
            vendor_call!(vendor, C_SignFinal(handle, buffer, length))
        });
        self.0.ending(result)
    }
    fn sign(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let (vendor, handle) = (&self.0.session.vendor, self.0.handle());
        let (pointer, data_length) = input(data);
        let result = collect_output("C_Sign", SIGNATURE_ROOM, |buffer, length| {
            vendor_call!(vendor, C_Sign(handle, pointer, data_length, buffer, length))
        });
        self.0.ending(result)
    }
}

impl Drop for VendorSign {
    fn drop(&mut self) {
        if !self.0.ended {
            let _ = self.finish();
        }
    }
}

/// `C_VerifyInit` in `session`.
pub fn verify_init(
    session: Arc<VendorSession>,
    mechanism: &Mechanism,
    key: Handle,
) -> Result<Box<dyn VerifyOperation>> {
    let mut c_mechanism = CMechanism::new(mechanism)?;
    let mut raw = c_mechanism.raw();
    vendor_call!(session.vendor, C_VerifyInit(session.handle, &mut raw, key))?;
    Ok(Box::new(VendorVerify(Running::new(session, c_mechanism))))
}

struct VendorVerify(Running);

impl VerifyOperation for VendorVerify {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let (pointer, length) = input(data);
        let result = vendor_call!(
            self.0.session.vendor,
            C_VerifyUpdate(self.0.handle(), pointer, length)
        );
        self.0.updating(result)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let (pointer, length) = input(signature);
        let result = vendor_call!(
            self.0.session.vendor,
            C_VerifyFinal(self.0.handle(), pointer, length)
        );
        self.0.ending(result)
    }
    fn verify(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        let (data_pointer, data_length) = input(data);
        let (signature_pointer, signature_length) = input(signature);
        let result = vendor_call!(
            self.0.session.vendor,
            C_Verify(
                self.0.handle(),
                data_pointer,
                data_length,
                signature_pointer,
                signature_length
            )
        );
        self.0.ending(result)
    }
}

impl Drop for VendorVerify {
    fn drop(&mut self) {
        if !self.0.ended {
            // An empty signature ends the verification at the vendor.
            let _ = self.finish(&[]);
        }
    }
}

/// Which way a [`VendorCipher`] goes.
#[derive(Clone, Copy)]
pub enum Way {
    Encrypt,
    Decrypt,
}

impl Way {
    /// The name of the vendor function this way calls, for log lines.
    fn name(self, encrypt: &'static str, decrypt: &'static str) -> &'static str {
        match self {
            Way::Encrypt => encrypt,
            Way::Decrypt => decrypt,
        }
    }
}

/// `C_EncryptInit` or `C_DecryptInit` in `session`.
pub fn cipher_init(
    session: Arc<VendorSession>,
    way: Way,
    mechanism: &Mechanism,
    key: Handle,
) -> Result<Box<dyn CipherOperation>> {
    let mut c_mechanism = CMechanism::new(mechanism)?;
    let mut raw = c_mechanism.raw();
    match way {
        Way::Encrypt => vendor_call!(session.vendor, C_EncryptInit(session.handle, &mut raw, key))?,
        Way::Decrypt => vendor_call!(session.vendor, C_DecryptInit(session.handle, &mut raw, key))?,
    }
    Ok(Box::new(VendorCipher {
        running: Running::new(session, c_mechanism),
        way,
    }))
}

struct VendorCipher {
    running: Running,
    way: Way,
}

impl CipherOperation for VendorCipher {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let (vendor, handle, way) = (
            &self.running.session.vendor,
            self.running.handle(),
            self.way,
        );
        let (pointer, data_length) = input(data);
        let result = collect_output(
            way.name("C_EncryptUpdate", "C_DecryptUpdate"),
            cipher_room(data.len()),
            |buffer, length| match way {
                Way::Encrypt => vendor_call!(
                    vendor,
                    C_EncryptUpdate(handle, pointer, data_length, buffer, length)
                ),
                Way::Decrypt => vendor_call!(
                    vendor,
                    C_DecryptUpdate(handle, pointer, data_length, buffer, length)
                ),
            },
        );
        self.running.updating(result)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        let (vendor, handle, way) = (
            &self.running.session.vendor,
            self.running.handle(),
            self.way,
        );
        let result = collect_output(
            way.name("C_EncryptFinal", "C_DecryptFinal"),
            cipher_room(0),
            |buffer, length| match way {
                Way::Encrypt => vendor_call!(vendor, C_EncryptFinal(handle, buffer, length)),
                Way::Decrypt => vendor_call!(vendor, C_DecryptFinal(handle, buffer, length)),
            },
        );
        self.running.ending(result)
    }
    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let (vendor, handle, way) = (
            &self.running.session.vendor,
            self.running.handle(),
            self.way,
        );
        let (pointer, data_length) = input(data);
        let result = collect_output(
            way.name("C_Encrypt", "C_Decrypt"),
            cipher_room(data.len()),
            |buffer, length| match way {
                Way::Encrypt => vendor_call!(
                    vendor,
                    C_Encrypt(handle, pointer, data_length, buffer, length)
                ),
                Way::Decrypt => vendor_call!(
                    vendor,
                    C_Decrypt(handle, pointer, data_length, buffer, length)
                ),
            },
        );
        self.running.ending(result)
    }
}

impl Drop for VendorCipher {
    fn drop(&mut self) {
        if !self.running.ended {
            let _ = self.finish();
        }
    }
}

/// `C_DigestInit` in `session`.
pub fn digest_init(
    session: Arc<VendorSession>,
    handles: Arc<HandleMap>,
    mechanism: &Mechanism,
) -> Result<Box<dyn DigestOperation>> {
    let mut c_mechanism = CMechanism::new(mechanism)?;
    let mut raw = c_mechanism.raw();
    vendor_call!(session.vendor, C_DigestInit(session.handle, &mut raw))?;
    Ok(Box::new(VendorDigest {
        running: Running::new(session, c_mechanism),
        handles,
    }))
}

struct VendorDigest {
    running: Running,
    handles: Arc<HandleMap>,
}

impl DigestOperation for VendorDigest {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        let (pointer, length) = input(data);
        let result = vendor_call!(
            self.running.session.vendor,
            C_DigestUpdate(self.running.handle(), pointer, length)
        );
        self.running.updating(result)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        let (vendor, handle) = (&self.running.session.vendor, self.running.handle());
        let result = collect_output("C_DigestFinal", DIGEST_ROOM, |buffer, length| {
            vendor_call!(vendor, C_DigestFinal(handle, buffer, length))
        });
        self.running.ending(result)
    }
    fn digest(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let (vendor, handle) = (&self.running.session.vendor, self.running.handle());
        let (pointer, data_length) = input(data);
        let result = collect_output("C_Digest", DIGEST_ROOM, |buffer, length| {
            vendor_call!(
                vendor,
                C_Digest(handle, pointer, data_length, buffer, length)
            )
        });
        self.running.ending(result)
    }
    fn digest_key(&mut self, key: Handle) -> Option<Result<()>> {
        let key = self.handles.to_vendor(key);
        let result = vendor_call!(
            self.running.session.vendor,
            C_DigestKey(self.running.handle(), key)
        );
        Some(self.running.updating(result))
    }
}

impl Drop for VendorDigest {
    fn drop(&mut self) {
        if !self.running.ended {
            let _ = self.finish();
        }
    }
}
