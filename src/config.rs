//! `azcloudhsm_application.cfg`: `KEY=VALUE` lines, `#` comments.
//!
//! Found through `AZCLOUDHSM_CONFIG` (a path), then the directory of the
//! running executable, then `/etc/azcloudhsm/`; no file means the embedded
//! defaults. The working directory is not searched: whoever controls it
//! must not choose a process's token or log file. A set-uid or set-gid
//! process ignores the `AZCLOUDHSM_*` environment (see [`environment`]).
//!
//! An unknown key or a bad value is an error naming the file and the line,
//! and the key when it is a known one; the line's text is never repeated,
//! since a mistyped line may hold a secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The configuration file's name.
pub const FILE_NAME: &str = "azcloudhsm_application.cfg";

/// Every key the configuration file may hold.
pub const KNOWN_KEYS: &[&str] = &[
    "CERTSTORAGE_URL",
    "CERTSTORAGE_SIGNING_KEYID",
    "UAMI_CLIENT_ID",
    "CERTSTORAGE_AUTH",
    "CERTSTORAGE_SAS",
    "CERTSTORAGE_CONNECTION_STRING",
    "CERTSTORAGE_TIMEOUT_SECONDS",
    "CERTSTORAGE_RETRIES",
    "CERTSTORAGE_CACHE_SECONDS",
    "CERTSTORAGE_LISTING_SECONDS",
    "CERTSTORAGE_CA_FILE",
    "DEVICE",
    "SOFT_TOKEN_DIR",
    "DEVICE_MODULE",
    "DEVICE_TOKEN_LABEL",
    "PIN_MAX_FAILURES",
    "SOFT_KDF_ITERATIONS",
    "FIPS_APPROVED_ONLY",
    "LOG_LEVEL",
    "LOG_FILE",
];

/// How the Azure store authenticates (`CERTSTORAGE_AUTH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ManagedIdentity,
    WorkloadIdentity,
    AzureCli,
    ClientSecret,
    Sas,
    ConnectionString,
}

/// The device backend (`DEVICE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// The embedded software token.
    Soft,
    /// A vendor PKCS#11 module (`DEVICE_MODULE`) that does all key work.
    Pkcs11,
}

/// Where log lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogDestination {
    Stderr,
    File(PathBuf),
}

/// The whole configuration, with defaults filled in. Its `{:?}` shows
/// every setting but the secrets ([`SecretSetting`]).
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from, if any.
    pub source: Option<PathBuf>,
    pub certstorage_url: Option<String>,
    pub certstorage_signing_key_id: Option<String>,
    pub uami_client_id: Option<String>,
    pub certstorage_auth: AuthMethod,
    pub certstorage_sas: Option<SecretSetting>,
    pub certstorage_connection_string: Option<SecretSetting>,
    pub certstorage_timeout: Duration,
    pub certstorage_retries: u32,
    pub certstorage_cache_freshness: Duration,
    /// `CERTSTORAGE_LISTING_SECONDS`: how long after a whole listing of an
    /// Azure container ended the next search lists it whole again.
    pub certstorage_listing_interval: Duration,
    /// `CERTSTORAGE_CA_FILE`: a PEM bundle of trust anchors for the storage
    /// endpoint, added to the system's.
    pub certstorage_ca_file: Option<PathBuf>,
    pub device: DeviceKind,
    /// `SOFT_TOKEN_DIR`, else the default under `XDG_DATA_HOME` or `HOME`;
    /// `None` when neither is set: there is no fallback to a shared directory.
    pub soft_token_dir: Option<PathBuf>,
    /// `DEVICE_MODULE`: the vendor PKCS#11 library, required with `DEVICE=pkcs11`.
    pub device_module: Option<PathBuf>,
    /// `DEVICE_TOKEN_LABEL`: the vendor token to present; `None` is the
    /// first vendor slot holding a token.
    pub device_token_label: Option<String>,
    pub pin_max_failures: u32,
    pub soft_kdf_iterations: u32,
    /// `FIPS_APPROVED_ONLY`: the embedded device offers and uses only what
    /// FIPS 140-3 approves (default false).
    pub fips_approved_only: bool,
    pub log_level: String,
    pub log_destination: LogDestination,
}

