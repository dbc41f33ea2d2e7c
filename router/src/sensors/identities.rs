//! Who a Sensors message is about → slog's `uidentity`.
//!
//! - With ID-Mapping's `identities` object, each key becomes the slog key `[sensors]
//!   identity_keys` maps it to (`$identity_login_id` → `userid`, `$identity_cookie_id` →
//!   `browserId`, ...); a key not in the table becomes its name without `$identity_`.
//! - Without it (server SDKs, older app SDKs): the login id — `login_id`, or `distinct_id` when
//!   the message says it is one (`$is_login_id`, or a signup) — becomes `login_key`; the
//!   anonymous id — `anonymous_id`, a signup's `original_id`, or a `distinct_id` that is not a
//!   login id — becomes `web_anonymous_key` for the web SDK and `device_anonymous_key` for the
//!   others.
//!
//! A message naming both a login id and an anonymous id is what links them: the identity stage
//! merges the anonymous history into the logged-in person, as for a native event carrying both.
//! A mini-program's `openid` is scoped by its app: `$app_id` becomes `appid` beside it.
use super::config::SensorsConfig;
use crate::error::{Code, Rejection};
use serde_json::{Map, Value};

/// What the translation knows about the message besides its fields.
pub struct Subject<'a> {
    pub message: &'a Map<String, Value>,
    /// The message's properties as sent (with Sensors' names).
    pub properties: &'a Map<String, Value>,
    /// A `track_signup`: its `distinct_id` is the login id and `original_id` the anonymous one.
    pub signup: bool,
    /// Sent by the web SDK (`$lib` = `js`).
    pub web: bool,
}

pub fn uidentity(
    subject: &Subject<'_>,
    config: &SensorsConfig,
) -> Result<Map<String, Value>, Rejection> {
    let mut out = Map::new();
    match subject.message.get("identities") {
        None | Some(Value::Null) => {}
        Some(Value::Object(identities)) => {
            for (key, value) in identities {
                let slog_key = config.identity_keys.get(key).map_or_else(
                    || key.strip_prefix("$identity_").unwrap_or(key),
                    String::as_str,
                );
                if !slog_key.is_empty() && !out.contains_key(slog_key) {
                    out.insert(slog_key.to_owned(), value.clone());
                }
            }
        }
        Some(_) => {
            return Err(Rejection::field(
                Code::InvalidType,
                "identities",
                "identities must be an object of identity key to id",
            ))
        }
    }
    if out.is_empty() {
        from_ids(subject, config, &mut out);
    }
    if out.contains_key("openid") && !out.contains_key("appid") {
        if let Some(app) = subject.properties.get("$app_id").filter(|v| is_id(v)) {
            out.insert("appid".to_owned(), app.clone());
        }
    }
    Ok(out)
}

/// The login and anonymous ids of a message without `identities`.
fn from_ids(subject: &Subject<'_>, config: &SensorsConfig, out: &mut Map<String, Value>) {
    let field = |name: &str| subject.message.get(name).filter(|v| is_id(v));
    let distinct = field("distinct_id");
    let marked_login = subject.properties.get("$is_login_id") == Some(&Value::Bool(true));
    let distinct_is_login = subject.signup || marked_login;
    let login = field("login_id").or(distinct.filter(|_| distinct_is_login));
    let anonymous = field("anonymous_id")
        .or_else(|| subject.signup.then(|| field("original_id")).flatten())
        .or(distinct.filter(|_| !distinct_is_login));
    if let Some(login) = login {
        out.insert(config.login_key.clone(), login.clone());
    }
    if let Some(anonymous) = anonymous.filter(|a| Some(*a) != login) {
        let key = if subject.web {
            &config.web_anonymous_key
        } else {
            &config.device_anonymous_key
        };
        out.entry(key.clone()).or_insert_with(|| anonymous.clone());
    }
}

/// An id worth keeping: a non-empty string or a number (normalisation checks it further).
fn is_id(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.trim().is_empty(),
        Value::Number(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(message: Value, signup: bool, web: bool) -> Value {
        let message = message.as_object().unwrap().clone();
        let empty = Map::new();
        let properties = message
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let subject = Subject {
            message: &message,
            properties,
            signup,
            web,
        };
        Value::Object(uidentity(&subject, &SensorsConfig::default()).unwrap())
    }

    #[test]
    fn id_mapping_identities_map_to_slog_keys() {
        let web = json!({"distinct_id": "u1", "identities": {
            "$identity_cookie_id": "c1", "$identity_login_id": "u1",
            "$identity_anonymous_id": "a1", "$identity_custom": "x"}});
        assert_eq!(
            ids(web, false, true),
            json!({"browserId": "c1", "userid": "u1", "deviceUUID": "a1", "custom": "x"})
        );
        let app = json!({"identities": {"$identity_android_id": "and-1", "$identity_android_uuid": "and-2",
            "$identity_idfv": "v1", "$identity_mobile": "138"}});
        assert_eq!(
            ids(app, false, false),
            json!({"androidUUID": "and-1", "iosUUID": "v1", "mobile": "138"})
        );
    }

    #[test]
    fn without_identities_the_distinct_id_is_anonymous_unless_marked() {
        let anonymous = json!({"distinct_id": "a1", "properties": {}});
        assert_eq!(
            ids(anonymous.clone(), false, false),
            json!({"deviceUUID": "a1"})
        );
        assert_eq!(ids(anonymous, false, true), json!({"browserId": "a1"}));
        let logged_in = json!({"distinct_id": "u1", "properties": {"$is_login_id": true}});
        assert_eq!(ids(logged_in, false, false), json!({"userid": "u1"}));
        let both = json!({"distinct_id": "u1", "login_id": "u1", "anonymous_id": "a1"});
        assert_eq!(
            ids(both, false, true),
            json!({"userid": "u1", "browserId": "a1"})
        );
    }

    #[test]
    fn a_signup_links_the_original_id_with_the_login_id() {
        let signup = json!({"distinct_id": "u1", "original_id": "a1", "event": "$SignUp"});
        assert_eq!(
            ids(signup, true, false),
            json!({"userid": "u1", "deviceUUID": "a1"})
        );
    }

    #[test]
    fn an_openid_is_scoped_by_its_app() {
        let mp = json!({"identities": {"$identity_mp_openid": "o1"}, "properties": {"$app_id": "wx123"}});
        assert_eq!(
            ids(mp, false, false),
            json!({"openid": "o1", "appid": "wx123"})
        );
    }

    #[test]
    fn identities_of_the_wrong_shape_are_refused() {
        let message = json!({"identities": ["x"]}).as_object().unwrap().clone();
        let subject = Subject {
            message: &message,
            properties: &Map::new(),
            signup: false,
            web: false,
        };
        let r = uidentity(&subject, &SensorsConfig::default()).unwrap_err();
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::InvalidType, Some("identities"))
        );
    }
}
