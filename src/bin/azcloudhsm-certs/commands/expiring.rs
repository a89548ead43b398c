//! `expiring --days N`: the certificates whose not-after is within N days
//! (or already past), soonest first. Exit status 1 when there is any, for
//! cron jobs and monitoring.

use super::{count, note_bad_blobs, print_json_lines, summaries};
use crate::context::Context;
use crate::describe::{now, readable, Summary};
use crate::{table, Outcome, Result};

const DAY: i64 = 86_400;

pub fn run(context: &Context, days: u32, json: bool) -> Result<Outcome> {
    let now = now();
    let limit = now + i64::from(days) * DAY;
    let (certificates, bad) = summaries(context, "expiring")?;
    let mut expiring: Vec<Summary> = certificates
        .into_iter()
        .filter(|summary| summary.not_after.is_some_and(|at| at <= limit))
        .collect();
    expiring.sort_by_key(|c| (c.not_after, c.handle));
    // Whole days, rounded toward zero: "expired 2 days ago" is -2.
    let days_left = |at: i64| (at - now) / DAY;
    if json {
        print_json_lines(expiring.iter().map(|c| {
            let mut value = c.to_json();
            let at = c.not_after.unwrap_or_default();
            value["days_left"] = days_left(at).into();
            value["expired"] = (at < now).into();
            value
        }));
    } else if expiring.is_empty() {
        println!("no certificate expires within {days} days");
    } else {
        let rows: Vec<Vec<String>> = expiring
            .iter()
            .map(|c| {
                let at = c.not_after.unwrap_or_default();
                let status = if at < now {
                    "expired".to_string()
                } else {
                    format!("in {}", count(days_left(at) as usize, "day", "days"))
                };
                vec![
                    c.handle.to_string(),
                    format!("0x{:08x}", c.handle),
                    c.label.clone(),
                    c.subject.clone(),
                    readable(at),
                    status,
                ]
            })
            .collect();
        print!(
            "{}",
            table::render(
                &["HANDLE", "HEX", "LABEL", "SUBJECT", "NOT AFTER", "STATUS"],
                &rows
            )
        );
        println!(
            "{} expired or expiring within {days} days",
            count(expiring.len(), "certificate", "certificates")
        );
    }
    note_bad_blobs(bad);
    Ok(if expiring.is_empty() {
        Outcome::AllGood
    } else {
        Outcome::Found
    })
}
