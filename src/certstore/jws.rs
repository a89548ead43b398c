//! The certificate blob: a compact JWS (RFC 7515) signed RS512 by the
//! device's blob-signing key, whose payload names its own handle and holds
//! every attribute of the certificate. The format is specified in
//! `docs/blob-format.md`.
//!
//! josekit builds and parses the compact serialization; the signature
//! itself is made by the device ([`DeviceSigner`]), so the private key never
//! leaves it.

use super::encoding::{base64url_decode_into, value_from_json, value_to_json};
use super::rules::rule_of;
use crate::device::BlobSigningKey;
use crate::error::{Error, Result};
use crate::logging::outside;
use crate::object::kinds::{attribute_by_name, attribute_name};
use crate::object::{Attributes, Handle};
use cryptoki_sys::*;
use josekit::jws::alg::rsassa::RsassaJwsVerifier;
use josekit::jws::{JwsAlgorithm, JwsHeader, JwsSigner, RS512};
use josekit::JoseError;
use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The payload `format` this code writes and reads.
pub const FORMAT: u64 = 1;

/// A josekit signer whose signature comes from the device. josekit's error
/// type cannot carry ours, so a device failure (e.g. `UserNotLoggedIn`) is
/// parked in `failure` and returned by [`sign_blob`].
#[derive(Clone)]
pub struct DeviceSigner {
    key: Arc<dyn BlobSigningKey>,
    key_id: String,
    signature_len: usize,
    failure: Arc<Mutex<Option<Error>>>,
}

impl std::fmt::Debug for DeviceSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSigner")
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl DeviceSigner {
    /// A signer over `key`; fails when its public key is not an RSA key.
    pub fn new(key: Arc<dyn BlobSigningKey>) -> Result<Self> {
        let public_key = openssl::pkey::PKey::public_key_from_der(&key.public_key_der())?;
        let signature_len = public_key.rsa()?.size() as usize;
        Ok(DeviceSigner {
            key_id: key.key_id(),
            key,
            signature_len,
            failure: Arc::new(Mutex::new(None)),
        })
    }
}

impl DeviceSigner {
    /// The `kid` of the key: which device key this signer signs with.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl JwsSigner for DeviceSigner {
    fn algorithm(&self) -> &dyn JwsAlgorithm {
        &RS512
    }
    fn key_id(&self) -> Option<&str> {
        Some(&self.key_id)
    }
    fn signature_len(&self) -> usize {
        self.signature_len
    }
    fn sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, JoseError> {
        self.key.sign_rs512(message).map_err(|error| {
            let text = error.to_string();
            *self.failure.lock() = Some(error);
            JoseError::InvalidSignature(std::io::Error::other(text).into())
        })
    }
    fn box_clone(&self) -> Box<dyn JwsSigner> {
        Box::new(self.clone())
    }
}

/// The payload JSON of a certificate: `{"format":1,"handle":N,"attributes":{...}}`.
pub fn payload(handle: Handle, object: &Attributes) -> Vec<u8> {
    let mut attributes = Map::new();
    for (kind, value) in &object.0 {
        if let (Some(name), Some(json)) = (attribute_name(*kind), value_to_json(*kind, value)) {
            attributes.insert(name.to_owned(), json);
        }
    }
    let mut payload = Map::new();
    payload.insert("format".into(), Value::from(FORMAT));
    payload.insert("handle".into(), Value::from(handle));
    payload.insert("attributes".into(), Value::Object(attributes));
    serde_json::to_vec(&Value::Object(payload)).unwrap_or_default()
}

/// Builds the compact JWS of a certificate, signed by the device.
/// Header: `{"alg":"RS512","kid":<key id>}`, `alg` first as in the
/// vendor's blobs (which start `eyJhbGciOiJSUzUxMiIs`).
pub fn sign_blob(signer: &DeviceSigner, handle: Handle, object: &Attributes) -> Result<String> {
    // A failure slot of this call's own: the signer is shared by every
    // thread, and a slot shared with them would hand this call's error to
    // another failing call (which then reported CKR_FUNCTION_FAILED).
    let signer = DeviceSigner {
        failure: Arc::new(Mutex::new(None)),
        ..signer.clone()
    };
    let header = JwsHeader::new();
    josekit::jws::serialize_compact(&payload(handle, object), &header, &signer).map_err(|error| {
        signer.failure.lock().take().unwrap_or(Error::Jws {
            operation: "JWS signing",
            source: error,
        })
    })
}

