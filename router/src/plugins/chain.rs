//! A plugin chain: the plugins of one plugins.toml version, in order, and the hooks they run on
//! an event. The handler takes one chain per request, so a batch never straddles two versions.
//!
//! Before identity resolution each selected plugin runs validate → transform → identify; after
//! it, derive → session. A failed call (trap, timeout, memory overrun, malformed answer) follows
//! the plugin's policy: `fail_open` leaves the event as it was, `fail_closed` refuses it.
use super::bindings::types;
use super::instance::{CallError, Runtime};
use super::manifest::{FailurePolicy, PluginEntry};
use super::sessions::{SessionEntry, SessionKey, SessionTxn};
use crate::error::{Code, Rejection};
use crate::event::{Event, MessageKind, TimeSource, UuidSource};
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// One plugin in a chain: its plugins.toml entry and its running version.
pub struct ChainPlugin {
    pub entry: PluginEntry,
    pub runtime: Arc<Runtime>,
}

impl ChainPlugin {
    fn has(&self, hook: types::HookSet) -> bool {
        self.runtime.info.hooks.contains(hook)
    }

    /// The properties this plugin is handed: the ones it declared, unless it transforms.
    pub fn reads(&self) -> Option<&[String]> {
        if self.has(types::HookSet::TRANSFORM) {
            return None;
        }
        self.runtime.info.props.as_deref()
    }
}

/// The plugins that run on every event, in order.
pub struct Chain {
    plugins: Vec<ChainPlugin>,
    /// Counts successful loads; 0 is the empty chain slog starts with.
    pub version: u64,
}

impl Chain {
    /// No plugins: every hook stage is a no-op.
    pub fn empty() -> Self {
        Self::new(Vec::new(), 0)
    }

    pub fn new(plugins: Vec<ChainPlugin>, version: u64) -> Self {
        Chain { plugins, version }
    }

    /// Whether any plugin of the chain has the session hook.
    pub fn has_sessions(&self) -> bool {
        self.plugins.iter().any(|p| p.has(types::HookSet::SESSION))
    }

    /// The sessions `event` steps: one per selected plugin with the session hook, for the
    /// event's user. An event without identities has none.
    pub fn session_keys(&self, event: &Event) -> Vec<SessionKey> {
        let Some(user) = event.partition_key() else {
            return Vec::new();
        };
        self.selected(event)
            .into_iter()
            .filter(|p| p.has(types::HookSet::SESSION))
            .map(|p| SessionKey::new(&p.runtime.name, &user))
            .collect()
    }

    pub fn plugins(&self) -> &[ChainPlugin] {
        &self.plugins
    }

    /// The plugins whose entry selects this event's project and name.
    fn selected(&self, event: &Event) -> Vec<&ChainPlugin> {
        self.plugins
            .iter()
            .filter(|p| p.entry.selects(&event.project, event.eid.as_deref()))
            .collect()
    }

    /// validate → transform → identify, plugin by plugin. A refusal (by the plugin, or a
    /// fail_closed failure) is the event's rejection.
    pub fn before_identity(&self, event: &mut Event) -> Result<(), Rejection> {
        let mut view = View::default();
        for plugin in self.selected(event) {
            let name = &*plugin.runtime.name;
            if plugin.has(types::HookSet::VALIDATE) {
                let wit = view.get(event, plugin.reads());
                match plugin.runtime.call(|h, s| h.call_validate(s, wit)) {
                    Ok(Ok(())) => {}
                    Ok(Err(refusal)) => {
                        return Err(Rejection::new(
                            Code::PluginRejected,
                            refusal.field.as_deref(),
                            format!("plugin `{name}`: {}", refusal.message),
                        ))
                    }
                    Err(e) => failure(plugin, "validate", e)?,
                }
            }
            if plugin.has(types::HookSet::TRANSFORM) {
                let wit = view.get(event, plugin.reads());
                let answer = plugin.runtime.call(|h, s| h.call_transform(s, wit));
                match answer.and_then(|props| props.map(|p| json_object(&p)).transpose()) {
                    Ok(Some(props)) => {
                        event.ps = props;
                        view.stale();
                    }
                    Ok(None) => {}
                    Err(e) => failure(plugin, "transform", e)?,
                }
            }
            if plugin.has(types::HookSet::IDENTIFY) {
                let wit = view.get(event, plugin.reads());
                match plugin.runtime.call(|h, s| h.call_identify(s, wit)) {
                    Ok(identities) => {
                        for (key, value) in identities {
                            if !key.is_empty()
                                && !value.is_empty()
                                && !event.uidentity.contains_key(&key)
                            {
                                event.uidentity.insert(key, Value::String(value));
                                view.stale();
                            }
                        }
                    }
                    Err(e) => failure(plugin, "identify", e)?,
                }
            }
        }
        Ok(())
    }

