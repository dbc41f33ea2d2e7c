//! Unified identity end to end (tracking plan goals 1 and 2): slog fills the uuid an event lacks from the
//! person's other identities, announces merges on the users topic, never splits a person under
//! racing requests, and lets operators look up and delete a person's links.
//!
//! The stories run on both backends: the embedded SQLite file, and MariaDB with Redis.
#![cfg(feature = "e2e")]
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::backend::{Backend, Databases};
use slog_tests::harness::Slog;
use slog_tests::http::{admin_request, post_event, register_buy_course};
use slog_tests::persons::{final_uuid, merges};
use std::collections::{BTreeSet, HashMap};

const TOKEN: &str = "t0ken";

fn config(db: &Databases) -> String {
    format!(
        "[registry]\n{keys}refresh_interval_ms = 200\n\
         [sink]\nkind = \"file\"\n\
         [admin]\ntoken = \"{TOKEN}\"\n",
        keys = db.registry_keys()
    )
}

async fn admin(
    slog: &Slog,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    admin_request(slog, TOKEN, method, path, body).await
}

/// Posts one event and returns its event_id.
async fn accepted(slog: &Slog, event: Value) -> String {
    let (status, body) = post_event(slog, &event).await;
    assert_eq!(status, StatusCode::OK, "{body} for {event}");
    body["event_id"].as_str().expect("event_id").to_owned()
}

fn pageview(uidentity: Value) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo",
           "ps": {"url": "https://www.example.com/course", "lib": "js"}, "uidentity": uidentity})
}

/// The output records of `slog` on `topic`, by event_id.
fn by_event_id(slog: &Slog, topic: &str) -> HashMap<String, Value> {
    slog.file_records(topic)
        .into_iter()
        .filter_map(|r| Some((r["event_id"].as_str()?.to_owned(), r)))
        .collect()
}

