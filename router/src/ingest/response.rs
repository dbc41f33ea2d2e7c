//! HTTP answers of the ingest endpoint: status codes and JSON bodies.
//!
//! - one event accepted: `200 {"accepted": 1, "event_id": "...", "warnings": [...]}` (warnings
//!   only under the `lenient` policy)
//! - one event refused: `4xx {"error": {"code", "field", "message"}}`
//! - a batch: `200 {"accepted": n, "rejected": m, "results": [{"index", "event_id"} | {"index", "error"}]}`,
//!   or 400 with the same body when no event of it was accepted
//! - sink unavailable: `503` with `Retry-After` and an error body; nothing of the request is accepted.
use crate::error::{Code, Rejection};
use crate::pipeline::ItemOutcome;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;
use uuid::Uuid;

/// The answer when the sink could not take the events: 503, retry after the given delay.
pub fn unavailable(code: Code, retry_after: Duration, reason: &str) -> Response {
    let rejection = Rejection::request(
        code,
        format!("events were not accepted, retry later: {reason}"),
    );
    let mut response = rejection.into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after.as_secs().max(1)),
    );
    response
}

/// One event accepted: it is durable.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    /// Always 1.
    #[schema(minimum = 1, maximum = 1)]
    pub accepted: usize,
    /// The id the event carries in its output record (UUIDv7).
    pub event_id: Uuid,
    /// Unknown names accepted under the `lenient` policy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Rejection>,
}

/// One entry of a batch answer, in the order of the batch.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ItemResult {
    /// The event at `index` was accepted.
    #[schema(title = "AcceptedItem")]
    Accepted {
        index: usize,
        event_id: Uuid,
        /// Unknown names accepted under the `lenient` policy.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<Rejection>,
    },
    /// The event at `index` was refused.
    #[schema(title = "RejectedItem")]
    Rejected { index: usize, error: Rejection },
}

/// The answer to a batch: one result per event of it.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub accepted: usize,
    pub rejected: usize,
    pub results: Vec<ItemResult>,
}

/// The batch answer for the pipeline's per-message outcomes, in request order.
pub fn batch(items: Vec<ItemOutcome>) -> BatchResult {
    let mut result = BatchResult {
        accepted: 0,
        rejected: 0,
        results: Vec::with_capacity(items.len()),
    };
    for (index, item) in items.into_iter().enumerate() {
        result.results.push(match item {
            ItemOutcome::Accepted { event_id, warnings } => {
                result.accepted += 1;
                ItemResult::Accepted {
                    index,
                    event_id,
                    warnings,
                }
            }
            ItemOutcome::Rejected(error) => {
                result.rejected += 1;
                ItemResult::Rejected { index, error }
            }
        });
    }
    result
}

/// The answer to a request of one event: its acceptance or its error.
pub fn single(item: ItemOutcome) -> Response {
    match item {
        ItemOutcome::Accepted { event_id, warnings } => Json(Accepted {
            accepted: 1,
            event_id,
            warnings,
        })
        .into_response(),
        ItemOutcome::Rejected(error) => error.into_response(),
    }
}

impl IntoResponse for BatchResult {
    fn into_response(self) -> Response {
        // A batch with nothing accepted is a client error as a whole; a partly accepted batch is
        // a 200 so that SDKs do not resend (and duplicate) the accepted part.
        let status = if self.accepted == 0 {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        (status, Json(self)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_carries_retry_after_of_at_least_one_second() {
        let r = unavailable(
            Code::SinkUnavailable,
            Duration::from_millis(10),
            "broker down",
        );
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
