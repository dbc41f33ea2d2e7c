//! The load loop shared by `slog-load` and `kafka-ceiling`: who sends when, what is counted, and
//! the one JSON line a run prints.
//!
//! A run is `warmup` seconds not counted, then `duration` seconds measured, with `connections`
//! workers. Each worker owns its connection (or producer slot) and loops: take a [`Ticket`] from
//! the shared [`Pacer`], do one request, [`Recorder::record`] it.
//!
//! - **Closed loop** (no rate): each worker sends back to back; a request counts when it completes
//!   inside the measured window. Completed requests per second is the peak.
//! - **Open loop** (`rate` R): request *i* is intended at `t0 + i/R` whatever happened before.
//!   A free worker takes the next intended request, sleeping until its time if early. Latency is
//!   completion − intended time, so when the server falls behind, the backlog shows up as latency
//!   instead of silently lowering the offered rate (coordinated omission). A request counts when
//!   its intended time is inside the window. One allowance: tokio's timer wakes up to ~1 ms late,
//!   so when a worker slept until the intended time, up to [`TIMER_SLACK`] of wake-up lateness is
//!   the generator's and not charged; anything later is (a starved generator then errs on the
//!   pessimistic side). Requests still unsent [`DRAIN_LIMIT`] after the window are given up and
//!   reported as `unsent`.
//!
//! Rates (`requests_per_sec`, `events_per_sec`) count successful (2xx) requests only, so a peak
//! made of fast errors is not a peak. Latency percentiles are over successful requests; non-2xx
//! answers and transport errors are counted beside them.
use crate::procfs;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How late a timer wake-up may be before the lateness counts as latency.
pub const TIMER_SLACK: Duration = Duration::from_millis(1);
/// Open loop: how long after the window workers keep sending an overdue backlog.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// No request waits longer than this; it then counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Plan {
    pub scenario: &'static str,
    pub events_per_request: usize,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// Requests per second (open loop); `None` is the closed loop.
    pub rate: Option<f64>,
    /// The process whose CPU time is measured over the window (the server under test).
    pub cpu_pid: Option<u32>,
    /// The Kafka broker's process, measured over the same window: on a shared machine the
    /// broker's CPU per event is what the producer side competes with.
    pub broker_pid: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Non2xx,
    Error,
}

/// One request to make: when its latency clock starts.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    intended: Instant,
    clock_start: Instant,
}

/// Hands out the requests to make, in the closed or open loop.
pub struct Pacer {
    start: Instant,
    measure_from: Instant,
    measure_until: Instant,
    rate: Option<f64>,
    next: AtomicU64,
}

impl Pacer {
    fn new(plan: &Plan) -> Self {
        // A short lead so every worker is spawned before the first intended time.
        let start = Instant::now() + Duration::from_millis(20);
        let measure_from = start + plan.warmup;
        Pacer {
            start,
            measure_from,
            measure_until: measure_from + plan.duration,
            rate: plan.rate,
            next: AtomicU64::new(0),
        }
    }

    /// The next request to make, once it is due; `None` when the run is over for this worker.
    pub async fn next(&self) -> Option<Ticket> {
        let now = Instant::now();
        let Some(rate) = self.rate else {
            if now < self.start {
                tokio::time::sleep_until(self.start.into()).await;
            }
            let now = Instant::now();
            return (now < self.measure_until).then_some(Ticket {
                intended: now,
                clock_start: now,
            });
        };
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let intended = self.start + Duration::from_secs_f64(i as f64 / rate);
        if intended >= self.measure_until || now > self.measure_until + DRAIN_LIMIT {
            return None;
        }
        if intended <= now {
            // Behind schedule: the wait so far is the server's doing and counts.
            return Some(Ticket {
                intended,
                clock_start: intended,
            });
        }
        tokio::time::sleep_until(intended.into()).await;
        let woke = Instant::now();
        Some(Ticket {
            intended,
            clock_start: woke.min(intended + TIMER_SLACK),
        })
    }

    fn measured(&self, ticket: &Ticket, done: Instant) -> bool {
        match self.rate {
            None => done >= self.measure_from && done <= self.measure_until,
            Some(_) => ticket.intended >= self.measure_from,
        }
    }
}

/// One worker's counts and latencies.
#[derive(Default)]
pub struct Recorder {
    latencies_us: Vec<u32>,
    requests: u64,
    ok: u64,
    non_2xx: u64,
    errors: u64,
    last_done: Option<Instant>,
}

impl Recorder {
    pub fn record(&mut self, pacer: &Pacer, ticket: Ticket, outcome: Outcome) {
        let done = Instant::now();
        if !pacer.measured(&ticket, done) {
            return;
        }
        self.requests += 1;
        self.last_done = self.last_done.max(Some(done));
        match outcome {
            Outcome::Ok => {
                self.ok += 1;
                let us = done
                    .saturating_duration_since(ticket.clock_start)
                    .as_micros();
                self.latencies_us.push(us.min(u32::MAX as u128) as u32);
            }
            Outcome::Non2xx => self.non_2xx += 1,
            Outcome::Error => self.errors += 1,
        }
    }

