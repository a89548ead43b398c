//! Certificates in Azure Blob Storage (issue 4), end to end through the
//! provider's C ABI (the `cryptoki` crate loading `libazcloudhsm_pkcs11.so`),
//! against Azurite.
//!
//! Needs `AZURITE_BLOB_URL` (e.g. `http://127.0.0.1:10000/devstoreaccount1`,
//! printed by `eval "$(bash .ci/azurite.sh start)"`). Without it each test
//! prints that it skips, except under `CI`, where a missing service is a
//! failure. The fault test also starts and stops a private Azurite of its
//! own through `.ci/azurite.sh` (set `AZURITE_DIR` to reuse an install).
//!
//! The provider is one per process, so every test holds [`common::lock`]
//! and uses its own token directory and container. Tests that need a
//! second process run this executable again on the `#[ignore]`d worker
//! test ([`azurite_worker_process_runs_the_role_its_parent_names`]); it
//! panics when run without its parent's environment, and CI never passes
//! `--include-ignored`, so it only runs as a child.
//!
//! Run: `cargo test --release --test azure_certificates`

mod common;

use azcloudhsm_pkcs11::certstore::encoding::{base64url_decode, base64url_encode};
use azcloudhsm_pkcs11::certstore::{BlobStore, BLOB_PREFIX};
use common::{
    azurite_url, blob_name, certificate_template, label_search, library_path, lock, run_worker,
    rv_of, spawn_worker, wait_worker, within_watchdog, worker_env, AzuriteEnvironment, LogMark,
    PrivateAzurite, Provider, FIRST_CERTIFICATE_HANDLE, REFERENCE_VALUE, WATCHDOG_FACTOR,
    WORKER_LIMIT,
};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

const WORKER: &str = "azurite_worker_process_runs_the_role_its_parent_names";

