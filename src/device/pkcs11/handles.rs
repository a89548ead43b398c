//! Vendor object handles in the provider's key-handle space.
//!
//! The provider owns `0xFFF00000..=0xFFFFFFFE` for certificates, so a
//! vendor handle in that range cannot be shown as it is: it gets an alias
//! below the range, kept until the object is destroyed or the device
//! closes (so it is stable for the life of every session). Every other
//! vendor handle is shown unchanged, unless it happens to equal an alias
//! already given out, in which case it gets an alias of its own: a handle
//! the caller holds always means one vendor object.

use crate::object::{is_certificate_handle, Handle};
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Aliases are taken downwards from here, below the certificate range.
const HIGHEST_ALIAS: Handle = 0xFFEF_FFFF;
/// Vendor handles shown unchanged at or above this value are remembered,
/// so no alias is ever given their value. Vendors hand out small numbers
/// (SoftHSM2 counts from 1), so this set stays empty in practice.
const ALIAS_ZONE: Handle = 0xF000_0000;

#[derive(Default)]
struct Table {
    /// alias -> vendor handle
    to_vendor: HashMap<Handle, Handle>,
    /// vendor handle -> alias
    to_alias: HashMap<Handle, Handle>,
    /// Vendor handles in the alias zone shown unchanged.
    shown_unchanged: HashSet<Handle>,
    /// The next alias to try.
    next_alias: Handle,
}

/// The two-way map between the handles the caller sees and the vendor's.
pub(super) struct HandleMap {
    table: RwLock<Table>,
    /// How many aliases exist: with none (the usual case), a small vendor
    /// handle maps to itself without taking the lock.
    aliases: AtomicUsize,
}

impl Default for HandleMap {
    fn default() -> Self {
        HandleMap {
            table: RwLock::new(Table {
                next_alias: HIGHEST_ALIAS,
                ..Table::default()
            }),
            aliases: AtomicUsize::new(0),
        }
    }
}

impl HandleMap {
    /// The vendor handle behind a handle the caller gave.
    pub(super) fn to_vendor(&self, shown: Handle) -> Handle {
        if self.aliases.load(Ordering::Acquire) == 0 {
            return shown;
        }
        self.table
            .read()
            .to_vendor
            .get(&shown)
            .copied()
            .unwrap_or(shown)
    }

    /// The handle to show for a vendor handle, giving it an alias when it
    /// must not be shown as it is.
    pub(super) fn to_shown(&self, vendor: Handle) -> Handle {
        if vendor < ALIAS_ZONE && self.aliases.load(Ordering::Acquire) == 0 {
            return vendor;
        }
        {
            let table = self.table.read();
            if let Some(alias) = table.to_alias.get(&vendor) {
                return *alias;
            }
            let needs_alias =
                is_certificate_handle(vendor) || table.to_vendor.contains_key(&vendor);
            if !needs_alias && (vendor < ALIAS_ZONE || table.shown_unchanged.contains(&vendor)) {
                return vendor;
            }
        }
        let mut table = self.table.write();
        if let Some(alias) = table.to_alias.get(&vendor) {
            return *alias;
        }
        if !is_certificate_handle(vendor) && !table.to_vendor.contains_key(&vendor) {
            table.shown_unchanged.insert(vendor);
            return vendor;
        }
        let mut alias = table.next_alias;
        while table.to_vendor.contains_key(&alias) || table.shown_unchanged.contains(&alias) {
            alias -= 1;
        }
        table.next_alias = alias - 1;
        table.to_vendor.insert(alias, vendor);
        table.to_alias.insert(vendor, alias);
        self.aliases.store(table.to_vendor.len(), Ordering::Release);
        alias
    }

    /// Forgets a destroyed object's alias, if it had one.
    pub(super) fn forget(&self, shown: Handle) {
        let mut table = self.table.write();
        if let Some(vendor) = table.to_vendor.remove(&shown) {
            table.to_alias.remove(&vendor);
        }
        table.shown_unchanged.remove(&shown);
        self.aliases.store(table.to_vendor.len(), Ordering::Release);
    }

    /// Forgets every alias (the token was re-initialised: its objects are gone).
    pub(super) fn clear(&self) {
        let mut table = self.table.write();
        *table = Table {
            next_alias: HIGHEST_ALIAS,
            ..Table::default()
        };
        self.aliases.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::{FIRST_CERTIFICATE_HANDLE, LAST_CERTIFICATE_HANDLE};

    #[test]
    fn ordinary_vendor_handles_are_shown_unchanged() {
        let map = HandleMap::default();
        for handle in [1, 2, 77, 0xEFFF_FFFF] {
            assert_eq!(map.to_shown(handle), handle);
            assert_eq!(map.to_vendor(handle), handle);
        }
    }

    #[test]
    fn a_vendor_handle_in_the_certificate_range_gets_a_stable_alias_below_it() {
        let map = HandleMap::default();
        for vendor in [
            FIRST_CERTIFICATE_HANDLE,
            0xFFF0_1234,
            LAST_CERTIFICATE_HANDLE,
        ] {
            let alias = map.to_shown(vendor);
            assert!(!is_certificate_handle(alias), "{alias:#x}");
            assert_eq!(map.to_shown(vendor), alias, "the alias is stable");
            assert_eq!(map.to_vendor(alias), vendor);
        }
    }

    #[test]
    fn a_vendor_handle_equal_to_an_alias_gets_an_alias_of_its_own() {
        let map = HandleMap::default();
        let alias = map.to_shown(FIRST_CERTIFICATE_HANDLE);
        let other = map.to_shown(alias);
        assert_ne!(other, alias);
        assert_eq!(map.to_vendor(alias), FIRST_CERTIFICATE_HANDLE);
        assert_eq!(map.to_vendor(other), alias);
    }

    #[test]
    fn no_alias_takes_the_value_of_a_handle_already_shown_unchanged() {
        let map = HandleMap::default();
        assert_eq!(map.to_shown(HIGHEST_ALIAS), HIGHEST_ALIAS);
        let alias = map.to_shown(FIRST_CERTIFICATE_HANDLE);
        assert_ne!(alias, HIGHEST_ALIAS);
        assert_eq!(map.to_vendor(HIGHEST_ALIAS), HIGHEST_ALIAS);
    }

    #[test]
    fn a_forgotten_alias_no_longer_maps() {
        let map = HandleMap::default();
        let alias = map.to_shown(FIRST_CERTIFICATE_HANDLE);
        map.forget(alias);
        assert_eq!(map.to_vendor(alias), alias);
    }
}
