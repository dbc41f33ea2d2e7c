//! Junk identity values: what SDKs send when they have nothing, which must never link anything.
//!
//! Linking on a junk value would merge every person whose SDK failed the same way into one uuid
//! (all iOS users with limited ad tracking share the idfa `00000000-0000-0000-0000-000000000000`;
//! a JS bug sends `"undefined"` or `"[object Object]"`). A value is junk when it is empty, is one of
//! the configured words (case-insensitive), or is made only of zeros and separators.
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub struct JunkValues {
    words: HashSet<String>,
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
];

impl JunkValues {
    pub fn new(words: &[String]) -> Self {
        JunkValues {
            words: words.iter().map(|w| w.trim().to_lowercase()).collect(),
        }
    }

    pub fn is_junk(&self, value: &str) -> bool {
        let value = value.trim();
        if value.is_empty() || only_zeros_and_separators(value) {
            return true;
        }
        // Only short values can be words; avoids lowercasing every long identity.
        value.len() <= 32 && self.words.contains(&value.to_lowercase())
    }
}

/// `0`, `000000000000000` (IMEI placeholder), `00000000-0000-0000-0000-000000000000` (idfa with
/// ad tracking limited), `02:00:00:00:00:00` is not caught here (it has a 2): it is in no default
/// because macAddress is a device key whose junk value operators add to the list when they see it.
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
    fn operators_can_add_words() {
        let j = JunkValues::new(&["02:00:00:00:00:00".to_owned()]);
        assert!(j.is_junk("02:00:00:00:00:00"));
        assert!(
            !j.is_junk("null"),
            "the configured list replaces the defaults"
        );
    }
}
