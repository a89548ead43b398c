//! The Azure Blob Storage certificate store: one container, one block blob
//! per certificate, metadata carried in the listing.
//!
//! [`AzureBlobStore`] implements the blocking [`BlobStore`] over the async
//! SDK with a small tokio runtime of its own, created by
//! [`AzureBlobStore::open`] (called from `C_Initialize`, never at library
//! load) and shut down when the store is dropped (`C_Finalize`).
//!
//! Guarantees:
//! - every call ends: each attempt is cut off after
//!   `CERTSTORAGE_TIMEOUT_SECONDS`, timeouts and transient failures are
//!   retried at most `CERTSTORAGE_RETRIES` times, then `Error::StoreRequest`;
//! - create is conditional (`If-None-Match: *`) and update is conditional on
//!   the ETag, and an attempt whose answer was lost is recognised by a
//!   write id in the metadata, so a retry never reports a conflict with
//!   itself; a create that finally fails removes what an unanswered attempt
//!   may have written, when the service is reachable again within one
//!   more timeout, or else (one such check after each later listing or
//!   create that reached the service) once it is; the blob is removed only
//!   while it still carries that write id and ETag. A process that ends
//!   first leaves such a blob: a complete certificate that verifies;
//! - a blob write is a single Put Blob, so no reader sees a partial blob;
//! - no secret (SAS, account key, client secret) is ever logged, put in an
//!   error message, or shown by `Debug`.

pub mod auth;
mod client;
mod http;
pub mod renewing;
pub mod retry;
pub mod settings;
pub mod shared_key;

pub use settings::{Authentication, AzureSettings, EMULATOR_ACCOUNT, EMULATOR_ACCOUNT_KEY};

use crate::certstore::{BlobEntry, BlobStore, Cancel, CreateOutcome, Metadata, Probe, Updated};
use crate::error::{Error, Result};
use client::Client;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

/// The runtime's worker threads: requests are I/O-bound and few at a time.
const WORKER_THREADS: usize = 2;

/// A [`BlobStore`] on an Azure Blob Storage container (or Azurite).
///
/// Safe to call from any number of threads at once; no lock is held
/// across network I/O.
pub struct AzureBlobStore {
    client: Arc<Client>,
    // `None` only while dropping.
    runtime: Option<Runtime>,
    /// False when the runtime has no worker threads of its own.
    own_threads: bool,
    /// The index cache upload in flight, if any (see `write_cache`).
    cache_upload: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for AzureBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureBlobStore")
            .field("container", &self.describe())
            .finish_non_exhaustive()
    }
}

impl AzureBlobStore {
    /// Opens the container described by `settings`.
    ///
    /// Builds the runtime, the credential and the HTTP clients, then tries
    /// once (one timeout, no retry) to create the container, ignoring
    /// "already exists". That attempt is best effort: a credential without
    /// the right to create containers (a read/write SAS, a data-plane role
    /// scoped to the container), an unreachable service, or a refused
    /// credential are logged (the last one as an error naming the container
    /// and the method) and `open` still succeeds, so key operations keep
    /// working; certificate calls then fail with `Error::StoreRequest`.
    ///
    /// Fails only on what no retry can fix: a credential that cannot be
    /// built, or a runtime that cannot be started.
    pub fn open(settings: &AzureSettings) -> Result<Self> {
        let mut builder = if settings.own_threads {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder
                .worker_threads(WORKER_THREADS)
                .thread_name("azcloudhsm-blob");
            builder
        } else {
            // Driven only by the threads that call in, one at a time.
            tokio::runtime::Builder::new_current_thread()
        };
        let runtime = builder.enable_all().build().map_err(|e| Error::Setup {
            what: "the certificate storage runtime".to_string(),
            source: Box::new(e),
        })?;
        let client = {
            // Credentials and HTTP clients may look for the runtime they run on.
            let _entered = runtime.enter();
            Arc::new(Client::new(settings)?)
        };
        let store = AzureBlobStore {
            client,
            runtime: Some(runtime),
            own_threads: settings.own_threads,
            cache_upload: parking_lot::Mutex::new(None),
        };
        let client = store.client.clone();
        // An answer has already been logged inside when this fails.
        let _ = store.run(async move { client.ensure_container().await });
        Ok(store)
    }

