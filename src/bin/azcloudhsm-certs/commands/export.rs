//! `export HANDLE | --label LABEL`: a certificate's CKA_VALUE, as DER or PEM.

use crate::args::Selector;
use crate::blobs::{judge, scan};
use crate::context::Context;
use crate::{Failure, Outcome, Result};
use azcloudhsm_pkcs11::certstore::blob_name;
use azcloudhsm_pkcs11::object::{Attributes, Handle};
use cryptoki_sys::{CKA_LABEL, CKA_VALUE};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

pub fn run(
    context: &Context,
    selector: &Selector,
    pem: bool,
    out: Option<PathBuf>,
) -> Result<Outcome> {
    let (handle, object) = match selector {
        Selector::Handle(handle) => (*handle, by_handle(context, *handle)?),
        Selector::Label(label) => by_label(context, label)?,
    };
    let value = object.get(CKA_VALUE).unwrap_or_default();
    let bytes = if pem {
        openssl::x509::X509::from_der(value)
            .and_then(|certificate| certificate.to_pem())
            .map_err(|_| {
                Failure::new(format!(
                    "the CKA_VALUE of {handle} is not an X.509 certificate, so it has no PEM form: export it as DER"
                ))
            })?
    } else {
        value.to_vec()
    };
    match out {
        Some(path) => std::fs::write(&path, &bytes)
            .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            if !pem && stdout.is_terminal() {
                return Err(Failure::new(
                    "DER is binary: use --pem, --out FILE, or redirect the output",
                ));
            }
            stdout.write_all(&bytes)?;
            stdout.flush()?;
        }
    }
    Ok(Outcome::AllGood)
}

fn by_handle(context: &Context, handle: Handle) -> Result<Attributes> {
    let name = blob_name(handle);
    let Some((content, _)) = context.store.read(&name)? else {
        return Err(Failure::new(format!(
            "no certificate {handle} (0x{handle:08x}): {name} is not in {}",
            context.store.describe()
        )));
    };
    judge(&[context.verifier()?], handle, &content, None)
        .map(|good| good.object)
        .map_err(|problem| {
            Failure::new(format!(
                "{name} does not verify ({}: {}); not exported",
                problem.reason.text(),
                problem.detail
            ))
        })
}

fn by_label(context: &Context, label: &str) -> Result<(Handle, Attributes)> {
    let mut found = Vec::new();
    scan(
        context.store.as_ref(),
        || Ok(vec![context.verifier()?]),
        "export",
        |blob| {
            if let (Ok(good), Some(handle)) = (blob.verdict, blob.handle) {
                if good.object.get(CKA_LABEL) == Some(label.as_bytes()) {
                    found.push((handle, good.object));
                }
            }
            Ok(())
        },
    )?;
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Failure::new(format!(
            "no certificate with label {label:?} in {}",
            context.store.describe()
        ))),
        n => Err(Failure::new(format!(
            "{n} certificates have label {label:?} (handles {}): export one by its handle",
            found
                .iter()
                .map(|(h, _)| h.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
