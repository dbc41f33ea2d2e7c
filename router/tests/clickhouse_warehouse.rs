//! The ClickHouse warehouse writer against a real server (`SLOG_TEST_CLICKHOUSE_URL`, which
//! `scripts/test.sh` starts; without it these tests say so and pass nothing off as checked):
//! a batch read again after a crash stores nothing twice, replayed profile operations are not
//! applied twice, and loaders storing the links of one merge chain in any order agree on the
//! person, whether they store them one after another or at the same moment.
use serde_json::{json, Value};
use slog_router::warehouse::clickhouse::writer::{ClickHouseWarehouse, Consumed};
use slog_router::warehouse::clickhouse::{self, ClickHouse};
use slog_router::warehouse::rows::{EventRow, MergeRow, ProfileOp, ProfileRow, Row};

async fn warehouse() -> Option<ClickHouseWarehouse> {
    let Ok(server) = std::env::var("SLOG_TEST_CLICKHOUSE_URL") else {
        eprintln!("SLOG_TEST_CLICKHOUSE_URL is not set: the ClickHouse writer is not tested here");
        return None;
    };
    let url = format!(
        "{}/slog_t_{}",
        server.trim_end_matches('/'),
        uuid::Uuid::now_v7().simple()
    );
    Some(ClickHouseWarehouse::new(
        clickhouse::open(&url).await.unwrap(),
    ))
}

fn event(id: &str, uuid: &str) -> Row {
    Row::Event(EventRow {
        event_id: id.into(),
        time: 1_556_000_000_000,
        received_at: 1_556_000_000_500,
        project: "zhibo".into(),
        eid: "buyCourse".into(),
        uuid: Some(uuid.into()),
        props: r#"{"money":1}"#.into(),
    })
}

fn merge(from: &str, to: &str) -> Row {
    Row::Merge(MergeRow {
        from_uuid: from.into(),
        to_uuid: to.into(),
        project: "zhibo".into(),
        time: 1,
        received_at: 1,
    })
}

fn append(uuid: &str, tag: &str) -> Row {
    Row::Profile(ProfileRow {
        op: ProfileOp::Append,
        uuid: uuid.into(),
        project: "zhibo".into(),
        time: 1,
        received_at: 1,
        props: json!({"tags": tag}).as_object().unwrap().clone(),
    })
}

/// `rows` as consumed from `source`, from `first` on.
fn consumed(source: &str, first: i64, rows: Vec<Row>) -> Vec<Consumed> {
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| Consumed {
            source: source.into(),
            offset: first + i as i64,
            row: Some(row),
        })
        .collect()
}

async fn scalar(ch: &ClickHouse, sql: &str) -> Value {
    ch.select(sql).await.unwrap()[0][0].clone()
}

#[tokio::test]
async fn a_batch_read_again_after_a_crash_is_stored_once() {
    let Some(w) = warehouse().await else { return };
    let first = consumed("events/0", 0, vec![event("e0", "A"), event("e1", "A")]);
    assert_eq!(w.apply(&first).await.unwrap().events, 2);
    // The offsets were not committed: the same records come again.
    let again = w.apply(&first).await.unwrap();
    assert_eq!((again.events, again.already_stored), (0, 2));
    // A batch that stopped half way: its intent recorded, one of its events stored, then the
    // loader died before recording the batch as loaded.
    w.client()
        .execute(
            "INSERT INTO wh_progress (source, loaded, intent, newest_event_time, watermark, updated) \
             VALUES ('events/0', 2, 5, NULL, NULL, toUInt64(9999999999999))",
        )
        .await
        .unwrap();
    w.client()
        .execute(
            "INSERT INTO wh_events (event_id, time, received_at, project, eid, uuid, prop_keys, prop_json, prop_text) \
             VALUES ('e2', 1556000000000, 1556000000500, 'zhibo', 'buyCourse', 'A', [], [], [])",
        )
        .await
        .unwrap();
    w.client()
        .execute(
            "INSERT INTO wh_events (event_id, time, received_at, project, eid, uuid, prop_keys, prop_json, prop_text) \
             VALUES ('e4', 1556000000000, 1556000000500, 'zhibo', 'buyCourse', 'A', [], [], [])",
        )
        .await
        .unwrap();
    // Read again in smaller batches than before the crash: each still checks what it may have
    // stored, up to the old intent.
    let resumed = consumed(
        "events/0",
        2,
        vec![event("e2", "A"), event("e3", "A"), event("e4", "A")],
    );
    let applied = w.apply(&resumed[..1]).await.unwrap();
    assert_eq!((applied.events, applied.already_stored), (0, 1));
    let applied = w.apply(&resumed[1..]).await.unwrap();
    assert_eq!((applied.events, applied.already_stored), (1, 1));
    assert_eq!(
        scalar(w.client(), "SELECT count() FROM wh_events").await,
        json!(5)
    );
    assert_eq!(
        scalar(w.client(), "SELECT uniqExact(event_id) FROM wh_events").await,
        json!(5)
    );
}

#[tokio::test]
async fn a_replayed_append_is_not_applied_twice() {
    let Some(w) = warehouse().await else { return };
    let batch = consumed("users/1", 0, vec![append("P", "a"), append("P", "b")]);
    w.apply(&batch).await.unwrap();
    w.apply(&batch).await.unwrap();
    // Replayed after the progress was lost: the profile's version still covers both.
    w.client()
        .execute("TRUNCATE TABLE wh_progress")
        .await
        .unwrap();
    w.apply(&batch).await.unwrap();
    let props = scalar(
        w.client(),
        "SELECT argMax(props, version) FROM wh_users WHERE uuid = 'P'",
    )
    .await;
    let props: Value = serde_json::from_str(props.as_str().unwrap()).unwrap();
    assert_eq!(props, json!({"tags": ["a", "b"]}));
}

async fn persons(w: &ClickHouseWarehouse) -> Vec<(String, String)> {
    w.client()
        .select("SELECT uuid, argMax(person, depth) FROM wh_persons GROUP BY uuid ORDER BY uuid")
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_owned(),
                r[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn loaders_storing_one_chain_in_any_order_agree_on_the_person() {
    let expected: Vec<(String, String)> = [("A", "D"), ("B", "D"), ("C", "D")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1]] {
        let Some(w) = warehouse().await else { return };
        let links = [merge("A", "B"), merge("B", "C"), merge("C", "D")];
        // Each link from its own partition, as three loaders of one group would store them.
        for i in order {
            let batch = consumed(&format!("users/{i}"), 0, vec![links[i].clone()]);
            w.apply(&batch).await.unwrap();
        }
        assert_eq!(persons(&w).await, expected, "order {order:?}");
    }
}

#[tokio::test]
async fn loaders_storing_one_chain_at_the_same_time_agree_on_the_person() {
    // Five links of one chain (A → B → … → F), each stored by its own "loader" at the same
    // moment; repeated, so the interleavings vary.
    let names = ["A", "B", "C", "D", "E", "F"];
    let expected: Vec<(String, String)> = names[..5]
        .iter()
        .map(|n| (n.to_string(), "F".to_string()))
        .collect();
    for round in 0..8 {
        let Some(w) = warehouse().await else { return };
        let mut tasks = Vec::new();
        for i in 0..5 {
            let loader = w.clone();
            let link = merge(names[i], names[i + 1]);
            tasks.push(tokio::spawn(async move {
                let batch = consumed(&format!("users/{i}"), 0, vec![link]);
                loader.apply(&batch).await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(persons(&w).await, expected, "round {round}");
    }
}
