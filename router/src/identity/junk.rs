//! Junk identity values: what SDKs send when they have nothing, which must never link anything.
//!
//! Linking on a junk value would merge every person whose SDK failed the same way into one uuid
//! (all iOS users with limited ad tracking share the idfa `00000000-0000-0000-0000-000000000000`;
//! a JS bug sends `"undefined"` or `"[object Object]"`; every Android 6+ phone reports the MAC
//! `02:00:00:00:00:00`). A value is junk when it is empty, is made only of zeros and separators,
//! or is one of the configured values (case-insensitive): for every key, or for one key only.
//! Constants that no list knows yet are caught by the shared-device guard (`blocklist`).
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone)]
pub struct JunkValues {
    words: HashSet<String>,
    by_key: HashMap<String, HashSet<String>>,
}

/// The default words (config `identity.junk_values` replaces this list).
pub const DEFAULT_JUNK: &[&str] = &[
    "null",
    "nil",
    "none",
    "undefined",
    "nan",
    "[object object]",
    "unknown",
    "-1",
    "true",
    "false",
    "{}",
    "[]",
    // iOS SDKs format a nil identifier as "(null)"; Objective-C's description of NSNull.
    "(null)",
    "<null>",
    "n/a",
    // Android 6+ hides the Wi-Fi MAC behind this constant, and SDKs that derive a device id
    // from the MAC send it under other keys too.
    "02:00:00:00:00:00",
    // The broadcast MAC, sent by some emulators and by code that failed to read the address.
    "ff:ff:ff:ff:ff:ff",
    // The ANDROID_ID that a whole series of Android 2.2 phones shared.
    "9774d56d682e549c",
];

/// Values that are junk under one key only (config `identity.junk_values_by_key` replaces
/// this table): each is a real-looking value that many devices share.
pub const DEFAULT_JUNK_BY_KEY: &[(&str, &[&str])] = &[
    // The engineering IMEI of MediaTek's reference firmware, left in many cheap phones, and the
    // sequence counterfeit phones use.
    (
        "imei",
        &["004999010640000", "012345678912345", "123456789012345"],
    ),
    // A placeholder serial returned by emulators and some ROMs.
    ("androidUUID", &["0123456789abcdef"]),
];

fn folded(words: &[String]) -> HashSet<String> {
    words.iter().map(|w| w.trim().to_lowercase()).collect()
}

impl JunkValues {
    pub fn new(words: &[String], by_key: &BTreeMap<String, Vec<String>>) -> Self {
        JunkValues {
            words: folded(words),
            by_key: by_key
                .iter()
                .map(|(key, words)| (key.clone(), folded(words)))
                .collect(),
        }
    }

    /// Whether `value` is junk whatever its key (used for the client's uuid and openid's appid).
    pub fn is_junk(&self, value: &str) -> bool {
        let value = value.trim();
        if value.is_empty() || only_zeros_and_separators(value) {
            return true;
        }
        // Only short values can be words; avoids lowercasing every long identity.
        value.len() <= 32 && self.words.contains(&value.to_lowercase())
    }

    /// Whether `value` is junk as a value of `key`.
    pub fn is_junk_for(&self, key: &str, value: &str) -> bool {
        if self.is_junk(value) {
            return true;
        }
        let value = value.trim();
        value.len() <= 32
            && self
                .by_key
                .get(key)
                .is_some_and(|words| words.contains(&value.to_lowercase()))
    }
}

/// `DEFAULT_JUNK_BY_KEY` as config values.
pub fn default_junk_by_key() -> BTreeMap<String, Vec<String>> {
    DEFAULT_JUNK_BY_KEY
        .iter()
        .map(|(key, words)| {
            (
                key.to_string(),
                words.iter().map(|w| w.to_string()).collect(),
            )
        })
        .collect()
}

/// `0`, `000000000000000` (IMEI placeholder), `00000000-0000-0000-0000-000000000000` (idfa with
/// ad tracking limited, or any zeroed id).
fn only_zeros_and_separators(value: &str) -> bool {
    value
        .bytes()
        .all(|b| matches!(b, b'0' | b'-' | b':' | b'.' | b'_' | b' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn junk() -> JunkValues {
        JunkValues::new(
            &DEFAULT_JUNK
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
            &default_junk_by_key(),
        )
    }

    #[test]
    fn placeholders_sdks_send_are_junk() {
        let j = junk();
        for v in [
            "",
            "  ",
            "null",
            "NULL",
            "undefined",
            "[object Object]",
            "0",
            "000000000000000",
            "00000000-0000-0000-0000-000000000000",
            "None",
            "-1",
            "(null)",
            "02:00:00:00:00:00",
            "9774D56D682E549C",
        ] {
            assert!(j.is_junk(v), "{v:?} should be junk");
        }
    }

    #[test]
    fn real_identities_are_not_junk() {
        let j = junk();
        for v in [
            "13800000000",
            "d-1",
            "0a1b",
            "100",
            "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
        ] {
            assert!(!j.is_junk(v), "{v:?} is a real value");
        }
    }

    #[test]
    fn constants_shared_by_many_devices_are_junk_under_their_key_only() {
        let j = junk();
        assert!(j.is_junk_for("imei", "004999010640000"));
        assert!(j.is_junk_for("androidUUID", "0123456789ABCDEF"));
        assert!(
            !j.is_junk_for("userid", "123456789012345"),
            "a 15-digit userid is a real account"
        );
        assert!(
            j.is_junk_for("userid", "undefined"),
            "words count for every key"
        );
    }

    #[test]
    fn operators_can_add_words() {
        let j = JunkValues::new(&["02:00:00:00:00:01".to_owned()], &BTreeMap::new());
        assert!(j.is_junk("02:00:00:00:00:01"));
        assert!(
            !j.is_junk("null"),
            "the configured list replaces the defaults"
        );
    }
}
