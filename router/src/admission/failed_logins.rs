//! Failed admin logins per client, in one-minute windows: past the allowed number, the client's
//! admin requests are refused, right token or not, until its window ends — so a token cannot be
//! guessed at network speed, and a lockout says nothing about whether a guess was right.
use super::ClientKey;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Past this many clients with failures, expired windows are dropped on the next failure.
const PRUNE_ABOVE: usize = 10_000;

pub struct FailedLogins {
    per_minute: u32,
    windows: Mutex<HashMap<ClientKey, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl FailedLogins {
    pub fn new(per_minute: u32) -> Self {
        FailedLogins {
            per_minute: per_minute.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` stays locked out; `None` when it may try.
    pub fn locked(&self, client: ClientKey) -> Option<Duration> {
        self.locked_at(client, Instant::now())
    }

    pub fn record_failure(&self, client: ClientKey) {
        self.record_failure_at(client, Instant::now());
    }

    pub fn forget_expired(&self) {
        let now = Instant::now();
        self.lock()
            .retain(|_, w| now.duration_since(w.started) < WINDOW);
    }

    fn locked_at(&self, client: ClientKey, now: Instant) -> Option<Duration> {
        let windows = self.lock();
        let window = windows.get(&client)?;
        let elapsed = now.duration_since(window.started);
        (elapsed < WINDOW && window.failures >= self.per_minute).then(|| WINDOW - elapsed)
    }

    fn record_failure_at(&self, client: ClientKey, now: Instant) {
        let mut windows = self.lock();
        if windows.len() > PRUNE_ABOVE {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
        }
        let window = windows.entry(client).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now.duration_since(window.started) >= WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ClientKey, Window>> {
        // The map holds counters only: one left mid-update by a panic is still usable.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn client(s: &str) -> ClientKey {
        ClientKey::from(s.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn a_client_is_locked_after_its_allowance_until_the_window_ends() {
        let logins = FailedLogins::new(3);
        let (a, b) = (client("10.0.0.1"), client("10.0.0.2"));
        let t0 = Instant::now();
        for _ in 0..2 {
            logins.record_failure_at(a, t0);
        }
        assert_eq!(logins.locked_at(a, t0), None, "two of three");
        logins.record_failure_at(a, t0);
        let left = logins.locked_at(a, t0 + Duration::from_secs(20)).unwrap();
        assert_eq!(left, Duration::from_secs(40));
        assert_eq!(
            logins.locked_at(b, t0),
            None,
            "another client is not affected"
        );
        assert_eq!(logins.locked_at(a, t0 + WINDOW), None, "the window ended");
        logins.record_failure_at(a, t0 + WINDOW);
        assert_eq!(
            logins.locked_at(a, t0 + WINDOW),
            None,
            "a new window starts at 1"
        );
    }
}
