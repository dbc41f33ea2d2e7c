//! What a warehouse does with slog's identity output, for the identity tests: follow the
//! `identity_merge` records of the users topic from a uuid to its survivor.
use serde_json::Value;
use std::collections::HashMap;

/// `from_uuid` → `to_uuid` of every identity-merge record in `users`. Panics when one uuid was
/// merged into two different survivors: no warehouse could apply both.
pub fn merges(users: &[Value]) -> HashMap<String, String> {
    let mut merged: HashMap<String, String> = HashMap::new();
    for record in users.iter().filter(|r| r["type"] == "identity_merge") {
        let from = record["from_uuid"].as_str().expect("from_uuid").to_owned();
        let to = record["to_uuid"].as_str().expect("to_uuid").to_owned();
        if let Some(earlier) = merged.get(&from) {
            assert_eq!(earlier, &to, "{from} was merged into two survivors");
        }
        merged.insert(from, to);
    }
    merged
}

/// Where `uuid` ends after every merge. Panics on a cycle.
pub fn final_uuid(uuid: &str, merges: &HashMap<String, String>) -> String {
    let mut current = uuid.to_owned();
    for _ in 0..=merges.len() {
        match merges.get(&current) {
            Some(next) => current = next.clone(),
            None => return current,
        }
    }
    panic!("the merges of {uuid} run in a cycle");
}