/// An object handle received as a number (from a child process or a raw call).
fn object_handle(handle: u64) -> ObjectHandle {
    // SAFETY: an ObjectHandle is a plain number; the provider checks it on use.
    unsafe { ObjectHandle::new_from_raw(handle) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn label_of(session: &Session, handle: ObjectHandle) -> String {
    match &session
        .get_attributes(handle, &[AttributeType::Label])
        .expect("C_GetAttributeValue(CKA_LABEL)")[..]
    {
        [Attribute::Label(label)] => String::from_utf8_lossy(label).into_owned(),
        other => panic!("unexpected attributes {other:?}"),
    }
}

fn value_of(session: &Session, handle: ObjectHandle) -> cryptoki::error::Result<Vec<u8>> {
    match session
        .get_attributes(handle, &[AttributeType::Value])?
        .pop()
    {
        Some(Attribute::Value(value)) => Ok(value),
        other => panic!("unexpected attribute {other:?}"),
    }
}

fn all_certificates(session: &Session) -> BTreeSet<u64> {
    session
        .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
        .expect("search every certificate")
        .into_iter()
        .map(|h| h.handle())
        .collect()
}

fn handles_of(names: &[String]) -> BTreeSet<u64> {
    names
        .iter()
        .map(|name| name[BLOB_PREFIX.len()..].parse().expect("numeric handle"))
        .collect()
}

// ----- the worker process -----

/// One line per certificate: `handle \t label \t hex(value)`.
fn certificate_line(handle: u64, label: &str, value: &[u8]) -> String {
    format!("{handle}\t{label}\t{}\n", hex(value))
}

fn parse_lines(text: &str) -> Vec<(u64, String, String)> {
    text.lines()
        .map(|line| {
            let mut fields = line.split('\t');
            let handle = fields.next().unwrap().parse().unwrap();
            let label = fields.next().unwrap().to_string();
            let value = fields.next().unwrap().to_string();
            (handle, label, value)
        })
        .collect()
}

fn role_env(config: &Path, role: &str, output: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("AZTEST_WORKER_ROLE", role.to_string()),
        ("AZTEST_CONFIG", config.display().to_string()),
        ("AZTEST_OUTPUT", output.display().to_string()),
    ]
}

fn creator_env(
    config: &Path,
    output: &Path,
    prefix: &str,
    count: usize,
    threads: usize,
) -> Vec<(&'static str, String)> {
    let mut env = role_env(config, "create", output);
    env.push(("AZTEST_LABEL_PREFIX", prefix.to_string()));
    env.push(("AZTEST_COUNT", count.to_string()));
    env.push(("AZTEST_THREADS", threads.to_string()));
    env
}

/// Runs in a child process only. Roles (`AZTEST_WORKER_ROLE`):
/// - `create`: `AZTEST_COUNT` token certificates labelled
///   `<AZTEST_LABEL_PREFIX>-<n>`, from `AZTEST_THREADS` threads with a
///   session each;
/// - `inventory`: finds every certificate (no login) and reads its label
///   and CKA_VALUE.
///
/// Either writes one [`certificate_line`] per certificate to `AZTEST_OUTPUT`.
#[test]
#[ignore = "a child process of the multi-process tests; panics when run alone"]
fn azurite_worker_process_runs_the_role_its_parent_names() {
    let var = worker_env;
    let role = var("AZTEST_WORKER_ROLE");
    let output = var("AZTEST_OUTPUT");
    let provider = Provider::open(Path::new(&var("AZTEST_CONFIG")));
    let lines = match role.as_str() {
        "create" => {
            let prefix = var("AZTEST_LABEL_PREFIX");
            let count: usize = var("AZTEST_COUNT").parse().unwrap();
            let threads: usize = var("AZTEST_THREADS").parse().unwrap();
            let _login = provider.user_session();
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|thread| {
                        let (provider, prefix) = (&provider, &prefix);
                        scope.spawn(move || {
                            let session = provider.rw_session();
                            let mut lines = String::new();
                            for n in (thread..count).step_by(threads) {
                                let label = format!("{prefix}-{n}");
                                let value = format!("value of {label}").into_bytes();
                                let handle = session
                                    .create_object(&certificate_template(&label, &value))
                                    .unwrap_or_else(|e| panic!("create {label}: {e}"));
                                lines.push_str(&certificate_line(handle.handle(), &label, &value));
                            }
                            lines
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("creating thread"))
                    .collect::<String>()
            })
        }
        "inventory" => {
            let session = provider.ro_session();
            all_certificates(&session)
                .into_iter()
                .map(|handle| {
                    let object = object_handle(handle);
                    let value = value_of(&session, object)
                        .unwrap_or_else(|e| panic!("read CKA_VALUE of {handle}: {e}"));
                    certificate_line(handle, &label_of(&session, object), &value)
                })
                .collect()
        }
        other => panic!("unknown worker role {other}"),
    };
    std::fs::write(&output, lines).expect("write the worker's output");
    provider.finalize();
}

// ----- the reference flow -----

#[test]
fn azurite_reference_flow_creates_reads_finds_updates_copies_and_destroys_a_certificate() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "reference");
    let provider = Provider::open(&env.config);
    let session = provider.user_session();

    // C_CreateObject with the reference's template: the first handle, one blob.
    let certificate = session
        .create_object(&certificate_template("MyCertificate", REFERENCE_VALUE))
        .expect("C_CreateObject");
    assert_eq!(certificate.handle(), 4293918720);
    assert_eq!(env.blob_names(), [blob_name(4293918720)]);
    let (content, _) = env
        .store()
        .read(&blob_name(4293918720))
        .unwrap()
        .expect("the blob exists");
    let content = String::from_utf8(content).expect("an ASCII JWS");
    let parts: Vec<&str> = content.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS: {content}");
    let header: serde_json::Value =
        serde_json::from_slice(&base64url_decode(parts[0]).expect("base64url header")).unwrap();
    assert_eq!(header["alg"], "RS512", "{header}");

    // C_GetAttributeValue, twice: sizes, then values.
    let kinds = [
        AttributeType::Class,
        AttributeType::CertificateType,
        AttributeType::Token,
        AttributeType::Label,
        AttributeType::Id,
    ];
    let sizes = session.get_attribute_info(certificate, &kinds).unwrap();
    assert_eq!(
        format!("{sizes:?}"),
        "[Available(8), Available(8), Available(1), Available(13), Available(1)]"
    );
    assert_eq!(
        session.get_attributes(certificate, &kinds).unwrap(),
        [
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Label(b"MyCertificate".to_vec()),
            Attribute::Id(vec![123]),
        ]
    );

    // C_FindObjects by class, type and label.
    assert_eq!(
        session
            .find_objects(&label_search("MyCertificate"))
            .unwrap(),
        [certificate]
    );

    // C_SetAttributeValue with the reference's template: CKA_TOKEN false
    // moves the certificate to the session, so its blob goes.
    session
        .update_attributes(
            certificate,
            &[
                Attribute::Token(false),
                Attribute::Label(b"This is a new label".to_vec()),
                Attribute::Subject(vec![0x40, 0x41, 0x42, 0x43, 0x44]),
                Attribute::Id(vec![254]),
                Attribute::Value(vec![
                    0x10, 0x20, 0x30, 0x40, 0x50, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF,
                ]),
            ],
        )
        .expect("C_SetAttributeValue");
    assert!(env.blob_names().is_empty());
    assert_eq!(
        session
            .get_attributes(certificate, &[AttributeType::Token, AttributeType::Label])
            .unwrap(),
        [
            Attribute::Token(false),
            Attribute::Label(b"This is a new label".to_vec())
        ]
    );

    // C_CopyObject with a NULL template, exactly as the reference calls it.
    let raw = unsafe { cryptoki_sys::Pkcs11::new(library_path()) }.expect("dlopen");
    let mut copy = 0;
    // SAFETY: a valid session and object handle, a NULL template of length
    // 0 (what the reference passes), and a valid output pointer.
    let rv = unsafe {
        raw.C_CopyObject(
            session.handle(),
            certificate.handle(),
            std::ptr::null_mut(),
            0,
            &mut copy,
        )
    };
    assert_eq!(rv, cryptoki_sys::CKR_OK);
    assert_ne!(copy, certificate.handle());
    let copy = object_handle(copy);
    assert_eq!(label_of(&session, copy), "This is a new label");

    // C_DestroyObject of both.
    session.destroy_object(copy).expect("destroy the copy");
    session
        .destroy_object(certificate)
        .expect("destroy the original");
    for handle in [copy, certificate] {
        assert_eq!(
            rv_of(session.get_attributes(handle, &[AttributeType::Label])),
            RvError::ObjectHandleInvalid
        );
    }
    assert!(env.blob_names().is_empty());
}

