//! The identity admin API (same bearer token as the metadata API): look a person up, unlink one
//! identity, delete a person's links (privacy requests).
//!
//! - `GET /admin/identities?key=K&value=V` (or `?uuid=U`): the person's uuid and every identity
//!   linked to it.
//! - `DELETE /admin/identities?key=K&value=V`: unlinks that identity; its next event starts from
//!   whatever else it is seen with.
//! - `DELETE /admin/identities/{uuid}`: removes every link of that person and the merges naming it.
//! - `GET /admin/identities/blocked`: device identities that stopped linking because they were
//!   seen on too many people; `DELETE /admin/identities/blocked?key=K&value=V` lifts one block
//!   after an operator found the identity genuine.
//!
//! An openid is stored scoped by its app: pass `appid=A` beside `key=openid`, or the stored value
//! `A:openid` itself.
use super::auth::require_token;
use crate::error::{Code, Rejection};
use crate::event::Identity;
use crate::identity::store::StoreError;
use crate::pipeline::IdentityStage;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/identities", get(find).delete(unlink))
        .route("/admin/identities/blocked", get(blocked).delete(unblock))
        .route("/admin/identities/{uuid}", delete(forget))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

type Answer = Result<Response, Rejection>;

#[derive(Deserialize)]
struct IdentityQuery {
    key: Option<String>,
    value: Option<String>,
    appid: Option<String>,
    uuid: Option<String>,
}

fn stage(state: &AppState) -> Result<&IdentityStage, Rejection> {
    state.identity.as_ref().ok_or_else(|| {
        Rejection::request(
            Code::NotFound,
            "identity resolution is off (identity.enabled = false)",
        )
    })
}

fn store_error(e: StoreError) -> Rejection {
    tracing::error!(error = %e, "identity store error in the admin API");
    Rejection::request(Code::IdentityUnavailable, format!("identity store: {e}"))
}

/// The identity named by `key` + `value` (+ `appid` for openid).
fn identity_of(q: &IdentityQuery) -> Result<Identity, Rejection> {
    let missing = |f: &str| {
        Rejection::field(
            Code::MissingField,
            f,
            format!("{f} is required: ?key=<identity key>&value=<value> (or ?uuid=<uuid>)"),
        )
    };
    let key = q
        .key
        .as_deref()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| missing("key"))?;
    let value = q
        .value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("value"))?;
    Ok(match (key, q.appid.as_deref()) {
        ("openid", Some(appid)) => Identity::new(key, format!("{appid}:{value}")),
        _ => Identity::new(key, value),
    })
}

async fn find(State(state): State<AppState>, Query(q): Query<IdentityQuery>) -> Answer {
    let store = stage(&state)?.resolver().store();
    let uuid = match &q.uuid {
        Some(uuid) if !uuid.is_empty() => uuid.clone(),
        _ => {
            let identity = identity_of(&q)?;
            store
                .store()
                .lookup(&identity)
                .await
                .map_err(store_error)?
                .ok_or_else(|| not_linked(&identity))?
                .uuid
        }
    };
    let links = store.links_of(&uuid).await.map_err(store_error)?;
    if links.is_empty() {
        return Err(Rejection::field(
            Code::NotFound,
            "uuid",
            format!("no identity is linked to uuid {uuid}"),
        ));
    }
    Ok(Json(json!({"uuid": uuid, "identities": links})).into_response())
}

async fn unlink(State(state): State<AppState>, Query(q): Query<IdentityQuery>) -> Answer {
    let identity = identity_of(&q)?;
    let store = stage(&state)?.resolver().store();
    let uuid = store
        .unlink(&identity)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_linked(&identity))?;
    tracing::info!(%identity, %uuid, "admin unlinked an identity");
    Ok(Json(json!({"uuid": uuid, "unlinked": identity})).into_response())
}

async fn forget(State(state): State<AppState>, Path(uuid): Path<String>) -> Answer {
    let store = stage(&state)?.resolver().store();
    let gone = store.forget(&uuid).await.map_err(store_error)?;
    if gone.is_empty() {
        return Err(Rejection::field(
            Code::NotFound,
            "uuid",
            format!("no identity is linked to uuid {uuid}"),
        ));
    }
    tracing::info!(%uuid, identities = gone.len(), "admin deleted a person's identity links");
    Ok(Json(json!({"uuid": uuid, "deleted": gone})).into_response())
}

async fn blocked(State(state): State<AppState>) -> Answer {
    let resolver = stage(&state)?.resolver();
    let blocked = resolver
        .store()
        .store()
        .blocked()
        .await
        .map_err(store_error)?;
    Ok(Json(json!({
        "max_accounts_per_device": resolver.rules().max_accounts_per_device(),
        "blocked": blocked,
    }))
    .into_response())
}

async fn unblock(State(state): State<AppState>, Query(q): Query<IdentityQuery>) -> Answer {
    let identity = identity_of(&q)?;
    let resolver = stage(&state)?.resolver();
    if !resolver
        .store()
        .store()
        .unblock(&identity)
        .await
        .map_err(store_error)?
    {
        return Err(Rejection::field(
            Code::NotFound,
            "value",
            format!("identity {identity} is not blocked"),
        ));
    }
    resolver.blocklist().remove(&identity);
    tracing::info!(%identity, "admin lifted an identity block");
    Ok(Json(json!({"unblocked": identity})).into_response())
}

fn not_linked(identity: &Identity) -> Rejection {
    Rejection::field(
        Code::NotFound,
        "value",
        format!("identity {identity} is not linked to any uuid"),
    )
}
