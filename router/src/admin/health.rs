//! `GET /healthz` (the process answers) and `GET /readyz` (the sink can take events now, and how
//! current the registry is).
use crate::ingest::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the sink can take events. A stale registry (database or Redis down) does not make
/// slog unready, since it keeps validating with its last good snapshot, but is reported here.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let sink = state.sink.name();
    let registry = state.registry.health();
    match state.sink.check_ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "sink": sink, "registry": registry})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "not_ready", "sink": sink, "reason": e.to_string(), "registry": registry
            })),
        ),
    }
}
