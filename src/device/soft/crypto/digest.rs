//! Message digests (PKCS#11 3.0 §5.12; SHA-1 and SHA-2, §2.16 to §2.20).

use super::mechanisms::Hash;
use super::no_parameter;
use crate::device::{DigestOperation, Mechanism};
use crate::error::{Error, Result};
use openssl::md_ctx::MdCtx;

/// A digest in progress.
struct Digest {
    context: MdCtx,
    len: usize,
}

/// `C_DigestInit`: `CKM_SHA_1`, `CKM_SHA224`, `CKM_SHA256`, `CKM_SHA384`, `CKM_SHA512`.
pub(super) fn digest_init(mechanism: &Mechanism) -> Result<Box<dyn DigestOperation>> {
    let hash =
        Hash::from_mechanism(mechanism.kind).ok_or(Error::MechanismInvalid(mechanism.kind))?;
    no_parameter(mechanism)?;
    let mut context = MdCtx::new()?;
    context.digest_init(hash.md)?;
    Ok(Box::new(Digest {
        context,
        len: hash.len(),
    }))
}

impl DigestOperation for Digest {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        Ok(self.context.digest_update(data)?)
    }

    fn finish(&mut self) -> Result<Vec<u8>> {
        let mut digest = vec![0u8; self.len];
        self.context.digest_final(&mut digest)?;
        Ok(digest)
    }
}