/// Why a blob is not a certificate, in the terms an operator acts on
/// (`azcloudhsm-certs verify` prints these; the library logs them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Not a compact JWS: not three base64url parts, or a header that is
    /// not a JSON object.
    NotJws(String),
    /// The header names a key (`kid`) other than the one verifying, or none:
    /// signed by another key, or an old key after a rotation.
    UnknownKid(Option<String>),
    /// The header names the verifying key but the RS512 signature does not
    /// verify (changed content, or another algorithm).
    BadSignature(String),
    /// The signed payload names another handle than the blob's name (a
    /// renamed or copied blob).
    HandleMismatch { named: u64, handle: Handle },
    /// Correctly signed, but not a format-1 X.509 token certificate.
    BadPayload(String),
}

/// The texts inside may come from the blob (a `kid`, an `alg`, a parser's
/// quote of it), so they are shown escaped and bounded ([`outside`]).
impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::NotJws(why) => write!(f, "not a JWS: {}", outside(why)),
            Rejection::UnknownKid(Some(kid)) => {
                write!(f, "signed by an unknown key (kid {})", outside(kid))
            }
            Rejection::UnknownKid(None) => write!(f, "the header names no signing key (kid)"),
            Rejection::BadSignature(why) => write!(f, "bad signature: {}", outside(why)),
            Rejection::HandleMismatch { named, handle } => write!(
                f,
                "payload names handle {named}, not {handle} (renamed or copied blob)"
            ),
            Rejection::BadPayload(why) => write!(f, "{}", outside(why)),
        }
    }
}

/// The `kid` of a compact JWS's header, or why `content` is not a JWS.
/// Nothing is verified.
pub fn blob_key_id(content: &[u8]) -> std::result::Result<Option<String>, Rejection> {
    let text = std::str::from_utf8(content).map_err(|_| Rejection::NotJws("not text".into()))?;
    let parts: Vec<&str> = text.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(Rejection::NotJws(format!(
            "{} dot-separated parts, not 3",
            parts.len()
        )));
    };
    for (name, part) in [
        ("header", header),
        ("payload", payload),
        ("signature", signature),
    ] {
        if part.is_empty() || super::encoding::base64url_decode(part).is_none() {
            return Err(Rejection::NotJws(format!("the {name} is not base64url")));
        }
    }
    let header = super::encoding::base64url_decode(header).unwrap_or_default();
    let header = super::encoding::json_without_duplicates(&header)
        .map_err(|e| Rejection::NotJws(format!("the header is not JSON: {e}")))?;
    let header = header
        .as_object()
        .ok_or_else(|| Rejection::NotJws("the header is not a JSON object".into()))?;
    match header.get("alg").and_then(Value::as_str) {
        Some("RS512") => {}
        other => {
            return Err(Rejection::BadSignature(format!(
                "alg is {}, not RS512",
                other.map_or_else(|| "missing".to_string(), |alg| format!("\"{alg}\""))
            )))
        }
    }
    Ok(header.get("kid").and_then(Value::as_str).map(str::to_owned))
}

/// Verifies blobs against the public half of the blob-signing key.
#[derive(Clone, Debug)]
pub struct BlobVerifier {
    verifier: RsassaJwsVerifier,
    key_id: String,
}

impl BlobVerifier {
    /// A verifier for blobs signed by `key` (RS512, `kid` = its key id).
    pub fn new(key: &dyn BlobSigningKey) -> Result<Self> {
        let mut verifier = RS512
            .verifier_from_der(key.public_key_der())
            .map_err(|source| Error::Jws {
                operation: "blob verification key",
                source,
            })?;
        verifier.set_key_id(key.key_id());
        Ok(BlobVerifier {
            verifier,
            key_id: key.key_id(),
        })
    }

