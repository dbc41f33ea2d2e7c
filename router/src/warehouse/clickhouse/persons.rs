//! Who each merged uuid counts as: the end of its merge chain, computed from the merges a loader
//! can see and written with the chain's length. Merges only extend chains (a uuid is merged at
//! most once), so of two answers for one uuid the longer chain is the truer, and `wh_persons`
//! keeps the row with the greatest depth. Several loaders writing concurrently therefore agree:
//! for each uuid, the loader that stored the last link of its chain saw every earlier link and
//! wrote the full chain.
use std::collections::{HashMap, HashSet};

/// Longest chain followed; longer ones (or cycles) can only come from damaged data.
pub const MAX_CHAIN: u32 = 1000;

/// One `wh_persons` row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PersonRow {
    pub uuid: String,
    pub person: String,
    pub depth: u32,
}

/// The persons of every merged uuid of `merges` (from → to). A uuid on a cycle gets no row.
pub fn resolve(merges: &HashMap<String, String>) -> Vec<PersonRow> {
    let mut rows = Vec::with_capacity(merges.len());
    for from in merges.keys() {
        let mut seen = HashSet::new();
        let mut current = from;
        let mut depth = 0;
        let end = loop {
            match merges.get(current) {
                Some(next) if depth < MAX_CHAIN && seen.insert(current) => {
                    current = next;
                    depth += 1;
                }
                Some(_) => break None,
                None => break Some(current),
            }
        };
        match end {
            Some(person) if person != from => rows.push(PersonRow {
                uuid: from.clone(),
                person: person.clone(),
                depth,
            }),
            _ => tracing::warn!(uuid = %from, "merge chain closes a cycle; not applied"),
        }
    }
    rows.sort_by(|a, b| a.uuid.cmp(&b.uuid));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[(&str, &str)]) -> HashMap<String, String> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn a_chain_points_every_member_at_its_end() {
        let rows = resolve(&edges(&[("A", "B"), ("B", "C"), ("X", "C")]));
        let got: Vec<(&str, &str, u32)> = rows
            .iter()
            .map(|r| (r.uuid.as_str(), r.person.as_str(), r.depth))
            .collect();
        assert_eq!(got, [("A", "C", 2), ("B", "C", 1), ("X", "C", 1)]);
    }

    #[test]
    fn a_partial_view_gives_a_shallower_answer_than_the_full_one() {
        let partial = resolve(&edges(&[("A", "B")]));
        let full = resolve(&edges(&[("A", "B"), ("B", "C")]));
        let depth = |rows: &[PersonRow]| rows.iter().find(|r| r.uuid == "A").unwrap().depth;
        assert!(depth(&full) > depth(&partial));
    }

    #[test]
    fn a_cycle_is_not_applied() {
        assert!(resolve(&edges(&[("A", "B"), ("B", "A")])).is_empty());
    }
}
