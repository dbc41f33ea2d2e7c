//! The HTTP app in process, with no service around it: the embedded SQLite registry and identity
//! store in a temporary directory, no plugins, and the memory sink, driven request by request
//! with `tower::ServiceExt::oneshot`. These are the answers an SDK sees for a single event, a
//! batch with refused events (and their dead letters), a sink that cannot take the events, and
//! malformed requests. The same paths run against the real binary in `tests/tests/`.
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use slog_router::config::Config;
use slog_router::server::{assemble, Service};
use slog_router::sink::memory::MemorySink;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

struct App {
    service: Service,
    sink: Arc<MemorySink>,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[registry]\nurl = \"sqlite://{db}?mode=rwc\"\n\
         [plugins]\ndir = \"{dir}\"\nconfig = \"{dir}/plugins.toml\"\nwatch = false\n",
        db = dir.path().join("registry.db").display(),
        dir = dir.path().display(),
    );
    let config = Config::from_toml_str(&text, Vec::new()).unwrap();
    let sink = Arc::new(MemorySink::new());
    let service = assemble(&config, sink.clone(), None).await.unwrap();
    App {
        service,
        sink,
        _dir: dir,
    }
}

/// An answer: status, `Retry-After` if any, and the JSON body.
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

impl App {
    async fn send(&self, method: Method, path: &str, body: Body) -> Answer {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap();
        let peer: SocketAddr = "203.0.113.7:50000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self.service.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            retry_after,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    async fn post(&self, body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).unwrap();
        self.send(Method::POST, "/slog/event", Body::from(bytes))
            .await
    }
}

fn pageview(device: &str) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ver": "js1.1.0",
           "ps": {"url": "https://x.example/a?k=1", "ct": 100}, "uidentity": {"deviceUUID": device}})
}

fn unregistered(device: &str) -> Value {
    json!({"stype": 100, "eid": "noSuchEvent", "project": "zhibo",
           "uidentity": {"deviceUUID": device}})
}

#[tokio::test]
async fn one_event_is_answered_with_its_id_once_its_record_is_stored() {
    let app = app().await;
    let answer = app.post(&pageview("d-1")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["accepted"], 1);
    let events = app.sink.topic("events");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_id"], answer.body["event_id"]);
    assert_eq!(events[0]["stype"], 100);
    assert_eq!(events[0]["type"], "track");
    // Enriched from the request, and a uuid minted for a person never seen before.
    assert_eq!(events[0]["ps"]["ip"], "203.0.113.7");
    assert_eq!(events[0]["uuid_source"], "new");
}

#[tokio::test]
async fn a_batch_answers_each_event_and_dead_letters_the_refused_ones() {
    let app = app().await;
    let malformed = json!({"eid": "pageview", "project": "zhibo"});
    let answer = app
        .post(&json!([pageview("d-1"), unregistered("d-2"), malformed]))
        .await;
    let body = &answer.body;
    assert_eq!(answer.status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"], 2);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["index"], 0);
    assert!(results[0]["event_id"].is_string());
    assert_eq!(results[1]["index"], 1);
    assert_eq!(results[1]["error"]["code"], "unregistered_event");
    assert_eq!(results[1]["error"]["field"], "eid");
    assert_eq!(results[2]["error"]["code"], "missing_field");
    assert_eq!(results[2]["error"]["field"], "stype");
    assert_eq!(app.sink.topic("events").len(), 1);
    // The well-formed refusal is kept with its reason; the malformed one has nothing to keep.
    let letters = app.sink.topic("dead_letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["reason"]["code"], "unregistered_event");
    assert_eq!(letters[0]["event"]["eid"], "noSuchEvent");
}

#[tokio::test]
async fn a_batch_with_nothing_accepted_is_a_400_and_still_dead_lettered() {
    let app = app().await;
    let answer = app.post(&json!([unregistered("d-2")])).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.body["accepted"], 0);
    assert_eq!(answer.body["rejected"], 1);
    assert_eq!(app.sink.topic("dead_letters").len(), 1);
}

#[tokio::test]
async fn a_sink_that_cannot_take_the_events_gets_a_503_and_nothing_is_half_accepted() {
    let app = app().await;
    app.sink.refuse(true);
    let batch = json!([pageview("d-1"), unregistered("d-2")]);
    let answer = app.post(&batch).await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["error"]["code"], "sink_unavailable");
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    assert!(app.sink.records().is_empty());
    // The SDK's retry of the same request is accepted whole once the sink is back.
    app.sink.refuse(false);
    let answer = app.post(&batch).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["accepted"], 1);
    assert_eq!(app.sink.topic("events").len(), 1);
    assert_eq!(app.sink.topic("dead_letters").len(), 1);
}

#[tokio::test]
async fn malformed_requests_get_a_json_error_naming_the_rule() {
    let app = app().await;
    let answer = app
        .send(Method::POST, "/slog/event", Body::from("{not json"))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "invalid_json");
    let answer = app.post(&json!([])).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "empty_batch");
    let answer = app.send(Method::GET, "/slog/event", Body::empty()).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.body["error"]["code"], "method_not_allowed");
    let answer = app.send(Method::GET, "/nowhere", Body::empty()).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["error"]["code"], "not_found");
    assert!(app.sink.records().is_empty());
}

#[tokio::test]
async fn readiness_follows_the_sink() {
    let app = app().await;
    let answer = app.send(Method::GET, "/readyz", Body::empty()).await;
    assert_eq!(answer.status, StatusCode::OK);
    app.sink.refuse(true);
    let answer = app.send(Method::GET, "/readyz", Body::empty()).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}
