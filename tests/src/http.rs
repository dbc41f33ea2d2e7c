//! HTTP helpers of the end-to-end tests: post events, call the admin API, read JSON answers.
use crate::harness::Slog;
use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};

/// Status and JSON body (`Value::Null` when the body is empty, as for 204).
pub async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("response body");
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text}"));
    (status, body)
}

/// `GET /metrics`: the Prometheus text.
pub async fn metrics(slog: &Slog) -> String {
    reqwest::get(slog.url("/metrics"))
        .await
        .expect("metrics request")
        .text()
        .await
        .expect("metrics text")
}

/// `POST /slog/event` with `body` (one event, or an array for a batch).
pub async fn post_event(slog: &Slog, body: &Value) -> (StatusCode, Value) {
    let response = Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("event request");
    answer(response).await
}

/// An admin API request with `token`.
pub async fn admin_request(
    slog: &Slog,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = Client::new()
        .request(method, slog.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    answer(request.send().await.expect("admin request")).await
}

/// Registers `properties` (key and value_type) in the admin API's `table`
/// (`event-properties`, `profile-properties`, ...).
pub async fn register_properties(
    slog: &Slog,
    token: &str,
    table: &str,
    properties: &[(&str, i64)],
) {
    for (key, value_type) in properties {
        let property = json!({"key": key, "name": key, "value_type": value_type, "proposer": "li"});
        let path = format!("/admin/{table}");
        let (status, body) = admin_request(slog, token, Method::POST, &path, Some(property)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// Registers the tracking plan's buyCourse for zhibo and the event properties `properties`
/// (key and value_type) through the admin API, as the quick start does.
pub async fn register_buy_course(slog: &Slog, token: &str, properties: &[(&str, i64)]) {
    let event =
        json!({"id": "buyCourse", "name": "购买课程", "project": "zhibo", "proposer": "li"});
    let (status, body) =
        admin_request(slog, token, Method::POST, "/admin/events", Some(event)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    register_properties(slog, token, "event-properties", properties).await;
}
