//! Derived events (tracking plan §3.3.4): the first_referrer profile_insert.
//!
//! A track event whose `first_referrer` and `referrer` are both non-empty and equal is the user's
//! arrival from outside the site: slog also emits a profile_insert (stype 102, insert-if-absent)
//! for the same user with `first_referrer`, `first_referrer_host` and `first_visit_time` (the
//! event's time), routed to the users topic like any profile message.
use crate::enrich::url_parts;
use crate::event::{Event, MessageKind};
use serde_json::{Map, Value};
use uuid::Uuid;

pub fn first_referrer_profile(event: &Event) -> Option<Event> {
    if event.kind != MessageKind::Track {
        return None;
    }
    let first = event
        .ps
        .get("first_referrer")?
        .as_str()
        .filter(|s| !s.is_empty())?;
    let referrer = event.ps.get("referrer")?.as_str()?;
    if first != referrer {
        return None;
    }
    let mut ps = Map::new();
    ps.insert("first_referrer".into(), Value::String(first.to_owned()));
    if let Some(host) = url_parts::host(first) {
        ps.insert("first_referrer_host".into(), Value::String(host));
    }
    ps.insert("first_visit_time".into(), Value::from(event.time));
    Some(Event {
        event_id: Uuid::now_v7(),
        kind: MessageKind::ProfileInsert,
        eid: None,
        client_time: None,
        ps,
        // The SDK's id names the track event, not this profile message slog made from it.
        client_event_id: None,
        ..event.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::normalize::normalize;
    use serde_json::json;

    fn track(ps: Value) -> Event {
        normalize(
            json!({"stype": 100, "eid": "pageview", "project": "zhibo", "ps": ps,
                         "uidentity": {"deviceUUID": "d-1"}}),
            1_764_000_000_000,
        )
        .unwrap()
    }

    #[test]
    fn a_first_visit_yields_a_profile_insert_for_the_same_user() {
        let ev = track(
            json!({"referrer": "https://www.baidu.com/s?wd=x", "first_referrer": "https://www.baidu.com/s?wd=x", "url": "/a"}),
        );
        let p = first_referrer_profile(&ev).expect("derived");
        assert_eq!(p.kind, MessageKind::ProfileInsert);
        assert_eq!(p.kind.stype(), 102);
        assert_ne!(p.event_id, ev.event_id);
        assert_eq!(p.uidentity, ev.uidentity);
        assert_eq!(p.project, "zhibo");
        assert_eq!(p.eid, None);
        assert_eq!(
            Value::Object(p.ps),
            json!({"first_referrer": "https://www.baidu.com/s?wd=x",
            "first_referrer_host": "www.baidu.com", "first_visit_time": 1_764_000_000_000_i64})
        );
    }

    #[test]
    fn later_visits_and_direct_visits_yield_nothing() {
        let later = track(
            json!({"referrer": "https://x.example/a", "first_referrer": "https://www.baidu.com/"}),
        );
        assert!(first_referrer_profile(&later).is_none());
        let direct = track(json!({"referrer": "", "first_referrer": ""}));
        assert!(first_referrer_profile(&direct).is_none());
        assert!(first_referrer_profile(&track(json!({}))).is_none());
    }
}
