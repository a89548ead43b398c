//! Logging through `tracing`. Level and destination come from the
//! configuration (`LOG_LEVEL`, `LOG_FILE`), overridden by the environment
//! variables `AZCLOUDHSM_LOG` and `AZCLOUDHSM_LOG_FILE` (ignored by a
//! set-uid process). The subscriber is installed once per process; PINs,
//! keys and secrets are never logged. A log file is created 0600 and never
//! opened through a symbolic link. Text from outside (a blob, a service)
//! goes into a line only through [`outside`].

use crate::config::{environment, Config, LogDestination};
use std::path::PathBuf;
use std::sync::Once;

static INIT: Once = Once::new();

/// Installs the subscriber for `config` (first call in the process wins).
pub fn init(config: &Config) {
    let level = environment("AZCLOUDHSM_LOG")
        .and_then(|v| v.into_string().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| config.log_level.clone());
    let destination = match environment("AZCLOUDHSM_LOG_FILE").filter(|v| !v.is_empty()) {
        Some(path) => LogDestination::File(PathBuf::from(path)),
        None => config.log_destination.clone(),
    };
    install(&level, destination);
}

/// Installs the default subscriber (warnings to stderr), for errors that
/// happen before the configuration is known.
pub fn init_default() {
    let level = environment("AZCLOUDHSM_LOG")
        .and_then(|v| v.into_string().ok())
        .unwrap_or_else(|| "warn".to_string());
    install(&level, LogDestination::Stderr);
}

fn install(level: &str, destination: LogDestination) {
    INIT.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_new(format!("azcloudhsm_pkcs11={level}"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("azcloudhsm_pkcs11=warn"));
        // No colours: the escape sequences they need are the one kind of
        // control character a line may then not hold (see LineGuard).
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(false);
        // Each line is one write() to a file description of our own, with
        // no lock in this process: a lock held by a thread writing a line
        // would be inherited, taken, by a child forked at that moment.
        let result = match destination {
            LogDestination::Stderr => match stderr_writer() {
                Some(writer) => builder.with_writer(Guarded(writer)).try_init(),
                None => builder.with_writer(Guarded(std::io::stderr)).try_init(),
            },
            LogDestination::File(path) => {
                match crate::owner_only::file_options()
                    .create(true)
                    .append(true)
                    .open(&path)
                {
                    Ok(file) => builder
                        .with_writer(Guarded(std::sync::Arc::new(file)))
                        .try_init(),
                    Err(error) => {
                        let result = builder.with_writer(Guarded(std::io::stderr)).try_init();
                        tracing::warn!(
                            "cannot open log file {} (a symbolic link is not followed): {error}; logging to stderr",
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

/// Longest log line written, in bytes; a longer one is cut.
pub const LINE_MAX: usize = 4096;

/// Makes [`LineGuard`] writers over another writer maker.
struct Guarded<M>(M);

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for Guarded<M>
{
    type Writer = LineGuard<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        LineGuard(self.0.make_writer())
    }
}

/// The last defence of the log's shape: the formatter hands over one whole
/// line per write, and this writes it with every control character but the
/// final newline escaped and at most [`LINE_MAX`] bytes, so no text a line
/// carries (an error from a service, a path) can forge another line.
struct LineGuard<W>(W);

impl<W: std::io::Write> std::io::Write for LineGuard<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(guarded_line(buf).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// `line` with control characters escaped, cut to [`LINE_MAX`] bytes, and
/// one final newline.
fn guarded_line(line: &[u8]) -> String {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let text = String::from_utf8_lossy(&body[..body.len().min(LINE_MAX)]);
    let mut shown = String::with_capacity(text.len() + 1);
    for character in text.chars() {
        if shown.len() >= LINE_MAX {
            break;
        }
        if character == '\t' {
            shown.push(character);
        } else if is_unsafe(character) {
            shown.extend(character.escape_unicode());
        } else {
            shown.push(character);
        }
    }
    if body.len() > LINE_MAX || shown.len() >= LINE_MAX {
        let mut end = shown.len().min(LINE_MAX - 8);
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push_str("...(cut)");
    }
    shown.push('\n');
    shown
}

/// Control characters, and the Unicode marks that reorder how a line reads.
fn is_unsafe(character: char) -> bool {
    character.is_control()
        || matches!(character, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A duplicate of standard error, written without `std`'s stderr lock.
fn stderr_writer() -> Option<std::sync::Arc<std::fs::File>> {
    use std::os::fd::AsFd;
    let duplicate = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
    Some(std::sync::Arc::new(std::fs::File::from(duplicate)))
}

/// Longest piece of outside text a log line repeats.
pub const OUTSIDE_TEXT_MAX: usize = 200;

/// Text that came from a blob or from the network, fit for a log line:
/// control characters (a newline could forge a line, an escape sequence
/// could rewrite a terminal) are shown as `\u{..}` escapes, and text beyond
/// [`OUTSIDE_TEXT_MAX`] characters is cut, with a mark saying so.
pub fn outside(text: &str) -> String {
    let mut shown = String::with_capacity(text.len().min(OUTSIDE_TEXT_MAX) + 16);
    for (count, character) in text.chars().enumerate() {
        if count == OUTSIDE_TEXT_MAX {
            shown.push_str("...(cut)");
            break;
        }
        if is_unsafe(character) {
            shown.extend(character.escape_unicode());
        } else {
            shown.push(character);
        }
    }
    shown
}

/// [`outside`] for bytes that may not even be UTF-8.
pub fn outside_bytes(bytes: &[u8]) -> String {
    outside(&String::from_utf8_lossy(
        &bytes[..bytes.len().min(OUTSIDE_TEXT_MAX * 4)],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_cannot_forge_a_line_or_move_the_cursor() {
        let shown = outside("kid\n2026-12-02T00:00:00Z ERROR forged\r\u{1b}[2J\u{7f}\u{202e}");
        assert!(!shown.chars().any(|c| c.is_control()), "{shown}");
        assert_eq!(
            shown,
            "kid\\u{a}2026-12-02T00:00:00Z ERROR forged\\u{d}\\u{1b}[2J\\u{7f}\\u{202e}"
        );
    }

    #[test]
    fn a_log_line_keeps_one_newline_and_no_other_control_character() {
        let line = guarded_line(b"ERROR a\nforged\r\x1b[31m\ttab\n");
        assert_eq!(line, "ERROR a\\u{a}forged\\u{d}\\u{1b}[31m\ttab\n");
        let long = guarded_line(&[b'x'; 10_000]);
        assert!(
            long.len() <= LINE_MAX + 1 && long.ends_with("...(cut)\n"),
            "{}",
            long.len()
        );
        let escapes = guarded_line(&[0u8; 5_000]);
        assert!(escapes.len() <= LINE_MAX + 1 && escapes.ends_with("...(cut)\n"));
        assert_eq!(guarded_line(b"plain"), "plain\n");
    }

    #[test]
    fn outside_text_is_cut_at_its_bound() {
        let shown = outside(&"a".repeat(10_000));
        assert_eq!(shown.len(), OUTSIDE_TEXT_MAX + "...(cut)".len());
        assert_eq!(outside("plain kid-1"), "plain kid-1");
        assert_eq!(outside_bytes(b"\xff\x00x"), "\u{fffd}\\u{0}x");
    }
}
