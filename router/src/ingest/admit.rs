//! The admission guard of the event routes: URL and header caps, the client's rate and an
//! in-flight slot, checked in that order before a body is read (see `crate::admission`).
use crate::admission::ClientKey;
use crate::enrich::client_ip::client_ip;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let admission = &state.admission;
    if let Err(refused) = admission.check_sizes(request.uri(), request.headers()) {
        return refused.into_response();
    }
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let ip = client_ip(
            peer.ip(),
            request.headers(),
            &state.enrichers.trusted_proxies,
        );
        if let Err(refused) = admission.take_client(ClientKey::from(ip)) {
            return refused.into_response();
        }
    }
    match admission.enter() {
        Ok(_slot) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}
