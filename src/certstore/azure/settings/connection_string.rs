//! `CERTSTORAGE_AUTH=connection_string`: the container under a storage
//! connection string's blob endpoint, with the string's credential.

use super::{
    config_error, container_name, without_query, Authentication, EMULATOR_ACCOUNT,
    EMULATOR_ACCOUNT_KEY,
};
use crate::config::{Config, SecretSetting};
use crate::error::Result;
use azure_core::credentials::Secret;
use url::Url;

/// With `CERTSTORAGE_AUTH=connection_string`: the container (the last
/// segment of `url`) under the connection string's blob endpoint, and the
/// string's credential.
pub(super) fn connection_string_container(
    config: &Config,
    url: &Url,
) -> Result<(Url, Authentication)> {
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
