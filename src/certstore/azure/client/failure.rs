//! The one place where a final failure of a request becomes an
//! [`Error`], with every secret (a SAS, a signature) taken out of its text.

use super::super::retry::Failure;
use super::Client;
use crate::error::Error;
use azure_core::error::ErrorKind;

impl Client {
    /// The one conversion from a final failure to an [`Error`].
    pub(super) fn error(&self, operation: &'static str, name: &str, failure: Failure) -> Error {
        let attempts = self.retry.retries + 1;
        let detail = match &failure {
            Failure::TimedOut(limit) => {
                format!("no answer within {limit:?} (attempt {attempts} of {attempts})")
            }
            Failure::Service(error) => match error.kind() {
                ErrorKind::HttpResponse {
                    status, error_code, ..
                } => {
                    format!(
                        "HTTP {} {}",
                        u16::from(*status),
                        error_code.as_deref().unwrap_or("")
                    )
                }
                ErrorKind::Credential => format!(
                    "no token from {}: {}",
                    self.token_source.as_deref().unwrap_or("the credential"),
                    self.redact(&error_chain(error))
                ),
                _ => self.redact(&error_chain(error)),
            },
        };
        let status = failure.status().map(u16::from);
        if matches!(status, Some(401) | Some(403)) {
            tracing::error!(
                container = %self.container_url,
                authentication = self.method,
                "certificate storage refused the credential ({detail}); check CERTSTORAGE_AUTH and the identity's role on the container"
            );
        }
        self.request_error(operation, name, status, detail)
    }

    /// [`Error::StoreRequest`] for `operation` on blob `name` (empty for a
    /// listing) of this container.
    pub(super) fn request_error(
        &self,
        operation: &'static str,
        name: &str,
        status: Option<u16>,
        detail: impl Into<String>,
    ) -> Error {
        Error::StoreRequest {
            operation,
            blob: name.to_string(),
            container: self.container_url.to_string(),
            authentication: self.method,
            status,
            detail: detail.into(),
        }
    }

    /// `text` without the SAS, should a transport error quote a URL.
    fn redact(&self, text: &str) -> String {
        let text = match &self.secret_query {
            Some(secret) if !secret.is_empty() => text.replace(secret.as_str(), "<redacted>"),
            _ => text.to_string(),
        };
        redact_signatures(&text)
    }
}

/// An error and its causes, `: `-separated, without repeats (the SDK's
/// messages often quote their cause).
fn error_chain(error: &azure_core::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Replaces the value of every `sig=` parameter, wherever it appears.
fn redact_signatures(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.find("sig=") {
        out.push_str(&rest[..position + 4]);
        out.push_str("<redacted>");
        let tail = &rest[position + 4..];
        let end = tail.find(['&', ')', ' ', '"']).unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_redacted_from_error_text() {
        let text = "error sending request for url (http://h/c/b?sv=2024&sig=abc%2Fdef&se=1)";
        let redacted = redact_signatures(text);
        assert_eq!(
            redacted,
            "error sending request for url (http://h/c/b?sv=2024&sig=<redacted>&se=1)"
        );
    }
}