    /// The longest any single call can take before it returns an error.
    pub fn worst_case_duration(&self) -> Duration {
        self.client.worst_case()
    }

    /// Runs `future` to completion on the store's runtime.
    ///
    /// From a plain thread this is `block_on`. From inside some other async
    /// runtime (an async application calling the blocking C API on a worker
    /// thread), `block_on` would panic, so the future is spawned and the
    /// thread waits for it instead.
    fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| Error::StoreUnavailable("closed".to_string()))?;
        if tokio::runtime::Handle::try_current().is_err() {
            return runtime.block_on(future);
        }
        if !self.own_threads {
            // Nothing would drive a spawned future, and block_on would panic.
            return Err(Error::StoreUnavailable(
                "initialised without threads, it cannot be used from inside an async runtime"
                    .to_string(),
            ));
        }
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = sender.send(future.await);
        });
        // The future is bounded by its own timeouts; this is only a backstop.
        let limit = self.client.worst_case() * 2 + Duration::from_secs(10);
        receiver.recv_timeout(limit).unwrap_or_else(|_| {
            Err(Error::StoreUnavailable(format!(
                "a call did not finish within {limit:?}"
            )))
        })
    }
}

impl Drop for AzureBlobStore {
    fn drop(&mut self) {
        // Unlike dropping the runtime, this neither blocks nor panics, even
        // when the store is dropped from inside an async context.
        if let Some(runtime) = self.runtime.take() {
            // An index cache upload in flight gets one timeout to end, so
            // that a short-lived process still leaves its cache behind;
            // not from inside an async context, where blocking would panic.
            let upload = self.cache_upload.get_mut().take();
            if let Some(upload) = upload.filter(|u| !u.is_finished()) {
                if tokio::runtime::Handle::try_current().is_err() {
                    let limit = self.client.worst_case().min(CACHE_UPLOAD_WAIT);
                    let _ = runtime.block_on(async { tokio::time::timeout(limit, upload).await });
                }
            }
            runtime.shutdown_background();
        }
    }
}

impl BlobStore for AzureBlobStore {
    fn describe(&self) -> String {
        self.client.describe()
    }

    fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>> {
        let client = self.client.clone();
        let prefix = prefix.to_string();
        self.run(async move { client.list(&prefix).await })
    }

    fn list_cancellable(&self, prefix: &str, cancel: &Arc<Cancel>) -> Result<Vec<BlobEntry>> {
        let client = self.client.clone();
        let (prefix, cancel) = (prefix.to_string(), cancel.clone());
        self.run(async move { client.list_cancellable(&prefix, &cancel).await })
    }

