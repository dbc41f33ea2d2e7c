//! The per-message stages of the pipeline, in two halves around identity resolution:
//! - [`Stages::admit`]: normalize (wire format → [`Event`]) → validate (against the registry
//!   snapshot) → enrich (the tracking plan's collection rules, §4) → plugins before identity
//!   (validate, transform, identify);
//! - [`Stages::complete`]: plugins after identity (derive, session) → derive (the first_referrer
//!   profile) → records (topic, key, bytes).
use super::records::{RecordBuilder, RoutingConfig};
use super::{derive, enrich, normalize, validate, RequestContext};
use crate::enrich::Enrichers;
use crate::error::Rejection;
use crate::event::{Event, Merge, Wire};
use crate::metadata::{RegistryConfig, Snapshot};
use crate::plugins::sessions::SessionTxn;
use crate::plugins::Chain;
use crate::sink::Record;
use serde_json::Value;
use std::sync::Arc;

/// A message that passed the synchronous stages and waits for identity resolution.
#[derive(Debug, Clone)]
pub struct Admitted {
    // Boxed: an event is far larger than a rejection, and admissions are collected per batch.
    pub event: Box<Event>,
    pub findings: validate::Findings,
    /// Anonymous uuids the identity stage found to be this event's person.
    pub merges: Vec<Merge>,
}

/// A message refused on its way through the pipeline.
#[derive(Debug, Clone)]
pub struct Refused {
    pub rejection: Rejection,
    /// Set when the message was well-formed but refused (registry, plugin): nothing is lost.
    pub dead_letter: Option<Record>,
}

impl Refused {
    /// A message refused before it became an event (its wire format is broken): answered to
    /// the client, with nothing to dead-letter.
    pub fn malformed(rejection: Rejection) -> Self {
        Refused {
            rejection,
            dead_letter: None,
        }
    }
}

/// One message's way through the pipeline.
#[derive(Debug)]
pub enum Outcome {
    Accepted {
        event: Box<Event>,
        record: Record,
        findings: validate::Findings,
        /// Records of events derived from this one (the first_referrer profile_insert, plugins'
        /// virtual events, identity merges).
        derived: Vec<Record>,
    },
    Rejected(Refused),
}

/// The synchronous stages around identity, on plain values: what [`Pipeline`](super::Pipeline)
/// runs per message, and what benchmarks and tests run without any store or sink.
#[derive(Clone)]
pub struct Stages {
    records: RecordBuilder,
    registry: RegistryConfig,
    enrichers: Arc<Enrichers>,
    first_referrer_profile: bool,
}

impl Stages {
    /// Stages writing records per `routing`, validating under `registry`'s policies, enriching
    /// with `enrichers` and, when `first_referrer_profile`, deriving the first_referrer profile.
    pub fn new(
        routing: &RoutingConfig,
        registry: &RegistryConfig,
        enrichers: Arc<Enrichers>,
        first_referrer_profile: bool,
    ) -> Self {
        Stages {
            records: RecordBuilder::new(routing),
            registry: registry.clone(),
            enrichers,
            first_referrer_profile,
        }
    }

    pub fn records(&self) -> &RecordBuilder {
        &self.records
    }

    /// The synchronous first half for one message received at `received_at` (epoch ms),
    /// validating against `snapshot` and running `chain`'s plugins (one snapshot and one chain per
    /// request, so a batch sees one registry version and one plugin chain).
    pub fn admit(
        &self,
        chain: &Chain,
        snapshot: &Snapshot,
        request: &RequestContext,
        message: Value,
        received_at: i64,
    ) -> Result<Admitted, Refused> {
        let event = normalize::normalize(message, received_at).map_err(Refused::malformed)?;
        self.admit_event(chain, snapshot, request, event)
    }

    /// [`Stages::admit`] for an event already parsed from its wire format (`normalize`, or
    /// another wire format's translation).
    pub fn admit_event(
        &self,
        chain: &Chain,
        snapshot: &Snapshot,
        request: &RequestContext,
        mut event: Event,
    ) -> Result<Admitted, Refused> {
        let policy = self.registry.policy_for(&event.project);
        match validate::validate(&event, snapshot, policy) {
            Ok(findings) => {
                enrich::enrich(&mut event, request, &self.enrichers);
                if let Err(rejection) = chain.before_identity(&mut event) {
                    return Err(self.refuse(&event, rejection));
                }
                Ok(Admitted {
                    event: Box::new(event),
                    findings,
                    merges: Vec::new(),
                })
            }
            Err(rejection) => Err(self.refuse(&event, rejection)),
        }
    }

    /// The second half, once identity resolution has filled the event's uuid. The plugins'
    /// virtual events skip registry validation: their plugin's authors own them.
    /// Session steps go to `sessions`, which the caller writes back to the session store.
    pub fn complete(
        &self,
        chain: &Chain,
        admitted: Admitted,
        sessions: &mut SessionTxn,
    ) -> Outcome {
        let Admitted {
            mut event,
            findings,
            merges,
        } = admitted;
        let virtual_events = match chain.after_identity(&mut event, sessions) {
            Ok(events) => events,
            Err(rejection) => return Outcome::Rejected(self.refuse(&event, rejection)),
        };
        let mut derived: Vec<Record> = merges
            .iter()
            .map(|merge| self.records.identity_merge(&event, merge))
            .collect();
        derived.extend(
            self.first_referrer_profile
                .then(|| derive::first_referrer_profile(&event))
                .flatten()
                .iter()
                .chain(&virtual_events)
                .map(|derived| self.records.record(derived)),
        );
        let record = self.records.record(&event);
        Outcome::Accepted {
            event,
            record,
            findings,
            derived,
        }
    }

    /// Both halves without identity resolution: for benchmarks and tests of the pure stages.
    pub fn process(
        &self,
        chain: &Chain,
        snapshot: &Snapshot,
        request: &RequestContext,
        message: Value,
        received_at: i64,
    ) -> Outcome {
        match self.admit(chain, snapshot, request, message, received_at) {
            // Sessions stepped here are not kept: no store behind them.
            Ok(admitted) => self.complete(chain, admitted, &mut SessionTxn::default()),
            Err(refused) => Outcome::Rejected(refused),
        }
    }

    /// A refusal of a message that never became an event (another wire format's message slog
    /// could not map): dead-lettered as received, with the reason.
    pub fn refuse_message(
        &self,
        message: &Value,
        wire: Wire,
        rejection: Rejection,
        received_at: i64,
    ) -> Refused {
        Refused {
            dead_letter: Some(
                self.records
                    .raw_dead_letter(message, wire, &rejection, received_at),
            ),
            rejection,
        }
    }

    /// A refusal of a well-formed event: answered to the client and dead-lettered with the reason.
    pub fn refuse(&self, event: &Event, rejection: Rejection) -> Refused {
        Refused {
            dead_letter: Some(self.records.dead_letter(event, &rejection)),
            rejection,
        }
    }
}
