//! `slog-load`: the HTTP load generator of the benchmark.
//!
//! Real HTTP/1.1 over TCP with keep-alive: each worker owns one connection (hyper's client
//! connection, no pool), reuses it for every request and reconnects only after an error. Bodies
//! come from a pool generated before the run ([`slog_bench::pageview::bodies`]), so a request costs
//! the generator a header write and a body copy into the socket. Without `--rate` it measures the
//! peak (closed loop); with `--rate` the latency at that offered rate (open loop, see
//! [`slog_bench::driver`]). Prints one JSON line on stdout.
//!
//! The runtime is single-threaded by default (`--threads 1`): on the benchmark's 2-core machine
//! the generator then never takes more than one core from the server, and `loadgen_cpu_cores` in
//! the result says how close it came.
use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, HOST, USER_AGENT};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use slog_bench::driver::{self, Outcome, Pacer, Plan, Recorder};
use slog_bench::pageview::{self, Scenario};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "slog-load",
    about = "HTTP load generator for slog's POST /slog/event"
)]
struct Cli {
    /// Where to POST, e.g. http://127.0.0.1:8080/slog/event.
    #[arg(long)]
    url: Uri,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Requests per second, open loop. Without it: closed loop, the peak.
    #[arg(long)]
    rate: Option<f64>,
    /// Keep-alive connections (one per worker). Default: 32 closed loop, 64 open loop.
    #[arg(long)]
    connections: Option<usize>,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring (not counted).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The server's process id: its CPU time over the measured window is reported.
    #[arg(long)]
    cpu_pid: Option<u32>,
    /// The Kafka broker's process id, when slog uses one: its CPU time over the window too.
    #[arg(long)]
    broker_pid: Option<u32>,
    /// Instead of a run: send every body of the scenario's pool once, one after another, and
    /// exit. The benchmark primes slog with it, so that the first sight of the pool's 6,400
    /// devices (new people: identity-store writes) is not inside a measured run.
    #[arg(long)]
    prime: bool,
    /// Generator threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// What every request of a run shares.
struct Target {
    addr: SocketAddr,
    host: String,
    path: String,
    gzip: bool,
    bodies: Vec<Bytes>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.url.scheme_str() != Some("http") {
        bail!("--url must be http://HOST:PORT/PATH");
    }
    if cli.rate.is_some_and(|r| r <= 0.0 || !r.is_finite()) {
        bail!("--rate must be a positive number");
    }
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()?
    };
    let line = runtime.block_on(load(cli))?;
    println!("{line}");
    Ok(())
}

async fn load(cli: Cli) -> anyhow::Result<serde_json::Value> {
    let host = cli.url.host().context("--url has no host")?;
    let port = cli.url.port_u16().unwrap_or(80);
    let addr = tokio::net::lookup_host((host, port))
        .await?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    let target = Arc::new(Target {
        addr,
        host: format!("{host}:{port}"),
        path: cli
            .url
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        gzip: cli.scenario.gzip(),
        bodies: pageview::bodies(cli.scenario),
    });
    if cli.prime {
        return prime(&target).await;
    }
    let plan = Plan {
        scenario: cli.scenario.name(),
        events_per_request: cli.scenario.events_per_request(),
        connections: cli
            .connections
            .unwrap_or(if cli.rate.is_some() { 64 } else { 32 })
            .max(1),
        warmup: Duration::from_secs_f64(cli.warmup),
        duration: Duration::from_secs_f64(cli.duration),
        rate: cli.rate,
        cpu_pid: cli.cpu_pid,
        broker_pid: cli.broker_pid,
    };
    driver::run(&plan, |index, pacer| worker(index, pacer, target.clone())).await
}

/// Sends each body once on one connection; fails unless every answer is a 2xx.
async fn prime(target: &Target) -> anyhow::Result<serde_json::Value> {
    let started = std::time::Instant::now();
    let mut connection = None;
    for (index, body) in target.bodies.iter().enumerate() {
        if !post(&mut connection, target, body.clone()).await? {
            bail!("priming: body {index} was not answered 2xx");
        }
    }
    Ok(serde_json::json!({
        "primed_requests": target.bodies.len(),
        "seconds": started.elapsed().as_secs_f64(),
    }))
}

async fn worker(index: usize, pacer: Arc<Pacer>, target: Arc<Target>) -> Recorder {
    let mut recorder = Recorder::default();
    let mut connection = None;
    // Workers start at different bodies so concurrent requests carry different events.
    let mut body = index * 7;
    while let Some(ticket) = pacer.next().await {
        body = (body + 1) % target.bodies.len();
        let sent = tokio::time::timeout(
            driver::REQUEST_TIMEOUT,
            post(&mut connection, &target, target.bodies[body].clone()),
        )
        .await;
        let outcome = match sent {
            Ok(Ok(true)) => Outcome::Ok,
            Ok(Ok(false)) => Outcome::Non2xx,
            Ok(Err(_)) | Err(_) => {
                // The connection's state is unknown after an error: start a new one.
                connection = None;
                Outcome::Error
            }
        };
        recorder.record(&pacer, ticket, outcome);
    }
    recorder
}

/// One POST on the worker's connection (opened first if needed); true for a 2xx answer.
async fn post(
    connection: &mut Option<SendRequest<Full<Bytes>>>,
    target: &Target,
    body: Bytes,
) -> anyhow::Result<bool> {
    if connection.as_ref().is_none_or(|c| c.is_closed()) {
        *connection = Some(connect(target.addr).await?);
    }
    let sender = connection.as_mut().expect("connected above");
    sender.ready().await?;
    let mut request = Request::post(target.path.as_str())
        .header(HOST, target.host.as_str())
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, pageview::USER_AGENT);
    if target.gzip {
        request = request.header(CONTENT_ENCODING, "gzip");
    }
    let response = sender.send_request(request.body(Full::new(body))?).await?;
    let ok = response.status().is_success();
    // Read the answer to its end: the connection is reusable only then, and the answer's size
    // (slog's per-event results for a batch) is part of the work measured.
    response.into_body().collect().await?;
    Ok(ok)
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    // Requests are small and answered one at a time: do not let Nagle hold them back.
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors surface on the sender.
        let _ = connection.await;
    });
    Ok(sender)
}