/// A setting that is a secret (a SAS, a connection string with its account
/// key): `{:?}` shows `<redacted>`, so a configuration can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretSetting(String);

impl SecretSetting {
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A configuration error: the file, the line and the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {key}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: None,
            certstorage_url: None,
            certstorage_signing_key_id: None,
            uami_client_id: None,
            certstorage_auth: AuthMethod::ManagedIdentity,
            certstorage_sas: None,
            certstorage_connection_string: None,
            certstorage_timeout: Duration::from_secs(30),
            certstorage_retries: 3,
            certstorage_ca_file: None,
            certstorage_cache_freshness: Duration::ZERO,
            certstorage_listing_interval: crate::certstore::manager::FULL_LISTING_INTERVAL,
            device: DeviceKind::Soft,
            soft_token_dir: default_token_dir(),
            device_module: None,
            device_token_label: None,
            pin_max_failures: 10,
            soft_kdf_iterations: 100_000,
            fips_approved_only: false,
            log_level: "warn".to_string(),
            log_destination: LogDestination::Stderr,
        }
    }
}

/// `$XDG_DATA_HOME/azcloudhsm-pkcs11/token`, else
/// `~/.local/share/azcloudhsm-pkcs11/token`; `None` with neither variable
/// (or in a set-uid process, which ignores both): a shared directory such
/// as `/tmp` would let another user plant or read the token.
fn default_token_dir() -> Option<PathBuf> {
    let data = environment("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            environment("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(data.join("azcloudhsm-pkcs11").join("token"))
}

/// What to tell a user whose process has no token directory.
pub const NO_TOKEN_DIR: &str = "no token directory: set SOFT_TOKEN_DIR in \
     azcloudhsm_application.cfg, or HOME or XDG_DATA_HOME in the environment";

/// An environment variable, read as `secure_getenv(3)` does: a process
/// running set-uid or set-gid (the kernel's `AT_SECURE`) gets `None`, so
/// whoever starts it cannot choose its configuration, token or log file.
pub fn environment(name: &str) -> Option<std::ffi::OsString> {
    if secure_execution() {
        return None;
    }
    std::env::var_os(name)
}

/// Whether this process runs with privileges its starter does not have.
pub fn secure_execution() -> bool {
    crate::ffi::os::secure_execution()
}

impl Config {
    /// Finds and reads the configuration file, or returns the defaults.
    pub fn load() -> Result<Config, ConfigError> {
        match locate() {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                    file: path.display().to_string(),
                    line: 0,
                    key: String::new(),
                    message: format!("cannot read: {e}"),
                })?;
                Config::parse(&text, &path)
            }
            None => Ok(Config::default()),
        }
    }

    /// Parses the text of a configuration file read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config {
            source: Some(path.to_path_buf()),
            ..Config::default()
        };
        let file = path.display().to_string();
        let mut device_line = 0;
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fail = |key: &str, message: String| ConfigError {
                file: file.clone(),
                line: index + 1,
                key: key.to_string(),
                message,
            };
            let Some((key, value)) = line.split_once('=') else {
                // Nothing of the line: it may hold a secret.
                return Err(fail("", "expected KEY=VALUE".to_string()));
            };
            let key = key.trim();
            let value = unquote(value.trim());
            if !KNOWN_KEYS.contains(&key) {
                // Not named: a mistyped line may hold a secret before its `=`.
                return Err(fail("", "unknown key".to_string()));
            }
            config
                .apply(key, value)
                .map_err(|message| fail(key, message))?;
            if key == "DEVICE" {
                device_line = index + 1;
            }
        }
        if config.device == DeviceKind::Pkcs11 && config.device_module.is_none() {
            return Err(ConfigError {
                file,
                line: device_line,
                key: "DEVICE_MODULE".to_string(),
                message: "DEVICE=pkcs11 needs DEVICE_MODULE, the vendor's PKCS#11 library"
                    .to_string(),
            });
        }
        Ok(config)
    }

    fn apply(&mut self, key: &str, value: &str) -> Result<(), String> {
        let optional = |v: &str| (!v.is_empty()).then(|| v.to_string());
        match key {
            "CERTSTORAGE_URL" => self.certstorage_url = optional(value),
            "CERTSTORAGE_SIGNING_KEYID" => self.certstorage_signing_key_id = optional(value),
            "UAMI_CLIENT_ID" => self.uami_client_id = optional(value),
            "CERTSTORAGE_AUTH" => self.certstorage_auth = AuthMethod::parse(value)?,
            "CERTSTORAGE_SAS" => self.certstorage_sas = optional(value).map(SecretSetting),
            "CERTSTORAGE_CONNECTION_STRING" => {
                self.certstorage_connection_string = optional(value).map(SecretSetting)
            }
            "CERTSTORAGE_TIMEOUT_SECONDS" => {
                self.certstorage_timeout = Duration::from_secs(number(value, 1, 3600)?)
            }
            "CERTSTORAGE_RETRIES" => self.certstorage_retries = number(value, 0, 20)? as u32,
            "CERTSTORAGE_CACHE_SECONDS" => {
                self.certstorage_cache_freshness = Duration::from_secs(number(value, 0, 86_400)?)
            }
            "CERTSTORAGE_LISTING_SECONDS" => {
                self.certstorage_listing_interval = Duration::from_secs(number(value, 0, 86_400)?)
            }
            "DEVICE" => self.device = DeviceKind::parse(value)?,
            "SOFT_TOKEN_DIR" => self.soft_token_dir = Some(path(value)?),
            "CERTSTORAGE_CA_FILE" => self.certstorage_ca_file = optional(value).map(PathBuf::from),
            "DEVICE_MODULE" => self.device_module = Some(path(value)?),
            "DEVICE_TOKEN_LABEL" => {
                if value.len() > 32 {
                    return Err("a token label has at most 32 bytes".to_string());
                }
                self.device_token_label = optional(value)
            }
            "PIN_MAX_FAILURES" => self.pin_max_failures = number(value, 1, 1000)? as u32,
            "SOFT_KDF_ITERATIONS" => {
                let range = crate::device::soft::pins::KDF_ITERATIONS;
                self.soft_kdf_iterations =
                    number(value, u64::from(*range.start()), u64::from(*range.end()))? as u32
            }
            "FIPS_APPROVED_ONLY" => self.fips_approved_only = boolean(value)?,
            "LOG_LEVEL" => self.log_level = log_level(value)?,
            "LOG_FILE" => {
                self.log_destination = if value.is_empty() || value == "stderr" {
                    LogDestination::Stderr
                } else {
                    LogDestination::File(PathBuf::from(value))
                }
            }
            _ => unreachable!("every key of KNOWN_KEYS has a branch"),
        }
        Ok(())
    }

    /// The certificate store URL in force: the configured one, or a
    /// `certificates` directory beside the soft token; `None` when neither
    /// exists (see [`NO_TOKEN_DIR`]).
    pub fn effective_certstorage_url(&self) -> Option<String> {
        match &self.certstorage_url {
            Some(url) => Some(url.clone()),
            None => {
                let token_dir = self.soft_token_dir.as_deref()?;
                let dir = match token_dir.parent() {
                    Some(parent) if parent != Path::new("") => parent.join("certificates"),
                    _ => token_dir.join("certificates"),
                };
                // Percent-encoded, so a directory with spaces or `%` in its
                // name reads back as itself; a relative one stays as given,
                // for the store to refuse with its name in the error.
                Some(
                    url::Url::from_file_path(&dir)
                        .map(String::from)
                        .unwrap_or_else(|()| format!("file://{}", dir.display())),
                )
            }
        }
    }
}

