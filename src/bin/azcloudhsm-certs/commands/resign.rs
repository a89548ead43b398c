//! `resign --new-key-id ID`: signing-key rotation.
//!
//! The library verifies every blob with one key only: the configured
//! signing key (`CERTSTORAGE_SIGNING_KEYID`, else the device's own key),
//! the key whose `kid` the blob's header must name. Rotating therefore
//! means re-signing every blob with the new key pair, then pointing
//! `CERTSTORAGE_SIGNING_KEYID` at it: from then on the library reads every
//! certificate with the new key only, and the old key may be destroyed.
//!
//! First the whole store is read and each blob judged against the old key
//! (the configuration's) and the new one; the tool says how many blobs it
//! will re-sign. Then each old-key blob is re-read, verified, re-signed by
//! the device, and replaced with one update conditional on the version
//! just read (a concurrent writer's change is re-read and re-signed, never
//! overwritten). A blob already signed by the new key is left as it is, so
//! an interrupted run resumes where it stopped when started again.

use super::count;
use crate::blobs::{judge, listing, read_and_judge, Blob, Problem};
use crate::context::Context;
use crate::pin::user_pin;
use crate::progress::Progress;
use crate::{table, Failure, Outcome, Result};
use azcloudhsm_pkcs11::certstore::jws::{sign_blob, BlobVerifier, DeviceSigner};
use azcloudhsm_pkcs11::certstore::{metadata, BlobEntry, BlobStore, UpdateOutcome};
use azcloudhsm_pkcs11::device::BlobSigningKey;
use std::sync::Arc;

/// The position of the new key among the verifiers.
const NEW: usize = 0;
/// How many times one blob is re-read after a concurrent change.
const ATTEMPTS: usize = 3;

pub fn run(context: &Context, new_key_id: &str, dry_run: bool) -> Result<Outcome> {
    let new_key = context.signing_key(Some(new_key_id))?;
    let verifiers = verifiers(context, new_key.as_ref(), new_key_id)?;
    let old_name = match &context.config.certstorage_signing_key_id {
        Some(id) => format!("the key pair with CKA_ID {id:?} (CERTSTORAGE_SIGNING_KEYID)"),
        None => "the device's own signing key".to_string(),
    };
    let entries = listing(context.store.as_ref())?;
    let mut plan = Plan::default();
    let mut progress = Progress::new("checking", entries.len());
    for entry in &entries {
        if let Some(blob) = read_and_judge(context.store.as_ref(), &verifiers, entry)? {
            plan.add(entry, blob);
        }
        progress.advance();
    }
    progress.finish();
    println!(
        "{} in {}: {} to re-sign with the key pair {new_key_id:?} (kid {}), {} signed by it already, {} that do not verify (left as they are)",
        count(entries.len(), "blob", "blobs"),
        context.store.describe(),
        plan.to_resign.len(),
        verifiers[NEW].key_id(),
        plan.done_already,
        plan.bad.len(),
    );
    if dry_run {
        println!("dry run: nothing was changed");
        return Ok(outcome(&plan.bad, 0));
    }

    let (resigned, failures) = if plan.to_resign.is_empty() {
        (0, Vec::new())
    } else {
        resign_all(context, &verifiers, new_key, &plan.to_resign)?
    };
    let mut rows: Vec<Vec<String>> = plan
        .bad
        .iter()
        .map(|(name, problem)| {
            vec![
                name.clone(),
                problem.reason.text().to_string(),
                problem.detail.clone(),
            ]
        })
        .collect();
    rows.extend(failures.iter().cloned());
    if !rows.is_empty() {
        print!("{}", table::render(&["BLOB", "RESULT", "DETAIL"], &rows));
    }
    println!(
        "re-signed {resigned}; {} signed by the new key; {} not",
        count(plan.done_already + resigned, "blob is", "blobs are"),
        plan.bad.len() + failures.len()
    );
    if rows.is_empty() {
        println!(
            "next: set CERTSTORAGE_SIGNING_KEYID={new_key_id} in the configuration of every application using this store ({} here); until then they do not see the re-signed certificates, signed before by {old_name}",
            context.config_name()
        );
    }
    Ok(outcome(&plan.bad, failures.len()))
}

