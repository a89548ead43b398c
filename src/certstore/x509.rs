//! What an X.509 certificate's DER says about itself: the attributes a
//! creator may leave out and the provider fills (PKCS#11 3.0 §4.6.3).
//! CKA_VALUE need not parse (the reference stores 8 dummy bytes); then only
//! CKA_CHECK_VALUE is computed.

use crate::object::{AttributeType, Attributes};
use cryptoki_sys::*;
use openssl::hash::{hash, MessageDigest};
use x509_parser::prelude::{FromDer, X509Certificate};

/// The parts of a parsed certificate the attributes are made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedCertificate {
    /// DER of the subject name.
    pub subject: Vec<u8>,
    /// DER of the issuer name.
    pub issuer: Vec<u8>,
    /// DER encoding of the serial number INTEGER (tag, length, content).
    pub serial_number: Vec<u8>,
    /// `YYYYMMDD` of notBefore.
    pub start_date: Vec<u8>,
    /// `YYYYMMDD` of notAfter.
    pub end_date: Vec<u8>,
    /// DER SubjectPublicKeyInfo.
    pub public_key_info: Vec<u8>,
    /// The subjectPublicKey BIT STRING's bytes (what OCSP's key hashes cover).
    pub subject_public_key: Vec<u8>,
}

/// Parses `value` as a DER X.509 certificate; `None` when it is not one.
pub fn parse(value: &[u8]) -> Option<ParsedCertificate> {
    let (_, certificate) = X509Certificate::from_der(value).ok()?;
    let validity = certificate.validity();
    let (not_before, not_after) = (
        validity.not_before.to_datetime(),
        validity.not_after.to_datetime(),
    );
    Some(ParsedCertificate {
        subject: certificate.subject().as_raw().to_vec(),
        issuer: certificate.issuer().as_raw().to_vec(),
        serial_number: der_integer(certificate.raw_serial()),
        start_date: date(
            not_before.year(),
            not_before.month() as u8,
            not_before.day(),
        )?,
        end_date: date(not_after.year(), not_after.month() as u8, not_after.day())?,
        public_key_info: certificate.public_key().raw.to_vec(),
        subject_public_key: certificate.public_key().subject_public_key.data.to_vec(),
    })
}

impl ParsedCertificate {
    /// Issued by itself (subject and issuer names equal), so the issuer's
    /// key is its own key.
    pub fn is_self_issued(&self) -> bool {
        self.subject == self.issuer
    }
}

fn date(year: i32, month: u8, day: u8) -> Option<Vec<u8>> {
    (0..=9999)
        .contains(&year)
        .then(|| format!("{year:04}{month:02}{day:02}").into_bytes())
}

/// DER INTEGER (tag 0x02, definite length, content) around `content`.
fn der_integer(content: &[u8]) -> Vec<u8> {
    let mut der = vec![0x02];
    let len = content.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        der.push(0x80 | bytes.len() as u8);
        der.extend_from_slice(&bytes);
    }
    der.extend_from_slice(content);
    der
}

/// CKA_CHECK_VALUE of a certificate: the first three bytes of the SHA-1 of
/// CKA_VALUE (PKCS#11 3.0 §4.6.2).
pub fn check_value(value: &[u8]) -> Vec<u8> {
    hash(MessageDigest::sha1(), value)
        .map(|digest| digest[..3].to_vec())
        .unwrap_or_default()
}

/// The digest named by CKA_NAME_HASH_ALGORITHM; `None` for a mechanism that
/// is not a plain digest, in which case the key hashes are left empty.
pub fn name_hash(mechanism: CK_MECHANISM_TYPE, data: &[u8]) -> Option<Vec<u8>> {
    let digest = match mechanism {
        CKM_SHA_1 => MessageDigest::sha1(),
        CKM_SHA224 => MessageDigest::sha224(),
        CKM_SHA256 => MessageDigest::sha256(),
        CKM_SHA384 => MessageDigest::sha384(),
        CKM_SHA512 => MessageDigest::sha512(),
        _ => return None,
    };
    hash(digest, data).ok().map(|d| d.to_vec())
}

/// Every attribute derivable from `value`, with the key hashes computed
/// with `name_hash_algorithm` and the issuer's key (`issuer_key`, the
/// subjectPublicKey bytes) when known. A value that does not parse gives
/// CKA_CHECK_VALUE alone.
pub fn derived_attributes(
    value: &[u8],
    name_hash_algorithm: CK_MECHANISM_TYPE,
    issuer_key: Option<&[u8]>,
) -> Attributes {
    let mut derived = Attributes::new();
    derived.set(CKA_CHECK_VALUE, check_value(value));
    let Some(parsed) = parse(value) else {
        return derived;
    };
    let fields: [(AttributeType, &Vec<u8>); 5] = [
        (CKA_ISSUER, &parsed.issuer),
        (CKA_SERIAL_NUMBER, &parsed.serial_number),
        (CKA_START_DATE, &parsed.start_date),
        (CKA_END_DATE, &parsed.end_date),
        (CKA_PUBLIC_KEY_INFO, &parsed.public_key_info),
    ];
    for (kind, field) in fields {
        derived.set(kind, field.clone());
    }
    if let Some(subject_hash) = name_hash(name_hash_algorithm, &parsed.subject_public_key) {
        derived.set(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, subject_hash);
    }
    let issuer_key = if parsed.is_self_issued() {
        Some(parsed.subject_public_key.as_slice())
    } else {
        issuer_key
    };
    if let Some(issuer_hash) = issuer_key.and_then(|key| name_hash(name_hash_algorithm, key)) {
        derived.set(CKA_HASH_OF_ISSUER_PUBLIC_KEY, issuer_hash);
    }
    derived
}
