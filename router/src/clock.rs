//! Wall-clock time as slog records it: epoch milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in milliseconds since the Unix epoch (0 if the clock is set before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now, in seconds since the Unix epoch: the unit of the registry's `create_time` (tracking plan
/// §3.2: int(10)).
pub fn now_secs() -> i64 {
    now_ms() / 1000
}
