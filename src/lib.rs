//! azcloudhsm-pkcs11: a drop-in PKCS#11 provider whose X.509 certificate
//! objects are stored as signed JWS blobs (see `docs/architecture.md`).
//!
//! Only [`ffi`] is meant to be called from outside: it exports the
//! PKCS#11 C functions. The `azcloudhsm-certs` tool (`src/bin/`) uses the
//! configuration, [`backends`] and [`certstore`] directly, without the C ABI.

#![deny(unsafe_code)]
#![deny(unreachable_pub)]
#![deny(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod backends;
pub mod certstore;
pub mod config;
pub mod device;
pub mod error;
#[allow(unsafe_code)]
pub mod ffi;
pub mod logging;
pub mod object;
pub mod owner_only;
pub(crate) mod provider;
pub(crate) mod session;
