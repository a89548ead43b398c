//! `azcloudhsm-certs` list, verify and expiring, each on the local store and
//! on Azurite (export, import and the command line itself are in
//! `certs_tool_cli.rs`, migrate and resign in `certs_tool_rotation.rs`).
//! Certificates are created through the C ABI; the tool runs as its own
//! process, as an operator runs it.

mod common;

use common::*;
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
