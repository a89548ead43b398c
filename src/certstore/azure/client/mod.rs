//! The async side of the store: one request kind per [`BlobStore`]
//! operation, each wrapped in [`Retry::run`], and the one place where SDK
//! errors become [`Error`]s (with any secret removed).
//!
//! [`BlobStore`]: crate::certstore::BlobStore

use super::auth::client_authentication;
use super::http::{http_client, token_source};
use super::normalise_etag;
use super::retry::{Failure, OnUnauthorized, Retry};
use super::settings::{Authentication, AzureSettings};
use crate::certstore::{BlobEntry, Cancel, CreateOutcome, Metadata, Probe, UpdateOutcome};
use crate::error::{Error, Result};
use azure_core::error::ErrorKind;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::policies::Policy;
use azure_core::http::{
    ClientOptions, Context, Etag, Method, Pipeline, Request, RequestContent, RetryOptions,
    StatusCode, Transport, Url,
};
use azure_storage_blob::models::{
    BlobClientGetPropertiesResultHeaders, BlockBlobClientUploadOptions, ListBlobsResponse,
};
use azure_storage_blob::{BlobClient, BlobContainerClient, BlobContainerClientOptions};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The metadata key that marks which attempt wrote a blob. It is stripped
/// from listings, so the layer above never sees it.
const WRITE_ID: &str = "azcloudhsmwriteid";

/// The content type of every certificate blob (a compact JWS).
const CONTENT_TYPE: &str = "application/octet-stream";

mod failure;

/// How many failed creates [`Client::unanswered`] keeps for a later check.
const MAX_UNANSWERED: usize = 1024;

/// The clients and settings one store uses.
pub(super) struct Client {
    container: BlobContainerClient,
    /// The SDK's pager needs a stream trait this crate does not depend on,
    /// so listings are sent through a pipeline of our own (same transport,
    /// same authentication).
    list_pipeline: Pipeline,
    /// The container URL with the SAS query, if any: a secret.
    list_url: Url,
    api_version: String,
    retry: Retry,
    page_size: u32,
    /// The container URL without a query.
    container_url: String,
    method: &'static str,
    /// Redacted from every error text.
    secret_query: Option<String>,
    /// Where an Entra ID method gets its tokens, for error messages.
    token_source: Option<String>,
    /// Failed creates whose write may have reached the service unanswered
    /// and whose removal failed too (blob name, write id): one is retried
    /// after each later listing or create that reached the service, so a
    /// certificate whose create returned an error does not stay.
    unanswered: parking_lot::Mutex<Vec<(String, String)>>,
}

impl Client {
    pub(super) fn new(settings: &AzureSettings) -> Result<Client> {
        let transport = Transport::new(http_client(settings)?);
        // The credential's own requests (a token endpoint) go through the
        // same transport: the same trust anchors, resolver and timeouts.
        // Not retried there: the store's own retries bound every call.
        let credential_options = ClientOptions {
            transport: Some(transport.clone()),
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let authentication = client_authentication(
            &settings.authentication,
            &settings.container_url,
            credential_options,
        )?;
        let client_options = ClientOptions {
            retry: RetryOptions::none(),
            transport: Some(transport),
            per_try_policies: authentication.policy.clone().into_iter().collect(),
            ..Default::default()
        };
        let container_options = BlobContainerClientOptions {
            client_options: client_options.clone(),
            ..Default::default()
        };
        let api_version = container_options.version.clone();
        let container = BlobContainerClient::new(
            authentication.url.clone(),
            authentication.credential.clone(),
            Some(container_options),
        )
        .map_err(|e| Error::Setup {
            what: "the certificate storage client".to_string(),
            source: Box::new(e),
        })?;
        let mut list_policies: Vec<Arc<dyn Policy>> = Vec::new();
        if let Some(credential) = authentication.credential {
            list_policies.push(Arc::new(BearerTokenAuthorizationPolicy::new(
                credential,
                ["https://storage.azure.com/.default"],
            )));
        }
        let list_pipeline = Pipeline::new(
            Some(env!("CARGO_PKG_NAME")),
            Some(env!("CARGO_PKG_VERSION")),
            client_options,
            Vec::new(),
            list_policies,
            None,
        );
        let secret_query = match &settings.authentication {
            Authentication::Sas { token } => Some(token.secret().to_string()),
            _ => None,
        };
        Ok(Client {
            container,
            list_pipeline,
            list_url: authentication.url,
            api_version,
            retry: Retry {
                timeout: settings.timeout,
                retries: settings.retries,
                on_unauthorized:
                    authentication.renewing.map(|renewing| {
                        OnUnauthorized(
                            Arc::new(move || renewing.renew()) as Arc<dyn Fn() + Send + Sync>
                        )
                    }),
            },
            page_size: settings.page_size.clamp(1, 5000),
            container_url: settings.container_url.to_string(),
            method: settings.authentication.method_name(),
            secret_query,
            token_source: token_source(&settings.authentication),
            unanswered: parking_lot::Mutex::new(Vec::new()),
        })
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "Azure Blob Storage container {} (authentication: {})",
            self.container_url, self.method
        )
    }

