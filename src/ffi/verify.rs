//! Verifying signatures and MACs (PKCS#11 3.0 §5.13).

use super::convert::bytes;
use super::export::export;
use crate::provider::{Absorbing, KeyOperation};
use super::{ending_on_error, session_provider};
use cryptoki_sys::*;

export! {
    /// `C_VerifyInit`.
    C_VerifyInit(session, mechanism, key) => init(KeyOperation::Verify);
    /// `C_Verify`.
    fn C_Verify(session: CK_SESSION_HANDLE, data: *mut CK_BYTE, data_len: CK_ULONG, signature: *mut CK_BYTE, signature_len: CK_ULONG) {
        let provider = session_provider(session)?;
        // SAFETY: `data` and `signature` are NULL or the caller's readable bytes of the
        // lengths beside them (PKCS#11 buffer rule); `bytes` refuses NULL with a non-zero length
        let arguments = unsafe { bytes(data, data_len).and_then(|data| Ok((data, bytes(signature, signature_len)?))) };
        let (data, signature) = ending_on_error(&provider, session, "C_Verify", arguments)?;
        provider.verify(session, data, signature)
    }
    /// `C_VerifyUpdate`.
    C_VerifyUpdate(session, data) => absorb(Absorbing::Verify);
    /// `C_VerifyFinal`.
    C_VerifyFinal(session, data) => verify_final();
}
