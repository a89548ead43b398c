//! The HTTP side of the store's client: the `reqwest` client the SDK
//! sends through (timeouts, no redirects, the trust anchors of
//! `CERTSTORAGE_CA_FILE`, name resolution on the calling thread when the
//! library may not start threads), and where a credential gets its tokens.

use super::settings::{Authentication, AzureSettings};
use crate::error::{Error, Result};
use std::sync::Arc;

/// The HTTP client of the store: the one the SDK builds, except that with
/// [`AzureSettings::own_threads`] false host names are resolved on the
/// calling thread, since the default resolver runs each look-up on a
/// thread of a pool it starts (`CKF_LIBRARY_CANT_CREATE_OS_THREADS`).
pub(super) fn http_client(
    settings: &AzureSettings,
) -> Result<Arc<dyn azure_core::http::HttpClient>> {
    let builder = reqwest::ClientBuilder::new()
        .connect_timeout(settings.timeout)
        // Storage does not redirect; downloads are byte-exact.
        .redirect(reqwest::redirect::Policy::none())
        .gzip(false)
        .deflate(false);
    let builder = if settings.own_threads {
        builder
    } else {
        builder.dns_resolver(Arc::new(CallingThreadResolver))
    };
    let builder = match &settings.ca_file {
        Some(path) => builder.tls_certs_merge(trust_anchors(path)?),
        None => builder,
    };
    let client = builder.build().map_err(|e| Error::Setup {
        what: "the certificate storage HTTP client".to_string(),
        source: Box::new(e),
    })?;
    Ok(Arc::new(client))
}

/// Where `authentication` gets its tokens (the endpoint, not any secret),
/// for error messages; `None` for the methods without tokens.
pub(super) fn token_source(authentication: &Authentication) -> Option<String> {
    let variable = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let authority = || {
        variable("AZURE_AUTHORITY_HOST")
            .unwrap_or_else(|| "the Entra ID authority (login.microsoftonline.com)".to_string())
    };
    match authentication {
        Authentication::ManagedIdentity { .. } => Some(match variable("IDENTITY_ENDPOINT") {
            Some(endpoint) => {
                format!("the managed identity endpoint {endpoint} (IDENTITY_ENDPOINT)")
            }
            None => "the instance metadata service (169.254.169.254)".to_string(),
        }),
        Authentication::WorkloadIdentity { .. } | Authentication::ClientSecret { .. } => {
            Some(authority())
        }
        Authentication::AzureCli => Some("the Azure CLI (az account get-access-token)".to_string()),
        Authentication::Sas { .. } | Authentication::SharedKey { .. } => None,
    }
}

/// The certificates of the PEM bundle `CERTSTORAGE_CA_FILE` names: at least
/// one, or the configuration is refused.
fn trust_anchors(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>> {
    let refused = |why: String| {
        Error::Configuration(format!("CERTSTORAGE_CA_FILE {}: {why}", path.display()))
    };
    let pem = std::fs::read(path).map_err(|e| refused(e.to_string()))?;
    let certificates =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| refused(e.to_string()))?;
    if certificates.is_empty() {
        return Err(refused("holds no PEM certificate".to_string()));
    }
    Ok(certificates)
}

/// Resolves a host name with the system resolver, on the thread that
/// asks: the request already blocks that thread, and no other is started.
struct CallingThreadResolver;

impl reqwest::dns::Resolve for CallingThreadResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        use std::net::ToSocketAddrs;
        let resolved = (name.as_str(), 0)
            .to_socket_addrs()
            .map(|addresses| {
                Box::new(addresses.collect::<Vec<_>>().into_iter()) as reqwest::dns::Addrs
            })
            .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
        Box::pin(std::future::ready(resolved))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_file_must_hold_a_pem_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let message = trust_anchors(&missing).unwrap_err().to_string();
        assert!(
            message.contains("CERTSTORAGE_CA_FILE") && message.contains("missing.pem"),
            "{message}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let message = trust_anchors(&empty).unwrap_err().to_string();
        assert!(message.contains("no PEM certificate"), "{message}");

        let key = openssl::pkey::PKey::ec_gen("prime256v1").unwrap();
        let mut name = openssl::x509::X509Name::builder().unwrap();
        name.append_entry_by_text("CN", "ca").unwrap();
        let name = name.build();
        let mut builder = openssl::x509::X509::builder().unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder
            .set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        builder
            .set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        builder
            .sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        let pem = builder.build().to_pem().unwrap();
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, [pem.clone(), pem].concat()).unwrap();
        assert_eq!(trust_anchors(&bundle).unwrap().len(), 2);
    }
}
