//! `azcloudhsm-certs` export and import (each on the local store and on
//! Azurite), the PIN prompt, errors, how the configuration is found, and the
//! progress bar. Certificates are created and read back through the C ABI;
//! the tool runs as its own process, as an operator runs it.

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use std::process::Command;

// ----- export -----

fn export_writes_the_der_or_pem_by_handle_or_label(store: Store) {
    let Some(fixture) = ToolFixture::new(store, &[]) else {
        return;
    };
    let web = make_certificate("web.example.com", 10, -1, 100);
    let twin = make_certificate("twin.example.com", 11, -1, 100);
    let web_handle = fixture.with_provider(|provider| {
        let session = provider.user_session();
        store_certificate(&session, "twin", &[2], &twin);
        store_certificate(&session, "twin", &[3], &twin);
        store_certificate(&session, "web", &[1], &web).handle()
    });
    let der = web.to_der().unwrap();

    let by_handle = fixture.tool(&["export", &web_handle.to_string()]);
    by_handle.expect_status(0);
    assert_eq!(by_handle.raw_stdout, der);
    let by_hex = fixture.tool(&["export", &format!("0x{web_handle:x}")]);
    by_hex.expect_status(0);
    assert_eq!(by_hex.raw_stdout, der);

    let pem = fixture.tool(&["export", "--label", "web", "--pem"]);
    pem.expect_status(0);
    assert!(pem.stdout.starts_with("-----BEGIN CERTIFICATE-----\n"));
    let parsed = openssl::x509::X509::from_pem(pem.stdout.as_bytes()).unwrap();
    assert_eq!(parsed.to_der().unwrap(), der);

    let out = fixture.directory.root().join("web.der");
    fixture
        .tool(&["export", "--label", "web", "--out", out.to_str().unwrap()])
        .expect_status(0);
    assert_eq!(std::fs::read(&out).unwrap(), der);

    let ambiguous = fixture.tool(&["export", "--label", "twin"]);
    ambiguous.expect_status(2);
    assert!(
        ambiguous
            .stderr
            .contains("2 certificates have label \"twin\""),
        "{}",
        ambiguous.stderr
    );
    let missing = fixture.tool(&["export", "0xfff00100"]);
    missing.expect_status(2);
    assert!(
        missing.stderr.contains("no certificate 4293918976"),
        "{}",
        missing.stderr
    );
    assert!(missing.raw_stdout.is_empty());
}

#[test]
fn export_writes_the_der_or_pem_by_handle_or_label_on_the_local_store() {
    export_writes_the_der_or_pem_by_handle_or_label(Store::Local);
}

#[test]
fn export_writes_the_der_or_pem_by_handle_or_label_on_azurite() {
    export_writes_the_der_or_pem_by_handle_or_label(Store::Azurite);
}

#[test]
fn export_refuses_a_blob_that_does_not_verify() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let web = make_certificate("web.example.com", 10, -1, 100);
    let handle = fixture.with_provider(|provider| {
        store_certificate(&provider.user_session(), "web", &[1], &web).handle()
    });
    let path = fixture.directory.certificates_dir().join(blob_name(handle));
    let mut content = std::fs::read(&path).unwrap();
    let at = content.len() - 5;
    content[at] = if content[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&path, content).unwrap();
    let run = fixture.tool(&["export", &handle.to_string(), "--pem"]);
    run.expect_status(2);
    assert!(
        run.stderr.contains("does not verify (bad signature"),
        "{}",
        run.stderr
    );
    assert!(run.raw_stdout.is_empty());
}

// ----- import -----

fn import_creates_a_token_certificate_the_library_finds(store: Store) {
    let Some(fixture) = ToolFixture::new(store, &[]) else {
        return;
    };
    let certificate = make_certificate("imported.example.com", 42, -1, 100);
    let der = certificate.to_der().unwrap();
    let pem_file = fixture.directory.root().join("imported.pem");
    std::fs::write(&pem_file, certificate.to_pem().unwrap()).unwrap();
    let der_file = fixture.directory.root().join("imported.der");
    std::fs::write(&der_file, &der).unwrap();

    let run = fixture.tool_with_pin(&[
        "import",
        pem_file.to_str().unwrap(),
        "--label",
        "imported",
        "--id",
        "0a0b",
    ]);
    run.expect_status(0);
    assert!(
        run.stdout.starts_with(&format!(
            "imported {} as handle 4293918720 (0xfff00000)",
            pem_file.display()
        )),
        "{}",
        run.stdout
    );
    fixture
        .tool_with_pin(&[
            "import",
            der_file.to_str().unwrap(),
            "--label",
            "imported-der",
            "--id",
            "0c",
        ])
        .expect_status(0);

    fixture.with_provider(|provider| {
        let session = provider.ro_session();
        for (label, id) in [("imported", vec![0x0a, 0x0b]), ("imported-der", vec![0x0c])] {
            let found = session
                .find_objects(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::Label(label.as_bytes().to_vec()),
                ])
                .unwrap();
            assert_eq!(found.len(), 1, "{label}");
            let attributes = session
                .get_attributes(
                    found[0],
                    &[
                        AttributeType::Value,
                        AttributeType::Id,
                        AttributeType::Subject,
                        AttributeType::SerialNumber,
                    ],
                )
                .unwrap();
            assert_eq!(
                attributes,
                [
                    Attribute::Value(der.clone()),
                    Attribute::Id(id),
                    Attribute::Subject(certificate.subject_name().to_der().unwrap()),
                    Attribute::SerialNumber(vec![0x02, 0x01, 42]),
                ],
                "{label}"
            );
        }
    });
}

