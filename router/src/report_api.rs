//! The report routes (`reports` answers them) and their guard. Reports read personal data, so they need a token:
//! `reports.token` or the admin token, as `Authorization: Bearer <token>` or Sensors'
//! `?token=<token>`. With reports off, or no token configured, both routes answer 404
//! (`reports_disabled`), never open; a missing or wrong token is a 401.
use crate::bearer;
use crate::error::{Code, Rejection};
use crate::error_response::ErrorBody;
use crate::reports::ReportError;
use crate::state::AppState;
use crate::token_gate;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The two report routes with their descriptions; `http.rs` puts [`require_token`] in front.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(events_report))
        .routes(routes!(addictions_report))
}

/// The query parameters of both reports.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// The project the report reads; absent: `reports.default_project`.
    project: Option<String>,
    /// The token, for clients that cannot send `Authorization: Bearer` (Sensors' `?token=`).
    #[allow(dead_code)]
    token: Option<String>,
}

/// The token of `Authorization: Bearer`, else of Sensors' `?token=`.
fn presented_token(request: &Request) -> Option<String> {
    bearer::presented(request).map(str::to_owned).or_else(|| {
        url::form_urlencoded::parse(request.uri().query()?.as_bytes())
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
    })
}

/// The guard of the report routes (see the module doc).
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // The routes take POST only: any other method is answered 405 by the router, before a token
    // is asked for (nothing is read).
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(reports) = state.reports.as_ref().filter(|r| !r.tokens().is_empty()) else {
        return Rejection::request(
            Code::ReportsDisabled,
            "the report API is off: set reports.enabled and reports.token (or admin.token)",
        )
        .into_response();
    };
    let presented = presented_token(&request);
    match token_gate::check(
        &state,
        &request,
        "reports",
        presented.as_deref(),
        |p| {
            reports
                .tokens()
                .iter()
                .any(|t| bearer::same_secret(p.as_bytes(), t.as_bytes()))
        },
        "the report API needs `Authorization: Bearer <reports.token>` or `?token=`",
    ) {
        None => next.run(request).await,
        Some(refused) => refused,
    }
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

/// How many events or people, per group and period (Sensors' event analysis).
#[utoipa::path(
    post,
    path = "/events/report",
    tag = "reports",
    params(Params),
    request_body(content = Object, description = "The tracking plan's event report request: `measures`, `from_date`, `to_date`, and optionally `by_fields`, `filter`, `unit`, `detail_and_rollup`, `limit`, `sampling_factor`, `use_cache` (README \"The warehouse and the reports\")", content_type = "application/json"),
    responses(
        (status = 200, description = "`by_fields`, `rows[{values, by_values}]`, `num_rows`, `total_rows`, the data times and `truncated`; with `unit`, also `series`", body = Object),
        (status = 400, description = "`invalid_json`, `unregistered_event`, `unknown_property` or `invalid_report`: `field` names the part of the request and `message` the rule", body = ErrorBody),
        (status = 401, description = "`unauthorized`: the token is missing or wrong", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong tokens from this address; refused until the minute is over", body = ErrorBody),
        (status = 404, description = "`reports_disabled`: reports are off, or no token is configured", body = ErrorBody),
        (status = 503, description = "`warehouse_unavailable`: the warehouse could not be read", body = ErrorBody),
    ),
    security(("reports_token" = []))
)]
async fn events_report(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    report(&state, params, &body, Report::Events).await
}

/// How many people did the event how often (Sensors' distribution analysis).
#[utoipa::path(
    post,
    path = "/addictions/report",
    tag = "reports",
    params(Params),
    request_body(content = Object, description = "The tracking plan's distribution request: `event_name`, `from_date`, `to_date`, and optionally `by_field`, `filter`, `measure_type`, `unit`, `result_bucket_param`, `rollup_date`, `sampling_factor`, `use_cache` (README \"The warehouse and the reports\")", content_type = "application/json"),
    responses(
        (status = 200, description = "`by_field`, `rows[{by_value, total_people, cells[{people, percent, bucket_start, bucket_end}]}]`, the data times, `truncated`, `sampling_factor`", body = Object),
        (status = 400, description = "`invalid_json`, `unregistered_event`, `unknown_property` or `invalid_report`: `field` names the part of the request and `message` the rule", body = ErrorBody),
        (status = 401, description = "`unauthorized`: the token is missing or wrong", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many wrong tokens from this address; refused until the minute is over", body = ErrorBody),
        (status = 404, description = "`reports_disabled`: reports are off, or no token is configured", body = ErrorBody),
        (status = 503, description = "`warehouse_unavailable`: the warehouse could not be read", body = ErrorBody),
    ),
    security(("reports_token" = []))
)]
async fn addictions_report(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Response {
    report(&state, params, &body, Report::Distribution).await
}

/// Which of the two reports a request asks for.
enum Report {
    Events,
    Distribution,
}

async fn report(state: &AppState, params: Params, body: &[u8], kind: Report) -> Response {
    let Some(reports) = &state.reports else {
        return Rejection::request(Code::ReportsDisabled, "the report API is off").into_response();
    };
    let project = params
        .project
        .as_deref()
        .unwrap_or(reports.default_project());
    let snapshot = state.registry.snapshot();
    answer(match kind {
        Report::Events => reports.events(&snapshot, project, body).await,
        Report::Distribution => reports.distribution(&snapshot, project, body).await,
    })
}
