//! `verify`: every blob, checked as the library checks it before use.

use super::{count, print_json_lines};
use crate::blobs::{scan, Problem, Reason};
use crate::context::Context;
use crate::{table, Outcome, Result};
use azcloudhsm_pkcs11::certstore::handles::handle_of_blob;
use azcloudhsm_pkcs11::certstore::BLOB_PREFIX;
use azcloudhsm_pkcs11::object::Handle;

struct Bad {
    name: String,
    handle: Option<Handle>,
    problem: Problem,
}

pub fn run(context: &Context, json: bool) -> Result<Outcome> {
    let mut bad = Vec::new();
    let mut good = 0;
    let listed = scan(
        context.store.as_ref(),
        || Ok(vec![context.verifier()?]),
        "verify",
        |blob| {
            match blob.verdict {
                Ok(_) => good += 1,
                Err(problem) => bad.push(Bad {
                    name: blob.name,
                    handle: blob.handle,
                    problem,
                }),
            }
            Ok(())
        },
    )?;
    let odd = not_regular_files(context);
    let checked = listed + odd.len();
    bad.extend(odd);
    bad.sort_by(|a, b| (a.handle, &a.name).cmp(&(b.handle, &b.name)));
    let summary = format!(
        "checked {} in {}: {good} good, {} bad",
        count(checked, "blob", "blobs"),
        context.store.describe(),
        bad.len()
    );
    if json {
        print_json_lines(bad.iter().map(|b| {
            serde_json::json!({
                "blob": b.name,
                "handle": b.handle,
                "reason": b.problem.reason.code(),
                "detail": b.problem.detail,
            })
        }));
        eprintln!("{summary}");
    } else {
        if !bad.is_empty() {
            let rows: Vec<Vec<String>> = bad
                .iter()
                .map(|b| {
                    vec![
                        b.name.clone(),
                        b.problem.reason.text().to_string(),
                        b.problem.detail.clone(),
                    ]
                })
                .collect();
            print!("{}", table::render(&["BLOB", "REASON", "DETAIL"], &rows));
        }
        println!("{summary}");
    }
    Ok(if bad.is_empty() {
        Outcome::AllGood
    } else {
        Outcome::Found
    })
}

/// In a local store, what is named like a blob but is not a regular file (a
/// directory, a FIFO, a symbolic link): the store's listing leaves these
/// out, so no application can read them, and an operator should know.
fn not_regular_files(context: &Context) -> Vec<Bad> {
    let url = context
        .config
        .effective_certstorage_url()
        .unwrap_or_default();
    let Some(directory) = url::Url::parse(&url)
        .ok()
        .filter(|u| u.scheme() == "file")
        .and_then(|u| u.to_file_path().ok())
    else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&directory) else {
        return Vec::new();
    };
    let mut odd = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !name.starts_with(BLOB_PREFIX) {
            continue;
        }
        let kind = match entry.file_type() {
            Ok(kind) if kind.is_file() => continue,
            Ok(kind) if kind.is_dir() => "a directory",
            Ok(kind) if kind.is_symlink() => "a symbolic link",
            Ok(_) => "a special file (FIFO, socket or device)",
            Err(_) => continue,
        };
        odd.push(Bad {
            handle: handle_of_blob(&name),
            name,
            problem: Problem::new(
                Reason::Unreadable,
                format!("{kind}, not a regular file: the store leaves it out"),
            ),
        });
    }
    odd
}