    pub(super) fn worst_case(&self) -> Duration {
        // A failed create may add one cleanup attempt.
        self.retry.worst_case() + self.retry.timeout
    }

    /// Creates the container if absent: one attempt, failures logged only.
    pub(super) async fn ensure_container(&self) -> Result<()> {
        let once = Retry {
            timeout: self.retry.timeout,
            retries: 0,
            on_unauthorized: self.retry.on_unauthorized.clone(),
        };
        match once.run(|_| self.container.create(None)).await {
            Ok(_) => {
                tracing::info!(container = %self.container_url, "created the certificate container");
                Ok(())
            }
            Err(failure) if failure.status() == Some(StatusCode::Conflict) => Ok(()),
            Err(failure) => {
                let error = self.error("create container", "", failure);
                tracing::warn!(container = %self.container_url, "could not make sure the certificate container exists: {error}");
                Err(error)
            }
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<BlobEntry>> {
        self.list_starting(prefix, None, None).await
    }

    /// [`Client::list`] that `cancel` stops, between pages or during one.
    pub(super) async fn list_cancellable(
        &self,
        prefix: &str,
        cancel: &Cancel,
    ) -> Result<Vec<BlobEntry>> {
        self.list_starting(prefix, None, Some(cancel)).await
    }

    /// The blobs of `prefix` from the name `start` on (`startFrom`, from
    /// service version 2026-02-06: inclusive, and composing with the
    /// marker of later pages). Names before `start` are left out here as
    /// well, so a service that ignored the parameter still gives the
    /// right answer, only slower.
    pub(super) async fn list_from(&self, prefix: &str, start: &str) -> Result<Vec<BlobEntry>> {
        self.list_starting(prefix, Some(start), None).await
    }

    async fn list_starting(
        &self,
        prefix: &str,
        start: Option<&str>,
        cancel: Option<&Cancel>,
    ) -> Result<Vec<BlobEntry>> {
        let mut entries = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let request = self
                .retry
                .run(|_| self.list_page(prefix, start, marker.as_deref()));
            let answer = match cancel {
                Some(cancel) => cancel
                    .unless_cancelled(request)
                    .await
                    .ok_or_else(Cancel::error)?,
                None => request.await,
            };
            let page = answer.map_err(|failure| self.error("list", prefix, failure))?;
            for item in page.blob_items {
                let Some(name) = item.name else { continue };
                if start.is_some_and(|start| name.as_str() < start) {
                    continue;
                }
                let version = item
                    .properties
                    .and_then(|p| p.etag)
                    .map(|e| normalise_etag(e.as_ref()))
                    .unwrap_or_default();
                let metadata = item.metadata.and_then(|m| m.values).unwrap_or_default();
                entries.push(BlobEntry {
                    name,
                    version,
                    metadata: Some(public_metadata(metadata)),
                });
            }
            match page.next_marker.filter(|m| !m.is_empty()) {
                Some(next) => marker = Some(next),
                None => {
                    self.retry_one_unanswered_write().await;
                    return Ok(entries);
                }
            }
        }
    }

    async fn list_page(
        &self,
        prefix: &str,
        start: Option<&str>,
        marker: Option<&str>,
    ) -> azure_core::Result<ListBlobsResponse> {
        let mut url = self.list_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("restype", "container")
                .append_pair("comp", "list")
                .append_pair("include", "metadata")
                .append_pair("maxresults", &self.page_size.to_string());
            if !prefix.is_empty() {
                query.append_pair("prefix", prefix);
            }
            if let Some(start) = start {
                query.append_pair("startFrom", start);
            }
            if let Some(marker) = marker {
                query.append_pair("marker", marker);
            }
        }
        let mut request = Request::new(url, Method::Get);
        request.insert_header("accept", "application/xml");
        request.insert_header("x-ms-version", self.api_version.clone());
        let response = self
            .list_pipeline
            .send(&Context::new(), &mut request, None)
            .await?;
        azure_core::xml::from_xml(response.into_body())
    }