#[test]
fn azurite_destroying_a_token_certificate_deletes_its_blob() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "destroy");
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let original = session
        .create_object(&certificate_template("kept", REFERENCE_VALUE))
        .unwrap();
    let copy = session.copy_object(original, &[]).expect("C_CopyObject");
    assert_eq!(
        env.blob_names(),
        [blob_name(original.handle()), blob_name(copy.handle())]
    );
    session.destroy_object(copy).expect("C_DestroyObject");
    assert_eq!(env.blob_names(), [blob_name(original.handle())]);
    assert_eq!(
        session.find_objects(&label_search("kept")).unwrap(),
        [original]
    );
}

// ----- the rules -----

#[test]
fn azurite_refused_certificate_calls_return_the_rule_error_and_write_nothing() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "rules");
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let with = |label: &str, extra: Attribute| {
        let mut template = certificate_template(label, REFERENCE_VALUE);
        template.push(extra);
        session.create_object(&template).expect("fixture")
    };
    let fixed = with("fixed", Attribute::Modifiable(false));
    let permanent = with("permanent", Attribute::Destroyable(false));
    let uncopyable = with("uncopyable", Attribute::Copyable(false));
    let versions = |store: &dyn BlobStore| -> Vec<(String, String)> {
        let mut listed: Vec<_> = store
            .list(BLOB_PREFIX)
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.version))
            .collect();
        listed.sort();
        listed
    };
    let store = env.store();
    let before = versions(&store);
    assert_eq!(before.len(), 3);

    let without = |kind: AttributeType| -> Vec<Attribute> {
        certificate_template("refused", REFERENCE_VALUE)
            .into_iter()
            .filter(|a| a.attribute_type() != kind)
            .collect()
    };
    let plus = |extra: Attribute| {
        let mut template = certificate_template("refused", REFERENCE_VALUE);
        template.push(extra);
        template
    };
    let mut attribute_certificate = certificate_template("refused", REFERENCE_VALUE);
    attribute_certificate[1] = Attribute::CertificateType(CertificateType::X_509_ATTR);
    let create = |template: &[Attribute]| session.create_object(template).map(|_| ());
    let table = [
        (
            "create without CKA_VALUE",
            create(&without(AttributeType::Value)),
            RvError::TemplateIncomplete,
        ),
        (
            "create without CKA_SUBJECT",
            create(&without(AttributeType::Subject)),
            RvError::TemplateIncomplete,
        ),
        (
            "create a CKC_X_509_ATTR_CERT",
            create(&attribute_certificate),
            RvError::AttributeValueInvalid,
        ),
        (
            "create with CKA_SIGN",
            create(&plus(Attribute::Sign(true))),
            RvError::AttributeTypeInvalid,
        ),
        (
            "copy with a template",
            session
                .copy_object(fixed, &[Attribute::Label(b"copy".to_vec())])
                .map(|_| ()),
            RvError::TemplateInconsistent,
        ),
        (
            "set on a certificate that is not modifiable",
            session.update_attributes(fixed, &[Attribute::Label(b"changed".to_vec())]),
            RvError::ActionProhibited,
        ),
        (
            "destroy a certificate that is not destroyable",
            session.destroy_object(permanent),
            RvError::ActionProhibited,
        ),
        (
            "copy a certificate that is not copyable",
            session.copy_object(uncopyable, &[]).map(|_| ()),
            RvError::ActionProhibited,
        ),
    ];
    for (call, result, expected) in table {
        assert_eq!(rv_of(result), expected, "{call}");
    }
    assert_eq!(
        versions(&store),
        before,
        "a refused call changed the container"
    );
    assert_eq!(label_of(&session, fixed), "fixed");
}