/// The story: anonymous pageviews, a server-side buyCourse that knows only the userid,
/// then a login that shows the browser beside the userid. Afterwards every event is the buyer's.
async fn buy_course_and_anonymous_pageviews_meet_on_one_uuid(backend: Backend) {
    let db = Databases::new(backend).await;
    let slog = Slog::start(&config(&db));
    register_buy_course(&slog, TOKEN, &[("course_name", 0), ("money", 3)]).await;

    let browser = json!({"browserId": "b-7f3a", "uvId": "uv-19"});
    let anon_1 = accepted(&slog, pageview(browser.clone())).await;
    let anon_2 = accepted(&slog, pageview(browser.clone())).await;
    let buy = accepted(&slog, json!({"stype": 100, "eid": "buyCourse", "project": "zhibo",
        "ps": {"course_name": "新概念", "money": 199, "lib": "python"}, "uidentity": {"userid": "u-42"}})).await;
    let login = accepted(
        &slog,
        pageview(json!({"browserId": "b-7f3a", "uvId": "uv-19", "userid": "u-42"})),
    )
    .await;
    let later = accepted(&slog, pageview(json!({"uvId": "uv-19"}))).await;
    let profile = accepted(
        &slog,
        json!({"stype": 101, "project": "zhibo", "ps": {"name": "Li"},
        "uidentity": {"userid": "u-42"}}),
    )
    .await;

    let events = by_event_id(&slog, "events");
    let uuid_of = |id: &str| {
        events[id]["uidentity"]["uuid"]
            .as_str()
            .expect("uuid filled")
            .to_owned()
    };
    let source_of = |id: &str| events[id]["uuid_source"].clone();
    let anonymous = uuid_of(&anon_1);
    let buyer = uuid_of(&buy);
    assert_eq!(uuid_of(&anon_2), anonymous, "one browser, one uuid");
    assert_ne!(anonymous, buyer, "nothing linked them before the login");
    assert_eq!(
        (source_of(&anon_1), source_of(&anon_2)),
        (json!("new"), json!("lookup"))
    );
    assert_eq!(source_of(&buy), json!("new"));
    assert_eq!(uuid_of(&login), buyer, "the login event is the buyer's");
    assert_eq!(
        uuid_of(&later),
        buyer,
        "the cookie alone now finds the buyer"
    );

    let users = slog.file_records("users");
    let merge = users
        .iter()
        .find(|r| r["type"] == "identity_merge")
        .unwrap_or_else(|| panic!("an identity_merge on the users topic: {users:?}"));
    assert_eq!(
        (merge["from_uuid"].as_str(), merge["to_uuid"].as_str()),
        (Some(anonymous.as_str()), Some(buyer.as_str()))
    );
    assert_eq!(
        merge["trigger"],
        json!({"key": "browserId", "value": "b-7f3a"})
    );
    let profile_record = users
        .iter()
        .find(|r| r["event_id"] == profile.as_str())
        .expect("profile record");
    assert_eq!(
        profile_record["uidentity"]["uuid"],
        buyer.as_str(),
        "profiles always get the uuid"
    );

    let merged = merges(&users);
    for id in [&anon_1, &anon_2, &buy, &login, &later] {
        assert_eq!(
            final_uuid(&uuid_of(id), &merged),
            buyer,
            "event {id} after applying merges"
        );
    }
    // The user center agrees: the browser, the cookie and the account are one person.
    let (status, person) = admin(
        &slog,
        Method::GET,
        "/admin/identities?key=browserId&value=b-7f3a",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{person}");
    assert_eq!(person["uuid"], buyer.as_str());
    let keys: BTreeSet<&str> = person["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, BTreeSet::from(["browserId", "userid", "uvId"]));
}

#[tokio::test]
async fn buy_course_and_anonymous_pageviews_meet_on_one_uuid_sqlite() {
    buy_course_and_anonymous_pageviews_meet_on_one_uuid(Backend::Sqlite).await;
}

#[tokio::test]
async fn buy_course_and_anonymous_pageviews_meet_on_one_uuid_mysql_redis() {
    buy_course_and_anonymous_pageviews_meet_on_one_uuid(Backend::MySqlRedis).await;
}

/// Racing requests (on one instance, or spread over two sharing a database) that introduce the
/// same new person: each person ends on exactly one uuid, and no two persons share one.
async fn racing_requests_never_split_a_person(backend: Backend, instances: usize) {
    let db = Databases::new(backend).await;
    let slogs: Vec<Slog> = (0..instances).map(|_| Slog::start(&config(&db))).collect();
    const PEOPLE: usize = 6;
    const REQUESTS_EACH: usize = 12;
    let mut requests = Vec::new();
    for person in 0..PEOPLE {
        for n in 0..REQUESTS_EACH {
            // Different subsets of the same identities, so the races start from different anchors.
            let uidentity = match n % 3 {
                0 => {
                    json!({"deviceUUID": format!("d-{person}"), "browserId": format!("b-{person}")})
                }
                1 => json!({"browserId": format!("b-{person}")}),
                _ => json!({"deviceUUID": format!("d-{person}"), "uvId": format!("v-{person}")}),
            };
            let slog = &slogs[n % instances];
            requests.push(async move { (person, accepted(slog, pageview(uidentity)).await) });
        }
    }
    let posted = join_all(requests).await;

    let mut events = HashMap::new();
    let mut users = Vec::new();
    for slog in &slogs {
        events.extend(by_event_id(slog, "events"));
        users.extend(slog.file_records("users"));
    }
    let merged = merges(&users);
    let mut uuids_of_person: Vec<BTreeSet<String>> = vec![BTreeSet::new(); PEOPLE];
    for (person, event_id) in &posted {
        let event = &events[event_id];
        let uuid = event["uidentity"]["uuid"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "no uuid in {event}; logs: {}",
                    slogs.iter().map(Slog::logs).collect::<Vec<_>>().join("\n")
                )
            })
            .to_owned();
        uuids_of_person[*person].insert(final_uuid(&uuid, &merged));
    }
    for (person, uuids) in uuids_of_person.iter().enumerate() {
        assert_eq!(uuids.len(), 1, "person {person} was split: {uuids:?}");
        // The store agrees with the events for every identity of the person.
        for (key, value) in [("deviceUUID", "d"), ("browserId", "b"), ("uvId", "v")] {
            let (status, found) = admin(
                &slogs[0],
                Method::GET,
                &format!("/admin/identities?key={key}&value={value}-{person}"),
                None,
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{found}");
            assert!(
                uuids.contains(found["uuid"].as_str().unwrap()),
                "{key} of person {person}: {found} vs {uuids:?}"
            );
        }
    }
    let distinct: BTreeSet<&String> = uuids_of_person.iter().flatten().collect();
    assert_eq!(distinct.len(), PEOPLE, "no two people share a uuid");
}

#[tokio::test]
async fn racing_requests_never_split_a_person_sqlite() {
    racing_requests_never_split_a_person(Backend::Sqlite, 1).await;
}

#[tokio::test]
async fn racing_requests_on_two_instances_never_split_a_person_mysql_redis() {
    racing_requests_never_split_a_person(Backend::MySqlRedis, 2).await;
}

/// The admin API: find a person by any identity, unlink one identity, delete a person's links.
async fn admin_api_finds_unlinks_and_forgets(backend: Backend) {
    let db = Databases::new(backend).await;
    let slog = Slog::start(&config(&db));
    let first = accepted(
        &slog,
        pageview(json!({"deviceUUID": "d-1", "userid": "u-1",
        "appid": "wx-app", "openid": "o-1"})),
    )
    .await;
    let person = by_event_id(&slog, "events")[&first]["uidentity"]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, found) = admin(
        &slog,
        Method::GET,
        "/admin/identities?key=userid&value=u-1",
        None,
    )
    .await;
    assert_eq!(
        (status, found["uuid"].as_str()),
        (StatusCode::OK, Some(person.as_str())),
        "{found}"
    );
    assert_eq!(found["identities"].as_array().unwrap().len(), 3, "{found}");
    let (status, by_openid) = admin(
        &slog,
        Method::GET,
        "/admin/identities?key=openid&value=o-1&appid=wx-app",
        None,
    )
    .await;
    assert_eq!(
        (status, by_openid["uuid"].as_str()),
        (StatusCode::OK, Some(person.as_str())),
        "{by_openid}"
    );
    let (status, by_uuid) = admin(
        &slog,
        Method::GET,
        &format!("/admin/identities?uuid={person}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{by_uuid}");

    let (status, missing) = admin(&slog, Method::GET, "/admin/identities?key=userid", None).await;
    assert_eq!(
        (
            status,
            &missing["error"]["code"],
            &missing["error"]["field"]
        ),
        (
            StatusCode::BAD_REQUEST,
            &json!("missing_field"),
            &json!("value")
        ),
        "{missing}"
    );
    let (status, unknown) = admin(
        &slog,
        Method::GET,
        "/admin/identities?key=userid&value=nobody",
        None,
    )
    .await;
    assert_eq!(
        (status, &unknown["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found")),
        "{unknown}"
    );
    let (status, _) = admin_request(
        &slog,
        "wrong",
        Method::GET,
        "/admin/identities?key=userid&value=u-1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Unlink the device: its next anonymous event is somebody new.
    let (status, unlinked) = admin(
        &slog,
        Method::DELETE,
        "/admin/identities?key=deviceUUID&value=d-1",
        None,
    )
    .await;
    assert_eq!(
        (status, unlinked["uuid"].as_str()),
        (StatusCode::OK, Some(person.as_str())),
        "{unlinked}"
    );
    let again = accepted(&slog, pageview(json!({"deviceUUID": "d-1"}))).await;
    let events = by_event_id(&slog, "events");
    assert_ne!(
        events[&again]["uidentity"]["uuid"].as_str(),
        Some(person.as_str())
    );
    assert_eq!(events[&again]["uuid_source"], "new");

    // A privacy request: every link of the person goes.
    let (status, deleted) = admin(
        &slog,
        Method::DELETE,
        &format!("/admin/identities/{person}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(
        deleted["deleted"].as_array().unwrap().len(),
        2,
        "userid and openid: {deleted}"
    );
    let (status, _) = admin(
        &slog,
        Method::GET,
        "/admin/identities?key=userid&value=u-1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the person is gone");
    let (status, gone_twice) = admin(
        &slog,
        Method::DELETE,
        &format!("/admin/identities/{person}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone_twice}");
}

#[tokio::test]
async fn admin_api_finds_unlinks_and_forgets_sqlite() {
    admin_api_finds_unlinks_and_forgets(Backend::Sqlite).await;
}

#[tokio::test]
async fn admin_api_finds_unlinks_and_forgets_mysql_redis() {
    admin_api_finds_unlinks_and_forgets(Backend::MySqlRedis).await;
}
