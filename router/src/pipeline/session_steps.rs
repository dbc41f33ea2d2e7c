//! The request's session steps against the shared session store: the sessions its events need
//! are loaded in one round trip, the second half of the request steps them in memory, and the
//! new states are written back compare-and-set, all or nothing. When another instance (or a
//! concurrent request) stepped or closed one of those sessions in between, the second half runs
//! again from the admissions on fresh states, so no step is lost and none counts twice; after
//! `MAX_ATTEMPTS` the request is answered 503 for the SDK to resend.
//!
//! The states are written before the records are delivered: a request the sink then refuses
//! has stepped its sessions, and its resend steps them again (a page view counted twice in its
//! session), which is the lesser harm next to records that left with states never written.
use super::completion::{complete_all, Completed};
use super::{unavailable, Admitted, BatchOutcome, Pipeline, Refused};
use crate::error::Code;
use crate::plugins::sessions::{Committed, SessionKey, SessionTxn};
use crate::plugins::Chain;
use std::time::Duration;

/// Runs of the second half of one request before its session conflicts are given up.
const MAX_ATTEMPTS: usize = 4;

/// What a 503 for an unreachable session store suggests to the SDK.
const SESSION_RETRY_AFTER: Duration = Duration::from_secs(2);

impl Pipeline {
    /// The second half of the request, with its session steps stored.
    pub(super) async fn complete_with_sessions(
        &self,
        chain: &Chain,
        mut admissions: Vec<Result<Admitted, Refused>>,
    ) -> Result<Completed, BatchOutcome> {
        let count = admissions.len();
        if !chain.has_sessions() {
            let mut none = SessionTxn::default();
            return Ok(complete_all(&self.stages, chain, admissions, &mut none));
        }
        let mut keys: Vec<SessionKey> = admissions
            .iter()
            .filter_map(|a| a.as_ref().ok())
            .flat_map(|a| chain.session_keys(&a.event))
            .collect();
        if keys.is_empty() {
            let mut none = SessionTxn::default();
            return Ok(complete_all(&self.stages, chain, admissions, &mut none));
        }
        keys.sort();
        keys.dedup();
        let store = self.plugins.sessions();
        let refuse = |e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, "session store failed; asking the client to retry");
            unavailable(
                Code::SessionStoreUnavailable,
                SESSION_RETRY_AFTER,
                count,
                &e.to_string(),
            )
        };
        for attempt in 1..=MAX_ATTEMPTS {
            let loaded = store.load(&keys).await.map_err(|e| refuse(&e))?;
            // The second half consumes the admissions; a run that may be repeated works on a copy.
            let input = if attempt < MAX_ATTEMPTS {
                admissions.clone()
            } else {
                std::mem::take(&mut admissions)
            };
            let mut txn = SessionTxn::new(loaded);
            let completed = complete_all(&self.stages, chain, input, &mut txn);
            if txn.is_empty() {
                return Ok(completed);
            }
            match store.commit(&txn.writes()).await.map_err(|e| refuse(&e))? {
                Committed::Done => return Ok(completed),
                Committed::Conflict(moved) => {
                    metrics::counter!("slog_plugin_session_conflicts_total").increment(1);
                    tracing::debug!(
                        attempt,
                        sessions = moved.len(),
                        "sessions moved meanwhile; stepping again"
                    );
                }
            }
        }
        Err(refuse(&"sessions kept moving under concurrent steps"))
    }
}
