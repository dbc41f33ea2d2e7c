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

/// The status each error code answers with.
pub fn status_of(code: Code) -> StatusCode {
    match code {
        Code::BodyTooLarge | Code::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Code::UnsupportedMediaType | Code::UnsupportedEncoding => {
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        }
        Code::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Code::NotFound | Code::AdminDisabled | Code::ReportsDisabled => StatusCode::NOT_FOUND,
        Code::SinkUnavailable
        | Code::RegistryUnavailable
        | Code::IdentityUnavailable
        | Code::WarehouseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthorized => StatusCode::UNAUTHORIZED,
        Code::AlreadyExists | Code::PresetProtected => StatusCode::CONFLICT,
        // The new plugin chain was not loaded: the request was fine, the files are not.
        Code::PluginReloadFailed => StatusCode::UNPROCESSABLE_ENTITY,
        Code::InvalidJson
        | Code::InvalidType
        | Code::MissingField
        | Code::InvalidValue
        | Code::UnknownField
        | Code::UnsupportedStype
        | Code::EmptyBatch
        | Code::InvalidGzip
        | Code::UnregisteredEvent
        | Code::UnknownProperty
        | Code::TypeMismatch
        | Code::PluginRejected
        | Code::PluginFailed
        | Code::InvalidReport => StatusCode::BAD_REQUEST,
    }
}

/// The body of every refusal (4xx) and of a 503.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    #[schema(value_type = Rejection)]
    error: &'a Rejection,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        (status_of(self.code), Json(ErrorBody { error: &self })).into_response()
    }
}

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
    fn client_errors_are_4xx_and_only_the_sink_is_5xx() {
        for code in [
            Code::InvalidJson,
            Code::InvalidType,
            Code::MissingField,
            Code::InvalidValue,
            Code::UnknownField,
            Code::UnsupportedStype,
            Code::EmptyBatch,
            Code::BatchTooLarge,
            Code::BodyTooLarge,
            Code::InvalidGzip,
            Code::UnsupportedMediaType,
            Code::UnsupportedEncoding,
            Code::MethodNotAllowed,
            Code::NotFound,
        ] {
            assert!(status_of(code).is_client_error(), "{code:?}");
        }
        assert_eq!(
            status_of(Code::SinkUnavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

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
