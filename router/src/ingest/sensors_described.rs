//! The OpenAPI description of the Sensors endpoints (`POST /sa`, `GET|POST /sa.gif`): their
//! form fields, query parameters and answers. The format itself is `sensors::payload` and
//! `sensors::translate`; the README has the mapping table.
use super::described::{admission_refusals, json, schema_ref, unavailable};
use super::response::BatchResult;
use crate::error_response::ErrorBody;
use std::collections::BTreeMap;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Content, RefOr};
use utoipa::{IntoParams, IntoResponses, ToSchema};

/// Beside the summary of `POST /sa` and `POST /sa.gif`.
pub const POST_DESCRIPTION: &str = "What the Sensors Analytics SDKs send, unchanged: a form \
    with `data` (one message) or `data_list` (an array), base64 of the JSON, of its gzip when \
    `gzip=1`. Each message is mapped onto slog's model (README \"Sensors Analytics SDKs\") and \
    takes the same way as a native event. A request whose data decodes is answered 200 and the \
    messages slog refuses go to the dead-letter topic with their reason (the SDKs drop what a \
    4xx answers); data that cannot be decoded is 400; 503 asks the SDK to resend. The same \
    limits as `POST /slog/event` apply before and after decoding.";

/// Beside the summary of `GET /sa.gif`.
pub const GET_DESCRIPTION: &str = "The web SDK's image mode: the form fields are in the query \
    string, and the answer is a 1×1 GIF. Otherwise as `POST /sa`.";

/// The query string of the Sensors endpoints.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SensorsQuery {
    /// The project the messages go to; without it, a message's own `project`, else
    /// `[sensors] default_project`.
    pub project: Option<String>,
    /// One message (image mode), as in the form.
    pub data: Option<String>,
    /// `0` or absent: plain base64; `1`: base64 of gzip; `9`/`13` (encrypted) are refused.
    pub gzip: Option<String>,
    /// `crc=<n>`: Java `String.hashCode` of `data`, checked when present.
    pub ext: Option<String>,
}

/// The form fields of a Sensors body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SensorsForm {
    /// One message: base64 of its JSON (or of the JSON's gzip with `gzip=1`).
    pub data: Option<String>,
    /// An array of messages, encoded the same way.
    pub data_list: Option<String>,
    /// `0` or absent: plain base64; `1`: base64 of gzip; `9`/`13` (encrypted) are refused.
    pub gzip: Option<String>,
    /// Java `String.hashCode` of the data text (mobile SDKs), checked when present.
    pub crc: Option<String>,
    /// `crc=<n>`, the web SDK's form of the same check.
    pub ext: Option<String>,
}

/// Every answer of `POST /sa` and `POST /sa.gif`.
pub struct PostAnswers;

impl IntoResponses for PostAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        answers(json(
            "The data decoded and every message of it is durable: accepted, or dead-lettered \
             with its reason (listed in `results`); do not resend",
            schema_ref::<BatchResult>(),
        ))
    }
}

/// Every answer of `GET /sa.gif`.
pub struct GetAnswers;

impl IntoResponses for GetAnswers {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let gif = ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("image/gif")
            .build();
        answers(
            ResponseBuilder::new()
                .description("As for POST: a 1×1 GIF, the image the SDK's <img> loads")
                .content("image/gif", Content::new(Some(gif))),
        )
    }
}

fn answers(ok: ResponseBuilder) -> BTreeMap<String, RefOr<Response>> {
    let error = || schema_ref::<ErrorBody>();
    [
        ("200", ok),
        (
            "400",
            json(
                "The data cannot be decoded (`missing_field`, `invalid_base64`, `invalid_gzip`, \
                 `invalid_json`, `crc_mismatch`, `encrypted_payload`, `empty_batch`, \
                 `invalid_value`, `duplicate_key`, `string_too_long`), named by `code` and `field`",
                error(),
            ),
        ),
        (
            "404",
            json("`not_found`: the Sensors receiver is off", error()),
        ),
        (
            "413",
            json(
                "`body_too_large` (as sent or decoded) or `batch_too_large`",
                error(),
            ),
        ),
        (
            "415",
            json(
                "`unsupported_media_type` (not a form or text/plain) or `unsupported_encoding`",
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