    /// derive → session, plugin by plugin: the virtual events to route with this one. Session
    /// steps read and write `sessions`, the request's view of the session store.
    pub fn after_identity(
        &self,
        event: &mut Event,
        sessions: &mut SessionTxn,
    ) -> Result<Vec<Event>, Rejection> {
        let mut derived = Vec::new();
        let mut view = View::default();
        for plugin in self.selected(event) {
            let name = &*plugin.runtime.name;
            if plugin.has(types::HookSet::DERIVE) {
                let wit = view.get(event, plugin.reads());
                let answer = plugin.runtime.call(|h, s| h.call_derive(s, wit));
                match answer.and_then(|vs| virtual_events(name, &Source::of(event), vs)) {
                    Ok(events) => derived.extend(events),
                    Err(e) => failure(plugin, "derive", e)?,
                }
            }
            if plugin.has(types::HookSet::SESSION) {
                let Some(user) = event.partition_key() else {
                    continue;
                };
                let state = sessions.state(name, &user);
                let wit = view.get(event, plugin.reads());
                let answer = plugin.runtime.call(|h, s| h.call_session(s, wit, state));
                let step = answer.and_then(|step| {
                    let props = json_object(&step.set_props)?;
                    let events = virtual_events(name, &Source::of(event), step.emit)?;
                    Ok((step.state, step.expires_at, props, events))
                });
                match step {
                    Ok((state, expires_at, props, events)) => {
                        let entry = SessionEntry {
                            state,
                            expires_at,
                            project: event.project.clone(),
                            sid: event.sid.clone(),
                            uidentity: event.uidentity.clone(),
                        };
                        sessions.put(name, &user, entry);
                        if !props.is_empty() {
                            event.ps.extend(props);
                            view.stale();
                        }
                        derived.extend(events);
                    }
                    Err(e) => failure(plugin, "session", e)?,
                }
            }
        }
        Ok(derived)
    }

    /// The events closing sessions that expired (the host's sweeper), by plugins of this chain;
    /// sessions of plugins no longer in the chain close without events.
    pub fn close_sessions(&self, expired: Vec<(String, SessionEntry)>, now: i64) -> Vec<Event> {
        let mut events = Vec::new();
        for (name, entry) in expired {
            let Some(plugin) = self
                .plugins
                .iter()
                .find(|p| *p.runtime.name == *name && p.has(types::HookSet::SESSION))
            else {
                tracing::info!(plugin = %name, "session expired after its plugin was removed; no closing events");
                continue;
            };
            let source = Source {
                project: &entry.project,
                sid: entry.sid.as_deref(),
                uidentity: &entry.uidentity,
                received_at: now,
                time: entry.expires_at,
                time_source: TimeSource::Server,
                // The session's user was resolved when the session was opened.
                uuid_source: None,
            };
            let answer = plugin
                .runtime
                .call(|h, s| h.call_session_close(s, &entry.state))
                .and_then(|vs| virtual_events(&name, &source, vs));
            match answer {
                Ok(closing) => events.extend(closing),
                // Nothing to refuse here: the failure is counted and the session is gone.
                Err(e) => {
                    let _ = failure(plugin, "session_close", e);
                }
            }
        }
        events
    }
}

/// The event in WIT form. With all properties it is built once per stage and rebuilt only after
/// a hook changed the event; with the few properties a plugin declared, it is built per call
/// (a handful of lookups, far cheaper than serialising every property).
#[derive(Default)]
struct View {
    full: Option<types::Event>,
    partial: Option<types::Event>,
}

impl View {
    fn get(&mut self, event: &Event, reads: Option<&[String]>) -> &types::Event {
        match reads {
            None => self.full.get_or_insert_with(|| to_wit(event, None)),
            Some(keys) => self.partial.insert(to_wit(event, Some(keys))),
        }
    }

    fn stale(&mut self) {
        self.full = None;
    }
}

fn to_wit(event: &Event, reads: Option<&[String]>) -> types::Event {
    let props = match reads {
        None => serde_json::to_string(&event.ps),
        Some(keys) => {
            let subset: Map<String, Value> = keys
                .iter()
                .filter_map(|k| event.ps.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            serde_json::to_string(&subset)
        }
    };
    types::Event {
        event_id: event.event_id.to_string(),
        project: event.project.clone(),
        stype: event.kind.stype(),
        eid: event.eid.clone(),
        time: event.time,
        props: props.unwrap_or_else(|_| "{}".into()),
        identities: event
            .uidentity
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                _ => None,
            })
            .collect(),
    }
}

/// Counts and logs a failed call, and applies the plugin's policy.
fn failure(plugin: &ChainPlugin, hook: &'static str, error: CallError) -> Result<(), Rejection> {
    let name = &*plugin.runtime.name;
    metrics::counter!("slog_plugin_failures_total",
        "plugin" => name.to_owned(), "hook" => hook, "kind" => error.kind())
    .increment(1);
    tracing::warn!(plugin = name, hook, policy = ?plugin.entry.policy, error = %error, "plugin call failed");
    match plugin.entry.policy {
        FailurePolicy::FailOpen => Ok(()),
        FailurePolicy::FailClosed => Err(Rejection::request(
            Code::PluginFailed,
            format!("plugin `{name}` failed in {hook}: {error}"),
        )),
    }
}

