//! The plugins admin API: `GET /admin/plugins` (the chain in force: each plugin's file, SHA-256,
//! version, hooks, policy, failures and last error, and the last reload's outcome) and
//! `POST /admin/plugins/reload` (reload now, answer when done). Same bearer token as the
//! registry API.
use crate::error::{Code, Rejection};
use crate::error_response::ErrorBody;
use crate::plugins::host::HostStatus;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(status))
        .routes(routes!(reload))
}

/// The plugin chain in force and the last reload's outcome.
#[utoipa::path(
    get,
    path = "/admin/plugins",
    tag = "plugins",
    responses((status = 200, description = "The chain in force", body = HostStatus))
)]
async fn status(State(state): State<AppState>) -> Response {
    Json(state.plugins.status()).into_response()
}

/// Reloads off the async workers (compiling blocks). 200 with the new status, or 422
/// `plugin_reload_failed` naming the plugin at fault; the previous chain then stays in force.
#[utoipa::path(
    post,
    path = "/admin/plugins/reload",
    tag = "plugins",
    responses(
        (status = 200, description = "Reloaded: the new chain is in force", body = HostStatus),
        (status = 422, description = "`plugin_reload_failed` (`field` names the plugin at fault): \
            the previous chain stays in force", body = ErrorBody),
    )
)]
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
