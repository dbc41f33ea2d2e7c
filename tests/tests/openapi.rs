//! `GET /openapi.json` against the real binary: it is public, every operation it describes is
//! served, and on every path it describes the methods it does not describe are not served.
#![cfg(feature = "e2e")]
use reqwest::{header, Client, Method, StatusCode};
use serde_json::Value;
use slog_tests::harness::Slog;

const CONFIG: &str = r#"
[sink]
kind = "file"
[plugins]
watch = false
"#;
const TOKEN: &str = "openapi-test-token";
const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn start() -> Slog {
    Slog::start_with_env(CONFIG, &[("SLOG_ADMIN_TOKEN", TOKEN)])
}

async fn description(slog: &Slog) -> Value {
    let response = Client::new()
        .get(slog.url("/openapi.json"))
        .send()
        .await
        .expect("openapi request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    response.json().await.expect("the description is JSON")
}

/// `path` with each `{param}` replaced by a value its schema allows.
fn concrete(path: &str, operation: &Value) -> String {
    let mut concrete = path.to_owned();
    for param in operation["parameters"].as_array().into_iter().flatten() {
        if param["in"] != "path" {
            continue;
        }
        let name = param["name"].as_str().unwrap();
        let value = param["schema"]["enum"][0].as_str().unwrap_or("x");
        concrete = concrete.replace(&format!("{{{name}}}"), value);
    }
    assert!(
        !concrete.contains('{'),
        "{path}: every path parameter is described"
    );
    concrete
}

/// Status and body of `method path` with the admin token and a JSON object body.
async fn call(slog: &Slog, method: &str, path: &str) -> (StatusCode, String) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let response = Client::new()
        .request(method, slog.url(path))
        .bearer_auth(TOKEN)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_description_is_public_openapi_3_1() {
    let slog = start();
    let doc = description(&slog).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc["paths"]["/slog/event"]["post"].is_object());
    assert!(doc["paths"]["/openapi.json"]["get"].is_object());
}

#[tokio::test]
async fn every_described_operation_is_served() {
    let slog = start();
    let doc = description(&slog).await;
    // What the app answers for a path it has no route for.
    let unrouted = call(&slog, "get", "/no/such/endpoint").await;
    assert_eq!(unrouted.0, StatusCode::NOT_FOUND);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let url = concrete(path, operation);
            let (status, body) = call(&slog, method, &url).await;
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {url}: {body}"
            );
            assert!(
                (status, &body) != (unrouted.0, &unrouted.1),
                "{method} {url} is described but not routed"
            );
            let documented = operation["responses"].get(status.as_str()).is_some();
            assert!(
                documented,
                "{method} {url} answered an undocumented {status}: {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} operations");
}

#[tokio::test]
async fn described_paths_serve_no_undescribed_method() {
    let slog = start();
    let doc = description(&slog).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(sample) = METHODS.iter().find_map(|m| item.get(*m)) else {
            panic!("{path} has no operation");
        };
        let url = concrete(path, sample);
        for method in METHODS.iter().filter(|m| item.get(**m).is_none()) {
            let (status, body) = call(&slog, method, &url).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {url} is served but not described: {body}"
            );
        }
    }
}
