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
//! - Client secret and workload identity: a stand-in Entra ID authority on
//!   HTTPS (`AZURE_AUTHORITY_HOST`, trusted through the same CA file),
//!   checking the tenant, client ID, scope and the secret or the federated
//!   token read from `AZURE_FEDERATED_TOKEN_FILE`.
//! - The Azure CLI: a stand-in `az` first on `PATH`.
//! - SAS: an account SAS minted with the documented algorithm; a read-only
//!   one must make every write fail cleanly.
//! - The account-key connection string over HTTPS.
//!
//! Each method runs the certificate flow through the C ABI (create, find,
//! get, set, copy, destroy, and a second process, initialised with
//! `CKF_LIBRARY_CANT_CREATE_OS_THREADS` and checked to start no thread,
//! finding what the first created). The failures (token endpoint down,
//! answering 4xx, giving an expired token or one for another audience;
//! the authority refusing a secret; no CA file) give `CKR_DEVICE_ERROR`
//! and a log line naming the method and where the token came from, never
//! the token or the secret.
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
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WORKER: &str = "entra_id_worker_finds_the_certificate_its_parent_created";
const WORKER_CONFIG_ENV: &str = "AZTEST_CONFIG";
const WORKER_LABEL_ENV: &str = "AZTEST_LABEL";
const STORAGE_AUDIENCE: &str = "https://storage.azure.com";
const IDENTITY_SECRET: &str = "identity-header-secret-for-the-test";
const TENANT_ID: &str = "00000000-0000-0000-0000-000000000001";
const APP_CLIENT_ID: &str = "22222222-3333-4444-5555-666666666666";
const APP_SECRET: &str = "client-secret-for-the-test";

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

    /// The HTTPS Azurite every test of this binary shares, started by the
    /// first that asks: the tests run one at a time (under [`lock`]), each
    /// in containers of its own, and starting one instance per test took
    /// most of this suite's time. Stopped when the test binary exits.
    fn shared() -> &'static HttpsAzurite {
        static SHARED: OnceLock<HttpsAzurite> = OnceLock::new();
        extern "C" fn stop_shared() {
            if let Some(shared) = SHARED.get() {
                shared.azurite.stop_quietly();
                // Its TLS files, which no drop removes either.
                if let Some(dir) = shared.tls.ca.parent() {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
        }
        SHARED.get_or_init(|| {
            let started = HttpsAzurite::start();
            // SAFETY: atexit only records the function; `stop_shared` never
            // unwinds (stop_quietly catches every panic).
            unsafe { libc::atexit(stop_shared) };
            started
        })
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
    // Every token differs, even two minted in the same second.
    static ISSUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let jti = ISSUED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let header = r#"{"alg":"RS256","typ":"JWT"}"#;
    let claims = format!(
        r#"{{"aud":"{audience}","iss":"https://sts.windows.net/{TENANT_ID}/","iat":{not_before},"nbf":{not_before},"exp":{expires},"oid":"test","jti":"{}-{jti}"}}"#,
        std::process::id()
    );
    format!(
        "{}.{}.{}",
        base64url_encode(header.as_bytes()),
        base64url_encode(claims.as_bytes()),
        base64url_encode(b"not checked")
    )
}

/// What a token stand-in answers.
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

impl Answer {
    /// The token to give, and the lifetime the answer claims for it.
    fn token(self) -> Option<(String, u64)> {
        let now = unix_now();
        match self {
            Answer::Token { lifetime } => Some((
                mint_token(STORAGE_AUDIENCE, now - 60, now + lifetime),
                lifetime,
            )),
            Answer::Expired => Some((mint_token(STORAGE_AUDIENCE, now - 7200, now - 3600), 3600)),
            Answer::WrongAudience => Some((
                mint_token("https://vault.azure.net", now - 60, now + 3600),
                3600,
            )),
            Answer::Status(_) => None,
        }
    }
}

/// One HTTP request a stand-in received.
#[derive(Clone, Debug)]
struct HttpRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn pairs(text: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    /// A query parameter.
    fn param(&self, key: &str) -> Option<String> {
        let query = self.target.split_once('?').map_or("", |(_, q)| q);
        HttpRequest::pairs(query)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    /// A field of a form body.
    fn field(&self, key: &str) -> Option<String> {
        HttpRequest::pairs(&self.body)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<HttpRequest> {
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    let mut request = HttpRequest {
        method,
        target,
        headers,
        body: String::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    request.body = String::from_utf8_lossy(&body).into_owned();
    Some(request)
}

/// How a stand-in answers a request: status, JSON body, and the token given.
type Handler = fn(&HttpRequest, Answer, &Expected) -> (u16, String, Option<String>);

/// What a stand-in insists on.
#[derive(Clone, Debug, Default)]
struct Expected {
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
}

/// A loopback token service: the managed-identity endpoint (plain HTTP,
/// as the platform's is) or an Entra ID authority (HTTPS with the test's
/// CA). It records every request and every token it gave.
struct TokenService {
    port: u16,
    scheme: &'static str,
    /// The answer to the next request, and the one to every later request.
    answer: Arc<Mutex<(Answer, Option<Answer>)>>,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
    tokens: Arc<Mutex<Vec<String>>>,
}

impl TokenService {
    fn start(tls: Option<&TlsFiles>, expected: Expected, handler: Handler) -> TokenService {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let service = TokenService {
            port: listener.local_addr().unwrap().port(),
            scheme: if tls.is_some() { "https" } else { "http" },
            answer: Arc::new(Mutex::new((Answer::Token { lifetime: 3600 }, None))),
            requests: Arc::new(Mutex::new(Vec::new())),
            tokens: Arc::new(Mutex::new(Vec::new())),
        };
        let acceptor = tls.map(|tls| {
            let mut builder =
                openssl::ssl::SslAcceptor::mozilla_intermediate_v5(openssl::ssl::SslMethod::tls())
                    .unwrap();
            builder
                .set_private_key_file(&tls.server_key, openssl::ssl::SslFiletype::PEM)
                .unwrap();
            builder
                .set_certificate_chain_file(&tls.server_cert)
                .unwrap();
            Arc::new(builder.build())
        });
        let (answer, requests, tokens) = (
            service.answer.clone(),
            service.requests.clone(),
            service.tokens.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (acceptor, answer, requests, tokens, expected) = (
                    acceptor.clone(),
                    answer.clone(),
                    requests.clone(),
                    tokens.clone(),
                    expected.clone(),
                );
                std::thread::spawn(move || {
                    let answer = {
                        let mut answer = answer.lock().unwrap();
                        let next = answer.0;
                        if let Some(later) = answer.1.take() {
                            answer.0 = later;
                        }
                        next
                    };
                    let served = match acceptor {
                        Some(acceptor) => match acceptor.accept(stream) {
                            Ok(tls) => serve(tls, answer, &expected, handler),
                            Err(_) => None,
                        },
                        None => serve(stream, answer, &expected, handler),
                    };
                    if let Some((request, token)) = served {
                        requests.lock().unwrap().push(request);
                        tokens.lock().unwrap().extend(token);
                    }
                });
            }
        });
        service
    }

    fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = (answer, None);
    }

    /// `first` to the next request, `then` to every later one.
    fn answer_once(&self, first: Answer, then: Answer) {
        *self.answer.lock().unwrap() = (first, Some(then));
    }

    fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// Serves one request on `stream`; returns it and the token given.
fn serve<S: Read + Write>(
    stream: S,
    answer: Answer,
    expected: &Expected,
    handler: Handler,
) -> Option<(HttpRequest, Option<String>)> {
    let mut reader = BufReader::new(stream);
    let request = read_request(&mut reader)?;
    let (status, body, token) = handler(&request, answer, expected);
    let _ = write!(
        reader.get_mut(),
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = reader.get_mut().flush();
    Some((request, token))
}

/// The App Service managed-identity protocol (api-version 2019-08-01):
/// `GET ?api-version=...&resource=...[&client_id=...]` with the
/// `X-IDENTITY-HEADER` secret; 400 for a client ID that is not the
/// expected one (or any, for the system identity), like the real endpoint
/// for an identity not assigned.
fn managed_identity_handler(
    request: &HttpRequest,
    answer: Answer,
    expected: &Expected,
) -> (u16, String, Option<String>) {
    if request.header("x-identity-header") != Some(IDENTITY_SECRET) {
        return (401, r#"{"error":"bad secret"}"#.into(), None);
    }
    if request.param("client_id") != expected.client_id {
        return (400, r#"{"error":"invalid_request"}"#.into(), None);
    }
    match answer.token() {
        Some((token, lifetime)) => {
            let body = format!(
                r#"{{"access_token":"{token}","expires_on":"{}","resource":"{STORAGE_AUDIENCE}","token_type":"Bearer"}}"#,
                unix_now() + lifetime
            );
            (200, body, Some(token))
        }
        None => (
            match answer {
                Answer::Status(status) => status,
                _ => 500,
            },
            r#"{"error":"refused"}"#.into(),
            None,
        ),
    }
}

/// The Entra ID v2.0 token endpoint of one tenant:
/// `POST /<tenant>/oauth2/v2.0/token` with a client secret or a client
/// assertion (workload identity's federated token).
fn authority_handler(
    request: &HttpRequest,
    answer: Answer,
    expected: &Expected,
) -> (u16, String, Option<String>) {
    let refused = |status: u16, why: &str| {
        (
            status,
            format!(r#"{{"error":"invalid_client","error_description":"{why}"}}"#),
            None,
        )
    };
    if request.method != "POST" || request.target != format!("/{TENANT_ID}/oauth2/v2.0/token") {
        return refused(404, "no such endpoint");
    }
    if request.field("client_id") != expected.client_id
        || request.field("grant_type").as_deref() != Some("client_credentials")
        || request.field("scope").as_deref() != Some("https://storage.azure.com/.default")
    {
        return refused(400, "unexpected request");
    }
    let proven = match (&expected.client_secret, &expected.client_assertion) {
        (Some(secret), _) => request.field("client_secret").as_ref() == Some(secret),
        (_, Some(assertion)) => {
            request.field("client_assertion").as_ref() == Some(assertion)
                && request.field("client_assertion_type").as_deref()
                    == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        }
        _ => false,
    };
    if !proven {
        return refused(401, "bad credentials");
    }
    match answer.token() {
        Some((token, lifetime)) => (
            200,
            format!(
                r#"{{"token_type":"Bearer","expires_in":{lifetime},"ext_expires_in":{lifetime},"access_token":"{token}"}}"#
            ),
            Some(token),
        ),
        None => refused(
            match answer {
                Answer::Status(status) => status,
                _ => 500,
            },
            "refused",
        ),
    }
}

/// Points the managed-identity credential of this process (and of the
/// workers it starts) at `service`.
fn export_managed_identity(service: &TokenService) {
    std::env::set_var("IDENTITY_ENDPOINT", format!("{}/token", service.url()));
    std::env::set_var("IDENTITY_HEADER", IDENTITY_SECRET);
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
    // Initialised as GnuTLS does, forbidding the library threads of its
    // own: the method must work on the calling thread, and start none.
    let (pkcs11, before) =
        load_and_initialize_without_threads(Path::new(&worker_env(WORKER_CONFIG_ENV)));
    let session = pkcs11.open_ro_session(slot_one(&pkcs11)).unwrap();
    let found = session
        .find_objects(&label_search(&worker_env(WORKER_LABEL_ENV)))
        .expect("C_FindObjects in the second process");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        attribute_bytes(&session, found[0], AttributeType::Value),
        b"entra value"
    );
    let after = thread_count();
    assert_eq!(
        after, before,
        "the library started threads it was forbidden"
    );
    println!("found {}", found[0].handle());
    drop(session);
    pkcs11.finalize().unwrap();
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
fn log_since(mark: &LogMark, endpoint: &TokenService) -> String {
    let text = mark.since();
    for token in endpoint.tokens.lock().unwrap().iter() {
        assert!(!text.contains(token.as_str()), "a token was logged");
    }
    text
}

/// A provider over `config` refuses a create with `CKR_DEVICE_ERROR`;
/// returns what it logged meanwhile (without any token `tokens` gave).
fn refused_create_log(config: &Path, tokens: &TokenService) -> String {
    let provider = Provider::open(config);
    let session = provider.user_session();
    let mark = LogMark::now();
    assert_rv(
        session.create_object(&certificate_template("refused", b"refused")),
        RvError::DeviceError,
    );
    let text = log_since(&mark, tokens);
    drop(session);
    provider.finalize();
    text
}

// ----- managed identity -----

#[test]
fn azurite_https_managed_identity_system_assigned_runs_the_certificate_flow() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let endpoint = TokenService::start(None, Expected::default(), managed_identity_handler);
    export_managed_identity(&endpoint);
    let (_dir, config) = environment(&managed_identity_lines(
        azurite,
        &unique_container("mi-system"),
        "",
    ));
    let mark = LogMark::now();
    certificate_flow(&config);
    let requests = endpoint.requests();
    assert!(!requests.is_empty(), "the token endpoint was never asked");
    for request in &requests {
        assert_eq!(request.header("x-identity-header"), Some(IDENTITY_SECRET));
        assert_eq!(request.param("resource").as_deref(), Some(STORAGE_AUDIENCE));
        assert_eq!(request.param("api-version").as_deref(), Some("2019-08-01"));
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
    let azurite = HttpsAzurite::shared();
    let client_id = "11111111-2222-3333-4444-555555555555";
    let endpoint = TokenService::start(
        None,
        Expected {
            client_id: Some(client_id.to_string()),
            ..Expected::default()
        },
        managed_identity_handler,
    );
    export_managed_identity(&endpoint);
    let (_dir, config) = environment(&managed_identity_lines(
        azurite,
        &unique_container("mi-user"),
        &format!("UAMI_CLIENT_ID={client_id}\n"),
    ));
    certificate_flow(&config);
    let requests = endpoint.requests();
    assert!(!requests.is_empty());
    assert!(
        requests
            .iter()
            .all(|r| r.param("client_id").as_deref() == Some(client_id)),
        "{requests:?}"
    );
}

/// With the store reached through managed identity and `answer` (or no
/// endpoint at all): a create fails with `CKR_DEVICE_ERROR` and a log line
/// naming the method; no token is logged.
fn managed_identity_failure(answer: Option<Answer>, expected_in_log: &str) {
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let endpoint = TokenService::start(None, Expected::default(), managed_identity_handler);
    match answer {
        Some(answer) => {
            endpoint.answer(answer);
            export_managed_identity(&endpoint);
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
        azurite,
        &unique_container("mi-fail"),
        "",
    ));
    let text = refused_create_log(&config, &endpoint);
    assert!(
        text.contains("managed_identity") && text.contains(expected_in_log),
        "the log does not say what failed ({expected_in_log}):\n{text}"
    );
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
fn azurite_https_managed_identity_endpoint_failing_once_is_retried() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let endpoint = TokenService::start(None, Expected::default(), managed_identity_handler);
    export_managed_identity(&endpoint);
    let (_dir, config) = environment(&managed_identity_lines(
        azurite,
        &unique_container("mi-retry"),
        "",
    ));
    // No token at C_Initialize (its container check fails, logged only),
    // so the create asks for the first one: a 503, then a token for the
    // retry. Without the retry the create fails.
    endpoint.answer(Answer::Status(503));
    let provider = Provider::open(&config);
    let session = provider.user_session();
    endpoint.answer_once(Answer::Status(503), Answer::Token { lifetime: 3600 });
    let asked = endpoint.requests().len();
    let handle = session
        .create_object(&certificate_template("after-503", b"after 503"))
        .expect("a create whose token request failed once with 503");
    let requests = endpoint.requests();
    assert!(requests.len() >= asked + 2, "{requests:?}");
    assert_eq!(
        session.find_objects(&label_search("after-503")).unwrap(),
        [handle]
    );
    drop(session);
    provider.finalize();
}

#[test]
fn azurite_https_managed_identity_short_lived_token_is_refreshed() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let endpoint = TokenService::start(None, Expected::default(), managed_identity_handler);
    endpoint.answer(Answer::Token { lifetime: 3 });
    export_managed_identity(&endpoint);
    let (_dir, config) = environment(&managed_identity_lines(
        azurite,
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
    let azurite = HttpsAzurite::shared();
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
    let azurite = HttpsAzurite::shared();
    let endpoint = TokenService::start(None, Expected::default(), managed_identity_handler);
    export_managed_identity(&endpoint);
    let container = unique_container("no-ca");
    let lines = format!(
        "CERTSTORAGE_URL={}\nCERTSTORAGE_AUTH=managed_identity\nCERTSTORAGE_RETRIES=0\n",
        azurite.container_url(&container)
    );
    let (_dir, config) = environment(&lines);
    let text = refused_create_log(&config, &endpoint);
    assert!(
        text.contains(&container)
            && text.contains("managed_identity")
            && text.contains("UnknownIssuer"),
        "the log does not say the service's certificate is not trusted:\n{text}"
    );
}

// ----- a service principal, workload identity, the Azure CLI -----

fn entra_lines(azurite: &HttpsAzurite, container: &str, method: &str) -> String {
    format!(
        "CERTSTORAGE_URL={}\nCERTSTORAGE_AUTH={method}\nCERTSTORAGE_CA_FILE={}\n\
         CERTSTORAGE_TIMEOUT_SECONDS=5\nCERTSTORAGE_RETRIES=1\n",
        azurite.container_url(container),
        azurite.tls.ca.display()
    )
}

/// An authority on HTTPS (the test's CA) that takes `expected`, named by
/// `AZURE_AUTHORITY_HOST`, with the tenant and client in the environment.
fn start_authority(azurite: &HttpsAzurite, expected: Expected) -> TokenService {
    let authority = TokenService::start(Some(&azurite.tls), expected, authority_handler);
    std::env::set_var("AZURE_AUTHORITY_HOST", authority.url());
    std::env::set_var("AZURE_TENANT_ID", TENANT_ID);
    std::env::set_var("AZURE_CLIENT_ID", APP_CLIENT_ID);
    authority
}

fn client_secret_expected(secret: &str) -> Expected {
    Expected {
        client_id: Some(APP_CLIENT_ID.to_string()),
        client_secret: Some(secret.to_string()),
        ..Expected::default()
    }
}

#[test]
fn azurite_https_client_secret_runs_the_certificate_flow() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let authority = start_authority(azurite, client_secret_expected(APP_SECRET));
    std::env::set_var("AZURE_CLIENT_SECRET", APP_SECRET);
    let (_dir, config) = environment(&entra_lines(
        azurite,
        &unique_container("secret"),
        "client_secret",
    ));
    let mark = LogMark::now();
    certificate_flow(&config);
    let requests = authority.requests();
    assert!(!requests.is_empty(), "the authority was never asked");
    println!("{} token requests for the flow", requests.len());
    assert!(requests.len() <= 3, "tokens are not cached: {requests:?}");
    assert!(!mark.since().contains(APP_SECRET), "the secret was logged");
    log_since(&mark, &authority);
}

#[test]
fn azurite_https_client_secret_refused_is_a_device_error_naming_the_authority() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let authority = start_authority(azurite, client_secret_expected("another secret"));
    std::env::set_var("AZURE_CLIENT_SECRET", APP_SECRET);
    let (_dir, config) = environment(&entra_lines(
        azurite,
        &unique_container("secret-refused"),
        "client_secret",
    ));
    let text = refused_create_log(&config, &authority);
    assert!(
        text.contains("client_secret")
            && text.contains(&format!("no token from {}", authority.url())),
        "the log does not name the method and the authority:\n{text}"
    );
    assert!(!text.contains(APP_SECRET), "the secret was logged");
}

#[test]
fn azurite_https_workload_identity_runs_the_certificate_flow() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let federated = tempfile::tempdir().unwrap();
    let token_file = federated.path().join("token");
    let assertion = "federated-service-account-token-for-the-test";
    std::fs::write(&token_file, assertion).unwrap();
    let authority = start_authority(
        azurite,
        Expected {
            client_id: Some(APP_CLIENT_ID.to_string()),
            client_assertion: Some(assertion.to_string()),
            ..Expected::default()
        },
    );
    std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", &token_file);
    let (_dir, config) = environment(&entra_lines(
        azurite,
        &unique_container("workload"),
        "workload_identity",
    ));
    certificate_flow(&config);
    let requests = authority.requests();
    assert!(!requests.is_empty(), "the authority was never asked");
    assert!(requests
        .iter()
        .all(|r| r.field("client_assertion").as_deref() == Some(assertion)));
}

#[test]
fn azurite_https_azure_cli_runs_the_certificate_flow() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    // A stand-in `az` first on PATH: it logs its arguments and prints what
    // `az account get-access-token -o json` prints.
    let bin = tempfile::tempdir().unwrap();
    let calls = bin.path().join("calls");
    let now = unix_now();
    let token = mint_token(STORAGE_AUDIENCE, now - 60, now + 3600);
    std::fs::write(
        bin.path().join("token.json"),
        format!(
            r#"{{"accessToken":"{token}","expiresOn":"2030-01-01 00:00:00.000000","expires_on":{},"subscription":"s","tenant":"{TENANT_ID}","tokenType":"Bearer"}}"#,
            now + 3600
        ),
    )
    .unwrap();
    let script = bin.path().join("az");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{calls}'\ncase \"$*\" in\n  'account get-access-token -o json --scope https://storage.azure.com/.default'*) cat '{json}' ;;\n  *) echo \"unexpected: $*\" >&2; exit 1 ;;\nesac\n",
            calls = calls.display(),
            json = bin.path().join("token.json").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.path().display()));
    let (_dir, config) = environment(&entra_lines(azurite, &unique_container("cli"), "azure_cli"));
    let mark = LogMark::now();
    certificate_flow(&config);
    std::env::set_var("PATH", path);
    let asked = std::fs::read_to_string(&calls).expect("the stand-in az was run");
    println!("az was run {} times", asked.lines().count());
    assert!(asked.contains("account get-access-token"), "{asked}");
    assert!(!mark.since().contains(&token), "a token was logged");
}

// ----- SAS -----

/// An account SAS for Azurite's account, signed with the documented
/// algorithm (version 2020-12-06 and later): blob service, containers and
/// objects, HTTPS only, `permissions` in their canonical order.
fn account_sas(permissions: &str) -> String {
    let version = "2020-12-06";
    let expiry = "2030-01-01T00:00:00Z";
    let string_to_sign =
        format!("{EMULATOR_ACCOUNT}\n{permissions}\nb\nco\n\n{expiry}\n\nhttps\n{version}\n\n");
    let key = openssl::base64::decode_block(EMULATOR_ACCOUNT_KEY).unwrap();
    let key = PKey::hmac(&key).unwrap();
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(string_to_sign.as_bytes()).unwrap();
    let signature = openssl::base64::encode_block(&signer.sign_to_vec().unwrap());
    let signature: String = url::form_urlencoded::byte_serialize(signature.as_bytes()).collect();
    format!("sv={version}&ss=b&srt=co&sp={permissions}&se={expiry}&spr=https&sig={signature}")
}

fn sas_lines(azurite: &HttpsAzurite, container: &str, sas: &str) -> String {
    format!(
        "CERTSTORAGE_URL={}\nCERTSTORAGE_AUTH=sas\nCERTSTORAGE_SAS={sas}\nCERTSTORAGE_CA_FILE={}\n\
         CERTSTORAGE_TIMEOUT_SECONDS=5\nCERTSTORAGE_RETRIES=1\n",
        azurite.container_url(container),
        azurite.tls.ca.display()
    )
}

#[test]
fn azurite_https_sas_runs_the_certificate_flow_and_a_read_only_sas_refuses_writes() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let container = unique_container("sas");
    let full = account_sas("rwdlac");
    let (dir, config) = environment(&sas_lines(azurite, &container, &full));
    let mark = LogMark::now();
    certificate_flow(&config);
    let signature = full.split("sig=").nth(1).unwrap().to_string();

    // Read and list only: what is there is found and read; writes fail
    // cleanly and say why.
    let read_only = account_sas("rl");
    let config = dir.write_config(
        CertificateStorage::Lines(&sas_lines(azurite, &container, &read_only)),
        &[],
    );
    let provider = Provider::open(&config);
    let session = provider.user_session();
    let found = session
        .find_objects(&label_search("entra-renamed"))
        .expect("search with a read-only SAS");
    assert_eq!(found.len(), 1);
    assert_eq!(
        attribute_bytes(&session, found[0], AttributeType::Value),
        b"entra value"
    );
    let writes = LogMark::now();
    assert_rv(
        session.create_object(&certificate_template("read-only", b"read-only")),
        RvError::DeviceError,
    );
    assert_rv(
        session.update_attributes(found[0], &[Attribute::Label(b"renamed".to_vec())]),
        RvError::DeviceError,
    );
    assert_rv(session.destroy_object(found[0]), RvError::DeviceError);
    let text = writes.since();
    assert!(
        text.contains("(authentication: sas)") && text.contains("HTTP 403"),
        "the log does not say the SAS was refused:\n{text}"
    );
    assert_eq!(
        session
            .find_objects(&label_search("entra-renamed"))
            .unwrap(),
        found
    );
    let all = mark.since();
    for secret in [
        signature,
        read_only.split("sig=").nth(1).unwrap().to_string(),
    ] {
        assert!(!all.contains(&secret), "a SAS signature was logged");
    }
    drop(session);
    provider.finalize();
}

// ----- a token the service stops accepting -----

/// An HTTPS relay in front of the HTTPS Azurite that answers 401
/// (`InvalidAuthenticationInfo`, as Azure Storage does for a token it no
/// longer accepts) to every request bearing a token in `revoked`, or every
/// bearer request once `revoke_all` is set, and passes the others on, one
/// request per connection.
struct RevokingRelay {
    port: u16,
    revoked: Arc<Mutex<Vec<String>>>,
    revoke_all: Arc<std::sync::atomic::AtomicBool>,
    refused: Arc<std::sync::atomic::AtomicU32>,
}

impl RevokingRelay {
    fn start(tls: &TlsFiles, target_port: u16) -> RevokingRelay {
        use openssl::ssl::{SslAcceptor, SslConnector, SslFiletype, SslMethod};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        acceptor
            .set_private_key_file(&tls.server_key, SslFiletype::PEM)
            .unwrap();
        acceptor
            .set_certificate_chain_file(&tls.server_cert)
            .unwrap();
        let acceptor = Arc::new(acceptor.build());
        let mut connector = SslConnector::builder(SslMethod::tls()).unwrap();
        connector.set_ca_file(&tls.ca).unwrap();
        let connector = Arc::new(connector.build());
        let relay = RevokingRelay {
            port: listener.local_addr().unwrap().port(),
            revoked: Arc::new(Mutex::new(Vec::new())),
            revoke_all: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            refused: Arc::new(std::sync::atomic::AtomicU32::new(0)),
        };
        let (revoked, revoke_all, refused) = (
            relay.revoked.clone(),
            relay.revoke_all.clone(),
            relay.refused.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (acceptor, connector, revoked, revoke_all, refused) = (
                    acceptor.clone(),
                    connector.clone(),
                    revoked.clone(),
                    revoke_all.clone(),
                    refused.clone(),
                );
                std::thread::spawn(move || {
                    let Ok(client) = acceptor.accept(stream) else {
                        return;
                    };
                    let mut reader = BufReader::new(client);
                    let Some(request) = read_request(&mut reader) else {
                        return;
                    };
                    let token = request
                        .header("authorization")
                        .and_then(|value| value.strip_prefix("Bearer "))
                        .map(str::to_string);
                    let refuse = token.as_ref().is_some_and(|token| {
                        revoke_all.load(std::sync::atomic::Ordering::SeqCst)
                            || revoked.lock().unwrap().contains(token)
                    });
                    let client = reader.get_mut();
                    if refuse {
                        refused.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>InvalidAuthenticationInfo</Code><Message>Server failed to authenticate the request.</Message></Error>";
                        let _ = write!(
                            client,
                            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/xml\r\nx-ms-error-code: InvalidAuthenticationInfo\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = client.flush();
                        return;
                    }
                    let Ok(upstream) = std::net::TcpStream::connect(("127.0.0.1", target_port))
                    else {
                        return;
                    };
                    let Ok(mut upstream) = connector.connect("127.0.0.1", upstream) else {
                        return;
                    };
                    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
                    for (name, value) in &request.headers {
                        if !name.eq_ignore_ascii_case("connection") {
                            head.push_str(&format!("{name}: {value}\r\n"));
                        }
                    }
                    head.push_str("Connection: close\r\n\r\n");
                    if upstream.write_all(head.as_bytes()).is_err()
                        || upstream.write_all(request.body.as_bytes()).is_err()
                    {
                        return;
                    }
                    let mut answer = Vec::new();
                    let mut buffer = [0u8; 16 * 1024];
                    loop {
                        match upstream.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => answer.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let _ = client.write_all(&answer);
                    let _ = client.flush();
                });
            }
        });
        relay
    }

    fn refused(&self) -> u32 {
        self.refused.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[test]
fn azurite_https_a_token_refused_with_401_is_renewed_once_and_the_call_retried() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = HttpsAzurite::shared();
    let endpoint = TokenService::start(None, Expected::default(), managed_identity_handler);
    export_managed_identity(&endpoint);
    let relay = RevokingRelay::start(&azurite.tls, azurite.azurite.port);
    let lines = format!(
        "CERTSTORAGE_URL=https://127.0.0.1:{}/{EMULATOR_ACCOUNT}/{}\nCERTSTORAGE_AUTH=managed_identity\n\
         CERTSTORAGE_CA_FILE={}\nCERTSTORAGE_TIMEOUT_SECONDS=5\nCERTSTORAGE_RETRIES=1\n",
        relay.port,
        unique_container("revoked"),
        azurite.tls.ca.display()
    );
    let (_dir, config) = environment(&lines);
    let provider = Provider::open(&config);
    let session = provider.user_session();
    session
        .create_object(&certificate_template("first", b"first"))
        .expect("create with the first token");
    assert_eq!(relay.refused(), 0);

    // The token in use is revoked (its stated lifetime is an hour): one
    // 401, a new token, and the call succeeds.
    let asked = endpoint.requests().len();
    relay
        .revoked
        .lock()
        .unwrap()
        .extend(endpoint.tokens.lock().unwrap().iter().cloned());
    let second = session
        .create_object(&certificate_template("second", b"second"))
        .expect("create after the token was revoked");
    assert_eq!(relay.refused(), 1, "not exactly one refused request");
    assert_eq!(endpoint.requests().len(), asked + 1, "not one new token");
    assert_eq!(
        session.find_objects(&label_search("second")).unwrap(),
        [second]
    );

    // Every token refused: one renewal, then CKR_DEVICE_ERROR.
    relay
        .revoke_all
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let before = relay.refused();
    let mark = LogMark::now();
    assert_rv(
        session.create_object(&certificate_template("third", b"third")),
        RvError::DeviceError,
    );
    assert_eq!(relay.refused() - before, 2, "more than one renewal");
    let text = log_since(&mark, &endpoint);
    assert!(
        text.contains("HTTP 401") && text.contains("managed_identity"),
        "{text}"
    );
    drop(session);
    provider.finalize();
}