// ----- persistence and other processes -----

fn persistent_attributes() -> [AttributeType; 7] {
    [
        AttributeType::Class,
        AttributeType::Token,
        AttributeType::Label,
        AttributeType::Id,
        AttributeType::Subject,
        AttributeType::Value,
        AttributeType::Modifiable,
    ]
}

#[test]
fn azurite_token_certificate_keeps_its_handle_and_attributes_across_finalize() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "persist");
    let (handle, attributes) = {
        let provider = Provider::open(&env.config);
        let session = provider.user_session();
        let handle = session
            .create_object(&certificate_template("persistent", b"persistent value"))
            .unwrap();
        let attributes = session
            .get_attributes(handle, &persistent_attributes())
            .unwrap();
        drop(session);
        provider.finalize();
        (handle, attributes)
    };
    let provider = Provider::open(&env.config);
    let session = provider.rw_session();
    assert_eq!(
        session.find_objects(&label_search("persistent")).unwrap(),
        [handle]
    );
    assert_eq!(
        session
            .get_attributes(handle, &persistent_attributes())
            .unwrap(),
        attributes
    );
}

#[test]
fn azurite_token_certificate_is_found_by_another_process() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "otherprocess");
    let handle = {
        let provider = Provider::open(&env.config);
        let session = provider.user_session();
        session
            .create_object(&certificate_template("shared", b"shared value"))
            .unwrap()
            .handle()
    };
    let output = env.directory.root().join("inventory.txt");
    run_worker(
        WORKER,
        &role_env(&env.config, "inventory", &output),
        WORKER_LIMIT,
    );
    assert_eq!(
        parse_lines(&std::fs::read_to_string(&output).unwrap()),
        [(handle, "shared".to_string(), hex(b"shared value"))]
    );
}

