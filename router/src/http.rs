//! The whole HTTP application, assembled in one place: the event routes (`ingest`: slog's own
//! and the Sensors SDKs'), the operator
//! routes (`admin`), the report routes (`reports`), CORS on the event routes, the tokens on the
//! admin and report routes, the request-metrics middleware, `GET /openapi.json` and the JSON answers for unknown paths and
//! methods.
//!
//! Every route is declared once, with its OpenAPI operation (`utoipa_axum::routes!`), in
//! [`documented`]: the app and its description cannot disagree on which routes exist.
use crate::admin;
use crate::error::{Code, Rejection};
use crate::ingest::{admit, handler, sensors};
use crate::openapi;
use crate::report_api;
use crate::state::AppState;
use axum::http::{header, HeaderValue, Method};
use axum::response::IntoResponse;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

type Routes = OpenApiRouter<AppState>;

/// The whole HTTP application.
pub fn app(state: AppState, cors_origins: &[String]) -> axum::Router {
    let token = axum::middleware::from_fn_with_state(state.clone(), admin::require_token);
    let reader_token =
        axum::middleware::from_fn_with_state(state.clone(), report_api::require_token);
    let admit = axum::middleware::from_fn_with_state(state.clone(), admit::guard);
    let (routes, api) = documented(
        // CORS outermost: a preflight is not a request to admit, and a refusal carries the CORS
        // headers a browser needs to read it.
        |events| events.layer(admit).layer(cors(cors_origins)),
        |operators| operators.route_layer(token),
        |readers| readers.route_layer(reader_token),
    )
    .split_for_parts();
    routes
        .merge(openapi::route(api))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            admin::metrics::count_requests,
        ))
        .with_state(state)
}

/// What `GET /openapi.json` serves: the description of every route of [`app`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::complete(
        documented(|events| events, |operators| operators, |readers| readers).into_openapi(),
    )
}

/// Every route with its OpenAPI operation. `events` wraps the event routes (CORS), `operators`
/// the admin routes and `readers` the report routes (their token guards, which their
/// descriptions already state).
fn documented(
    events: impl FnOnce(Routes) -> Routes,
    operators: impl FnOnce(Routes) -> Routes,
    readers: impl FnOnce(Routes) -> Routes,
) -> Routes {
    let ingest = OpenApiRouter::default()
        .routes(routes!(handler::post_event).map(|route| route.fallback(method_not_allowed)))
        .routes(
            routes!(sensors::get_sa, sensors::post_sa)
                .map(|route| route.fallback(sensors_not_allowed)),
        )
        .routes(
            routes!(sensors::get_sa_gif, sensors::post_sa_gif)
                .map(|route| route.fallback(sensors_not_allowed)),
        );
    let mut admin = admin::routes();
    openapi::require_admin_token(admin.get_openapi_mut());
    OpenApiRouter::with_openapi(openapi::base())
        .merge(events(ingest))
        .routes(routes!(admin::health::healthz))
        .routes(routes!(admin::health::readyz))
        .routes(routes!(admin::metrics::render))
        .merge(operators(admin))
        .merge(readers(report_api::routes()))
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
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

async fn sensors_not_allowed() -> impl IntoResponse {
    let mut response = Rejection::request(
        Code::MethodNotAllowed,
        "Sensors SDKs POST a form to /sa or /sa.gif, or GET /sa.gif with the form in the query",
    )
    .into_response();
    response.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    response
}

async fn not_found() -> impl IntoResponse {
    Rejection::request(
        Code::NotFound,
        "no such endpoint; events go to POST /slog/event",
    )
}
