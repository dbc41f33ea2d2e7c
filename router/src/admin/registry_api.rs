//! The metadata admin API (tracking plan §3.2): CRUD over `events` and the three property tables.
//!
//! `/admin/events[/{id}]`, `/admin/{event,identity,profile}-properties[/{key}]`: GET lists (events
//! filter by `?project=`, every table by `?is_reserve=0|1`), GET one, POST creates (201), PUT
//! replaces the mutable columns, DELETE removes (204). JSON uses the tracking plan's column names. Names
//! follow `metadata::names`; presets (`is_reserve = 1`) cannot be deleted, retyped or moved to
//! another project. A write applies on this instance at once and on every other instance at its
//! next version check.
use super::body::Body;
use super::extract::{Path, Query};
use crate::error::{Code, Rejection};
use crate::error_response::ErrorBody;
use crate::metadata::store::StoreError;
use crate::metadata::{names, EventDef, PropertyDef, PropertyKind, ValueType};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const NAME_MAX: usize = 128;
const SHORT_MAX: usize = 64;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event, update_event, delete_event))
        .routes(routes!(list_properties, create_property))
        .routes(routes!(get_property, update_property, delete_property))
}

type Answer = Result<Response, Rejection>;

const REGISTRY_DOWN: &str = "`registry_unavailable`: the registry database failed";
const BAD_BODY: &str = "`invalid_json`, `invalid_type`, `unknown_field`, `missing_field` or \
    `invalid_value` (a name breaking the naming rules, a reserved word, a value_type outside \
    0-4), naming the field";
const TABLE: &str = "The property table: `event-properties` (`event_properties`), \
    `identity-properties` (`user_identity_properties`) or `profile-properties` \
    (`profile_properties`)";

/// Filters of the list endpoints.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Filter {
    /// Only the events of this project (common events, whose project is null, are left out).
    project: Option<String>,
    /// 1: only presets; 0: only custom rows (other values match no row).
    #[param(maximum = 255)]
    is_reserve: Option<u8>,
}

/// The `{table}` path segment: one of the property tables ([`PropertyKind::path`]).
struct TableName;

impl utoipa::PartialSchema for TableName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(PropertyKind::ALL.map(PropertyKind::path)))
            .into()
    }
}

impl ToSchema for TableName {}

/// A 0/1 column in a request body: 0 or 1, or a boolean (`Body::flag`).
fn flag() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .enum_values(Some([
            json!(0),
            json!(1),
            json!(false),
            json!(true),
            Value::Null,
        ]))
        .description(Some("0 or 1 (or false or true)"))
}

/// The body of `POST /admin/events` (`need_uuid` defaults to 1). Read field by field (`Body`),
/// so that every refusal names its field and rule; this type describes it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"id": "buyCourse", "name": "购买课程", "project": "zhibo", "proposer": "li"}))]
#[allow(dead_code)]
struct NewEvent {
    /// The event name SDKs send as `eid`: `^[a-zA-Z_$][a-zA-Z0-9_$]{0,63}$`, not a reserved word.
    #[schema(pattern = "^[a-zA-Z_$][a-zA-Z0-9_$]{0,63}$")]
    id: String,
    #[schema(min_length = 1, max_length = 128)]
    name: String,
    /// Null or absent: a common event, valid for every project.
    #[schema(min_length = 1, max_length = 64)]
    project: Option<String>,
    #[schema(schema_with = flag)]
    need_uuid: Option<u8>,
    #[schema(min_length = 1, max_length = 64)]
    proposer: String,
}

/// The body of `PUT /admin/events/{id}`: the mutable columns, replaced (an absent `need_uuid`
/// keeps its value).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EventUpdate {
    #[schema(min_length = 1, max_length = 128)]
    name: String,
    /// Null or absent: a common event. A preset cannot be moved to a project.
    #[schema(min_length = 1, max_length = 64)]
    project: Option<String>,
    #[schema(schema_with = flag)]
    need_uuid: Option<u8>,
    #[schema(min_length = 1, max_length = 64)]
    proposer: String,
}

