//! One module per subcommand.

mod expiring;
mod export;
mod import;
mod list;
mod migrate;
mod resign;
mod verify;

use crate::args::Command;
use crate::blobs::scan;
use crate::context::Context;
use crate::describe::Summary;
use crate::{Outcome, Result};

/// Runs `command` over `context`.
pub fn run(context: &Context, command: Command) -> Result<Outcome> {
    match command {
        Command::List { json } => list::run(context, json),
        Command::Verify { json } => verify::run(context, json),
        Command::Expiring { days, json } => expiring::run(context, days, json),
        Command::Export { selector, pem, out } => export::run(context, &selector, pem, out),
        Command::Import { file, label, id } => import::run(context, &file, &label, &id),
        Command::Migrate { to } => migrate::run(context, &to),
        Command::Resign {
            new_key_id,
            dry_run,
        } => resign::run(context, &new_key_id, dry_run),
    }
}

/// Prints one JSON object per line.
fn print_json_lines(values: impl IntoIterator<Item = serde_json::Value>) {
    for value in values {
        println!("{value}");
    }
}

/// "1 blob" / "2 blobs".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A note on stderr about blobs a command left out because they do not verify.
fn note_bad_blobs(bad: usize) {
    if bad > 0 {
        let (blobs, verb) = if bad == 1 {
            ("blob is", "it does")
        } else {
            ("blobs are", "they do")
        };
        eprintln!("note: {bad} {blobs} left out: {verb} not verify (run azcloudhsm-certs verify)");
    }
}

/// A summary of every certificate of the store that verifies, and how many
/// blobs do not; `what` names the command in the progress line.
fn summaries(context: &Context, what: &str) -> Result<(Vec<Summary>, usize)> {
    let mut certificates = Vec::new();
    let mut bad = 0;
    scan(
        context.store.as_ref(),
        || Ok(vec![context.verifier()?]),
        what,
        |blob| {
            match (&blob.verdict, blob.handle) {
                (Ok(good), Some(handle)) => {
                    certificates.push(Summary::of(handle, &good.object, blob.content.len()))
                }
                _ => bad += 1,
            }
            Ok(())
        },
    )?;
    Ok((certificates, bad))
}