/// A path value: anything but empty.
fn path(value: &str) -> Result<PathBuf, String> {
    if value.is_empty() {
        return Err("empty path".to_string());
    }
    Ok(PathBuf::from(value))
}

/// A `LOG_LEVEL` value.
fn log_level(value: &str) -> Result<String, String> {
    match value {
        "off" | "error" | "warn" | "info" | "debug" | "trace" => Ok(value.to_string()),
        _ => Err("unknown log level (off, error, warn, info, debug or trace)".to_string()),
    }
}

impl AuthMethod {
    /// A `CERTSTORAGE_AUTH` value.
    fn parse(value: &str) -> Result<AuthMethod, String> {
        Ok(match value {
            "managed_identity" => AuthMethod::ManagedIdentity,
            "workload_identity" => AuthMethod::WorkloadIdentity,
            "azure_cli" => AuthMethod::AzureCli,
            "client_secret" => AuthMethod::ClientSecret,
            "sas" => AuthMethod::Sas,
            "connection_string" => AuthMethod::ConnectionString,
            _ => {
                return Err("unknown authentication method (managed_identity, \
                    workload_identity, azure_cli, client_secret, sas or connection_string)"
                    .to_string())
            }
        })
    }
}

impl DeviceKind {
    /// A `DEVICE` value.
    fn parse(value: &str) -> Result<DeviceKind, String> {
        match value {
            "soft" => Ok(DeviceKind::Soft),
            "pkcs11" => Ok(DeviceKind::Pkcs11),
            _ => Err("unknown device (soft or pkcs11)".to_string()),
        }
    }
}

