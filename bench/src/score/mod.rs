//! The identity accuracy scorer: slog's uuids against the ground truth, without slog's rules.
//!
//! Which events an identity system can attribute comes from the sender's own events only: per
//! person, a union-find over the identity values their events carried (an event joins all of
//! its identities; empty, null and [`BROKEN_SDK_VALUES`] join nothing; an openid is scoped by
//! its appid). An event is attributable when it is in the person's main component (the one
//! holding their userid; without one, the account-bearing component with most events) or the
//! person has a single component; a component holding another account that none of the
//! person's events joins to the main one is not scored (nothing could join it), and neither are
//! anonymous events on a shared browser (ambiguous). Then, with slog's uuid per event
//! and the identity-merge chains applied:
//!
//! - a person's canonical uuid is the final uuid holding most of their attributable events;
//! - a false merge is two or more people with one canonical uuid (a report would count them as
//!   one person); it joins accounts when two of them have (different) userids, the failure that
//!   must never happen; otherwise it is an anonymous-only person on someone's uuid;
//! - a misattributed event is an attributable event on another person's canonical uuid;
//! - a split person has attributable events on more than one final uuid;
//! - refused events and accepted events without a uuid count against accuracy.
//!
//! [`report`] prints the figures; the tests hand-make tiny cases.
mod report;
#[cfg(test)]
mod tests;

use crate::truth::{Truth, ACCOUNT_KEYS, BROKEN_SDK_VALUES};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What became of one posted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted, with the uuid slog gave it (`None`: it has none).
    Accepted(Option<String>),
    /// Refused in the batch answer (`results[i].error`).
    Refused { code: String, field: String },
    /// Accepted, but not found on the output topics.
    Lost,
}

/// A final uuid holding several people: each with their attributable events there and one.
#[derive(Debug)]
pub struct FalseMerge {
    pub uuid: String,
    /// (person, attributable events on the uuid, index of a sample event).
    pub people: Vec<(usize, usize, usize)>,
    /// Two or more of the people have (different) userids: two accounts counted as one person.
    /// Otherwise the people's only userid, if any, met anonymous-only people's events.
    pub accounts: bool,
    /// What events of two or more of these people carried alike: a broken-SDK constant as
    /// `key=value`, another value as `key (one value)`; empty when nothing is (chained merges).
    pub shared: Vec<String>,
}

/// A person whose attributable events end on several final uuids.
#[derive(Debug)]
pub struct Split {
    pub person: usize,
    /// (final uuid, attributable events), most first; with a sample event off the canonical.
    pub uuids: Vec<(String, usize)>,
    pub sample: usize,
}

/// One person's figures (the pattern rows sum them).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub people: usize,
    /// People with at least one attributable event.
    pub scored: usize,
    pub attributable: usize,
    pub right_after_merges: usize,
    pub right_as_emitted: usize,
    pub split: usize,
    pub falsely_merged: usize,
    pub refused: usize,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.people += o.people;
        self.scored += o.scored;
        self.attributable += o.attributable;
        self.right_after_merges += o.right_after_merges;
        self.right_as_emitted += o.right_as_emitted;
        self.split += o.split;
        self.falsely_merged += o.falsely_merged;
        self.refused += o.refused;
    }
}

#[derive(Debug, Default)]
pub struct Score {
    pub posted: usize,
    pub accepted: usize,
    pub lost: usize,
    pub without_uuid: usize,
    /// (code, field) -> events.
    pub refused: BTreeMap<(String, String), usize>,
    pub ambiguous: usize,
    pub no_identity: usize,
    /// Events of a component with no account while the person has several components.
    pub unattributable: usize,
    /// Events of a component with an account that the person's events never join to their
    /// main one (the one with their userid).
    pub unjoined: usize,
    /// Attributable events that landed on another person's canonical uuid.
    pub misattributed: usize,
    pub merges: usize,
    /// Every person summed, then one row per pattern.
    pub total: Tally,
    pub patterns: Vec<(&'static str, Tally)>,
    pub false_merges: Vec<FalseMerge>,
    pub splits: Vec<Split>,
}

/// How the scorer classes an event before looking at slog's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Attributable,
    /// In a component holding an account of the person that none of their events joins to
    /// their main component.
    Unjoined,
    Unattributable,
    Ambiguous,
    NoIdentity,
}

/// The identities an event carries, as the scorer sees them: `key=value`, numbers as their
/// decimal text (48672329 and "48672329" are one userid), openids as `openid=appid:openid`.
pub fn identities(uidentity: &Value) -> Vec<String> {
    values(uidentity, false)
}

/// [`identities`], or with `broken` every non-empty value, broken-SDK constants included (to
/// name what falsely merged people have in common).
fn values(uidentity: &Value, broken: bool) -> Vec<String> {
    let Some(obj) = uidentity.as_object() else {
        return Vec::new();
    };
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let usable = |t: &String| !t.is_empty() && (broken || !BROKEN_SDK_VALUES.contains(&t.as_str()));
    let appid = obj.get("appid").and_then(text).filter(usable);
    let mut out = Vec::new();
    for (key, value) in obj {
        let Some(value) = text(value).filter(usable) else {
            continue;
        };
        match key.as_str() {
            "uuid" | "appid" => {}
            "openid" => {
                if let Some(appid) = &appid {
                    out.push(format!("openid={appid}:{value}"));
                }
            }
            _ => out.push(format!("{key}={value}")),
        }
    }
    out
}