    fn merge(&mut self, other: Recorder) {
        self.latencies_us.extend(other.latencies_us);
        self.requests += other.requests;
        self.ok += other.ok;
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        self.last_done = self.last_done.max(other.last_done);
    }
}

/// Runs `plan`: spawns `plan.connections` workers made by `worker(index, pacer)`, each returning
/// its [`Recorder`] when the pacer says the run is over; returns the result line.
pub async fn run<W, F>(plan: &Plan, worker: W) -> anyhow::Result<Value>
where
    W: Fn(usize, Arc<Pacer>) -> F,
    F: Future<Output = Recorder> + Send + 'static,
{
    let pacer = Arc::new(Pacer::new(plan));
    let workers: Vec<_> = (0..plan.connections)
        .map(|i| tokio::spawn(worker(i, pacer.clone())))
        .collect();

    // CPU of the server and of this process over exactly the measured window.
    let me = std::process::id();
    let cpu = |pid: Option<u32>| pid.map(procfs::cpu_seconds).transpose();
    tokio::time::sleep_until(pacer.measure_from.into()).await;
    let (server0, me0) = (cpu(plan.cpu_pid)?, procfs::cpu_seconds(me)?);
    let broker0 = cpu(plan.broker_pid)?;
    tokio::time::sleep_until(pacer.measure_until.into()).await;
    let (server1, me1) = (cpu(plan.cpu_pid)?, procfs::cpu_seconds(me)?);
    let broker1 = cpu(plan.broker_pid)?;

    let mut all = Recorder::default();
    for w in workers {
        all.merge(w.await?);
    }
    let window = plan.duration.as_secs_f64();
    let seconds = match (plan.rate, all.last_done) {
        (Some(_), Some(last)) => window.max((last - pacer.measure_from).as_secs_f64()),
        _ => window,
    };
    let events = all.ok * plan.events_per_request as u64;
    all.latencies_us.sort_unstable();
    let pct = |p: f64| percentile_ms(&all.latencies_us, p);
    let mut line = json!({
        "scenario": plan.scenario,
        "mode": if plan.rate.is_some() { "rate" } else { "peak" },
        "target_rps": plan.rate,
        "connections": plan.connections,
        "requests": all.requests,
        "ok": all.ok,
        "non_2xx": all.non_2xx,
        "errors": all.errors,
        "events": events,
        "seconds": round3(seconds),
        "requests_per_sec": round3(all.ok as f64 / seconds),
        "events_per_sec": round3(events as f64 / seconds),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "p999_ms": pct(0.999),
        "max_ms": all.latencies_us.last().map(|&us| round3(us as f64 / 1000.0)),
        "loadgen_cpu_cores": round3((me1 - me0) / window),
    });
    if let Some(rate) = plan.rate {
        let planned = (plan.duration.as_secs_f64() * rate).floor() as u64;
        line["unsent"] = planned.saturating_sub(all.requests).into();
    }
    // Per event over the same window as the events counted (completions inside it).
    let per_event = |cpu: f64| (events > 0).then(|| round3(cpu * 1e6 / events as f64));
    if let (Some(s0), Some(s1)) = (server0, server1) {
        let cpu = s1 - s0;
        line["server_cpu_seconds"] = round3(cpu).into();
        line["server_cpu_cores"] = round3(cpu / window).into();
        if let Some(us) = per_event(cpu) {
            line["cpu_us_per_event"] = us.into();
        }
    }
    if let (Some(b0), Some(b1)) = (broker0, broker1) {
        let cpu = b1 - b0;
        line["broker_cpu_cores"] = round3(cpu / window).into();
        if let Some(us) = per_event(cpu) {
            line["broker_cpu_us_per_event"] = us.into();
        }
    }
    Ok(line)
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    Some(round3(sorted_us[rank - 1] as f64 / 1000.0))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u32> = (1..=1000).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 0.5), Some(500.0));
        assert_eq!(percentile_ms(&us, 0.99), Some(990.0));
        assert_eq!(percentile_ms(&us, 0.999), Some(999.0));
        assert_eq!(percentile_ms(&[], 0.5), None);
    }

    /// A server that stalls shows up as latency in the open loop even though only one request
    /// was slow: the requests intended during the stall count from their intended time.
    #[tokio::test]
    async fn open_loop_charges_a_stall_to_the_requests_scheduled_behind_it() {
        let plan = Plan {
            scenario: "test",
            events_per_request: 1,
            connections: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            rate: Some(100.0),
            cpu_pid: None,
            broker_pid: None,
        };
        let line = run(&plan, |_, pacer| async move {
            let mut rec = Recorder::default();
            let mut n = 0;
            while let Some(ticket) = pacer.next().await {
                n += 1;
                // The 10th request takes 200 ms; the others are instant.
                if n == 10 {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                rec.record(&pacer, ticket, Outcome::Ok);
            }
            rec
        })
        .await
        .unwrap();
        assert_eq!(line["ok"], 100);
        // ~20 requests were intended during the stall, each waiting up to 200 ms.
        assert!(line["p99_ms"].as_f64().unwrap() >= 180.0, "{line}");
        // Most requests were on time (loose bound: the test may share a busy machine).
        assert!(line["p50_ms"].as_f64().unwrap() < 100.0, "{line}");
    }
}