    /// The version of `name` now, from its properties (no body).
    pub(super) async fn probe(&self, name: &str) -> Result<Probe> {
        let blob = self.container.blob_client(name);
        let result = self
            .retry
            .run(|_| async {
                match blob.get_properties(None).await {
                    Ok(properties) => Ok(Some(etag_of(properties.etag()?)?)),
                    Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await;
        match result {
            Ok(Some(etag)) => Ok(Probe::Version(etag)),
            Ok(None) => Ok(Probe::Gone),
            Err(failure) => Err(self.error("probe", name, failure)),
        }
    }

    pub(super) async fn read(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let blob = self.container.blob_client(name);
        let result = self
            .retry
            .run(|_| async {
                let download = blob.download(None).await?;
                let etag = download
                    .properties
                    .etag
                    .as_ref()
                    .map(|e| normalise_etag(e.as_ref()));
                let body = download.body.collect().await?;
                Ok((body.to_vec(), etag))
            })
            .await;
        match result {
            Ok((body, Some(etag))) => Ok(Some((body, etag))),
            Ok((_, None)) => Err(self.request_error("read", name, None, "the answer had no ETag")),
            Err(failure) if failure.status() == Some(StatusCode::NotFound) => Ok(None),
            Err(failure) => Err(self.error("read", name, failure)),
        }
    }

    /// The content of `name` when it is at most `limit` bytes; `None`
    /// when absent, larger (not downloaded) or unreadable (logged at debug
    /// level: it is a cache).
    pub(super) async fn read_small(&self, name: &str, limit: u64) -> Option<Vec<u8>> {
        let blob = self.container.blob_client(name);
        let result = self
            .retry
            .run(|_| async {
                let download = blob.download(None).await?;
                if download
                    .properties
                    .content_length
                    .is_some_and(|n| n > limit)
                {
                    return Ok(None);
                }
                let body = download.body.collect().await?;
                Ok((body.len() as u64 <= limit).then(|| body.to_vec()))
            })
            .await;
        match result {
            Ok(content) => content,
            Err(failure) if failure.status() == Some(StatusCode::NotFound) => None,
            Err(failure) => {
                tracing::debug!(blob = %name, "not read: {}", self.error("read", name, failure));
                None
            }
        }
    }

    /// Replaces `name` with `content`, unconditionally (the index cache).
    pub(super) async fn put(&self, name: &str, content: Vec<u8>) -> Result<()> {
        let blob = self.container.blob_client(name);
        let write_id = azure_core::Uuid::new_v4().to_string();
        let options = upload_options(&Metadata::new(), &write_id);
        let refused = |_, e: azure_core::Error| async move { Err(e) };
        self.upload(&blob, &content, &options, |_| (), refused)
            .await
            .map_err(|failure| self.error("write", name, failure))
    }

    pub(super) async fn create(
        &self,
        name: &str,
        content: Vec<u8>,
        metadata: &Metadata,
    ) -> Result<CreateOutcome> {
        let blob = self.container.blob_client(name);
        let write_id = azure_core::Uuid::new_v4().to_string();
        let options = upload_options(metadata, &write_id).if_not_exists();
        let (blob_ref, id) = (&blob, write_id.as_str());
        // Refused: either another writer holds the name, or an earlier
        // attempt of ours succeeded unanswered.
        let refused = move |attempt, e: azure_core::Error| async move {
            if e.http_status() != Some(StatusCode::Conflict) {
                return Err(e);
            }
            Ok(match attempt {
                0 => CreateOutcome::AlreadyExists,
                _ => written_by(blob_ref, id)
                    .await?
                    .map_or(CreateOutcome::AlreadyExists, CreateOutcome::Created),
            })
        };
        let stored = CreateOutcome::Created;
        let result = self
            .upload(&blob, &content, &options, stored, refused)
            .await;
        match result {
            Ok(outcome) => {
                self.retry_one_unanswered_write().await;
                Ok(outcome)
            }
            Err(failure) => {
                let final_error = failure
                    .status()
                    .is_some_and(|s| !super::retry::is_transient_status(s));
                if !final_error && !self.remove_unanswered_write(&blob, &write_id).await {
                    let mut unanswered = self.unanswered.lock();
                    if unanswered.len() == MAX_UNANSWERED {
                        let (forgotten, _) = unanswered.remove(0);
                        tracing::warn!(container = %self.container_url, "too many failed creates to check later: {forgotten} is not checked for a write that may have reached the service");
                    }
                    unanswered.push((name.to_string(), write_id));
                }
                Err(self.error("create", name, failure))
            }
        }
    }

    /// One attempt at removing the oldest write [`Client::unanswered`]
    /// holds; kept for later if the service did not answer. At most one per
    /// call, so a call's worst case grows by one attempt only.
    async fn retry_one_unanswered_write(&self) {
        let Some((name, write_id)) = ({
            let mut unanswered = self.unanswered.lock();
            (!unanswered.is_empty()).then(|| unanswered.remove(0))
        }) else {
            return;
        };
        let blob = self.container.blob_client(&name);
        if self.remove_unanswered_write(&blob, &write_id).await {
            tracing::info!(container = %self.container_url, "checked {name} for a write whose create had failed unanswered");
        } else {
            self.unanswered.lock().push((name, write_id));
        }
    }

    /// After a create that finally failed, an attempt whose answer was lost
    /// may still have written the blob: remove it if it carries our write id
    /// (and still has the content that write gave it). True once the
    /// service answered: the blob is gone, or is not ours.
    async fn remove_unanswered_write(&self, blob: &BlobClient, write_id: &str) -> bool {
        let once = Retry {
            timeout: self.retry.timeout,
            retries: 0,
            on_unauthorized: self.retry.on_unauthorized.clone(),
        };
        let cleanup = once
            .run(|_| async {
                if let Some(etag) = written_by(blob, write_id).await? {
                    let options = azure_storage_blob::models::BlobClientDeleteOptions {
                        if_match: Some(Etag::from(format!("\"{etag}\""))),
                        ..Default::default()
                    };
                    blob.delete(Some(options)).await?;
                }
                Ok(())
            })
            .await;
        if cleanup.is_err() {
            tracing::debug!("could not check for a blob left by an unanswered create attempt");
        }
        cleanup.is_ok()
    }

    pub(super) async fn update(
        &self,
        name: &str,
        content: Vec<u8>,
        metadata: &Metadata,
        expected_version: &str,
    ) -> Result<UpdateOutcome> {
        let blob = self.container.blob_client(name);
        let write_id = azure_core::Uuid::new_v4().to_string();
        let mut options = upload_options(metadata, &write_id);
        options.if_match = Some(Etag::from(format!(
            "\"{}\"",
            normalise_etag(expected_version)
        )));
        let (blob_ref, id) = (&blob, write_id.as_str());
        let refused = move |attempt, e: azure_core::Error| async move {
            match e.http_status() {
                Some(StatusCode::NotFound) => Ok(UpdateOutcome::NotFound),
                // The service answers 412, not 404, when the blob is gone,
                // and an earlier unanswered attempt of ours may have won.
                Some(StatusCode::PreconditionFailed) => {
                    Ok(match current_writer(blob_ref).await? {
                        None => UpdateOutcome::NotFound,
                        Some((etag, writer)) if attempt > 0 && writer.as_deref() == Some(id) => {
                            UpdateOutcome::Updated(etag)
                        }
                        Some(_) => UpdateOutcome::Conflict,
                    })
                }
                _ => Err(e),
            }
        };
        let stored = UpdateOutcome::Updated;
        let result = self
            .upload(&blob, &content, &options, stored, refused)
            .await;
        result.map_err(|failure| self.error("update", name, failure))
    }

    /// Uploads `content` with `options`, retried: `stored` of the new
    /// ETag when the service takes it, else what `refused` makes of the
    /// attempt's number and the refusal (an error to retry or report, or
    /// an outcome).
    async fn upload<T, R, Fut>(
        &self,
        blob: &BlobClient,
        content: &[u8],
        options: &BlockBlobClientUploadOptions<'static>,
        stored: fn(String) -> T,
        refused: R,
    ) -> std::result::Result<T, Failure>
    where
        R: Fn(u32, azure_core::Error) -> Fut,
        Fut: Future<Output = azure_core::Result<T>>,
    {
        self.retry
            .run(|attempt| {
                let (options, content, refused) = (options.clone(), content.to_vec(), &refused);
                async move {
                    match blob
                        .upload(RequestContent::from(content), Some(options))
                        .await
                    {
                        Ok(response) => Ok(stored(etag_of(response.etag)?)),
                        Err(error) => refused(attempt, error).await,
                    }
                }
            })
            .await
    }

    pub(super) async fn delete(&self, name: &str) -> Result<()> {
        let blob = self.container.blob_client(name);
        match self.retry.run(|_| blob.delete(None)).await {
            Ok(_) => Ok(()),
            // Already gone, possibly by an earlier attempt whose answer was lost.
            Err(failure) if failure.status() == Some(StatusCode::NotFound) => Ok(()),
            Err(failure) => Err(self.error("delete", name, failure)),
        }
    }
}

fn upload_options(metadata: &Metadata, write_id: &str) -> BlockBlobClientUploadOptions<'static> {
    let mut all: HashMap<String, String> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    all.insert(WRITE_ID.to_string(), write_id.to_string());
    BlockBlobClientUploadOptions {
        blob_content_type: Some(CONTENT_TYPE.to_string()),
        metadata: Some(all),
        ..Default::default()
    }
}

/// The blob's ETag if its last writer used `write_id`, else `None`.
async fn written_by(blob: &BlobClient, write_id: &str) -> azure_core::Result<Option<String>> {
    Ok(current_writer(blob)
        .await?
        .and_then(|(etag, writer)| (writer.as_deref() == Some(write_id)).then_some(etag)))
}

/// The blob's ETag and write id, or `None` when it does not exist.
async fn current_writer(blob: &BlobClient) -> azure_core::Result<Option<(String, Option<String>)>> {
    let properties = match blob.get_properties(None).await {
        Ok(properties) => properties,
        Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    let writer = properties
        .metadata()?
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(WRITE_ID))
        .map(|(_, v)| v);
    let etag = etag_of(properties.etag()?)?;
    Ok(Some((etag, writer)))
}

fn etag_of(etag: Option<Etag>) -> azure_core::Result<String> {
    etag.map(|e| normalise_etag(e.as_ref())).ok_or_else(|| {
        azure_core::Error::with_message(ErrorKind::DataConversion, "the answer had no ETag")
    })
}

/// The metadata as the caller wrote it: without our write id.
fn public_metadata(metadata: HashMap<String, String>) -> BTreeMap<String, String> {
    metadata
        .into_iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case(WRITE_ID))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_id_is_hidden_from_listed_metadata() {
        let metadata = HashMap::from([
            ("label".to_string(), "a".to_string()),
            ("AzCloudHsmWriteId".to_string(), "x".to_string()),
        ]);
        assert_eq!(
            public_metadata(metadata),
            BTreeMap::from([("label".to_string(), "a".to_string())])
        );
    }
}
