//! The printed report: the summary table and the pattern breakdown on stdout, the false merges
//! and a few split people on stderr (with sample events, to see why).
use super::{Score, Tally};
use crate::truth::Truth;
use std::collections::BTreeMap;

/// Split people printed as examples.
const SPLIT_EXAMPLES: usize = 8;
/// False merges printed in full (all are counted).
const FALSE_MERGES_PRINTED: usize = 40;

fn shared(labels: &[String]) -> String {
    if labels.is_empty() {
        "no value in common (chained)".to_owned()
    } else {
        labels.join(", ")
    }
}

fn pct(n: usize, of: usize) -> f64 {
    100.0 * n as f64 / of.max(1) as f64
}

impl Score {
    /// Prints the report; `seconds` is how long posting took.
    pub fn print(&self, truth: &Truth, seconds: f64) {
        let person = |p: usize| match &truth.people[p].userid {
            Some(u) => format!("person {p} (userid {u})"),
            None => format!("person {p} (no userid)"),
        };
        let uidentity = |i: usize| truth.events[i].body["uidentity"].to_string();
        for m in self.false_merges.iter().take(FALSE_MERGES_PRINTED) {
            let people: Vec<String> = m
                .people
                .iter()
                .map(|&(p, n, i)| format!("{} with {n} events, e.g. {}", person(p), uidentity(i)))
                .collect();
            eprintln!(
                "false merge on {} (shared: {}): {}",
                m.uuid,
                shared(&m.shared),
                people.join("; ")
            );
        }
        if self.false_merges.len() > FALSE_MERGES_PRINTED {
            eprintln!(
                "... and {} more false merges",
                self.false_merges.len() - FALSE_MERGES_PRINTED
            );
        }
        // One example per pattern (the first split person showing it), so each cause shows.
        let mut shown: Vec<usize> = Vec::new();
        for name in &truth.patterns {
            let example = self.splits.iter().find(|s| {
                truth.people[s.person].patterns.contains(name) && !shown.contains(&s.person)
            });
            let Some(s) = example.filter(|_| shown.len() < SPLIT_EXAMPLES) else {
                continue;
            };
            shown.push(s.person);
            let uuids: Vec<String> = s.uuids.iter().map(|(u, n)| format!("{u} ({n})")).collect();
            eprintln!(
                "split, example for \"{name}\": {} on {}; off its main uuid, e.g. {}",
                person(s.person),
                uuids.join(", "),
                uidentity(s.sample)
            );
        }
        let t = &self.total;
        let refused: usize = self.refused.values().sum();
        println!("| measure | value |");
        println!("|---|---|");
        println!("| events accepted | {} of {} |", self.accepted, self.posted);
        println!(
            "| events refused | {refused} ({:.2}%) |",
            pct(refused, self.posted)
        );
        println!(
            "| accepted events without a uuid | {} ({:.2}%) |",
            self.without_uuid,
            pct(self.without_uuid, self.accepted)
        );
        if self.lost > 0 {
            println!(
                "| accepted events missing from the topics | {} |",
                self.lost
            );
        }
        println!(
            "| attributable events on the right person, merges applied | {} of {} ({:.2}%) |",
            t.right_after_merges,
            t.attributable,
            pct(t.right_after_merges, t.attributable)
        );
        println!(
            "| attributable events on the right person, as emitted | {} of {} ({:.2}%) |",
            t.right_as_emitted,
            t.attributable,
            pct(t.right_as_emitted, t.attributable)
        );
        println!(
            "| events of devices never joined to an account (not scored) | {} |",
            self.unattributable
        );
        println!(
            "| events of an account no event joins to the person's userid (not scored) | {} |",
            self.unjoined
        );
        println!(
            "| anonymous events on shared browsers (ambiguous, not scored) | {} |",
            self.ambiguous
        );
        println!(
            "| events with no usable identity (not scored) | {} |",
            self.no_identity
        );
        println!(
            "| false merges: two userids on one person | {} |",
            self.account_false_merges()
        );
        println!(
            "| false merges, any (people sharing one person's uuid, anonymous-only people included) | {} uuids, {} people |",
            self.false_merges.len(),
            t.falsely_merged
        );
        println!(
            "| attributable events on another person's uuid | {} |",
            self.misattributed
        );
        println!(
            "| split people (attributable events on several final uuids) | {} of {} |",
            t.split, t.scored
        );
        println!("| identity-merge messages | {} |", self.merges);
        println!(
            "| ingest | {seconds:.1} s, {:.0} events/s |",
            self.posted as f64 / seconds.max(1e-9)
        );
        if !self.refused.is_empty() {
            println!();
            println!("| refused: code | field | events |");
            println!("|---|---|---|");
            for ((code, field), n) in &self.refused {
                println!("| {code} | {field} | {n} |");
            }
        }
        if !self.false_merges.is_empty() {
            let mut by: BTreeMap<String, usize> = BTreeMap::new();
            for m in &self.false_merges {
                for label in &m.shared {
                    *by.entry(label.clone()).or_default() += 1;
                }
                if m.shared.is_empty() {
                    *by.entry(shared(&m.shared)).or_default() += 1;
                }
            }
            let mut by: Vec<(String, usize)> = by.into_iter().collect();
            by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            println!();
            // A uuid counts under every value its people share: the one slog joined on is among
            // them, others come along (a zero IMEI beside the constant MAC that did the join).
            println!("| false merges: a value the people's events share | uuids (one may count under several) |");
            println!("|---|---|");
            for (label, n) in by {
                println!("| {label} | {n} |");
            }
        }
        println!();
        println!("| pattern | people | attributable events | right, merges applied | right, as emitted | split people | falsely merged people | refused events |");
        println!("|---|---|---|---|---|---|---|---|");
        let row = |name: &str, p: &Tally| {
            println!(
                "| {name} | {} ({:.1}%) | {} | {:.2}% | {:.2}% | {} | {} | {} |",
                p.people,
                pct(p.people, t.people),
                p.attributable,
                pct(p.right_after_merges, p.attributable),
                pct(p.right_as_emitted, p.attributable),
                p.split,
                p.falsely_merged,
                p.refused
            );
        };
        row("everyone", t);
        for (name, p) in &self.patterns {
            row(name, p);
        }
    }
}
