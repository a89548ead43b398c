//! Encryption (PKCS#11 3.0 §5.8).

use super::export::export;
use crate::provider::{Finishing, KeyOperation};
use crate::session::Direction::Encrypt;
use crate::session::Step;
use cryptoki_sys::*;

export! {
    /// `C_EncryptInit`.
    C_EncryptInit(session, mechanism, key) => init(KeyOperation::Encrypt);
    /// `C_Encrypt`.
    C_Encrypt(session, data, output) => cipher(Encrypt, Step::Single);
    /// `C_EncryptUpdate`.
    C_EncryptUpdate(session, data, output) => cipher(Encrypt, Step::Update);
    /// `C_EncryptFinal`.
    C_EncryptFinal(session, output) => finish(Finishing::Encrypt);
}
