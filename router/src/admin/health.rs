//! `GET /healthz` (the process answers) and `GET /readyz` (the sink can take events now).
use crate::ingest::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let sink = state.sink.name();
    match state.sink.check_ready().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "sink": sink})),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "sink": sink, "reason": e.to_string()})),
        ),
    }
}