    fn list_from(&self, prefix: &str, start: &str) -> Result<Option<Vec<BlobEntry>>> {
        let client = self.client.clone();
        let (prefix, start) = (prefix.to_string(), start.to_string());
        self.run(async move { client.list_from(&prefix, &start).await })
            .map(Some)
    }
    /// One Get Blob Properties request.
    fn probe(&self, name: &str) -> Result<Probe> {
        let client = self.client.clone();
        let name = name.to_string();
        self.run(async move { client.probe(&name).await })
    }
    fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let client = self.client.clone();
        let name = name.to_string();
        self.run(async move { client.read(&name).await })
    }

    fn create(&self, name: &str, content: &[u8], metadata: &Metadata) -> Result<CreateOutcome> {
        let client = self.client.clone();
        let (name, content, metadata) = (name.to_string(), content.to_vec(), metadata.clone());
        self.run(async move { client.create(&name, content, &metadata).await })
    }

    fn update(&self, name: &str, content: &[u8], metadata: &Metadata, expected: &str) -> Updated {
        let client = self.client.clone();
        let (name, content, metadata) = (name.to_string(), content.to_vec(), metadata.clone());
        let expected = expected.to_string();
        self.run(async move { client.update(&name, content, &metadata, &expected).await })
    }

    fn delete(&self, name: &str) -> Result<()> {
        let client = self.client.clone();
        let name = name.to_string();
        self.run(async move { client.delete(&name).await })
    }

    /// The blob [`CACHE_BLOB`], as the local store keeps `.index/certificates`.
    fn read_cache(&self) -> Option<Vec<u8>> {
        let client = self.client.clone();
        self.run(async move { Ok(client.read_small(CACHE_BLOB, MAX_CACHE_BYTES).await) })
            .ok()
            .flatten()
    }

    /// Uploaded on the store's runtime while the caller goes on (a search
    /// must not wait for some megabytes to upload); not at all for a store
    /// without threads of its own, nor while an earlier upload runs. A
    /// failure is logged. `C_Finalize` waits for an upload in flight for
    /// at most [`CACHE_UPLOAD_WAIT`], then abandons it: the service keeps
    /// the old cache then (a blob is replaced whole or not at all).
    fn write_cache(&self, content: &[u8]) {
        let Some(runtime) = self.runtime.as_ref().filter(|_| self.own_threads) else {
            return;
        };
        let mut upload = self.cache_upload.lock();
        if upload.as_ref().is_some_and(|u| !u.is_finished()) {
            return;
        }
        let (client, content) = (self.client.clone(), content.to_vec());
        *upload = Some(runtime.spawn(async move {
            match client.put(CACHE_BLOB, content).await {
                Ok(()) => tracing::debug!(blob = CACHE_BLOB, "index cache written"),
                Err(error) => tracing::warn!(
                    blob = CACHE_BLOB,
                    "the index cache was not written ({error}); new processes list the container whole before their first search"
                ),
            }
        }));
    }
}

/// The index cache's blob: the searchable attributes of each certificate
/// blob version, so that a new process need not wait for a whole listing
/// (see `manager/cache.rs`). Outside the certificate prefix, so no listing
/// of certificates shows it; the local store keeps the same name as a file.
pub const CACHE_BLOB: &str = ".index/certificates";

/// How long `C_Finalize` waits for an index cache upload in flight.
const CACHE_UPLOAD_WAIT: Duration = Duration::from_secs(10);

/// A larger index cache blob is not downloaded (not ours).
const MAX_CACHE_BYTES: u64 = 1 << 30;