/// The body of `POST /admin/{table}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "money", "name": "支付金额", "value_type": 3, "proposer": "li"}))]
#[allow(dead_code)]
struct NewProperty {
    /// `^[a-zA-Z_$][a-zA-Z0-9_$]{0,63}$`, not a reserved word.
    #[schema(pattern = "^[a-zA-Z_$][a-zA-Z0-9_$]{0,63}$")]
    key: String,
    #[schema(min_length = 1, max_length = 128)]
    name: String,
    value_type: ValueType,
    #[schema(min_length = 1, max_length = 64)]
    proposer: String,
}

/// The body of `PUT /admin/{table}/{key}`. A preset's `value_type` cannot change.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PropertyUpdate {
    #[schema(min_length = 1, max_length = 128)]
    name: String,
    value_type: ValueType,
    #[schema(min_length = 1, max_length = 64)]
    proposer: String,
}

fn store_error(e: StoreError) -> Rejection {
    match e {
        StoreError::NotFound => Rejection::request(Code::NotFound, "no such entry"),
        StoreError::AlreadyExists => Rejection::request(
            Code::AlreadyExists,
            "an entry with this name already exists (names are unique regardless of case)",
        ),
        other => {
            tracing::error!(error = %other, "registry database error in the admin API");
            Rejection::request(
                Code::RegistryUnavailable,
                format!("registry database: {other}"),
            )
        }
    }
}

/// Applies a committed write on this instance right away.
async fn applied(state: &AppState) {
    if let Err(e) = state.registry.refresh().await {
        tracing::warn!(error = %e, "registry written but not reloaded; the periodic refresh retries");
    }
}

fn checked_name(field: &str, name: String) -> Result<String, Rejection> {
    names::check(&name)
        .map_err(|rule| Rejection::field(Code::InvalidValue, field, format!("{field} {rule}")))?;
    Ok(name)
}

fn preset(field: &str, what: &str) -> Rejection {
    Rejection::field(
        Code::PresetProtected,
        field,
        format!("{what} is a preset (is_reserve = 1) and cannot be changed this way"),
    )
}

