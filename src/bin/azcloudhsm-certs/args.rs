//! The command line. Global options may come before or after the command.

use crate::{Failure, Result};
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: azcloudhsm-certs [--config FILE] [--store URL] <command> [options]

Commands:
  list [--json]                      every certificate: handle, label, id, subject,
                                     issuer, serial, not-after, flags, blob size
  verify [--json]                    check every blob; print each bad one and why
                                     (exit 1 if any is bad)
  expiring --days N [--json]         certificates whose not-after is within N days,
                                     soonest first (exit 1 if any)
  export (HANDLE | --label LABEL) [--pem] [--out FILE]
                                     the certificate as DER (or PEM)
  import FILE --label LABEL --id HEX a PEM or DER certificate becomes a token
                                     certificate (needs the user PIN)
  migrate --to URL                   copy every verified blob to another store,
                                     keeping handles; never overwrites; resumable
  resign --new-key-id ID [--dry-run] re-sign every blob with the device key pair
                                     whose CKA_ID is ID (needs the user PIN); resumable

Options:
  --config FILE   the configuration file (default: as the library finds it:
                  $AZCLOUDHSM_CONFIG, the executable's directory, the working
                  directory, /etc/azcloudhsm/)
  --store URL     use this certificate store instead of CERTSTORAGE_URL, with the
                  configuration's authentication keys (CERTSTORAGE_AUTH, ...)
  -h, --help      this text
  --version       the version

The user PIN comes from AZCLOUDHSM_PIN, else a prompt on the terminal.
Exit status: 0 all good, 1 found something (see each command), 2 error.
";

/// Options every command takes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Globals {
    pub config: Option<PathBuf>,
    pub store: Option<String>,
}

/// Which certificate `export` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Handle(u64),
    Label(String),
}

/// A command and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    List {
        json: bool,
    },
    Verify {
        json: bool,
    },
    Expiring {
        days: u32,
        json: bool,
    },
    Export {
        selector: Selector,
        pem: bool,
        out: Option<PathBuf>,
    },
    Import {
        file: PathBuf,
        label: String,
        id: Vec<u8>,
    },
    Migrate {
        to: String,
    },
    Resign {
        new_key_id: String,
        dry_run: bool,
    },
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    Help,
    Version,
    Run { globals: Globals, command: Command },
}

/// Options after the command name, before they are checked.
#[derive(Default)]
struct Options {
    positional: Vec<String>,
    json: bool,
    pem: bool,
    dry_run: bool,
    days: Option<String>,
    label: Option<String>,
    id: Option<String>,
    out: Option<String>,
    to: Option<String>,
    new_key_id: Option<String>,
}

