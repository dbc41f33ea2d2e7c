//! `POST /slog/event`: from request to durable records to answer.
//!
//! Order of work: headers → body (limited) → decode → [`Pipeline::run`](crate::pipeline::Pipeline::run)
//! → answer. The pipeline answers only once the records are durable, so a 200 means durable; when
//! the sink fails, no event of the request is reported accepted (503) and the SDK retries it whole.
use super::decode::{self, Payload};
use super::response;
use crate::clock::now_ms;
use crate::enrich::client_ip::client_ip;
use crate::error::{Code, Rejection};
use crate::pipeline::{BatchOutcome, RequestContext};
use crate::state::AppState;
use crate::telemetry::count_rejection;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

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
    let encoding = decode::check_headers(headers)?;
    let bytes = read_body(state, body).await?;
    decode::decode(&bytes, encoding, &state.limits)
}

/// The request body, refused past `server.max_body_bytes`.
pub(super) async fn read_body(state: &AppState, body: Body) -> Result<Bytes, Rejection> {
    let limit = state.limits.max_body_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            Rejection::request(
                Code::BodyTooLarge,
                format!("the body is larger than {limit} bytes"),
            )
        } else {
            Rejection::request(
                Code::InvalidJson,
                format!("the body could not be read: {e}"),
            )
        }
    })
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
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