/// Lists the `events` rows.
#[utoipa::path(
    get,
    path = "/admin/events",
    tag = "registry",
    params(Filter),
    responses(
        (status = 200, description = "The rows", body = Vec<EventDef>),
        (status = 400, description = "`invalid_value`: a malformed filter", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn list_events(State(state): State<AppState>, Query(filter): Query<Filter>) -> Answer {
    let mut rows = state
        .registry
        .store()
        .list_events(filter.project.as_deref())
        .await
        .map_err(store_error)?;
    if let Some(r) = filter.is_reserve {
        rows.retain(|e| u8::from(e.is_reserve) == r);
    }
    Ok(Json(rows).into_response())
}

/// One `events` row.
#[utoipa::path(
    get,
    path = "/admin/events/{id}",
    tag = "registry",
    params(("id" = String, Path, description = "The event name")),
    responses(
        (status = 200, description = "The row", body = EventDef),
        (status = 400, description = "`invalid_value`: a malformed path", body = ErrorBody),
        (status = 404, description = "`not_found`: no such event", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn get_event(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let row = state
        .registry
        .store()
        .get_event(&id)
        .await
        .map_err(store_error)?;
    Ok(Json(row).into_response())
}

const EVENT_FIELDS: [&str; 5] = ["id", "name", "project", "need_uuid", "proposer"];

/// Registers an event. It applies on this instance at once, on the others within
/// `registry.refresh_interval_ms`.
#[utoipa::path(
    post,
    path = "/admin/events",
    tag = "registry",
    request_body = NewEvent,
    responses(
        (status = 201, description = "Registered", body = EventDef),
        (status = 400, description = BAD_BODY, body = ErrorBody),
        (status = 409, description = "`already_exists` (names are unique regardless of case)", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn create_event(State(state): State<AppState>, body: Bytes) -> Answer {
    let b = Body::parse(&body, &EVENT_FIELDS)?;
    let row = EventDef::custom(
        &checked_name("id", b.text("id", SHORT_MAX)?)?,
        &b.text("name", NAME_MAX)?,
        b.optional_text("project", SHORT_MAX)?.as_deref(),
        b.flag("need_uuid", true)?,
        &b.text("proposer", SHORT_MAX)?,
    );
    state
        .registry
        .store()
        .insert_event(&row)
        .await
        .map_err(store_error)?;
    applied(&state).await;
    Ok((StatusCode::CREATED, Json(row)).into_response())
}

/// Replaces an event's mutable columns.
#[utoipa::path(
    put,
    path = "/admin/events/{id}",
    tag = "registry",
    params(("id" = String, Path, description = "The event name")),
    request_body = EventUpdate,
    responses(
        (status = 200, description = "The row as updated", body = EventDef),
        (status = 400, description = BAD_BODY, body = ErrorBody),
        (status = 404, description = "`not_found`: no such event", body = ErrorBody),
        (status = 409, description = "`preset_protected`: a preset cannot move to a project", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn update_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let b = Body::parse(&body, &EVENT_FIELDS[1..])?;
    let store = state.registry.store();
    let mut row = store.get_event(&id).await.map_err(store_error)?;
    let project = b.optional_text("project", SHORT_MAX)?;
    if row.is_reserve && project != row.project {
        return Err(preset("project", &format!("event `{id}`")));
    }
    row.name = b.text("name", NAME_MAX)?;
    row.project = project;
    row.need_uuid = b.flag("need_uuid", row.need_uuid)?;
    row.proposer = b.text("proposer", SHORT_MAX)?;
    store.update_event(&row).await.map_err(store_error)?;
    applied(&state).await;
    Ok(Json(row).into_response())
}

/// Removes a custom event.
#[utoipa::path(
    delete,
    path = "/admin/events/{id}",
    tag = "registry",
    params(("id" = String, Path, description = "The event name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_value`: a malformed path", body = ErrorBody),
        (status = 404, description = "`not_found`: no such event", body = ErrorBody),
        (status = 409, description = "`preset_protected`: presets cannot be deleted", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn delete_event(State(state): State<AppState>, Path(id): Path<String>) -> Answer {
    let store = state.registry.store();
    if store.get_event(&id).await.map_err(store_error)?.is_reserve {
        return Err(preset("id", &format!("event `{id}`")));
    }
    store.delete_event(&id).await.map_err(store_error)?;
    applied(&state).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn kind_of(table: &str) -> Result<PropertyKind, Rejection> {
    PropertyKind::from_path(table).ok_or_else(|| {
        Rejection::request(
            Code::NotFound,
            "no such admin table; use events, event-properties, identity-properties or profile-properties",
        )
    })
}

fn value_type(b: &Body) -> Result<ValueType, Rejection> {
    let raw = b.integer("value_type")?;
    ValueType::try_from(raw).map_err(|_| {
        Rejection::field(
            Code::InvalidValue,
            "value_type",
            format!(
                "value_type must be 0 string, 1 datetime, 2 bool, 3 int or 4 double; got {raw}"
            ),
        )
    })
}

/// Lists a property table.
#[utoipa::path(
    get,
    path = "/admin/{table}",
    tag = "registry",
    params(("table" = inline(TableName), Path, description = TABLE), Filter),
    responses(
        (status = 200, description = "The rows", body = Vec<PropertyDef>),
        (status = 400, description = "`invalid_value`: a malformed path or filter", body = ErrorBody),
        (status = 404, description = "`not_found`: no such table", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn list_properties(
    State(state): State<AppState>,
    Path(table): Path<String>,
    Query(filter): Query<Filter>,
) -> Answer {
    let kind = kind_of(&table)?;
    let mut rows = state
        .registry
        .store()
        .list_properties(kind)
        .await
        .map_err(store_error)?;
    if let Some(r) = filter.is_reserve {
        rows.retain(|p| u8::from(p.is_reserve) == r);
    }
    Ok(Json(rows).into_response())
}

/// One property row.
#[utoipa::path(
    get,
    path = "/admin/{table}/{key}",
    tag = "registry",
    params(
        ("table" = inline(TableName), Path, description = TABLE),
        ("key" = String, Path, description = "The property key"),
    ),
    responses(
        (status = 200, description = "The row", body = PropertyDef),
        (status = 400, description = "`invalid_value`: a malformed path", body = ErrorBody),
        (status = 404, description = "`not_found`: no such table or property", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn get_property(
    State(state): State<AppState>,
    Path((table, key)): Path<(String, String)>,
) -> Answer {
    let kind = kind_of(&table)?;
    let row = state
        .registry
        .store()
        .get_property(kind, &key)
        .await
        .map_err(store_error)?;
    Ok(Json(row).into_response())
}

const PROPERTY_FIELDS: [&str; 4] = ["key", "name", "value_type", "proposer"];

/// Registers a property.
#[utoipa::path(
    post,
    path = "/admin/{table}",
    tag = "registry",
    params(("table" = inline(TableName), Path, description = TABLE)),
    request_body = NewProperty,
    responses(
        (status = 201, description = "Registered", body = PropertyDef),
        (status = 400, description = BAD_BODY, body = ErrorBody),
        (status = 404, description = "`not_found`: no such table", body = ErrorBody),
        (status = 409, description = "`already_exists` (keys are unique regardless of case)", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn create_property(
    State(state): State<AppState>,
    Path(table): Path<String>,
    body: Bytes,
) -> Answer {
    let kind = kind_of(&table)?;
    let b = Body::parse(&body, &PROPERTY_FIELDS)?;
    let row = PropertyDef::custom(
        &checked_name("key", b.text("key", SHORT_MAX)?)?,
        &b.text("name", NAME_MAX)?,
        value_type(&b)?,
        &b.text("proposer", SHORT_MAX)?,
    );
    state
        .registry
        .store()
        .insert_property(kind, &row)
        .await
        .map_err(store_error)?;
    applied(&state).await;
    Ok((StatusCode::CREATED, Json(row)).into_response())
}

/// Replaces a property's mutable columns.
#[utoipa::path(
    put,
    path = "/admin/{table}/{key}",
    tag = "registry",
    params(
        ("table" = inline(TableName), Path, description = TABLE),
        ("key" = String, Path, description = "The property key"),
    ),
    request_body = PropertyUpdate,
    responses(
        (status = 200, description = "The row as updated", body = PropertyDef),
        (status = 400, description = BAD_BODY, body = ErrorBody),
        (status = 404, description = "`not_found`: no such table or property", body = ErrorBody),
        (status = 409, description = "`preset_protected`: a preset's value_type cannot change", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn update_property(
    State(state): State<AppState>,
    Path((table, key)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let kind = kind_of(&table)?;
    let b = Body::parse(&body, &PROPERTY_FIELDS[1..])?;
    let store = state.registry.store();
    let mut row = store.get_property(kind, &key).await.map_err(store_error)?;
    let new_type = value_type(&b)?;
    if row.is_reserve && new_type != row.value_type {
        return Err(preset("value_type", &format!("property `{key}`")));
    }
    row.name = b.text("name", NAME_MAX)?;
    row.value_type = new_type;
    row.proposer = b.text("proposer", SHORT_MAX)?;
    store
        .update_property(kind, &row)
        .await
        .map_err(store_error)?;
    applied(&state).await;
    Ok(Json(row).into_response())
}

/// Removes a custom property.
#[utoipa::path(
    delete,
    path = "/admin/{table}/{key}",
    tag = "registry",
    params(
        ("table" = inline(TableName), Path, description = TABLE),
        ("key" = String, Path, description = "The property key"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`invalid_value`: a malformed path", body = ErrorBody),
        (status = 404, description = "`not_found`: no such table or property", body = ErrorBody),
        (status = 409, description = "`preset_protected`: presets cannot be deleted", body = ErrorBody),
        (status = 503, description = REGISTRY_DOWN, body = ErrorBody),
    )
)]
async fn delete_property(
    State(state): State<AppState>,
    Path((table, key)): Path<(String, String)>,
) -> Answer {
    let kind = kind_of(&table)?;
    let store = state.registry.store();
    if store
        .get_property(kind, &key)
        .await
        .map_err(store_error)?
        .is_reserve
    {
        return Err(preset("key", &format!("property `{key}`")));
    }
    store
        .delete_property(kind, &key)
        .await
        .map_err(store_error)?;
    applied(&state).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