fn is_account(identity: &str) -> bool {
    identity
        .split_once('=')
        .is_some_and(|(k, _)| ACCOUNT_KEYS.contains(&k))
}

/// Classes every event from its sender's own events.
fn classify(truth: &Truth) -> Vec<Class> {
    let mut by_person: Vec<Vec<usize>> = vec![Vec::new(); truth.people.len()];
    for (i, e) in truth.events.iter().enumerate() {
        by_person[e.person].push(i);
    }
    let mut classes = vec![Class::NoIdentity; truth.events.len()];
    for events in by_person {
        let mut nodes: HashMap<String, usize> = HashMap::new();
        let mut parent: Vec<usize> = Vec::new();
        let mut first_node: Vec<Option<usize>> = Vec::with_capacity(events.len());
        for &i in &events {
            let mut first = None;
            for id in identities(&truth.events[i].body["uidentity"]) {
                let next = nodes.len();
                let n = *nodes.entry(id).or_insert_with(|| {
                    parent.push(next);
                    next
                });
                match first {
                    None => first = Some(n),
                    Some(f) => union(&mut parent, f, n),
                }
            }
            first_node.push(first);
        }
        let roots: HashSet<usize> = (0..parent.len()).map(|n| find(&mut parent, n)).collect();
        // The person's own component: the one their userid is in; without a userid, the
        // account-bearing component with the most events. Other components that hold an account
        // (a unionid no event ever showed beside the userid) are people's data that nothing
        // joins: no identity system can attribute them, so they are not scored.
        let person = events.first().map(|&i| truth.events[i].person);
        let userid = person
            .and_then(|p| truth.people[p].userid.as_ref())
            .map(|u| format!("userid={u}"));
        let with_account: HashSet<usize> = nodes
            .iter()
            .filter(|(id, _)| is_account(id))
            .map(|(_, &n)| find(&mut parent, n))
            .collect();
        let main = match userid.as_ref().and_then(|u| nodes.get(u)) {
            Some(&n) => Some(find(&mut parent, n)),
            None => {
                let mut sizes: HashMap<usize, usize> = HashMap::new();
                for n in first_node.iter().flatten() {
                    let root = find(&mut parent, *n);
                    if with_account.contains(&root) {
                        *sizes.entry(root).or_default() += 1;
                    }
                }
                sizes
                    .into_iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                    .map(|(root, _)| root)
            }
        };
        for (&i, first) in events.iter().zip(first_node) {
            classes[i] = match first {
                _ if truth.events[i].ambiguous => Class::Ambiguous,
                None => Class::NoIdentity,
                Some(n) => {
                    let root = find(&mut parent, n);
                    if Some(root) == main || (roots.len() == 1 && main.is_none()) {
                        Class::Attributable
                    } else if with_account.contains(&root) {
                        Class::Unjoined
                    } else {
                        Class::Unattributable
                    }
                }
            };
        }
    }
    classes
}

fn find(parent: &mut [usize], mut n: usize) -> usize {
    while parent[n] != n {
        parent[n] = parent[parent[n]];
        n = parent[n];
    }
    n
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (a, b) = (find(parent, a), find(parent, b));
    if a != b {
        parent[b] = a;
    }
}

/// A value several people carried: constants by value (they are the cause worth naming),
/// anything else by key (a shared mobile, one openid string in two appids).
fn shared_label(identity: &str) -> String {
    match identity.split_once('=') {
        Some((_, v)) if BROKEN_SDK_VALUES.contains(&v) => identity.to_owned(),
        Some((k, _)) => format!("{k} (one value)"),
        None => identity.to_owned(),
    }
}

/// Follows identity-merge records (`from_uuid` -> `to_uuid`) to the surviving uuid.
pub fn final_uuid<'a>(uuid: &'a str, merges: &'a HashMap<String, String>) -> &'a str {
    let mut current = uuid;
    // A cycle (which slog should never emit) ends the walk rather than looping.
    for _ in 0..=merges.len() {
        match merges.get(current) {
            Some(next) => current = next,
            None => break,
        }
    }
    current
}

impl Score {
    /// False merges that put two different userids on one person.
    pub fn account_false_merges(&self) -> usize {
        self.false_merges.iter().filter(|m| m.accounts).count()
    }

