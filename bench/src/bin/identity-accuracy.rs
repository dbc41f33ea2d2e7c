//! identity-accuracy: how well slog joins one person's events (seed goal 2), from ground truth.
//!
//! Generates a synthetic population (`slog_bench::population`), starts the `slog` binary on its
//! embedded default (SQLite identity store, file sink) in a temporary directory, posts every event
//! in timeline order, stops slog (which flushes), reads the events and users topics back and
//! compares each event's uuid with the person who really sent it. Identity-merge messages are
//! applied the way a warehouse would (re-attributing the merged uuid's history).
//!
//!   cargo build --release -p slog-router -p slog-bench
//!   target/release/identity-accuracy [--people 2000] [--seed 7] [--slog PATH]
//!
//! `scripts/identity-accuracy.sh` does both.
use anyhow::{bail, Context};
use clap::Parser;
use serde_json::Value;
use slog_bench::population::{Origin, Population};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// People in the synthetic population.
    #[arg(long, default_value_t = 2000)]
    people: usize,
    /// Seed of the population (same seed, same population).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Events per POST (timeline order is kept within and across batches).
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// The slog binary; default: `slog` beside this program.
    #[arg(long)]
    slog: Option<PathBuf>,
}

const CONFIG: &str = r#"
[registry]
url = "sqlite://data/registry.db?mode=rwc"
# buyCourse and the accuracy project's properties register themselves.
default_policy = "register"
[sink]
kind = "file"
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let slog_bin = match args.slog {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("program directory")?
            .join("slog"),
    };
    let population = Population::generate(args.people, args.seed);
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("slog.toml"), CONFIG)?;
    let (mut child, addr) = start(&slog_bin, dir.path())?;

    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut event_ids: Vec<Option<String>> = Vec::with_capacity(population.events.len());
    for chunk in population.events.chunks(args.batch.max(1)) {
        let body: Vec<&Value> = chunk.iter().map(|e| &e.body).collect();
        let answer: Value = client
            .post(format!("http://{addr}/slog/event"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let results = answer["results"].as_array().context("batch results")?;
        for result in results {
            event_ids.push(result["event_id"].as_str().map(str::to_owned));
        }
    }
    let elapsed = started.elapsed();
    stop(&mut child)?;

    let records = |topic: &str| -> anyhow::Result<Vec<Value>> {
        let text = std::fs::read_to_string(dir.path().join("data").join(format!("{topic}.jsonl")))
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).context("record JSON"))
            .collect()
    };
    let events: HashMap<String, Value> = records("events")?
        .into_iter()
        .filter_map(|r| Some((r["event_id"].as_str()?.to_owned(), r)))
        .collect();
    let merges: HashMap<String, String> = records("users")?
        .iter()
        .filter(|r| r["type"] == "identity_merge")
        .filter_map(|r| {
            Some((
                r["from_uuid"].as_str()?.to_owned(),
                r["to_uuid"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let report = Report::measure(&population, &event_ids, &events, &merges);
    report.print(&population, args.seed, elapsed.as_secs_f64());
    if report.false_merges > 0 || report.misattributed > 0 {
        bail!("false merges found");
    }
    Ok(())
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

fn final_uuid<'a>(uuid: &'a str, merges: &'a HashMap<String, String>) -> &'a str {
    let mut current = uuid;
    for _ in 0..=merges.len() {
        match merges.get(current) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

/// One accepted event: who really sent it, and the uuid slog gave it.
struct Seen<'a> {
    person: usize,
    /// As emitted.
    uuid: Option<&'a str>,
    /// After applying the merge messages.
    final_: Option<&'a str>,
    origin: Origin,
    device: Option<usize>,
}

#[derive(Default)]
struct Report {
    posted: usize,
    accepted: usize,
    with_uuid: usize,
    attributable: usize,
    right_after_merges: usize,
    right_as_emitted: usize,
    never_linked_device: usize,
    shared_device: usize,
    without_uuid: usize,
    misattributed: usize,
    false_merges: usize,
    merges: usize,
}

impl Report {
    fn measure(
        population: &Population,
        event_ids: &[Option<String>],
        events: &HashMap<String, Value>,
        merges: &HashMap<String, String>,
    ) -> Report {
        let mut r = Report {
            posted: population.events.len(),
            merges: merges.len(),
            ..Report::default()
        };
        let mut seen: Vec<Seen> = Vec::new();
        for (sent, id) in population.events.iter().zip(event_ids) {
            let Some(record) = id.as_ref().and_then(|id| events.get(id)) else {
                continue;
            };
            r.accepted += 1;
            let uuid = record["uidentity"]["uuid"].as_str();
            let final_ = uuid.map(|u| final_uuid(u, merges));
            seen.push(Seen {
                person: sent.person,
                uuid,
                final_,
                origin: sent.origin,
                device: sent.device,
            });
        }
        // A person's uuid: the one most of their account-carrying events end on, else most events.
        // Anonymous events on a shared browser do not vote: who sent them is ambiguous to slog.
        let mut votes: Vec<BTreeMap<&str, (usize, usize)>> =
            vec![BTreeMap::new(); population.people];
        for &Seen {
            person,
            final_,
            origin,
            device,
            ..
        } in &seen
        {
            let shared = device.is_some_and(|d| population.devices[d].users.len() > 1);
            if origin == Origin::Anonymous && shared {
                continue;
            }
            if let Some(f) = final_ {
                let v = votes[person].entry(f).or_default();
                if origin != Origin::Anonymous {
                    v.0 += 1;
                }
                v.1 += 1;
            }
        }
        let canonical: Vec<Option<&str>> = votes
            .iter()
            .map(|v| v.iter().max_by_key(|(_, n)| **n).map(|(u, _)| *u))
            .collect();
        let mut owners: HashMap<&str, usize> = HashMap::new();
        for (person, uuid) in canonical.iter().enumerate() {
            if let Some(uuid) = uuid {
                if let Some(other) = owners.insert(uuid, person) {
                    r.false_merges += 1;
                    eprintln!("false merge: people {other} and {person} are both on {uuid}");
                }
            }
        }
        let own_devices = |person: usize| {
            population
                .devices
                .iter()
                .filter(|d| d.users.contains(&person))
                .count()
        };
        let mut server_events = vec![false; population.people];
        for sent in &population.events {
            if sent.origin == Origin::Server {
                server_events[sent.person] = true;
            }
        }
        for &Seen {
            person,
            uuid,
            final_,
            origin,
            device,
        } in &seen
        {
            if uuid.is_none() {
                r.without_uuid += 1;
                continue;
            }
            r.with_uuid += 1;
            let shared = device.is_some_and(|d| population.devices[d].users.len() > 1);
            let linkable = match (origin, device) {
                // A device is joined to its owner by a login on it; an only device of someone
                // the back end never reported is the person by itself.
                (Origin::Anonymous, Some(d)) => {
                    population.logged_in_devices[d]
                        || (own_devices(person) == 1 && !server_events[person])
                }
                _ => true,
            };
            if origin == Origin::Anonymous && shared {
                r.shared_device += 1;
                continue;
            }
            if !linkable {
                r.never_linked_device += 1;
                continue;
            }
            r.attributable += 1;
            if final_ == canonical[person] {
                r.right_after_merges += 1;
            } else if final_.is_some_and(|f| owners.get(f).is_some_and(|&o| o != person)) {
                r.misattributed += 1;
            }
            if uuid == canonical[person] {
                r.right_as_emitted += 1;
            }
        }
        r
    }

    fn print(&self, population: &Population, seed: u64, seconds: f64) {
        let pct = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
        let registered = population.registered.iter().filter(|r| **r).count();
        println!(
            "identity accuracy: {} people ({registered} registered), {} devices, {} events, seed {seed}",
            population.people,
            population.devices.len(),
            self.posted
        );
        println!("| measure | value |");
        println!("|---|---|");
        println!("| events accepted | {} of {} |", self.accepted, self.posted);
        println!(
            "| events with a uuid | {} ({:.2}%) |",
            self.with_uuid,
            pct(self.with_uuid, self.accepted)
        );
        println!(
            "| events left without uuid (only junk identities) | {} ({:.2}%) |",
            self.without_uuid,
            pct(self.without_uuid, self.accepted)
        );
        println!(
            "| linkable events on the right person, merges applied | {} of {} ({:.2}%) |",
            self.right_after_merges,
            self.attributable,
            pct(self.right_after_merges, self.attributable)
        );
        println!(
            "| linkable events on the right person, as emitted | {} of {} ({:.2}%) |",
            self.right_as_emitted,
            self.attributable,
            pct(self.right_as_emitted, self.attributable)
        );
        println!(
            "| anonymous events of devices never seen with an account | {} (own uuid; nothing links them) |",
            self.never_linked_device
        );
        println!(
            "| anonymous events on shared browsers | {} (ambiguous by nature; not scored) |",
            self.shared_device
        );
        println!(
            "| false merges (two people on one uuid) | {} |",
            self.false_merges
        );
        println!(
            "| events attributed to another person | {} |",
            self.misattributed
        );
        println!("| identity-merge messages | {} |", self.merges);
        println!(
            "| ingest | {:.1} s, {:.0} events/s |",
            seconds,
            self.posted as f64 / seconds.max(1e-9)
        );
    }
}
