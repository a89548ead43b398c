//! Message digesting (PKCS#11 3.0 §5.10).

use super::export::export;
use crate::provider::{Absorbing, Finishing};
use cryptoki_sys::*;

export! {
    /// `C_DigestInit`.
    C_DigestInit(session, mechanism) => digest_init();
    /// `C_Digest`.
    C_Digest(session, data, output) => digest();
    /// `C_DigestUpdate`.
    C_DigestUpdate(session, data) => absorb(Absorbing::Digest);
    /// `C_DigestKey`: digests a non-sensitive secret key's value;
    /// `CKR_KEY_INDIGESTIBLE` for any other key.
    C_DigestKey(session: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) => digest_key;
    /// `C_DigestFinal`.
    C_DigestFinal(session, output) => finish(Finishing::Digest);
}