fn json_object(text: &str) -> Result<Map<String, Value>, CallError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(CallError::Answer(format!(
            "expected a JSON object of properties, got {:.80}",
            text
        ))),
    }
}

/// What a virtual event inherits from the event (or session) that caused it.
struct Source<'a> {
    project: &'a str,
    sid: Option<&'a str>,
    uidentity: &'a Map<String, Value>,
    received_at: i64,
    time: i64,
    time_source: TimeSource,
    /// How the source's uuid was obtained; a virtual event's uuid is its source's.
    uuid_source: Option<UuidSource>,
}

impl<'a> Source<'a> {
    fn of(event: &'a Event) -> Self {
        Source {
            project: &event.project,
            sid: event.sid.as_deref(),
            uidentity: &event.uidentity,
            received_at: event.received_at,
            time: event.time,
            time_source: event.time_source,
            uuid_source: event.uuid_source,
        }
    }
}

/// Virtual events as track events of the source's project and user, marked with the plugin.
fn virtual_events(
    plugin: &str,
    source: &Source<'_>,
    emitted: Vec<types::VirtualEvent>,
) -> Result<Vec<Event>, CallError> {
    emitted
        .into_iter()
        .map(|v| {
            if v.eid.is_empty() || v.eid.len() > 64 {
                return Err(CallError::Answer(format!(
                    "a virtual event needs a name of 1-64 characters, got {:?}",
                    v.eid
                )));
            }
            Ok(Event {
                event_id: Uuid::now_v7(),
                received_at: source.received_at,
                time: v.time.unwrap_or(source.time),
                time_source: source.time_source,
                client_time: None,
                kind: MessageKind::Track,
                eid: Some(v.eid),
                project: source.project.to_owned(),
                sid: source.sid.map(str::to_owned),
                ver: None,
                ps: json_object(&v.props)?,
                uidentity: source.uidentity.clone(),
                uuid_source: source.uuid_source,
                derived_by: Some(plugin.to_owned()),
                wire: None,
                client_event_id: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::normalize::normalize;
    use serde_json::json;

    fn event() -> Event {
        normalize(
            json!({"stype": 100, "eid": "pageview", "project": "zhibo", "sid": "s1",
                   "ps": {"a": 1}, "uidentity": {"userid": 42, "deviceUUID": "d-1"}}),
            1_000,
        )
        .unwrap()
    }

    #[test]
    fn plugins_see_identities_as_text_and_props_as_json() {
        let wit = to_wit(&event(), None);
        assert_eq!(wit.props, r#"{"a":1}"#);
        assert_eq!(to_wit(&event(), Some(&["b".into()])).props, "{}");
        assert_eq!(
            wit.identities,
            [
                ("userid".into(), "42".into()),
                ("deviceUUID".into(), "d-1".into())
            ]
        );
        assert_eq!(wit.eid.as_deref(), Some("pageview"));
    }

    #[test]
    fn virtual_events_are_track_events_of_the_same_user_marked_with_their_plugin() {
        let source = event();
        let emitted = vec![
            types::VirtualEvent {
                eid: "newUser".into(),
                props: r#"{"x":true}"#.into(),
                time: None,
            },
            types::VirtualEvent {
                eid: "later".into(),
                props: "{}".into(),
                time: Some(5_000),
            },
        ];
        let events = virtual_events("newuser", &Source::of(&source), emitted).unwrap();
        assert_eq!(events[0].kind, MessageKind::Track);
        assert_eq!(events[0].derived_by.as_deref(), Some("newuser"));
        assert_eq!(events[0].uidentity, source.uidentity);
        assert_eq!(events[0].sid.as_deref(), Some("s1"));
        assert_eq!(events[0].time, source.time);
        assert_eq!(events[0].ps, *json!({"x": true}).as_object().unwrap());
        assert_ne!(events[0].event_id, source.event_id);
        assert_eq!(events[1].time, 5_000);
    }

    #[test]
    fn unusable_answers_are_failures_not_events() {
        let source = event();
        let nameless = vec![types::VirtualEvent {
            eid: String::new(),
            props: "{}".into(),
            time: None,
        }];
        let err = virtual_events("p", &Source::of(&source), nameless).unwrap_err();
        assert_eq!(err.kind(), "invalid_answer");
        assert!(json_object("[1, 2]").is_err());
        assert!(json_object("not json").is_err());
    }

    #[test]
    fn the_empty_chain_leaves_events_alone() {
        let chain = Chain::empty();
        let mut e = event();
        let before = e.clone();
        chain.before_identity(&mut e).unwrap();
        let mut sessions = SessionTxn::default();
        assert!(chain
            .after_identity(&mut e, &mut sessions)
            .unwrap()
            .is_empty());
        assert!(sessions.is_empty());
        assert_eq!(e, before);
    }
}
