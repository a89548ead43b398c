//! The Azure blob store against Azurite, through the public Rust API.
//!
//! Needs `AZURITE_BLOB_URL` (e.g. `http://127.0.0.1:10000/devstoreaccount1`,
//! printed by `.ci/azurite.sh start`). Without it each test prints that it
//! skips, except under `CI`, where a missing service is a failure.
//!
//! How long creating, listing and reading many blobs takes, and how long
//! calls take against a stopped or frozen service, is measured in
//! `benches/azure_certificates.rs` (`cargo bench --bench azure_certificates`).

mod common;

use azcloudhsm_pkcs11::certstore::azure::{AzureBlobStore, AzureSettings, EMULATOR_ACCOUNT_KEY};
use azcloudhsm_pkcs11::certstore::{BlobStore, Cancel, CreateOutcome, UpdateOutcome, BLOB_PREFIX};
use azcloudhsm_pkcs11::config::Config;
use azcloudhsm_pkcs11::error::Error;
use common::{
    azure_storage_config, azurite_url, unique_container, within_watchdog, PrivateAzurite,
    WATCHDOG_FACTOR,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Settings read through the real configuration path, as the provider does.
fn settings(
    account_url: &str,
    container: &str,
    key: &str,
    timeout_seconds: u32,
    retries: u32,
) -> AzureSettings {
    let text = format!(
        "{}CERTSTORAGE_TIMEOUT_SECONDS={timeout_seconds}\n\
         CERTSTORAGE_RETRIES={retries}\n",
        azure_storage_config(account_url, container, key)
    );
    let config = Config::parse(&text, Path::new("/test/azcloudhsm_application.cfg"))
        .expect("valid configuration");
    AzureSettings::from_config(&config).expect("valid Azure settings")
}

fn open_store(account_url: &str, purpose: &str) -> AzureBlobStore {
    AzureBlobStore::open(&settings(
        account_url,
        &unique_container(purpose),
        EMULATOR_ACCOUNT_KEY,
        10,
        2,
    ))
    .expect("store opens")
}

/// Metadata shaped like the certificate manager's.
fn metadata(index: usize) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("class".to_string(), "1".to_string()),
        ("certtype".to_string(), "0".to_string()),
        ("label".to_string(), format!("6365727420{index:04x}")),
        ("id".to_string(), format!("{index:08x}")),
        (
            "subject".to_string(),
            "3017311530130603550403130c746573742073756264656374".to_string(),
        ),
        (
            "issuer".to_string(),
            "3017311530130603550403130c7465737420697373756572".to_string(),
        ),
        ("serial".to_string(), format!("0203{index:06x}")),
    ])
}

/// About the size of a JWS holding an RSA-2048 certificate.
fn jws_like_content(index: usize) -> Vec<u8> {
    let mut content = format!("eyJhbGciOiJSUzUxMiJ9.{index:08}.").into_bytes();
    content.resize(1300, b'A' + (index % 26) as u8);
    content
}

fn name(index: usize) -> String {
    format!("{BLOB_PREFIX}{}", 0xFFF0_0000usize + index)
}

#[test]
fn azurite_create_is_conditional() {
    let Some(url) = azurite_url() else { return };
    let store = open_store(&url, "create");
    let first = store.create(&name(0), b"first", &metadata(0)).unwrap();
    assert!(
        matches!(first, CreateOutcome::Created(ref version) if !version.is_empty()),
        "{first:?}"
    );
    let second = store.create(&name(0), b"second", &metadata(1)).unwrap();
    assert_eq!(second, CreateOutcome::AlreadyExists);
    let (content, _) = store.read(&name(0)).unwrap().expect("blob exists");
    assert_eq!(content, b"first");
}

#[test]
fn azurite_read_returns_the_content_and_the_version_listings_show() {
    let Some(url) = azurite_url() else { return };
    let store = open_store(&url, "read");
    let CreateOutcome::Created(created) = store
        .create(&name(1), &jws_like_content(1), &metadata(1))
        .unwrap()
    else {
        panic!("not created")
    };
    let (content, version) = store.read(&name(1)).unwrap().expect("blob exists");
    assert_eq!(content, jws_like_content(1));
    assert_eq!(version, created);
    assert!(!version.contains('"'), "{version}");
    let listed = store.list(BLOB_PREFIX).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, created);
    assert_eq!(store.read(&name(2)).unwrap(), None);
}

