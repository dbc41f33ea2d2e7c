//! How one identity of an event joins the event's person (README "Unified identity", joining).
//!
//! - Not linked yet: it is linked to the person, unless it is an account identity and the person
//!   already holds another value of its key (a weaker account key that conflicts with the
//!   person's: it stays unlinked, counted).
//! - Linked to another person, and the two hold no conflicting account values (no key with two
//!   different values): they are one person and merge, when the evidence is strong enough: the
//!   identity is an account identity, or one of the two has no account at all (an anonymous
//!   history). The survivor is chosen by `survivor`, which racing requests agree on.
//! - Otherwise an account identity stays with its person (counted), and a device identity is a
//!   shared device: it moves to the person now using it, and a device seen on more people than
//!   `identity.max_accounts_per_device` goes on the blocklist.
use super::keys::{Identity, Ranked, Strength, UUID_KEY};
use super::resolver::{conflict, holds_other_value, Work};
use super::store::{AccountLink, MergeNote, MergeOutcome, StoreError};
use crate::event::Merge;

/// Whether the attempt can go on.
pub(super) enum Joined {
    Done,
    /// A merge met a racing one: the attempt must start again from fresh reads.
    Raced,
}

impl Joined {
    pub(super) fn is_raced(&self) -> bool {
        matches!(self, Joined::Raced)
    }
}

impl Work<'_> {
    /// Makes `id` (found on `current` when the attempt began) an identity of the person.
    pub(super) async fn join(
        &mut self,
        id: &Ranked,
        current: Option<String>,
    ) -> Result<Joined, StoreError> {
        // An identity that was on a uuid merged away during this attempt is on the survivor.
        let current = current.map(|uuid| self.survivor_of(uuid));
        let other = match current {
            Some(uuid) if uuid == self.person => return Ok(Joined::Done),
            Some(uuid) => uuid,
            None => match self.link(id).await? {
                None => return Ok(Joined::Done),
                // A racing request linked it to someone else first.
                Some(other) => other,
            },
        };
        self.meet(id, other).await
    }

    /// Links a new identity to the person; the uuid it is on instead, when a racing request
    /// linked it first.
    async fn link(&mut self, id: &Ranked) -> Result<Option<String>, StoreError> {
        let person = self.person.clone();
        let cached = &self.resolver.cached;
        if id.strength == Strength::Device {
            let linked = cached.link(&id.identity, &person, self.at()).await?;
            if linked != person {
                return Ok(Some(linked));
            }
            self.count_device_brought_in(id).await?;
            return Ok(None);
        }
        if holds_other_value(self.accounts_of(&person).await?, &id.identity) {
            conflict("account_key_taken");
            return Ok(None);
        }
        match cached
            .link_account(&id.identity, &person, self.at())
            .await?
        {
            AccountLink::Linked => {
                self.accounts
                    .entry(person)
                    .or_default()
                    .push(id.identity.clone());
                Ok(None)
            }
            AccountLink::OnOther(other) => Ok(Some(other)),
            AccountLink::Clash => {
                conflict("account_key_taken");
                Ok(None)
            }
        }
    }

    /// `id` of this event is on `other`, another uuid than the person's.
    async fn meet(&mut self, id: &Ranked, other: String) -> Result<Joined, StoreError> {
        let person = self.person.clone();
        let theirs = self.accounts_of(&other).await?.to_vec();
        let ours = self.accounts_of(&person).await?.to_vec();
        let clash = theirs.iter().any(|t| holds_other_value(&ours, t));
        let strong = id.strength == Strength::Account;
        if !clash && (strong || theirs.is_empty() || ours.is_empty()) {
            if !self.may_merge {
                conflict("merge_given_up");
                return Ok(Joined::Done);
            }
            return self.merge(id, &person, &ours, &other, &theirs).await;
        }
        if strong {
            conflict("account_on_other_person");
            return Ok(Joined::Done);
        }
        self.move_shared_device(&id.identity, &other).await?;
        Ok(Joined::Done)
    }

    async fn merge(
        &mut self,
        id: &Ranked,
        person: &str,
        ours: &[Identity],
        other: &str,
        theirs: &[Identity],
    ) -> Result<Joined, StoreError> {
        let (from, to) = survivor((person, ours), (other, theirs));
        let reason = format!("{} seen on both", id.identity);
        let keys = self.resolver.rules.account_keys();
        let note = MergeNote {
            event_id: uuid::Uuid::now_v7(),
            project: self.sighting.project.to_owned(),
            time: self.sighting.time,
            trigger: id.identity.clone(),
        };
        let outcome = self
            .resolver
            .cached
            .merge(from, to, self.at(), &reason, &keys, &note)
            .await?;
        let moved = match outcome {
            MergeOutcome::Merged(moved) => moved,
            MergeOutcome::Gone { .. } | MergeOutcome::Refused => {
                metrics::counter!("slog_identity_merge_races_total").increment(1);
                return Ok(Joined::Raced);
            }
        };
        metrics::counter!("slog_identity_merges_total").increment(1);
        let (from, to) = (from.to_owned(), to.to_owned());
        let mut joined = self.accounts.remove(&from).unwrap_or_default();
        self.accounts
            .entry(to.clone())
            .or_default()
            .append(&mut joined);
        if from == self.person {
            self.person = to.clone();
        }
        self.merges.push(Merge {
            event_id: note.event_id,
            from_uuid: from,
            to_uuid: to,
            trigger: id.identity.clone(),
            moved,
        });
        Ok(Joined::Done)
    }

    /// A device of another person with accounts, seen with this person: a shared device, now
    /// used by this person. Its earlier events stay with the earlier person; nothing merges.
    async fn move_shared_device(
        &mut self,
        device: &Identity,
        other: &str,
    ) -> Result<(), StoreError> {
        let resolver = self.resolver;
        let person = self.person.as_str();
        if resolver
            .cached
            .relink(device, other, person, self.at())
            .await?
        {
            metrics::counter!("slog_identity_devices_moved_total").increment(1);
        }
        let person = person.to_owned();
        self.guard(device, &[other, person.as_str()]).await
    }

    /// A new device identity joined the person through a weaker device identity alone (a new
    /// install id beside a known ANDROID_ID: an app reinstall, or a constant that a broken ROM
    /// reports on every phone). A genuine device brings in a few over its life; one that brings
    /// in more than `identity.max_accounts_per_device` is a constant, and is blocked before the
    /// people it would join log in.
    async fn count_device_brought_in(&mut self, joined: &Ranked) -> Result<(), StoreError> {
        let Some(finder) = &self.found_by else {
            return Ok(());
        };
        if finder.strength != Strength::Device || joined.priority >= finder.priority {
            return Ok(());
        }
        let finder = finder.identity.clone();
        // Recorded beside the people the device was seen on, told apart by a prefix no uuid has.
        let tag: String = format!("+{}", joined.identity).chars().take(64).collect();
        self.guard(&finder, &[tag.as_str()]).await
    }

    /// Records that `device` was seen with `seen_with` (people, or devices it brought in), and
    /// blocks it past the limit.
    async fn guard(&mut self, device: &Identity, seen_with: &[&str]) -> Result<(), StoreError> {
        let resolver = self.resolver;
        let limit = resolver.rules.max_accounts_per_device();
        if limit == 0 {
            return Ok(());
        }
        let store = resolver.cached.store();
        let seen = store
            .note_device_owners(device, seen_with, self.at())
            .await?;
        if seen > limit {
            store.block(device, seen, self.at()).await?;
            resolver.blocklist.insert(device);
            metrics::counter!("slog_identity_devices_blocked_total").increment(1);
            tracing::warn!(identity = %device, seen_with = seen,
                "device identity seen with too many people or devices: it links no one from now on (GET /admin/identities/blocked)");
        }
        Ok(())
    }

    /// Where `uuid` is after the merges of this attempt.
    fn survivor_of(&self, uuid: String) -> String {
        self.merges
            .iter()
            .rev()
            .find(|m| m.from_uuid == uuid)
            .map_or(uuid, |m| self.survivor_of(m.to_uuid.clone()))
    }
}

