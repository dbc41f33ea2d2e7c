//! The OpenAPI 3.1 description of every HTTP endpoint, served at `GET /openapi.json`.
//!
//! Operations come from the handlers themselves: each carries a `#[utoipa::path]` and is routed
//! with `utoipa_axum::routes!` (see `http.rs`), so a route and its description are one
//! declaration. Bodies are described by the types the handlers serialise (`ToSchema` derives).
//! This module adds what belongs to no single handler: the document's header and tags, the
//! bearer scheme of the admin API and its answers to a missing token, the description of the
//! event body's description lives with the endpoint (`ingest::described`); this module serves the
//! `/openapi.json` route.
#[cfg(test)]
mod tests;

use crate::error_response::ErrorBody;
use crate::ingest::response::{Accepted, BatchResult};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa::{Modify, OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The name of the admin API's security scheme.
pub const ADMIN_TOKEN: &str = "admin_token";
/// The name of the report API's security scheme.
pub const REPORTS_TOKEN: &str = "reports_token";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "slog",
        description = "The event-tracking router: SDKs post events to `POST /slog/event`; \
            operators manage the metadata registry, identities and plugins under `/admin` \
            (bearer token), and watch `/healthz`, `/readyz` and `/metrics`."
    ),
    tags(
        (name = "events", description = "Event ingestion (the SDKs' endpoint)"),
        (name = "operations", description = "Health, readiness and Prometheus metrics"),
        (name = "registry", description = "The metadata registry: events and properties (tracking plan §3.2)"),
        (name = "identity", description = "The unified identity store"),
        (name = "plugins", description = "WebAssembly plugins"),
        (name = "reports", description = "Event and distribution reports over the warehouse (tracking plan §4)"),
        (name = "openapi", description = "This description"),
    ),
    components(schemas(crate::ingest::described::EventBody, Accepted, BatchResult, ErrorBody)),
    modifiers(&BearerScheme)
)]
struct Document;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            ADMIN_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <admin.token>` (config `admin.token` or \
                         `SLOG_ADMIN_TOKEN`). Without a configured token the admin API is off \
                         and answers 404 `admin_disabled`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            REPORTS_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <reports.token>` or `?token=`; the admin token \
                         is accepted too. With reports off or no token configured, the report \
                         API answers 404 `reports_disabled`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document's header, tags, shared schemas and security scheme, without operations.
pub fn base() -> OpenApi {
    Document::openapi()
}

/// Marks every operation of `api` as needing the admin token, with the answers the token guard
/// gives: 401 for a missing or wrong token, 429 for an address locked out after too many, 404
/// `admin_disabled` when no token is configured.
pub fn require_admin_token(api: &mut OpenApi) {
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            guard(operation);
        }
    }
}

/// The 429 of an address locked out after too many wrong tokens (`limits.admin_failures_per_minute`).
pub const LOCKED_OUT: &str = "`rate_limited`: too many wrong tokens from this address; every \
    request from it is refused until the minute is over (`Retry-After`)";

fn guard(operation: &mut Operation) {
    operation.security = Some(vec![SecurityRequirement::new(
        ADMIN_TOKEN,
        Vec::<String>::new(),
    )]);
    let responses = &mut operation.responses.responses;
    let unauthorized = ResponseBuilder::new()
        .description("`unauthorized`: the `Authorization: Bearer` token is missing or wrong")
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer`"))
                .build(),
        )
        .content("application/json", error_content())
        .build();
    responses.insert("401".to_owned(), unauthorized.into());
    let locked = ResponseBuilder::new()
        .description(LOCKED_OUT)
        .content("application/json", error_content())
        .build();
    responses.insert("429".to_owned(), locked.into());
    const OFF: &str = "`admin_disabled`: the admin API is off (no admin.token configured)";
    match responses.get_mut("404") {
        Some(RefOr::T(found)) => found.description = format!("{}; or {OFF}", found.description),
        Some(RefOr::Ref(_)) => {}
        None => {
            let off = ResponseBuilder::new()
                .description(OFF)
                .content("application/json", error_content())
                .build();
            responses.insert("404".to_owned(), off.into());
        }
    }
}

fn error_content() -> Content {
    Content::new(Some(Ref::from_schema_name(ErrorBody::name())))
}

/// This description, as served.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 description of every endpoint", body = Object))
)]
async fn openapi_json(State(document): State<Bytes>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document).into_response()
}

fn own_route() -> (axum::Router<Bytes>, OpenApi) {
    OpenApiRouter::default()
        .routes(routes!(openapi_json))
        .split_for_parts()
}

/// `api` with the `/openapi.json` operation itself.
pub fn complete(mut api: OpenApi) -> OpenApi {
    api.merge(own_route().1);
    api
}

/// The `GET /openapi.json` route, serving `api` completed with its own operation.
pub fn route<S: Clone + Send + Sync + 'static>(api: OpenApi) -> axum::Router<S> {
    let document = serde_json::to_vec(&complete(api)).expect("an OpenAPI document is JSON");
    own_route().0.with_state(Bytes::from(document))
}
