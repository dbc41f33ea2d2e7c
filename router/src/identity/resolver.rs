//! The identity rules (README "Unified identity"): which uuid an event belongs to, which links it
//! adds, and when two uuids turn out to be one person.
//!
//! - The client sent a uuid: that is the person. Every other identity in the message is linked
//!   to it (new links only; conflicts below).
//! - No uuid and the event needs one: the identities are looked up strongest first (account keys,
//!   then device keys, each in priority order). Found: that uuid. None known: a new uuid (UUIDv7),
//!   linked through the strongest identity first so that racing requests adopt whichever uuid
//!   won the insert. Every other identity is then linked to the person.
//! - Conflicts, when an identity already belongs to another uuid:
//!   - an account identity never moves and never joins a person that has another value of the
//!     same key (two userids are two people), counted as a conflict;
//!   - a device identity of an anonymous uuid (one without account identities) means that uuid
//!     was this person all along: the anonymous uuid is merged into the person (all its links
//!     move) and an identity-merge message goes to the users topic. When both are anonymous, the
//!     smaller (older) uuid survives, whichever request noticed, so racing merges agree;
//!   - a device identity of another account's uuid is a shared device: it moves to the person
//!     now using it (its earlier events stay with the earlier person; no merge).
//! - Junk values never link anything (see `junk`).
use super::cached_store::CachedStore;
use super::keys::{Identity, KeyRules, Ranked, Strength, UUID_KEY};
use super::store::StoreError;
use serde::Serialize;
use serde_json::{Map, Value};
use std::time::Duration;
use uuid::Uuid;

/// Attempts after a deadlock before the error reaches the stage.
const MAX_RETRIES: u64 = 4;

/// How an event's uuid was obtained (the output record's `uuid_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UuidSource {
    /// The client sent it.
    Client,
    /// Found from one of the event's other identities.
    Lookup,
    /// None of the identities was known: a new person.
    New,
    /// The event needed a uuid but has none: no usable identity, or the store was unreachable.
    Unresolved,
}

/// An anonymous uuid found to be another person: the warehouse re-attributes `from`'s history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merge {
    pub from_uuid: String,
    pub to_uuid: String,
    /// The identity whose sighting revealed it.
    pub trigger: Identity,
    /// Every identity that moved from `from_uuid` to `to_uuid`.
    pub moved: Vec<Identity>,
}

/// What resolution decided for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub uuid: Option<String>,
    /// `None` when the event neither carried nor needed a uuid.
    pub source: Option<UuidSource>,
    pub merges: Vec<Merge>,
}

pub struct Resolver {
    cached: CachedStore,
    rules: KeyRules,
}

impl Resolver {
    pub fn new(cached: CachedStore, rules: KeyRules) -> Self {
        Resolver { cached, rules }
    }

    pub fn store(&self) -> &CachedStore {
        &self.cached
    }

    pub fn rules(&self) -> &KeyRules {
        &self.rules
    }

    /// Resolves the person of a message with identities `uidentity`, received at `at` (epoch ms).
    ///
    /// A transaction the database aborted to break a deadlock with a racing request is retried
    /// (every step is safe to repeat); merges done by an aborted attempt are still reported.
    pub async fn resolve(
        &self,
        uidentity: &Map<String, Value>,
        need_uuid: bool,
        at: i64,
    ) -> Result<Resolution, StoreError> {
        let mut merges = Vec::new();
        let mut attempt = 0;
        loop {
            match self
                .resolve_once(uidentity, need_uuid, at, &mut merges)
                .await
            {
                Err(e) if e.is_transient() && attempt < MAX_RETRIES => {
                    attempt += 1;
                    metrics::counter!("slog_identity_retries_total").increment(1);
                    let jitter = u64::from(Uuid::now_v7().as_bytes()[15] % 20);
                    tokio::time::sleep(Duration::from_millis(5 * attempt + jitter)).await;
                }
                Err(e) => return Err(e),
                Ok((uuid, source)) => {
                    return Ok(Resolution {
                        uuid,
                        source,
                        merges,
                    })
                }
            }
        }
    }

    async fn resolve_once(
        &self,
        uidentity: &Map<String, Value>,
        need_uuid: bool,
        at: i64,
        merges: &mut Vec<Merge>,
    ) -> Result<(Option<String>, Option<UuidSource>), StoreError> {
        let ids = self.rules.identities(uidentity);
        if let Some(client) = self.rules.client_uuid(uidentity) {
            let marker = Ranked {
                identity: Identity::new(UUID_KEY, client.as_str()),
                strength: Strength::Account,
                priority: 0,
            };
            for id in std::iter::once(&marker).chain(&ids) {
                let current = self.cached.lookup(&id.identity, at).await?;
                // The client's uuid has an account (the marker), so it always survives.
                self.attach(id, &client, current, at, merges).await?;
            }
            return Ok((Some(client), Some(UuidSource::Client)));
        }
        if !need_uuid {
            return Ok((None, None));
        }
        if ids.is_empty() {
            return Ok((None, Some(UuidSource::Unresolved)));
        }
        let mut known = Vec::with_capacity(ids.len());
        for id in &ids {
            known.push(self.cached.lookup(&id.identity, at).await?);
        }
        let (person, source) = match self.choose(&ids, &known).await? {
            Some(uuid) => (uuid, UuidSource::Lookup),
            None => {
                let minted = Uuid::now_v7().to_string();
                // Through the strongest identity, which is unknown here (no account is known,
                // and when a device is, `choose` refused every device person): whoever inserts
                // it first decides the uuid.
                let linked = self.cached.link(&ids[0].identity, &minted, at).await?;
                known[0] = Some(linked.clone());
                let source = if linked == minted {
                    UuidSource::New
                } else {
                    UuidSource::Lookup
                };
                (linked, source)
            }
        };
        let mut person = person;
        for (id, current) in ids.iter().zip(known) {
            // An identity that was on a uuid merged away during this loop is on the survivor now.
            let current = current.map(|uuid| {
                merges
                    .iter()
                    .find(|m| m.from_uuid == uuid)
                    .map_or(uuid, |m| m.to_uuid.clone())
            });
            if let Some(survivor) = self.attach(id, &person, current, at, merges).await? {
                person = survivor;
            }
        }
        Ok((Some(person), Some(source)))
    }

