//! Validation against the registry (tracking plan §3.2, §3.3): every event name and key must be declared.
//!
//! - track: `eid` must be registered for the event's project or as a common event.
//! - `ps` keys: event properties for track, profile properties for profile_* messages.
//! - `uidentity` keys: identity properties; `uuid` is always allowed (it is what slog fills).
//! - Values must match their `value_type`; profile_append values are arrays of such values;
//!   profile_unset names keys only, so its values are not checked; profile_increment needs a
//!   property registered as int or double.
//! - Unknown names are handled by the project's [`Policy`]; a type mismatch is always refused.
//!
//! Reads only the in-memory snapshot: no I/O per event.
use crate::error::{Code, Rejection};
use crate::event::{Event, MessageKind};
use crate::metadata::Policy;
use crate::metadata::{AutoRegistration, PropertyKind, Snapshot, ValueType};
use serde_json::Value;

/// What validation found in an event it let through.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// Unknown names accepted under the `lenient` policy.
    pub warnings: Vec<Rejection>,
    /// Unknown names to register under the `register` policy.
    pub to_register: Vec<AutoRegistration>,
}

/// An unknown name found in the event.
struct Unknown {
    field: String,
    code: Code,
    register: Option<AutoRegistration>,
    inferred_type: Option<ValueType>,
}

pub fn validate(event: &Event, registry: &Snapshot, policy: Policy) -> Result<Findings, Rejection> {
    let mut unknown = Vec::new();
    if event.kind == MessageKind::Track {
        let eid = event.eid.as_deref().unwrap_or_default();
        if registry.event(&event.project, eid).is_none() {
            unknown.push(Unknown {
                field: "eid".into(),
                code: Code::UnregisteredEvent,
                register: Some(AutoRegistration::Event {
                    project: event.project.clone(),
                    id: eid.to_owned(),
                }),
                inferred_type: Some(ValueType::String),
            });
        }
    }
    let ps_kind = if event.kind.is_profile() {
        PropertyKind::Profile
    } else {
        PropertyKind::Event
    };
    for (key, value) in &event.ps {
        check_value(
            registry,
            ps_kind,
            "ps",
            key,
            value,
            event.kind,
            &mut unknown,
        )?;
    }
    for (key, value) in &event.uidentity {
        if key == "uuid" {
            continue;
        }
        check_value(
            registry,
            PropertyKind::Identity,
            "uidentity",
            key,
            value,
            MessageKind::Track,
            &mut unknown,
        )?;
    }
    if unknown.is_empty() {
        return Ok(Findings::default());
    }
    match policy {
        Policy::Strict => Err(strict_rejection(event, registry, &unknown)),
        Policy::Lenient => Ok(Findings {
            warnings: unknown
                .iter()
                .map(|u| Rejection::field(u.code, &u.field, unknown_message(event, registry, u)))
                .collect(),
            to_register: Vec::new(),
        }),
        Policy::Register => {
            if let Some(u) = unknown.iter().find(|u| u.inferred_type.is_none()) {
                return Err(Rejection::field(
                    Code::TypeMismatch,
                    &u.field,
                    format!("{} is not registered and its value (null, object or array) has no type to register it with", u.field),
                ));
            }
            Ok(Findings {
                warnings: Vec::new(),
                to_register: unknown.into_iter().filter_map(|u| u.register).collect(),
            })
        }
    }
}

/// Checks one key: unknown keys are collected, a known key with a wrong value is refused.
fn check_value(
    registry: &Snapshot,
    kind: PropertyKind,
    prefix: &str,
    key: &str,
    value: &Value,
    message: MessageKind,
    unknown: &mut Vec<Unknown>,
) -> Result<(), Rejection> {
    // The field name is built only when there is something to report: valid keys allocate nothing.
    let field = || format!("{prefix}.{key}");
    let Some(def) = registry.property(kind, key) else {
        let inferred = match (message, value) {
            (MessageKind::ProfileUnset, _) => Some(ValueType::String),
            (MessageKind::ProfileIncrement, v) if v.is_i64() || v.is_u64() => Some(ValueType::Int),
            (MessageKind::ProfileIncrement, _) => Some(ValueType::Double),
            (MessageKind::ProfileAppend, Value::Array(items)) => {
                items.first().and_then(ValueType::infer)
            }
            (_, v) => ValueType::infer(v),
        };
        unknown.push(Unknown {
            field: field(),
            code: Code::UnknownProperty,
            register: inferred.map(|value_type| AutoRegistration::Property {
                kind,
                key: key.to_owned(),
                value_type,
            }),
            inferred_type: inferred,
        });
        return Ok(());
    };
    let t = def.value_type;
    // Identity values reach validation as text (normalisation turned integers into their
    // decimal text), whatever type the identity key was registered with.
    let ok = (kind == PropertyKind::Identity && value.is_string())
        || match message {
            MessageKind::ProfileUnset => true,
            MessageKind::ProfileIncrement => {
                matches!(t, ValueType::Int | ValueType::Double) && t.accepts(value)
            }
            MessageKind::ProfileAppend => value
                .as_array()
                .is_some_and(|items| items.iter().all(|v| t.accepts(v))),
            _ => t.accepts(value),
        };
    if ok {
        return Ok(());
    }
    let expected = match message {
        MessageKind::ProfileAppend => format!("an array of {} values (profile_append)", t.name()),
        MessageKind::ProfileIncrement => format!("{} (profile_increment needs a number)", t.name()),
        _ => t.name().to_owned(),
    };
    let field = field();
    Err(Rejection::field(
        Code::TypeMismatch,
        &field,
        format!("{field} is registered as {expected}, got {value}"),
    ))
}

