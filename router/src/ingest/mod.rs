//! The HTTP surface: routes, shared state, CORS, JSON answers for unknown paths and methods.
pub mod decode;
pub mod handler;
pub mod response;

use crate::admin;
use crate::admin::metric_handles::{HttpMetrics, IngestMetrics};
use crate::enrich::Enrichers;
use crate::error::{Code, Rejection};
use crate::identity::IdentityStage;
use crate::metadata::Registry;
use crate::pipeline::Pipeline;
use crate::plugins::PluginHost;
use crate::sink::Sink;
use axum::http::{header, HeaderValue, Method};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use decode::Limits;

/// What every handler shares, behind one `Arc`: axum clones the state for every request (the
/// extractor and the metrics middleware), and one reference count is cheaper than ten (the clones
/// and drops of the field-by-field state were 1.5% of slog's CPU under single-event load).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    pub pipeline: Arc<Pipeline>,
    pub registry: Arc<Registry>,
    pub enrichers: Arc<Enrichers>,
    pub sink: Arc<dyn Sink>,
    /// The identity step; `None` when `identity.enabled` is false.
    pub identity: Option<IdentityStage>,
    /// The WebAssembly plugins: the chain every request runs, reloads, status.
    pub plugins: Arc<PluginHost>,
    /// Admin API bearer token; `None` turns the admin API off.
    pub admin_token: Option<Arc<str>>,
    pub limits: Limits,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Handles of the per-request series, registered once.
    pub http_metrics: Arc<HttpMetrics>,
    pub ingest_metrics: Arc<IngestMetrics>,
}

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
