//! `azcloudhsm-certs` list, verify, expiring, export and import, each on the
//! local store and on Azurite, plus the tool's error and progress-bar
//! behaviour. Certificates are created and read back through the C ABI; the
//! tool runs as its own process, as an operator runs it.

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use std::collections::BTreeMap;
use std::process::Command;

/// `date -u` of a Unix time in the given format: an oracle outside the tool.
fn date(seconds: i64, format: &str) -> String {
    let output = Command::new("date")
        .args(["-u", "-d", &format!("@{seconds}"), &format!("+{format}")])
        .output()
        .expect("run date");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A certificate's notAfter as a Unix time.
fn not_after(certificate: &openssl::x509::X509) -> i64 {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).unwrap();
    let diff = epoch.diff(certificate.not_after()).unwrap();
    i64::from(diff.days) * 86_400 + i64::from(diff.secs)
}

// ----- list -----

fn list_shows_every_certificate_with_its_attributes(store: Store) {
    let Some(fixture) = ToolFixture::new(store, &[]) else {
        return;
    };
    let web = make_certificate("web.example.com", 0x1234, -1, 365);
    let api = make_certificate("api.example.com", 77, -1, 30);
    let (web_handle, api_handle) = fixture.with_provider(|provider| {
        let session = provider.user_session();
        (
            store_certificate(&session, "web", &[0x01], &web).handle(),
            store_certificate(&session, "api", &[0x0a, 0xbc], &api).handle(),
        )
    });
    let blobs = fixture.blobs();
    let run = fixture.tool(&["list", "--json"]);
    run.expect_status(0);
    let lines = run.json_lines();
    let expected = [
        (
            web_handle,
            "web",
            "01",
            "CN=web.example.com, O=Example",
            "1234",
            &web,
        ),
        (
            api_handle,
            "api",
            "0abc",
            "CN=api.example.com, O=Example",
            "4d",
            &api,
        ),
    ];
    assert_eq!(lines.len(), expected.len(), "{}", run.stdout);
    for (line, (handle, label, id, name, serial, certificate)) in lines.iter().zip(expected) {
        let blob = &blobs[&blob_name(handle)];
        assert_eq!(line["handle"], handle, "{line}");
        assert_eq!(line["handle_hex"], format!("0x{handle:08x}"), "{line}");
        assert_eq!(line["label"], label, "{line}");
        assert_eq!(line["id"], id, "{line}");
        assert_eq!(line["subject"], name, "{line}");
        assert_eq!(line["issuer"], name, "{line}");
        assert_eq!(line["serial"], serial, "{line}");
        assert_eq!(
            line["not_after"],
            date(not_after(certificate), "%Y-%m-%dT%H:%M:%SZ"),
            "{line}"
        );
        assert_eq!(line["token"], true, "{line}");
        assert_eq!(line["private"], false, "{line}");
        assert_eq!(line["size"], blob.len(), "{line}");
    }

    let table = fixture.tool(&["list"]);
    table.expect_status(0);
    let rows: Vec<&str> = table.stdout.lines().collect();
    let header: Vec<&str> = rows[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "HANDLE",
            "HEX",
            "LABEL",
            "ID",
            "SUBJECT",
            "ISSUER",
            "SERIAL",
            "NOT AFTER",
            "TOKEN",
            "PRIVATE",
            "SIZE"
        ]
    );
    let web_row = rows
        .iter()
        .find(|row| row.starts_with(&web_handle.to_string()))
        .unwrap_or_else(|| panic!("no row for {web_handle}:\n{}", table.stdout));
    for cell in [
        "0xfff00000",
        " web ",
        "CN=web.example.com, O=Example",
        &date(not_after(&web), "%Y-%m-%d %H:%M:%S UTC"),
        &blobs[&blob_name(web_handle)].len().to_string(),
    ] {
        assert!(web_row.contains(cell), "{cell:?} missing from {web_row:?}");
    }
    assert!(
        rows.last().unwrap().starts_with("2 certificates in "),
        "{}",
        table.stdout
    );
}

#[test]
fn list_shows_every_certificate_with_its_attributes_on_the_local_store() {
    list_shows_every_certificate_with_its_attributes(Store::Local);
}

#[test]
fn list_shows_every_certificate_with_its_attributes_on_azurite() {
    list_shows_every_certificate_with_its_attributes(Store::Azurite);
}

// ----- verify -----

