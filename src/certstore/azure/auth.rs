//! Turns an [`Authentication`] into what the SDK's clients take: a token
//! credential, a signing policy, or a URL query.
//!
//! `azure_identity` 1.x has no chained default credential, so each method
//! names its credential type explicitly.

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
    let mut credential: Option<Arc<dyn TokenCredential>> = None;
    let mut policy: Option<Arc<dyn Policy>> = None;
    let failed = |error: azure_core::Error| {
        Error::GeneralError(format!(
            "certificate storage: cannot set up {} authentication: {error}",
            authentication.method_name()
        ))
    };
    match authentication {
        Authentication::ManagedIdentity { client_id } => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            };
            credential = Some(ManagedIdentityCredential::new(Some(options)).map_err(failed)?);
        }
        Authentication::WorkloadIdentity { client_id } => {
            let options = WorkloadIdentityCredentialOptions {
                client_id: client_id.clone(),
                credential_options: ClientAssertionCredentialOptions { client_options },
                ..Default::default()
            };
            credential = Some(WorkloadIdentityCredential::new(Some(options)).map_err(failed)?);
        }
        Authentication::AzureCli => {
            credential = Some(AzureCliCredential::new(None).map_err(failed)?)
        }
        Authentication::ClientSecret {
            tenant_id,
            client_id,
            secret,
        } => {
            credential = Some(
                ClientSecretCredential::new(
                    tenant_id,
                    client_id.clone(),
                    secret.clone(),
                    Some(ClientSecretCredentialOptions { client_options }),
                )
                .map_err(failed)?,
            );
        }
        Authentication::Sas { token } => url.set_query(Some(token.secret())),
        Authentication::SharedKey { account, key } => {
            policy = Some(Arc::new(SharedKeyPolicy::new(account.clone(), key.clone())));
        }
    }
    if credential.is_some() && url.scheme() != "https" {
        // The SDK refuses to send a bearer token in clear; say why in our terms.
        return Err(Error::GeneralError(format!(
            "certificate storage: {} authentication needs an https CERTSTORAGE_URL, not {container_url}",
            authentication.method_name()
        )));
    }
    Ok(ClientAuthentication {
        credential,
        policy,
        url,
    })
}
