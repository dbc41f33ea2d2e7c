//! `warehouse-load`: how fast the loader moves output records into the warehouse: the embedded
//! SQLite store (the file loader), or with `--clickhouse URL` a ClickHouse database (the Kafka
//! loader's writer, fed the same records in the same batches; the consumer itself is not
//! measured).
//!
//! Writes `--events` output records (the file sink's format: pageviews and the tracking plan's
//! buyCourse, over `--days` days and `--people` people, a share of them with an anonymous browser
//! history merged at login) to `<dir>/events.jsonl` and `<dir>/users.jsonl`, then runs the
//! loader over them once, from an empty warehouse, and prints the figures. `--dir` keeps the
//! files and `warehouse.db` (a ready data set for report benchmarks); without it a temporary
//! directory is used and removed.
use anyhow::Context;
use clap::Parser;
use serde_json::json;
use slog_router::warehouse::{self, WarehouseConfig};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "warehouse-load",
    about = "loader throughput into the SQLite or ClickHouse warehouse"
)]
struct Cli {
    /// Track records to load.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// People they come from.
    #[arg(long, default_value_t = 100_000)]
    people: u64,
    /// Days the events spread over, ending now.
    #[arg(long, default_value_t = 7)]
    days: u64,
    /// Keep the records and the warehouse here instead of a temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Load into this ClickHouse database instead (http://host:8123/database; it should be new).
    #[arg(long)]
    clickhouse: Option<String>,
    /// Bytes of records per ClickHouse batch (the loader's warehouse.batch_bytes).
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    batch_bytes: usize,
}

const COURSES: [&str; 3] = ["超级外教", "新概念", "趣味阅读"];
const DIFFICULTIES: [&str; 3] = ["初级", "中等", "困难"];

/// A small deterministic generator (xorshift), so runs are comparable.
struct Dice(u64);

impl Dice {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let temp = tempfile::tempdir()?;
    let dir = cli.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let written = Instant::now();
    let (bytes, merges) = write_records(&cli, &dir)?;
    eprintln!(
        "wrote {} events and {merges} merges ({:.0} MiB) in {:.1} s",
        cli.events,
        bytes as f64 / 1048576.0,
        written.elapsed().as_secs_f64()
    );
    let runtime = tokio::runtime::Runtime::new()?;
    if let Some(url) = &cli.clickhouse {
        return runtime.block_on(load_clickhouse(
            url,
            &dir,
            cli.batch_bytes,
            cli.events,
            merges,
        ));
    }
    runtime.block_on(async {
        let config = WarehouseConfig {
            url: format!("sqlite://{}", dir.join("warehouse.db").display()),
            ..WarehouseConfig::default()
        };
        let loader = warehouse::file_loader(&config, &dir, "events", "users")
            .await
            .context("opening the warehouse")?;
        let started = Instant::now();
        loader.catch_up().await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "| warehouse load (SQLite) | {} events + {merges} merges | {seconds:.1} s | {:.0} events/s |",
            cli.events,
            cli.events as f64 / seconds
        );
        anyhow::Ok(())
    })
}

