//! Logging through `tracing`. Level and destination come from the
//! configuration (`LOG_LEVEL`, `LOG_FILE`), overridden by the environment
//! variables `AZCLOUDHSM_LOG` and `AZCLOUDHSM_LOG_FILE`. The subscriber is
//! installed once per process; PINs, keys and secrets are never logged.

use crate::config::{Config, LogDestination};
use std::path::PathBuf;
use std::sync::Once;

static INIT: Once = Once::new();

/// Installs the subscriber for `config` (first call in the process wins).
pub fn init(config: &Config) {
    let level = std::env::var("AZCLOUDHSM_LOG")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| config.log_level.clone());
    let destination = match std::env::var_os("AZCLOUDHSM_LOG_FILE").filter(|v| !v.is_empty()) {
        Some(path) => LogDestination::File(PathBuf::from(path)),
        None => config.log_destination.clone(),
    };
    install(&level, destination);
}

/// Installs the default subscriber (warnings to stderr), for errors that
/// happen before the configuration is known.
pub fn init_default() {
    let level = std::env::var("AZCLOUDHSM_LOG").unwrap_or_else(|_| "warn".to_string());
    install(&level, LogDestination::Stderr);
}

fn install(level: &str, destination: LogDestination) {
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_new(format!("azcloudhsm_pkcs11={level}"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("azcloudhsm_pkcs11=warn"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false);
        // Each line is one write() to a file description of our own, with
        // no lock in this process: a lock held by a thread writing a line
        // would be inherited, taken, by a child forked at that moment.
        let result = match destination {
            LogDestination::Stderr => match stderr_writer() {
                Some(writer) => builder.with_writer(writer).try_init(),
                None => builder.with_writer(std::io::stderr).try_init(),
            },
            LogDestination::File(path) => {
                match std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                {
                    Ok(file) => builder
                        .with_ansi(false)
                        .with_writer(std::sync::Arc::new(file))
                        .try_init(),
                    Err(error) => {
                        let result = builder.with_writer(std::io::stderr).try_init();
                        tracing::warn!(
                            "cannot open log file {}: {error}; logging to stderr",
                            path.display()
                        );
                        result
                    }
                }
            }
        };
        // Another subscriber may already be installed by the host; that is fine.
        let _ = result;
    });
}

/// A duplicate of standard error, written without `std`'s stderr lock.
fn stderr_writer() -> Option<std::sync::Arc<std::fs::File>> {
    use std::os::fd::AsFd;
    let duplicate = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    Some(std::sync::Arc::new(std::fs::File::from(duplicate)))
}