#[test]
fn import_creates_a_token_certificate_the_library_finds_on_the_local_store() {
    import_creates_a_token_certificate_the_library_finds(Store::Local);
}

#[test]
fn import_creates_a_token_certificate_the_library_finds_on_azurite() {
    import_creates_a_token_certificate_the_library_finds(Store::Azurite);
}

#[test]
fn import_refuses_a_wrong_pin_a_missing_pin_and_a_file_that_is_no_certificate() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let certificate = make_certificate("x.example.com", 1, -1, 100);
    let file = fixture.directory.root().join("x.pem");
    std::fs::write(&file, certificate.to_pem().unwrap()).unwrap();
    let not_a_certificate = fixture.directory.root().join("x.txt");
    std::fs::write(&not_a_certificate, "hello").unwrap();
    let import = |file: &std::path::Path| {
        vec![
            "import".to_string(),
            file.display().to_string(),
            "--label".into(),
            "x".into(),
            "--id".into(),
            "01".into(),
        ]
    };
    let arguments = import(&file);
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();

    let wrong = fixture.tool_with(&arguments, &[("AZCLOUDHSM_PIN", "cu1:wrong-pin")]);
    wrong.expect_status(2);
    assert_eq!(
        wrong.stderr,
        "azcloudhsm-certs: the user PIN is incorrect\n"
    );

    // No PIN and no controlling terminal (setsid): a clear error, no hang.
    let output = tool_command_in_new_session(&fixture, &arguments);
    assert_eq!(output.status, Some(2), "{output:?}");
    assert!(
        output
            .stderr
            .contains("set AZCLOUDHSM_PIN or run on a terminal"),
        "{}",
        output.stderr
    );

    let bad = import(&not_a_certificate);
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let refused = fixture.tool_with_pin(&bad);
    refused.expect_status(2);
    assert!(
        refused
            .stderr
            .contains("is not an X.509 certificate (PEM or DER)"),
        "{}",
        refused.stderr
    );
    assert!(fixture.blobs().is_empty(), "nothing was stored");
}

/// The tool run by `setsid`, so it has no controlling terminal.
fn tool_command_in_new_session(fixture: &ToolFixture, arguments: &[&str]) -> ToolRun {
    let output = Command::new("setsid")
        .arg("-w")
        .arg(TOOL)
        .arg("--config")
        .arg(fixture.config_path())
        .args(arguments)
        .env_remove("AZCLOUDHSM_PIN")
        .env_remove("AZCLOUDHSM_LOG")
        .env_remove("AZCLOUDHSM_LOG_FILE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run setsid (util-linux)");
    ToolRun {
        status: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        raw_stdout: output.stdout,
    }
}

// ----- errors and output -----

#[test]
fn errors_are_one_line_on_stderr_with_exit_status_2() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let missing = fixture.directory.root().join("missing.cfg");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["frobnicate".into()], "unknown command frobnicate"),
        (
            vec![
                "--config".into(),
                missing.display().to_string(),
                "list".into(),
            ],
            "missing.cfg",
        ),
        (
            vec![
                "--store".into(),
                "file:///nonexistent/certificates".into(),
                "list".into(),
            ],
            "is not a directory",
        ),
        (
            vec![
                "--store".into(),
                "ftp://example/certs".into(),
                "list".into(),
            ],
            "ftp://example/certs",
        ),
    ];
    for (arguments, expected) in cases {
        let mut command = tool_command();
        if !arguments.contains(&"--config".to_string()) {
            command.arg("--config").arg(fixture.config_path());
        }
        let output = command.args(&arguments).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}: {stderr}");
        assert!(
            stderr.starts_with("azcloudhsm-certs: ") && stderr.ends_with('\n'),
            "{arguments:?}: {stderr:?}"
        );
        assert_eq!(stderr.lines().count(), 1, "{arguments:?}: {stderr:?}");
        assert!(stderr.contains(expected), "{arguments:?}: {stderr:?}");
        assert!(output.stdout.is_empty(), "{arguments:?}");
    }
    assert!(!std::path::Path::new("/nonexistent/certificates").exists());
}

