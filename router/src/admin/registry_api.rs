//! The metadata admin API (tracking plan §3.2): CRUD over `events` and the three property tables.
//!
//! `/admin/events[/{id}]`, `/admin/{event,identity,profile}-properties[/{key}]`: GET lists (events
//! filter by `?project=`, every table by `?is_reserve=0|1`), GET one, POST creates (201), PUT
//! replaces the mutable columns, DELETE removes (204). JSON uses the tracking plan's column names. Names
//! follow `metadata::names`; presets (`is_reserve = 1`) cannot be deleted, retyped or moved to
//! another project. A write applies on this instance at once and on every other instance at its
//! next version check.
use super::auth::require_token;
use super::body::Body;
use crate::error::{Code, Rejection};
use crate::metadata::store::StoreError;
use crate::metadata::{names, EventDef, PropertyDef, PropertyKind, ValueType};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

const NAME_MAX: usize = 128;
const SHORT_MAX: usize = 64;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/events", get(list_events).post(create_event))
        .route(
            "/admin/events/{id}",
            get(get_event).put(update_event).delete(delete_event),
        )
        .route("/admin/{table}", get(list_properties).post(create_property))
        .route(
            "/admin/{table}/{key}",
            get(get_property)
                .put(update_property)
                .delete(delete_property),
        )
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

type Answer = Result<Response, Rejection>;

#[derive(Deserialize)]
struct Filter {
    project: Option<String>,
    is_reserve: Option<u8>,
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
