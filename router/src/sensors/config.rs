//! The `[sensors]` section of slog.toml: whether the Sensors Analytics receiver (`/sa`,
//! `/sa.gif`) runs, the project of messages that name none, which slog identity key each Sensors
//! identity becomes, and how far a client clock may be off before `_flush_time` corrects it.
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorsConfig {
    /// Serve `POST /sa` and `GET|POST /sa.gif`. Off: both answer 404.
    pub enabled: bool,
    /// The project of a message when neither the URL (`?project=`) nor the message names one.
    pub default_project: String,
    /// Sensors ID-Mapping identity keys (the `identities` object) → slog identity keys. A key not
    /// listed becomes its name without the `$identity_` prefix, and the project's policy decides
    /// on it like on any unregistered identity key.
    pub identity_keys: BTreeMap<String, String>,
    /// The slog key of a logged-in user's id (`login_id`, a `distinct_id` marked `$is_login_id`,
    /// a signup's `distinct_id`) when the message has no `identities`.
    pub login_key: String,
    /// The slog key of the anonymous id sent by the web SDK (`$lib` = `js`) when the message has
    /// no `identities`.
    pub web_anonymous_key: String,
    /// The same for every other SDK (Android, iOS, mini-programs, server SDKs).
    pub device_anonymous_key: String,
    /// When `_flush_time` (the SDK's clock when it sent the message) differs from slog's clock by
    /// more than this, the client's clock is taken to be off by the difference and the event time
    /// is corrected by it. 0 turns the correction off.
    pub clock_correction_threshold_ms: i64,
}

impl Default for SensorsConfig {
    fn default() -> Self {
        let keys = [
            ("$identity_login_id", "userid"),
            ("$identity_cookie_id", "browserId"),
            ("$identity_anonymous_id", "deviceUUID"),
            ("$identity_distinct_id", "deviceUUID"),
            ("$identity_android_id", "androidUUID"),
            ("$identity_android_uuid", "androidUUID"),
            ("$identity_android_oaid", "androidUUID"),
            ("$identity_idfa", "idfa"),
            ("$identity_idfv", "iosUUID"),
            ("$identity_ios_uuid", "iosUUID"),
            ("$identity_mobile", "mobile"),
            ("$identity_email", "email263"),
            ("$identity_mp_openid", "openid"),
            ("$identity_mp_wx_openid", "openid"),
            ("$identity_mp_unionid", "unionid"),
            ("$identity_mp_wx_unionid", "unionid"),
        ];
        SensorsConfig {
            enabled: true,
            default_project: "default".into(),
            identity_keys: keys
                .iter()
                .map(|(from, to)| (from.to_string(), to.to_string()))
                .collect(),
            login_key: "userid".into(),
            web_anonymous_key: "browserId".into(),
            device_anonymous_key: "deviceUUID".into(),
            clock_correction_threshold_ms: 5 * 60 * 1000,
        }
    }
}

impl SensorsConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.default_project.trim().is_empty() {
            return Err(InvalidConfig::new(
                "sensors.default_project must not be empty",
            ));
        }
        let keys = [
            ("login_key", &self.login_key),
            ("web_anonymous_key", &self.web_anonymous_key),
            ("device_anonymous_key", &self.device_anonymous_key),
        ];
        if let Some((name, _)) = keys.iter().find(|(_, key)| key.trim().is_empty()) {
            return Err(InvalidConfig(format!("sensors.{name} must not be empty")));
        }
        if let Some((from, _)) = self
            .identity_keys
            .iter()
            .find(|(_, to)| to.trim().is_empty())
        {
            return Err(InvalidConfig(format!(
                "sensors.identity_keys: `{from}` maps to an empty key"
            )));
        }
        if self.clock_correction_threshold_ms < 0 {
            return Err(InvalidConfig::new(
                "sensors.clock_correction_threshold_ms must be 0 (off) or more",
            ));
        }
        Ok(())
    }
}
