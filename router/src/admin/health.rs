//! `GET /healthz` (the process answers) and `GET /readyz` (the sink can take events now, how
//! current the registry is, whether the identity store answers).
use crate::identity::OnStoreError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the sink can take events. A stale registry (database or Redis down) does not make
/// slog unready, since it keeps validating with its last good snapshot, but is reported here; an
/// unreachable identity store makes it unready only when `identity.on_store_error` is
/// `unavailable` (every request would be answered 503).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let sink = state.sink.name();
    let registry = state.registry.health();
    let (identity, identity_blocks) = identity_health(&state).await;
    let not_ready = |reason: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "not_ready", "sink": sink, "reason": reason,
                        "registry": registry, "identity": identity}),
            ),
        )
    };
    if let Err(e) = state.sink.check_ready().await {
        return not_ready(e.to_string());
    }
    if let Some(reason) = identity_blocks {
        return not_ready(reason);
    }
    (
        StatusCode::OK,
        Json(json!({"status": "ready", "sink": sink, "registry": registry, "identity": identity})),
    )
}

/// The identity store's status, and the reason it blocks readiness, if it does.
async fn identity_health(state: &AppState) -> (Value, Option<String>) {
    let Some(stage) = &state.identity else {
        return (json!({"enabled": false}), None);
    };
    let ping = stage.resolver().store().store().ping();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(2), ping).await;
    let error = match answer {
        Ok(Ok(())) => return (json!({"enabled": true, "store": "up"}), None),
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the identity store did not answer in 2 s".to_owned(),
    };
    let blocks = (stage.on_store_error() == OnStoreError::Unavailable)
        .then(|| format!("identity store: {error}"));
    (
        json!({"enabled": true, "store": "down", "error": error}),
        blocks,
    )
}
