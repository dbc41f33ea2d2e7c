//! `[limits]`: how much work slog takes on before it refuses more — requests at once, request
//! sizes, and rates per client address, per project and of failed admin logins.
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Event requests handled at once; past it a request is answered 503 `overloaded` at once
    /// instead of queueing until it times out. 0 turns the cap off.
    pub max_in_flight: usize,
    /// Longest request target (path and query string) in bytes: 414 `url_too_long`.
    pub max_url_bytes: usize,
    /// Largest sum of header names and values in bytes: 431 `headers_too_large`.
    pub max_header_bytes: usize,
    /// After a body is refused as too large, how many more bytes slog reads and discards so that
    /// a client that writes its whole body before reading sees the 413 instead of a reset.
    pub drain_bytes: usize,
    /// How long that draining may take, in milliseconds.
    pub drain_ms: u64,
    /// Event requests per second from one client address (an IPv6 client by its /64); 0 is off.
    pub per_ip_requests_per_sec: u32,
    /// Requests one address may send at once above its rate.
    pub per_ip_burst: u32,
    /// Events per second into one project; 0 is off.
    pub per_project_events_per_sec: u32,
    /// Events one project may take at once above its rate (at least `server.max_batch_events`).
    pub per_project_burst: u32,
    /// Failed admin logins one address may make per minute before all its admin requests are
    /// refused (429) until the minute is over.
    pub admin_failures_per_minute: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_in_flight: 1024,
            max_url_bytes: 64 * 1024,
            max_header_bytes: 64 * 1024,
            drain_bytes: 8 * 1024 * 1024,
            drain_ms: 5000,
            per_ip_requests_per_sec: 0,
            per_ip_burst: 200,
            per_project_events_per_sec: 0,
            per_project_burst: 10_000,
            admin_failures_per_minute: 10,
        }
    }
}

impl LimitsConfig {
    pub fn validate(&self, max_batch_events: usize) -> Result<(), InvalidConfig> {
        if self.max_url_bytes == 0 || self.max_header_bytes == 0 {
            return Err(InvalidConfig::new(
                "limits.max_url_bytes and limits.max_header_bytes must be at least 1",
            ));
        }
        if self.per_ip_requests_per_sec > 0 && self.per_ip_burst == 0 {
            return Err(InvalidConfig::new(
                "limits.per_ip_burst must be at least 1 when limits.per_ip_requests_per_sec is set",
            ));
        }
        if self.per_project_events_per_sec > 0
            && (self.per_project_burst as usize) < max_batch_events
        {
            return Err(InvalidConfig::new(
                "limits.per_project_burst must be at least server.max_batch_events, or a full \
                 batch could never be accepted",
            ));
        }
        if self.admin_failures_per_minute == 0 {
            return Err(InvalidConfig::new(
                "limits.admin_failures_per_minute must be at least 1",
            ));
        }
        Ok(())
    }
}
