//! Operator endpoints: health, readiness and Prometheus metrics.
pub mod health;
pub mod metrics;
