//! `POST /slog/event`: from request to durable records to answer.
//!
//! Order of work: headers → body (limited) → decode → pipeline per message → one sink delivery for
//! everything accepted → answer. The answer waits for the sink, so a 200 means durable; when the
//! sink fails, no event of the request is reported accepted (503) and the SDK retries it whole.
use super::decode::{self, Payload};
use super::response::{self, Accepted, BatchResult, ItemResult};
use super::AppState;
use crate::error::{Code, Rejection};
use crate::pipeline::Outcome;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub async fn post_event(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match read_and_decode(&state, &headers, body).await {
        Ok(payload) => process(&state, payload).await,
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

async fn process(state: &AppState, payload: Payload) -> Response {
    let received_at = now_ms();
    let (single, messages) = match payload {
        Payload::One(m) => (true, vec![m]),
        Payload::Batch(ms) => (false, ms),
    };
    let outcomes: Vec<Outcome> = messages
        .into_iter()
        .map(|m| state.pipeline.process(m, received_at))
        .collect();

    let records: Vec<_> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|(_, record)| record.clone()))
        .collect();
    if !records.is_empty() {
        let topics: Vec<_> = records.iter().map(|r| r.topic.clone()).collect();
        let started = Instant::now();
        let delivered = state.sink.deliver(records).await;
        let sink = state.sink.name();
        metrics::histogram!("slog_sink_delivery_seconds", "sink" => sink)
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = delivered {
            tracing::warn!(error = %e, events = topics.len(), "sink refused a request's events");
            metrics::counter!("slog_sink_failures_total", "sink" => sink).increment(1);
            metrics::counter!("slog_events_rejected_total", "code" => Code::SinkUnavailable.as_str())
                .increment(topics.len() as u64);
            return response::unavailable(state.sink.retry_after(), &e.to_string());
        }
        for topic in topics {
            metrics::counter!("slog_events_accepted_total", "topic" => topic.to_string())
                .increment(1);
        }
    }
    for rejection in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        count_rejection(rejection);
    }

    if single {
        return match outcomes.into_iter().next().expect("one message") {
            Ok((event, _)) => axum::Json(Accepted {
                accepted: 1,
                event_id: event.event_id,
            })
            .into_response(),
            Err(rejection) => rejection.into_response(),
        };
    }
    let mut batch = BatchResult {
        accepted: 0,
        rejected: 0,
        results: Vec::with_capacity(outcomes.len()),
    };
    for (index, outcome) in outcomes.into_iter().enumerate() {
        batch.results.push(match outcome {
            Ok((event, _)) => {
                batch.accepted += 1;
                ItemResult::Accepted {
                    index,
                    event_id: event.event_id,
                }
            }
            Err(error) => {
                batch.rejected += 1;
                ItemResult::Rejected { index, error }
            }
        });
    }
    batch.into_response()
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