#[test]
fn azurite_certificate_created_by_another_process_is_found_by_the_next_search() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "freshness");
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    // A certificate of its own first: the searches that follow within 20 s
    // list the container only from the highest known name (`startFrom`).
    let early = session
        .create_object(&certificate_template("early", b"early value"))
        .unwrap();
    assert!(session
        .find_objects(&label_search("late-0"))
        .unwrap()
        .is_empty());
    let output = env.directory.root().join("created.txt");
    run_worker(
        WORKER,
        &creator_env(&env.config, &output, "late", 1, 1),
        WORKER_LIMIT,
    );
    let created = parse_lines(&std::fs::read_to_string(&output).unwrap());
    assert_eq!(created.len(), 1);
    assert_eq!(
        session.find_objects(&label_search("late-0")).unwrap(),
        [object_handle(created[0].0)]
    );
    assert!(created[0].0 > early.handle());
    assert_eq!(
        session.find_objects(&label_search("early")).unwrap(),
        [early]
    );
}

#[test]
fn azurite_two_processes_creating_200_certificates_each_get_400_distinct_handles() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "twoprocesses");
    let started = Instant::now();
    let workers: Vec<_> = ["first", "second"]
        .into_iter()
        .map(|prefix| {
            let output = env.directory.root().join(format!("{prefix}.txt"));
            let child = spawn_worker(WORKER, &creator_env(&env.config, &output, prefix, 200, 4));
            (child, output)
        })
        .collect();
    let mut created = Vec::new();
    for (child, output) in workers {
        wait_worker(child, WORKER_LIMIT);
        created.extend(parse_lines(&std::fs::read_to_string(output).unwrap()));
    }
    println!(
        "2 processes x 4 threads created {} certificates in {:.2?}",
        created.len(),
        started.elapsed()
    );
    assert_eq!(created.len(), 400);
    let handles: BTreeSet<u64> = created.iter().map(|c| c.0).collect();
    assert_eq!(handles.len(), 400, "two certificates got the same handle");
    assert!(handles
        .iter()
        .all(|h| (FIRST_CERTIFICATE_HANDLE..=0xFFFF_FFFE).contains(h)));
    assert_eq!(handles_of(&env.blob_names()), handles);

    // A fresh process finds all 400 and reads (so verifies) each value.
    let output = env.directory.root().join("inventory.txt");
    run_worker(
        WORKER,
        &role_env(&env.config, "inventory", &output),
        WORKER_LIMIT,
    );
    let mut found = parse_lines(&std::fs::read_to_string(&output).unwrap());
    found.sort();
    created.sort();
    assert_eq!(found, created);
}

// ----- tampering -----

/// Replaces a blob with `content` and `metadata`, through the store API.
fn replace_blob(
    store: &dyn BlobStore,
    name: &str,
    content: &[u8],
    metadata: &BTreeMap<String, String>,
) {
    store.delete(name).unwrap();
    store.create(name, content, metadata).unwrap();
}

