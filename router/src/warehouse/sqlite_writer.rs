//! Writes rows into the SQLite warehouse: one transaction per batch, holding the rows and the
//! source position they were read up to, so a crash between the two cannot load a record twice
//! or skip one.
//!
//! - events: inserted once per `event_id` (a record read again is a no-op);
//! - profiles: applied to the person the uuid counts as now, with the plan's operations;
//! - merges: recorded, then every uuid of the merged person is pointed at the end of the
//!   survivor's chain, and the merged person's profile is folded into the survivor's (the
//!   survivor's values win). The result does not depend on the order merges and events arrive in.
use super::rows::{EventRow, MergeRow, ProfileOp, ProfileRow, Row};
use serde_json::{Map, Value};
use sqlx::{Sqlite, SqlitePool, Transaction};

/// Events per INSERT statement (7 parameters each, far below SQLite's limit).
const EVENTS_PER_STATEMENT: usize = 200;

/// Longest merge chain followed; a uuid is merged at most once, so chains are short, and a
/// longer one can only come from damaged data.
const MAX_CHAIN: usize = 1000;

#[derive(Clone)]
pub struct SqliteWarehouse {
    pool: SqlitePool,
}

/// How far a source was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub position: u64,
    pub newest_event_time: Option<i64>,
    pub watermark: Option<i64>,
}

/// What one batch added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// Events stored (records read again are not counted).
    pub events: u64,
    pub profiles: u64,
    pub merges: u64,
    pub skipped: u64,
}

type Tx<'a> = Transaction<'a, Sqlite>;

impl SqliteWarehouse {
    pub fn new(pool: SqlitePool) -> Self {
        SqliteWarehouse { pool }
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Where `source` was loaded up to (zero when it never was).
    pub async fn progress(&self, source: &str) -> Result<Progress, sqlx::Error> {
        let row: Option<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT position, newest_event_time, watermark FROM wh_progress WHERE source = ?",
        )
        .bind(source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|(position, newest_event_time, watermark)| Progress {
                position: position as u64,
                newest_event_time,
                watermark,
            })
            .unwrap_or_default())
    }

    /// Stores `rows` (in order) and records that `source` is loaded up to `position`, with
    /// `watermark` as the time before which everything it received is loaded.
    pub async fn apply(
        &self,
        source: &str,
        rows: &[Row],
        position: u64,
        watermark: Option<i64>,
    ) -> Result<Applied, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let mut applied = Applied::default();
        let mut newest: Option<i64> = None;
        // Consecutive events go in multi-row statements (one round trip per chunk, not per
        // event); a profile or a merge between them keeps its place in the order.
        let mut pending: Vec<&EventRow> = Vec::with_capacity(EVENTS_PER_STATEMENT);
        for row in rows {
            if !matches!(row, Row::Event(_)) && !pending.is_empty() {
                applied.events += insert_events(&mut tx, &pending).await?;
                pending.clear();
            }
            match row {
                Row::Event(event) => {
                    newest = newest.max(Some(event.time));
                    pending.push(event);
                    if pending.len() == EVENTS_PER_STATEMENT {
                        applied.events += insert_events(&mut tx, &pending).await?;
                        pending.clear();
                    }
                }
                Row::Profile(profile) => {
                    apply_profile(&mut tx, profile).await?;
                    applied.profiles += 1;
                }
                Row::Merge(merge) => {
                    apply_merge(&mut tx, merge).await?;
                    applied.merges += 1;
                }
                Row::Skipped(_) => applied.skipped += 1,
            }
        }
        if !pending.is_empty() {
            applied.events += insert_events(&mut tx, &pending).await?;
        }
        sqlx::query(
            "INSERT INTO wh_progress (source, position, newest_event_time, watermark)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source) DO UPDATE SET position = ?2,
               newest_event_time = MAX(COALESCE(newest_event_time, ?3), COALESCE(?3, newest_event_time)),
               watermark = COALESCE(?4, watermark)",
        )
        .bind(source)
        .bind(position as i64)
        .bind(newest)
        .bind(watermark)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(applied)
    }
}