/// Writes the two topic files; returns their size and the number of merges.
fn write_records(cli: &Cli, dir: &std::path::Path) -> anyhow::Result<(u64, u64)> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    let span = cli.days * 86_400_000;
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    let mut events = BufWriter::new(std::fs::File::create(dir.join("events.jsonl"))?);
    let mut users = BufWriter::new(std::fs::File::create(dir.join("users.jsonl"))?);
    let mut bytes = 0u64;
    let mut merges = 0u64;
    // One in ten people browsed anonymously first: their early events carry the browser's uuid,
    // merged into the person's at login.
    for person in 0..cli.people.min(cli.events) {
        if person.is_multiple_of(10) {
            let merge = json!({"type": "identity_merge", "event_id": format!("m-{person}"),
                "received_at": now_ms - span / 2, "time": now_ms - span / 2, "project": "zhibo",
                "from_uuid": format!("anon-{person}"), "to_uuid": format!("p-{person}"),
                "trigger": {"key": "userid", "value": format!("u-{person}")}, "moved": []});
            bytes += write_line(&mut users, &merge)?;
            merges += 1;
        }
        let profile = json!({"type": "profile_update", "stype": 101, "event_id": format!("u-{person}"),
            "received_at": now_ms - span, "time": now_ms - span, "project": "zhibo",
            "ps": {"level": DIFFICULTIES[(person % 3) as usize]},
            "uidentity": {"uuid": format!("p-{person}")}});
        bytes += write_line(&mut users, &profile)?;
    }
    for n in 0..cli.events {
        let person = dice.next(cli.people);
        let time = now_ms - span + dice.next(span);
        let uuid = if person.is_multiple_of(10) && time < now_ms - span / 2 {
            format!("anon-{person}")
        } else {
            format!("p-{person}")
        };
        let record = if n.is_multiple_of(5) {
            json!({"event_id": format!("e-{n}"), "received_at": time, "time": time,
                "time_source": "server", "stype": 100, "type": "track", "eid": "buyCourse",
                "project": "zhibo", "ps": {"course_name": COURSES[dice.next(3) as usize],
                "course_type": "英语", "course_difficulty": DIFFICULTIES[dice.next(3) as usize],
                "money": 100 + dice.next(900)}, "uidentity": {"uuid": uuid}, "uuid_source": "lookup"})
        } else {
            json!({"event_id": format!("e-{n}"), "received_at": time, "time": time,
                "time_source": "server", "stype": 100, "type": "track", "eid": "pageview",
                "project": "zhibo", "ver": "js1.1.0", "ps": {"ct": 100,
                "url": format!("https://www.example.com/course/{}", dice.next(50)),
                "title": "课程", "referrer_host": "www.baidu.com", "os": "Windows",
                "browser": "Chrome", "ip": "180.12.43.42", "country": "中国", "province": "上海",
                "city": "上海"}, "uidentity": {"uuid": uuid}, "uuid_source": "lookup"})
        };
        bytes += write_line(&mut events, &record)?;
    }
    events.flush()?;
    users.flush()?;
    Ok((bytes, merges))
}

fn write_line(out: &mut impl Write, value: &serde_json::Value) -> anyhow::Result<u64> {
    let mut line = serde_json::to_vec(value)?;
    line.push(b'\n');
    out.write_all(&line)?;
    Ok(line.len() as u64)
}

/// Stores the two files' records in ClickHouse through the Kafka loader's writer, in batches of
/// `batch_bytes`, and prints the figures.
async fn load_clickhouse(
    url: &str,
    dir: &std::path::Path,
    batch_bytes: usize,
    events: u64,
    merges: u64,
) -> anyhow::Result<()> {
    use slog_router::warehouse::clickhouse::{self, writer};
    use slog_router::warehouse::rows::Row;
    use std::io::BufRead;
    let ch = clickhouse::open(url).await.context("opening clickhouse")?;
    let warehouse = writer::ClickHouseWarehouse::new(ch);
    let started = Instant::now();
    for topic in ["users", "events"] {
        let file =
            std::io::BufReader::new(std::fs::File::open(dir.join(format!("{topic}.jsonl")))?);
        let mut batch = Vec::new();
        let mut bytes = 0;
        for (offset, line) in file.lines().enumerate() {
            let line = line?;
            bytes += line.len();
            batch.push(writer::Consumed {
                source: format!("{topic}/0"),
                offset: offset as i64,
                row: Row::parse(line.as_bytes()).ok(),
            });
            if bytes >= batch_bytes {
                warehouse.apply(&batch).await?;
                batch.clear();
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            warehouse.apply(&batch).await?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "| warehouse load (ClickHouse) | {events} events + {merges} merges | {seconds:.1} s | {:.0} events/s |",
        events as f64 / seconds
    );
    Ok(())
}