#[test]
fn azurite_tampered_blobs_are_left_out_logged_and_unreadable() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let env = AzuriteEnvironment::new(&url, "tamper");
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let labels = [
        "signature",
        "source",
        "metadata",
        "untouched-1",
        "untouched-2",
    ];
    let handles: Vec<u64> = labels
        .iter()
        .map(|label| {
            session
                .create_object(&certificate_template(label, label.as_bytes()))
                .unwrap()
                .handle()
        })
        .collect();
    let store = env.store();
    let metadata: BTreeMap<String, BTreeMap<String, String>> = store
        .list(BLOB_PREFIX)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.metadata.expect("Azure listings carry metadata")))
        .collect();
    let blob = |handle: u64| -> (String, Vec<u8>, BTreeMap<String, String>) {
        let name = blob_name(handle);
        let (content, _) = store.read(&name).unwrap().unwrap();
        (name.clone(), content, metadata[&name].clone())
    };

    // A byte of the signature flipped.
    let (name, content, map) = blob(handles[0]);
    let mut parts: Vec<String> = String::from_utf8(content)
        .unwrap()
        .split('.')
        .map(str::to_string)
        .collect();
    let mut signature = base64url_decode(&parts[2]).unwrap();
    signature[17] ^= 0x01;
    parts[2] = base64url_encode(&signature);
    replace_blob(&store, &name, parts.join(".").as_bytes(), &map);
    // A valid blob copied under another handle's name.
    let (_, content, map) = blob(handles[1]);
    let foreign = FIRST_CERTIFICATE_HANDLE + 0x100;
    store.create(&blob_name(foreign), &content, &map).unwrap();
    // A valid blob whose (unsigned) metadata says another label.
    let (name, content, mut map) = blob(handles[2]);
    map.insert("cka_label".to_string(), base64url_encode(b"forged"));
    replace_blob(&store, &name, &content, &map);

    // A process that starts after the tampering (the one that created the
    // certificates sees another's change of them after its next whole
    // listing, within the documented 20 s).
    drop(session);
    provider.finalize();
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let log = LogMark::now();
    let untampered: BTreeSet<u64> = [handles[1], handles[3], handles[4]].into();
    assert_eq!(all_certificates(&session), untampered);
    for label in ["signature", "metadata", "forged"] {
        assert!(
            session
                .find_objects(&label_search(label))
                .unwrap()
                .is_empty(),
            "{label}"
        );
    }
    assert_eq!(
        session.find_objects(&label_search("source")).unwrap(),
        [object_handle(handles[1])]
    );
    let logged = log.since();
    for handle in [handles[0], foreign, handles[2]] {
        assert_eq!(
            rv_of(value_of(&session, object_handle(handle))),
            RvError::ObjectHandleInvalid,
            "{handle}"
        );
        assert!(
            logged.contains(&blob_name(handle)),
            "no log line names {}:\n{logged}",
            blob_name(handle)
        );
    }
    for (handle, label) in [(handles[3], "untouched-1"), (handles[1], "source")] {
        assert_eq!(
            value_of(&session, object_handle(handle)).unwrap(),
            label.as_bytes()
        );
    }
}

// ----- faults -----

/// How long a certificate call against a failing store may go unanswered
/// before the test calls it hung: [`WATCHDOG_FACTOR`] times the longest one
/// request may take under the configuration's `CERTSTORAGE_TIMEOUT_SECONDS`
/// and `CERTSTORAGE_RETRIES`. Read while the service still answers (opening
/// the store makes sure the container exists); `benches/azure_certificates.rs`
/// measures how long the calls really take.
fn watchdog_for(env: &AzuriteEnvironment) -> Duration {
    env.store().worst_case_duration() * WATCHDOG_FACTOR
}

/// Runs `call` on `session` on a thread of its own, asserts it returns
/// `CKR_DEVICE_ERROR` before `watchdog` has passed, and gives the session back.
fn assert_device_error_returns<T: std::fmt::Debug + Send + 'static>(
    what: &str,
    watchdog: Duration,
    session: Session,
    call: impl FnOnce(&Session) -> cryptoki::error::Result<T> + Send + 'static,
) -> Session {
    let (session, result) = within_watchdog(what, watchdog, move || {
        let result = call(&session);
        (session, result)
    });
    println!("{what}: {result:?}");
    assert_eq!(rv_of(result), RvError::DeviceError, "{what}");
    session
}