/// Parses the arguments (without the program name).
pub fn parse(arguments: &[String]) -> Result<Invocation> {
    let mut globals = Globals::default();
    let mut options = Options::default();
    let mut command: Option<&str> = None;
    let mut words = arguments.iter();
    while let Some(word) = words.next() {
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ => (word.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String> {
            match inline.clone().or_else(|| words.next().cloned()) {
                Some(value) => Ok(value),
                None => Err(Failure::new(format!("{name} needs {what}"))),
            }
        };
        match name {
            "-h" | "--help" | "help" if command.is_none() || name != "help" => {
                return Ok(Invocation::Help)
            }
            "--version" => return Ok(Invocation::Version),
            "--config" => globals.config = Some(PathBuf::from(value("a file")?)),
            "--store" => globals.store = Some(value("a URL")?),
            "--json" => options.json = true,
            "--pem" => options.pem = true,
            "--dry-run" => options.dry_run = true,
            "--days" => options.days = Some(value("a number of days")?),
            "--label" => options.label = Some(value("a label")?),
            "--id" => options.id = Some(value("a hex CKA_ID")?),
            "--out" => options.out = Some(value("a file")?),
            "--to" => options.to = Some(value("a store URL")?),
            "--new-key-id" => options.new_key_id = Some(value("a key's CKA_ID")?),
            flag if flag.starts_with('-') && flag.len() > 1 && !is_number(flag) => {
                return Err(Failure::new(format!(
                    "unknown option {flag} (see azcloudhsm-certs --help)"
                )))
            }
            _ if command.is_none() => command = Some(word.as_str()),
            _ => options.positional.push(word.clone()),
        }
    }
    let Some(command) = command else {
        return Err(Failure::new(
            "no command given (list, verify, expiring, export, import, migrate, resign; see --help)",
        ));
    };
    let command = build(command, options)?;
    Ok(Invocation::Run { globals, command })
}

fn is_number(word: &str) -> bool {
    word[1..].bytes().all(|b| b.is_ascii_digit())
}

fn build(command: &str, options: Options) -> Result<Command> {
    check_allowed(command, &options)?;
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| Failure::new(format!("{command} needs --{name}")))
    };
    Ok(match command {
        "list" => Command::List { json: options.json },
        "verify" => Command::Verify { json: options.json },
        "expiring" => Command::Expiring {
            days: parse_days(&required(options.days, "days N")?)?,
            json: options.json,
        },
        "export" => Command::Export {
            selector: export_selector(options.label, &options.positional)?,
            pem: options.pem,
            out: options.out.map(PathBuf::from),
        },
        "import" => {
            let [file] = options.positional.as_slice() else {
                return Err(Failure::new("import needs exactly one FILE"));
            };
            let label = required(options.label, "label LABEL")?;
            let id = required(options.id, "id HEX")?;
            Command::Import {
                file: PathBuf::from(file),
                label,
                id: parse_hex(&id)?,
            }
        }
        "migrate" => Command::Migrate {
            to: required(options.to, "to URL")?,
        },
        _ => {
            let new_key_id = required(options.new_key_id, "new-key-id ID")?;
            if new_key_id.is_empty() {
                return Err(Failure::new("--new-key-id must not be empty"));
            }
            Command::Resign {
                new_key_id,
                dry_run: options.dry_run,
            }
        }
    })
}

/// Refuses an unknown command, and an option or argument `command` does
/// not take.
fn check_allowed(command: &str, options: &Options) -> Result<()> {
    let allowed: &[&str] = match command {
        "list" | "verify" => &["json"],
        "expiring" => &["json", "days"],
        "export" => &["pem", "out", "label", "positional"],
        "import" => &["label", "id", "positional"],
        "migrate" => &["to"],
        "resign" => &["new-key-id", "dry-run"],
        other => {
            return Err(Failure::new(format!(
                "unknown command {other} (see azcloudhsm-certs --help)"
            )))
        }
    };
    let given = [
        ("json", options.json),
        ("pem", options.pem),
        ("dry-run", options.dry_run),
        ("days", options.days.is_some()),
        ("label", options.label.is_some()),
        ("id", options.id.is_some()),
        ("out", options.out.is_some()),
        ("to", options.to.is_some()),
        ("new-key-id", options.new_key_id.is_some()),
        ("positional", !options.positional.is_empty()),
    ];
    for (name, present) in given {
        if present && !allowed.contains(&name) {
            let shown = if name == "positional" {
                format!("argument {}", options.positional[0])
            } else {
                format!("option --{name}")
            };
            return Err(Failure::new(format!("{command} takes no {shown}")));
        }
    }
    Ok(())
}

/// `--days N`: a whole number of days, at most 100,000.
fn parse_days(days: &str) -> Result<u32> {
    days.parse::<u32>()
        .ok()
        .filter(|d| *d <= 100_000)
        .ok_or_else(|| Failure::new(format!("--days {days}: expected a whole number of days")))
}

/// The certificate `export` names: one handle or one `--label`.
fn export_selector(label: Option<String>, positional: &[String]) -> Result<Selector> {
    match (label, positional) {
        (Some(label), []) => Ok(Selector::Label(label)),
        (None, [handle]) => Ok(Selector::Handle(parse_handle(handle)?)),
        (None, []) => Err(Failure::new("export needs a handle or --label LABEL")),
        _ => Err(Failure::new(
            "export takes one handle or one --label, not both",
        )),
    }
}

