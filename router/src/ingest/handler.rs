//! `POST /slog/event`: from request to durable records to answer.
//!
//! Order of work: headers → body (limited) → decode → pipeline per message → one sink delivery for
//! everything accepted → answer. The answer waits for the sink, so a 200 means durable; when the
//! sink fails, no event of the request is reported accepted (503) and the SDK retries it whole.
use super::decode::{self, Payload};
use super::response::{self, Accepted, BatchResult, ItemResult};
use crate::enrich::client_ip::client_ip;
use crate::error::{Code, Rejection};
use crate::pipeline::RequestContext;
use crate::pipeline::{Admitted, Outcome, Refused};
use crate::sink::Record;
use crate::state::AppState;
use crate::telemetry::IngestMetrics;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// What a 503 for an unreachable identity store suggests to the SDK.
const IDENTITY_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// Takes one event or a batch, answered once the accepted events are durable.
#[utoipa::path(
    post,
    path = "/slog/event",
    tag = "events",
    description = crate::openapi::ingest::DESCRIPTION,
    params(crate::openapi::ingest::EventHeaders),
    request_body(
        content(
            (crate::openapi::ingest::EventBody = "application/json"),
            (crate::openapi::ingest::EventBody = "text/plain"),
        ),
        description = "JSON; `text/plain` is what `navigator.sendBeacon` sends for a string body",
    ),
    responses(crate::openapi::ingest::EventAnswers)
)]
pub async fn post_event(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match read_and_decode(&state, &headers, body).await {
        Ok(payload) => {
            let request = RequestContext {
                client_ip: client_ip(peer.ip(), &headers, &state.enrichers.trusted_proxies),
                user_agent: headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            };
            process(&state, &request, payload).await
        }
        Err(rejection) => {
            count_rejection(&rejection);
            rejection.into_response()
        }
    }
}

async fn read_and_decode(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Payload, Rejection> {
    let encoding = decode::check_headers(headers)?;
    let limit = state.limits.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
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
    })?;
    decode::decode(&bytes, encoding, &state.limits)
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