#[test]
fn an_unreachable_azure_store_is_one_error_line_with_exit_status_2() {
    // The emulator's account on a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let account = format!(
        "http://127.0.0.1:{}/devstoreaccount1",
        closed.local_addr().unwrap().port()
    );
    drop(closed);
    let auth = azurite_auth_lines(&account);
    let mut extra: Vec<(&str, &str)> = auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    extra.push(("CERTSTORAGE_TIMEOUT_SECONDS", "1"));
    extra.push(("CERTSTORAGE_RETRIES", "0"));
    let fixture = ToolFixture::new(Store::Local, &extra).expect("the local store");
    let run = fixture.tool(&["--store", &format!("{account}/unreachable"), "verify"]);
    run.expect_status(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("azcloudhsm-certs: certificate store "),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn the_configuration_is_found_through_azcloudhsm_config_as_the_library_finds_it() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let certificate = make_certificate("env.example.com", 1, -1, 100);
    fixture.with_provider(|provider| {
        store_certificate(&provider.user_session(), "env", &[1], &certificate);
    });
    let output = tool_command()
        .env("AZCLOUDHSM_CONFIG", fixture.config_path())
        .args(["list", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("\"label\":\"env\""), "{stdout}");
}

#[test]
fn a_progress_bar_is_drawn_on_a_terminal_and_never_into_a_pipe() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let certificate = make_certificate("bar.example.com", 1, -1, 100);
    fixture.with_provider(|provider| {
        let session = provider.user_session();
        for n in 0..3 {
            store_certificate(&session, &format!("bar-{n}"), &[n], &certificate);
        }
    });
    let piped = fixture.tool(&["verify"]);
    piped.expect_status(0);
    assert!(
        !piped.stderr.contains('\r') && !piped.stdout.contains('\r'),
        "{piped:?}"
    );
    assert!(!piped.stderr.contains("verify ["), "{piped:?}");

    // `script` runs the tool on a pseudo-terminal and records what it drew.
    let command = format!(
        "{} --config {} verify",
        TOOL,
        fixture.config_path().display()
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("AZCLOUDHSM_LOG")
        .env_remove("AZCLOUDHSM_LOG_FILE")
        .output()
        .expect("run script (util-linux)");
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{terminal}");
    assert!(
        terminal.contains("\rverify [##############################] 3/3"),
        "{terminal:?}"
    );
    assert!(terminal.contains("3 good, 0 bad"), "{terminal:?}");
}

#[test]
fn the_pin_prompt_reads_from_the_terminal_without_echoing_the_pin() {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let certificate = make_certificate("prompted.example.com", 1, -1, 100);
    let file = fixture.directory.root().join("prompted.pem");
    std::fs::write(&file, certificate.to_pem().unwrap()).unwrap();
    let command = format!(
        "{TOOL} --config {} import {} --label prompted --id 01",
        fixture.config_path().display(),
        file.display()
    );
    // `script` gives the tool a pseudo-terminal: what is written to its
    // stdin is typed there, and its stdout is what the terminal shows.
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("AZCLOUDHSM_PIN")
        .env_remove("AZCLOUDHSM_LOG")
        .env_remove("AZCLOUDHSM_LOG_FILE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run script (util-linux)");
    let shown = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 256];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                shown.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        })
    };
    let prompted = {
        let shown = shown.clone();
        move || loop {
            if String::from_utf8_lossy(&shown.lock().unwrap()).contains("User PIN: ") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    within_watchdog("the PIN prompt", Duration::from_secs(60), prompted);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{USER_PIN}\n").as_bytes()).unwrap();
    let status = within_watchdog("the prompted import", Duration::from_secs(60), move || {
        let status = child.wait().unwrap();
        drop(stdin);
        status
    });
    reader.join().unwrap();
    let terminal = String::from_utf8_lossy(&shown.lock().unwrap()).into_owned();
    assert!(status.success(), "{terminal}");
    assert!(
        terminal.contains("imported") && terminal.contains("as handle 4293918720"),
        "{terminal}"
    );
    assert!(
        !terminal.contains(USER_PIN),
        "the PIN was echoed: {terminal:?}"
    );
}
