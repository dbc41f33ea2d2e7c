//! The token check of the admin and report APIs, with its lockout: a client that keeps
//! presenting wrong tokens is refused (429) for the rest of its minute, right token or not, and
//! every failure is counted in `slog_auth_failures_total{api}`.
use crate::admission::{ClientKey, Refusal};
use crate::bearer;
use crate::enrich::client_ip::client_ip;
use crate::error::{Code, Rejection};
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// `None` (let it through) when `valid` holds for the request's presented token; else the
/// answer: the 401 (with `hint`), or the 429 of a locked-out client.
pub fn check(
    state: &AppState,
    request: &Request,
    api: &'static str,
    presented: Option<&str>,
    valid: impl FnOnce(&str) -> bool,
    hint: &str,
) -> Option<Response> {
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            ClientKey::from(client_ip(
                peer.ip(),
                request.headers(),
                &state.enrichers.trusted_proxies,
            ))
        });
    let logins = &state.admission.failed_logins;
    if let Some(wait) = client.and_then(|c| logins.locked(c)) {
        return Some(
            Refusal {
                rejection: Rejection::field(
                    Code::RateLimited,
                    "Authorization",
                    format!(
                        "too many wrong tokens from this address: {api} requests are refused for \
                     the rest of the minute"
                    ),
                ),
                retry_after: Some(wait),
                reason: "auth_lockout",
            }
            .into_response(),
        );
    }
    if presented.is_some_and(valid) {
        return None;
    }
    metrics::counter!("slog_auth_failures_total", "api" => api).increment(1);
    if let Some(c) = client {
        logins.record_failure(c);
    }
    Some(bearer::unauthorized(hint))
}
