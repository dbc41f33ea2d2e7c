//! The identity rules (README "Unified identity"): which uuid an event belongs to, which links it
//! adds, and when two uuids turn out to be one person.
//!
//! - The client sent a uuid: that is the person. Every other identity in the message is linked
//!   to it, by the joining rules below.
//! - No uuid and the event needs one: the person is chosen by `choose` (the event's strongest
//!   account identity decides when it is known; otherwise the first person found through the
//!   event's identities that holds no other value of the event's account keys). None: a new
//!   uuid (UUIDv7), linked through the strongest identity first so that racing requests adopt
//!   whichever uuid won the insert.
//! - Every other identity of the event then joins the person (`joining.rs`): new identities are
//!   linked, identities of another person are merged, moved or left where they are.
//! - Junk values and blocked identities never link anything (see `junk`, `blocklist`).
use super::blocklist::Blocklist;
use super::cached_store::CachedStore;
use super::keys::{KeyRules, Ranked, Strength, UUID_KEY};
use super::store::{AccountLink, StoreError};
use crate::event::{Identity, Merge, UuidSource};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Attempts after a deadlock or a lost merge race before the error reaches the stage.
const MAX_RETRIES: u64 = 4;

/// The event whose identities are resolved: when it was received (the time links are recorded
/// at), and what a merge it reveals is announced with.
#[derive(Debug, Clone, Copy)]
pub struct Sighting<'a> {
    pub project: &'a str,
    /// Epoch ms.
    pub received_at: i64,
    /// The event's own time, epoch ms.
    pub time: i64,
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
    pub(super) cached: CachedStore,
    pub(super) rules: KeyRules,
    pub(super) blocklist: Arc<Blocklist>,
}

/// How one attempt at resolving an event ended.
pub(super) enum Attempt {
    Done(Option<String>, Option<UuidSource>),
    /// A merge lost a race with another request's: what this attempt read is stale.
    Raced,
}

/// The state of one attempt: the person so far, and what is known of the accounts of every
/// uuid it met (read once per attempt, kept up to date as identities are linked and merged).
pub(super) struct Work<'r> {
    pub(super) resolver: &'r Resolver,
    pub(super) sighting: Sighting<'r>,
    pub(super) person: String,
    pub(super) accounts: HashMap<String, Vec<Identity>>,
    pub(super) merges: &'r mut Vec<Merge>,
    /// False on the last attempt: a merge that keeps racing is given up rather than the event.
    pub(super) may_merge: bool,
    /// The identity the person was found through, when no known account of the event decided
    /// it: new, stronger device identities that join through a device are counted
    /// (`joining.rs`).
    pub(super) found_by: Option<Ranked>,
}

impl Resolver {
    pub fn new(cached: CachedStore, rules: KeyRules) -> Self {
        Resolver {
            cached,
            rules,
            blocklist: Arc::default(),
        }
    }

    pub fn store(&self) -> &CachedStore {
        &self.cached
    }

    pub fn rules(&self) -> &KeyRules {
        &self.rules
    }

    pub fn blocklist(&self) -> &Arc<Blocklist> {
        &self.blocklist
    }

    /// Resolves the person of a message with identities `uidentity`, seen in `sighting`.
    ///
    /// A transaction the database aborted to break a deadlock with a racing request is retried,
    /// and so is an attempt whose merge lost a race (every step is safe to repeat); merges done
    /// by an earlier attempt are still reported.
    pub async fn resolve(
        &self,
        uidentity: &Map<String, Value>,
        need_uuid: bool,
        sighting: Sighting<'_>,
    ) -> Result<Resolution, StoreError> {
        let mut merges = Vec::new();
        let mut attempt = 0;
        loop {
            let may_merge = attempt < MAX_RETRIES;
            let outcome = self
                .resolve_once(uidentity, need_uuid, sighting, &mut merges, may_merge)
                .await;
            match outcome {
                Ok(Attempt::Done(uuid, source)) => {
                    return Ok(Resolution {
                        uuid,
                        source,
                        merges,
                    })
                }
                // A lost merge race, or a deadlock the database broke: start again.
                Ok(Attempt::Raced) => {}
                Err(e) if e.is_transient() && attempt < MAX_RETRIES => {}
                Err(e) => return Err(e),
            }
            attempt += 1;
            metrics::counter!("slog_identity_retries_total").increment(1);
            let jitter = u64::from(Uuid::now_v7().as_bytes()[15] % 20);
            tokio::time::sleep(Duration::from_millis(5 * attempt + jitter)).await;
        }
    }

    /// The event's identities that may link: not junk (`KeyRules`), not blocked.
    fn linkable(&self, uidentity: &Map<String, Value>) -> Vec<Ranked> {
        let mut ids = self.rules.identities(uidentity);
        ids.retain(|id| {
            let blocked = self.blocklist.contains(&id.identity);
            if blocked {
                metrics::counter!("slog_identity_blocked_sightings_total").increment(1);
            }
            !blocked
        });
        ids
    }

