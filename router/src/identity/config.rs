//! The `[identity]` section of slog.toml: where the identity store lives, key strengths and
//! priorities, junk values, caches, and what to do when the store cannot be reached.
use super::junk::{default_junk_by_key, DEFAULT_JUNK};
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Resolve and link identities. Off: events pass with the uuid the client sent, if any.
    pub enabled: bool,
    /// The identity store's database; unset: the registry's database (`registry.url`).
    pub url: Option<String>,
    /// Redis shared by every instance in front of the database; unset: `registry.redis_url`.
    pub redis_url: Option<String>,
    /// Account-level keys, strongest first: each names one person, and two values of one of
    /// these keys are never merged into one uuid.
    pub account_keys: Vec<String>,
    /// Device/cookie-level keys, in lookup order after the account keys. Registered identity
    /// keys listed in neither list are device keys tried last.
    pub device_keys: Vec<String>,
    /// Keys that never link (besides `appid`, which only scopes `openid`).
    pub ignored_keys: Vec<String>,
    /// Values that never link, compared case-insensitively after trimming; empty values and
    /// values made only of zeros and separators are always junk.
    pub junk_values: Vec<String>,
    /// Values that never link under one key only (`{imei = ["004999010640000"]}`); the table
    /// replaces the defaults.
    pub junk_values_by_key: BTreeMap<String, Vec<String>>,
    /// A device identity seen on more people with accounts than this (a shared device moving
    /// from one account to another) stops linking: it goes on the blocklist that
    /// `GET /admin/identities/blocked` shows. 0 turns the guard off.
    pub max_accounts_per_device: usize,
    /// Identities whose uuid each instance keeps in memory.
    pub cache_size: usize,
    /// How long an in-memory entry is believed at most (identities in use are re-read in the
    /// background from 60–80% of it on); bounds how long another instance's merge or unlink
    /// stays unseen here.
    pub cache_ttl_secs: u64,
    /// Lifetime of an identity's uuid in Redis (refreshed on every lookup that fills it).
    pub redis_ttl_secs: u64,
    /// When the store cannot be reached: `pass` (route the event with `uuid_source =
    /// "unresolved"`, counted) or `unavailable` (answer 503 so the SDK retries the request).
    pub on_store_error: OnStoreError,
    /// A merge whose record the sink has not acknowledged this long after the merge (its
    /// request was refused, or slog stopped in between) is sent again from the outbox.
    pub merge_resend_after_ms: u64,
    /// How often the outbox is looked at.
    pub merge_resend_interval_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnStoreError {
    Pass,
    Unavailable,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        let strings = |s: &[&str]| s.iter().map(|k| k.to_string()).collect();
        IdentityConfig {
            enabled: true,
            url: None,
            redis_url: None,
            account_keys: strings(&["userid", "mobile", "unionid", "idCard", "email263"]),
            device_keys: strings(&[
                "deviceUUID",
                "idfa",
                "iosUUID",
                "imei",
                "androidUUID",
                "openid",
                "wx-id",
                "browserId",
                "uvId",
                "macAddress",
                "qq",
                "chatId",
                "opptunityId",
                "orderDetailId",
                "clickId",
            ]),
            ignored_keys: Vec::new(),
            junk_values: strings(DEFAULT_JUNK),
            junk_values_by_key: default_junk_by_key(),
            max_accounts_per_device: 4,
            cache_size: 200_000,
            cache_ttl_secs: 30,
            redis_ttl_secs: 24 * 60 * 60,
            on_store_error: OnStoreError::Pass,
            merge_resend_after_ms: 30_000,
            merge_resend_interval_ms: 5_000,
        }
    }
}

impl IdentityConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.cache_size == 0
            || self.cache_ttl_secs == 0
            || self.redis_ttl_secs == 0
            || self.merge_resend_interval_ms == 0
        {
            return Err(InvalidConfig::new(
                "identity.cache_size, cache_ttl_secs, redis_ttl_secs and merge_resend_interval_ms must be at least 1",
            ));
        }
        if let Some(key) = self
            .account_keys
            .iter()
            .find(|k| self.device_keys.contains(k))
        {
            return Err(InvalidConfig(format!(
                "identity key `{key}` is listed as both an account key and a device key"
            )));
        }
        Ok(())
    }
}