    /// The `kid` this verifier accepts.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The certificate in `content`, stored as the blob of `handle`, once its
    /// signature, key id and handle verify; otherwise the reason it is refused.
    pub fn verify_blob(
        &self,
        handle: Handle,
        content: &[u8],
    ) -> std::result::Result<Attributes, String> {
        self.check_blob(handle, content).map_err(|r| r.to_string())
    }

    /// As [`BlobVerifier::verify_blob`], with the reason as a [`Rejection`]:
    /// the header is read first, so a blob signed by another key is
    /// `UnknownKid` rather than `BadSignature`.
    pub fn check_blob(
        &self,
        handle: Handle,
        content: &[u8],
    ) -> std::result::Result<Attributes, Rejection> {
        let kid = blob_key_id(content)?;
        if kid.as_deref() != Some(self.key_id.as_str()) {
            return Err(Rejection::UnknownKid(kid));
        }
        let (payload, _) = josekit::jws::deserialize_compact(content, &self.verifier)
            .map_err(|e| Rejection::BadSignature(e.to_string()))?;
        check_payload(handle, &payload)
    }
}

/// Reads the searchable attributes of a blob WITHOUT verifying its
/// signature, to index it before it is used; a blob found this way is
/// verified (with [`BlobVerifier::verify_blob`]) before it is returned.
/// Only the searchable attributes are decoded: this runs for every blob at
/// start-up.
pub fn peek_blob(handle: Handle, content: &[u8]) -> std::result::Result<Attributes, String> {
    let text = std::str::from_utf8(content).map_err(|_| "not text".to_string())?;
    let mut parts = text.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".into());
    };
    thread_local! {
        static PAYLOAD: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let peeked: Peek = PAYLOAD.with(|buffer| {
        let mut buffer = buffer.borrow_mut();
        if !base64url_decode_into(payload, &mut buffer) {
            return Err("payload is not base64url".to_string());
        }
        serde_json::from_slice(&buffer).map_err(|e| format!("payload is not JSON: {e}"))
    })?;
    if peeked.format != Some(FORMAT) {
        return Err("payload format is not 1".into());
    }
    if peeked.handle != Some(handle) {
        return Err(format!(
            "payload names handle {:?}, not {handle} (renamed or copied blob)",
            peeked.handle
        ));
    }
    let mut search = Attributes::new();
    for (kind, json) in peeked.attributes.into_fields() {
        if let Some(json) = json {
            let bytes = value_from_json(kind, &json)
                .ok_or_else(|| format!("0x{kind:x} has a malformed value"))?;
            search.set(kind, bytes);
        }
    }
    Ok(search)
}

/// The payload's bytes, in a new vector (for the tests).
#[cfg(test)]
fn decode_payload(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    base64url_decode_into(text, &mut out).then_some(out)
}

/// The parts of a payload the index needs; serde skips everything else
/// without decoding it.
#[derive(serde::Deserialize)]
struct Peek {
    format: Option<u64>,
    handle: Option<u64>,
    #[serde(default)]
    attributes: PeekAttributes,
}

#[derive(serde::Deserialize, Default)]
struct PeekAttributes {
    #[serde(rename = "CKA_CLASS")]
    class: Option<Value>,
    #[serde(rename = "CKA_CERTIFICATE_TYPE")]
    certificate_type: Option<Value>,
    #[serde(rename = "CKA_TOKEN")]
    token: Option<Value>,
    #[serde(rename = "CKA_PRIVATE")]
    private: Option<Value>,
    #[serde(rename = "CKA_LABEL")]
    label: Option<Value>,
    #[serde(rename = "CKA_ID")]
    id: Option<Value>,
    #[serde(rename = "CKA_SUBJECT")]
    subject: Option<Value>,
    #[serde(rename = "CKA_ISSUER")]
    issuer: Option<Value>,
    #[serde(rename = "CKA_SERIAL_NUMBER")]
    serial_number: Option<Value>,
}

