//! The whole HTTP application, assembled in one place: the event routes (`ingest`), the operator
//! routes (`admin`), the report routes (`reports`), CORS on the event routes, the request-metrics middleware and the JSON
//! answers for unknown paths and methods.
use crate::admin;
use crate::error::{Code, Rejection};
use crate::ingest::handler;
use crate::reports;
use crate::state::AppState;
use axum::http::{header, HeaderValue, Method};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The whole HTTP application.
pub fn app(state: AppState, cors_origins: &[String]) -> axum::Router {
    let ingest = axum::Router::new()
        .route(
            "/slog/event",
            post(handler::post_event).fallback(method_not_allowed),
        )
        .layer(cors(cors_origins));
    axum::Router::new()
        .merge(ingest)
        .route("/healthz", get(admin::health::healthz))
        .route("/readyz", get(admin::health::readyz))
        .route("/metrics", get(admin::metrics::render))
        .merge(admin::registry_api::routes(state.clone()))
        .merge(admin::identity_api::routes(state.clone()))
        .merge(admin::plugins_api::routes(state.clone()))
        .merge(reports::api::routes(state.clone()))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::metrics::count_requests,
        ))
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::CONTENT_ENCODING])
        .max_age(std::time::Duration::from_secs(600))
}

async fn method_not_allowed() -> impl IntoResponse {
    let mut response = Rejection::request(
        Code::MethodNotAllowed,
        "use POST with a JSON body (one event or an array of events)",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    response
}

async fn not_found() -> impl IntoResponse {
    Rejection::request(
        Code::NotFound,
        "no such endpoint; events go to POST /slog/event",
    )
}
