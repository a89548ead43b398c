//! Signing and MACing (PKCS#11 3.0 §5.11).

use super::export::export;
use crate::provider::{Absorbing, Finishing, KeyOperation};
use cryptoki_sys::*;

export! {
    /// `C_SignInit`.
    C_SignInit(session, mechanism, key) => init(KeyOperation::Sign);
    /// `C_Sign`.
    C_Sign(session, data, output) => sign();
    /// `C_SignUpdate`.
    C_SignUpdate(session, data) => absorb(Absorbing::Sign);
    /// `C_SignFinal`.
    C_SignFinal(session, output) => finish(Finishing::Sign);
}
