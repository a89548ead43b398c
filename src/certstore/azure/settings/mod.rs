//! What the Azure store needs from the configuration: the container URL,
//! how to authenticate, and the time limits. Secrets are kept in
//! [`Secret`]s and never appear in a `Debug` output or an error message.

use crate::config::{AuthMethod, Config};
use crate::error::{Error, Result};
use azure_core::credentials::Secret;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;
use url::Url;

mod connection_string;
#[cfg(test)]
mod tests;

use connection_string::connection_string_container;

/// The account name of the storage emulator (Azurite).
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";

/// The documented, public development key of the storage emulator. It is not
/// a secret: every Azurite installation accepts it.
pub const EMULATOR_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// How requests to the container are authenticated.
#[derive(Clone)]
pub enum Authentication {
    /// Entra ID token of the host's managed identity; `client_id` selects a
    /// user-assigned identity, `None` the system-assigned one.
    ManagedIdentity {
        /// `UAMI_CLIENT_ID`.
        client_id: Option<String>,
    },
    /// Entra ID token from a Kubernetes workload identity federation
    /// (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE`).
    WorkloadIdentity {
        /// `UAMI_CLIENT_ID` when set, overriding `AZURE_CLIENT_ID`.
        client_id: Option<String>,
    },
    /// Entra ID token of the user logged in with `az login`.
    AzureCli,
    /// Entra ID token of an application registration.
    ClientSecret {
        /// `AZURE_TENANT_ID`.
        tenant_id: String,
        /// `AZURE_CLIENT_ID`.
        client_id: String,
        /// `AZURE_CLIENT_SECRET`.
        secret: Secret,
    },
    /// A shared access signature, sent as the URL query.
    Sas {
        /// The query string, without a leading `?`.
        token: Secret,
    },
    /// The storage account key (SharedKey signatures).
    SharedKey {
        /// The storage account name.
        account: String,
        /// The base64 account key.
        key: Secret,
    },
}

impl Authentication {
    /// The configuration name of the method, for log lines.
    pub fn method_name(&self) -> &'static str {
        match self {
            Authentication::ManagedIdentity { .. } => "managed_identity",
            Authentication::WorkloadIdentity { .. } => "workload_identity",
            Authentication::AzureCli => "azure_cli",
            Authentication::ClientSecret { .. } => "client_secret",
            Authentication::Sas { .. } => "sas",
            Authentication::SharedKey { .. } => "connection_string",
        }
    }
}

// Written by hand so that no secret can reach a log line through `{:?}`.
impl fmt::Debug for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::ManagedIdentity { client_id }
            | Authentication::WorkloadIdentity { client_id } => f
                .debug_struct(self.method_name())
                .field("client_id", client_id)
                .finish(),
            Authentication::AzureCli => f.write_str("azure_cli"),
            Authentication::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("client_secret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("secret", &"<redacted>")
                .finish(),
            Authentication::Sas { .. } => {
                f.debug_struct("sas").field("token", &"<redacted>").finish()
            }
            Authentication::SharedKey { account, .. } => f
                .debug_struct("shared_key")
                .field("account", account)
                .field("key", &"<redacted>")
                .finish(),
        }
    }
}

/// Everything [`super::AzureBlobStore::open`] needs.
#[derive(Clone, Debug)]
pub struct AzureSettings {
    /// The container URL, without any query (the SAS, if any, is in
    /// [`Authentication::Sas`]) and without a trailing slash.
    pub container_url: Url,
    /// How requests are authenticated.
    pub authentication: Authentication,
    /// The limit of each attempt of each request (`CERTSTORAGE_TIMEOUT_SECONDS`).
    pub timeout: Duration,
    /// How many times a timed-out or 5xx request is retried (`CERTSTORAGE_RETRIES`).
    pub retries: u32,
    /// How many blobs one listing request asks for (the service caps it at 5000).
    pub page_size: u32,
    /// Trust anchors for the storage endpoint added to the system's
    /// (`CERTSTORAGE_CA_FILE`, PEM), read when the store opens.
    pub ca_file: Option<std::path::PathBuf>,
    /// Whether the store may start threads of its own. False when the
    /// application initialised the library with
    /// `CKF_LIBRARY_CANT_CREATE_OS_THREADS` (GnuTLS always does): requests
    /// then run on the calling thread.
    pub own_threads: bool,
}