async fn process(state: &AppState, request: &RequestContext, payload: Payload) -> Response {
    let received_at = now_ms();
    let (single, messages) = match payload {
        Payload::One(m) => (true, vec![m]),
        Payload::Batch(ms) => (false, ms),
    };
    let snapshot = state.registry.snapshot();
    // One chain for the whole request: a reload swapping in a new one mid-batch does not split it.
    let chain = state.plugins.chain();
    let mut admissions: Vec<Result<Admitted, Refused>> = messages
        .into_iter()
        .map(|m| {
            state
                .pipeline
                .admit(&chain, &snapshot, request, m, received_at)
        })
        .collect();
    if let Some(identity) = &state.identity {
        let admitted = admissions.iter_mut().filter_map(|a| a.as_mut().ok());
        if let Err(e) = identity.apply(&snapshot, admitted).await {
            tracing::warn!(error = %e, "identity store failed; asking the client to retry");
            metrics::counter!("slog_events_rejected_total", "code" => Code::IdentityUnavailable.as_str())
                .increment(admissions.len() as u64);
            return response::unavailable(
                Code::IdentityUnavailable,
                IDENTITY_RETRY_AFTER,
                &e.to_string(),
            );
        }
    }
    let outcomes: Vec<Outcome> = admissions
        .into_iter()
        .map(|admission| match admission {
            Ok(admitted) => state.pipeline.complete(&chain, admitted),
            Err(refused) => Outcome::Rejected(refused),
        })
        .collect();

    // Accepted records, derived records and dead letters go to the sink together, moved out of
    // the outcomes (no copy of the serialised payloads): a 200 or a 400 is only given once they are
    // all durable, so a refused event is not lost either.
    let mut records: Vec<Record> = Vec::with_capacity(outcomes.len());
    let mut batch = BatchResult {
        accepted: 0,
        rejected: 0,
        results: Vec::with_capacity(outcomes.len()),
    };
    let mut tally = Tally::default();
    let mut to_register = Vec::new();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        batch.results.push(match outcome {
            Outcome::Accepted {
                event,
                record,
                findings,
                derived,
            } => {
                batch.accepted += 1;
                tally.accepted(&record.topic);
                tally.derived += derived.len() as u64;
                records.push(record);
                records.extend(derived);
                to_register.extend(findings.to_register);
                ItemResult::Accepted {
                    index,
                    event_id: event.event_id,
                    warnings: findings.warnings,
                }
            }
            Outcome::Rejected(Refused {
                rejection,
                dead_letter,
            }) => {
                batch.rejected += 1;
                if let Some(letter) = dead_letter {
                    tally.dead_letter(rejection.code);
                    records.push(letter);
                }
                ItemResult::Rejected {
                    index,
                    error: rejection,
                }
            }
        });
    }
    if !records.is_empty() {
        let count = records.len();
        let started = Instant::now();
        let delivered = state.sink.deliver(records).await;
        let sink = state.sink.name();
        state
            .ingest_metrics
            .sink_delivery(started.elapsed().as_secs_f64());
        if let Err(e) = delivered {
            tracing::warn!(error = %e, records = count, "sink refused a request's events");
            metrics::counter!("slog_sink_failures_total", "sink" => sink).increment(1);
            metrics::counter!("slog_events_rejected_total", "code" => Code::SinkUnavailable.as_str())
                .increment(batch.results.len() as u64);
            return response::unavailable(
                Code::SinkUnavailable,
                state.sink.retry_after(),
                &e.to_string(),
            );
        }
    }
    // Counted and registered only once the events are durable: a 503 accepted nothing.
    if !to_register.is_empty() {
        state.registry.auto_register(to_register);
    }
    tally.record(&state.ingest_metrics, &batch);
    if !single {
        return batch.into_response();
    }
    match batch.results.pop().expect("one message") {
        ItemResult::Accepted {
            event_id, warnings, ..
        } => axum::Json(Accepted {
            accepted: 1,
            event_id,
            warnings,
        })
        .into_response(),
        ItemResult::Rejected { error, .. } => error.into_response(),
    }
}

/// Per-request counts, turned into one metrics call per label instead of one per event.
#[derive(Default)]
struct Tally {
    /// Accepted events per topic (a request has one or two topics).
    accepted: Vec<(Arc<str>, u64)>,
    derived: u64,
    dead_letters: Vec<(Code, u64)>,
}

impl Tally {
    fn accepted(&mut self, topic: &Arc<str>) {
        bump(&mut self.accepted, topic, |t| t.clone());
    }

    fn dead_letter(&mut self, code: Code) {
        bump(&mut self.dead_letters, &code, |c| *c);
    }

    /// Records the counts of a request whose records are durable.
    fn record(self, metrics: &IngestMetrics, batch: &BatchResult) {
        for (topic, n) in self.accepted {
            metrics.accepted(&topic, n);
        }
        for (code, n) in self.dead_letters {
            metrics::counter!("slog_dead_letters_total", "code" => code.as_str()).increment(n);
        }
        if self.derived > 0 {
            metrics::counter!("slog_events_derived_total").increment(self.derived);
        }
        for result in &batch.results {
            match result {
                ItemResult::Accepted { warnings, .. } => {
                    for w in warnings {
                        metrics::counter!("slog_events_warnings_total", "code" => w.code.as_str())
                            .increment(1);
                    }
                }
                ItemResult::Rejected { error, .. } => count_rejection(error),
            }
        }
    }
}

fn bump<K: PartialEq>(counts: &mut Vec<(K, u64)>, key: &K, own: impl FnOnce(&K) -> K) {
    match counts.iter_mut().find(|(k, _)| k == key) {
        Some((_, n)) => *n += 1,
        None => counts.push((own(key), 1)),
    }
}

fn count_rejection(rejection: &Rejection) {
    metrics::counter!("slog_events_rejected_total", "code" => rejection.code.as_str()).increment(1);
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
