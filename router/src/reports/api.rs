//! The report routes and their guard. Reports read personal data, so they need a token:
//! `reports.token` or the admin token, as `Authorization: Bearer <token>` or Sensors'
//! `?token=<token>`. With reports off, or no token configured, both routes answer 404
//! (`reports_disabled`), never open; a missing or wrong token is a 401.
use super::ReportError;
use crate::error::{Code, Rejection};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/events/report", post(events_report))
        .route("/addictions/report", post(addictions_report))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

#[derive(Deserialize)]
struct Params {
    project: Option<String>,
}

/// Compares without an early exit, so response timing does not reveal how much of a guess matched.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presented_token(request: &Request) -> Option<String> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    bearer.or_else(|| {
        url::form_urlencoded::parse(request.uri().query()?.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    })
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(reports) = state.reports.as_ref().filter(|r| !r.tokens().is_empty()) else {
        return Rejection::request(
            Code::ReportsDisabled,
            "the report API is off: set reports.enabled and reports.token (or admin.token)",
        )
        .into_response();
    };
    let presented = presented_token(&request);
    if presented.is_some_and(|p| {
        reports
            .tokens()
            .iter()
            .any(|t| same_secret(p.as_bytes(), t.as_bytes()))
    }) {
        return next.run(request).await;
    }
    let mut response = Rejection::field(
        Code::Unauthorized,
        "Authorization",
        "the report API needs `Authorization: Bearer <reports.token>` or `?token=`",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn answer(result: Result<Arc<serde_json::Value>, ReportError>) -> Response {
    match result {
        Ok(answer) => Json(answer.as_ref()).into_response(),
        Err(ReportError::Rejected(r)) => r.into_response(),
        Err(ReportError::Source(e)) => {
            tracing::error!(error = %e, "report query failed");
            Rejection::request(Code::WarehouseUnavailable, e.to_string()).into_response()
        }
    }
}

async fn events_report(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    let Some(reports) = &state.reports else {
        return Rejection::request(Code::ReportsDisabled, "the report API is off").into_response();
    };
    let project = params
        .project
        .as_deref()
        .unwrap_or(reports.default_project());
    let snapshot = state.registry.snapshot();
    answer(reports.events(&snapshot, project, &body).await)
}

async fn addictions_report(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    let Some(reports) = &state.reports else {
        return Rejection::request(Code::ReportsDisabled, "the report API is off").into_response();
    };
    let project = params
        .project
        .as_deref()
        .unwrap_or(reports.default_project());
    let snapshot = state.registry.snapshot();
    answer(reports.distribution(&snapshot, project, &body).await)
}
