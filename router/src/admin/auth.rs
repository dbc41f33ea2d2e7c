//! Bearer-token guard of the admin API. No token configured means the API is off (404), never
//! open; a missing or wrong token is a 401, and an address that keeps guessing is locked out
//! (`token_gate`).
use crate::bearer;
use crate::error::{Code, Rejection};
use crate::state::AppState;
use crate::token_gate;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = state.admin_token.as_deref() else {
        return Rejection::request(
            Code::AdminDisabled,
            "the admin API is off: set admin.token (or SLOG_ADMIN_TOKEN) to turn it on",
        )
        .into_response();
    };
    match token_gate::check(
        &state,
        &request,
        "admin",
        bearer::presented(&request),
        |p| bearer::same_secret(p.as_bytes(), expected.as_bytes()),
        "the admin API needs `Authorization: Bearer <admin.token>`",
    ) {
        None => next.run(request).await,
        Some(refused) => refused,
    }
}
