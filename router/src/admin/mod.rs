//! Operator endpoints: health, readiness, Prometheus metrics, and the metadata admin API.
mod auth;
mod body;
pub mod health;
pub mod identity_api;
pub mod metrics;
pub mod plugins_api;
pub mod registry_api;
