//! The pipeline: the steps from one decoded SDK message to a routed record.
//!
//! Today: normalize (wire format → [`Event`]) then route (→ topic, key, bytes). The registry,
//! enrichment, identity and plugin stages slot in between as later issues land; each lives in its
//! own file here and is unit-tested on plain values.
pub mod normalize;
pub mod route;

use crate::config::Config;
use crate::error::Rejection;
use crate::event::Event;
use crate::sink::Record;
use serde_json::Value;

/// One message's way through the pipeline: the accepted event and its record, or why it was refused.
pub type Outcome = Result<(Event, Record), Rejection>;

#[derive(Debug, Clone)]
pub struct Pipeline {
    router: route::Router,
}

impl Pipeline {
    pub fn new(config: &Config) -> Self {
        Pipeline {
            router: route::Router::new(&config.routing),
        }
    }

    pub fn router(&self) -> &route::Router {
        &self.router
    }

    /// Runs one message received at `received_at` (epoch ms) through every stage.
    pub fn process(&self, message: Value, received_at: i64) -> Outcome {
        let event = normalize::normalize(message, received_at)?;
        let record = self.router.route(&event);
        Ok((event, record))
    }
}
