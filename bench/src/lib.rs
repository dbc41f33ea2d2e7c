//! slog's benchmark harness, the code its binaries share.
//!
//! - [`pageview`]: the benchmark's payloads — a realistic ~1 KB web pageview in slog's wire format,
//!   the request bodies built from it, and slog's output record for it (what the Kafka ceiling
//!   produces);
//! - [`driver`]: the load loop — closed loop for the peak, open loop at a fixed rate for latency —
//!   its counters and percentiles, and the one JSON result line every binary prints;
//! - [`procfs`]: CPU time and peak RSS of a process, read from `/proc`;
//! - identity accuracy: [`truth`] (who really sent each event), the two synthetic populations
//!   [`population`] (simple) and [`systems`] (the tracking plan's systems and real-world
//!   patterns), [`post`] (posting a timeline, sequentially or in racing lanes) and [`score`] (the
//!   scorer and its report).
//!
//! The binaries: `slog-load` (HTTP load generator), `http-ceiling` (axum server doing nothing),
//! `kafka-ceiling` (a bare rdkafka producer with slog's settings), run by `scripts/bench.sh`; and
//! `identity-accuracy` (the identity accuracy report), run by `scripts/identity-accuracy.sh`.
pub mod driver;
pub mod pageview;
pub mod population;
pub mod post;
pub mod procfs;
pub mod score;
pub mod systems;
pub mod truth;