fn unknown_message(event: &Event, registry: &Snapshot, u: &Unknown) -> String {
    if u.code == Code::UnregisteredEvent {
        let eid = event.eid.as_deref().unwrap_or_default();
        return match registry.event_exists(eid).and_then(|e| e.project.clone()) {
            Some(other) => format!(
                "event `{eid}` is registered for project `{other}`, not `{}`",
                event.project
            ),
            None => format!("event `{eid}` is not registered (POST /admin/events)"),
        };
    }
    let table = if u.field.starts_with("uidentity.") {
        "identity-properties"
    } else if event.kind.is_profile() {
        "profile-properties"
    } else {
        "event-properties"
    };
    format!(
        "{} is not a registered property (POST /admin/{table})",
        u.field
    )
}

/// One refusal naming the first unknown name in `field` and every unknown name in the message.
fn strict_rejection(event: &Event, registry: &Snapshot, unknown: &[Unknown]) -> Rejection {
    let first = &unknown[0];
    let mut message = unknown_message(event, registry, first);
    if unknown.len() > 1 {
        let all: Vec<&str> = unknown.iter().map(|u| u.field.as_str()).collect();
        message.push_str(&format!("; all unregistered: {}", all.join(", ")));
    }
    Rejection::field(first.code, &first.field, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{EventDef, PropertyDef};
    use crate::pipeline::normalize::normalize;
    use serde_json::json;

    fn registry() -> Snapshot {
        let event = |id: &str, project| EventDef::custom(id, id, project, true, "t");
        let prop = |kind, key: &str, t| (kind, PropertyDef::custom(key, key, t, "t"));
        Snapshot::new(
            1,
            vec![event("pageview", None), event("buyCourse", Some("zhibo"))],
            vec![
                prop(PropertyKind::Event, "url", ValueType::String),
                prop(PropertyKind::Event, "money", ValueType::Int),
                prop(PropertyKind::Event, "price", ValueType::Double),
                prop(PropertyKind::Event, "paid_at", ValueType::Datetime),
                prop(PropertyKind::Event, "wifi", ValueType::Bool),
                prop(PropertyKind::Identity, "mobile", ValueType::String),
                prop(PropertyKind::Profile, "name", ValueType::String),
                prop(PropertyKind::Profile, "tags", ValueType::String),
            ],
        )
    }

    fn event(v: Value) -> Event {
        normalize(v, 1_764_000_000_000).unwrap()
    }

    fn track(eid: &str, project: &str, ps: Value) -> Event {
        event(
            json!({"stype": 100, "eid": eid, "project": project, "ps": ps, "uidentity": {"uuid": "u", "mobile": "138"}}),
        )
    }

    #[test]
    fn registered_events_and_well_typed_properties_pass() {
        let ev = track(
            "buyCourse",
            "zhibo",
            json!({"url": "/a", "money": 199, "price": 9.5, "paid_at": "2019-04-28 13:51:08", "wifi": true}),
        );
        assert_eq!(
            validate(&ev, &registry(), Policy::Strict),
            Ok(Findings::default())
        );
        let common = track("pageview", "any", json!({"price": 10}));
        assert!(
            validate(&common, &registry(), Policy::Strict).is_ok(),
            "ints are valid doubles"
        );
    }

    #[test]
    fn strict_refuses_unknown_names_naming_the_first_and_listing_all() {
        let r = validate(
            &track("buyCourse", "other", json!({})),
            &registry(),
            Policy::Strict,
        )
        .unwrap_err();
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::UnregisteredEvent, Some("eid"))
        );
        assert!(
            r.message.contains("registered for project `zhibo`"),
            "{}",
            r.message
        );

        let r = validate(
            &track(
                "pageview",
                "p",
                json!({"url": "/", "teacher": "x", "room": 1}),
            ),
            &registry(),
            Policy::Strict,
        )
        .unwrap_err();
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::UnknownProperty, Some("ps.teacher"))
        );
        assert!(r.message.contains("ps.teacher, ps.room"), "{}", r.message);

        let ev = event(
            json!({"stype": 100, "eid": "pageview", "project": "p", "uidentity": {"qqq": "1"}}),
        );
        let r = validate(&ev, &registry(), Policy::Strict).unwrap_err();
        assert_eq!(r.field.as_deref(), Some("uidentity.qqq"));
    }

    #[test]
    fn type_mismatches_are_refused_under_every_policy() {
        for policy in [Policy::Strict, Policy::Lenient, Policy::Register] {
            let r = validate(
                &track("pageview", "p", json!({"money": "abc"})),
                &registry(),
                policy,
            )
            .unwrap_err();
            assert_eq!(
                (r.code, r.field.as_deref()),
                (Code::TypeMismatch, Some("ps.money")),
                "{policy:?}"
            );
            assert!(r.message.contains("int"), "{}", r.message);
        }
        let r = validate(
            &track("pageview", "p", json!({"wifi": 1})),
            &registry(),
            Policy::Lenient,
        )
        .unwrap_err();
        assert_eq!(r.code, Code::TypeMismatch);
        let r = validate(
            &track("pageview", "p", json!({"paid_at": "yesterday"})),
            &registry(),
            Policy::Strict,
        )
        .unwrap_err();
        assert_eq!(r.field.as_deref(), Some("ps.paid_at"));
    }

    #[test]
    fn lenient_accepts_with_one_warning_per_unknown_name() {
        let f = validate(
            &track("mystery", "p", json!({"teacher": "x"})),
            &registry(),
            Policy::Lenient,
        )
        .unwrap();
        let fields: Vec<_> = f
            .warnings
            .iter()
            .map(|w| (w.code, w.field.clone().unwrap()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (Code::UnregisteredEvent, "eid".into()),
                (Code::UnknownProperty, "ps.teacher".into())
            ]
        );
        assert!(f.to_register.is_empty());
    }

    #[test]
    fn register_collects_unknown_names_with_inferred_types() {
        let f = validate(
            &track(
                "mystery",
                "p",
                json!({"teacher": "x", "seats": 3, "ratio": 0.5, "live": true}),
            ),
            &registry(),
            Policy::Register,
        )
        .unwrap();
        assert!(f.warnings.is_empty());
        assert_eq!(
            f.to_register,
            vec![
                AutoRegistration::Event {
                    project: "p".into(),
                    id: "mystery".into()
                },
                AutoRegistration::Property {
                    kind: PropertyKind::Event,
                    key: "teacher".into(),
                    value_type: ValueType::String
                },
                AutoRegistration::Property {
                    kind: PropertyKind::Event,
                    key: "seats".into(),
                    value_type: ValueType::Int
                },
                AutoRegistration::Property {
                    kind: PropertyKind::Event,
                    key: "ratio".into(),
                    value_type: ValueType::Double
                },
                AutoRegistration::Property {
                    kind: PropertyKind::Event,
                    key: "live".into(),
                    value_type: ValueType::Bool
                },
            ]
        );
        let r = validate(
            &track("pageview", "p", json!({"blob": {"a": 1}})),
            &registry(),
            Policy::Register,
        )
        .unwrap_err();
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::TypeMismatch, Some("ps.blob"))
        );
    }

    #[test]
    fn profile_messages_check_profile_properties_with_their_own_value_rules() {
        let profile = |stype: i64, ps: Value| {
            event(json!({"stype": stype, "project": "p", "ps": ps, "uidentity": {"mobile": "1"}}))
        };
        assert!(validate(
            &profile(101, json!({"name": "Li"})),
            &registry(),
            Policy::Strict
        )
        .is_ok());
        let r = validate(
            &profile(101, json!({"url": "/"})),
            &registry(),
            Policy::Strict,
        )
        .unwrap_err();
        assert_eq!(
            r.field.as_deref(),
            Some("ps.url"),
            "event properties are not profile properties"
        );
        assert!(
            validate(
                &profile(103, json!({"name": null})),
                &registry(),
                Policy::Strict
            )
            .is_ok(),
            "unset names keys only"
        );
        assert!(validate(
            &profile(104, json!({"tags": ["a", "b"]})),
            &registry(),
            Policy::Strict
        )
        .is_ok());
        let r = validate(
            &profile(104, json!({"tags": "a"})),
            &registry(),
            Policy::Strict,
        )
        .unwrap_err();
        assert_eq!(r.code, Code::TypeMismatch);
        assert!(r.message.contains("array"), "{}", r.message);
    }
}
