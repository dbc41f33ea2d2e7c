//! Overload and abuse, end to end on the real binary: size caps, the lingering close of a
//! refused body, the in-flight cap, the rates per client and per project, the admin lockout.
#![cfg(feature = "e2e")]
use reqwest::{header, Client, Method, StatusCode};
use serde_json::{json, Value};
use slog_tests::harness::Slog;
use slog_tests::http::{admin_request, answer, metrics, post_event};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const BASE: &str = r#"
[server]
max_body_bytes = 65536
max_decoded_bytes = 262144
max_batch_events = 50
[registry]
default_policy = "lenient"
[sink]
kind = "file"
"#;

fn event(project: &str, user: &str) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": project,
           "uidentity": {"deviceUUID": user}})
}

/// Sends `head` and then `body` in full before reading anything, as Python's urllib and many
/// SDKs do; returns the status line, or the I/O error the client saw.
fn write_all_then_read(slog: &Slog, head: &str, body: &[u8]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(slog.addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        answer.extend_from_slice(&buf[..n]);
        if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    Ok(text.lines().next().unwrap_or("").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_writes_its_whole_oversized_body_first_reads_the_413() {
    let slog = Slog::start(&format!("{BASE}[limits]\ndrain_bytes = 33554432\n"));
    // Far past what loopback's socket buffers absorb (a few MiB: a 3 MiB body reads its 413 even
    // without draining), within what slog drains.
    let body = vec![b' '; 24 * 1024 * 1024];
    for (path, content_type) in [
        ("/slog/event", "application/json"),
        ("/sa", "application/x-www-form-urlencoded"),
    ] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        let slog_ref = &slog;
        let status = tokio::task::block_in_place(|| write_all_then_read(slog_ref, &head, &body));
        assert_eq!(
            status.as_ref().map(String::as_str).map_err(|e| e.kind()),
            Ok("HTTP/1.1 413 Payload Too Large"),
            "{path}"
        );
    }
    // A wrong content type is refused before the body is read: the same courtesy.
    let head = format!(
        "POST /slog/event HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let status = tokio::task::block_in_place(|| write_all_then_read(&slog, &head, &body));
    assert_eq!(
        status.map_err(|e| e.kind()),
        Ok("HTTP/1.1 415 Unsupported Media Type".to_owned())
    );
    let (status, _) = post_event(&slog, &event("zhibo", "d-1")).await;
    assert_eq!(status, StatusCode::OK, "still serving");
}

#[tokio::test]
async fn past_the_in_flight_cap_requests_get_503_at_once_and_health_still_answers() {
    let slog = Slog::start(&format!("{BASE}[limits]\nmax_in_flight = 1\n"));
    // A request that holds the only slot: its body is promised but not sent yet.
    let mut slow = TcpStream::connect(slog.addr).unwrap();
    let body = event("zhibo", "slow").to_string();
    write!(
        slow,
        "POST /slog/event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{}",
        body.len(),
        &body[..5]
    )
    .unwrap();
    let mut shed = None;
    for _ in 0..50 {
        let response = Client::new()
            .post(slog.url("/slog/event"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(event("zhibo", "shed").to_string())
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .expect("answered at once, not queued");
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            shed = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await; // the slow request not in yet
    }
    let shed = shed.expect("a request past the cap is shed");
    assert_eq!(shed.headers()[header::RETRY_AFTER], "1");
    let (_, answer) = answer(shed).await;
    assert_eq!(answer["error"]["code"], "overloaded", "{answer}");
    let health = reqwest::get(slog.url("/healthz")).await.unwrap();
    assert_eq!(
        health.status(),
        StatusCode::OK,
        "operators' routes are not capped"
    );

    slow.write_all(&body.as_bytes()[5..]).unwrap();
    let mut status = [0u8; 12];
    slow.read_exact(&mut status).unwrap();
    assert_eq!(&status, b"HTTP/1.1 200", "the slow request completes");
    let (status, _) = post_event(&slog, &event("zhibo", "after")).await;
    assert_eq!(status, StatusCode::OK, "the slot is free again");
    let stored: Vec<Value> = slog.file_records("events");
    let users: Vec<&str> = stored
        .iter()
        .map(|r| r["uidentity"]["deviceUUID"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["slow", "after"], "the shed request was not stored");
    assert!(metrics(&slog)
        .await
        .contains("slog_requests_limited_total{reason=\"overloaded\"}"));
}

#[tokio::test]
async fn a_client_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let slog = Slog::start(&format!(
        "{BASE}[limits]\nper_ip_requests_per_sec = 1\nper_ip_burst = 5\n\
         [enrich]\ntrusted_proxies = [\"127.0.0.1\"]\n"
    ));
    let send = |client_ip: &'static str| {
        Client::new()
            .post(slog.url("/slog/event"))
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-Forwarded-For", client_ip)
            .body(event("zhibo", client_ip).to_string())
            .send()
    };
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..10 {
        let response = send("203.0.113.7").await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            retry_after = Some(response.headers()[header::RETRY_AFTER].clone());
            let (_, body) = answer(response).await;
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
            statuses.push(429);
        } else {
            statuses.push(response.status().as_u16());
        }
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        (5..=6).contains(&ok),
        "the burst of 5 passes, then 1/s: {statuses:?}"
    );
    assert_eq!(
        statuses.len() - ok,
        statuses.iter().filter(|s| **s == 429).count()
    );
    assert_eq!(retry_after.expect("some were refused"), "1");
    let other = send("198.51.100.9").await.unwrap();
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another client has its own bucket"
    );
    assert_eq!(slog.file_records("events").len(), ok + 1);
    assert!(metrics(&slog)
        .await
        .contains("slog_requests_limited_total{reason=\"client_rate\"}"));
}

#[tokio::test]
async fn a_project_over_its_event_rate_is_refused_whole_and_other_projects_flow() {
    let slog = Slog::start(&format!(
        "{BASE}[limits]\nper_project_events_per_sec = 1\nper_project_burst = 50\n"
    ));
    let batch = |project: &str, n: usize| -> Value {
        (0..n)
            .map(|i| event(project, &format!("{project}-{i}")))
            .collect::<Vec<_>>()
            .into()
    };
    let (status, body) = post_event(&slog, &batch("zhibo", 50)).await;
    assert_eq!(status, StatusCode::OK, "a full burst: {body}");
    let (status, body) = post_event(&slog, &batch("zhibo", 10)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(body["error"]["message"].as_str().unwrap().contains("zhibo"));
    let (status, _) = post_event(&slog, &batch("kaoyan", 10)).await;
    assert_eq!(status, StatusCode::OK, "another project has its own bucket");
    assert_eq!(
        slog.file_records("events").len(),
        60,
        "nothing of the 429 was stored"
    );
}

#[tokio::test]
async fn an_overlong_url_or_header_block_is_refused_before_anything_is_read() {
    let slog = Slog::start(&format!(
        "{BASE}[limits]\nmax_url_bytes = 4096\nmax_header_bytes = 8192\n"
    ));
    let url = slog.url(&format!("/sa.gif?data={}", "A".repeat(5000)));
    let (status, body) = answer(reqwest::get(url).await.unwrap()).await;
    assert_eq!(status, StatusCode::URI_TOO_LONG);
    assert_eq!(body["error"]["code"], "url_too_long");
    let response = Client::new()
        .post(slog.url("/slog/event"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-Padding", "p".repeat(9000))
        .body(event("zhibo", "d").to_string())
        .send()
        .await
        .unwrap();
    let (status, body) = answer(response).await;
    assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(body["error"]["code"], "headers_too_large");
    assert!(slog.file_records("events").is_empty());
}

#[tokio::test]
async fn an_address_that_keeps_guessing_the_admin_token_is_locked_out_right_token_or_not() {
    let slog = Slog::start(&format!(
        "{BASE}[admin]\ntoken = \"s3cret-token\"\n[limits]\nadmin_failures_per_minute = 3\n"
    ));
    for guess in ["a", "s3cret-tokem", "s3cret-token-"] {
        let (status, body) = admin_request(&slog, guess, Method::GET, "/admin/events", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    let response = Client::new()
        .get(slog.url("/admin/events"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let (_, body) = answer(response).await;
    assert_eq!(body["error"]["code"], "rate_limited");
    let text = metrics(&slog).await;
    assert!(
        text.contains("slog_auth_failures_total{api=\"admin\"} 3"),
        "{text}"
    );
    // Event ingestion is not the admin API: it is not locked.
    let (status, _) = post_event(&slog, &event("zhibo", "d")).await;
    assert_eq!(status, StatusCode::OK);
}
