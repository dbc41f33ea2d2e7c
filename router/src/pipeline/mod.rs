//! The pipeline: the stages from one decoded SDK message to a routed record.
//!
//! normalize (wire format → [`Event`]) → validate (against the registry snapshot) → route (topic,
//! key, bytes). Enrichment, identity and plugin stages slot in between as later issues land; each
//! lives in its own file here and is unit-tested on plain values.
pub mod normalize;
pub mod route;
pub mod validate;

use crate::config::{Config, RegistryConfig};
use crate::error::Rejection;
use crate::event::Event;
use crate::metadata::Snapshot;
use crate::sink::Record;
use serde_json::Value;

/// One message's way through the pipeline.
#[derive(Debug)]
pub enum Outcome {
    Accepted {
        // Boxed: an event is far larger than a rejection, and outcomes are collected per batch.
        event: Box<Event>,
        record: Record,
        findings: validate::Findings,
    },
    Rejected {
        rejection: Rejection,
        /// Set when the message was well-formed but refused by the registry: nothing is lost.
        dead_letter: Option<Record>,
    },
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    router: route::Router,
    registry: RegistryConfig,
}

impl Pipeline {
    pub fn new(config: &Config) -> Self {
        Pipeline {
            router: route::Router::new(&config.routing),
            registry: config.registry.clone(),
        }
    }

    pub fn router(&self) -> &route::Router {
        &self.router
    }

    /// Runs one message received at `received_at` (epoch ms) through every stage, validating
    /// against `snapshot` (one snapshot per request, so a batch sees one registry version).
    pub fn process(&self, snapshot: &Snapshot, message: Value, received_at: i64) -> Outcome {
        let event = match normalize::normalize(message, received_at) {
            Ok(e) => e,
            Err(rejection) => {
                return Outcome::Rejected {
                    rejection,
                    dead_letter: None,
                }
            }
        };
        let policy = self.registry.policy_for(&event.project);
        match validate::validate(&event, snapshot, policy) {
            Ok(findings) => {
                let record = self.router.route(&event);
                Outcome::Accepted {
                    event: Box::new(event),
                    record,
                    findings,
                }
            }
            Err(rejection) => Outcome::Rejected {
                dead_letter: Some(self.router.dead_letter(&event, &rejection)),
                rejection,
            },
        }
    }
}
