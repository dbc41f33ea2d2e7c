//! Enrichment sources (tracking plan §3.3.2, §4 collection rules): client IP behind proxies, GeoIP,
//! user agents, URL parts. Each is a small piece tested on its own; `pipeline::enrich` applies
//! them to events by the tracking plan's ct rules.
pub mod client_ip;
pub mod config;
pub mod geo;
pub mod url_parts;
pub mod user_agent;

use crate::invalid_config::InvalidConfig;
pub use config::EnrichConfig;
use std::sync::Arc;
use std::time::Duration;

/// Everything enrichment needs that outlives a request.
pub struct Enrichers {
    pub trusted_proxies: client_ip::TrustedProxies,
    pub geo: geo::Geo,
    pub user_agents: user_agent::UserAgents,
}

impl Enrichers {
    pub fn new(config: &EnrichConfig) -> Result<Enrichers, InvalidConfig> {
        Ok(Enrichers {
            trusted_proxies: client_ip::TrustedProxies::parse(&config.trusted_proxies)?,
            geo: geo::Geo::open(
                config
                    .geoip_path
                    .clone()
                    .filter(|p| !p.as_os_str().is_empty()),
                &config.geoip_locale,
            ),
            user_agents: user_agent::UserAgents::new(config.ua_cache_size),
        })
    }

    /// Re-checks the GeoIP file every `every`, for replacement without a restart.
    pub fn spawn_geo_watch(self: &Arc<Self>, every: Duration) {
        let enrichers = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(e) = enrichers.upgrade() else { return };
                tokio::task::spawn_blocking(move || e.geo.reload_if_changed());
            }
        });
    }
}