    async fn resolve_once(
        &self,
        uidentity: &Map<String, Value>,
        need_uuid: bool,
        sighting: Sighting<'_>,
        merges: &mut Vec<Merge>,
        may_merge: bool,
    ) -> Result<Attempt, StoreError> {
        let at = sighting.received_at;
        let client = self.rules.client_uuid(uidentity);
        if client.is_none() && !need_uuid {
            return Ok(Attempt::Done(None, None));
        }
        let mut ids = self.linkable(uidentity);
        if let Some(client) = &client {
            // The client's uuid is recorded as an account identity of its own person, so that
            // a uuid merged away is still found, and two client uuids are never merged.
            ids.insert(
                0,
                Ranked {
                    identity: Identity::new(UUID_KEY, client.as_str()),
                    strength: Strength::Account,
                    priority: 0,
                },
            );
        }
        if ids.is_empty() {
            return Ok(Attempt::Done(None, Some(UuidSource::Unresolved)));
        }
        let mut known = Vec::with_capacity(ids.len());
        for id in &ids {
            known.push(self.cached.lookup(&id.identity, at).await?);
        }
        let mut work = Work {
            resolver: self,
            sighting,
            person: String::new(),
            accounts: HashMap::new(),
            merges,
            may_merge,
            found_by: None,
        };
        let source = match &client {
            Some(client) => {
                // The person the client's uuid lives on now: itself, or the survivor of a merge.
                work.person = known[0].clone().unwrap_or_else(|| client.clone());
                UuidSource::Client
            }
            None => match work.choose(&ids, &known).await? {
                Some(uuid) => {
                    work.person = uuid;
                    UuidSource::Lookup
                }
                None => {
                    let source = work.mint(&ids[0]).await?;
                    known[0] = Some(work.person.clone());
                    source
                }
            },
        };
        for (id, current) in ids.iter().zip(known) {
            if work.join(id, current).await?.is_raced() {
                self.cached
                    .invalidate(&ids.iter().map(|r| r.identity.clone()).collect::<Vec<_>>())
                    .await;
                return Ok(Attempt::Raced);
            }
        }
        // The record keeps the uuid the client sent, even when it was merged away.
        let uuid = client.unwrap_or(work.person);
        Ok(Attempt::Done(Some(uuid), Some(source)))
    }
}

impl Work<'_> {
    /// When the event was received: the time links are recorded at.
    pub(super) fn at(&self) -> i64 {
        self.sighting.received_at
    }

    /// The known person an event without a uuid belongs to, or `None` when a new one is needed.
    ///
    /// The event's strongest account identity decides when it is known. Otherwise the people
    /// its identities were found on are tried strongest identity first, and the first one that
    /// holds no other value of any account key the event carries is the person: an event is
    /// never attributed to someone with a different userid (or mobile, ...) than its own. An
    /// event without accounts prefers a person with accounts, so that anonymous uuids merge
    /// into a known person rather than the other way round.
    async fn choose(
        &mut self,
        ids: &[Ranked],
        known: &[Option<String>],
    ) -> Result<Option<String>, StoreError> {
        let claims: Vec<&Identity> = ids
            .iter()
            .filter(|id| id.strength == Strength::Account)
            .map(|id| &id.identity)
            .collect();
        if let Some(anchor) = ids.iter().position(|id| id.strength == Strength::Account) {
            if let Some(uuid) = &known[anchor] {
                return Ok(Some(uuid.clone()));
            }
        }
        // Each person once, with the strongest identity that found it.
        let mut candidates: Vec<(&String, &Ranked)> = Vec::new();
        for (id, uuid) in ids.iter().zip(known) {
            if let Some(uuid) = uuid {
                if !candidates.iter().any(|(c, _)| *c == uuid) {
                    candidates.push((uuid, id));
                }
            }
        }
        let mut chosen = None;
        if claims.is_empty() {
            chosen = candidates.first().copied();
            if candidates.len() > 1 {
                for &(candidate, id) in &candidates {
                    if !self.accounts_of(candidate).await?.is_empty() {
                        chosen = Some((candidate, id));
                        break;
                    }
                }
            }
        } else {
            for &(candidate, id) in &candidates {
                let accounts = self.accounts_of(candidate).await?;
                if !claims
                    .iter()
                    .any(|claim| holds_other_value(accounts, claim))
                {
                    chosen = Some((candidate, id));
                    break;
                }
                conflict("not_attributed_to_other_account");
            }
        }
        Ok(chosen.map(|(uuid, id)| {
            self.found_by = Some(id.clone());
            uuid.clone()
        }))
    }

    /// A new person, linked through the event's strongest identity (unknown here: no account
    /// of the event is known, and every person its devices were found on was refused). Whoever
    /// inserts that link first decides the uuid.
    async fn mint(&mut self, strongest: &Ranked) -> Result<UuidSource, StoreError> {
        let minted = Uuid::now_v7().to_string();
        let cached = &self.resolver.cached;
        let linked = if strongest.strength == Strength::Account {
            match cached
                .link_account(&strongest.identity, &minted, self.at())
                .await?
            {
                AccountLink::OnOther(winner) => winner,
                AccountLink::Linked | AccountLink::Clash => minted.clone(),
            }
        } else {
            cached.link(&strongest.identity, &minted, self.at()).await?
        };
        if linked == minted {
            let accounts = match strongest.strength {
                Strength::Account => vec![strongest.identity.clone()],
                Strength::Device => Vec::new(),
            };
            self.accounts.insert(minted.clone(), accounts);
            self.person = minted;
            Ok(UuidSource::New)
        } else {
            self.person = linked;
            Ok(UuidSource::Lookup)
        }
    }

    /// The account identities of `uuid`, read once per attempt.
    pub(super) async fn accounts_of(&mut self, uuid: &str) -> Result<&[Identity], StoreError> {
        if !self.accounts.contains_key(uuid) {
            let keys = self.resolver.rules.account_keys();
            let held = self.resolver.cached.identities_under(uuid, &keys).await?;
            self.accounts.insert(uuid.to_owned(), held);
        }
        Ok(&self.accounts[uuid])
    }
}

/// Whether `held` has another value under the key of `identity`.
pub(super) fn holds_other_value(held: &[Identity], identity: &Identity) -> bool {
    held.iter()
        .any(|h| h.key == identity.key && h.value != identity.value)
}

pub(super) fn conflict(reason: &'static str) {
    metrics::counter!("slog_identity_conflicts_total", "reason" => reason).increment(1);
}
