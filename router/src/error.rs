//! Client-facing rejections: the `{"error": {"code", "field", "message"}}` body every 4xx carries.
//!
//! A `Rejection` is what a stage returns when an event (or a whole request) breaks a rule. Its
//! `code` is stable and machine-readable (SDKs and metrics key on it), `field` names the offending
//! field (dotted path, `None` when the request as a whole is at fault) and `message` is for humans.
use serde::Serialize;
use utoipa::ToSchema;

/// Stable error codes. Adding one is fine; renaming one breaks SDKs and dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    InvalidJson,
    InvalidType,
    MissingField,
    InvalidValue,
    UnknownField,
    UnsupportedStype,
    EmptyBatch,
    BatchTooLarge,
    BodyTooLarge,
    InvalidGzip,
    UnsupportedMediaType,
    UnsupportedEncoding,
    MethodNotAllowed,
    NotFound,
    SinkUnavailable,
    UnregisteredEvent,
    UnknownProperty,
    TypeMismatch,
    Unauthorized,
    AdminDisabled,
    AlreadyExists,
    PresetProtected,
    RegistryUnavailable,
    IdentityUnavailable,
    SessionStoreUnavailable,
    PluginRejected,
    PluginFailed,
    PluginReloadFailed,
    InvalidReport,
    ReportsDisabled,
    WarehouseUnavailable,
    InvalidBase64,
    CrcMismatch,
    EncryptedPayload,
    UnsupportedType,
    DuplicateKey,
    StringTooLong,
    Overloaded,
    RateLimited,
    UrlTooLong,
    HeadersTooLarge,
}

impl Code {
    /// The code as it appears in JSON bodies and metric labels: its serde name, the one spelling.
    pub fn as_str(self) -> &'static str {
        serde_variant::to_variant_name(&self).expect("a unit variant always has a name")
    }
}

/// Why an event or a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, thiserror::Error)]
#[error("{code:?} at {field:?}: {message}")]
pub struct Rejection {
    pub code: Code,
    /// The offending field as a dotted path (`eid`, `ps.money`, `Content-Type`); null when the
    /// request as a whole is at fault.
    #[schema(required = true)]
    pub field: Option<String>,
    /// For people; wording may change, `code` does not.
    pub message: String,
}

impl Rejection {
    pub fn new(code: Code, field: Option<&str>, message: impl Into<String>) -> Self {
        Rejection {
            code,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A rejection that names the field it is about.
    pub fn field(code: Code, field: &str, message: impl Into<String>) -> Self {
        Self::new(code, Some(field), message)
    }

    /// A rejection of the request as a whole (no single field at fault).
    pub fn request(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, None, message)
    }
}
