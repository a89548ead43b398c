//! What a certificate object shows of itself in a listing: its attributes
//! as text, and its not-after time.

use azcloudhsm_pkcs11::object::{Attributes, Handle};
use cryptoki_sys::*;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// One certificate as `list` and `expiring` show it.
#[derive(Clone, Debug)]
pub struct Summary {
    pub handle: Handle,
    pub label: String,
    /// CKA_ID in lower-case hex.
    pub id: String,
    pub subject: String,
    pub issuer: String,
    /// The serial number's content octets in lower-case hex.
    pub serial: String,
    /// Seconds since the Unix epoch.
    pub not_after: Option<i64>,
    pub token: bool,
    pub private: bool,
    /// The blob's size in bytes.
    pub size: usize,
}

impl Summary {
    pub fn of(handle: Handle, object: &Attributes, size: usize) -> Summary {
        let text =
            |kind| String::from_utf8_lossy(object.get(kind).unwrap_or_default()).into_owned();
        Summary {
            handle,
            label: text(CKA_LABEL),
            id: hex(object.get(CKA_ID).unwrap_or_default()),
            subject: name(object.get(CKA_SUBJECT).unwrap_or_default()),
            issuer: name(object.get(CKA_ISSUER).unwrap_or_default()),
            serial: serial(object.get(CKA_SERIAL_NUMBER).unwrap_or_default()),
            not_after: not_after(object),
            token: object.bool_or(CKA_TOKEN, false),
            private: object.bool_or(CKA_PRIVATE, false),
            size,
        }
    }

    /// The JSON object of one line of `--json` output.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "handle": self.handle,
            "handle_hex": format!("0x{:08x}", self.handle),
            "label": self.label,
            "id": self.id,
            "subject": self.subject,
            "issuer": self.issuer,
            "serial": self.serial,
            "not_after": self.not_after.map(rfc3339),
            "token": self.token,
            "private": self.private,
            "size": self.size,
        })
    }
}

/// Lower-case hex, no separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A DER name as text (`CN=web, O=Example`); empty for an empty value, hex
/// for one that is not a name.
fn name(der: &[u8]) -> String {
    if der.is_empty() {
        return String::new();
    }
    match X509Name::from_der(der) {
        Ok((&[], name)) => name.to_string(),
        _ => format!("(not a DER name: {})", hex(der)),
    }
}

/// The content of a DER INTEGER as hex; the whole value when it is not one.
fn serial(der: &[u8]) -> String {
    match der {
        [0x02, length, content @ ..] if usize::from(*length) == content.len() => hex(content),
        [0x02, 0x81, length, content @ ..] if usize::from(*length) == content.len() => hex(content),
        other => hex(other),
    }
}

/// The certificate's notAfter; for a CKA_VALUE that is not a certificate,
/// the end of CKA_END_DATE's day (UTC) when it has one.
fn not_after(object: &Attributes) -> Option<i64> {
    let value = object.get(CKA_VALUE).unwrap_or_default();
    if let Ok((_, certificate)) = X509Certificate::from_der(value) {
        return Some(certificate.validity().not_after.timestamp());
    }
    let date = object.get(CKA_END_DATE)?;
    let text = std::str::from_utf8(date).ok()?;
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, month, day) = (
        text[..4].parse().ok()?,
        text[4..6].parse().ok()?,
        text[6..].parse().ok()?,
    );
    Some(days_from_civil(year, month, day) * 86_400 + 86_399)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn split(seconds: i64) -> (i64, i64, i64, i64, i64, i64) {
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let time = seconds.rem_euclid(86_400);
    (year, month, day, time / 3600, time / 60 % 60, time % 60)
}

/// `2027-03-01 12:00:00 UTC`, for tables.
pub fn readable(seconds: i64) -> String {
    let (y, mo, d, h, mi, s) = split(seconds);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// `2027-03-01T12:00:00Z`, for JSON.
pub fn rfc3339(seconds: i64) -> String {
    let (y, mo, d, h, mi, s) = split(seconds);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Now, in seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_both_ways_across_leap_years_and_the_epoch() {
        for (days, date) in [
            (0, (1970, 1, 1)),
            (-1, (1969, 12, 31)),
            (11_016, (2000, 2, 29)),
            (19_782, (2024, 2, 29)),
            (2_932_896, (9999, 12, 31)),
        ] {
            assert_eq!(civil_from_days(days), date, "{days}");
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
        }
        assert_eq!(readable(951_782_400 + 3_723), "2000-02-29 01:02:03 UTC");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn serial_numbers_show_the_integer_content() {
        assert_eq!(serial(&[0x02, 0x02, 0x01, 0xff]), "01ff");
        assert_eq!(serial(&[0x02, 0x05, 0x01]), "020501");
        assert_eq!(serial(&[]), "");
    }

    #[test]
    fn a_certificate_without_a_parsable_value_takes_the_end_of_its_end_date() {
        let mut object = Attributes::new();
        object.set(CKA_VALUE, vec![0x30, 0x82, 0x03, 0x08]);
        object.set(CKA_END_DATE, b"20300101".to_vec());
        assert_eq!(
            not_after(&object).map(readable).as_deref(),
            Some("2030-01-01 23:59:59 UTC")
        );
        object.set(CKA_END_DATE, Vec::new());
        assert_eq!(not_after(&object), None);
    }
}
