use super::*;

#[test]
fn the_same_seed_gives_the_same_population() {
    let a = generate(300, 5, 1_700_000_000_000);
    let b = generate(300, 5, 1_700_000_000_000);
    assert_eq!(a.events.len(), b.events.len());
    assert!(a
        .events
        .iter()
        .zip(&b.events)
        .all(|(x, y)| x.body == y.body && x.at == y.at));
    assert_ne!(generate(300, 6, 1_700_000_000_000).events.len(), 0);
}

#[test]
fn every_pattern_shows_in_a_few_thousand_people() {
    let truth = generate(2000, 1, 1_700_000_000_000);
    for name in &truth.patterns {
        let people = truth
            .people
            .iter()
            .filter(|p| p.patterns.contains(name))
            .count();
        assert!(people >= 10, "{name}: {people} people");
    }
}

#[test]
fn offline_events_carry_their_time_in_the_past_of_their_posting() {
    let epoch = 1_700_000_000_000;
    let truth = generate(1000, 2, epoch);
    let offline: Vec<_> = truth
        .events
        .iter()
        .filter(|e| e.body["use_server_time"] == false)
        .collect();
    assert!(!offline.is_empty());
    for e in offline {
        let time = e.body["time"].as_u64().unwrap();
        assert!(
            time >= epoch && time - epoch < e.at,
            "{time} posted at {}",
            e.at
        );
    }
}

#[test]
fn numeric_userids_are_the_back_ends_and_strings_the_clients() {
    let truth = generate(1000, 3, 1_700_000_000_000);
    let numeric = truth
        .events
        .iter()
        .filter(|e| e.body["uidentity"]["userid"].is_u64());
    let mut numeric = numeric.peekable();
    assert!(numeric.peek().is_some());
    for e in numeric {
        // Server track events (ct 1) or the CRM's profile messages.
        let server = e.body["ps"]["ct"] == 1 || e.body["stype"] != 100;
        assert!(server, "{}", e.body);
    }
}