fn unquote(value: &str) -> &str {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == b'"' && bytes[bytes.len() - 1] == b'"') {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

/// `true` or `false` (any case), as the other boolean settings of the
/// vendor's configuration are written.
fn boolean(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        _ => Err("must be true or false".to_string()),
    }
}

fn number(value: &str, min: u64, max: u64) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("not a whole number in {min}..={max}")),
    }
}

/// The file to read, in the documented search order.
fn locate() -> Option<PathBuf> {
    if let Some(path) = environment("AZCLOUDHSM_CONFIG").filter(|p| !p.is_empty()) {
        // An explicit path is used even when missing, so the error names it.
        return Some(PathBuf::from(path));
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        candidates.push(dir.join(FILE_NAME));
    }
    candidates.push(PathBuf::from("/etc/azcloudhsm").join(FILE_NAME));
    candidates.into_iter().find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/x/azcloudhsm_application.cfg"))
    }

    #[test]
    fn comments_blank_lines_and_quotes_are_accepted() {
        let c =
            parse("# c\n\nCERTSTORAGE_URL = \"file:///tmp/c\"\nSOFT_TOKEN_DIR=/tmp/t\n").unwrap();
        assert_eq!(c.certstorage_url.as_deref(), Some("file:///tmp/c"));
        assert_eq!(c.soft_token_dir, Some(PathBuf::from("/tmp/t")));
    }

    #[test]
    fn the_default_certificate_directory_reads_back_as_itself_through_its_url() {
        let c = parse("SOFT_TOKEN_DIR=/srv/hsm data %/token\n").unwrap();
        let url = c.effective_certstorage_url().unwrap();
        assert_eq!(url, "file:///srv/hsm%20data%20%25/certificates");
        let parsed = url::Url::parse(&url).unwrap().to_file_path().unwrap();
        assert_eq!(parsed, PathBuf::from("/srv/hsm data %/certificates"));
    }

    #[test]
    fn unknown_key_names_file_and_line_but_not_the_key() {
        let e = parse("LOG_LEVEL=info\nNO_SUCH_KEY=1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.key, "");
        assert_eq!(
            e.to_string(),
            "/x/azcloudhsm_application.cfg:2: : unknown key"
        );
    }

    #[test]
    fn a_line_that_fails_to_parse_is_never_repeated() {
        let lines = [
            "TOPSECRET",
            "sig=TOPSECRET",
            "CERTSTORAGE_SAS sig=TOPSECRET",
            "CERTSTORAGE_RETRIES=TOPSECRET",
            "CERTSTORAGE_AUTH=TOPSECRET",
            "DEVICE=TOPSECRET",
            "LOG_LEVEL=TOPSECRET",
            "PIN_MAX_FAILURES=99999999999999999999TOPSECRET",
        ];
        for line in lines {
            let error = parse(&format!("# first\n{line}\n")).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("TOPSECRET"), "{line}: {shown}");
            assert_eq!(error.line, 2, "{line}");
            let known = line.split_once('=').map(|(k, _)| k.trim());
            let expected = known.filter(|k| KNOWN_KEYS.contains(k)).unwrap_or("");
            assert_eq!(error.key, expected, "{line}");
        }
    }

    #[test]
    fn bad_values_are_errors() {
        assert!(parse("CERTSTORAGE_AUTH=magic").is_err());
        assert!(parse("PIN_MAX_FAILURES=0").is_err());
        assert!(parse("CERTSTORAGE_TIMEOUT_SECONDS=abc").is_err());
        assert!(parse("just text").is_err());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let c = parse(
            "CERTSTORAGE_SAS=sig=TOPSECRET\nCERTSTORAGE_CONNECTION_STRING=AccountKey=HIDDENKEY\n",
        )
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("TOPSECRET") && !shown.contains("HIDDENKEY"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn the_pkcs11_device_reads_its_module_and_token_label() {
        let c =
            parse("DEVICE=pkcs11\nDEVICE_MODULE=/usr/lib/vendor.so\nDEVICE_TOKEN_LABEL=hsm one\n")
                .unwrap();
        assert_eq!(c.device, DeviceKind::Pkcs11);
        assert_eq!(c.device_module, Some(PathBuf::from("/usr/lib/vendor.so")));
        assert_eq!(c.device_token_label.as_deref(), Some("hsm one"));
    }

    #[test]
    fn the_pkcs11_device_without_a_module_names_device_module() {
        let error = parse("LOG_LEVEL=info\nDEVICE=pkcs11\n").unwrap_err();
        assert_eq!((error.key.as_str(), error.line), ("DEVICE_MODULE", 2));
    }

    #[test]
    fn a_token_label_longer_than_32_bytes_is_refused() {
        let error = parse(&format!("DEVICE_TOKEN_LABEL={}\n", "x".repeat(33))).unwrap_err();
        assert_eq!(error.key, "DEVICE_TOKEN_LABEL");
    }

    #[test]
    fn with_no_home_and_no_token_dir_there_is_no_token_directory() {
        let c = Config {
            soft_token_dir: None,
            ..Config::default()
        };
        assert_eq!(c.effective_certstorage_url(), None);
        let configured = Config {
            soft_token_dir: None,
            certstorage_url: Some("file:///srv/certs".to_string()),
            ..Config::default()
        };
        assert_eq!(
            configured.effective_certstorage_url().as_deref(),
            Some("file:///srv/certs")
        );
    }

    #[test]
    fn a_process_started_normally_reads_its_environment() {
        assert!(!secure_execution());
        std::env::var_os("PATH").expect("PATH is set for tests");
        assert_eq!(environment("PATH"), std::env::var_os("PATH"));
    }

    #[test]
    fn default_certificate_store_is_beside_the_token() {
        let c = parse("SOFT_TOKEN_DIR=/data/hsm/token").unwrap();
        assert_eq!(
            c.effective_certstorage_url().as_deref(),
            Some("file:///data/hsm/certificates")
        );
    }
}

#[cfg(test)]
mod sample_tests {
    use super::*;

    /// Every key the parser knows is documented in the sample file, and the
    /// sample, uncommented, parses.
    #[test]
    fn sample_file_documents_every_key_and_parses() {
        let sample = include_str!("../azcloudhsm_application.cfg.sample");
        let keys: Vec<&str> = sample
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        for key in KNOWN_KEYS {
            assert!(keys.contains(key), "{key} is not documented in the sample");
        }
        let uncommented: String = sample
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .filter(|l| {
                l.split_once('=')
                    .is_some_and(|(k, _)| KNOWN_KEYS.contains(&k))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        Config::parse(&uncommented, Path::new("sample")).unwrap();
    }
}