async fn insert_events(tx: &mut Tx<'_>, events: &[&EventRow]) -> Result<u64, sqlx::Error> {
    let mut sql = String::from(
        "INSERT OR IGNORE INTO wh_events (event_id, time, received_at, project, eid, uuid, props) VALUES ",
    );
    for n in 0..events.len() {
        sql.push_str(if n == 0 {
            "(?,?,?,?,?,?,?)"
        } else {
            ",(?,?,?,?,?,?,?)"
        });
    }
    let mut query = sqlx::query(&sql);
    for event in events {
        query = query
            .bind(&event.event_id)
            .bind(event.time)
            .bind(event.received_at)
            .bind(&event.project)
            .bind(&event.eid)
            .bind(&event.uuid)
            .bind(&event.props);
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

/// The person `uuid` counts as now.
async fn person_of(tx: &mut Tx<'_>, uuid: &str) -> Result<String, sqlx::Error> {
    let person: Option<String> = sqlx::query_scalar("SELECT person FROM wh_persons WHERE uuid = ?")
        .bind(uuid)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(person.unwrap_or_else(|| uuid.to_owned()))
}

async fn profile_of(
    tx: &mut Tx<'_>,
    person: &str,
) -> Result<Option<Map<String, Value>>, sqlx::Error> {
    let props: Option<String> = sqlx::query_scalar("SELECT props FROM wh_users WHERE uuid = ?")
        .bind(person)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(props.map(|text| serde_json::from_str(&text).unwrap_or_default()))
}

async fn store_profile(
    tx: &mut Tx<'_>,
    person: &str,
    project: &str,
    props: &Map<String, Value>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO wh_users (uuid, project, props, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (uuid) DO UPDATE SET props = ?3, updated_at = MAX(updated_at, ?4)",
    )
    .bind(person)
    .bind(project)
    .bind(serde_json::to_string(props).expect("a JSON map serialises"))
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn apply_profile(tx: &mut Tx<'_>, profile: &ProfileRow) -> Result<(), sqlx::Error> {
    let person = person_of(tx, &profile.uuid).await?;
    let mut props = profile_of(tx, &person).await?.unwrap_or_default();
    profile.op.apply(&mut props, &profile.props);
    store_profile(tx, &person, &profile.project, &props, profile.time).await
}

async fn apply_merge(tx: &mut Tx<'_>, merge: &MergeRow) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT OR IGNORE INTO wh_merges (from_uuid, to_uuid, project, time) VALUES (?, ?, ?, ?)",
    )
    .bind(&merge.from_uuid)
    .bind(&merge.to_uuid)
    .bind(&merge.project)
    .bind(merge.time)
    .execute(&mut **tx)
    .await?;
    let survivor = chain_end(tx, &merge.to_uuid).await?;
    if survivor == merge.from_uuid {
        tracing::warn!(from = %merge.from_uuid, to = %merge.to_uuid, "merge would close a cycle; not applied");
        return Ok(());
    }
    // Everything that counted as the merged uuid (itself, and what was merged into it before)
    // now counts as the survivor.
    let mut members: Vec<String> =
        sqlx::query_scalar("SELECT uuid FROM wh_persons WHERE person = ?")
            .bind(&merge.from_uuid)
            .fetch_all(&mut **tx)
            .await?;
    members.push(merge.from_uuid.clone());
    for uuid in &members {
        sqlx::query(
            "INSERT INTO wh_persons (uuid, person) VALUES (?1, ?2)
             ON CONFLICT (uuid) DO UPDATE SET person = ?2",
        )
        .bind(uuid)
        .bind(&survivor)
        .execute(&mut **tx)
        .await?;
    }
    // The merged person's profile joins the survivor's; where both have a property, the
    // survivor's stays (the same rule as profile_insert).
    if let Some(merged) = profile_of(tx, &merge.from_uuid).await? {
        let mut props = profile_of(tx, &survivor).await?.unwrap_or_default();
        ProfileOp::Insert.apply(&mut props, &merged);
        store_profile(tx, &survivor, &merge.project, &props, merge.time).await?;
        sqlx::query("DELETE FROM wh_users WHERE uuid = ?")
            .bind(&merge.from_uuid)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The uuid at the end of `uuid`'s merge chain (itself when it was never merged).
async fn chain_end(tx: &mut Tx<'_>, uuid: &str) -> Result<String, sqlx::Error> {
    let mut current = uuid.to_owned();
    for _ in 0..MAX_CHAIN {
        let next: Option<String> =
            sqlx::query_scalar("SELECT to_uuid FROM wh_merges WHERE from_uuid = ?")
                .bind(&current)
                .fetch_optional(&mut **tx)
                .await?;
        match next {
            Some(next) if next != uuid => current = next,
            _ => return Ok(current),
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::open;
    use serde_json::json;

    async fn warehouse() -> (SqliteWarehouse, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        (SqliteWarehouse::new(open(&url).await.unwrap()), dir)
    }

    fn event(id: &str, uuid: &str, time: i64) -> Row {
        Row::Event(EventRow {
            event_id: id.into(),
            time,
            received_at: time,
            project: "p".into(),
            eid: "pageview".into(),
            uuid: Some(uuid.into()),
            props: "{}".into(),
        })
    }

    fn merge(from: &str, to: &str) -> Row {
        Row::Merge(MergeRow {
            from_uuid: from.into(),
            to_uuid: to.into(),
            project: "p".into(),
            time: 9,
            received_at: 9,
        })
    }

    fn profile(op: ProfileOp, uuid: &str, props: Value) -> Row {
        Row::Profile(ProfileRow {
            op,
            uuid: uuid.into(),
            project: "p".into(),
            time: 3,
            received_at: 3,
            props: props.as_object().unwrap().clone(),
        })
    }

    async fn persons(w: &SqliteWarehouse) -> Vec<(String, String)> {
        sqlx::query_as("SELECT uuid, person FROM wh_persons ORDER BY uuid")
            .fetch_all(w.pool())
            .await
            .unwrap()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn a_record_read_twice_is_stored_once_and_the_position_moves_with_the_rows() {
        let (w, _dir) = warehouse().await;
        let first = w
            .apply("events", &[event("e1", "A", 5)], 10, Some(5))
            .await
            .unwrap();
        assert_eq!(first.events, 1);
        let again = w
            .apply(
                "events",
                &[event("e1", "A", 5), event("e2", "A", 7)],
                30,
                Some(7),
            )
            .await
            .unwrap();
        assert_eq!(again.events, 1);
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wh_events")
            .fetch_one(w.pool())
            .await
            .unwrap();
        assert_eq!(count, 2);
        let progress = w.progress("events").await.unwrap();
        assert_eq!(
            progress,
            Progress {
                position: 30,
                newest_event_time: Some(7),
                watermark: Some(7)
            }
        );
    }

    #[tokio::test]
    async fn merge_chains_end_on_one_person_whatever_order_they_load_in() {
        for order in [["AB", "BC"], ["BC", "AB"]] {
            let (w, _dir) = warehouse().await;
            for m in order {
                let (from, to) = m.split_at(1);
                w.apply("users", &[merge(from, to)], 1, None).await.unwrap();
            }
            assert_eq!(
                persons(&w).await,
                pairs(&[("A", "C"), ("B", "C")]),
                "order {order:?}"
            );
        }
    }

    #[tokio::test]
    async fn profiles_follow_the_person_and_merge_into_the_survivor() {
        let (w, _dir) = warehouse().await;
        let rows = [
            profile(
                ProfileOp::Update,
                "A",
                json!({"name": "anon", "city": "SH"}),
            ),
            profile(ProfileOp::Update, "B", json!({"name": "Li"})),
            merge("A", "B"),
            // Sent later under the merged uuid: lands on the survivor.
            profile(ProfileOp::Append, "A", json!({"tags": "vip"})),
        ];
        w.apply("users", &rows, 1, None).await.unwrap();
        let users: Vec<(String, String)> =
            sqlx::query_as("SELECT uuid, props FROM wh_users ORDER BY uuid")
                .fetch_all(w.pool())
                .await
                .unwrap();
        assert_eq!(users.len(), 1, "{users:?}");
        assert_eq!(users[0].0, "B");
        let props: Value = serde_json::from_str(&users[0].1).unwrap();
        assert_eq!(props, json!({"name": "Li", "city": "SH", "tags": ["vip"]}));
    }
}