/// The verifiers of the blobs to look at: the new key's first ([`NEW`]),
/// then the configuration's current key, unless the device never had one.
fn verifiers(
    context: &Context,
    new_key: &dyn BlobSigningKey,
    new_key_id: &str,
) -> Result<Vec<BlobVerifier>> {
    let mut verifiers = vec![BlobVerifier::new(new_key)?];
    match context.signing_key(None) {
        Ok(old_key) => {
            let old = BlobVerifier::new(old_key.as_ref())?;
            if old.key_id() == verifiers[NEW].key_id() {
                return Err(Failure::new(format!(
                    "--new-key-id {new_key_id} is the key the configuration already signs with ({})",
                    context.config_name()
                )));
            }
            verifiers.push(old);
        }
        // A device that never had a key of its own signed no blob with it.
        Err(_) if context.config.certstorage_signing_key_id.is_none() => {}
        Err(error) => return Err(error),
    }
    Ok(verifiers)
}

/// Logs in and re-signs `to_resign` with `new_key`: how many were
/// re-signed, and a table row for each that was not.
fn resign_all(
    context: &Context,
    verifiers: &[BlobVerifier],
    new_key: Arc<dyn BlobSigningKey>,
    to_resign: &[BlobEntry],
) -> Result<(usize, Vec<Vec<String>>)> {
    let pin = user_pin()?;
    let device = context.log_in(pin.as_bytes())?;
    let signer = DeviceSigner::new(new_key)?;
    let mut progress = Progress::new("re-signing", to_resign.len());
    let (mut resigned, mut failures) = (0, Vec::new());
    for entry in to_resign {
        match resign_one(context.store.as_ref(), verifiers, &signer, entry) {
            Ok(true) => resigned += 1,
            Ok(false) => {}
            Err(why) => failures.push(vec![entry.name.clone(), "not re-signed".into(), why]),
        }
        progress.advance();
    }
    progress.finish();
    device.logout();
    Ok((resigned, failures))
}

fn outcome(bad: &[(String, Problem)], failures: usize) -> Outcome {
    if bad.is_empty() && failures == 0 {
        Outcome::AllGood
    } else {
        Outcome::Found
    }
}

/// What the first pass found.
#[derive(Default)]
struct Plan {
    to_resign: Vec<BlobEntry>,
    done_already: usize,
    bad: Vec<(String, Problem)>,
}

impl Plan {
    fn add(&mut self, entry: &BlobEntry, blob: Blob) {
        match blob.verdict {
            Ok(good) if good.key == NEW => self.done_already += 1,
            Ok(_) => self.to_resign.push(entry.clone()),
            Err(problem) => self.bad.push((blob.name, problem)),
        }
    }
}

/// Re-signs one blob: true when this run replaced it, false when it needs
/// nothing (re-signed meanwhile, or deleted); why not, when it could not.
fn resign_one(
    store: &dyn BlobStore,
    verifiers: &[BlobVerifier],
    signer: &DeviceSigner,
    entry: &BlobEntry,
) -> std::result::Result<bool, String> {
    let Some(handle) = azcloudhsm_pkcs11::certstore::handles::handle_of_blob(&entry.name) else {
        return Err("the name stands for no handle".into());
    };
    for _ in 0..ATTEMPTS {
        let Some((content, version)) = store.read(&entry.name).map_err(|e| e.to_string())? else {
            return Ok(false);
        };
        let good = judge(verifiers, handle, &content, None)
            .map_err(|p| format!("{}: {}", p.reason.text(), p.detail))?;
        if good.key == NEW {
            return Ok(false);
        }
        let signed = sign_blob(signer, handle, &good.object).map_err(|e| e.to_string())?;
        // What is written must verify with the new key before it replaces anything.
        judge(&verifiers[NEW..=NEW], handle, signed.as_bytes(), None)
            .map_err(|p| format!("the new signature does not verify: {}", p.detail))?;
        match store
            .update(
                &entry.name,
                signed.as_bytes(),
                &metadata::encode(&good.object),
                &version,
            )
            .map_err(|e| e.to_string())?
        {
            UpdateOutcome::Updated(_) => return Ok(true),
            UpdateOutcome::NotFound => return Ok(false),
            UpdateOutcome::Conflict => continue,
        }
    }
    Err(format!(
        "changed by another writer {ATTEMPTS} times while being re-signed; run resign again"
    ))
}
