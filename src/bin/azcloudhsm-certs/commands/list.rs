//! `list`: every certificate of the store.

use super::{count, note_bad_blobs, print_json_lines, summaries};
use crate::context::Context;
use crate::describe::{readable, Summary};
use crate::{table, Outcome, Result};

pub fn run(context: &Context, json: bool) -> Result<Outcome> {
    let (certificates, bad) = summaries(context, "list")?;
    if json {
        print_json_lines(certificates.iter().map(Summary::to_json));
    } else {
        print!("{}", render(&certificates));
        println!(
            "{} in {}",
            count(certificates.len(), "certificate", "certificates"),
            context.store.describe()
        );
    }
    note_bad_blobs(bad);
    Ok(Outcome::AllGood)
}

fn render(certificates: &[Summary]) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    let rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|c| {
            vec![
                c.handle.to_string(),
                format!("0x{:08x}", c.handle),
                c.label.clone(),
                c.id.clone(),
                c.subject.clone(),
                c.issuer.clone(),
                c.serial.clone(),
                c.not_after.map(readable).unwrap_or_else(|| "-".into()),
                yes_no(c.token),
                yes_no(c.private),
                c.size.to_string(),
            ]
        })
        .collect();
    table::render(
        &[
            "HANDLE",
            "HEX",
            "LABEL",
            "ID",
            "SUBJECT",
            "ISSUER",
            "SERIAL",
            "NOT AFTER",
            "TOKEN",
            "PRIVATE",
            "SIZE",
        ],
        &rows,
    )
}
