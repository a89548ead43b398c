//! The vendor device (`DEVICE=pkcs11`) in tests, with SoftHSM2 standing in
//! for the vendor's HSM.
//!
//! With `AZCLOUDHSM_ITEST_DEVICE=pkcs11` every token the harness makes
//! ([`super::TestToken`], [`super::TokenDirectory::write_config`]) is a
//! SoftHSM2 token of its own (a `softhsm2.conf` and token directory in the
//! test's directory, named by `SOFTHSM2_CONF`) behind the provider's vendor
//! device, so a suite written for the embedded device runs a second time
//! over SoftHSM2 unchanged. `.ci/run` runs the key, mechanism and
//! certificate suites that way, skipping by name (with SoftHSM2's reason)
//! the cases listed in `tests/softhsm2-skips.txt`.
//!
//! Tests that are about the vendor device itself (`tests/vendor_device.rs`)
//! set it up with [`SoftHsm`] whatever the variable says.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Selects the device every harness token uses: `soft` (or unset) or `pkcs11`.
pub const DEVICE_ENV: &str = "AZCLOUDHSM_ITEST_DEVICE";
/// SoftHSM2's PKCS#11 library as Debian 12 installs it (`softhsm2`).
pub const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The `CERTSTORAGE_SIGNING_KEYID` of every SoftHSM2-backed test token.
pub const SIGNING_KEY_ID: &str = "blob-signing-key";
/// The SoftHSM2 configuration file in a test's directory.
pub const SOFTHSM2_CONF_FILE: &str = "softhsm2.conf";

/// True when the harness puts SoftHSM2 behind the vendor device.
pub fn vendor_device() -> bool {
    match std::env::var(DEVICE_ENV).as_deref() {
        Err(_) | Ok("") | Ok("soft") => false,
        Ok("pkcs11") => {
            assert!(
                softhsm2_available(),
                "{DEVICE_ENV}=pkcs11 needs SoftHSM2 ({SOFTHSM2_MODULE}, softhsm2-util, pkcs11-tool)"
            );
            true
        }
        Ok(other) => panic!("{DEVICE_ENV}={other}: expected soft or pkcs11"),
    }
}

/// Whether SoftHSM2 and the tools that set it up are installed. Under `CI`
/// their absence is a failure, never a skip.
pub fn softhsm2_available() -> bool {
    let module = Path::new(SOFTHSM2_MODULE).is_file();
    let tools = ["softhsm2-util", "pkcs11-tool"]
        .iter()
        .all(|tool| Command::new(tool).arg("--help").output().is_ok());
    if module && tools {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("SoftHSM2 is missing under CI: install softhsm2 and opensc (see .ci/run)");
    }
    eprintln!("skipping: SoftHSM2 ({SOFTHSM2_MODULE}) or pkcs11-tool is not installed");
    false
}

/// The hex form `pkcs11-tool --id` takes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A SoftHSM2 installation of one test: its configuration file and token
/// directory under `root`.
#[derive(Clone, Debug)]
pub struct SoftHsm {
    pub root: PathBuf,
}

impl SoftHsm {
    /// Writes `root/softhsm2.conf` (once) with its token directory beside it.
    pub fn in_dir(root: &Path) -> SoftHsm {
        let softhsm = SoftHsm {
            root: root.to_path_buf(),
        };
        let tokens = softhsm.token_dir();
        std::fs::create_dir_all(&tokens).expect("the SoftHSM2 token directory");
        let conf = softhsm.conf_path();
        if !conf.is_file() {
            std::fs::write(
                &conf,
                format!(
                    "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                    tokens.display()
                ),
            )
            .expect("write softhsm2.conf");
        }
        softhsm
    }

    pub fn conf_path(&self) -> PathBuf {
        self.root.join(SOFTHSM2_CONF_FILE)
    }
    pub fn token_dir(&self) -> PathBuf {
        self.root.join("softhsm-tokens")
    }

