//! `GET /healthz` (the process answers) and `GET /readyz` (the sink can take events now, how
//! current the registry is, whether the identity store answers).
use crate::identity::OnStoreError;
use crate::metadata::registry::Health;
use crate::sink::spool::SpoolStatus;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// `GET /healthz`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Alive {
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// `GET /readyz`'s answer.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` (200) or `not_ready` (503, with the `reason`).
    #[schema(value_type = String, examples("ready", "not_ready"))]
    status: &'static str,
    /// The sink in use: `file`, `kafka` or `stdout`.
    #[schema(value_type = String, example = "kafka")]
    sink: &'static str,
    /// Why slog is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    registry: Health,
    identity: IdentityHealth,
    /// The disk spool in front of the Kafka sink, when it is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    spool: Option<SpoolStatus>,
}

/// The identity store's status in `/readyz`.
#[derive(Serialize, ToSchema)]
pub struct IdentityHealth {
    /// `identity.enabled`.
    enabled: bool,
    /// `up` or `down`; absent when identity resolution is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, examples("up", "down"))]
    store: Option<&'static str>,
    /// Why the store is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The process answers.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "slog is serving", body = Alive))
)]
pub async fn healthz() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// Ready when the sink can take events. A stale registry (database or Redis down) does not make
/// slog unready, since it keeps validating with its last good snapshot, but is reported here; an
/// unreachable identity store makes it unready only when `identity.on_store_error` is
/// `unavailable` (every request would be answered 503).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The sink can take events now", body = Readiness),
        (status = 503, description = "Not ready: the sink cannot take events (Kafka: brokers \
            down or topics missing), or the identity store is down under \
            `identity.on_store_error = \"unavailable\"`", body = Readiness),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let sink = state.sink.name();
    let registry = state.registry.health();
    let (identity, identity_blocks) = identity_health(&state).await;
    let mut readiness = Readiness {
        status: "ready",
        sink,
        reason: None,
        registry,
        identity,
        spool: None,
    };
    let reason = match state.sink.check_ready().await {
        Err(e) => Some(e.to_string()),
        Ok(()) => identity_blocks,
    };
    readiness.spool = state.sink.spool_status();
    if let Some(reason) = reason {
        readiness.status = "not_ready";
        readiness.reason = Some(reason);
        return (StatusCode::SERVICE_UNAVAILABLE, Json(readiness));
    }
    (StatusCode::OK, Json(readiness))
}

/// The identity store's status, and the reason it blocks readiness, if it does.
async fn identity_health(state: &AppState) -> (IdentityHealth, Option<String>) {
    let Some(stage) = &state.identity else {
        return (
            IdentityHealth {
                enabled: false,
                store: None,
                error: None,
            },
            None,
        );
    };
    let ping = stage.resolver().store().store().ping();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(2), ping).await;
    let error = match answer {
        Ok(Ok(())) => {
            let up = IdentityHealth {
                enabled: true,
                store: Some("up"),
                error: None,
            };
            return (up, None);
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the identity store did not answer in 2 s".to_owned(),
    };
    let blocks = (stage.on_store_error() == OnStoreError::Unavailable)
        .then(|| format!("identity store: {error}"));
    let down = IdentityHealth {
        enabled: true,
        store: Some("down"),
        error: Some(error),
    };
    (down, blocks)
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
        assert_eq!(
            text(&Alive { status: "ok" }),
            text(&json!({"status": "ok"}))
        );
        let registry = Health {
            status: "stale",
            version: 3,
            error: Some("db down".into()),
            redis: "off".into(),
        };
        let registry_json =
            json!({"status": "stale", "version": 3, "error": "db down", "redis": "off"});
        let not_ready = Readiness {
            status: "not_ready",
            sink: "kafka",
            reason: Some("brokers down".into()),
            registry: registry.clone(),
            identity: IdentityHealth {
                enabled: true,
                store: Some("down"),
                error: Some("timeout".into()),
            },
            spool: Some(SpoolStatus {
                records: 7,
                bytes: 700,
                max_bytes: 1000,
                oldest_age_ms: Some(1500),
                brokers_error: None,
            }),
        };
        assert_eq!(
            text(&not_ready),
            text(
                &json!({"status": "not_ready", "sink": "kafka", "reason": "brokers down",
                "registry": registry_json,
                "identity": {"enabled": true, "store": "down", "error": "timeout"},
                "spool": {"records": 7, "bytes": 700, "max_bytes": 1000, "oldest_age_ms": 1500}})
            )
        );
        let ready = Readiness {
            status: "ready",
            sink: "file",
            reason: None,
            registry,
            identity: IdentityHealth {
                enabled: false,
                store: None,
                error: None,
            },
            spool: None,
        };
        assert_eq!(
            text(&ready),
            text(
                &json!({"status": "ready", "sink": "file", "registry": registry_json,
                "identity": {"enabled": false}})
            )
        );
    }
}
