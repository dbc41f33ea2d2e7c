//! slog-router: the library behind the `slog` binary.
//!
//! The binary (`main.rs`) only parses the command line; everything it runs lives here so that
//! unit tests and benchmarks reach the same code.
pub mod admin;
pub mod admission;
pub mod bearer;
pub mod clock;
pub mod config;
pub mod db;
pub mod enrich;
pub mod error;
pub mod error_response;
pub mod event;
pub mod http;
pub mod identity;
pub mod inflate;
pub mod ingest;
pub mod invalid_config;
pub mod metadata;
pub mod openapi;
pub mod pipeline;
pub mod plugins;
pub mod report_api;
pub mod reports;
pub mod sensors;
pub mod server;
pub mod sink;
pub mod state;
pub mod strict_json;
pub mod telemetry;
pub mod token_gate;
pub mod warehouse;