    /// The known person the message belongs to, or `None` when a new one must be minted.
    async fn choose(
        &self,
        ids: &[Ranked],
        known: &[Option<String>],
    ) -> Result<Option<String>, StoreError> {
        let Some((top, top_uuid)) = ids
            .iter()
            .zip(known)
            .find_map(|(id, k)| k.as_ref().map(|u| (id, u)))
        else {
            return Ok(None);
        };
        if top.strength == Strength::Account {
            return Ok(Some(top_uuid.clone()));
        }
        // Only device identities are known. Their uuids, strongest first, without repeats.
        let mut candidates: Vec<&String> = Vec::new();
        for uuid in known.iter().flatten() {
            if !candidates.contains(&uuid) {
                candidates.push(uuid);
            }
        }
        let new_accounts: Vec<&Identity> = ids
            .iter()
            .zip(known)
            .filter(|(id, k)| id.strength == Strength::Account && k.is_none())
            .map(|(id, _)| &id.identity)
            .collect();
        if !new_accounts.is_empty() {
            // A login: the first device person that can take these accounts without holding
            // another value of the same key; none can: a new person (the devices move to it).
            for candidate in candidates {
                if !self.holds_other_value(candidate, &new_accounts).await? {
                    return Ok(Some(candidate.clone()));
                }
            }
            return Ok(None);
        }
        if candidates.len() > 1 {
            // Devices of different uuids in one message: prefer a person with an account, so
            // anonymous uuids merge into it rather than the other way round.
            let accounts = self.rules.account_keys();
            for candidate in &candidates {
                if self.cached.has_any_key(candidate, &accounts).await? {
                    return Ok(Some((*candidate).clone()));
                }
            }
        }
        Ok(Some(top_uuid.clone()))
    }

    /// Whether `uuid` already has a different value under the key of one of `accounts`.
    async fn holds_other_value(
        &self,
        uuid: &str,
        accounts: &[&Identity],
    ) -> Result<bool, StoreError> {
        let links = self.cached.links_of(uuid).await?;
        Ok(accounts
            .iter()
            .any(|a| links.iter().any(|l| l.key == a.key && l.value != a.value)))
    }

    /// Makes `id` (currently on `current`) an identity of `person`, by the conflict rules.
    /// Returns the surviving uuid when `person` itself was merged into another anonymous uuid.
    async fn attach(
        &self,
        id: &Ranked,
        person: &str,
        current: Option<String>,
        at: i64,
        merges: &mut Vec<Merge>,
    ) -> Result<Option<String>, StoreError> {
        let other = match current {
            Some(uuid) if uuid == person => return Ok(None),
            Some(uuid) => uuid,
            None => {
                if id.strength == Strength::Account
                    && id.identity.key != UUID_KEY
                    && self.holds_other_value(person, &[&id.identity]).await?
                {
                    conflict("account_key_taken");
                    return Ok(None);
                }
                let linked = self.cached.link(&id.identity, person, at).await?;
                if linked == person {
                    return Ok(None);
                }
                // A racing request linked it to someone else first: settle it as a conflict.
                linked
            }
        };
        if id.strength == Strength::Account {
            conflict("account_on_other_person");
            return Ok(None);
        }
        let accounts = self.rules.account_keys();
        if self.cached.has_any_key(&other, &accounts).await? {
            // A shared device, now used by `person`.
            if self.cached.relink(&id.identity, &other, person, at).await? {
                metrics::counter!("slog_identity_devices_moved_total").increment(1);
            }
            return Ok(None);
        }
        // `other` is anonymous. When `person` is anonymous too, either could survive; the
        // smaller uuid (the older one, for slog's time-ordered uuids) does, so that requests
        // racing from either side merge in the same direction and never in a cycle.
        let person_anonymous = !self.cached.has_any_key(person, &accounts).await?;
        let (from, to) = if person_anonymous && other.as_str() < person {
            (person.to_owned(), other)
        } else {
            (other, person.to_owned())
        };
        let reason = format!("{} seen on both", id.identity);
        let moved = self.cached.merge(&from, &to, at, &reason).await?;
        if !moved.is_empty() {
            metrics::counter!("slog_identity_merges_total").increment(1);
            merges.push(Merge {
                from_uuid: from.clone(),
                to_uuid: to.clone(),
                trigger: id.identity.clone(),
                moved,
            });
        }
        Ok((from == person).then_some(to))
    }
}

fn conflict(reason: &'static str) {
    metrics::counter!("slog_identity_conflicts_total", "reason" => reason).increment(1);
}