impl AzureSettings {
    /// Reads the Azure settings from the configuration.
    ///
    /// `CERTSTORAGE_URL` is required for every method. With
    /// `CERTSTORAGE_AUTH=connection_string` only its last path segment (the
    /// container name) is used; the endpoint, account and key come from
    /// `CERTSTORAGE_CONNECTION_STRING`. With `sas`, the token comes from
    /// `CERTSTORAGE_SAS`, or from the URL's query when that key is absent.
    /// With `client_secret`, the credential comes from the environment
    /// variables `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET`.
    ///
    /// Errors are `Error::Configuration` naming the key at fault, never a secret.
    pub fn from_config(config: &Config) -> Result<AzureSettings> {
        let raw_url = config.certstorage_url.as_deref().ok_or_else(|| {
            config_error("CERTSTORAGE_URL is not set; it must name the blob container")
        })?;
        let mut url = Url::parse(raw_url).map_err(|e| {
            config_error(&format!(
                "CERTSTORAGE_URL '{}' is not a URL: {e}",
                without_query(raw_url)
            ))
        })?;
        let url_query = url.query().filter(|q| !q.is_empty()).map(str::to_string);
        url.set_query(None);
        url.set_fragment(None);

        let method = config.certstorage_auth;
        if url_query.is_some() && method != AuthMethod::Sas {
            return Err(config_error(&format!(
                "CERTSTORAGE_URL '{url}' carries a query string, which is only allowed with CERTSTORAGE_AUTH=sas"
            )));
        }
        let (container_url, authentication) = Authentication::of_config(config, url, url_query)?;
        check_scheme(&container_url)?;
        let container_url = trim_trailing_slash(container_url);
        container_name(&container_url)?;
        Ok(AzureSettings {
            container_url,
            authentication,
            timeout: config.certstorage_timeout,
            retries: config.certstorage_retries,
            page_size: 5000,
            ca_file: config.certstorage_ca_file.clone(),
            own_threads: true,
        })
    }
}

impl Authentication {
    /// The container URL and the authentication `CERTSTORAGE_AUTH` names:
    /// `url` (without its query, `url_query`, which may be the SAS) for every
    /// method but `connection_string`, whose endpoint and credential come
    /// from the connection string.
    fn of_config(
        config: &Config,
        url: Url,
        url_query: Option<String>,
    ) -> Result<(Url, Authentication)> {
        let client_id = config
            .uami_client_id
            .clone()
            .filter(|id| !id.trim().is_empty());
        let authentication = match config.certstorage_auth {
            AuthMethod::ManagedIdentity => Authentication::ManagedIdentity { client_id },
            AuthMethod::WorkloadIdentity => Authentication::WorkloadIdentity { client_id },
            AuthMethod::AzureCli => Authentication::AzureCli,
            AuthMethod::ClientSecret => Authentication::ClientSecret {
                tenant_id: required_env("AZURE_TENANT_ID")?,
                client_id: required_env("AZURE_CLIENT_ID")?,
                secret: Secret::new(required_env("AZURE_CLIENT_SECRET")?),
            },
            AuthMethod::Sas => {
                let token = config
                    .certstorage_sas
                    .as_ref()
                    .map(|sas| sas.expose().to_string())
                    .or(url_query)
                    .map(|t| t.trim_start_matches('?').to_string())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| config_error("CERTSTORAGE_AUTH=sas needs CERTSTORAGE_SAS"))?;
                Authentication::Sas {
                    token: Secret::new(token),
                }
            }
            AuthMethod::ConnectionString => return connection_string_container(config, &url),
        };
        Ok((url, authentication))
    }
}

/// The container name: the URL's last path segment.
pub(super) fn container_name(url: &Url) -> Result<String> {
    url.path_segments()
        .and_then(|mut segments| segments.rfind(|s| !s.is_empty()).map(str::to_string))
        .ok_or_else(|| {
            config_error(&format!(
                "CERTSTORAGE_URL '{url}' does not name a container"
            ))
        })
}

/// Plain http is accepted only when the traffic cannot leave the host.
fn check_scheme(url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(config_error(&format!(
            "CERTSTORAGE_URL '{url}' uses plain http to a host that is not the loopback; use https"
        ))),
        other => Err(config_error(&format!(
            "CERTSTORAGE_URL '{url}' has the unsupported scheme '{other}'"
        ))),
    }
}

/// Whether the URL's host is 127.0.0.0/8, ::1 or localhost.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

/// The SDK joins blob names onto the container path; a trailing slash
/// would make an empty segment and a 400 from the service.
fn trim_trailing_slash(mut url: Url) -> Url {
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty();
    }
    url
}

/// The URL text up to its query, for error messages.
pub(super) fn without_query(text: &str) -> &str {
    text.split(['?', '#']).next().unwrap_or_default()
}

fn required_env(name: &str) -> Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            config_error(&format!(
                "CERTSTORAGE_AUTH=client_secret needs the environment variable {name}"
            ))
        })
}

pub(super) fn config_error(message: &str) -> Error {
    Error::Configuration(message.to_string())
}
