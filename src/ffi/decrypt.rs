//! Decryption (PKCS#11 3.0 §5.8).

use super::export::export;
use crate::provider::{Finishing, KeyOperation};
use crate::session::Direction::Decrypt;
use crate::session::Step;
use cryptoki_sys::*;

export! {
    /// `C_DecryptInit`.
    C_DecryptInit(session, mechanism, key) => init(KeyOperation::Decrypt);
    /// `C_Decrypt`.
    C_Decrypt(session, data, output) => cipher(Decrypt, Step::Single);
    /// `C_DecryptUpdate`.
    C_DecryptUpdate(session, data, output) => cipher(Decrypt, Step::Update);
    /// `C_DecryptFinal`.
    C_DecryptFinal(session, output) => finish(Finishing::Decrypt);
}