/// A certificate handle in decimal or `0x` hex, in the certificate range.
pub fn parse_handle(text: &str) -> Result<u64> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse::<u64>().ok(),
    };
    parsed
        .filter(|handle| azcloudhsm_pkcs11::object::is_certificate_handle(*handle))
        .ok_or_else(|| {
            Failure::new(format!(
                "{text} is not a certificate handle (4293918720..=4294967294, or 0xfff00000..=0xfffffffe)"
            ))
        })
}

/// Hex digits (an optional `0x`, optional `:` separators) as bytes.
pub fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let digits: String = text
        .strip_prefix("0x")
        .unwrap_or(text)
        .chars()
        .filter(|c| *c != ':')
        .collect();
    let bad = || Failure::new(format!("--id {text}: expected hex digits, e.g. 01 or 0a1b"));
    let hex_digits = digits.bytes().all(|b| b.is_ascii_hexdigit());
    if digits.is_empty() || !digits.len().is_multiple_of(2) || !hex_digits {
        return Err(bad());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Result<Invocation> {
        parse(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    fn command(words: &[&str]) -> Command {
        match run(words) {
            Ok(Invocation::Run { command, .. }) => command,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    fn error(words: &[&str]) -> String {
        match run(words) {
            Err(Failure(message)) => message,
            other => panic!("{words:?} should fail: {other:?}"),
        }
    }

    #[test]
    fn global_options_are_accepted_before_and_after_the_command() {
        let expected = Globals {
            config: Some(PathBuf::from("/etc/a.cfg")),
            store: Some("file:///srv/certs".into()),
        };
        for words in [
            &[
                "--config",
                "/etc/a.cfg",
                "--store",
                "file:///srv/certs",
                "list",
            ][..],
            &[
                "list",
                "--config=/etc/a.cfg",
                "--store",
                "file:///srv/certs",
            ][..],
        ] {
            match run(words).unwrap() {
                Invocation::Run { globals, command } => {
                    assert_eq!(globals, expected);
                    assert_eq!(command, Command::List { json: false });
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn handles_are_read_in_decimal_or_hex_within_the_certificate_range() {
        assert_eq!(
            command(&["export", "0xfff00001"]),
            Command::Export {
                selector: Selector::Handle(4_293_918_721),
                pem: false,
                out: None
            }
        );
        assert_eq!(parse_handle("4293918720").unwrap(), 0xFFF0_0000);
        for bad in ["4293918719", "0xffffffff", "12", "abc", "-1"] {
            assert!(parse_handle(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_command_refuses_options_it_does_not_take_and_needs_its_required_ones() {
        assert!(error(&["list", "--days", "3"]).contains("list takes no option --days"));
        assert!(error(&["expiring"]).contains("expiring needs --days"));
        assert!(error(&["expiring", "--days", "soon"]).contains("whole number"));
        assert!(error(&["import", "a.pem", "--label", "x"]).contains("needs --id"));
        for bad_id in ["zz", "abc", "aéb", "0x"] {
            assert!(
                error(&["import", "a.pem", "--label", "x", "--id", bad_id]).contains("hex"),
                "{bad_id}"
            );
        }
        assert!(error(&["export"]).contains("handle or --label"));
        assert!(error(&["export", "4293918720", "--label", "x"]).contains("not both"));
        assert!(error(&["migrate"]).contains("--to"));
        assert!(error(&["resign"]).contains("--new-key-id"));
        assert!(error(&["frobnicate"]).contains("unknown command frobnicate"));
        assert!(error(&["list", "--colour"]).contains("unknown option --colour"));
        assert!(error(&[]).contains("no command"));
        assert!(error(&["list", "--config"]).contains("--config needs a file"));
    }

    #[test]
    fn import_reads_its_id_as_hex_with_or_without_separators() {
        assert_eq!(
            command(&["import", "c.der", "--label", "web", "--id", "0a:1B"]),
            Command::Import {
                file: PathBuf::from("c.der"),
                label: "web".into(),
                id: vec![0x0a, 0x1b]
            }
        );
    }

    #[test]
    fn help_and_version_need_no_configuration() {
        assert_eq!(run(&["--help"]).unwrap(), Invocation::Help);
        assert_eq!(run(&["help"]).unwrap(), Invocation::Help);
        assert_eq!(run(&["--version"]).unwrap(), Invocation::Version);
    }
}
