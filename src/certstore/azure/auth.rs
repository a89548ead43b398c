//! Turns an [`Authentication`] into what the SDK's clients take: a token
//! credential, a signing policy, or a URL query.
//!
//! `azure_identity` 1.x has no chained default credential, so each method
//! names its credential type explicitly.

use super::renewing::RenewingCredential;
use super::settings::Authentication;
use super::shared_key::SharedKeyPolicy;
use crate::error::{Error, Result};
use azure_core::credentials::TokenCredential;
use azure_core::http::policies::Policy;
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use std::sync::Arc;
use url::Url;

/// The authentication parts of a client.
pub struct ClientAuthentication {
    /// An Entra ID credential (bearer tokens); needs https.
    pub credential: Option<Arc<dyn TokenCredential>>,
    /// The same credential, to be told when the service refused its token.
    pub renewing: Option<Arc<RenewingCredential>>,
    /// A policy to put among the per-try policies.
    pub policy: Option<Arc<dyn Policy>>,
    /// The container URL to use, with the SAS query when there is one.
    /// It holds a secret: never log it.
    pub url: Url,
}

/// Builds the credential, policy and URL for `authentication` and the
/// container URL (which has no query).
pub fn client_authentication(
    authentication: &Authentication,
    container_url: &Url,
    client_options: ClientOptions,
) -> Result<ClientAuthentication> {
    let mut url = container_url.clone();
    let mut policy: Option<Arc<dyn Policy>> = None;
    match authentication {
        Authentication::Sas { token } => url.set_query(Some(token.secret())),
        Authentication::SharedKey { account, key } => {
            policy = Some(Arc::new(SharedKeyPolicy::new(account.clone(), key.clone())));
        }
        _ => {}
    }
    let renewing = match authentication {
        Authentication::Sas { .. } | Authentication::SharedKey { .. } => None,
        _ => {
            let (method, options) = (authentication.clone(), client_options);
            let renewing =
                RenewingCredential::new(Box::new(move || entra_credential(&method, &options)))
                    .map_err(|error| Error::Setup {
                        what: format!("{} authentication", authentication.method_name()),
                        source: Box::new(error),
                    })?;
            Some(renewing)
        }
    };
    let credential = renewing
        .clone()
        .map(|renewing| renewing as Arc<dyn TokenCredential>);
    if credential.is_some() && url.scheme() != "https" {
        // The SDK refuses to send a bearer token in clear; say why in our terms.
        return Err(Error::Configuration(format!(
            "{} authentication needs an https CERTSTORAGE_URL, not {container_url}",
            authentication.method_name()
        )));
    }
    Ok(ClientAuthentication {
        credential,
        renewing,
        policy,
        url,
    })
}

/// A new SDK credential for an Entra ID method (a new, empty token cache).
fn entra_credential(
    authentication: &Authentication,
    client_options: &ClientOptions,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let client_options = client_options.clone();
    Ok(match authentication {
        Authentication::ManagedIdentity { client_id } => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            }))?
        }
        Authentication::WorkloadIdentity { client_id } => {
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                client_id: client_id.clone(),
                credential_options: ClientAssertionCredentialOptions { client_options },
                ..Default::default()
            }))?
        }
        Authentication::AzureCli => AzureCliCredential::new(None)?,
        Authentication::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => ClientSecretCredential::new(
            tenant_id,
            client_id.clone(),
            secret.clone(),
            Some(ClientSecretCredentialOptions { client_options }),
        )?,
        Authentication::Sas { .. } | Authentication::SharedKey { .. } => {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "this method has no token credential",
            ))
        }
    })
}
