//! Entra ID authentication against a real blob service over HTTPS: a
//! private Azurite serving HTTPS with a certificate from a CA this test
//! makes (trusted through `CERTSTORAGE_CA_FILE`) and accepting bearer
//! tokens (`--oauth basic`: it checks a token's issuer, audience and
//! lifetime, not its signature, so the stand-ins below mint them).
//!
//! - Managed identity: a loopback stand-in for the App Service token
//!   endpoint (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`), which checks the
//!   secret header, the resource, and the client ID (`UAMI_CLIENT_ID`, or
//!   none for the system identity).
//! - The account-key connection string over HTTPS.
//!
//! Each method runs the certificate flow through the C ABI (create, find,
//! get, set, copy, destroy, and a second process finding what the first
//! created), and the failures (token endpoint down, answering 4xx, giving
//! an expired token or one for another audience; no CA file) give
//! `CKR_DEVICE_ERROR` and a log line naming the method, never the token.
//!
//! Needs `AZURITE_BLOB_URL` like the other Azure tests (only to know that
//! Azurite is installed; this file starts its own); under `CI` a missing
//! Azurite is a failure.

mod common;

use azcloudhsm_pkcs11::certstore::azure::{EMULATOR_ACCOUNT, EMULATOR_ACCOUNT_KEY};
use azcloudhsm_pkcs11::certstore::encoding::base64url_encode;
use common::*;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, KeyUsage, SubjectAlternativeName};
use openssl::x509::{X509Name, X509};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WORKER: &str = "entra_id_worker_finds_the_certificate_its_parent_created";
const WORKER_CONFIG_ENV: &str = "AZTEST_CONFIG";
const WORKER_LABEL_ENV: &str = "AZTEST_LABEL";
const STORAGE_AUDIENCE: &str = "https://storage.azure.com";
const IDENTITY_SECRET: &str = "identity-header-secret-for-the-test";

// ----- the test bed -----

