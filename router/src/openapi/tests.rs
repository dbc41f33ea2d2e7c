//! The description served at `/openapi.json`, checked as a document: which operations it lists,
//! which need the admin token, and that every reference in it resolves.
use crate::http;
use serde_json::Value;
use std::collections::BTreeSet;

/// Every route the app serves, as `METHOD path` (the README's API reference).
const ENDPOINTS: [&str; 28] = [
    "POST /slog/event",
    "GET /sa",
    "POST /sa",
    "GET /sa.gif",
    "POST /sa.gif",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /admin/events",
    "POST /admin/events",
    "GET /admin/events/{id}",
    "PUT /admin/events/{id}",
    "DELETE /admin/events/{id}",
    "GET /admin/{table}",
    "POST /admin/{table}",
    "GET /admin/{table}/{key}",
    "PUT /admin/{table}/{key}",
    "DELETE /admin/{table}/{key}",
    "GET /admin/identities",
    "DELETE /admin/identities",
    "DELETE /admin/identities/{uuid}",
    "GET /admin/identities/blocked",
    "DELETE /admin/identities/blocked",
    "GET /admin/plugins",
    "POST /admin/plugins/reload",
    "POST /events/report",
    "POST /addictions/report",
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::to_value(http::openapi()).expect("the description is JSON")
}

/// `(METHOD path, operation)` for every operation of the document.
fn operations(doc: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((
                    format!("{} {path}", method.to_uppercase()),
                    operation.clone(),
                ));
            }
        }
    }
    found
}

#[test]
fn it_is_openapi_3_1() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "slog");
}

#[test]
fn every_route_is_described_and_nothing_else() {
    let described: BTreeSet<String> = operations(&document())
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let expected: BTreeSet<String> = ENDPOINTS.iter().map(|e| e.to_string()).collect();
    assert_eq!(described, expected);
}

#[test]
fn admin_and_report_operations_need_their_bearer_token_and_say_what_its_absence_answers() {
    let doc = document();
    assert_eq!(
        doc["components"]["securitySchemes"][super::ADMIN_TOKEN]["scheme"],
        "bearer"
    );
    for (name, operation) in operations(&doc) {
        let admin = name.split(' ').nth(1).unwrap().starts_with("/admin/");
        let security = &operation["security"];
        if admin {
            assert_eq!(
                security,
                &serde_json::json!([{ super::ADMIN_TOKEN: [] }]),
                "{name}"
            );
            assert!(
                operation["responses"]["401"].is_object(),
                "{name} documents 401"
            );
            assert!(
                operation["responses"]["404"].is_object(),
                "{name} documents 404"
            );
        } else if name.ends_with("/report") {
            assert_eq!(
                security,
                &serde_json::json!([{ super::REPORTS_TOKEN: [] }]),
                "{name}"
            );
            assert!(operation["responses"]["401"].is_object(), "{name}");
        } else {
            assert!(security.is_null(), "{name} needs no token");
        }
    }
}

#[test]
fn every_operation_has_a_tag_a_summary_and_only_documented_answers() {
    for (name, operation) in operations(&document()) {
        assert!(
            operation["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{name}"
        );
        assert!(operation["summary"].is_string(), "{name} has a summary");
        let responses = operation["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{name}");
        for (status, response) in responses {
            assert!(
                status.len() == 3 && status.parse::<u16>().is_ok(),
                "{name}: {status}"
            );
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name} {status} has a description"
            );
        }
    }
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is local"));
        assert!(doc.pointer(pointer).is_some(), "{reference} resolves");
    }
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.push(r.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[test]
fn error_bodies_are_the_rejection_shape() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ErrorBody"]["properties"]["error"]["$ref"],
        "#/components/schemas/Rejection"
    );
    let required: BTreeSet<&str> = schemas["Rejection"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, BTreeSet::from(["code", "field", "message"]));
    let codes = schemas["Code"]["enum"].as_array().unwrap();
    assert!(codes.contains(&Value::from("unregistered_event")));
}
