//! `migrate --to URL`: copies every verified blob to another store under
//! the same name (so the same handle), byte for byte, so its signature
//! stays valid. A name the destination already holds is never overwritten:
//! the same content there is a blob an earlier run copied (the run resumes),
//! another content is a conflict left for the operator. Every copy is read
//! back and verified.

use super::count;
use crate::blobs::{judge, scan, Problem, Reason};
use crate::context::{shown_url, Context};
use crate::{table, Failure, Outcome, Result};
use azcloudhsm_pkcs11::certstore::{metadata, BlobStore, CreateOutcome};

/// What became of one source blob.
enum Fate {
    Copied,
    AlreadyThere,
    /// Not copied: the source blob does not verify.
    Skipped(Problem),
    /// The destination holds another blob of that name.
    Conflict,
    /// Copied, but what the destination gives back is not what was written.
    CopyFailed(String),
}

pub fn run(context: &Context, to: &str) -> Result<Outcome> {
    let destination = context.store_at(to)?;
    if destination.describe() == context.store.describe() {
        return Err(Failure::new(format!(
            "--to {} is the store being migrated",
            shown_url(to)
        )));
    }
    let mut fates: Vec<(String, Fate)> = Vec::new();
    let verifier = std::cell::OnceCell::new();
    scan(
        context.store.as_ref(),
        || {
            let v = context.verifier()?;
            let _ = verifier.set(v.clone());
            Ok(vec![v])
        },
        "migrate",
        |blob| {
            let fate = match (blob.verdict, blob.handle) {
                (Ok(good), Some(handle)) => copy(
                    destination.as_ref(),
                    verifier.get().map(std::slice::from_ref).unwrap_or_default(),
                    &blob.name,
                    handle,
                    &blob.content,
                    &good.object,
                )?,
                (Err(problem), _) => Fate::Skipped(problem),
                // A name that stands for no handle never verifies.
                (Ok(_), None) => Fate::Skipped(Problem::new(Reason::NameMismatch, "no handle")),
            };
            fates.push((blob.name, fate));
            Ok(())
        },
    )?;
    report(context, destination.as_ref(), &fates)
}

fn copy(
    destination: &dyn BlobStore,
    verifier: &[azcloudhsm_pkcs11::certstore::jws::BlobVerifier],
    name: &str,
    handle: u64,
    content: &[u8],
    object: &azcloudhsm_pkcs11::object::Attributes,
) -> Result<Fate> {
    let failed = |e: azcloudhsm_pkcs11::error::Error| {
        Failure::new(format!("{name}: {e} ({})", destination.describe()))
    };
    let created = destination
        .create(name, content, &metadata::encode(object))
        .map_err(failed)?;
    let back = destination.read(name).map_err(failed)?;
    let Some((back, _)) = back else {
        return Ok(Fate::CopyFailed(
            "gone from the destination right after the copy".into(),
        ));
    };
    match created {
        CreateOutcome::AlreadyExists if back != content => return Ok(Fate::Conflict),
        CreateOutcome::AlreadyExists => return Ok(Fate::AlreadyThere),
        CreateOutcome::Created(_) => {}
    }
    if back != content {
        return Ok(Fate::CopyFailed(
            "the destination gives back other bytes than were written".into(),
        ));
    }
    Ok(match judge(verifier, handle, &back, None) {
        Ok(_) => Fate::Copied,
        Err(problem) => Fate::CopyFailed(format!("the copy does not verify: {}", problem.detail)),
    })
}

fn report(
    context: &Context,
    destination: &dyn BlobStore,
    fates: &[(String, Fate)],
) -> Result<Outcome> {
    let mut rows = Vec::new();
    let (mut copied, mut already, mut skipped, mut conflicts, mut failed) = (0, 0, 0, 0, 0);
    for (name, fate) in fates {
        match fate {
            Fate::Copied => copied += 1,
            Fate::AlreadyThere => already += 1,
            Fate::Skipped(problem) => {
                skipped += 1;
                rows.push(vec![
                    name.clone(),
                    format!("not copied: {}", problem.reason.text()),
                    problem.detail.clone(),
                ]);
            }
            Fate::Conflict => {
                conflicts += 1;
                rows.push(vec![
                    name.clone(),
                    "not copied: conflict".into(),
                    "the destination holds another blob of this name; it was not overwritten"
                        .into(),
                ]);
            }
            Fate::CopyFailed(why) => {
                failed += 1;
                rows.push(vec![name.clone(), "copy failed".into(), why.clone()]);
            }
        }
    }
    if !rows.is_empty() {
        print!("{}", table::render(&["BLOB", "RESULT", "DETAIL"], &rows));
    }
    println!(
        "migrated {} to {}: {copied} copied and verified, {already} already there, {skipped} not verified (not copied), {conflicts} conflicts, {failed} failed copies",
        context.store.describe(),
        destination.describe()
    );
    if rows.is_empty() {
        println!(
            "{} the destination: point CERTSTORAGE_URL at it when the applications should use it",
            count(copied + already, "certificate is in", "certificates are in")
        );
        Ok(Outcome::AllGood)
    } else {
        Ok(Outcome::Found)
    }
}
