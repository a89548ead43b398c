//! SharedKey authentication (the storage account key), which the official
//! SDK leaves out by design: a pipeline policy that dates each attempt with
//! `x-ms-date` and signs it as the Blob service documents ("Authorize with
//! Shared Key", the 2009-09-19-and-later string-to-sign).
//!
//! It is placed among the per-try policies, after the retry policy, so a
//! retried attempt gets a fresh date and signature.

use azure_core::credentials::Secret;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request, Url};
use std::sync::Arc;

/// Signs every request with `Authorization: SharedKey <account>:<signature>`.
#[derive(Clone)]
pub struct SharedKeyPolicy {
    account: String,
    key: Secret,
}

// By hand, so the key can never be printed.
impl std::fmt::Debug for SharedKeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeyPolicy")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl SharedKeyPolicy {
    /// A policy for `account` with its base64 account `key`.
    pub fn new(account: impl Into<String>, key: Secret) -> Self {
        SharedKeyPolicy {
            account: account.into(),
            key,
        }
    }

    /// Sets `x-ms-date` to now and the `Authorization` header of `request`.
    pub fn sign(&self, request: &mut Request) -> azure_core::Result<()> {
        let now = azure_core::time::OffsetDateTime::now_utc();
        request.insert_header("x-ms-date", azure_core::time::to_rfc7231(&now));
        let text = string_to_sign(request, &self.account);
        let signature = azure_core::hmac::hmac_sha256(&text, &self.key)?;
        request.insert_header(
            "authorization",
            format!("SharedKey {}:{signature}", self.account),
        );
        Ok(())
    }
}

/// The documented string-to-sign of `request` for `account`.
pub fn string_to_sign(request: &Request, account: &str) -> String {
    let header = |name: &str| -> String {
        request
            .headers()
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str().to_string())
            .unwrap_or_default()
    };
    // Since version 2015-02-21 a zero length is signed as an empty line; the
    // transport sends the body's length, so that is what is signed.
    let content_length = match request.body().len() {
        Some(0) | None => {
            let declared = header("content-length");
            if declared == "0" {
                String::new()
            } else {
                declared
            }
        }
        Some(length) => length.to_string(),
    };
    let mut text = String::with_capacity(256);
    for line in [
        request.method().as_ref().to_ascii_uppercase(),
        header("content-encoding"),
        header("content-language"),
        content_length,
        header("content-md5"),
        header("content-type"),
        // Empty because x-ms-date is always set and takes precedence.
        String::new(),
        header("if-modified-since"),
        header("if-match"),
        header("if-none-match"),
        header("if-unmodified-since"),
        header("range"),
    ] {
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(&canonicalized_headers(request));
    text.push_str(&canonicalized_resource(request.url(), account));
    text
}

/// The `x-ms-*` headers, lowercase, sorted by name, one `name:value\n` each.
fn canonicalized_headers(request: &Request) -> String {
    let mut headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.as_str().trim().to_string(),
            )
        })
        .filter(|(name, _)| name.starts_with("x-ms-"))
        .collect();
    headers.sort();
    headers
        .into_iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect()
}

/// `/<account><encoded path>` then, per query parameter sorted by its
/// lowercase name, `\n<name>:<decoded values sorted, comma-separated>`.
fn canonicalized_resource(url: &Url, account: &str) -> String {
    let mut resource = format!("/{account}{}", url.path());
    let mut parameters: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in url.query_pairs() {
        let name = name.to_ascii_lowercase();
        match parameters.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value.into_owned()),
            None => parameters.push((name, vec![value.into_owned()])),
        }
    }
    parameters.sort();
    for (name, mut values) in parameters {
        values.sort();
        resource.push_str(&format!("\n{name}:{}", values.join(",")));
    }
    resource
}

