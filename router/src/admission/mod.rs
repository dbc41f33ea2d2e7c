//! Admission control: what a request must pass before slog spends work on it — the size of its
//! URL and headers, a free in-flight slot, its client address's and its project's rates — and
//! the lockout of addresses that keep failing the admin login.
//!
//! Everything here is refused cheaply and answered at once: a 414 or 431 before the body is
//! read, a 503 `overloaded` instead of a queue that makes every request late, a 429 with
//! `Retry-After` for a client or project over its rate. The HTTP glue lives with the routes
//! (`ingest::admit`, `admin::auth`); this module holds the state and the rules.
mod client_key;
pub mod config;
mod failed_logins;
mod rate;

pub use client_key::ClientKey;
pub use config::LimitsConfig;
pub use failed_logins::FailedLogins;
pub use rate::Buckets;

use crate::error::{Code, Rejection};
use axum::http::{header, HeaderMap, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The admission state of one slog process, shared by every request.
pub struct Admission {
    config: LimitsConfig,
    in_flight: Option<Arc<Semaphore>>,
    per_client: Option<Buckets<ClientKey>>,
    /// Per project, in events; the pipeline takes from it once it knows each event's project.
    pub per_project: Option<Arc<Buckets<String>>>,
    pub failed_logins: FailedLogins,
}

/// Why a request was refused before any of its work was done.
#[derive(Debug)]
pub struct Refusal {
    pub rejection: Rejection,
    /// `Retry-After` for refusals a client should simply repeat later.
    pub retry_after: Option<Duration>,
    /// The `reason` label of `slog_requests_limited_total`.
    pub reason: &'static str,
}

impl Admission {
    pub fn new(config: &LimitsConfig) -> Self {
        Admission {
            in_flight: (config.max_in_flight > 0)
                .then(|| Arc::new(Semaphore::new(config.max_in_flight))),
            per_client: Buckets::new(config.per_ip_requests_per_sec, config.per_ip_burst),
            per_project: Buckets::new(config.per_project_events_per_sec, config.per_project_burst)
                .map(Arc::new),
            failed_logins: FailedLogins::new(config.admin_failures_per_minute),
            config: config.clone(),
        }
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.config
    }

    /// The URL and header caps, checked before anything is read.
    pub fn check_sizes(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        let url = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
        if url > self.config.max_url_bytes {
            return Err(refusal(
                Code::UrlTooLong,
                None,
                "url_too_long",
                format!(
                    "the URL is {url} bytes, more than limits.max_url_bytes ({}); send the \
                     events in a POST body",
                    self.config.max_url_bytes
                ),
            ));
        }
        let header_bytes: usize = headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len())
            .sum();
        if header_bytes > self.config.max_header_bytes {
            return Err(refusal(
                Code::HeadersTooLarge,
                None,
                "headers_too_large",
                format!(
                    "the headers are {header_bytes} bytes, more than limits.max_header_bytes ({})",
                    self.config.max_header_bytes
                ),
            ));
        }
        Ok(())
    }

    /// One request of `client` against its address's rate.
    pub fn take_client(&self, client: ClientKey) -> Result<(), Refusal> {
        let Some(buckets) = &self.per_client else {
            return Ok(());
        };
        buckets.take(&client, 1).map_err(|wait| {
            refusal(
                Code::RateLimited,
                Some(wait),
                "client_rate",
                format!(
                    "this address sends more than limits.per_ip_requests_per_sec ({}) requests \
                     a second",
                    self.config.per_ip_requests_per_sec
                ),
            )
        })
    }

    /// A slot among the requests in flight, held until the answer is ready; `None` when the cap
    /// is off.
    pub fn enter(&self) -> Result<Option<OwnedSemaphorePermit>, Refusal> {
        let Some(slots) = &self.in_flight else {
            return Ok(None);
        };
        slots.clone().try_acquire_owned().map(Some).map_err(|_| {
            refusal(
                Code::Overloaded,
                Some(Duration::from_secs(1)),
                "overloaded",
                format!(
                    "slog is handling limits.max_in_flight ({}) requests already",
                    self.config.max_in_flight
                ),
            )
        })
    }

    /// Forgets the buckets of clients and projects that have been quiet, so that the maps do
    /// not grow with every address ever seen.
    pub fn forget_idle(&self) {
        if let Some(b) = &self.per_client {
            b.forget_idle();
        }
        if let Some(b) = &self.per_project {
            b.forget_idle();
        }
        self.failed_logins.forget_expired();
    }
}

/// The answer to a refused request, counted by reason, with `Retry-After` in whole seconds
/// rounded up (a client told 0 would retry at once).
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        count(self.reason);
        let mut response = self.rejection.into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

fn refusal(
    code: Code,
    retry_after: Option<Duration>,
    reason: &'static str,
    message: String,
) -> Refusal {
    Refusal {
        rejection: Rejection::request(code, message),
        retry_after,
        reason,
    }
}

/// Counts a refusal under `slog_requests_limited_total{reason}`.
pub fn count(reason: &'static str) {
    metrics::counter!("slog_requests_limited_total", "reason" => reason).increment(1);
}