const KEY_ID: &[u8] = b"fault-key";

fn find_signing_key(session: &Session) -> ObjectHandle {
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(KEY_ID.to_vec()),
        ])
        .expect("find the private key");
    assert_eq!(found.len(), 1);
    found[0]
}

fn sign_and_verify(session: &Session) {
    let private = find_signing_key(session);
    let public = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::Id(KEY_ID.to_vec()),
        ])
        .unwrap()[0];
    let digest = [7u8; 32];
    let signature = session
        .sign(&Mechanism::Ecdsa, private, &digest)
        .expect("C_Sign");
    session
        .verify(&Mechanism::Ecdsa, public, &digest, &signature)
        .expect("C_Verify");
}

/// A container on `azurite` with a token key pair and three certificates
/// ("cached", "uncached", "spare"), and the configuration's timeouts
/// (2 s per attempt, 1 retry).
fn fault_fixture(azurite: &PrivateAzurite) -> (AzuriteEnvironment, Vec<ObjectHandle>) {
    let env = AzuriteEnvironment::with(
        &azurite.url(),
        "faults",
        azcloudhsm_pkcs11::certstore::azure::EMULATOR_ACCOUNT_KEY,
        &[
            ("CERTSTORAGE_TIMEOUT_SECONDS", "2"),
            ("CERTSTORAGE_RETRIES", "1"),
        ],
    );
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let p256 = vec![0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(p256),
                Attribute::Verify(true),
                Attribute::Id(KEY_ID.to_vec()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sign(true),
                Attribute::Id(KEY_ID.to_vec()),
            ],
        )
        .expect("C_GenerateKeyPair");
    let handles = ["cached", "uncached", "spare"]
        .iter()
        .map(|label| {
            session
                .create_object(&certificate_template(label, label.as_bytes()))
                .unwrap()
        })
        .collect();
    (env, handles)
}

/// Every blob in the container verifies: a search for every certificate
/// returns exactly the blobs listed, and each CKA_VALUE reads.
fn assert_every_blob_verifies(env: &AzuriteEnvironment, session: &Session) -> BTreeSet<u64> {
    // The first search after an outage may remove the blob that the
    // outage's one failed create left (the store checks one such write per
    // call that reaches the service): compare the container with the next.
    all_certificates(session);
    let blobs = handles_of(&env.blob_names());
    assert_eq!(all_certificates(session), blobs, "a blob does not verify");
    for handle in &blobs {
        value_of(session, object_handle(*handle)).expect("every blob verifies");
    }
    blobs
}

/// With the store unreachable: create, find, get (of a certificate not
/// cached), set and destroy each return `CKR_DEVICE_ERROR` before
/// `watchdog`, and keys still sign and verify. Gives the session back.
fn certificate_calls_fail_with_device_error(
    watchdog: Duration,
    session: Session,
    cached: ObjectHandle,
    uncached: ObjectHandle,
    destroyed: ObjectHandle,
) -> Session {
    let session = assert_device_error_returns("create", watchdog, session, |session| {
        session.create_object(&certificate_template("outage", b"outage"))
    });
    let session = assert_device_error_returns("find", watchdog, session, |session| {
        session.find_objects(&label_search("cached"))
    });
    let session = assert_device_error_returns(
        "get CKA_VALUE of an uncached certificate",
        watchdog,
        session,
        move |session| value_of(session, uncached),
    );
    let session = assert_device_error_returns("set", watchdog, session, move |session| {
        session.update_attributes(cached, &[Attribute::Label(b"renamed".to_vec())])
    });
    let session = assert_device_error_returns("destroy", watchdog, session, move |session| {
        session.destroy_object(destroyed)
    });
    sign_and_verify(&session);
    session
}

