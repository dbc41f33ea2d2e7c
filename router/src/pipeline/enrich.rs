//! Enrichment (tracking plan §4 collection rules): fill what the SDK left out, never overwrite what it sent.
//!
//! Applies to track messages; `ct` (client type, `ps.ct`) decides what is filled:
//!
//! | property | filled when absent and |
//! |---|---|
//! | `ip` | ct ≥ 100 (from the request, see `enrich::client_ip`) |
//! | `country`, `province`, `city` | ct ≥ 100 (GeoIP of `ps.ip`, sent or filled) |
//! | `os`, `os_version` | ct ≥ 100 (User-Agent) |
//! | `browser`, `browser_version` | ct in 100..=199 (web; User-Agent) |
//! | `referrer_host` | `referrer` is an absolute URL |
//! | `url_path` | `url` is present |
//! | `lib`, `lib_version` | `ver` is a tag like `js1.1.0` |
//!
//! Absent means missing, null or the empty string. ct 1–99 (server SDKs, log imports) gets no
//! request-derived values: the request comes from a server, not from the user's device.
use crate::enrich::url_parts;
use crate::enrich::Enrichers;
use crate::event::{Event, MessageKind};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// What the HTTP request tells about the client, computed once per request.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub client_ip: IpAddr,
    pub user_agent: Option<String>,
}

pub fn enrich(event: &mut Event, request: &RequestContext, sources: &Enrichers) {
    if event.kind != MessageKind::Track {
        return;
    }
    let ps = &mut event.ps;
    let ct = ps.get("ct").and_then(Value::as_i64);
    let from_device = ct.is_some_and(|c| c >= 100);
    let web = ct.is_some_and(|c| (100..=199).contains(&c));

    if from_device {
        fill(ps, "ip", || Some(request.client_ip.to_string()));
        if absent(ps, "country") || absent(ps, "province") || absent(ps, "city") {
            let ip = ps
                .get("ip")
                .and_then(Value::as_str)
                .and_then(|s| s.trim().parse().ok());
            if let Some(ip) = ip {
                let place = sources.geo.lookup(ip);
                fill(ps, "country", || place.country.clone());
                fill(ps, "province", || place.province.clone());
                fill(ps, "city", || place.city.clone());
            }
        }
        if let Some(ua) = request.user_agent.as_deref().filter(|u| !u.is_empty()) {
            let wanted = ["os", "os_version"]
                .iter()
                .chain(if web {
                    &["browser", "browser_version"][..]
                } else {
                    &[]
                })
                .any(|k| absent(ps, k));
            if wanted {
                let agent = sources.user_agents.parse(ua);
                fill(ps, "os", || agent.os.clone());
                fill(ps, "os_version", || agent.os_version.clone());
                if web {
                    fill(ps, "browser", || agent.browser.clone());
                    fill(ps, "browser_version", || agent.browser_version.clone());
                }
            }
        }
    }
    derive_from(ps, "referrer", "referrer_host", url_parts::host);
    derive_from(ps, "url", "url_path", url_parts::path);
    if absent(ps, "lib") || absent(ps, "lib_version") {
        if let Some((lib, version)) = event.ver.as_deref().and_then(url_parts::sdk) {
            fill(ps, "lib", || Some(lib));
            fill(ps, "lib_version", || Some(version));
        }
    }
}

fn absent(ps: &Map<String, Value>, key: &str) -> bool {
    match ps.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

/// Fills `target` from the text of `source` when `target` is absent (no copy of `source`).
fn derive_from(
    ps: &mut Map<String, Value>,
    source: &str,
    target: &str,
    f: fn(&str) -> Option<String>,
) {
    if absent(ps, target) {
        if let Some(v) = ps.get(source).and_then(Value::as_str).and_then(f) {
            ps.insert(target.to_owned(), Value::String(v));
        }
    }
}

fn fill(ps: &mut Map<String, Value>, key: &str, value: impl FnOnce() -> Option<String>) {
    if absent(ps, key) {
        if let Some(v) = value() {
            ps.insert(key.to_owned(), Value::String(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::EnrichConfig;
    use crate::pipeline::normalize::normalize;
    use serde_json::json;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    fn sources() -> Enrichers {
        Enrichers::new(&EnrichConfig::default()).unwrap()
    }

    fn request() -> RequestContext {
        RequestContext {
            client_ip: "180.12.43.42".parse().unwrap(),
            user_agent: Some(CHROME.into()),
        }
    }

    fn track(ps: Value) -> Event {
        normalize(
            json!({"stype": 100, "eid": "pageview", "project": "p", "ver": "js1.1.0", "ps": ps}),
            1,
        )
        .unwrap()
    }

    #[test]
    fn a_web_event_gets_ip_os_browser_and_url_parts() {
        let mut ev = track(
            json!({"ct": 100, "url": "https://x.example/course/1?a=b", "referrer": "https://www.baidu.com/s?wd=x"}),
        );
        enrich(&mut ev, &request(), &sources());
        let ps = &ev.ps;
        assert_eq!(ps["ip"], "180.12.43.42");
        assert_eq!(ps["os"], "Windows 10");
        assert_eq!(ps["browser"], "Chrome");
        assert_eq!(ps["browser_version"], "120.0.0.0");
        assert_eq!(ps["referrer_host"], "www.baidu.com");
        assert_eq!(ps["url_path"], "/course/1");
        assert_eq!(
            (&ps["lib"], &ps["lib_version"]),
            (&json!("js"), &json!("1.1.0"))
        );
        assert!(
            ps.get("country").is_none(),
            "no GeoIP database configured here"
        );
    }

    #[test]
    fn client_values_are_never_overwritten_but_empty_ones_are_filled() {
        let mut ev = track(
            json!({"ct": 100, "ip": "81.2.69.160", "os": "MyOS", "browser": "", "lib": "web", "url_path": "/x", "url": "/y"}),
        );
        enrich(&mut ev, &request(), &sources());
        assert_eq!(ev.ps["ip"], "81.2.69.160");
        assert_eq!(ev.ps["os"], "MyOS");
        assert_eq!(
            ev.ps["browser"], "Chrome",
            "an empty string counts as absent"
        );
        assert_eq!(ev.ps["lib"], "web");
        assert_eq!(ev.ps["lib_version"], "1.1.0");
        assert_eq!(ev.ps["url_path"], "/x");
    }

    #[test]
    fn apps_get_os_but_no_browser_and_servers_get_nothing_from_the_request() {
        let mut app = track(json!({"ct": 200}));
        enrich(&mut app, &request(), &sources());
        assert_eq!(app.ps["ip"], "180.12.43.42");
        assert!(app.ps.contains_key("os"));
        assert!(
            !app.ps.contains_key("browser"),
            "browser only for ct 100..=199"
        );

        for ps in [json!({"ct": 1}), json!({})] {
            let mut server = track(ps);
            enrich(&mut server, &request(), &sources());
            for key in ["ip", "os", "browser", "country"] {
                assert!(
                    !server.ps.contains_key(key),
                    "{key} filled for a server event"
                );
            }
            assert_eq!(
                server.ps["lib"], "js",
                "ver-derived fields do not depend on ct"
            );
        }
    }

    #[test]
    fn profile_messages_are_left_alone() {
        let mut ev = normalize(
            json!({"stype": 101, "project": "p", "ver": "js1.0", "ps": {"ct": 100}}),
            1,
        )
        .unwrap();
        enrich(&mut ev, &request(), &sources());
        assert_eq!(ev.ps, *json!({"ct": 100}).as_object().unwrap());
    }
}