    /// Points this process's `SOFTHSM2_CONF` at this installation: SoftHSM2
    /// reads it at each `C_Initialize`, in this process and its children.
    pub fn select(&self) {
        std::env::set_var("SOFTHSM2_CONF", self.conf_path());
    }

    /// The configuration lines of a provider whose vendor device is this
    /// SoftHSM2 (`label`: the token to present, `None` for the default).
    pub fn config_lines(&self, label: Option<&str>) -> Vec<(String, String)> {
        let mut lines = vec![
            ("DEVICE".to_string(), "pkcs11".to_string()),
            ("DEVICE_MODULE".to_string(), SOFTHSM2_MODULE.to_string()),
            (
                "CERTSTORAGE_SIGNING_KEYID".to_string(),
                SIGNING_KEY_ID.to_string(),
            ),
        ];
        if let Some(label) = label {
            lines.push(("DEVICE_TOKEN_LABEL".to_string(), label.to_string()));
        }
        lines
    }

    /// A command of `program` with this installation's `SOFTHSM2_CONF`.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.env("SOFTHSM2_CONF", self.conf_path());
        command
    }

    /// `pkcs11-tool` on SoftHSM2 itself, the way an administrator of the
    /// vendor HSM runs it; panics with its output when it fails.
    pub fn pkcs11_tool(&self, arguments: &[&str]) -> String {
        let output = self
            .command("pkcs11-tool")
            .args(["--module", SOFTHSM2_MODULE])
            .args(arguments)
            .output()
            .expect("run pkcs11-tool");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "pkcs11-tool {arguments:?} failed: {text}"
        );
        text
    }

    /// `softhsm2-util --init-token --free`: a new token, straight on SoftHSM2.
    pub fn init_token(&self, label: &str, so_pin: &str, user_pin: &str) {
        let output = self
            .command("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                so_pin,
                "--pin",
                user_pin,
            ])
            .output()
            .expect("run softhsm2-util");
        assert!(
            output.status.success(),
            "softhsm2-util --init-token: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The storage-signing key pair on the token `label`, as the vendor's
    /// set-up creates it: `pkcs11-tool --keypairgen --id <hex of the
    /// KEYID text> --label <KEYID>`.
    pub fn create_signing_key(&self, label: &str, user_pin: &str) {
        self.pkcs11_tool(&[
            "--token-label",
            label,
            "--login",
            "--pin",
            user_pin,
            "--keypairgen",
            "--key-type",
            "rsa:2048",
            "--id",
            &hex(SIGNING_KEY_ID.as_bytes()),
            "--label",
            SIGNING_KEY_ID,
        ]);
    }
}

/// The skip list of the SoftHSM2-backed runs (`tests/softhsm2-skips.txt`).
const SKIPS: &str = include_str!("../softhsm2-skips.txt");

/// The `case` lines of the skip list: (case name, reason).
pub fn skipped_cases() -> Vec<(&'static str, &'static str)> {
    SKIPS
        .lines()
        .filter_map(|line| line.strip_prefix("case "))
        .filter_map(|line| line.split_once(" | "))
        .map(|(case, reason)| (case.trim(), reason.trim()))
        .collect()
}

/// The test names of the skip list's `test` lines, of every binary.
pub fn skipped_tests() -> Vec<&'static str> {
    SKIPS
        .lines()
        .filter_map(|line| line.strip_prefix("test "))
        .filter_map(|line| line.split_once(" | "))
        .filter_map(|(names, _)| names.split_whitespace().nth(1))
        .collect()
}

/// True (after printing the case and SoftHSM2's reason) when this run is
/// SoftHSM2-backed and the skip list names `case`: the caller leaves that
/// case out and goes on with the others.
pub fn skipped_over_softhsm2(case: &str) -> bool {
    if !vendor_device() {
        return false;
    }
    match skipped_cases().into_iter().find(|(name, _)| *name == case) {
        Some((_, reason)) => {
            eprintln!("skipping case {case} over SoftHSM2: {reason}");
            true
        }
        None => false,
    }
}