/// A CA and a server certificate for 127.0.0.1 and localhost, as PEM files.
struct TlsFiles {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

fn name(common_name: &str) -> X509Name {
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    name.build()
}

fn certificate(
    subject: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
) -> X509 {
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial
        .rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false)
        .unwrap();
    builder
        .set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name(subject)).unwrap();
    builder.set_pubkey(key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    match issuer {
        None => {
            builder.set_issuer_name(&name(subject)).unwrap();
            builder
                .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            builder
                .append_extension(KeyUsage::new().key_cert_sign().crl_sign().build().unwrap())
                .unwrap();
            builder.sign(key, MessageDigest::sha256()).unwrap();
        }
        Some((ca, ca_key)) => {
            builder.set_issuer_name(ca.subject_name()).unwrap();
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .dns("localhost")
                .build(&builder.x509v3_context(Some(ca), None))
                .unwrap();
            builder.append_extension(san).unwrap();
            builder.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
    }
    builder.build()
}

impl TlsFiles {
    fn new() -> TlsFiles {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = PKey::ec_gen("prime256v1").unwrap();
        let ca = certificate("azcloudhsm test CA", &ca_key, None);
        let server_key = PKey::ec_gen("prime256v1").unwrap();
        let server = certificate("127.0.0.1", &server_key, Some((&ca, &ca_key)));
        let files = TlsFiles {
            ca: dir.path().join("ca.pem"),
            server_cert: dir.path().join("server.pem"),
            server_key: dir.path().join("server-key.pem"),
            _dir: dir,
        };
        std::fs::write(&files.ca, ca.to_pem().unwrap()).unwrap();
        std::fs::write(&files.server_cert, server.to_pem().unwrap()).unwrap();
        std::fs::write(
            &files.server_key,
            server_key.private_key_to_pem_pkcs8().unwrap(),
        )
        .unwrap();
        files
    }
}

/// An HTTPS Azurite accepting bearer tokens, and the CA that signed its certificate.
struct HttpsAzurite {
    azurite: PrivateAzurite,
    tls: TlsFiles,
}

impl HttpsAzurite {
    fn start() -> HttpsAzurite {
        let tls = TlsFiles::new();
        let azurite = PrivateAzurite::start_with(&[
            ("AZURITE_CERT", tls.server_cert.to_str().unwrap()),
            ("AZURITE_KEY", tls.server_key.to_str().unwrap()),
            ("AZURITE_OAUTH", "basic"),
        ]);
        HttpsAzurite { azurite, tls }
    }

    fn container_url(&self, container: &str) -> String {
        format!("{}/{container}", self.azurite.url())
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An unsigned JWT of the shape Entra ID issues: what Azurite's basic
/// OAuth checks (issuer, audience, lifetime) and nothing more.
fn mint_token(audience: &str, not_before: u64, expires: u64) -> String {
    let header = r#"{"alg":"RS256","typ":"JWT"}"#;
    let claims = format!(
        r#"{{"aud":"{audience}","iss":"https://sts.windows.net/00000000-0000-0000-0000-000000000001/","iat":{not_before},"nbf":{not_before},"exp":{expires},"oid":"test"}}"#
    );
    format!(
        "{}.{}.{}",
        base64url_encode(header.as_bytes()),
        base64url_encode(claims.as_bytes()),
        base64url_encode(b"not checked")
    )
}

/// What the managed-identity stand-in answers.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// A good token for storage, valid this many seconds.
    Token { lifetime: u64 },
    /// A token whose own lifetime is over (the answer says it is fresh).
    Expired,
    /// A token for another audience.
    WrongAudience,
    /// This HTTP status and an error body.
    Status(u16),
}

/// One request the stand-in received: its query parameters and whether
/// the secret header was right.
#[derive(Clone, Debug)]
struct TokenRequest {
    query: Vec<(String, String)>,
    secret_ok: bool,
}

impl TokenRequest {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback stand-in for the App Service managed-identity endpoint
/// (api-version 2019-08-01): `GET /token?api-version=...&resource=...`
/// [`&client_id=...`] with the `X-IDENTITY-HEADER` secret. It answers 400
/// when the client ID is not `expected_client_id`, like the real one for
/// an identity not assigned.
struct IdentityEndpoint {
    port: u16,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
    /// The tokens it gave, to check none is logged.
    tokens: Arc<Mutex<Vec<String>>>,
}

impl IdentityEndpoint {
    fn start(expected_client_id: Option<&str>) -> IdentityEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = IdentityEndpoint {
            port: listener.local_addr().unwrap().port(),
            answer: Arc::new(Mutex::new(Answer::Token { lifetime: 3600 })),
            requests: Arc::new(Mutex::new(Vec::new())),
            tokens: Arc::new(Mutex::new(Vec::new())),
        };
        let (answer, requests, tokens) = (
            endpoint.answer.clone(),
            endpoint.requests.clone(),
            endpoint.tokens.clone(),
        );
        let expected = expected_client_id.map(str::to_string);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answer = *answer.lock().unwrap();
                if let Some((request, token)) = serve(stream, answer, expected.as_deref()) {
                    requests.lock().unwrap().push(request);
                    tokens.lock().unwrap().extend(token);
                }
            }
        });
        endpoint
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Points the managed-identity credential of this process (and of the
    /// workers it starts) at the stand-in.
    fn export(&self) {
        std::env::set_var("IDENTITY_ENDPOINT", self.url());
        std::env::set_var("IDENTITY_HEADER", IDENTITY_SECRET);
    }
}

/// Serves one request; returns what it was asked and the token it gave.
fn serve(
    stream: TcpStream,
    answer: Answer,
    expected_client_id: Option<&str>,
) -> Option<(TokenRequest, Option<String>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut secret_ok = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("x-identity-header") {
                secret_ok = value.trim() == IDENTITY_SECRET;
            }
        }
    }
    let target = request_line.split(' ').nth(1)?;
    let query: Vec<(String, String)> = url::Url::parse(&format!("http://x{target}"))
        .ok()?
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let request = TokenRequest { query, secret_ok };
    let now = unix_now();
    let right_identity = request.param("client_id") == expected_client_id;
    let (status, body, token) = match answer {
        _ if !request.secret_ok => (401, r#"{"error":"bad secret"}"#.to_string(), None),
        _ if !right_identity => (
            400,
            r#"{"error":"invalid_request","error_description":"Identity not found"}"#.to_string(),
            None,
        ),
        Answer::Status(status) => (status, r#"{"error":"refused"}"#.to_string(), None),
        Answer::Token { lifetime } => {
            let token = mint_token(STORAGE_AUDIENCE, now - 60, now + lifetime);
            (200, token_body(&token, now + lifetime), Some(token))
        }
        Answer::Expired => {
            let token = mint_token(STORAGE_AUDIENCE, now - 7200, now - 3600);
            (200, token_body(&token, now + 3600), Some(token))
        }
        Answer::WrongAudience => {
            let token = mint_token("https://vault.azure.net", now - 60, now + 3600);
            (200, token_body(&token, now + 3600), Some(token))
        }
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Some((request, token))
}

fn token_body(token: &str, expires_on: u64) -> String {
    format!(
        r#"{{"access_token":"{token}","expires_on":"{expires_on}","resource":"{STORAGE_AUDIENCE}","token_type":"Bearer"}}"#
    )
}

// ----- the flow -----

fn label_of(session: &cryptoki::session::Session, handle: ObjectHandle) -> Vec<u8> {
    match session
        .get_attributes(handle, &[AttributeType::Label])
        .expect("read the label")
        .as_slice()
    {
        [Attribute::Label(label)] => label.clone(),
        other => panic!("{other:?}"),
    }
}

/// Create, find, get, set, copy, destroy through the C ABI, and a second
/// process finding a certificate the first created.
fn certificate_flow(config: &Path) {
    let provider = Provider::open(config);
    let session = provider.user_session();
    let handle = session
        .create_object(&certificate_template("entra", b"entra value"))
        .expect("C_CreateObject");
    assert_eq!(
        session.find_objects(&label_search("entra")).unwrap(),
        [handle]
    );
    let value = attribute_bytes(&session, handle, AttributeType::Value);
    assert_eq!(value, b"entra value");
    session
        .update_attributes(handle, &[Attribute::Label(b"entra-renamed".to_vec())])
        .expect("C_SetAttributeValue");
    assert_eq!(label_of(&session, handle), b"entra-renamed");
    let copy = session.copy_object(handle, &[]).expect("C_CopyObject");
    assert_ne!(copy, handle);
    assert_eq!(
        attribute_bytes(&session, copy, AttributeType::Value),
        b"entra value"
    );
    session.destroy_object(copy).expect("C_DestroyObject");
    assert_eq!(
        session
            .find_objects(&label_search("entra-renamed"))
            .unwrap(),
        [handle]
    );
    let output = run_worker(
        WORKER,
        &[
            (WORKER_CONFIG_ENV, config.display().to_string()),
            (WORKER_LABEL_ENV, "entra-renamed".to_string()),
        ],
        WORKER_LIMIT,
    );
    assert!(
        output.contains(&format!("found {}", handle.handle())),
        "{output}"
    );
    drop(session);
    provider.finalize();
}

#[test]
#[ignore = "worker of the Entra ID tests"]
fn entra_id_worker_finds_the_certificate_its_parent_created() {
    let provider = Provider::open(Path::new(&worker_env(WORKER_CONFIG_ENV)));
    let session = provider.ro_session();
    let found = session
        .find_objects(&label_search(&worker_env(WORKER_LABEL_ENV)))
        .expect("C_FindObjects in the second process");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        attribute_bytes(&session, found[0], AttributeType::Value),
        b"entra value"
    );
    println!("found {}", found[0].handle());
    drop(session);
    provider.finalize();
}

/// A token directory whose configuration holds `lines` (the storage part).
fn environment(lines: &str) -> (TokenDirectory, PathBuf) {
    let directory = TokenDirectory::new();
    let config = directory.write_config(CertificateStorage::Lines(lines), &[]);
    initialize_token(&config);
    (directory, config)
}

fn managed_identity_lines(azurite: &HttpsAzurite, container: &str, extra: &str) -> String {
    format!(
        "CERTSTORAGE_URL={}\nCERTSTORAGE_AUTH=managed_identity\nCERTSTORAGE_CA_FILE={}\n\
         CERTSTORAGE_TIMEOUT_SECONDS=5\nCERTSTORAGE_RETRIES=1\n{extra}",
        azurite.container_url(container),
        azurite.tls.ca.display()
    )
}

/// The provider's log (this process's) since `mark`, and its token never in it.
fn log_since(mark: &LogMark, endpoint: &IdentityEndpoint) -> String {
    let text = mark.since();
    for token in endpoint.tokens.lock().unwrap().iter() {
        assert!(!text.contains(token.as_str()), "a token was logged");
    }
    text
}

// ----- managed identity -----

#[test]
fn azurite_https_managed_identity_system_assigned_runs_the_certificate_flow() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::start();
    let endpoint = IdentityEndpoint::start(None);
    endpoint.export();
    let (_dir, config) = environment(&managed_identity_lines(
        &azurite,
        &unique_container("mi-system"),
        "",
    ));
    let mark = LogMark::now();
    certificate_flow(&config);
    let requests = endpoint.requests();
    assert!(!requests.is_empty(), "the token endpoint was never asked");
    for request in &requests {
        assert!(request.secret_ok, "{request:?}");
        assert_eq!(request.param("resource"), Some(STORAGE_AUDIENCE));
        assert_eq!(request.param("api-version"), Some("2019-08-01"));
        assert_eq!(request.param("client_id"), None, "{request:?}");
    }
    // Cached: one token per process (this one, its second initialisation
    // by `initialize_token` aside, and the worker), not one per request.
    println!("{} token requests for the flow", requests.len());
    assert!(requests.len() <= 3, "{requests:?}");
    log_since(&mark, &endpoint);
}

