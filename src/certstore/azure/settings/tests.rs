//! Tests of reading the Azure store settings.

use super::*;
use std::path::Path;

fn settings(lines: &str) -> Result<AzureSettings> {
    let config =
        Config::parse(lines, Path::new("/test/azcloudhsm_application.cfg")).expect("valid config");
    AzureSettings::from_config(&config)
}

fn message(result: Result<AzureSettings>) -> String {
    result.expect_err("expected an error").to_string()
}

#[test]
fn https_container_url_defaults_to_system_assigned_managed_identity() {
    let s = settings("CERTSTORAGE_URL=https://acct.blob.core.windows.net/certificates/\n").unwrap();
    assert_eq!(
        s.container_url.as_str(),
        "https://acct.blob.core.windows.net/certificates"
    );
    assert!(matches!(
        s.authentication,
        Authentication::ManagedIdentity { client_id: None }
    ));
}

#[test]
fn blank_uami_client_id_means_system_assigned() {
    let s =
        settings("CERTSTORAGE_URL=https://a.blob.core.windows.net/c\nUAMI_CLIENT_ID=\n").unwrap();
    assert!(matches!(
        s.authentication,
        Authentication::ManagedIdentity { client_id: None }
    ));
    let s = settings("CERTSTORAGE_URL=https://a.blob.core.windows.net/c\nUAMI_CLIENT_ID=abc\n")
        .unwrap();
    assert!(
        matches!(s.authentication, Authentication::ManagedIdentity { client_id: Some(ref id) } if id == "abc")
    );
}

#[test]
fn plain_http_is_accepted_only_for_loopback_hosts() {
    for url in [
        "http://127.0.0.1:10000/devstoreaccount1/c",
        "http://127.5.6.7/devstoreaccount1/c",
        "http://[::1]:10000/devstoreaccount1/c",
        "http://localhost:10000/devstoreaccount1/c",
    ] {
        assert!(
            settings(&format!(
                "CERTSTORAGE_URL={url}\nCERTSTORAGE_AUTH=azure_cli\n"
            ))
            .is_ok(),
            "{url}"
        );
    }
    let text = message(settings(
        "CERTSTORAGE_URL=http://10.0.0.1/acct/c\nCERTSTORAGE_AUTH=azure_cli\n",
    ));
    assert!(text.contains("http://10.0.0.1/acct/c"), "{text}");
}

#[test]
fn refused_url_is_named_without_its_sas_query() {
    let text = message(settings(
        "CERTSTORAGE_URL=http://example.com/c?sv=2024&sig=TOPSECRET\nCERTSTORAGE_AUTH=sas\n",
    ));
    assert!(text.contains("http://example.com/c"), "{text}");
    assert!(!text.contains("TOPSECRET"), "{text}");
}

#[test]
fn sas_comes_from_its_key_or_from_the_url_query() {
    let s = settings("CERTSTORAGE_URL=https://a.blob.core.windows.net/c\nCERTSTORAGE_AUTH=sas\nCERTSTORAGE_SAS=?sv=1&sig=x\n")
        .unwrap();
    assert!(
        matches!(s.authentication, Authentication::Sas { ref token } if token.secret() == "sv=1&sig=x")
    );
    let s = settings(
        "CERTSTORAGE_URL=https://a.blob.core.windows.net/c?sv=2&sig=y\nCERTSTORAGE_AUTH=sas\n",
    )
    .unwrap();
    assert!(
        matches!(s.authentication, Authentication::Sas { ref token } if token.secret() == "sv=2&sig=y")
    );
    assert_eq!(s.container_url.query(), None);
    assert!(
        settings("CERTSTORAGE_URL=https://a.blob.core.windows.net/c\nCERTSTORAGE_AUTH=sas\n")
            .is_err()
    );
}

#[test]
fn connection_string_gives_endpoint_account_and_key() {
    let s = settings(&format!(
        "CERTSTORAGE_URL=http://ignored.example/whatever/certs\nCERTSTORAGE_AUTH=connection_string\n\
         CERTSTORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};\
         AccountKey={EMULATOR_ACCOUNT_KEY};BlobEndpoint=http://127.0.0.1:10000/{EMULATOR_ACCOUNT}/;\n"
    ))
    .unwrap();
    assert_eq!(
        s.container_url.as_str(),
        "http://127.0.0.1:10000/devstoreaccount1/certs"
    );
    assert!(
        matches!(s.authentication, Authentication::SharedKey { ref account, .. } if account == EMULATOR_ACCOUNT)
    );
}

#[test]
fn connection_string_without_blob_endpoint_builds_the_public_one() {
    let s = settings(
        "CERTSTORAGE_URL=https://x/certs\nCERTSTORAGE_AUTH=connection_string\n\
         CERTSTORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn\n",
    )
    .unwrap();
    assert_eq!(
        s.container_url.as_str(),
        "https://acct.blob.core.chinacloudapi.cn/certs"
    );
}

#[test]
fn development_storage_shortcut_is_understood() {
    let s = settings(
        "CERTSTORAGE_URL=http://127.0.0.1/x/certs\nCERTSTORAGE_AUTH=connection_string\n\
         CERTSTORAGE_CONNECTION_STRING=UseDevelopmentStorage=true\n",
    )
    .unwrap();
    assert_eq!(
        s.container_url.as_str(),
        "http://127.0.0.1:10000/devstoreaccount1/certs"
    );
}

#[test]
fn connection_string_errors_and_debug_never_show_the_key() {
    let text = message(settings(
        "CERTSTORAGE_URL=https://x/certs\nCERTSTORAGE_AUTH=connection_string\n\
         CERTSTORAGE_CONNECTION_STRING=AccountName=acct;AccountKey=not*base64*SECRETKEY\n",
    ));
    assert!(!text.contains("SECRETKEY"), "{text}");
    let s = settings(&format!(
        "CERTSTORAGE_URL=https://x/certs\nCERTSTORAGE_AUTH=connection_string\n\
         CERTSTORAGE_CONNECTION_STRING=AccountName=acct;AccountKey={EMULATOR_ACCOUNT_KEY}\n"
    ))
    .unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains(EMULATOR_ACCOUNT_KEY), "{debug}");
    assert!(debug.contains("acct"), "{debug}");
}

#[test]
fn missing_url_or_container_is_an_error() {
    assert!(message(settings("CERTSTORAGE_AUTH=azure_cli\n")).contains("CERTSTORAGE_URL"));
    assert!(settings("CERTSTORAGE_URL=https://acct.blob.core.windows.net/\n").is_err());
    assert!(settings("CERTSTORAGE_URL=ftp://acct/c\n").is_err());
}
