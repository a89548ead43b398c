//! `azcloudhsm-certs`: the certificate-store tool for the people who run
//! the provider. It reads the same `azcloudhsm_application.cfg` as the
//! library, opens the same stores with the library's own code, and checks
//! every blob the way the library does before it returns a certificate.
//!
//! Exit status: 0 when all is well, 1 when the command found what it looks
//! for (a blob that does not verify, an expiring certificate, a blob not
//! copied or not re-signed), 2 for an error (one line on stderr).

mod args;
mod blobs;
mod commands;
mod context;
mod describe;
mod pin;
mod progress;
mod table;

use std::process::ExitCode;

/// How a command ended, as the exit status says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Status 0.
    AllGood,
    /// Status 1: the command ran and found something to act on.
    Found,
}

/// A failure: one line for the user, status 2.
#[derive(Debug)]
pub struct Failure(pub String);

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure(message.into())
    }
}

impl From<azcloudhsm_pkcs11::error::Error> for Failure {
    fn from(error: azcloudhsm_pkcs11::error::Error) -> Self {
        Failure(error.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure(error.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Failure>;

fn main() -> ExitCode {
    // A bug must still end as one line and status 2, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let line = info.to_string().replace(['\n', '\r'], " ");
        eprintln!("azcloudhsm-certs: internal error: {line}");
    }));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(_) => ExitCode::from(2),
    }
}

fn run() -> ExitCode {
    let arguments: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|argument| argument.to_string_lossy().into_owned())
        .collect();
    let outcome = args::parse(&arguments).and_then(|invocation| match invocation {
        args::Invocation::Help => {
            print!("{}", args::USAGE);
            Ok(Outcome::AllGood)
        }
        args::Invocation::Version => {
            println!("azcloudhsm-certs {}", env!("CARGO_PKG_VERSION"));
            Ok(Outcome::AllGood)
        }
        args::Invocation::Run { globals, command } => {
            let context = context::Context::open(&globals)?;
            commands::run(&context, command)
        }
    });
    match outcome {
        Ok(Outcome::AllGood) => ExitCode::SUCCESS,
        Ok(Outcome::Found) => ExitCode::from(1),
        Err(Failure(message)) => {
            // One line, whatever the message holds.
            let line = message.replace(['\n', '\r'], " ");
            eprintln!("azcloudhsm-certs: {line}");
            ExitCode::from(2)
        }
    }
}
