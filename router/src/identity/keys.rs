//! Which identities a message carries, how strong each one is, and in which order they are tried.
//!
//! An identity is a (key, value) pair from `uidentity`. Keys come in two strengths:
//! - **account** keys name a person (userid, mobile, unionid, idCard, email263): two different
//!   values of one account key are two people, and slog never merges them;
//! - **device** keys name a device, browser or app install (deviceUUID, idfa, imei, browserId,
//!   uvId, openid, ...): anonymous until seen beside an account key.
//!
//! Lookups try account keys first, then device keys, each list in its configured order; registered
//! keys in neither list count as device keys tried last. `openid` is only unique within its
//! `appid`, so it becomes the identity `openid = "<appid>:<openid>"`, and an openid without an
//! appid links nothing. `appid` alone names an app, not a person: it is never an identity.
use super::config::IdentityConfig;
use super::junk::JunkValues;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The key under which the client's own uuid is recorded as an identity of that person: a uuid
/// the client sends is an account-level fact (the SDK sets it after login).
pub const UUID_KEY: &str = "uuid";
const OPENID: &str = "openid";
const APPID: &str = "appid";
/// Longer values are not identities (and would not fit the store's column).
pub const MAX_VALUE_CHARS: usize = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    Account,
    Device,
}

/// One identity of a person.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
pub struct Identity {
    pub key: String,
    pub value: String,
}

impl Identity {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Identity {
            key: key.into(),
            value: value.into(),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// An identity found in a message, with what the rules say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub identity: Identity,
    pub strength: Strength,
    /// Lower is tried first.
    pub priority: usize,
}

/// The configured strengths and priorities, plus the junk filter.
#[derive(Debug, Clone)]
pub struct KeyRules {
    ranks: HashMap<String, (Strength, usize)>,
    /// The account-strength keys of `ranks` (the client's `uuid` included).
    account_keys: Vec<String>,
    ignored: Vec<String>,
    junk: JunkValues,
    unlisted_priority: usize,
    max_accounts_per_device: usize,
}

impl KeyRules {
    pub fn new(config: &IdentityConfig) -> Self {
        let mut ranks = HashMap::new();
        let mut priority = 0;
        // The client's uuid outranks everything: it is the person.
        ranks.insert(UUID_KEY.to_owned(), (Strength::Account, priority));
        for key in &config.account_keys {
            priority += 1;
            ranks
                .entry(key.clone())
                .or_insert((Strength::Account, priority));
        }
        for key in &config.device_keys {
            priority += 1;
            ranks
                .entry(key.clone())
                .or_insert((Strength::Device, priority));
        }
        let account_keys = ranks
            .iter()
            .filter(|(_, r)| r.0 == Strength::Account)
            .map(|(k, _)| k.clone())
            .collect();
        KeyRules {
            ranks,
            account_keys,
            ignored: config.ignored_keys.clone(),
            junk: JunkValues::new(&config.junk_values, &config.junk_values_by_key),
            unlisted_priority: priority + 1,
            max_accounts_per_device: config.max_accounts_per_device,
        }
    }

    /// How many people with accounts a device identity may be seen on before it stops linking
    /// (0: no limit).
    pub fn max_accounts_per_device(&self) -> usize {
        self.max_accounts_per_device
    }

    pub fn strength(&self, key: &str) -> Strength {
        self.ranks.get(key).map_or(Strength::Device, |r| r.0)
    }

    /// The account keys, for "does this person have an account?" queries.
    pub fn account_keys(&self) -> Vec<&str> {
        self.account_keys.iter().map(String::as_str).collect()
    }

    pub fn is_junk(&self, value: &str) -> bool {
        self.junk.is_junk(value)
    }

    /// The client's uuid, when it sent a usable one.
    pub fn client_uuid(&self, uidentity: &Map<String, Value>) -> Option<String> {
        scalar(uidentity.get(UUID_KEY)?).filter(|v| !self.junk.is_junk(v))
    }

    /// Every linkable identity of a message except its uuid, strongest and highest priority first.
    pub fn identities(&self, uidentity: &Map<String, Value>) -> Vec<Ranked> {
        let mut found = Vec::with_capacity(uidentity.len());
        for (key, value) in uidentity {
            if key == UUID_KEY || key == APPID || self.ignored.iter().any(|k| k == key) {
                continue;
            }
            let Some(value) = scalar(value).filter(|v| !self.junk.is_junk_for(key, v)) else {
                continue;
            };
            let value = if key == OPENID {
                match uidentity
                    .get(APPID)
                    .and_then(scalar)
                    .filter(|a| !self.junk.is_junk(a))
                {
                    Some(appid) => format!("{appid}:{value}"),
                    None => continue,
                }
            } else {
                value
            };
            if value.chars().count() > MAX_VALUE_CHARS {
                continue;
            }
            let (strength, priority) = self
                .ranks
                .get(key.as_str())
                .copied()
                .unwrap_or((Strength::Device, self.unlisted_priority));
            found.push(Ranked {
                identity: Identity::new(key.as_str(), value),
                strength,
                priority,
            });
        }
        // Stable: unlisted keys keep the client's order among themselves.
        found.sort_by_key(|r| r.priority);
        found
    }
}

/// Strings as they are, numbers as their decimal text; anything else is not an identity value.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => integer_text(n),
        _ => None,
    }
}

