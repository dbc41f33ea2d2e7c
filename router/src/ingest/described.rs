//! The OpenAPI description of `POST /slog/event`: the request body (the tracking plan's §3.1 message, one
//! or a batch), the `Content-Encoding` header and every answer the handler gives.
//!
//! The handler reads its body as JSON values and `pipeline::normalize` checks them field by
//! field, so that every refusal names its field; [`Message`] only describes that wire format (the
//! tests below hold it to what `normalize` accepts). The answers are the handler's own types
//! (`ingest::response`).
use super::response::{Accepted, BatchResult};
use crate::error_response::ErrorBody;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{IntoParams, IntoResponses, PartialSchema, ToSchema};

/// The operation's description beside its summary (the handler's doc comment).
pub const DESCRIPTION: &str = "The body is one message or a JSON array of them (a batch), \
    optionally gzip-compressed (`Content-Encoding: gzip`), at most `server.max_body_bytes` as sent \
    (1 MiB by default) and `server.max_decoded_bytes` once decompressed (8 MiB). A 200 means \
    durable: with Kafka every record of the request was acknowledged (acks=all), with the file \
    sink its lines were written. Delivery is at-least-once: a request answered 503 may have had \
    some of its events stored, and its resend stores them again under new `event_id`s.\n\n\
    Other methods are answered 405 `method_not_allowed` with `Allow: POST, OPTIONS`; `OPTIONS` \
    is the CORS preflight, answered for the origins in `server.cors_allowed_origins`.";

/// One SDK message in the tracking plan's §3.1 format: a track event (`stype` 100) or a profile message
/// (101–106). Any other top-level field is refused (`unknown_field`): event properties belong in
/// `ps`. Which `eid`, `ps` and `uidentity` names are accepted is up to the metadata registry and
/// the project's policy (`strict` refuses unregistered names with `unregistered_event` /
/// `unknown_property`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "stype": 100, "eid": "pageview", "project": "zhibo", "ver": "js1.1.0",
    "ps": {"url": "https://www.example.com/course/1", "title": "course"},
    "uidentity": {"deviceUUID": "d-1"}
}))]
pub struct Message {
    /// The project (business line) the message belongs to.
    #[schema(min_length = 1, max_length = 64)]
    pub project: String,
    /// 100 track, 101 profile_update, 102 profile_insert, 103 profile_unset, 104
    /// profile_append, 105 profile_increment, 106 profile_delete. Other values in 100–199 are
    /// reserved (`unsupported_stype`); outside 100–199 is `invalid_value`.
    #[schema(minimum = 100, maximum = 106)]
    pub stype: i64,
    /// The event name: required for track messages, optional for profile messages.
    #[schema(min_length = 1, max_length = 64)]
    pub eid: Option<String>,
    /// Default true: the receive time is the event time and a sent `time` is kept as
    /// `client_time`.
    pub use_server_time: Option<bool>,
    /// Epoch milliseconds; required when `use_server_time` is false (history import), and then
    /// between 2000-01-01 and one day after the server's clock.
    pub time: Option<i64>,
    /// Site id.
    pub sid: Option<String>,
    /// SDK version, e.g. `js1.1.0`.
    pub ver: Option<String>,
    #[schema(schema_with = cache_buster)]
    pub r: Option<Value>,
    /// Event properties (profile properties for stype 101–106); each key must be registered and
    /// each value must match its registered `value_type`.
    #[schema(value_type = Option<Object>)]
    pub ps: Option<Map<String, Value>>,
    /// The user's identities (`uuid`, `userid`, `mobile`, `deviceUUID`, ...). Values are strings
    /// or integers (an integer counts as its decimal text; a fraction or an integer beyond ±2^53
    /// is `invalid_value`); an empty or null value is dropped.
    #[schema(value_type = Option<Object>)]
    pub uidentity: Option<Map<String, Value>>,
}

/// The body of `POST /slog/event`: one message, or a batch of them (a JSON array of at most
/// `server.max_batch_events`, 500 by default).
pub struct EventBody;

impl PartialSchema for EventBody {
    fn schema() -> RefOr<Schema> {
        let batch = ArrayBuilder::new()
            .items(schema_ref::<Message>())
            .min_items(Some(1));
        OneOfBuilder::new()
            .item(schema_ref::<Message>())
            .item(batch)
            .into()
    }
}

impl ToSchema for EventBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Message::name().into_owned(), Message::schema()));
        Message::schemas(schemas);
    }
}

/// The request headers the handler reads besides `Content-Type`.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct EventHeaders {
    /// `gzip` (or `x-gzip`) for a gzip-compressed body; absent or `identity` for a plain one
    /// (case-insensitive). Anything else is answered 415 `unsupported_encoding`.
    #[param(rename = "Content-Encoding", value_type = ContentEncoding, required = false, inline)]
    pub content_encoding: Option<String>,
}

/// The `Content-Encoding` values the handler decodes.
#[derive(ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ContentEncoding {
    Identity,
    Gzip,
    XGzip,
}

/// Every answer of `POST /slog/event`.
pub struct EventAnswers;

