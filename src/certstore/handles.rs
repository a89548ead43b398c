//! Choosing certificate handles (`0xFFF00000..=0xFFFFFFFE`).
//!
//! Token certificates count upwards: the next handle is the highest one in
//! use plus one, and once the top of the range is taken, the lowest free
//! one. Session certificates count downwards from the top, so the two
//! rarely meet. The choice is only a proposal: a token handle is claimed
//! by creating its blob if absent, and the next proposal is tried on a
//! conflict.

use super::BLOB_PREFIX;
use crate::object::{Handle, FIRST_CERTIFICATE_HANDLE, LAST_CERTIFICATE_HANDLE};

/// The next token handle: above `highest_used` when there is room, else the
/// lowest handle `in_use` says is free; `None` when every handle is in use.
pub fn next_token_handle(
    highest_used: Option<Handle>,
    in_use: impl Fn(Handle) -> bool,
) -> Option<Handle> {
    let start = match highest_used {
        None => FIRST_CERTIFICATE_HANDLE,
        Some(highest) if highest >= LAST_CERTIFICATE_HANDLE => FIRST_CERTIFICATE_HANDLE,
        Some(highest) => highest.max(FIRST_CERTIFICATE_HANDLE - 1) + 1,
    };
    (start..=LAST_CERTIFICATE_HANDLE)
        .chain(FIRST_CERTIFICATE_HANDLE..start)
        .find(|handle| !in_use(*handle))
}

/// The next session handle: the highest free handle, counting down from the top.
pub fn next_session_handle(in_use: impl Fn(Handle) -> bool) -> Option<Handle> {
    (FIRST_CERTIFICATE_HANDLE..=LAST_CERTIFICATE_HANDLE)
        .rev()
        .find(|handle| !in_use(*handle))
}

/// The handle a blob name stands for; `None` for a name that is not exactly
/// `pkcs11_certificate_<decimal handle in the certificate range>`.
pub fn handle_of_blob(name: &str) -> Option<Handle> {
    let digits = name.strip_prefix(BLOB_PREFIX)?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    let handle: Handle = digits.parse().ok()?;
    crate::object::is_certificate_handle(handle).then_some(handle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_first_token_handle_of_an_empty_store_is_4293918720() {
        assert_eq!(next_token_handle(None, |_| false), Some(4_293_918_720));
    }

    #[test]
    fn token_handles_follow_the_highest_one_in_use() {
        let used: BTreeSet<Handle> =
            [FIRST_CERTIFICATE_HANDLE, FIRST_CERTIFICATE_HANDLE + 7].into();
        let next = next_token_handle(used.last().copied(), |h| used.contains(&h));
        assert_eq!(next, Some(FIRST_CERTIFICATE_HANDLE + 8));
    }

    #[test]
    fn once_the_top_is_used_the_lowest_free_handle_is_taken() {
        let used: BTreeSet<Handle> = [
            FIRST_CERTIFICATE_HANDLE,
            FIRST_CERTIFICATE_HANDLE + 1,
            FIRST_CERTIFICATE_HANDLE + 3,
            LAST_CERTIFICATE_HANDLE,
        ]
        .into();
        let next = next_token_handle(used.last().copied(), |h| used.contains(&h));
        assert_eq!(next, Some(FIRST_CERTIFICATE_HANDLE + 2));
    }

    #[test]
    fn a_full_range_has_no_next_handle() {
        assert_eq!(
            next_token_handle(Some(LAST_CERTIFICATE_HANDLE), |_| true),
            None
        );
        assert_eq!(next_session_handle(|_| true), None);
    }

    #[test]
    fn session_handles_count_down_from_the_top_skipping_used_ones() {
        assert_eq!(next_session_handle(|_| false), Some(0xFFFF_FFFE));
        assert_eq!(next_session_handle(|h| h == 0xFFFF_FFFE), Some(0xFFFF_FFFD));
    }

    #[test]
    fn only_canonical_blob_names_in_range_stand_for_handles() {
        assert_eq!(
            handle_of_blob("pkcs11_certificate_4293918720"),
            Some(4_293_918_720)
        );
        for bad in [
            "pkcs11_certificate_",
            "pkcs11_certificate_04293918720",
            "pkcs11_certificate_4293918719",
            "pkcs11_certificate_4294967295",
            "pkcs11_certificate_+4293918720",
            "other_4293918720",
        ] {
            assert_eq!(handle_of_blob(bad), None, "{bad}");
        }
    }
}