/// The decimal text of an integer identity value, so that `42` and `"42"` are one identity
/// (`42.0` too). `None` for a fraction, or for an integer too large to have survived JSON
/// parsing exactly (beyond ±2^53 as a float): linking on a rounded id would join two people.
pub fn integer_text(n: &serde_json::Number) -> Option<String> {
    if let Some(i) = n.as_i64() {
        return Some(i.to_string());
    }
    if let Some(u) = n.as_u64() {
        return Some(u.to_string());
    }
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let f = n.as_f64()?;
    // The cast is exact: the value is integral and within ±2^53.
    (f.fract() == 0.0 && f.abs() <= EXACT).then(|| format!("{}", f as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> KeyRules {
        KeyRules::new(&IdentityConfig::default())
    }

    fn ids(uidentity: Value) -> Vec<(String, String, Strength)> {
        rules()
            .identities(uidentity.as_object().unwrap())
            .into_iter()
            .map(|r| (r.identity.key, r.identity.value, r.strength))
            .collect()
    }

    #[test]
    fn account_keys_are_tried_before_device_keys_whatever_the_client_order() {
        let found = ids(
            json!({"browserId": "b-1", "deviceUUID": "d-1", "mobile": "13800000000", "userid": 42}),
        );
        let keys: Vec<&str> = found.iter().map(|(k, _, _)| k.as_str()).collect();
        assert_eq!(keys, ["userid", "mobile", "deviceUUID", "browserId"]);
        assert_eq!(
            found[0].1, "42",
            "numbers are identities by their decimal text"
        );
        assert_eq!(found[0].2, Strength::Account);
        assert_eq!(found[3].2, Strength::Device);
    }

    #[test]
    fn openid_is_scoped_by_appid_and_dropped_without_one() {
        assert_eq!(
            ids(json!({"openid": "o-1", "appid": "wx123"})),
            [(
                "openid".to_owned(),
                "wx123:o-1".to_owned(),
                Strength::Device
            )]
        );
        assert!(ids(json!({"openid": "o-1"})).is_empty());
        assert!(
            ids(json!({"appid": "wx123"})).is_empty(),
            "an appid alone names an app"
        );
    }

    #[test]
    fn junk_values_uuid_and_non_scalars_are_not_identities() {
        let found = ids(
            json!({"uuid": "u-1", "idfa": "00000000-0000-0000-0000-000000000000",
            "imei": "null", "uvId": "", "browserId": {"a": 1}, "deviceUUID": " d-1 "}),
        );
        assert_eq!(
            found,
            [("deviceUUID".to_owned(), "d-1".to_owned(), Strength::Device)]
        );
    }

    #[test]
    fn unlisted_keys_are_device_keys_tried_last() {
        let found = ids(json!({"myCookie": "c-1", "uvId": "v-1"}));
        assert_eq!(found[0].0, "uvId");
        assert_eq!(
            found[1],
            ("myCookie".to_owned(), "c-1".to_owned(), Strength::Device)
        );
    }

    #[test]
    fn client_uuid_must_be_a_usable_value() {
        let r = rules();
        assert_eq!(
            r.client_uuid(json!({"uuid": "u-1"}).as_object().unwrap())
                .as_deref(),
            Some("u-1")
        );
        assert_eq!(
            r.client_uuid(json!({"uuid": "undefined"}).as_object().unwrap()),
            None
        );
        assert_eq!(
            r.client_uuid(json!({"uuid": 123}).as_object().unwrap())
                .as_deref(),
            Some("123")
        );
    }

    #[test]
    fn integer_ids_have_one_text_whatever_their_json_form() {
        let text = |v: Value| integer_text(v.as_number().unwrap());
        assert_eq!(text(json!(48672329)).as_deref(), Some("48672329"));
        assert_eq!(text(json!(48672329.0)).as_deref(), Some("48672329"));
        assert_eq!(text(json!(-7)).as_deref(), Some("-7"));
        assert_eq!(
            text(json!(u64::MAX)).as_deref(),
            Some("18446744073709551615")
        );
        assert_eq!(text(json!(1.5)), None, "a fraction is no id");
        let rounded: Value = serde_json::from_str("123456789012345678901234").unwrap();
        assert_eq!(text(rounded), None, "a rounded id would join two people");
    }

    #[test]
    fn per_key_junk_links_nothing_under_that_key_only() {
        let found = ids(json!({"imei": "004999010640000", "userid": "004999010640000"}));
        assert_eq!(
            found,
            [(
                "userid".to_owned(),
                "004999010640000".to_owned(),
                Strength::Account
            )]
        );
    }

    #[test]
    fn overlong_values_link_nothing() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        assert!(ids(json!({"deviceUUID": long})).is_empty());
    }
}