impl IntoResponses for EventAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let error = || schema_ref::<ErrorBody>();
        let batch = || schema_ref::<BatchResult>();
        [
            (
                "200",
                json(
                    "Durable: one event accepted, or a batch with at least one event accepted \
                     (its refused events are listed in `results`; do not resend the batch)",
                    one_of([schema_ref::<Accepted>(), batch()]),
                ),
            ),
            (
                "400",
                json(
                    "Refused: the event (or the request) breaks a rule, named by `code` and \
                     `field`; a batch with no event accepted answers with its results. \
                     Well-formed events the registry or a plugin refused go to the dead-letter \
                     topic",
                    one_of([error(), batch()]),
                ),
            ),
            (
                "413",
                json(
                    "`body_too_large` (before or after gzip) or `batch_too_large`",
                    error(),
                ),
            ),
            (
                "415",
                json(
                    "`unsupported_media_type` (Content-Type is not application/json or \
                     text/plain) or `unsupported_encoding`",
                    error(),
                ),
            ),
            ("503", unavailable()),
        ]
        .into_iter()
        .chain(admission_refusals())
        .map(|(status, response)| (status.to_owned(), response.build().into()))
        .collect()
    }
}

/// The answers of the admission guard in front of every event route (`[limits]`).
pub(super) fn admission_refusals() -> [(&'static str, ResponseBuilder); 3] {
    let error = || schema_ref::<ErrorBody>();
    [
        (
            "414",
            json(
                "`url_too_long`: the URL is over `limits.max_url_bytes`",
                error(),
            ),
        ),
        (
            "429",
            json(
                "`rate_limited`: the client address or the project is over its rate \
                 (`limits.per_ip_requests_per_sec`, `limits.per_project_events_per_sec`); \
                 nothing of the request was accepted, resend it after `Retry-After`",
                error(),
            )
            .header("Retry-After", retry_after()),
        ),
        (
            "431",
            json(
                "`headers_too_large`: the headers are over `limits.max_header_bytes`",
                error(),
            ),
        ),
    ]
}

fn retry_after() -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some("Seconds to wait before resending"))
        .build()
}

/// The 503 of the event endpoints: nothing accepted, resend after `Retry-After`.
pub(super) fn unavailable() -> ResponseBuilder {
    json(
        "`sink_unavailable`, `identity_unavailable` or `session_store_unavailable`, or `overloaded` (more requests in flight \
         than `limits.max_in_flight`): nothing of the request was accepted; resend it whole \
         after `Retry-After`",
        schema_ref::<ErrorBody>(),
    )
    .header("Retry-After", retry_after())
}

/// `r`: a number or a string.
fn cache_buster() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![
            Type::Number,
            Type::String,
            Type::Null,
        ]))
        .description(Some(
            "The SDK's cache buster (a number or a string); accepted and dropped.",
        ))
}

pub(super) fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

pub(super) fn one_of<const N: usize>(items: [RefOr<Schema>; N]) -> RefOr<Schema> {
    items
        .into_iter()
        .fold(OneOfBuilder::new(), OneOfBuilder::item)
        .into()
}

pub(super) fn json(description: &str, schema: RefOr<Schema>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Code;
    use crate::pipeline::normalize::normalize;
    use serde_json::json;

    const NOW: i64 = 1_764_000_000_000;

    fn documented_fields() -> Vec<String> {
        let RefOr::T(Schema::Object(object)) = Message::schema() else {
            panic!("Message is an object schema");
        };
        object.properties.keys().cloned().collect()
    }

    fn example() -> Value {
        let RefOr::T(Schema::Object(object)) = Message::schema() else {
            panic!("Message is an object schema");
        };
        object.example.expect("Message has an example")
    }

    #[test]
    fn the_example_is_a_valid_message() {
        normalize(example(), NOW).expect("the documented example normalises");
    }

    #[test]
    fn every_documented_field_is_one_normalize_accepts() {
        let values = json!({
            "project": "zhibo", "stype": 100, "eid": "pageview", "use_server_time": true,
            "time": NOW, "sid": "s", "ver": "js1.1.0", "r": 1, "ps": {}, "uidentity": {}
        });
        let fields = documented_fields();
        for field in &fields {
            let mut message = json!({"project": "zhibo", "stype": 100, "eid": "pageview"});
            message[field] = values[field].clone();
            normalize(message, NOW).unwrap_or_else(|e| panic!("{field}: {e}"));
        }
        assert_eq!(fields.len(), values.as_object().unwrap().len());
    }

    #[test]
    fn undocumented_fields_are_refused_as_the_schema_says() {
        let message = json!({"project": "zhibo", "stype": 100, "eid": "pageview", "extra": 1});
        assert_eq!(
            normalize(message, NOW).unwrap_err().code,
            Code::UnknownField
        );
        let RefOr::T(Schema::Object(object)) = Message::schema() else {
            panic!("Message is an object schema");
        };
        let additional = serde_json::to_value(object.additional_properties).unwrap();
        assert_eq!(additional, json!(false));
    }
}
