//! The user PIN: from `AZCLOUDHSM_PIN`, else asked on the terminal with
//! echo off. It is never printed or logged, and wiped when dropped.

use crate::{Failure, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use zeroize::Zeroizing;

/// The environment variable holding the user PIN.
pub const PIN_ENV: &str = "AZCLOUDHSM_PIN";

/// The user PIN (`<user>:<password>` for the Azure Cloud HSM).
pub fn user_pin() -> Result<Zeroizing<String>> {
    if let Some(pin) = std::env::var_os(PIN_ENV).filter(|p| !p.is_empty()) {
        let pin = Zeroizing::new(
            pin.into_string()
                .map_err(|_| Failure::new(format!("{PIN_ENV} is not valid UTF-8")))?,
        );
        return Ok(pin);
    }
    let terminal = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            Failure::new(format!(
                "the user PIN is needed: set {PIN_ENV} or run on a terminal"
            ))
        })?;
    prompt(terminal)
}

fn prompt(mut terminal: File) -> Result<Zeroizing<String>> {
    // Echo goes off before the prompt shows: whatever is typed after the
    // prompt appeared is never echoed.
    set_echo(&terminal, false)?;
    let shown = write!(terminal, "User PIN: ").and_then(|()| terminal.flush());
    if let Err(error) = shown {
        let _ = set_echo(&terminal, true);
        return Err(error.into());
    }
    let mut line = Zeroizing::new(String::new());
    let read = BufReader::new(&terminal).read_line(&mut line);
    let restored = set_echo(&terminal, true);
    let _ = writeln!(terminal);
    read?;
    restored?;
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    if line.is_empty() {
        return Err(Failure::new("no PIN given"));
    }
    Ok(line)
}

/// Turns the terminal's echo on or off with `stty`, which needs no unsafe
/// code here.
fn set_echo(terminal: &File, on: bool) -> Result<()> {
    let status = Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(Stdio::from(terminal.try_clone()?))
        .status()
        .map_err(|e| Failure::new(format!("stty: {e}")))?;
    if !status.success() {
        return Err(Failure::new(
            "cannot turn the terminal's echo off to read the PIN",
        ));
    }
    Ok(())
}
