//! `POST /slog/event`: from request to durable records to answer.
//!
//! Order of work: headers → body (limited) → decode → [`Pipeline::run`](crate::pipeline::Pipeline::run)
//! → answer. The pipeline answers only once the records are durable, so a 200 means durable; when
//! the sink fails, no event of the request is reported accepted (503) and the SDK retries it whole.
use super::body::{read_limited, refuse_unread, Drain};
use super::decode::{self, Payload};
use super::response;
use crate::clock::now_ms;
use crate::enrich::client_ip::client_ip;
use crate::error::Rejection;
use crate::pipeline::{BatchOutcome, RequestContext};
use crate::state::AppState;
use crate::telemetry::count_rejection;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Duration;

/// Takes one event or a batch, answered once the accepted events are durable.
#[utoipa::path(
    post,
    path = "/slog/event",
    tag = "events",
    description = super::described::DESCRIPTION,
    params(super::described::EventHeaders),
    request_body(
        content(
            (super::described::EventBody = "application/json"),
            (super::described::EventBody = "text/plain"),
        ),
        description = "JSON; `text/plain` is what `navigator.sendBeacon` sends for a string body",
    ),
    responses(super::described::EventAnswers)
)]
pub async fn post_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_and_decode(&state, &headers, body).await {
        Ok(payload) => {
            let request = request_context(&state, peer, &headers);
            process(&state, &request, payload).await
        }
        Err(rejection) => {
            count_rejection(rejection.code, 1);
            rejection.into_response()
        }
    }
}

/// What enrichment reads from the request: the client's address and User-Agent.
pub(super) fn request_context(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
) -> RequestContext {
    RequestContext {
        client_ip: client_ip(peer.ip(), headers, &state.enrichers.trusted_proxies),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

async fn read_and_decode(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Payload, Rejection> {
    let encoding = match decode::check_headers(headers) {
        Ok(encoding) => encoding,
        Err(refused) => return Err(refuse_unread(body, drain_of(state), refused).await),
    };
    let bytes = read_body(state, headers, body).await?;
    decode::decode(&bytes, encoding, &state.limits)
}

/// The request body, refused past `server.max_body_bytes` (see `body::read_limited`).
pub(super) async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, Rejection> {
    read_limited(body, headers, state.limits.max_body_bytes, drain_of(state)).await
}

/// How much of a refused body is read before answering (`limits.drain_bytes`, `drain_ms`).
pub(super) fn drain_of(state: &AppState) -> Drain {
    let limits = state.admission.config();
    Drain {
        bytes: limits.drain_bytes,
        time: Duration::from_millis(limits.drain_ms),
    }
}

/// Runs the messages through the pipeline and answers as the SDK expects: one event gets the
/// single-event answer, an array the batch answer.
async fn process(state: &AppState, request: &RequestContext, payload: Payload) -> Response {
    let (single, messages) = match payload {
        Payload::One(m) => (true, vec![m]),
        Payload::Batch(ms) => (false, ms),
    };
    match state.pipeline.run(request, messages, now_ms()).await {
        BatchOutcome::Done(items) if single => {
            response::single(items.into_iter().next().expect("one message"))
        }
        BatchOutcome::Done(items) => response::batch(items).into_response(),
        BatchOutcome::Unavailable {
            code,
            retry_after,
            reason,
        } => response::unavailable(code, retry_after, &reason),
    }
}
