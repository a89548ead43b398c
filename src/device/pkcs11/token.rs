//! The vendor's slots and token: choosing the token to present, its
//! `CK_TOKEN_INFO`, and its mechanisms.

use super::module::Vendor;
use crate::device::{MechanismInfo, TokenDetails, TokenStatus};
use crate::error::{Error, Result};
use cryptoki_sys::*;

/// More slots or mechanisms than any module has: a broken count.
const MAX_LIST: CK_ULONG = 1 << 16;

/// The text of a blank-padded fixed-size field.
pub(super) fn field_text(field: &[u8]) -> String {
    String::from_utf8_lossy(field)
        .trim_end_matches([' ', '\0'])
        .to_string()
}

/// The slots that hold a token.
pub(super) fn slots_with_token(vendor: &Vendor) -> Result<Vec<CK_SLOT_ID>> {
    vendor_list("slot", true, |slots| {
        vendor.functions().slot_list(true, slots)
    })
}

/// A list the vendor fills by the two-call convention: its count, then
/// its items. With `retry`, a list that grew between the two calls
/// (`CKR_BUFFER_TOO_SMALL`) is asked for again, twice more at the most.
fn vendor_list<T: Copy + Default>(
    noun: &str,
    retry: bool,
    mut list: impl FnMut(Option<&mut [T]>) -> Result<CK_ULONG>,
) -> Result<Vec<T>> {
    for _ in 0..3 {
        let count = list(None)?;
        if count > MAX_LIST {
            return Err(Error::VendorModule(format!(
                "the vendor reports {count} {noun}s"
            )));
        }
        let mut items = vec![T::default(); count as usize];
        match list(Some(&mut items)) {
            Ok(count) => {
                items.truncate((count as usize).min(items.len()));
                return Ok(items);
            }
            Err(Error::Vendor {
                rv: CKR_BUFFER_TOO_SMALL,
                ..
            }) if retry => continue,
            Err(error) => return Err(error),
        }
    }
    Err(Error::VendorModule(format!(
        "the vendor's {noun} list kept changing"
    )))
}

/// `C_GetTokenInfo` of `slot`.
pub(super) fn token_info(vendor: &Vendor, slot: CK_SLOT_ID) -> Result<CK_TOKEN_INFO> {
    vendor.functions().token_info(slot)
}

/// The slot whose token has `label`; without a label, the first slot
/// holding an initialised token, else the first holding any token (an HSM
/// such as SoftHSM2 always offers an empty one beside its tokens). `None`
/// when there is no such token; the labels seen come along for the log line.
pub(super) fn find_token(
    vendor: &Vendor,
    label: Option<&str>,
) -> Result<(Option<CK_SLOT_ID>, Vec<String>)> {
    let mut seen = Vec::new();
    let mut first_with_token = None;
    for slot in slots_with_token(vendor)? {
        let info = match token_info(vendor, slot) {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!("vendor slot {slot}: C_GetTokenInfo failed: {error}");
                continue;
            }
        };
        let token_label = field_text(&info.label);
        match label {
            None if info.flags & CKF_TOKEN_INITIALIZED != 0 => return Ok((Some(slot), seen)),
            None => {
                first_with_token.get_or_insert(slot);
            }
            Some(wanted) if wanted == token_label => return Ok((Some(slot), seen)),
            Some(_) => seen.push(token_label),
        }
    }
    Ok((first_with_token, seen))
}

const NAMED_FLAGS: CK_FLAGS = CKF_TOKEN_INITIALIZED
    | CKF_USER_PIN_INITIALIZED
    | CKF_USER_PIN_COUNT_LOW
    | CKF_USER_PIN_FINAL_TRY
    | CKF_USER_PIN_LOCKED
    | CKF_SO_PIN_COUNT_LOW
    | CKF_SO_PIN_FINAL_TRY
    | CKF_SO_PIN_LOCKED;

/// The vendor's token information as the provider reports it (the session
/// counts are the provider's own, which match the vendor's one for one).
pub(super) fn token_status(vendor: &Vendor, slot: CK_SLOT_ID) -> Result<TokenStatus> {
    let info = token_info(vendor, slot)?;
    let flag = |flag: CK_FLAGS| info.flags & flag != 0;
    Ok(TokenStatus {
        label: field_text(&info.label),
        serial: field_text(&info.serialNumber),
        initialized: flag(CKF_TOKEN_INITIALIZED),
        user_pin_initialized: flag(CKF_USER_PIN_INITIALIZED),
        user_pin_count_low: flag(CKF_USER_PIN_COUNT_LOW),
        user_pin_final_try: flag(CKF_USER_PIN_FINAL_TRY),
        user_pin_locked: flag(CKF_USER_PIN_LOCKED),
        so_pin_count_low: flag(CKF_SO_PIN_COUNT_LOW),
        so_pin_final_try: flag(CKF_SO_PIN_FINAL_TRY),
        so_pin_locked: flag(CKF_SO_PIN_LOCKED),
        min_pin_len: info.ulMinPinLen as usize,
        max_pin_len: info.ulMaxPinLen as usize,
        details: TokenDetails {
            manufacturer: field_text(&info.manufacturerID),
            model: field_text(&info.model),
            other_flags: info.flags & !NAMED_FLAGS,
            max_session_count: info.ulMaxSessionCount,
            max_rw_session_count: info.ulMaxRwSessionCount,
            total_public_memory: info.ulTotalPublicMemory,
            free_public_memory: info.ulFreePublicMemory,
            total_private_memory: info.ulTotalPrivateMemory,
            free_private_memory: info.ulFreePrivateMemory,
            hardware_version: (info.hardwareVersion.major, info.hardwareVersion.minor),
            firmware_version: (info.firmwareVersion.major, info.firmwareVersion.minor),
            utc_time: String::from_utf8_lossy(&info.utcTime).into_owned(),
        },
    })
}

/// The vendor's mechanism list with each mechanism's information.
pub(super) fn mechanisms(vendor: &Vendor, slot: CK_SLOT_ID) -> Result<Vec<MechanismInfo>> {
    let functions = vendor.functions();
    let kinds = vendor_list("mechanism", false, |kinds| {
        functions.mechanism_list(slot, kinds)
    })?;
    let mut infos = Vec::with_capacity(kinds.len());
    for kind in kinds {
        match functions.mechanism_info(slot, kind) {
            Ok(info) => infos.push(MechanismInfo {
                kind,
                min_key_size: info.ulMinKeySize,
                max_key_size: info.ulMaxKeySize,
                flags: info.flags,
            }),
            Err(error) => tracing::warn!("vendor mechanism 0x{kind:x} left out: {error}"),
        }
    }
    Ok(infos)
}
