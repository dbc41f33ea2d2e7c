//! Merges under racing requests, on one instance (SQLite) and on two sharing MariaDB + Redis:
//! a person's anonymous devices, an SMS login and an account are joined by many requests at
//! once, in every combination. Whatever order they land in, every uuid is merged at most once
//! (no record merges one uuid into two survivors, no cycle), each person ends on one uuid, and
//! the store agrees with the records.
#![cfg(feature = "e2e")]
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::backend::{Backend, Databases};
use slog_tests::harness::Slog;
use slog_tests::http::{admin_request, post_event};
use slog_tests::persons::{final_uuid, merges};
use std::collections::{BTreeSet, HashMap};

const TOKEN: &str = "t0ken";
const PEOPLE: usize = 8;

fn config(db: &Databases) -> String {
    format!(
        "[registry]\n{keys}\n[sink]\nkind = \"file\"\n[admin]\ntoken = \"{TOKEN}\"\n",
        keys = db.registry_keys()
    )
}

/// The identities of person `p` that the joining requests combine.
fn identities(p: usize) -> Vec<(&'static str, String)> {
    vec![
        ("deviceUUID", format!("d0-{p}")),
        ("androidUUID", format!("d1-{p}")),
        ("idfa", format!("d2-{p}")),
        ("browserId", format!("b-{p}")),
        ("mobile", format!("1390000000{p}")),
        ("userid", format!("u-{p}")),
    ]
}

fn pageview(uidentity: Value) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ps": {"url": "/"},
           "uidentity": uidentity})
}

/// An event of person `p` carrying the identities at `picks` of `identities(p)`.
fn event_of(p: usize, picks: &[usize]) -> Value {
    let all = identities(p);
    let uidentity: serde_json::Map<String, Value> = picks
        .iter()
        .map(|&i| (all[i].0.to_owned(), json!(all[i].1)))
        .collect();
    pageview(Value::Object(uidentity))
}

async fn accepted(slog: &Slog, event: &Value) -> String {
    let (status, body) = post_event(slog, event).await;
    assert_eq!(status, StatusCode::OK, "{body} for {event}");
    body["event_id"].as_str().expect("event_id").to_owned()
}

async fn joins_in_any_order_end_on_one_person(backend: Backend, instances: usize) {
    let db = Databases::new(backend).await;
    let slogs: Vec<Slog> = (0..instances).map(|_| Slog::start(&config(&db))).collect();
    let mut posted: Vec<(usize, String)> = Vec::new();
    // Before: three anonymous devices, an SMS login on the web, and the account on its own.
    for p in 0..PEOPLE {
        for picks in [&[0][..], &[1], &[2], &[3, 4], &[5]] {
            posted.push((p, accepted(&slogs[0], &event_of(p, picks)).await));
        }
    }
    // Then every kind of joining event at once, spread over the instances.
    let joins: [&[usize]; 8] = [
        &[0, 1],
        &[1, 2],
        &[2, 0],
        &[0, 5],
        &[2, 3, 4],
        &[4, 5],
        &[1, 5],
        &[3, 1],
    ];
    let mut requests = Vec::new();
    for round in 0..3 {
        for p in 0..PEOPLE {
            for (n, picks) in joins.iter().enumerate() {
                let slog = &slogs[(p + n + round) % instances];
                let event = event_of(p, picks);
                requests.push(async move { (p, accepted(slog, &event).await) });
            }
        }
    }
    posted.extend(join_all(requests).await);

    let mut events = HashMap::new();
    let mut users = Vec::new();
    for slog in &slogs {
        for record in slog.file_records("events") {
            events.insert(record["event_id"].as_str().unwrap().to_owned(), record);
        }
        users.extend(slog.file_records("users"));
    }
    // Panics if a uuid was merged into two survivors, or the merges run in a cycle.
    let merged = merges(&users);
    // Five uuids per person before (three devices, the SMS login, the account): four merges
    // each, every one recorded once.
    let records = users
        .iter()
        .filter(|r| r["type"] == "identity_merge")
        .count();
    assert_eq!(
        records,
        4 * PEOPLE,
        "{records} merge records for {PEOPLE} people"
    );
    for slog in &slogs {
        let metrics = reqwest::get(slog.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let races: Vec<&str> = metrics
            .lines()
            .filter(|l| {
                l.starts_with("slog_identity_merge_races_total")
                    || l.starts_with("slog_identity_retries_total")
            })
            .collect();
        eprintln!("merge races on one instance: {races:?}");
    }
    let mut person_uuids: Vec<BTreeSet<String>> = vec![BTreeSet::new(); PEOPLE];
    for (p, event_id) in &posted {
        let uuid = events[event_id]["uidentity"]["uuid"]
            .as_str()
            .unwrap_or_else(|| panic!("no uuid: {}", events[event_id]));
        person_uuids[*p].insert(final_uuid(uuid, &merged));
    }
    for (p, uuids) in person_uuids.iter().enumerate() {
        assert_eq!(uuids.len(), 1, "person {p} split over {uuids:?}");
        let person = uuids.first().unwrap();
        for (key, value) in identities(p) {
            let (status, found) = admin_request(
                &slogs[0],
                TOKEN,
                Method::GET,
                &format!("/admin/identities?key={key}&value={value}"),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{found}");
            assert_eq!(
                found["uuid"].as_str(),
                Some(person.as_str()),
                "{key}={value} of person {p} is on a uuid that was merged away"
            );
        }
    }
    let distinct: BTreeSet<&String> = person_uuids.iter().flatten().collect();
    assert_eq!(distinct.len(), PEOPLE, "two people share a uuid");
}

#[tokio::test]
async fn joins_in_any_order_end_on_one_person_sqlite() {
    joins_in_any_order_end_on_one_person(Backend::Sqlite, 1).await;
}

#[tokio::test]
async fn joins_in_any_order_on_two_instances_end_on_one_person_mysql_redis() {
    joins_in_any_order_end_on_one_person(Backend::MySqlRedis, 2).await;
}
