//! `GET|POST /sa` and `GET|POST /sa.gif`: the Sensors Analytics SDKs' endpoints.
//!
//! Order of work: enabled? → `Content-Type` → body (limited) → form → data (`sensors::payload`)
//! → each message translated (`sensors::translate`) → [`Pipeline::run_events`] → answer.
//!
//! The answers follow what the SDKs do with their queues (the mobile SDKs drop events on a 4xx
//! other than 403/404 and resend on a 5xx): a request whose data decodes is answered 200, and a
//! message slog refuses is dead-lettered with its reason rather than answered 4xx, so nothing is
//! lost and nothing is resent forever; data that cannot be decoded is 400 (resending it cannot
//! help); a sink that cannot take the events is 503 with `Retry-After` (the SDK resends). `GET`
//! (the web SDK's image mode) is answered with a 1×1 GIF.
//!
//! [`Pipeline::run_events`]: crate::pipeline::Pipeline::run_events
use super::body::refuse_unread;
use super::handler::{drain_of, read_body, request_context};
use super::response;
use crate::clock::now_ms;
use crate::error::{Code, Rejection};
use crate::event::Wire;
use crate::pipeline::{BatchOutcome, Refused};
use crate::sensors::form::Form;
use crate::sensors::payload::{self, PayloadLimits};
use crate::sensors::translate::{self, Context};
use crate::state::AppState;
use crate::telemetry::count_rejection;
use axum::body::Body;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::net::SocketAddr;

/// The smallest transparent GIF: what an `<img>` pointed at `/sa.gif` loads.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Content types a Sensors body comes in: a form, or the same text as `text/plain` (the web
/// SDK's beacon mode); some server SDKs send none.
const FORM_TYPES: [&str; 3] = ["application/x-www-form-urlencoded", "text/plain", ""];

/// How a request wants its answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// The batch result as JSON.
    Json,
    /// A 1×1 GIF (an `<img>` asked).
    Pixel,
}

/// Takes Sensors SDK messages posted as a form (server, app and mini-program SDKs).
#[utoipa::path(
    post,
    path = "/sa",
    tag = "events",
    description = super::sensors_described::POST_DESCRIPTION,
    params(super::sensors_described::SensorsQuery),
    request_body(
        content(
            (super::sensors_described::SensorsForm = "application/x-www-form-urlencoded"),
            (super::sensors_described::SensorsForm = "text/plain"),
        ),
    ),
    responses(super::sensors_described::PostAnswers)
)]
pub async fn post_sa(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(state, peer, query, headers, Some(body), Answer::Json).await
}

/// The same for the web SDK, which posts to `/sa.gif` (ajax, beacon and batch modes).
#[utoipa::path(
    post,
    path = "/sa.gif",
    tag = "events",
    description = super::sensors_described::POST_DESCRIPTION,
    params(super::sensors_described::SensorsQuery),
    request_body(
        content(
            (super::sensors_described::SensorsForm = "application/x-www-form-urlencoded"),
            (super::sensors_described::SensorsForm = "text/plain"),
        ),
    ),
    responses(super::sensors_described::PostAnswers)
)]
pub async fn post_sa_gif(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    query: RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(state, peer, query, headers, Some(body), Answer::Json).await
}

/// Takes one Sensors message in the query (the web SDK's default image mode).
#[utoipa::path(
    get,
    path = "/sa.gif",
    tag = "events",
    description = super::sensors_described::GET_DESCRIPTION,
    params(super::sensors_described::SensorsQuery),
    responses(super::sensors_described::GetAnswers)
)]
pub async fn get_sa_gif(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    query: RawQuery,
    headers: HeaderMap,
) -> Response {
    receive(state, peer, query, headers, None, Answer::Pixel).await
}

/// The same at `/sa`, for SDKs configured with a `/sa` URL that send images.
#[utoipa::path(
    get,
    path = "/sa",
    tag = "events",
    description = super::sensors_described::GET_DESCRIPTION,
    params(super::sensors_described::SensorsQuery),
    responses(super::sensors_described::GetAnswers)
)]
pub async fn get_sa(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    query: RawQuery,
    headers: HeaderMap,
) -> Response {
    receive(state, peer, query, headers, None, Answer::Pixel).await
}

async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Option<Body>,
    answer: Answer,
) -> Response {
    let Some(config) = state.sensors.as_deref() else {
        return Rejection::request(
            Code::NotFound,
            "the Sensors receiver is off ([sensors] enabled = false); events go to POST /slog/event",
        )
        .into_response();
    };
    let (messages, url_project) =
        match read_messages(&state, query.as_deref(), &headers, body).await {
            Ok(read) => read,
            Err(rejection) => {
                count_rejection(rejection.code, 1);
                return rejection.into_response();
            }
        };
    let received_at = now_ms();
    let context = Context {
        config,
        url_project: url_project.as_deref(),
        received_at,
    };
    let stages = state.pipeline.stages();
    let events = messages
        .iter()
        .map(|raw| {
            translate::to_event(raw, &context).map_err(|rejection| {
                stages.refuse_message(raw, Wire::Sensors, rejection, received_at)
            })
        })
        .collect::<Vec<Result<_, Refused>>>();
    let request = request_context(&state, peer, &headers);
    match state.pipeline.run_events(&request, events).await {
        BatchOutcome::Done(items) => match answer {
            Answer::Pixel => pixel(),
            // Refused messages are dead-lettered: the request as a whole was taken.
            Answer::Json => (StatusCode::OK, Json(response::batch(items))).into_response(),
        },
        BatchOutcome::Unavailable {
            code,
            retry_after,
            reason,
        } => response::unavailable(code, retry_after, &reason),
    }
}

/// The messages of the request and the project its URL names, or why it cannot be read.
async fn read_messages(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Option<Body>,
) -> Result<(Vec<serde_json::Value>, Option<String>), Rejection> {
    let limits = PayloadLimits {
        max_decoded_bytes: state.limits.max_decoded_bytes,
        max_batch_events: state.limits.max_batch_events,
        max_string_bytes: state.limits.max_string_bytes,
    };
    if query.map_or(0, str::len) > state.limits.max_body_bytes {
        return Err(Rejection::request(
            Code::BodyTooLarge,
            format!(
                "the query string is larger than {} bytes",
                state.limits.max_body_bytes
            ),
        ));
    }
    let bytes = match body {
        Some(body) => {
            if let Err(refused) = check_content_type(headers) {
                return Err(refuse_unread(body, drain_of(state), refused).await);
            }
            read_body(state, headers, body).await?
        }
        None => Default::default(),
    };
    let form = Form::parse(query, &bytes);
    let messages = payload::messages(&form, limits)?;
    Ok((messages, form.project))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = sent
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !FORM_TYPES.contains(&mime.as_str()) {
        return Err(Rejection::field(
            Code::UnsupportedMediaType,
            "Content-Type",
            format!(
                "a Sensors body is a form: Content-Type application/x-www-form-urlencoded (or \
                 text/plain), got {sent:?}"
            ),
        ));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(encoding.as_str(), "" | "identity") {
        return Err(Rejection::field(
            Code::UnsupportedEncoding,
            "Content-Encoding",
            format!(
                "a Sensors body is compressed inside the form (gzip=1), not with \
                 Content-Encoding; got {encoding:?}"
            ),
        ));
    }
    Ok(())
}

fn pixel() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-cache, no-store, must-revalidate"),
            ),
        ],
        PIXEL,
    )
        .into_response()
}
