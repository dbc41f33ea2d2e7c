//! What hooks give back: refusals, virtual events, session steps.
use serde_json::{Map, Value};

/// A refusal from `validate`: slog answers 400 `plugin_rejected` and dead-letters the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The offending field as a dotted path (`ps.money`), when one is at fault.
    pub field: Option<String>,
    pub message: String,
}

impl Reject {
    /// A refusal naming the field at fault.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Reject {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A refusal of the event as a whole.
    pub fn event(message: impl Into<String>) -> Self {
        Reject {
            field: None,
            message: message.into(),
        }
    }
}

/// A virtual event (tracking plan §5.1): a track event of the same project and user as its cause.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualEvent {
    pub eid: String,
    pub props: Map<String, Value>,
    /// Epoch ms; `None`: the time of the event that caused it.
    pub time: Option<i64>,
}

impl VirtualEvent {
    pub fn new(eid: &str) -> Self {
        VirtualEvent {
            eid: eid.into(),
            props: Map::new(),
            time: None,
        }
    }

    /// Adds a property.
    pub fn prop(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.props.insert(key.into(), value.into());
        self
    }

    /// Sets its time (epoch ms).
    pub fn at(mut self, time: i64) -> Self {
        self.time = Some(time);
        self
    }
}

/// One step of a user's session, returned by `session`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionStep {
    /// The state slog keeps for this user until the next event or the expiry.
    pub state: String,
    /// When the session closes if no event comes (epoch ms); slog then calls `session_close`.
    pub expires_at: i64,
    /// Properties to set on the event, e.g. `session_id`.
    pub set_props: Map<String, Value>,
    /// Events to emit now.
    pub emit: Vec<VirtualEvent>,
}