/// Signing is synchronous: the request is signed, then handed to the next
/// policy.
#[async_trait::async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        self.sign(request)?;
        match next.split_first() {
            Some((first, rest)) => first.send(ctx, request, rest).await,
            None => Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                "the SharedKey policy must not be the last in the pipeline",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::Method;
    use openssl::{hash::MessageDigest, pkey::PKey, sign::Signer};

    const KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// An independent HMAC-SHA256, so the test does not check the code with itself.
    fn openssl_signature(text: &str, base64_key: &str) -> String {
        let key = openssl::base64::decode_block(base64_key).unwrap();
        let pkey = PKey::hmac(&key).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
        signer.update(text.as_bytes()).unwrap();
        openssl::base64::encode_block(&signer.sign_to_vec().unwrap())
    }

    fn upload_request() -> Request {
        let url = Url::parse("http://127.0.0.1:10000/devstoreaccount1/certs/pkcs11_certificate_4293918720?timeout=30")
            .unwrap();
        let mut request = Request::new(url, Method::Put);
        request.insert_header("content-type", "application/octet-stream");
        request.insert_header("if-none-match", "*");
        request.insert_header("x-ms-version", "2026-04-06");
        request.insert_header("x-ms-blob-type", "BlockBlob");
        request.insert_header("x-ms-meta-label", " Alice ");
        request.insert_header("x-ms-date", "Mon, 01 Jan 2024 00:00:00 GMT");
        request.set_body(b"hello".to_vec());
        request
    }

    #[test]
    fn string_to_sign_follows_the_documented_layout() {
        let expected = "PUT\n\n\n5\n\napplication/octet-stream\n\n\n\n*\n\n\n\
                        x-ms-blob-type:BlockBlob\nx-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n\
                        x-ms-meta-label:Alice\nx-ms-version:2026-04-06\n\
                        /devstoreaccount1/devstoreaccount1/certs/pkcs11_certificate_4293918720\ntimeout:30";
        assert_eq!(
            string_to_sign(&upload_request(), "devstoreaccount1"),
            expected
        );
    }

    #[test]
    fn query_parameters_are_sorted_lowercased_decoded_and_grouped() {
        let url = Url::parse("https://acct.blob.core.windows.net/c?restype=container&comp=list&Prefix=a%20b&include=metadata&include=tags")
            .unwrap();
        let request = Request::new(url, Method::Get);
        let text = string_to_sign(&request, "acct");
        assert_eq!(text, "GET\n\n\n\n\n\n\n\n\n\n\n\n/acct/c\ncomp:list\ninclude:metadata,tags\nprefix:a b\nrestype:container");
    }

    #[test]
    fn zero_length_is_signed_as_an_empty_line() {
        let url = Url::parse("https://acct.blob.core.windows.net/c?restype=container").unwrap();
        let mut request = Request::new(url, Method::Put);
        request.insert_header("content-length", "0");
        assert!(string_to_sign(&request, "acct").starts_with("PUT\n\n\n\n"));
    }

    #[test]
    fn signature_matches_an_independent_hmac_of_the_string_to_sign() {
        let policy = SharedKeyPolicy::new("devstoreaccount1", Secret::new(KEY));
        let mut request = upload_request();
        policy.sign(&mut request).unwrap();
        let signed = string_to_sign(&request, "devstoreaccount1");
        let authorization = request
            .headers()
            .iter()
            .find(|(n, _)| n.as_str() == "authorization")
            .map(|(_, v)| v.as_str().to_string())
            .unwrap();
        assert_eq!(
            authorization,
            format!(
                "SharedKey devstoreaccount1:{}",
                openssl_signature(&signed, KEY)
            )
        );
    }

    fn list_request() -> Request {
        let url =
            Url::parse("http://127.0.0.1:10000/devstoreaccount1/certs?restype=container&comp=list")
                .unwrap();
        let mut request = Request::new(url, Method::Get);
        request.insert_header("x-ms-date", "Mon, 01 Jan 2024 00:00:00 GMT");
        request.insert_header("x-ms-version", "2026-04-06");
        request
    }

    #[test]
    fn known_requests_have_known_signatures() {
        // Each signature was computed outside this crate, by the documented
        // algorithm Base64(HMAC-SHA256(Base64-decoded key, UTF-8 string-to-sign)):
        // `printf '<string-to-sign>' | openssl dgst -sha256 -mac HMAC
        // -macopt hexkey:<KEY decoded, in hex> -binary | base64`, and the
        // same with Python's hmac module.
        let cases = [
            (
                list_request(),
                "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n\
                 x-ms-version:2026-04-06\n/devstoreaccount1/devstoreaccount1/certs\n\
                 comp:list\nrestype:container",
                "GzUrbE2gevjIqE/chzKC2KOukBr8RhNbWKSnZc8YLoY=",
            ),
            (
                upload_request(),
                "PUT\n\n\n5\n\napplication/octet-stream\n\n\n\n*\n\n\n\
                 x-ms-blob-type:BlockBlob\nx-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\n\
                 x-ms-meta-label:Alice\nx-ms-version:2026-04-06\n\
                 /devstoreaccount1/devstoreaccount1/certs/pkcs11_certificate_4293918720\n\
                 timeout:30",
                "qM2FIvF9h+dPm0FWQS4f/rqdCpkaNddRt15vKw3hZH4=",
            ),
        ];
        for (request, text, signature) in cases {
            let signed = string_to_sign(&request, "devstoreaccount1");
            assert_eq!(signed, text);
            // What SharedKeyPolicy::sign computes over the string-to-sign.
            assert_eq!(
                azure_core::hmac::hmac_sha256(&signed, &Secret::new(KEY)).unwrap(),
                signature,
                "{text}"
            );
            assert_eq!(openssl_signature(&signed, KEY), signature, "{text}");
        }
    }

    #[test]
    fn debug_output_hides_the_key() {
        let policy = SharedKeyPolicy::new("acct", Secret::new(KEY));
        assert!(!format!("{policy:?}").contains(KEY));
    }
}