#[test]
fn azurite_update_needs_the_current_version() {
    let Some(url) = azurite_url() else { return };
    let store = open_store(&url, "update");
    let CreateOutcome::Created(v1) = store.create(&name(3), b"one", &metadata(3)).unwrap() else {
        panic!("not created")
    };
    let UpdateOutcome::Updated(v2) = store.update(&name(3), b"two", &metadata(4), &v1).unwrap()
    else {
        panic!("update with the current version was refused")
    };
    assert_ne!(v1, v2);
    assert_eq!(
        store.update(&name(3), b"three", &metadata(5), &v1).unwrap(),
        UpdateOutcome::Conflict
    );
    let (content, version) = store.read(&name(3)).unwrap().unwrap();
    assert_eq!(
        (content.as_slice(), version.as_str()),
        (&b"two"[..], v2.as_str())
    );
    let listed = store.list(BLOB_PREFIX).unwrap();
    assert_eq!(listed[0].metadata.as_ref(), Some(&metadata(4)));
    assert_eq!(
        store.update(&name(99), b"x", &metadata(0), &v2).unwrap(),
        UpdateOutcome::NotFound
    );
}

#[test]
fn azurite_delete_twice_is_not_an_error() {
    let Some(url) = azurite_url() else { return };
    let store = open_store(&url, "delete");
    store.create(&name(6), b"doomed", &metadata(6)).unwrap();
    store.delete(&name(6)).unwrap();
    store.delete(&name(6)).unwrap();
    assert_eq!(store.read(&name(6)).unwrap(), None);
    assert!(store.list(BLOB_PREFIX).unwrap().is_empty());
}

#[test]
fn azurite_list_follows_pages_and_returns_metadata() {
    let Some(url) = azurite_url() else { return };
    let mut settings = settings(&url, &unique_container("list"), EMULATOR_ACCOUNT_KEY, 10, 2);
    settings.page_size = 40;
    let store = Arc::new(AzureBlobStore::open(&settings).unwrap());
    const COUNT: usize = 300;
    create_in_parallel(&store, 0..COUNT, 8);
    store
        .create("other_blob", b"not a certificate", &BTreeMap::new())
        .unwrap();
    let mut listed = store.list(BLOB_PREFIX).unwrap();
    assert_eq!(listed.len(), COUNT);
    listed.sort_by(|a, b| a.name.cmp(&b.name));
    for (index, entry) in listed.iter().enumerate() {
        assert_eq!(entry.name, name(index));
        assert_eq!(
            entry.metadata.as_ref(),
            Some(&metadata(index)),
            "{}",
            entry.name
        );
        assert!(!entry.version.is_empty() && !entry.version.contains('"'));
    }
    assert_eq!(store.list("").unwrap().len(), COUNT + 1);
    // The listing the background thread makes: the same pages, the same
    // answer, until it is cancelled.
    let cancel = Arc::new(Cancel::default());
    let mut cancellable = store.list_cancellable(BLOB_PREFIX, &cancel).unwrap();
    cancellable.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(cancellable, listed);
    cancel.cancel();
    let stopped = store.list_cancellable(BLOB_PREFIX, &cancel);
    assert!(
        matches!(&stopped, Err(Error::StoreUnavailable(reason)) if reason.contains("cancelled")),
        "{stopped:?}"
    );
}

#[test]
fn azurite_wrong_account_key_is_a_device_error() {
    let Some(url) = azurite_url() else { return };
    let container = unique_container("wrongkey");
    // Make the container with the right key, so only authentication can fail.
    drop(AzureBlobStore::open(&settings(&url, &container, EMULATOR_ACCOUNT_KEY, 10, 2)).unwrap());
    let wrong_key = "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IQ==";
    let store = AzureBlobStore::open(&settings(&url, &container, wrong_key, 10, 2)).unwrap();
    for result in [
        store.read(&name(0)).map(|_| ()),
        store.create(&name(0), b"x", &metadata(0)).map(|_| ()),
        store.list(BLOB_PREFIX).map(|_| ()),
    ] {
        match result {
            Err(error @ Error::StoreRequest { status, .. }) => {
                let message = error.to_string();
                assert_eq!(status, Some(403), "{message}");
                assert!(message.contains("403"), "{message}");
                assert!(!message.contains(wrong_key), "{message}");
                assert_eq!(error.rv(), cryptoki_sys::CKR_DEVICE_ERROR);
            }
            other => panic!("expected a failed store request, got {other:?}"),
        }
    }
}