#[test]
fn azurite_https_managed_identity_user_assigned_sends_uami_client_id() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::start();
    let client_id = "11111111-2222-3333-4444-555555555555";
    let endpoint = IdentityEndpoint::start(Some(client_id));
    endpoint.export();
    let (_dir, config) = environment(&managed_identity_lines(
        &azurite,
        &unique_container("mi-user"),
        &format!("UAMI_CLIENT_ID={client_id}\n"),
    ));
    certificate_flow(&config);
    let requests = endpoint.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.param("client_id") == Some(client_id)),
        "{requests:?}"
    );
}

/// With the store reached through managed identity and `answer` (or no
/// endpoint at all): a create fails with `CKR_DEVICE_ERROR` and a log line
/// naming the method; no token is logged.
fn managed_identity_failure(answer: Option<Answer>, expected_in_log: &str) {
    let _lock = lock();
    let azurite = HttpsAzurite::start();
    let endpoint = IdentityEndpoint::start(None);
    match answer {
        Some(answer) => {
            endpoint.answer(answer);
            endpoint.export();
        }
        None => {
            // Nobody listens there.
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            std::env::set_var(
                "IDENTITY_ENDPOINT",
                format!("http://127.0.0.1:{port}/token"),
            );
            std::env::set_var("IDENTITY_HEADER", IDENTITY_SECRET);
        }
    }
    let (_dir, config) = environment(&managed_identity_lines(
        &azurite,
        &unique_container("mi-fail"),
        "",
    ));
    let provider = Provider::open(&config);
    let session = provider.user_session();
    let mark = LogMark::now();
    assert_rv(
        session.create_object(&certificate_template("refused", b"refused")),
        RvError::DeviceError,
    );
    let text = log_since(&mark, &endpoint);
    assert!(
        text.contains("managed_identity") && text.contains(expected_in_log),
        "the log does not say what failed ({expected_in_log}):\n{text}"
    );
    // Key operations do not depend on the store.
    drop(session);
    provider.finalize();
}

