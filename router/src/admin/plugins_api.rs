//! The plugins admin API: `GET /admin/plugins` (the chain in force: each plugin's file, SHA-256,
//! version, hooks, policy, failures and last error, and the last reload's outcome) and
//! `POST /admin/plugins/reload` (reload now, answer when done). Same bearer token as the
//! registry API.
use super::auth::require_token;
use crate::error::{Code, Rejection};
use crate::state::AppState;
use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/plugins", get(status))
        .route("/admin/plugins/reload", post(reload))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

async fn status(State(state): State<AppState>) -> Response {
    Json(state.plugins.status()).into_response()
}

/// Reloads off the async workers (compiling blocks). 200 with the new status, or 422
/// `plugin_reload_failed` naming the plugin at fault; the previous chain then stays in force.
async fn reload(State(state): State<AppState>) -> Response {
    let host = state.plugins.clone();
    match tokio::task::spawn_blocking(move || host.reload()).await {
        Ok(Ok(_version)) => Json(state.plugins.status()).into_response(),
        Ok(Err(e)) => {
            Rejection::new(Code::PluginReloadFailed, e.plugin(), e.to_string()).into_response()
        }
        Err(e) => Rejection::request(
            Code::PluginReloadFailed,
            format!("the reload did not finish: {e}"),
        )
        .into_response(),
    }
}