#[test]
fn azurite_many_threads_share_one_store() {
    let Some(url) = azurite_url() else { return };
    let store = open_store(&url, "threads");
    assert_each_name_is_won_once(&store, 8, 20);
}

/// `threads` threads race to create the same `names` blobs: each name is
/// created exactly once and the store lists exactly those.
fn assert_each_name_is_won_once(store: &AzureBlobStore, threads: usize, names: usize) {
    let winners = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for index in 0..names {
                    if let CreateOutcome::Created(_) =
                        store.create(&name(index), b"x", &metadata(index)).unwrap()
                    {
                        winners.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(winners.load(Ordering::SeqCst) as usize, names);
    assert_eq!(store.list(BLOB_PREFIX).unwrap().len(), names);
}

#[test]
fn azurite_store_without_threads_of_its_own_serves_many_callers() {
    let Some(url) = azurite_url() else { return };
    // As under CKF_LIBRARY_CANT_CREATE_OS_THREADS: the calling threads drive the I/O.
    let mut settings = settings(
        &url,
        &unique_container("nothreads"),
        EMULATOR_ACCOUNT_KEY,
        10,
        2,
    );
    settings.own_threads = false;
    let store = AzureBlobStore::open(&settings).expect("store opens");
    assert_each_name_is_won_once(&store, 4, 10);
}

/// Runs `call` on `store` on a thread of its own and asserts it fails with a
/// device error before [`WATCHDOG_FACTOR`] times the store's worst case for
/// one call (from its configured timeout and retries) has passed: a hang is
/// a failure, a slow machine is not.
fn assert_device_error_returns<T: std::fmt::Debug + Send + 'static>(
    what: &str,
    store: &Arc<AzureBlobStore>,
    call: impl FnOnce(&AzureBlobStore) -> Result<T, Error> + Send + 'static,
) {
    let watchdog = store.worst_case_duration() * WATCHDOG_FACTOR;
    let store = Arc::clone(store);
    let result = within_watchdog(what, watchdog, move || call(&store));
    println!(
        "{what}: {:?}",
        result.as_ref().map(|_| ()).map_err(|e| e.to_string())
    );
    assert!(
        matches!(&result, Err(error) if error.rv() == cryptoki_sys::CKR_DEVICE_ERROR),
        "{what}: {result:?}"
    );
}

#[test]
fn azurite_unavailable_service_fails_in_bounded_time_and_recovers() {
    if azurite_url().is_none() {
        return;
    }
    let azurite = PrivateAzurite::start();
    let settings = settings(&azurite.url(), "fault", EMULATOR_ACCOUNT_KEY, 2, 1);
    let store = Arc::new(AzureBlobStore::open(&settings).unwrap());
    store.create(&name(0), b"before", &metadata(0)).unwrap();

    // Frozen: connections are accepted, nothing is answered.
    azurite.signal("STOP");
    assert_device_error_returns("read while frozen", &store, |store| store.read(&name(0)));
    assert_device_error_returns("create while frozen", &store, |store| {
        store.create(&name(1), &jws_like_content(1), &metadata(1))
    });
    assert_device_error_returns("list while frozen", &store, |store| store.list(BLOB_PREFIX));
    azurite.signal("CONT");

    // Stopped: connections are refused.
    azurite.command("stop");
    assert_device_error_returns("read while stopped", &store, |store| store.read(&name(0)));
    assert_device_error_returns("create while stopped", &store, |store| {
        store.create(&name(2), &jws_like_content(2), &metadata(2))
    });
    assert_device_error_returns("update while stopped", &store, |store| {
        store.update(&name(0), b"x", &metadata(0), "0x1")
    });
    assert_device_error_returns("delete while stopped", &store, |store| {
        store.delete(&name(0))
    });
    assert_device_error_returns("list while stopped", &store, |store| {
        store.list(BLOB_PREFIX)
    });

    // Restarted on the same data: the store works again without reopening.
    azurite.command("start");
    let (content, _) = store
        .read(&name(0))
        .unwrap()
        .expect("the blob written before survives");
    assert_eq!(content, b"before");
    assert_eq!(
        store.read(&name(2)).unwrap(),
        None,
        "a create refused by a stopped service left a blob"
    );
    // A create cut off by the freeze may have been applied when the service
    // woke up; if so the blob is whole, never partial.
    match store.read(&name(1)).unwrap() {
        None => println!("the create cut off by the freeze left no blob"),
        Some((content, _)) => {
            println!("the create cut off by the freeze was applied after the service woke up");
            assert_eq!(content, jws_like_content(1));
        }
    }
    assert!(matches!(
        store.create(&name(2), b"after", &metadata(2)).unwrap(),
        CreateOutcome::Created(_)
    ));
}

fn create_in_parallel(
    store: &Arc<AzureBlobStore>,
    indices: std::ops::Range<usize>,
    threads: usize,
) {
    let next = AtomicU32::new(indices.start as u32);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst) as usize;
                if index >= indices.end {
                    break;
                }
                let outcome = store
                    .create(&name(index), &jws_like_content(index), &metadata(index))
                    .unwrap();
                assert!(matches!(outcome, CreateOutcome::Created(_)));
            });
        }
    });
}

