//! The `[enrich]` section of slog.toml: trusted proxies, the GeoIP database, the User-Agent cache
//! and the first_referrer profile.
use super::client_ip::TrustedProxies;
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;
use std::path::PathBuf;

/// The `[enrich]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichConfig {
    /// Proxies/load balancers in front of slog (CIDRs or addresses) whose X-Forwarded-For and
    /// X-Real-IP are believed. Empty: the peer address is the client address.
    pub trusted_proxies: Vec<String>,
    /// A GeoIP2/GeoLite2-City .mmdb file; unset: country/province/city are not filled.
    pub geoip_path: Option<PathBuf>,
    /// Locale of place names, falling back to `en`.
    pub geoip_locale: String,
    /// How often (seconds) the GeoIP file is checked for replacement.
    pub geoip_check_secs: u64,
    /// Distinct User-Agent strings whose parse is kept.
    pub ua_cache_size: usize,
    /// Emit the first_referrer profile_insert (tracking plan §3.3.4).
    pub first_referrer_profile: bool,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            trusted_proxies: Vec::new(),
            geoip_path: None,
            geoip_locale: "zh-CN".into(),
            geoip_check_secs: 5,
            ua_cache_size: 10_000,
            first_referrer_profile: true,
        }
    }
}

impl EnrichConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        TrustedProxies::parse(&self.trusted_proxies)?;
        if self.geoip_check_secs == 0 || self.ua_cache_size == 0 {
            return Err(InvalidConfig::new(
                "enrich.geoip_check_secs and enrich.ua_cache_size must be at least 1",
            ));
        }
        Ok(())
    }
}
