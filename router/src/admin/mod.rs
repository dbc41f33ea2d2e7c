//! Operator endpoints: health, readiness, Prometheus metrics, and the metadata admin API.
mod auth;
mod body;
mod extract;
pub mod health;
pub mod identity_api;
pub mod metrics;
pub mod plugins_api;
pub mod registry_api;

pub use auth::require_token;

use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;

/// The routes behind the admin token (registry, identities, plugins), with their descriptions;
/// the app puts them behind [`require_token`].
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .merge(registry_api::routes())
        .merge(identity_api::routes())
        .merge(plugins_api::routes())
}