impl PeekAttributes {
    fn into_fields(self) -> [(crate::object::AttributeType, Option<Value>); 9] {
        [
            (CKA_CLASS, self.class),
            (CKA_CERTIFICATE_TYPE, self.certificate_type),
            (CKA_TOKEN, self.token),
            (CKA_PRIVATE, self.private),
            (CKA_LABEL, self.label),
            (CKA_ID, self.id),
            (CKA_SUBJECT, self.subject),
            (CKA_ISSUER, self.issuer),
            (CKA_SERIAL_NUMBER, self.serial_number),
        ]
    }
}

/// Parses and checks a payload: format 1, the expected handle, every
/// attribute a known certificate attribute in its JSON form, and the
/// object a CKC_X_509 certificate with a subject and a value.
pub fn read_payload(handle: Handle, payload: &[u8]) -> std::result::Result<Attributes, String> {
    check_payload(handle, payload).map_err(|r| r.to_string())
}

/// As [`read_payload`], with the reason as a [`Rejection`].
fn check_payload(handle: Handle, payload: &[u8]) -> std::result::Result<Attributes, Rejection> {
    let bad = Rejection::BadPayload;
    let json = super::encoding::json_without_duplicates(payload)
        .map_err(|e| bad(format!("payload is not JSON: {e}")))?;
    if json.get("format").and_then(Value::as_u64) != Some(FORMAT) {
        return Err(bad("payload format is not 1".into()));
    }
    let named = json
        .get("handle")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("payload has no handle".into()))?;
    if named != handle {
        return Err(Rejection::HandleMismatch { named, handle });
    }
    let attributes = json
        .get("attributes")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("payload has no attributes".into()))?;
    let mut object = Attributes::new();
    for (name, value) in attributes {
        let kind = attribute_by_name(name)
            .filter(|kind| rule_of(*kind).is_some())
            .ok_or_else(|| bad(format!("{name} is not a certificate attribute")))?;
        let bytes = value_from_json(kind, value)
            .ok_or_else(|| bad(format!("{name} has a malformed value")))?;
        object.set(kind, bytes);
    }
    let is_certificate = object.ulong(CKA_CLASS) == Some(CKO_CERTIFICATE)
        && object.ulong(CKA_CERTIFICATE_TYPE) == Some(CKC_X_509)
        && object.contains(CKA_SUBJECT)
        && object.contains(CKA_VALUE);
    if !is_certificate {
        return Err(bad("payload is not an X.509 certificate object".into()));
    }
    if !object.bool_or(CKA_TOKEN, false) {
        return Err(bad(
            "payload is not a token object (CKA_TOKEN is not true)".into()
        ));
    }
    super::rules::fill_defaults(&mut object);
    Ok(object)
}

#[cfg(test)]
mod decode_tests {
    use super::decode_payload;
    use crate::certstore::encoding::{base64url_decode, base64url_encode};

    #[test]
    fn payload_decoding_agrees_with_the_shared_decoder_on_good_and_bad_input() {
        let mut inputs: Vec<String> = (0..80)
            .map(|len| base64url_encode(&(0..len).map(|i| (i * 53 + 7) as u8).collect::<Vec<_>>()))
            .collect();
        for good in inputs.clone() {
            for (position, bad) in [(0, '='), (1, '+'), (2, '/'), (3, ' '), (5, 'é')] {
                let mut chars: Vec<char> = good.chars().collect();
                if position < chars.len() {
                    chars[position] = bad;
                    inputs.push(chars.into_iter().collect());
                }
            }
            inputs.push(format!("{good}A"));
            inputs.push(format!("{good}AB"));
            inputs.push(format!("{good}AQ"));
            inputs.push(format!("{good}AAB"));
            inputs.push(format!("{good}é"));
        }
        for input in &inputs {
            assert_eq!(decode_payload(input), base64url_decode(input), "{input:?}");
        }
    }
}
