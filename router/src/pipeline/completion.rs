//! The second half of a request, event by event, gathered for one delivery: the records
//! (accepted, derived, dead letters), each message's answer, the tallies, the names to
//! register and the merges announced.
use super::tally::Tally;
use super::{Admitted, ItemOutcome, Outcome, Refused, Stages};
use crate::metadata::AutoRegistration;
use crate::plugins::sessions::SessionTxn;
use crate::plugins::Chain;
use crate::sink::Record;

pub(super) struct Completed {
    pub records: Vec<Record>,
    pub items: Vec<ItemOutcome>,
    pub tally: Tally,
    pub to_register: Vec<AutoRegistration>,
    /// The merges whose records go out with this request (those of an event a plugin refused
    /// after identity stay in the outbox for the re-sender).
    pub announced: Vec<uuid::Uuid>,
}

/// Completes every admission in order; session steps go to `sessions`.
pub(super) fn complete_all(
    stages: &Stages,
    chain: &Chain,
    admissions: Vec<Result<Admitted, Refused>>,
    sessions: &mut SessionTxn,
) -> Completed {
    let count = admissions.len();
    // Accepted records, derived records and dead letters go to the sink together, moved out of
    // the outcomes (no copy of the serialised payloads): an answer is only given once they are
    // all durable, so a refused event is not lost either.
    let mut done = Completed {
        records: Vec::with_capacity(count),
        items: Vec::with_capacity(count),
        tally: Tally::default(),
        to_register: Vec::new(),
        announced: Vec::new(),
    };
    for admission in admissions {
        let merges: Vec<uuid::Uuid> = match &admission {
            Ok(admitted) => admitted.merges.iter().map(|m| m.event_id).collect(),
            Err(_) => Vec::new(),
        };
        let outcome = match admission {
            Ok(admitted) => stages.complete(chain, admitted, sessions),
            Err(refused) => Outcome::Rejected(refused),
        };
        done.items.push(match outcome {
            Outcome::Accepted {
                event,
                record,
                findings,
                derived,
            } => {
                done.announced.extend(merges);
                done.tally
                    .accepted(&record.topic, derived.len(), &findings.warnings);
                done.records.push(record);
                done.records.extend(derived);
                done.to_register.extend(findings.to_register);
                ItemOutcome::Accepted {
                    event_id: event.event_id,
                    warnings: findings.warnings,
                }
            }
            Outcome::Rejected(Refused {
                rejection,
                dead_letter,
            }) => {
                done.tally.rejected(&rejection, dead_letter.is_some());
                done.records.extend(dead_letter);
                ItemOutcome::Rejected(rejection)
            }
        });
    }
    done
}
