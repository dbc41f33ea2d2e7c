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
use super::extract::{Path, Query};
use crate::error::{Code, Rejection};
use crate::error_response::ErrorBody;
use crate::event::Identity;
use crate::identity::store::{Blocked, Link, StoreError};
use crate::pipeline::IdentityStage;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(find, unlink))
        .routes(routes!(blocked, unblock))
        .routes(routes!(forget))
}

type Answer = Result<Response, Rejection>;

const KEY: &str = "An identity key (`userid`, `deviceUUID`, `openid`, ...)";
const VALUE: &str = "The identity's value";
const APPID: &str = "The app of an openid (`key=openid`); or pass the stored value `appid:openid`";
const STORE_DOWN: &str = "`identity_unavailable`: the identity store failed";
const OFF_OR_NOT_LINKED: &str =
    "`not_found`: the identity is not linked, or identity resolution is off";

/// The identity a request names: `key` + `value` (+ `appid` beside `key=openid`), or, for a
/// lookup, a `uuid`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct IdentityQuery {
    /// An identity key (`userid`, `deviceUUID`, `openid`, ...); required unless `uuid` is given.
    #[param(example = "deviceUUID")]
    key: Option<String>,
    /// Its value; required unless `uuid` is given.
    #[param(example = "d-1")]
    value: Option<String>,
    /// The app of an openid (`key=openid`); or pass the stored value `appid:openid`.
    appid: Option<String>,
    /// A person's uuid, instead of `key` and `value`. (`scripts/api-conformance.sh` posts an event
    /// of the person this example and `deviceUUID` `d-1` name.)
    #[param(example = "019ab1c2-7c3e-7000-8000-000000000001")]
    uuid: Option<String>,
}

/// A person: the uuid and every identity linked to it.
#[derive(Serialize, ToSchema)]
struct Person {
    uuid: String,
    identities: Vec<Link>,
}

/// An identity unlinked from its person.
#[derive(Serialize, ToSchema)]
struct Unlinked {
    uuid: String,
    unlinked: Identity,
}

/// A person whose links were deleted.
#[derive(Serialize, ToSchema)]
struct Forgotten {
    uuid: String,
    deleted: Vec<Identity>,
}

/// The shared-device guard's blocklist.
#[derive(Serialize, ToSchema)]
struct Blocklist {
    /// `identity.max_accounts_per_device`.
    max_accounts_per_device: usize,
    blocked: Vec<Blocked>,
}

/// A block lifted.
#[derive(Serialize, ToSchema)]
struct Unblocked {
    unblocked: Identity,
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

/// Looks a person up by one of their identities, or by uuid.
#[utoipa::path(
    get,
    path = "/admin/identities",
    tag = "identity",
    params(IdentityQuery),
    responses(
        (status = 200, description = "The person", body = Person),
        (status = 400, description = "`missing_field` (`key` or `value`) or `invalid_value`", body = ErrorBody),
        (status = 404, description = OFF_OR_NOT_LINKED, body = ErrorBody),
        (status = 503, description = STORE_DOWN, body = ErrorBody),
    )
)]
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
    Ok(Json(Person {
        uuid,
        identities: links,
    })
    .into_response())
}

/// Unlinks one identity: its next event starts from whatever else it is seen with.
#[utoipa::path(
    delete,
    path = "/admin/identities",
    tag = "identity",
    params(
        ("key" = String, Query, description = KEY, min_length = 1, example = "deviceUUID"),
        ("value" = String, Query, description = VALUE, min_length = 1, example = "d-1"),
        ("appid" = Option<String>, Query, description = APPID),
    ),
    responses(
        (status = 200, description = "Unlinked", body = Unlinked),
        (status = 400, description = "`missing_field` (`key` or `value`) or `invalid_value`", body = ErrorBody),
        (status = 404, description = OFF_OR_NOT_LINKED, body = ErrorBody),
        (status = 503, description = STORE_DOWN, body = ErrorBody),
    )
)]
async fn unlink(State(state): State<AppState>, Query(q): Query<IdentityQuery>) -> Answer {
    let identity = identity_of(&q)?;
    let store = stage(&state)?.resolver().store();
    let uuid = store
        .unlink(&identity)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_linked(&identity))?;
    tracing::info!(%identity, %uuid, "admin unlinked an identity");
    Ok(Json(Unlinked {
        uuid,
        unlinked: identity,
    })
    .into_response())
}

