//! Posting a population's timeline to slog: in order on one connection, or in concurrent lanes.
//!
//! With `concurrency` N > 1 the timeline is cut into windows of `window` events; within a
//! window each event goes to its lane ([`crate::truth::Lane::index`]: one device's events stay in one lane and
//! in order, back-end events go by person), the lanes are posted concurrently as batches, and
//! windows follow one another. Real traffic has such races: a signup and the app's first login
//! reach two slog workers at the same time.
use crate::truth::Truth;
use anyhow::{bail, Context};
use serde_json::Value;
use tokio::task::JoinSet;

/// slog's answer for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted(String),
    Refused { code: String, field: String },
}

#[derive(Debug, Clone, Copy)]
pub struct Posting {
    pub concurrency: usize,
    pub window: usize,
    pub batch: usize,
}

/// Posts every event of `truth` to `url`; the answers are in `truth.events` order.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    truth: &Truth,
    how: Posting,
) -> anyhow::Result<Vec<Answer>> {
    let n = truth.events.len();
    let batch = how.batch.max(1);
    let mut answers: Vec<Option<Answer>> = vec![None; n];
    let (window, lanes) = if how.concurrency <= 1 {
        (n.max(1), 1)
    } else {
        (how.window.max(1), how.concurrency)
    };
    for start in (0..n).step_by(window) {
        let mut lane_events: Vec<Vec<usize>> = vec![Vec::new(); lanes];
        for i in start..(start + window).min(n) {
            let lane = if lanes == 1 {
                0
            } else {
                truth.events[i].lane.index(lanes)
            };
            lane_events[lane].push(i);
        }
        let mut set = JoinSet::new();
        for events in lane_events.into_iter().filter(|l| !l.is_empty()) {
            let bodies = events
                .chunks(batch)
                .map(|chunk| {
                    let chunk: Vec<&Value> = chunk.iter().map(|&i| &truth.events[i].body).collect();
                    serde_json::to_vec(&chunk)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let (client, url) = (client.clone(), url.to_owned());
            set.spawn(async move {
                let mut out = Vec::with_capacity(events.len());
                for body in bodies {
                    out.extend(post_batch(&client, &url, body).await?);
                }
                anyhow::Ok((events, out))
            });
        }
        while let Some(done) = set.join_next().await {
            let (events, out) = done??;
            if events.len() != out.len() {
                bail!("{} answers for {} events", out.len(), events.len());
            }
            for (i, answer) in events.into_iter().zip(out) {
                answers[i] = Some(answer);
            }
        }
    }
    answers
        .into_iter()
        .map(|a| a.context("an event without an answer"))
        .collect()
}

/// One batch; a batch with every event refused is a 400 with the same body as a 200.
async fn post_batch(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> anyhow::Result<Vec<Answer>> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    if status != 200 && status != 400 {
        bail!("slog answered {status}: {text}");
    }
    let answer: Value = serde_json::from_str(&text).context("batch answer JSON")?;
    let Some(results) = answer["results"].as_array() else {
        bail!("slog answered {status} without results: {text}");
    };
    let text_of = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    Ok(results
        .iter()
        .map(|r| match r["event_id"].as_str() {
            Some(id) => Answer::Accepted(id.to_owned()),
            None => Answer::Refused {
                code: text_of(&r["error"]["code"]),
                field: text_of(&r["error"]["field"]),
            },
        })
        .collect())
}