/// A TCP relay in front of a service: passes requests on, and while
/// `drop_answers` is set closes the connection as soon as the service
/// answers, so the client never hears what was done.
struct Relay {
    port: u16,
    drop_answers: Arc<std::sync::atomic::AtomicBool>,
}

impl Relay {
    fn start(target: std::net::SocketAddr) -> Relay {
        use std::io::{Read, Write};
        use std::net::{Shutdown, TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let port = listener.local_addr().unwrap().port();
        let drop_answers = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dropping = drop_answers.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                let (mut client_in, mut server_out) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut client_in, &mut server_out);
                    let _ = server_out.shutdown(Shutdown::Write);
                });
                let dropping = dropping.clone();
                std::thread::spawn(move || {
                    let (mut server_in, mut client_out) = (server, client);
                    let mut buffer = [0u8; 16 * 1024];
                    loop {
                        let read = match server_in.read(&mut buffer) {
                            Ok(0) | Err(_) => break,
                            Ok(read) => read,
                        };
                        if dropping.load(Ordering::SeqCst) {
                            break;
                        }
                        if client_out.write_all(&buffer[..read]).is_err() {
                            break;
                        }
                    }
                    let _ = client_out.shutdown(Shutdown::Both);
                    let _ = server_in.shutdown(Shutdown::Both);
                });
            }
        });
        Relay { port, drop_answers }
    }

    fn account_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/{}",
            self.port,
            azcloudhsm_pkcs11::certstore::azure::EMULATOR_ACCOUNT
        )
    }

    fn drop_answers(&self, drop: bool) {
        self.drop_answers.store(drop, Ordering::SeqCst);
    }
}

/// A create whose every answer is lost (the write reached the service,
/// then the retry's conflict and the follow-up check went unanswered too)
/// fails; the blob it left is removed by the store's next call that
/// reaches the service, because it carries the failed create's write id.
#[test]
fn azurite_create_whose_answers_were_lost_is_removed_by_a_later_call() {
    let Some(url) = azurite_url() else { return };
    let authority = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .expect("AZURITE_BLOB_URL is http://host:port/account");
    let target = std::net::ToSocketAddrs::to_socket_addrs(authority)
        .expect("resolve Azurite")
        .next()
        .expect("an address for Azurite");
    let relay = Relay::start(target);
    let container = unique_container("lost-answers");
    let direct = AzureBlobStore::open(&settings(&url, &container, EMULATOR_ACCOUNT_KEY, 10, 2))
        .expect("store opens");
    let relayed = AzureBlobStore::open(&settings(
        &relay.account_url(),
        &container,
        EMULATOR_ACCOUNT_KEY,
        2,
        1,
    ))
    .expect("store opens through the relay");
    let (lost, other) = (name(0), name(1));

    relay.drop_answers(true);
    let result = relayed.create(&lost, &jws_like_content(0), &metadata(0));
    assert!(
        matches!(result, Err(Error::StoreRequest { .. })),
        "{result:?}"
    );
    let stored = direct.read(&lost).expect("read directly");
    assert_eq!(
        stored.map(|(content, _)| content),
        Some(jws_like_content(0)),
        "the relay did not let the write through: the test proves nothing"
    );

    relay.drop_answers(false);
    assert!(matches!(
        relayed
            .create(&other, &jws_like_content(1), &metadata(1))
            .expect("create with the answers back"),
        CreateOutcome::Created(_)
    ));
    assert_eq!(
        direct.read(&lost).expect("read directly"),
        None,
        "the blob of the failed create is still there"
    );
    assert!(direct.read(&other).expect("read directly").is_some());
    // Nothing else went.
    let listed: Vec<String> = relayed
        .list(BLOB_PREFIX)
        .expect("list")
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    assert_eq!(listed, [other]);
}
