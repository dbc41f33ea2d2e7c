//! `report-latency`: how long a running slog takes to answer the tracking plan's two example
//! reports (sales per course, and the re-purchase distribution) over the warehouse it reads.
//! Each request is sent `--runs` times with `use_cache: false` after one warm-up; prints p50,
//! p99 and max in a table row per report.
use clap::Parser;
use serde_json::{json, Value};
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "report-latency",
    about = "latency of the plan's two example reports"
)]
struct Cli {
    /// slog's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The report (or admin) token.
    #[arg(long, env = "SLOG_REPORTS_TOKEN")]
    token: String,
    /// First and last day of the range (YYYY-MM-DD).
    #[arg(long)]
    from: String,
    #[arg(long)]
    to: String,
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// A label for the table (the store and its size).
    #[arg(long, default_value = "")]
    label: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let events = json!({
        "measures": [{"event_name": "buyCourse", "aggregator": "uniq_count"}],
        "from_date": cli.from, "to_date": cli.to, "detail_and_rollup": true,
        "by_fields": ["event.buyCourse.course_name"], "limit": 100, "use_cache": false});
    let distribution = json!({
        "event_name": "buyCourse", "from_date": cli.from, "to_date": cli.to,
        "by_field": "event.buyCourse.course_difficulty", "sampling_factor": 64, "unit": "day",
        "measure_type": "times", "result_bucket_param": [1, 2, 3, 4], "use_cache": false});
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for (name, path, body) in [
            ("events (sales per course)", "/events/report", events),
            (
                "addictions (re-purchase distribution)",
                "/addictions/report",
                distribution,
            ),
        ] {
            let mut times = Vec::with_capacity(cli.runs);
            for run in 0..=cli.runs {
                let started = Instant::now();
                let response = client
                    .post(format!("{}{path}", cli.url))
                    .bearer_auth(&cli.token)
                    .json(&body)
                    .send()
                    .await?;
                let status = response.status();
                let answer: Value = response.json().await?;
                anyhow::ensure!(status.is_success(), "{path}: {status} {answer}");
                if run > 0 {
                    times.push(started.elapsed().as_secs_f64());
                }
            }
            times.sort_by(f64::total_cmp);
            let at = |q: f64| {
                times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1]
            };
            println!(
                "| {} | {name} | p50 {:.3} s | p99 {:.3} s | max {:.3} s |",
                cli.label,
                at(0.5),
                at(0.99),
                times[times.len() - 1]
            );
        }
        anyhow::Ok(())
    })
}