/// The label of the certificate whose blob each case tampers with, and
/// the reason `verify` must give.
const TAMPERED: &[(&str, &str)] = &[
    ("flipped-signature", "bad_signature"),
    ("other-key", "unknown_kid"),
    ("copied", "name_mismatch"),
    ("garbage", "not_jws"),
];

fn verify_names_each_bad_blob_with_its_reason_and_exits_1(store: Store) {
    let Some(fixture) = ToolFixture::new(store, &[]) else {
        return;
    };
    let certificate = make_certificate("verify.example.com", 1, -1, 100);
    let labels = ["intact", "flipped-signature", "copied", "garbage"];
    let handles: BTreeMap<&str, u64> = fixture.with_provider(|provider| {
        let session = provider.user_session();
        labels
            .iter()
            .map(|label| {
                (
                    *label,
                    store_certificate(&session, label, &[1], &certificate).handle(),
                )
            })
            .collect()
    });
    let clean = fixture.tool(&["verify"]);
    clean.expect_status(0);
    assert!(
        clean.stdout.contains("checked 4 blobs") && clean.stdout.contains("4 good, 0 bad"),
        "{}",
        clean.stdout
    );

    // A certificate signed by another key pair of the same token.
    fixture.write_config(&[("CERTSTORAGE_SIGNING_KEYID", "other")]);
    let other_handle = fixture.with_provider(|provider| {
        let session = provider.user_session();
        generate_rsa(&session, 2048, true, b"other");
        store_certificate(&session, "other-key", &[1], &certificate).handle()
    });
    fixture.write_config(&[]);

    let blobs = fixture.blob_store();
    let tamper = |name: &str, content: &[u8]| {
        let (_, version) = blobs.read(name).unwrap().expect("the blob");
        let metadata = listed_metadata(blobs.as_ref(), name);
        blobs.update(name, content, &metadata, &version).unwrap();
    };
    let name = blob_name(handles["flipped-signature"]);
    let (mut content, _) = blobs.read(&name).unwrap().unwrap();
    let at = content.len() - 10;
    content[at] = if content[at] == b'A' { b'B' } else { b'A' };
    tamper(&name, &content);
    let (copied, _) = blobs.read(&blob_name(handles["intact"])).unwrap().unwrap();
    tamper(&blob_name(handles["copied"]), &copied);
    tamper(&blob_name(handles["garbage"]), b"garbage, not a JWS");

    let run = fixture.tool(&["verify", "--json"]);
    run.expect_status(1);
    let reported: BTreeMap<String, String> = run
        .json_lines()
        .iter()
        .map(|line| {
            (
                line["blob"].as_str().unwrap().to_string(),
                line["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut handles = handles.clone();
    handles.insert("other-key", other_handle);
    let expected: BTreeMap<String, String> = TAMPERED
        .iter()
        .map(|(label, reason)| (blob_name(handles[label]), reason.to_string()))
        .collect();
    assert_eq!(reported, expected, "{}", run.stdout);
    assert!(
        run.stderr.contains("checked 5 blobs") && run.stderr.contains("1 good, 4 bad"),
        "{}",
        run.stderr
    );

    let text = fixture.tool(&["verify"]);
    text.expect_status(1);
    for (label, reason) in [
        ("flipped-signature", "bad signature"),
        ("other-key", "unknown kid"),
        ("copied", "name/handle mismatch"),
        ("garbage", "not a JWS"),
    ] {
        let name = blob_name(handles[label]);
        assert!(
            text.stdout
                .lines()
                .any(|line| line.starts_with(&name) && line.contains(reason)),
            "{name} {reason} missing:\n{}",
            text.stdout
        );
    }
    assert!(
        !text.stdout.contains(&blob_name(handles["intact"])),
        "{}",
        text.stdout
    );
}

/// The metadata a listing gives for `name` (empty for the local store).
fn listed_metadata(
    store: &dyn azcloudhsm_pkcs11::certstore::BlobStore,
    name: &str,
) -> BTreeMap<String, String> {
    store
        .list(name)
        .unwrap()
        .into_iter()
        .find(|entry| entry.name == name)
        .and_then(|entry| entry.metadata)
        .unwrap_or_default()
}

#[test]
fn verify_names_each_bad_blob_with_its_reason_and_exits_1_on_the_local_store() {
    verify_names_each_bad_blob_with_its_reason_and_exits_1(Store::Local);
}

#[test]
fn verify_names_each_bad_blob_with_its_reason_and_exits_1_on_azurite() {
    verify_names_each_bad_blob_with_its_reason_and_exits_1(Store::Azurite);
}

#[test]
fn verify_reports_oversized_files_and_directories_named_like_blobs_as_unreadable() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let certificate = make_certificate("ok.example.com", 1, -1, 100);
    fixture.with_provider(|provider| {
        store_certificate(&provider.user_session(), "ok", &[1], &certificate);
    });
    let certificates = fixture.directory.certificates_dir();
    let oversized = blob_name(FIRST_CERTIFICATE_HANDLE + 5);
    std::fs::write(certificates.join(&oversized), vec![b'A'; (1 << 20) + 1]).unwrap();
    let directory = blob_name(FIRST_CERTIFICATE_HANDLE + 6);
    std::fs::create_dir(certificates.join(&directory)).unwrap();
    let run = fixture.tool(&["verify", "--json"]);
    run.expect_status(1);
    let reported: Vec<(String, String)> = run
        .json_lines()
        .iter()
        .map(|line| {
            (
                line["blob"].as_str().unwrap().to_string(),
                line["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reported,
        [
            (oversized, "unreadable".to_string()),
            (directory, "unreadable".to_string())
        ],
        "{}",
        run.stdout
    );
}

// ----- expiring -----

fn expiring_lists_expired_and_soon_expiring_certificates_soonest_first(store: Store) {
    let Some(fixture) = ToolFixture::new(store, &[]) else {
        return;
    };
    let in_five_days = make_certificate("soon.example.com", 2, -30, 5);
    let expired = make_certificate("expired.example.com", 1, -30, -2);
    let valid = make_certificate("valid.example.com", 3, -30, 365);
    fixture.with_provider(|provider| {
        let session = provider.user_session();
        store_certificate(&session, "soon", &[2], &in_five_days);
        store_certificate(&session, "expired", &[1], &expired);
        store_certificate(&session, "valid", &[3], &valid);
    });
    let started = unix_now();
    let run = fixture.tool(&["expiring", "--days", "30", "--json"]);
    let ended = unix_now();
    run.expect_status(1);
    let found: Vec<(String, bool, i64)> = run
        .json_lines()
        .iter()
        .map(|line| {
            (
                line["label"].as_str().unwrap().to_string(),
                line["expired"].as_bool().unwrap(),
                line["days_left"].as_i64().unwrap(),
            )
        })
        .collect();
    let labels: Vec<(&str, bool)> = found.iter().map(|(l, e, _)| (l.as_str(), *e)).collect();
    assert_eq!(
        labels,
        [("expired", true), ("soon", false)],
        "{}",
        run.stdout
    );
    // Whole days left, rounded toward zero, as of some moment during the run.
    for ((_, _, days_left), certificate) in found.iter().zip([&expired, &in_five_days]) {
        let at = not_after(certificate);
        let range = (at - ended) / 86_400..=(at - started) / 86_400;
        assert!(range.contains(days_left), "{days_left} not in {range:?}");
    }
    assert_eq!(found[0].2, -2, "expired two days ago is -2, not -3");

    let text = fixture.tool(&["expiring", "--days", "1"]);
    text.expect_status(1);
    let rows: Vec<&str> = text.stdout.lines().collect();
    assert!(rows[0].starts_with("HANDLE"), "{}", text.stdout);
    assert!(
        rows[1].contains("expired") && rows[1].contains("CN=expired.example.com"),
        "{}",
        text.stdout
    );
    assert!(
        rows[2].starts_with("1 certificate expired or expiring within 1 days"),
        "{}",
        text.stdout
    );
}

#[test]
fn expiring_lists_expired_and_soon_expiring_certificates_soonest_first_on_the_local_store() {
    expiring_lists_expired_and_soon_expiring_certificates_soonest_first(Store::Local);
}

#[test]
fn expiring_lists_expired_and_soon_expiring_certificates_soonest_first_on_azurite() {
    expiring_lists_expired_and_soon_expiring_certificates_soonest_first(Store::Azurite);
}

#[test]
fn expiring_exits_0_when_every_certificate_outlives_the_window() {
    let fixture = ToolFixture::new(Store::Local, &[]).expect("the local store");
    let valid = make_certificate("valid.example.com", 3, -30, 365);
    fixture.with_provider(|provider| {
        store_certificate(&provider.user_session(), "valid", &[3], &valid);
    });
    let run = fixture.tool(&["expiring", "--days", "300"]);
    run.expect_status(0);
    assert_eq!(run.stdout, "no certificate expires within 300 days\n");
}

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