#[test]
fn azurite_https_managed_identity_endpoint_down_is_a_device_error() {
    if azurite_url().is_none() {
        return;
    }
    managed_identity_failure(
        None,
        "no token from the managed identity endpoint http://127.0.0.1:",
    );
}

#[test]
fn azurite_https_managed_identity_endpoint_refusing_is_a_device_error() {
    if azurite_url().is_none() {
        return;
    }
    managed_identity_failure(
        Some(Answer::Status(403)),
        "no token from the managed identity endpoint",
    );
}

#[test]
fn azurite_https_managed_identity_expired_token_is_a_device_error() {
    if azurite_url().is_none() {
        return;
    }
    managed_identity_failure(Some(Answer::Expired), "HTTP 403");
}

#[test]
fn azurite_https_managed_identity_token_for_another_audience_is_a_device_error() {
    if azurite_url().is_none() {
        return;
    }
    managed_identity_failure(Some(Answer::WrongAudience), "HTTP 403");
}

#[test]
fn azurite_https_managed_identity_short_lived_token_is_refreshed() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::start();
    let endpoint = IdentityEndpoint::start(None);
    endpoint.answer(Answer::Token { lifetime: 3 });
    endpoint.export();
    let (_dir, config) = environment(&managed_identity_lines(
        &azurite,
        &unique_container("mi-refresh"),
        "",
    ));
    let provider = Provider::open(&config);
    let session = provider.user_session();
    let first = session
        .create_object(&certificate_template("before", b"before"))
        .expect("create with the first token");
    let asked = endpoint.requests().len();
    // The first token is now past its lifetime: Azurite would refuse it.
    std::thread::sleep(Duration::from_secs(4));
    let second = session
        .create_object(&certificate_template("after", b"after"))
        .expect("create after the first token expired");
    assert_ne!(first, second);
    assert!(
        endpoint.requests().len() > asked,
        "no new token was fetched after the first expired"
    );
    assert_eq!(
        session.find_objects(&label_search("before")).unwrap(),
        [first]
    );
    drop(session);
    provider.finalize();
}

