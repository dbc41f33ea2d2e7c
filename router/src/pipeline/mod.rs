//! The pipeline: the stages from one decoded SDK message to a routed record.
//!
//! normalize (wire format → [`Event`]) → validate (against the registry snapshot) → enrich (seed §4
//! collection rules) → derive (first_referrer profile) → route (topic, key, bytes). Identity and
//! plugin stages slot in as later issues land; each stage lives in its own file here and is
//! unit-tested on plain values.
pub mod derive;
pub mod enrich;
pub mod normalize;
pub mod route;
pub mod validate;

use crate::config::{Config, RegistryConfig};
use crate::enrich::Enrichers;
use crate::error::Rejection;
use crate::event::Event;
use crate::metadata::Snapshot;
use crate::sink::Record;
pub use enrich::RequestContext;
use serde_json::Value;
use std::sync::Arc;

/// One message's way through the pipeline.
#[derive(Debug)]
pub enum Outcome {
    Accepted {
        // Boxed: an event is far larger than a rejection, and outcomes are collected per batch.
        event: Box<Event>,
        record: Record,
        findings: validate::Findings,
        /// Records of events derived from this one (the first_referrer profile_insert).
        derived: Vec<Record>,
    },
    Rejected {
        rejection: Rejection,
        /// Set when the message was well-formed but refused by the registry: nothing is lost.
        dead_letter: Option<Record>,
    },
}

#[derive(Clone)]
pub struct Pipeline {
    router: route::Router,
    registry: RegistryConfig,
    enrichers: Arc<Enrichers>,
    first_referrer_profile: bool,
}

impl Pipeline {
    pub fn new(config: &Config, enrichers: Arc<Enrichers>) -> Self {
        Pipeline {
            router: route::Router::new(&config.routing),
            registry: config.registry.clone(),
            enrichers,
            first_referrer_profile: config.enrich.first_referrer_profile,
        }
    }

    pub fn router(&self) -> &route::Router {
        &self.router
    }

    /// Runs one message received at `received_at` (epoch ms) through every stage, validating
    /// against `snapshot` (one snapshot per request, so a batch sees one registry version).
    pub fn process(
        &self,
        snapshot: &Snapshot,
        request: &RequestContext,
        message: Value,
        received_at: i64,
    ) -> Outcome {
        let mut event = match normalize::normalize(message, received_at) {
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
                enrich::enrich(&mut event, request, &self.enrichers);
                let derived = self
                    .first_referrer_profile
                    .then(|| derive::first_referrer_profile(&event))
                    .flatten()
                    .map(|profile| self.router.route(&profile))
                    .into_iter()
                    .collect();
                let record = self.router.route(&event);
                Outcome::Accepted {
                    event: Box::new(event),
                    record,
                    findings,
                    derived,
                }
            }
            Err(rejection) => Outcome::Rejected {
                dead_letter: Some(self.router.dead_letter(&event, &rejection)),
                rejection,
            },
        }
    }
}
