//! slog's benchmark harness, the code its binaries share.
//!
//! - [`pageview`]: the benchmark's payloads — a realistic ~1 KB web pageview in slog's wire format,
//!   the request bodies built from it, and slog's output record for it (what the Kafka ceiling
//!   produces);
//! - [`driver`]: the load loop — closed loop for the peak, open loop at a fixed rate for latency —
//!   its counters and percentiles, and the one JSON result line every binary prints;
//! - [`procfs`]: CPU time and peak RSS of a process, read from `/proc`.
//!
//! The binaries: `slog-load` (HTTP load generator), `http-ceiling` (axum server doing nothing),
//! `kafka-ceiling` (a bare rdkafka producer with slog's settings). `scripts/bench.sh` runs them.
pub mod driver;
pub mod pageview;
pub mod procfs;
