//! Certificates cross the boundary between this provider's API and OpenSC's
//! `pkcs11-tool` in both directions (issue 3): a certificate created through
//! `C_CreateObject` is listed and read back byte for byte by `pkcs11-tool`,
//! and one written by `pkcs11-tool --write-object` is found and read through
//! the API. Both run against the same token and certificate directory, the
//! tool in its own process.
//!
//! Needs `pkcs11-tool` (Debian package `opensc`); under `CI` a missing tool
//! is a failure.

mod common;

use common::*;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `pkcs11-tool`, or `None` (after saying so) when the test must skip.
fn pkcs11_tool() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pkcs11-tool"))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(tool) => Some(tool),
        None if std::env::var_os("CI").is_some() => {
            panic!("pkcs11-tool is not installed under CI (apt-get install opensc)")
        }
        None => {
            eprintln!("skipping: pkcs11-tool is not installed");
            None
        }
    }
}

/// Runs `pkcs11-tool` on slot 1 of the test's token and returns its output.
fn run_tool(tool: &Path, token: &TestToken, arguments: &[&str]) -> Output {
    let output = Command::new(tool)
        .arg("--module")
        .arg(library_path())
        .args(["--slot", "1"])
        .args(arguments)
        .env(CONFIG_ENV, token.config_path())
        .output()
        .expect("run pkcs11-tool");
    assert!(
        output.status.success(),
        "pkcs11-tool {arguments:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A self-signed certificate: its DER and its subject's DER.
fn certificate(common_name: &str) -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    let certificate = builder.build();
    (certificate.to_der().unwrap(), name.to_der().unwrap())
}

#[test]
fn pkcs11_tool_lists_and_reads_a_certificate_written_through_the_api() {
    let Some(tool) = pkcs11_tool() else { return };
    let token = TestToken::new();
    let (der, subject) = certificate("written through the API");
    let session = token.user_session();
    session
        .create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Label(b"api-cert".to_vec()),
            Attribute::Id(vec![0x42]),
            Attribute::Subject(subject),
            Attribute::Value(der.clone()),
        ])
        .expect("C_CreateObject of a token certificate");
    drop(session);

    let listing = run_tool(&tool, &token, &["--list-objects", "--type", "cert"]);
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("api-cert"), "label not listed:\n{listing}");
    assert!(
        listing.contains("ID:         42"),
        "id not listed:\n{listing}"
    );

    let read_back = token.root().join("read-back.der");
    let read_back_arg = read_back.to_str().unwrap();
    run_tool(
        &tool,
        &token,
        &[
            "--read-object",
            "--type",
            "cert",
            "--label",
            "api-cert",
            "-o",
            read_back_arg,
        ],
    );
    assert_eq!(std::fs::read(&read_back).unwrap(), der);
}

#[test]
fn a_certificate_written_by_pkcs11_tool_is_read_back_through_the_api() {
    let Some(tool) = pkcs11_tool() else { return };
    let token = TestToken::new();
    let (der, subject) = certificate("written by pkcs11-tool");
    let file = token.root().join("tool.der");
    std::fs::write(&file, &der).unwrap();
    run_tool(
        &tool,
        &token,
        &[
            "--login",
            "--pin",
            USER_PIN,
            "--write-object",
            file.to_str().unwrap(),
            "--type",
            "cert",
            "--id",
            "43",
            "--label",
            "tool-cert",
        ],
    );

    let session = token.rw_session();
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Label(b"tool-cert".to_vec()),
        ])
        .expect("C_FindObjects");
    assert_eq!(
        found.len(),
        1,
        "the certificate written by pkcs11-tool is found once"
    );
    let attributes = session
        .get_attributes(
            found[0],
            &[
                AttributeType::Value,
                AttributeType::Id,
                AttributeType::Subject,
            ],
        )
        .expect("C_GetAttributeValue");
    assert!(attributes.contains(&Attribute::Value(der)));
    assert!(attributes.contains(&Attribute::Id(vec![0x43])));
    assert!(attributes.contains(&Attribute::Subject(subject)));
}
