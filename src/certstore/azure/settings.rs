//! What the Azure store needs from the configuration: the container URL,
//! how to authenticate, and the time limits. Secrets are kept in
//! [`Secret`]s and never appear in a `Debug` output or an error message.

use crate::config::{AuthMethod, Config, SecretSetting};
use crate::error::{Error, Result};
use azure_core::credentials::Secret;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;
use url::Url;

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

/// With `CERTSTORAGE_AUTH=connection_string`: the container (the last
/// segment of `url`) under the connection string's blob endpoint, and the
/// string's credential.
fn connection_string_container(config: &Config, url: &Url) -> Result<(Url, Authentication)> {
    let text = config
        .certstorage_connection_string
        .as_ref()
        .map(SecretSetting::expose)
        .ok_or_else(|| {
            config_error("CERTSTORAGE_AUTH=connection_string needs CERTSTORAGE_CONNECTION_STRING")
        })?;
    let container = container_name(url)?;
    let parsed = ConnectionString::parse(text)?;
    let mut container_url = parsed.blob_endpoint.clone();
    container_url
        .path_segments_mut()
        .map_err(|_| config_error("the connection string's blob endpoint cannot hold a path"))?
        .pop_if_empty()
        .push(&container);
    Ok((container_url, parsed.authentication))
}

/// The parts of a storage connection string the store uses.
struct ConnectionString {
    blob_endpoint: Url,
    authentication: Authentication,
}

/// The `Key=Value` parts of a connection string the store reads, as given.
#[derive(Default)]
struct Parts {
    protocol: Option<String>,
    account: Option<String>,
    key: Option<String>,
    sas: Option<String>,
    endpoint: Option<String>,
    suffix: Option<String>,
    development: bool,
}

impl Parts {
    /// Splits `Key=Value;Key=Value` as the storage tools write it. Keys are
    /// case-insensitive; values may contain `=` (base64 keys, SAS tokens).
    fn read(text: &str) -> Result<Parts> {
        let mut parts = Parts::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(config_error(
                    "CERTSTORAGE_CONNECTION_STRING has a part without '='",
                ));
            };
            let value = value.trim().to_string();
            match name.trim().to_ascii_lowercase().as_str() {
                "defaultendpointsprotocol" => parts.protocol = Some(value),
                "accountname" => parts.account = Some(value),
                "accountkey" => parts.key = Some(value),
                "sharedaccesssignature" => parts.sas = Some(value),
                "blobendpoint" => parts.endpoint = Some(value),
                "endpointsuffix" => parts.suffix = Some(value),
                "usedevelopmentstorage" => parts.development = value.eq_ignore_ascii_case("true"),
                // Endpoints of the other services do not concern a blob store.
                _ => {}
            }
        }
        if parts.development {
            parts
                .account
                .get_or_insert_with(|| EMULATOR_ACCOUNT.to_string());
            parts
                .key
                .get_or_insert_with(|| EMULATOR_ACCOUNT_KEY.to_string());
            parts
                .endpoint
                .get_or_insert_with(|| format!("http://127.0.0.1:10000/{EMULATOR_ACCOUNT}"));
        }
        Ok(parts)
    }

    /// The blob endpoint: `BlobEndpoint`, or the one `AccountName`,
    /// `DefaultEndpointsProtocol` and `EndpointSuffix` make; no query.
    fn blob_endpoint(&self) -> Result<Url> {
        let endpoint = match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => {
                let account = self.account.as_deref().ok_or_else(|| {
                    config_error(
                        "CERTSTORAGE_CONNECTION_STRING has neither BlobEndpoint nor AccountName",
                    )
                })?;
                let protocol = self.protocol.as_deref().unwrap_or("https");
                let suffix = self.suffix.as_deref().unwrap_or("core.windows.net");
                format!("{protocol}://{account}.blob.{suffix}")
            }
        };
        let mut blob_endpoint = Url::parse(&endpoint).map_err(|e| {
            config_error(&format!(
                "the connection string's BlobEndpoint '{}' is not a URL: {e}",
                without_query(&endpoint)
            ))
        })?;
        blob_endpoint.set_query(None);
        Ok(blob_endpoint)
    }

    /// The account key (with the account, from `AccountName` or the
    /// endpoint), else the SAS token.
    fn authentication(self, blob_endpoint: &Url) -> Result<Authentication> {
        match (self.key, self.sas) {
            (Some(key), _) => {
                let account = self
                    .account
                    .or_else(|| account_from_endpoint(blob_endpoint))
                    .ok_or_else(|| {
                        config_error(
                            "CERTSTORAGE_CONNECTION_STRING has AccountKey but no AccountName",
                        )
                    })?;
                if azure_core::base64::decode(&key)
                    .map(|k| k.is_empty())
                    .unwrap_or(true)
                {
                    return Err(config_error(
                        "the AccountKey of CERTSTORAGE_CONNECTION_STRING is not base64",
                    ));
                }
                Ok(Authentication::SharedKey {
                    account,
                    key: Secret::new(key),
                })
            }
            (None, Some(sas)) => Ok(Authentication::Sas {
                token: Secret::new(sas.trim_start_matches('?').to_string()),
            }),
            (None, None) => Err(config_error(
                "CERTSTORAGE_CONNECTION_STRING has neither AccountKey nor SharedAccessSignature",
            )),
        }
    }
}

impl ConnectionString {
    /// Parses `Key=Value;Key=Value` as the storage tools write it.
    fn parse(text: &str) -> Result<ConnectionString> {
        let parts = Parts::read(text)?;
        let blob_endpoint = parts.blob_endpoint()?;
        let authentication = parts.authentication(&blob_endpoint)?;
        Ok(ConnectionString {
            blob_endpoint,
            authentication,
        })
    }
}

/// `acct` of `https://acct.blob.core.windows.net`, for connection strings
/// that give only the endpoint and the key.
fn account_from_endpoint(endpoint: &Url) -> Option<String> {
    let host = endpoint.host_str()?;
    let (account, rest) = host.split_once('.')?;
    rest.starts_with("blob.").then(|| account.to_string())
}

/// The container name: the URL's last path segment.
fn container_name(url: &Url) -> Result<String> {
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
fn without_query(text: &str) -> &str {
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

fn config_error(message: &str) -> Error {
    Error::Configuration(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn settings(lines: &str) -> Result<AzureSettings> {
        let config = Config::parse(lines, Path::new("/test/azcloudhsm_application.cfg"))
            .expect("valid config");
        AzureSettings::from_config(&config)
    }

    fn message(result: Result<AzureSettings>) -> String {
        result.expect_err("expected an error").to_string()
    }

    #[test]
    fn https_container_url_defaults_to_system_assigned_managed_identity() {
        let s =
            settings("CERTSTORAGE_URL=https://acct.blob.core.windows.net/certificates/\n").unwrap();
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
        let s = settings("CERTSTORAGE_URL=https://a.blob.core.windows.net/c\nUAMI_CLIENT_ID=\n")
            .unwrap();
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
        assert!(settings(
            "CERTSTORAGE_URL=https://a.blob.core.windows.net/c\nCERTSTORAGE_AUTH=sas\n"
        )
        .is_err());
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
}