/// Which of two uuids that merge survives, as `(from, to)`: the one the client named (it holds
/// a `uuid` identity: the client keeps using it), else the one with accounts (an anonymous
/// history joins a known person), else the smaller uuid (the older one, for slog's time-ordered
/// uuids). Racing requests that see the same two people choose the same survivor, and the store
/// merges a uuid at most once, so merges never run in a cycle.
fn survivor<'a>(a: (&'a str, &[Identity]), b: (&'a str, &[Identity])) -> (&'a str, &'a str) {
    let rank = |(uuid, held): (&str, &[Identity])| {
        (
            held.iter().any(|h| h.key == UUID_KEY),
            !held.is_empty(),
            std::cmp::Reverse(uuid.to_owned()),
        )
    };
    if rank(a) >= rank(b) {
        (b.0, a.0)
    } else {
        (a.0, b.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_survivor_is_the_client_s_uuid_then_the_known_person_then_the_older_uuid() {
        let uuid = [Identity::new("uuid", "c-1")];
        let userid = [Identity::new("userid", "u-1")];
        assert_eq!(survivor(("b", &uuid), ("a", &userid)), ("a", "b"));
        assert_eq!(survivor(("a", &userid), ("b", &uuid)), ("a", "b"));
        assert_eq!(survivor(("b", &userid), ("a", &[])), ("a", "b"));
        assert_eq!(survivor(("b", &[]), ("a", &[])), ("b", "a"));
        assert_eq!(survivor(("a", &[]), ("b", &[])), ("b", "a"));
        assert_eq!(survivor(("b", &userid), ("a", &userid)), ("b", "a"));
    }
}
