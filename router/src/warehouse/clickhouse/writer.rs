//! Writes a batch of consumed records into the ClickHouse warehouse, never storing one twice.
//!
//! ClickHouse has no transactions, so the batch is written in steps that are each safe to
//! repeat, and `wh_progress` says per topic partition how far it is safe to skip:
//! 1. the intent: the offsets this batch reaches;
//! 2. events not stored yet: those below `loaded` are skipped, those between `loaded` and a
//!    previous `intent` (a batch that stopped half way) are looked up first;
//! 3. profiles: each uuid's operations applied to its newest row, skipping operations whose
//!    offset the row's version already covers;
//! 4. merges, and the persons of every uuid their chains reach;
//! 5. the progress: `loaded` = `intent` = the batch's end, with the times reports quote.
//!
//! The caller commits the consumer offsets only after `apply` returned.
use super::client::{quote_list, utc_day, ClickHouse, ClickHouseError};
use super::persons::{self, PersonRow};
use super::props::PropArrays;
use crate::warehouse::rows::{EventRow, MergeRow, ProfileRow, Row};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Most ids in one `IN (...)` lookup.
const IDS_PER_LOOKUP: usize = 5000;

/// One consumed record: where it came from (`topic/partition`) and at which offset.
#[derive(Debug, Clone)]
pub struct Consumed {
    pub source: String,
    pub offset: i64,
    /// `None` when it could not be read (counted, then passed over).
    pub row: Option<Row>,
}

/// What one batch stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    pub events: u64,
    pub profiles: u64,
    pub merges: u64,
    /// Records skipped because an earlier attempt had stored them.
    pub already_stored: u64,
}

/// How far one source is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub loaded: i64,
    pub intent: i64,
    pub newest_event_time: Option<i64>,
    pub watermark: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct ClickHouseWarehouse {
    ch: ClickHouse,
}

#[derive(Serialize)]
struct EventLine<'a> {
    event_id: &'a str,
    time: i64,
    received_at: i64,
    project: &'a str,
    eid: &'a str,
    uuid: &'a str,
    #[serde(flatten)]
    props: PropArrays,
}

#[derive(Serialize)]
struct UserLine<'a> {
    uuid: &'a str,
    project: &'a str,
    props: String,
    #[serde(flatten)]
    arrays: PropArrays,
    updated_at: i64,
    version: u64,
}

#[derive(Serialize)]
struct MergeLine<'a> {
    from_uuid: &'a str,
    to_uuid: &'a str,
    project: &'a str,
    time: i64,
}

#[derive(Serialize)]
struct ProgressLine<'a> {
    source: &'a str,
    loaded: i64,
    intent: i64,
    newest_event_time: Option<i64>,
    watermark: Option<i64>,
    updated: u64,
}

/// `rows` as JSONEachRow: one JSON object per line, written into one buffer.
fn lines<T: Serialize>(rows: impl IntoIterator<Item = T>) -> String {
    let mut out = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut out, &row).expect("rows serialise");
        out.push(b'\n');
    }
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// A profile's newest stored state.
struct Profile {
    project: String,
    props: Map<String, Value>,
    updated_at: i64,
    version: u64,
}

impl ClickHouseWarehouse {
    pub fn new(ch: ClickHouse) -> Self {
        ClickHouseWarehouse { ch }
    }

    pub fn client(&self) -> &ClickHouse {
        &self.ch
    }

