//! What the provider writes to its log during a normal client's use.
//!
//! Every test binary logs at `info` to one file per process (see
//! `common::process_log_path`), so a line that must not appear at the
//! default level (`warn`) must not appear at `info` either.

mod common;

use common::*;
use cryptoki_sys::*;
use std::process::Command;
use std::ptr::null_mut;

/// python-pkcs11 asks `C_GetInterface` for versions newer than the ones
/// offered and falls back: the specified error, and no line above `debug`.
#[test]
fn probing_c_get_interface_for_a_version_not_offered_is_not_logged_above_debug() {
    let token = TestToken::new();
    let exports = raw_exports();
    let mut name = *b"PKCS 11\0";
    let mut interface: *mut CK_INTERFACE = null_mut();
    let mark = LogMark::now();
    for (major, minor) in [(3, 3), (3, 1), (4, 0), (2, 20)] {
        let mut version = CK_VERSION { major, minor };
        // SAFETY: valid pointers; the name is NUL-terminated.
        let rv =
            unsafe { exports.C_GetInterface(name.as_mut_ptr(), &mut version, &mut interface, 0) };
        assert_eq!(rv, CKR_ARGUMENTS_BAD, "C_GetInterface {major}.{minor}");
    }
    // A call that does log at info, so an empty log cannot pass for a quiet one.
    assert_eq!(ck!(C_CloseSession(0xdead_beef)), CKR_SESSION_HANDLE_INVALID);
    let log = mark.since();
    assert!(
        log.contains("C_CloseSession"),
        "the log is live at info level:\n{log}"
    );
    assert!(
        !log.contains("C_GetInterface"),
        "the probes were logged above debug:\n{log}"
    );
    drop(token);
}

/// `pkcs11-tool` on `PATH`; under `CI` a missing one fails the test.
fn pkcs11_tool() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pkcs11-tool"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "pkcs11-tool is not installed under CI (apt-get install opensc)"
        );
        eprintln!("skipping: pkcs11-tool is not installed");
    }
    found
}

/// A client's whole first use, the way a user runs it (`pkcs11-tool`:
/// initialise the token and the PIN, make a key, list slots and objects,
/// write a certificate, sign), logs nothing at the default level.
#[test]
fn a_pkcs11_tool_session_logs_nothing_at_the_default_level() {
    let Some(tool) = pkcs11_tool() else {
        return;
    };
    let _guard = lock();
    let directory = TokenDirectory::new();
    let root = directory.root();
    std::fs::create_dir_all(root.join("token")).unwrap();
    std::fs::create_dir_all(root.join("certificates")).unwrap();
    let log = root.join("quiet.log");
    let config = root.join("quiet.cfg");
    // No LOG_LEVEL: the default (warn). LOG_FILE only catches what is logged.
    std::fs::write(
        &config,
        format!(
            "SOFT_TOKEN_DIR={}\nCERTSTORAGE_URL=file://{}\nSOFT_KDF_ITERATIONS=1000\nLOG_FILE={}\n",
            root.join("token").display(),
            root.join("certificates").display(),
            log.display()
        ),
    )
    .unwrap();
    let certificate = make_certificate("quiet.example.com", 1, -1, 30);
    let der = root.join("quiet.der");
    std::fs::write(&der, certificate.to_der().unwrap()).unwrap();
    let data = root.join("data");
    std::fs::write(&data, b"sign me").unwrap();
    let (der, data, signature) = (
        der.display().to_string(),
        data.display().to_string(),
        root.join("data.sig").display().to_string(),
    );
    let run = |arguments: &[&str], level: Option<&str>| {
        let mut command = Command::new(&tool);
        command
            .arg("--module")
            .arg(library_path())
            .args(arguments)
            .env(CONFIG_ENV, &config)
            .env_remove("AZCLOUDHSM_LOG")
            .env_remove("AZCLOUDHSM_LOG_FILE");
        if let Some(level) = level {
            command.env("AZCLOUDHSM_LOG", level);
        }
        let output = command.output().expect("run pkcs11-tool");
        assert!(
            output.status.success(),
            "pkcs11-tool {arguments:?}:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let pin = ["--login", "--pin", USER_PIN];
    let session: Vec<Vec<&str>> = vec![
        vec!["--init-token", "--label", "quiet", "--so-pin", SO_PIN],
        vec![
            "--init-pin",
            "--login",
            "--so-pin",
            SO_PIN,
            "--pin",
            USER_PIN,
        ],
        vec!["-L"],
        [
            &pin[..],
            &["--keypairgen", "--key-type", "rsa:2048", "--id", "01"],
        ]
        .concat(),
        [
            &pin[..],
            &[
                "--write-object",
                &der,
                "--type",
                "cert",
                "--id",
                "01",
                "--label",
                "quiet",
            ],
        ]
        .concat(),
        vec!["--list-objects"],
        [&pin[..], &["--list-objects"]].concat(),
        [
            &pin[..],
            &[
                "--sign",
                "--mechanism",
                "SHA256-RSA-PKCS",
                "--id",
                "01",
                "-i",
                &data,
                "-o",
                &signature,
            ],
        ]
        .concat(),
    ];
    for arguments in &session {
        let stderr = run(arguments, None);
        for level in ["ERROR", "WARN", "INFO"] {
            assert!(
                !stderr.contains(level),
                "{arguments:?} printed a log line:\n{stderr}"
            );
        }
    }
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(logged, "", "the session logged at the default level");
    // The same destination at info is live, so the empty file above means quiet.
    run(&["--list-objects"], Some("info"));
    let live = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        live.contains("INFO"),
        "nothing logged at info either:\n{live}"
    );
}

/// Text from a blob reaches the log escaped and bounded: a `kid` holding
/// a newline, a terminal escape and 10,000 more characters does not start
/// a line of its own, and its line stays short.
#[test]
fn a_blob_whose_kid_forges_log_lines_is_logged_on_one_short_line() {
    let mut token = TestToken::new();
    let kid = format!(
        "evil\n2026-12-02T00:00:00Z ERROR forged line\u{1b}[2J{}",
        "x".repeat(10_000)
    );
    let header = serde_json::json!({ "alg": "RS512", "kid": kid }).to_string();
    let encode = |bytes: &[u8]| azcloudhsm_pkcs11::certstore::encoding::base64url_encode(bytes);
    // A real blob of this token, its header replaced.
    let handle = token
        .user_session()
        .create_object(&certificate_template("kid", b"certificate bytes"))
        .unwrap();
    let path = token.certificates_dir().join(blob_name(handle.handle()));
    let real = std::fs::read_to_string(&path).unwrap();
    let (_, rest) = real.split_once('.').unwrap();
    std::fs::write(&path, format!("{}.{rest}", encode(header.as_bytes()))).unwrap();
    token.reinitialize();
    let mark = LogMark::now();
    let session = token.user_session();
    let found = session
        .find_objects(&[cryptoki::object::Attribute::Label(b"kid".to_vec())])
        .unwrap();
    assert!(found.is_empty(), "the blob is left out");
    let log = mark.since();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("evil")).collect();
    assert_eq!(lines.len(), 1, "one line names the blob's kid:\n{log}");
    let line = lines[0];
    assert!(
        line.contains("signed by an unknown key (kid evil\\u{a}2026"),
        "{line}"
    );
    assert!(line.contains("\\u{1b}[2J"), "{line}");
    assert!(!line.chars().any(char::is_control), "{line}");
    assert!(line.len() < 1_000, "{} bytes", line.len());
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-12-02T00:00:00Z ERROR forged")),
        "{log}"
    );
}
