//! Seed §5.2: sessions. Every event of a user gets `ps.session_id`; a session ends after
//! `timeout_secs` (default 1800, the usual 30 minutes) without events from the user, and its end
//! emits `sessionSummary` with the pages viewed (`page_events`, default `["pageview"]`), the
//! events, the start, end and duration. slog keeps the state between events (and closes
//! sessions whose user never comes back).
use slog_plugin_sdk::{export, Event, Hook, Plugin, SessionStep, Settings, VirtualEvent};

pub struct Session {
    timeout_ms: i64,
    page_events: Vec<String>,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            timeout_ms: 1800 * 1000,
            page_events: vec!["pageview".into()],
        }
    }
}

/// What is kept per user between events.
struct Visit {
    id: String,
    start: i64,
    last: i64,
    pages: u64,
    events: u64,
}

impl Visit {
    /// The state is `id start last pages events`, space separated: it is parsed and written on
    /// every event of the user, and this is much cheaper than JSON inside the sandbox.
    fn parse(state: &str) -> Option<Visit> {
        let mut parts = state.split(' ');
        let visit = Visit {
            id: parts.next()?.to_owned(),
            start: parts.next()?.parse().ok()?,
            last: parts.next()?.parse().ok()?,
            pages: parts.next()?.parse().ok()?,
            events: parts.next()?.parse().ok()?,
        };
        (parts.next().is_none() && !visit.id.is_empty()).then_some(visit)
    }

    fn state(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.id, self.start, self.last, self.pages, self.events
        )
    }

    fn summary(&self) -> VirtualEvent {
        VirtualEvent::new("sessionSummary")
            .prop("session_id", self.id.as_str())
            .prop("start_time", self.start)
            .prop("end_time", self.last)
            .prop("duration_ms", self.last - self.start)
            .prop("pages", self.pages)
            .prop("events", self.events)
            .at(self.last)
    }
}

impl Plugin for Session {
    const HOOKS: &'static [Hook] = &[Hook::Session];
    const PROPS: Option<&'static [&'static str]> = Some(&[]);

    fn init(&mut self, settings: &Settings) -> Result<(), String> {
        settings.only(&["timeout_secs", "page_events"])?;
        let secs = settings.u64_or("timeout_secs", 1800)?;
        if secs == 0 {
            return Err("setting `timeout_secs` must be at least 1".into());
        }
        self.timeout_ms = secs as i64 * 1000;
        self.page_events = settings.strings_or("page_events", &["pageview"])?;
        Ok(())
    }

    fn session(&self, event: &Event, state: Option<&str>) -> SessionStep {
        let is_page = event
            .eid()
            .is_some_and(|e| self.page_events.iter().any(|p| p == e)) as u64;
        let mut emit = Vec::new();
        let visit = match state.and_then(Visit::parse) {
            Some(mut v) if event.time - v.last <= self.timeout_ms => {
                v.last = v.last.max(event.time);
                v.pages += is_page;
                v.events += 1;
                v
            }
            previous => {
                emit.extend(previous.map(|v| v.summary()));
                Visit {
                    id: event.event_id.clone(),
                    start: event.time,
                    last: event.time,
                    pages: is_page,
                    events: 1,
                }
            }
        };
        let mut set_props = slog_plugin_sdk::Map::new();
        set_props.insert("session_id".into(), visit.id.as_str().into());
        SessionStep {
            state: visit.state(),
            expires_at: visit.last + self.timeout_ms,
            set_props,
            emit,
        }
    }

    fn session_close(&self, state: &str) -> Vec<VirtualEvent> {
        Visit::parse(state)
            .map(|v| v.summary())
            .into_iter()
            .collect()
    }
}

export!(Session);

#[cfg(test)]
mod tests {
    use super::*;
    use slog_plugin_sdk::json;

    fn event(id: &str, eid: &str, time: i64) -> Event {
        let mut e = Event::track(eid, json!({})).at(time);
        e.event_id = id.into();
        e
    }

    #[test]
    fn a_visit_counts_pages_and_a_gap_closes_it() {
        let s = Session::default();
        let first = s.session(&event("e1", "pageview", 0), None);
        assert_eq!(first.set_props["session_id"], "e1");
        assert_eq!(first.expires_at, 1_800_000);
        let second = s.session(&event("e2", "click", 60_000), Some(&first.state));
        let third = s.session(&event("e3", "pageview", 120_000), Some(&second.state));
        assert_eq!(third.set_props["session_id"], "e1");
        assert!(third.emit.is_empty());

        let later = s.session(
            &event("e4", "pageview", 120_000 + 1_800_001),
            Some(&third.state),
        );
        assert_eq!(later.set_props["session_id"], "e4");
        let summary = &later.emit[0];
        assert_eq!(summary.eid, "sessionSummary");
        assert_eq!(summary.props["pages"], 2);
        assert_eq!(summary.props["events"], 3);
        assert_eq!(summary.props["duration_ms"], 120_000);
        assert_eq!(summary.time, Some(120_000));
    }

    #[test]
    fn closing_an_expired_session_emits_its_summary() {
        let s = Session::default();
        let step = s.session(&event("e1", "pageview", 5), None);
        let closed = s.session_close(&step.state);
        assert_eq!(closed[0].props["session_id"], "e1");
        assert!(s.session_close("not a state").is_empty());
    }
}