    /// The progress of `sources` (absent ones were never loaded).
    pub async fn progress(
        &self,
        sources: &[&str],
    ) -> Result<HashMap<String, Progress>, ClickHouseError> {
        if sources.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = self
            .ch
            .select(&format!(
                "SELECT source, argMax(loaded, updated), argMax(intent, updated), \
                 argMax(newest_event_time, updated), argMax(watermark, updated) \
                 FROM wh_progress WHERE source IN {} GROUP BY source",
                quote_list(sources.iter().copied())
            ))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some((
                    row.first()?.as_str()?.to_owned(),
                    Progress {
                        loaded: row.get(1)?.as_i64()?,
                        intent: row.get(2)?.as_i64()?,
                        newest_event_time: row.get(3).and_then(Value::as_i64),
                        watermark: row.get(4).and_then(Value::as_i64),
                    },
                ))
            })
            .collect())
    }

    async fn write_progress(
        &self,
        progress: &BTreeMap<String, Progress>,
    ) -> Result<(), ClickHouseError> {
        let updated = crate::clock::now_ms() as u64;
        self.ch
            .insert(
                "wh_progress",
                lines(progress.iter().map(|(source, p)| ProgressLine {
                    source,
                    loaded: p.loaded,
                    intent: p.intent,
                    newest_event_time: p.newest_event_time,
                    watermark: p.watermark,
                    updated,
                })),
            )
            .await
    }

    /// Records that `sources` are read to their end as of `at` (ms): everything received
    /// before then is loaded, as far as they are concerned.
    pub async fn mark_caught_up(&self, sources: &[&str], at: i64) -> Result<(), ClickHouseError> {
        let known = self.progress(sources).await?;
        let marked: BTreeMap<String, Progress> = known
            .into_iter()
            .filter(|(_, p)| p.loaded == p.intent && p.watermark.is_none_or(|w| w < at))
            .map(|(source, p)| {
                (
                    source,
                    Progress {
                        watermark: Some(at),
                        ..p
                    },
                )
            })
            .collect();
        if marked.is_empty() {
            return Ok(());
        }
        self.write_progress(&marked).await
    }

    /// Stores `batch` (records in topic order per source); see the module documentation.
    pub async fn apply(&self, batch: &[Consumed]) -> Result<Applied, ClickHouseError> {
        let sources: Vec<&str> = {
            let set: HashSet<&str> = batch.iter().map(|c| c.source.as_str()).collect();
            set.into_iter().collect()
        };
        let before = self.progress(&sources).await?;
        let mut applied = Applied::default();
        // What this batch reaches, per source.
        let mut after: BTreeMap<String, Progress> = BTreeMap::new();
        let mut fresh = Vec::new();
        let mut uncertain = Vec::new();
        for c in batch {
            let known = before.get(&c.source).copied().unwrap_or_default();
            let entry = after.entry(c.source.clone()).or_insert(Progress {
                intent: known.loaded,
                ..known
            });
            entry.intent = entry.intent.max(c.offset + 1);
            if let Some(row) = &c.row {
                entry.watermark = entry.watermark.max(row.received_at());
                if let Row::Event(e) = row {
                    entry.newest_event_time = entry.newest_event_time.max(Some(e.time));
                }
            }
            if c.offset < known.loaded {
                applied.already_stored += 1;
            } else if c.offset < known.intent {
                uncertain.push(c);
            } else {
                fresh.push(c);
            }
        }
        let intents: BTreeMap<String, Progress> = after
            .iter()
            .map(|(source, p)| {
                let known = before.get(source).copied().unwrap_or_default();
                (
                    source.clone(),
                    Progress {
                        intent: p.intent.max(known.intent),
                        ..known
                    },
                )
            })
            .collect();
        self.write_progress(&intents).await?;

        let stored = self.stored_events(&uncertain).await?;
        let mut events = Vec::new();
        let mut profiles: Vec<(&ProfileRow, u64)> = Vec::new();
        let mut merges = Vec::new();
        for c in fresh.iter().chain(uncertain.iter()) {
            match &c.row {
                Some(Row::Event(e)) if stored.contains(e.event_id.as_str()) => {
                    applied.already_stored += 1
                }
                Some(Row::Event(e)) => events.push(e),
                Some(Row::Profile(p)) => profiles.push((p, c.offset as u64 + 1)),
                Some(Row::Merge(m)) => merges.push(m),
                Some(Row::Skipped(_)) | None => {}
            }
        }
        applied.events = events.len() as u64;
        self.insert_events(&events).await?;
        applied.profiles = self.apply_profiles(&profiles).await?;
        applied.merges = merges.len() as u64;
        self.apply_merges(&merges).await?;

        // An earlier attempt may have reached further than this batch: the records past this
        // batch up to that intent stay to be looked up.
        let done = after
            .into_iter()
            .map(|(source, p)| {
                let earlier = before.get(&source).map_or(0, |k| k.intent);
                (
                    source,
                    Progress {
                        loaded: p.intent,
                        intent: p.intent.max(earlier),
                        ..p
                    },
                )
            })
            .collect();
        self.write_progress(&done).await?;
        Ok(applied)
    }

    /// Which of the events among `uncertain` are stored already.
    async fn stored_events(
        &self,
        uncertain: &[&Consumed],
    ) -> Result<HashSet<String>, ClickHouseError> {
        let events: Vec<&EventRow> = uncertain
            .iter()
            .filter_map(|c| match &c.row {
                Some(Row::Event(e)) => Some(e),
                _ => None,
            })
            .collect();
        let mut stored = HashSet::new();
        for chunk in events.chunks(IDS_PER_LOOKUP) {
            // The key's prefix (project, eid, day) narrows the lookup to the batch's days.
            let projects: HashSet<&str> = chunk.iter().map(|e| e.project.as_str()).collect();
            let eids: HashSet<&str> = chunk.iter().map(|e| e.eid.as_str()).collect();
            let days: HashSet<String> = chunk.iter().map(|e| utc_day(e.time)).collect();
            let rows = self
                .ch
                .select(&format!(
                    "SELECT event_id FROM wh_events WHERE project IN {} AND eid IN {} \
                     AND day IN ({}) AND event_id IN {}",
                    quote_list(projects),
                    quote_list(eids),
                    days.into_iter().collect::<Vec<_>>().join(", "),
                    quote_list(chunk.iter().map(|e| e.event_id.as_str()))
                ))
                .await?;
            stored.extend(
                rows.into_iter()
                    .filter_map(|r| r.first().and_then(Value::as_str).map(str::to_owned)),
            );
        }
        Ok(stored)
    }

    async fn insert_events(&self, events: &[&EventRow]) -> Result<(), ClickHouseError> {
        self.ch
            .insert(
                "wh_events",
                lines(events.iter().map(|e| EventLine {
                    event_id: &e.event_id,
                    time: e.time,
                    received_at: e.received_at,
                    project: &e.project,
                    eid: &e.eid,
                    uuid: e.uuid.as_deref().unwrap_or(""),
                    props: PropArrays::of_text(&e.props),
                })),
            )
            .await
    }

    async fn profiles_of(
        &self,
        uuids: &[&str],
    ) -> Result<HashMap<String, Profile>, ClickHouseError> {
        let mut out = HashMap::new();
        for chunk in uuids.chunks(IDS_PER_LOOKUP) {
            let rows = self
                .ch
                .select(&format!(
                    "SELECT uuid, argMax(project, version), argMax(props, version), \
                     argMax(updated_at, version), max(version) FROM wh_users \
                     WHERE uuid IN {} GROUP BY uuid",
                    quote_list(chunk.iter().copied())
                ))
                .await?;
            for row in rows {
                let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or("");
                out.insert(
                    text(0).to_owned(),
                    Profile {
                        project: text(1).to_owned(),
                        props: serde_json::from_str(text(2)).unwrap_or_default(),
                        updated_at: row.get(3).and_then(Value::as_i64).unwrap_or(0),
                        version: row.get(4).and_then(Value::as_u64).unwrap_or(0),
                    },
                );
            }
        }
        Ok(out)
    }

    /// Applies each uuid's operations (with their versions, in topic order) to its newest
    /// profile; returns how many were applied.
    async fn apply_profiles(&self, ops: &[(&ProfileRow, u64)]) -> Result<u64, ClickHouseError> {
        if ops.is_empty() {
            return Ok(0);
        }
        let uuids: Vec<&str> = {
            let set: HashSet<&str> = ops.iter().map(|(p, _)| p.uuid.as_str()).collect();
            set.into_iter().collect()
        };
        let mut profiles = self.profiles_of(&uuids).await?;
        let mut changed: HashSet<&str> = HashSet::new();
        let mut applied = 0;
        for (op, version) in ops {
            let profile = profiles.entry(op.uuid.clone()).or_insert_with(|| Profile {
                project: op.project.clone(),
                props: Map::new(),
                updated_at: op.time,
                version: 0,
            });
            if *version <= profile.version {
                continue;
            }
            op.op.apply(&mut profile.props, &op.props);
            profile.version = *version;
            profile.updated_at = profile.updated_at.max(op.time);
            changed.insert(op.uuid.as_str());
            applied += 1;
        }
        self.ch
            .insert(
                "wh_users",
                lines(changed.iter().map(|uuid| {
                    let p = &profiles[*uuid];
                    UserLine {
                        uuid,
                        project: &p.project,
                        props: serde_json::to_string(&p.props).expect("a JSON map serialises"),
                        arrays: PropArrays::of_map(&p.props),
                        updated_at: p.updated_at,
                        version: p.version,
                    }
                })),
            )
            .await?;
        Ok(applied)
    }

    /// Stores `merges`, then the persons of every uuid in the merge graph around them.
    async fn apply_merges(&self, merges: &[&MergeRow]) -> Result<(), ClickHouseError> {
        if merges.is_empty() {
            return Ok(());
        }
        self.ch
            .insert(
                "wh_merges",
                lines(merges.iter().map(|m| MergeLine {
                    from_uuid: &m.from_uuid,
                    to_uuid: &m.to_uuid,
                    project: &m.project,
                    time: m.time,
                })),
            )
            .await?;
        // Only the uuids whose chain runs through a merge of this batch change person: the
        // merged uuids and what was merged into them before (searched backwards), each
        // followed to the end of the survivor's chain (searched forwards).
        let froms: Vec<String> = merges.iter().map(|m| m.from_uuid.clone()).collect();
        let mut graph = self.links(Direction::Into, froms.clone()).await?;
        let mut moved: HashSet<String> = graph.keys().cloned().collect();
        moved.extend(froms);
        graph.extend(
            self.links(
                Direction::OutOf,
                merges.iter().map(|m| m.to_uuid.clone()).collect(),
            )
            .await?,
        );
        for m in merges {
            graph.insert(m.from_uuid.clone(), m.to_uuid.clone());
        }
        let rows: Vec<PersonRow> = persons::resolve(&graph)
            .into_iter()
            .filter(|r| moved.contains(&r.uuid))
            .collect();
        self.ch.insert("wh_persons", lines(rows)).await
    }

    /// The stored merges (from → to) reached from `start` in `direction`, breadth first.
    async fn links(
        &self,
        direction: Direction,
        start: Vec<String>,
    ) -> Result<HashMap<String, String>, ClickHouseError> {
        let mut seen: HashSet<String> = start.iter().cloned().collect();
        let mut frontier = start;
        let mut graph = HashMap::new();
        let mut rounds = 0;
        let column = match direction {
            Direction::Into => "to_uuid",
            Direction::OutOf => "from_uuid",
        };
        while !frontier.is_empty() && rounds < persons::MAX_CHAIN {
            rounds += 1;
            let mut next = Vec::new();
            for chunk in frontier.chunks(IDS_PER_LOOKUP) {
                let rows = self
                    .ch
                    .select(&format!(
                        "SELECT DISTINCT from_uuid, to_uuid FROM wh_merges WHERE {column} IN {}",
                        quote_list(chunk.iter().map(String::as_str))
                    ))
                    .await?;
                for row in rows {
                    let (Some(from), Some(to)) = (
                        row.first().and_then(Value::as_str),
                        row.get(1).and_then(Value::as_str),
                    ) else {
                        continue;
                    };
                    graph.insert(from.to_owned(), to.to_owned());
                    let reached = match direction {
                        Direction::Into => from,
                        Direction::OutOf => to,
                    };
                    if seen.insert(reached.to_owned()) {
                        next.push(reached.to_owned());
                    }
                }
            }
            frontier = next;
        }
        Ok(graph)
    }
}

/// Which way a merge search follows the links.
#[derive(Clone, Copy)]
enum Direction {
    /// To the uuids merged into the frontier.
    Into,
    /// To the uuids the frontier was merged into.
    OutOf,
}