    /// `outcomes[i]` is what became of `truth.events[i]`.
    pub fn measure(truth: &Truth, outcomes: &[Outcome], merges: &HashMap<String, String>) -> Score {
        let classes = classify(truth);
        let people = truth.people.len();
        let mut s = Score {
            posted: truth.events.len(),
            merges: merges.len(),
            ..Score::default()
        };
        let mut tallies = vec![
            Tally {
                people: 1,
                ..Tally::default()
            };
            people
        ];
        // Per person: final uuid -> (attributable events there, a sample event).
        let mut on: Vec<BTreeMap<&str, (usize, usize)>> = vec![BTreeMap::new(); people];
        for (i, (sent, outcome)) in truth.events.iter().zip(outcomes).enumerate() {
            let class = classes[i];
            match outcome {
                Outcome::Refused { code, field } => {
                    *s.refused.entry((code.clone(), field.clone())).or_default() += 1;
                    tallies[sent.person].refused += 1;
                }
                Outcome::Lost => s.lost += 1,
                Outcome::Accepted(uuid) => {
                    s.accepted += 1;
                    if uuid.is_none() {
                        s.without_uuid += 1;
                    }
                }
            }
            match class {
                Class::Ambiguous => s.ambiguous += 1,
                Class::NoIdentity => s.no_identity += 1,
                Class::Unattributable => s.unattributable += 1,
                Class::Unjoined => s.unjoined += 1,
                Class::Attributable => {
                    tallies[sent.person].attributable += 1;
                    if let Outcome::Accepted(Some(uuid)) = outcome {
                        let f = final_uuid(uuid, merges);
                        on[sent.person].entry(f).or_insert((0, i)).0 += 1;
                    }
                }
            }
        }
        // Most events first, then the smaller uuid: the same data always picks the same one.
        let canonical: Vec<Option<&str>> = on
            .iter()
            .map(|m| {
                m.iter()
                    .max_by(|a, b| a.1 .0.cmp(&b.1 .0).then(b.0.cmp(a.0)))
                    .map(|(u, _)| *u)
            })
            .collect();
        for (i, (sent, outcome)) in truth.events.iter().zip(outcomes).enumerate() {
            let (Class::Attributable, Outcome::Accepted(Some(uuid))) = (classes[i], outcome) else {
                continue;
            };
            let t = &mut tallies[sent.person];
            if Some(final_uuid(uuid, merges)) == canonical[sent.person] {
                t.right_after_merges += 1;
            }
            if Some(uuid.as_str()) == canonical[sent.person] {
                t.right_as_emitted += 1;
            }
        }
        // Whose person each canonical uuid is: two people on one is a false merge (they would
        // be counted as one person).
        let mut holders: BTreeMap<&str, Vec<(usize, usize, usize)>> = BTreeMap::new();
        for (person, uuids) in on.iter().enumerate() {
            if let Some(c) = canonical[person] {
                let (n, sample) = uuids[c];
                holders.entry(c).or_default().push((person, n, sample));
            }
            if uuids.len() > 1 {
                tallies[person].split = 1;
                let mut list: Vec<(String, usize)> = uuids
                    .iter()
                    .map(|(u, (n, _))| (u.to_string(), *n))
                    .collect();
                list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let sample = uuids
                    .iter()
                    .find(|(u, _)| Some(**u) != canonical[person])
                    .map_or(0, |(_, (_, i))| *i);
                s.splits.push(Split {
                    person,
                    uuids: list,
                    sample,
                });
            }
        }
        let mut carried: HashMap<(&str, usize), HashSet<String>> = HashMap::new();
        for (i, (sent, outcome)) in truth.events.iter().zip(outcomes).enumerate() {
            if let (Class::Attributable, Outcome::Accepted(Some(uuid))) = (classes[i], outcome) {
                let f = final_uuid(uuid, merges);
                if Some(f) != canonical[sent.person] && holders.contains_key(f) {
                    s.misattributed += 1;
                }
                if holders.get(f).is_some_and(|h| h.len() > 1) {
                    let seen = carried.entry((f, sent.person)).or_default();
                    seen.extend(values(&sent.body["uidentity"], true));
                }
            }
        }
        for (uuid, people) in holders {
            if people.len() > 1 {
                for &(p, _, _) in &people {
                    tallies[p].falsely_merged = 1;
                }
                let mut count: HashMap<&String, usize> = HashMap::new();
                for &(p, _, _) in &people {
                    for v in &carried[&(uuid, p)] {
                        *count.entry(v).or_default() += 1;
                    }
                }
                let mut shared: Vec<String> = count
                    .into_iter()
                    .filter(|(_, n)| *n > 1)
                    .map(|(v, _)| shared_label(v))
                    .collect();
                shared.sort();
                shared.dedup();
                let userids: HashSet<&String> = people
                    .iter()
                    .filter_map(|&(p, _, _)| truth.people[p].userid.as_ref())
                    .collect();
                s.false_merges.push(FalseMerge {
                    uuid: uuid.to_owned(),
                    accounts: userids.len() > 1,
                    people,
                    shared,
                });
            }
        }
        for t in tallies.iter_mut() {
            t.scored = usize::from(t.attributable > 0);
            s.total.add(t);
        }
        s.patterns = truth
            .patterns
            .iter()
            .map(|&name| {
                let mut t = Tally::default();
                for (person, tally) in truth.people.iter().zip(&tallies) {
                    if person.patterns.contains(&name) {
                        t.add(tally);
                    }
                }
                (name, t)
            })
            .collect();
        s
    }
}