// ----- trust and the account key over HTTPS -----

#[test]
fn azurite_https_connection_string_runs_the_certificate_flow() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::start();
    let container = unique_container("https-key");
    let lines = format!(
        "CERTSTORAGE_URL={}\nCERTSTORAGE_AUTH=connection_string\n\
         CERTSTORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName={EMULATOR_ACCOUNT};\
         AccountKey={EMULATOR_ACCOUNT_KEY};BlobEndpoint={};\nCERTSTORAGE_CA_FILE={}\n",
        azurite.container_url(&container),
        azurite.azurite.url(),
        azurite.tls.ca.display()
    );
    let (_dir, config) = environment(&lines);
    certificate_flow(&config);
}

#[test]
fn azurite_https_without_the_ca_file_is_a_device_error_naming_the_store() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::start();
    let endpoint = IdentityEndpoint::start(None);
    endpoint.export();
    let container = unique_container("no-ca");
    let lines = format!(
        "CERTSTORAGE_URL={}\nCERTSTORAGE_AUTH=managed_identity\nCERTSTORAGE_RETRIES=0\n",
        azurite.container_url(&container)
    );
    let (_dir, config) = environment(&lines);
    let provider = Provider::open(&config);
    let session = provider.user_session();
    let mark = LogMark::now();
    assert_rv(
        session.create_object(&certificate_template("untrusted", b"untrusted")),
        RvError::DeviceError,
    );
    let text = mark.since();
    assert!(
        text.contains(&container)
            && text.contains("managed_identity")
            && text.contains("UnknownIssuer"),
        "the log does not say the service's certificate is not trusted:\n{text}"
    );
    drop(session);
    provider.finalize();
}