/// An ETag as the store reports versions: without the quotes that response
/// headers carry and listings do not, so the two compare equal.
pub fn normalise_etag(etag: &str) -> String {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_from_headers_and_listings_normalise_to_the_same_version() {
        assert_eq!(normalise_etag("\"0x8DC0FFEE\""), "0x8DC0FFEE");
        assert_eq!(normalise_etag("0x8DC0FFEE"), "0x8DC0FFEE");
        assert_eq!(normalise_etag("W/\"0x1\""), "0x1");
    }

    fn emulator_settings(port: u16, timeout: Duration) -> AzureSettings {
        AzureSettings {
            container_url: url::Url::parse(&format!(
                "http://127.0.0.1:{port}/{EMULATOR_ACCOUNT}/c"
            ))
            .unwrap(),
            authentication: Authentication::SharedKey {
                account: EMULATOR_ACCOUNT.to_string(),
                key: azure_core::credentials::Secret::new(EMULATOR_ACCOUNT_KEY),
            },
            timeout,
            retries: 1,
            page_size: 10,
            ca_file: None,
            own_threads: true,
        }
    }

    #[test]
    fn open_succeeds_and_calls_fail_promptly_when_nothing_listens() {
        // Port 9 (discard) on loopback: connection refused at once.
        let store =
            Arc::new(AzureBlobStore::open(&emulator_settings(9, Duration::from_secs(2))).unwrap());
        let bound = store.worst_case_duration();
        let (sender, receiver) = std::sync::mpsc::channel();
        let caller = store.clone();
        std::thread::spawn(move || {
            let _ = sender.send(caller.read("pkcs11_certificate_1"));
        });
        // A watchdog, not a timing assertion: only a call that hangs far
        // past its bound fails here; its speed is not measured.
        let result = receiver
            .recv_timeout(10 * bound)
            .unwrap_or_else(|e| panic!("read has not returned after 10 x {bound:?}: {e}"));
        let Err(error @ Error::StoreRequest { blob, .. }) = &result else {
            panic!("expected a failed store request, got {result:?}");
        };
        assert_eq!(blob, "pkcs11_certificate_1");
        assert_eq!(error.rv(), cryptoki_sys::CKR_DEVICE_ERROR);
    }

    /// A loopback server that answers the first request (the container
    /// create) with 201 and never answers any later one.
    fn server_that_stops_answering() -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let answered = answered.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    if !answered.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        let _ =
                            stream.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
                    }
                    // Keeps the connection open, unanswered.
                    while let Ok(n) = stream.read(&mut buffer) {
                        if n == 0 {
                            return;
                        }
                    }
                });
            }
        });
        port
    }

    #[test]
    fn a_cancelled_listing_returns_while_its_request_is_unanswered() {
        let port = server_that_stops_answering();
        let store = Arc::new(
            AzureBlobStore::open(&emulator_settings(port, Duration::from_secs(60))).unwrap(),
        );
        let cancel = Arc::new(Cancel::default());
        let (sender, receiver) = std::sync::mpsc::channel();
        let (lister, stop) = (store.clone(), cancel.clone());
        std::thread::spawn(move || {
            let _ = sender.send(lister.list_cancellable("pkcs11_certificate_", &stop));
        });
        std::thread::sleep(Duration::from_millis(300));
        assert!(receiver.try_recv().is_err(), "the request is unanswered");
        cancel.cancel();
        // Each attempt would wait 60 s for its answer: returning well
        // within that proves the cancel cut the request short.
        let result = receiver
            .recv_timeout(Duration::from_secs(20))
            .expect("the cancelled listing has not returned");
        assert!(
            matches!(&result, Err(Error::StoreUnavailable(reason)) if reason.contains("cancelled")),
            "{result:?}"
        );
        let again = store.list_cancellable("pkcs11_certificate_", &cancel);
        assert!(
            again.is_err(),
            "a cancelled Cancel stops before any request"
        );
    }

    #[test]
    fn dropping_the_store_inside_an_async_context_does_not_panic() {
        let store = AzureBlobStore::open(&emulator_settings(9, Duration::from_secs(1))).unwrap();
        let outer = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        outer.block_on(async move { drop(store) });
    }

    #[test]
    fn calls_from_inside_another_runtime_return_instead_of_panicking() {
        let store =
            Arc::new(AzureBlobStore::open(&emulator_settings(9, Duration::from_secs(1))).unwrap());
        let outer = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let inner = store.clone();
        let result = outer.block_on(async move { inner.list("pkcs11_certificate_") });
        assert!(
            matches!(&result, Err(error) if error.rv() == cryptoki_sys::CKR_DEVICE_ERROR),
            "{result:?}"
        );
    }

    #[test]
    fn description_names_the_container_and_method_but_no_sas() {
        let mut settings = emulator_settings(9, Duration::from_secs(1));
        settings.authentication = Authentication::Sas {
            token: azure_core::credentials::Secret::new("sv=1&sig=SECRET"),
        };
        let store = AzureBlobStore::open(&settings).unwrap();
        let text = store.describe();
        assert!(
            text.contains("http://127.0.0.1:9/devstoreaccount1/c"),
            "{text}"
        );
        assert!(text.contains("sas"), "{text}");
        assert!(!text.contains("SECRET"), "{text}");
        let error = store.read("x").unwrap_err().to_string();
        assert!(!error.contains("SECRET"), "{error}");
    }
}
