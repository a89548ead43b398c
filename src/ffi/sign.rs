//! Signing and MACing (PKCS#11 3.0 §5.11).

use super::export::export;
use cryptoki_sys::*;

export! {
    /// `C_SignInit`.
    C_SignInit(session, mechanism, key) => sign_init();
    /// `C_Sign`.
    C_Sign(session, data, output) => sign();
    /// `C_SignUpdate`.
    C_SignUpdate(session, data) => sign_update();
    /// `C_SignFinal`.
    C_SignFinal(session, output) => sign_final();
}
