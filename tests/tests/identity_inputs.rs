//! Identity values as SDKs and back ends really send them, through the real binary: numeric ids,
//! empty and null values, constant device ids, and a constant no list knows that the
//! shared-device guard blocks (and an operator lifts through the admin API).
#![cfg(feature = "e2e")]
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use slog_tests::http::{admin_request, post_event};

const TOKEN: &str = "t0ken";

fn start() -> Slog {
    Slog::start(&format!(
        "[sink]\nkind = \"file\"\n[admin]\ntoken = \"{TOKEN}\"\n[identity]\nmax_accounts_per_device = 2\n"
    ))
}

fn pageview(uidentity: Value) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ps": {"url": "/"},
           "uidentity": uidentity})
}

/// Posts one event; its output record on the events topic.
async fn record_of(slog: &Slog, uidentity: Value) -> Value {
    let (status, body) = post_event(slog, &pageview(uidentity.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body} for {uidentity}");
    let id = body["event_id"].as_str().unwrap();
    slog.file_records("events")
        .into_iter()
        .find(|r| r["event_id"] == id)
        .expect("the accepted event's record")
}

#[tokio::test]
async fn numeric_empty_and_null_identities_are_taken_as_back_ends_send_them() {
    let slog = start();
    let text = record_of(&slog, json!({"userid": "48672329"})).await;
    let number = record_of(&slog, json!({"userid": 48672329, "uvId": "", "imei": null})).await;
    assert_eq!(
        number["uidentity"],
        json!({"userid": "48672329", "uuid": text["uidentity"]["uuid"]}),
        "one person; the number as its text; the empty and null identities dropped"
    );
    let (status, body) = post_event(&slog, &pageview(json!({"userid": 1.5}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(body["error"]["field"], "uidentity.userid");
}

#[tokio::test]
async fn constant_device_ids_link_no_one() {
    let slog = start();
    let mut uuids = Vec::new();
    for (n, constant) in [
        json!({"macAddress": "02:00:00:00:00:00"}),
        json!({"androidUUID": "9774d56d682e549c"}),
        json!({"iosUUID": "(null)"}),
        json!({"idfa": "00000000-0000-0000-0000-000000000000"}),
        json!({"imei": "004999010640000"}),
    ]
    .into_iter()
    .enumerate()
    {
        for person in 0..2 {
            let mut uidentity = constant.clone();
            uidentity["deviceUUID"] = json!(format!("d-{n}-{person}"));
            let record = record_of(&slog, uidentity).await;
            uuids.push(record["uidentity"]["uuid"].as_str().unwrap().to_owned());
        }
    }
    let distinct: std::collections::BTreeSet<&String> = uuids.iter().collect();
    assert_eq!(
        distinct.len(),
        uuids.len(),
        "every phone its own person: {uuids:?}"
    );
}

#[tokio::test]
async fn a_constant_no_list_knows_is_blocked_after_too_many_accounts_and_can_be_lifted() {
    let slog = start();
    let constant = "vendor-serial-1";
    let mut people = Vec::new();
    for n in 0..3 {
        let record = record_of(
            &slog,
            json!({"androidUUID": constant, "userid": format!("u-{n}")}),
        )
        .await;
        people.push(record["uidentity"]["uuid"].as_str().unwrap().to_owned());
    }
    let (status, list) =
        admin_request(&slog, TOKEN, Method::GET, "/admin/identities/blocked", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["max_accounts_per_device"], 2);
    let blocked = list["blocked"].as_array().unwrap();
    assert_eq!(blocked.len(), 1, "{list}");
    assert_eq!(
        (blocked[0]["key"].clone(), blocked[0]["value"].clone()),
        (json!("androidUUID"), json!(constant))
    );
    assert_eq!(blocked[0]["accounts"], 3);

    // Blocked: an anonymous event carrying only the constant gets no one's uuid.
    let alone = record_of(&slog, json!({"androidUUID": constant})).await;
    assert_eq!(alone["uuid_source"], "unresolved", "{alone}");

    let path = format!("/admin/identities/blocked?key=androidUUID&value={constant}");
    let (status, body) = admin_request(&slog, TOKEN, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = admin_request(&slog, TOKEN, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let again = record_of(&slog, json!({"androidUUID": constant})).await;
    assert_eq!(
        again["uuid_source"], "lookup",
        "lifted: it links again: {again}"
    );
    assert!(people.contains(&again["uidentity"]["uuid"].as_str().unwrap().to_owned()));
}