#[test]
fn azurite_stopped_service_fails_certificate_calls_in_bounded_time_and_recovers() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = PrivateAzurite::start();
    let (env, handles) = fault_fixture(&azurite);
    let [cached, uncached, spare] = handles[..] else {
        unreachable!()
    };
    let watchdog = watchdog_for(&env);
    // A fresh provider that has verified (cached) only "cached".
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    assert_eq!(
        session.find_objects(&label_search("cached")).unwrap(),
        [cached]
    );

    azurite.command("stop");
    let session =
        certificate_calls_fail_with_device_error(watchdog, session, cached, uncached, cached);

    azurite.command("start");
    let started = Instant::now();
    assert_eq!(
        session.find_objects(&label_search("cached")).unwrap(),
        [cached]
    );
    println!("first search after the restart: {:.2?}", started.elapsed());
    assert_eq!(value_of(&session, uncached).unwrap(), b"uncached");
    session
        .update_attributes(spare, &[Attribute::Label(b"renamed".to_vec())])
        .expect("set after the restart");
    println!("recovery calls: {:.2?}", started.elapsed());
    let expected: BTreeSet<u64> = handles.iter().map(|h| h.handle()).collect();
    assert_eq!(assert_every_blob_verifies(&env, &session), expected);
    println!("recovery and verification: {:.2?}", started.elapsed());
}

#[test]
fn azurite_frozen_service_fails_certificate_calls_instead_of_hanging() {
    if azurite_url().is_none() {
        return;
    }
    let _lock = lock();
    let azurite = PrivateAzurite::start();
    let (env, handles) = fault_fixture(&azurite);
    let [cached, uncached, spare] = handles[..] else {
        unreachable!()
    };
    let watchdog = watchdog_for(&env);
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    assert_eq!(
        session.find_objects(&label_search("cached")).unwrap(),
        [cached]
    );

    // Frozen: connections are accepted and never answered, so every call
    // runs into CERTSTORAGE_TIMEOUT_SECONDS on each attempt.
    azurite.signal("STOP");
    let session =
        certificate_calls_fail_with_device_error(watchdog, session, cached, uncached, spare);

    // Awake: writes cut off by the timeout may have been applied late, but
    // whole: every blob there verifies, and the untouched one is intact.
    azurite.signal("CONT");
    let blobs = assert_every_blob_verifies(&env, &session);
    println!(
        "after the freeze the container holds {} certificate(s): {blobs:?}",
        blobs.len()
    );
    assert!(blobs.contains(&uncached.handle()));
    assert_eq!(value_of(&session, uncached).unwrap(), b"uncached");
    session
        .create_object(&certificate_template("after", b"after"))
        .expect("create after the freeze");
}

#[test]
fn azurite_wrong_account_key_fails_certificate_calls_and_logs_container_and_method() {
    let Some(url) = azurite_url() else { return };
    let _lock = lock();
    let wrong_key = "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IQ==";
    let log = LogMark::now();
    let env = AzuriteEnvironment::with(&url, "wrongkey", wrong_key, &[]);
    let watchdog = watchdog_for(&env);
    let provider = Provider::open(&env.config);
    let session = provider.user_session();
    let session = assert_device_error_returns("create", watchdog, session, |session| {
        session.create_object(&certificate_template("refused", b"refused"))
    });
    assert_device_error_returns("find", watchdog, session, |session| {
        session.find_objects(&label_search("refused"))
    });
    let logged = log.since();
    let line = logged
        .lines()
        .find(|line| line.contains(&env.container) && line.contains("connection_string"))
        .unwrap_or_else(|| panic!("no line names the container and the method:\n{logged}"));
    println!("{line}");
    assert!(!logged.contains(wrong_key), "the key was logged");
    assert!(!logged.contains(&wrong_key[..16]), "the key was logged");
}