/// Deletes every link of a person and the merges naming them (privacy requests).
#[utoipa::path(
    delete,
    path = "/admin/identities/{uuid}",
    tag = "identity",
    params(("uuid" = String, Path, description = "The person's uuid", example = "019ab1c2-7c3e-7000-8000-000000000001")),
    responses(
        (status = 200, description = "Deleted", body = Forgotten),
        (status = 400, description = "`invalid_value`: a malformed path", body = ErrorBody),
        (status = 404, description = "`not_found`: no identity is linked to the uuid, or identity resolution is off", body = ErrorBody),
        (status = 503, description = STORE_DOWN, body = ErrorBody),
    )
)]
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
    Ok(Json(Forgotten {
        uuid,
        deleted: gone,
    })
    .into_response())
}

/// Device identities the shared-device guard stopped linking.
#[utoipa::path(
    get,
    path = "/admin/identities/blocked",
    tag = "identity",
    responses(
        (status = 200, description = "The blocklist", body = Blocklist),
        (status = 404, description = "`not_found`: identity resolution is off", body = ErrorBody),
        (status = 503, description = STORE_DOWN, body = ErrorBody),
    )
)]
async fn blocked(State(state): State<AppState>) -> Answer {
    let resolver = stage(&state)?.resolver();
    let blocked = resolver
        .store()
        .store()
        .blocked()
        .await
        .map_err(store_error)?;
    Ok(Json(Blocklist {
        max_accounts_per_device: resolver.rules().max_accounts_per_device(),
        blocked,
    })
    .into_response())
}

/// Lifts one block, after an operator found the identity genuine: it links again.
#[utoipa::path(
    delete,
    path = "/admin/identities/blocked",
    tag = "identity",
    params(
        ("key" = String, Query, description = KEY, min_length = 1, example = "androidUUID"),
        ("value" = String, Query, description = VALUE, min_length = 1),
        ("appid" = Option<String>, Query, description = APPID),
    ),
    responses(
        (status = 200, description = "Unblocked", body = Unblocked),
        (status = 400, description = "`missing_field` (`key` or `value`) or `invalid_value`", body = ErrorBody),
        (status = 404, description = "`not_found`: the identity is not blocked, or identity resolution is off", body = ErrorBody),
        (status = 503, description = STORE_DOWN, body = ErrorBody),
    )
)]
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
    Ok(Json(Unblocked {
        unblocked: identity,
    })
    .into_response())
}

fn not_linked(identity: &Identity) -> Rejection {
    Rejection::field(
        Code::NotFound,
        "value",
        format!("identity {identity} is not linked to any uuid"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap()
    }

    #[test]
    fn the_answers_are_the_documented_json() {
        let device = Identity::new("deviceUUID", "d-1");
        let link = Link {
            key: "deviceUUID".into(),
            value: "d-1".into(),
            uuid: "u".into(),
            first_seen: 1,
            last_seen: 2,
        };
        let person = Person {
            uuid: "u".into(),
            identities: vec![link.clone()],
        };
        assert_eq!(
            text(&person),
            text(&json!({"uuid": "u", "identities": [link]}))
        );
        let unlinked = Unlinked {
            uuid: "u".into(),
            unlinked: device.clone(),
        };
        assert_eq!(
            text(&unlinked),
            text(&json!({"uuid": "u", "unlinked": {"key": "deviceUUID", "value": "d-1"}}))
        );
        let forgotten = Forgotten {
            uuid: "u".into(),
            deleted: vec![device.clone()],
        };
        assert_eq!(
            text(&forgotten),
            text(&json!({"uuid": "u", "deleted": [device]}))
        );
        let blocked = Blocked {
            key: "androidUUID".into(),
            value: "v".into(),
            accounts: 5,
            blocked_at: 9,
        };
        let list = Blocklist {
            max_accounts_per_device: 4,
            blocked: vec![blocked.clone()],
        };
        assert_eq!(
            text(&list),
            text(&json!({"max_accounts_per_device": 4, "blocked": [blocked]}))
        );
        let unblocked = Unblocked { unblocked: device };
        assert_eq!(
            text(&unblocked),
            text(&json!({"unblocked": {"key": "deviceUUID", "value": "d-1"}}))
        );
    }
}
