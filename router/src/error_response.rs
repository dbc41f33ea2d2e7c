//! How a rejection is answered over HTTP, on every endpoint: the status each error code gets and
//! the JSON body `{"error": {"code", "field", "message"}}`.
use crate::error::{Code, Rejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

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
        | Code::SessionStoreUnavailable
        | Code::WarehouseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unauthorized => StatusCode::UNAUTHORIZED,
        Code::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        Code::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Code::UrlTooLong => StatusCode::URI_TOO_LONG,
        Code::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
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
        | Code::InvalidReport
        | Code::InvalidBase64
        | Code::CrcMismatch
        | Code::EncryptedPayload
        | Code::UnsupportedType
        | Code::DuplicateKey
        | Code::StringTooLong => StatusCode::BAD_REQUEST,
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
            Code::InvalidBase64,
            Code::CrcMismatch,
            Code::EncryptedPayload,
            Code::UnsupportedType,
            Code::DuplicateKey,
            Code::StringTooLong,
            Code::RateLimited,
            Code::UrlTooLong,
            Code::HeadersTooLarge,
        ] {
            assert!(status_of(code).is_client_error(), "{code:?}");
        }
        assert_eq!(
            status_of(Code::SinkUnavailable),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
