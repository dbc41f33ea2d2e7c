//! identity-accuracy: how well slog joins one person's events (tracking plan goal 2), from ground truth.
//!
//! Generates a synthetic population with ground truth — `systems` (default,
//! `slog_bench::systems`: the tracking plan's web, WeChat H5, mini-program, Android, iOS, back
//! end, CRM and sales-lead systems, with real-world patterns such as numeric userids, shared
//! mobiles, unionid-first WeChat users, broken-SDK constant device ids, reinstalls, offline
//! buffering and signup races) or `basic` (`slog_bench::population`) — starts the `slog` binary
//! on its embedded default (SQLite identity store, file sink, self-registering names) in a
//! temporary directory, posts the timeline (`--concurrency 1`: in order, batch after batch;
//! N > 1: windows of `--window` events cut into N racing lanes, `slog_bench::post`), stops slog
//! (which flushes), reads the events and users topics back, applies the identity-merge records
//! the way a warehouse would, and scores every event against the person who really sent it with
//! `slog_bench::score` (which does not use slog's rules). Prints the summary, refused events by
//! code and field, and a per-pattern breakdown; false merges and a few split people go to stderr
//! with sample events. Exits non-zero when a false merge puts two userids on one person.
//!
//!   cargo build --release -p slog-router -p slog-bench
//!   target/release/identity-accuracy [--people 2000] [--seed 7] [--population systems|basic]
//!       [--concurrency 4] [--window 200] [--batch 100] [--keep DIR] [--slog PATH]
//!
//! `scripts/identity-accuracy.sh` does both.
use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use serde_json::Value;
use slog_bench::population::Population;
use slog_bench::post::{self, Answer, Posting};
use slog_bench::score::{Outcome, Score};
use slog_bench::systems;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// The tracking plan's systems and real-world patterns.
    Systems,
    /// The simple population (devices, logins, server buyCourse, family browsers).
    Basic,
}

#[derive(Parser)]
struct Args {
    /// People in the synthetic population.
    #[arg(long, default_value_t = 2000)]
    people: usize,
    /// Seed of the population (same seed, same population).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    #[arg(long, value_enum, default_value = "systems")]
    population: Kind,
    /// Events per POST.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Concurrent lanes; 1 posts the whole timeline in order.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Events per window of concurrent lanes (windows are posted one after another).
    #[arg(long, default_value_t = 200)]
    window: usize,
    /// Keep slog's directory (config, registry, topics) at this path for a closer look.
    #[arg(long)]
    keep: Option<PathBuf>,
    /// The slog binary; default: `slog` beside this program.
    #[arg(long)]
    slog: Option<PathBuf>,
}

const CONFIG: &str = r#"
[registry]
url = "sqlite://data/registry.db?mode=rwc"
# The populations' event names and properties register themselves.
default_policy = "register"
[sink]
kind = "file"
"#;

/// The timeline starts this long before now: offline-buffered events carry their own `time`,
/// which slog accepts up to a day ahead of its clock; in the past they are always valid.
const TIMELINE_BACK_MS: u64 = 22 * 3600 * 1000;

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let slog_bin = match args.slog {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("program directory")?
            .join("slog"),
    };
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let (truth, name) = match args.population {
        Kind::Systems => (
            systems::generate(args.people, args.seed, now_ms - TIMELINE_BACK_MS),
            "systems",
        ),
        Kind::Basic => (
            Population::generate(args.people, args.seed).truth(),
            "basic",
        ),
    };
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("slog.toml"), CONFIG)?;
    let (mut child, addr) = start(&slog_bin, dir.path())?;

    let how = Posting {
        concurrency: args.concurrency,
        window: args.window,
        batch: args.batch,
    };
    let started = Instant::now();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/slog/event");
    let answers = post::post(&client, &url, &truth, how).await;
    let elapsed = started.elapsed();
    stop(&mut child)?;
    let answers = answers?;

    let records = |topic: &str| -> anyhow::Result<Vec<Value>> {
        let text = std::fs::read_to_string(dir.path().join("data").join(format!("{topic}.jsonl")))
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).context("record JSON"))
            .collect()
    };
    let users = records("users")?;
    let mut uuids: HashMap<String, Option<String>> = HashMap::new();
    for r in records("events")?.iter().chain(&users) {
        if let Some(id) = r["event_id"].as_str() {
            let uuid = r["uidentity"]["uuid"].as_str().map(str::to_owned);
            uuids.insert(id.to_owned(), uuid);
        }
    }
    let merges: HashMap<String, String> = users
        .iter()
        .filter(|r| r["type"] == "identity_merge")
        .filter_map(|r| {
            Some((
                r["from_uuid"].as_str()?.to_owned(),
                r["to_uuid"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let outcomes: Vec<Outcome> = answers
        .into_iter()
        .map(|a| match a {
            Answer::Accepted(id) => match uuids.get(&id) {
                Some(uuid) => Outcome::Accepted(uuid.clone()),
                None => Outcome::Lost,
            },
            Answer::Refused { code, field } => Outcome::Refused { code, field },
        })
        .collect();
    if let Some(keep) = &args.keep {
        std::fs::rename(dir.keep(), keep)
            .with_context(|| format!("moving slog's directory to {}", keep.display()))?;
        eprintln!("slog's directory kept in {}", keep.display());
    }
    let score = Score::measure(&truth, &outcomes, &merges);
    println!(
        "identity accuracy ({name} population): {} people ({} registered), {} devices, {} events, seed {}, concurrency {}",
        truth.people.len(),
        truth.registered(),
        truth.devices,
        truth.events.len(),
        args.seed,
        args.concurrency
    );
    score.print(&truth, elapsed.as_secs_f64());
    // Two userids on one person is the failure the tool exists to catch; an anonymous-only
    // person on someone's uuid is misattribution, reported above and counted in the accuracy.
    if score.account_false_merges() > 0 {
        eprintln!(
            "{} false merges of two userids found",
            score.account_false_merges()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn start(bin: &Path, dir: &Path) -> anyhow::Result<(Child, String)> {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--config", "slog.toml"])
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    // slog logs to stderr.
    let log = child.stderr.take().context("slog stderr")?;
    let mut lines = BufReader::new(log).lines();
    let addr = loop {
        let Some(line) = lines.next() else {
            bail!("slog exited before listening");
        };
        let line = line?;
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    // Keep draining the log so slog never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, addr))
}

fn stop(child: &mut Child) -> anyhow::Result<()> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    child.wait()?;
    Ok(())
}
