//! The analytic store: a loader that moves the topics' records into tables the report queries
//! read (tracking plan §3.1, the "events" and "users" databases). It reads what the sinks wrote,
//! never the pipeline, and the pipeline does not know it exists.
//!
//! - `sqlite`: the embedded store, `data/warehouse.db`.
pub mod sqlite;
