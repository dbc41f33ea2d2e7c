use super::*;
use crate::truth::{Lane, Person, Sent};
use serde_json::json;

fn event(person: usize, uidentity: Value) -> Sent {
    Sent {
        person,
        lane: Lane::Person(person),
        ambiguous: false,
        at: 0,
        body: json!({"stype": 100, "eid": "pageview", "project": "t", "uidentity": uidentity}),
    }
}

fn accepted(uuid: &str) -> Outcome {
    Outcome::Accepted(Some(uuid.to_owned()))
}

/// Five people; person 1's device event lands on person 0's uuid (a misattributed event, and
/// person 1 split over two uuids), one of person 1's events is refused, another reaches the right
/// uuid only through a merge record; person 4 lands wholly on person 3's uuid (a false merge).
fn case() -> (Truth, Vec<Outcome>, HashMap<String, String>) {
    let mut shared = event(0, json!({"browserId": "b0"}));
    shared.ambiguous = true;
    let events = vec![
        (
            event(0, json!({"browserId": "b0", "userid": "1"})),
            accepted("U1"),
        ),
        (event(0, json!({"browserId": "b0"})), accepted("U1")),
        (event(0, json!({"userid": "1"})), accepted("U1")),
        (
            event(1, json!({"deviceUUID": "d1", "userid": "2"})),
            accepted("U2"),
        ),
        // The constant MAC joins nothing in the truth; slog put it on person 0.
        (
            event(
                1,
                json!({"deviceUUID": "d1", "macAddress": "02:00:00:00:00:00"}),
            ),
            accepted("U1"),
        ),
        (
            event(1, json!({"userid": 2})),
            Outcome::Refused {
                code: "type_mismatch".into(),
                field: "uidentity.userid".into(),
            },
        ),
        (event(1, json!({"userid": "2"})), accepted("U5")),
        (
            event(2, json!({"browserId": "undefined", "uvId": ""})),
            Outcome::Accepted(None),
        ),
        (event(2, json!({"browserId": "b2"})), accepted("U4")),
        (
            event(3, json!({"deviceUUID": "d3", "userid": "4"})),
            accepted("U6"),
        ),
        // Person 3's browser never saw the account: nothing joins it to them.
        (event(3, json!({"browserId": "b3"})), accepted("U7")),
        (shared, accepted("U2")),
        (event(4, json!({"userid": "5"})), accepted("U6")),
    ];
    let (events, outcomes): (Vec<Sent>, Vec<Outcome>) = events.into_iter().unzip();
    let people = ["1", "2", "", "4", "5"]
        .iter()
        .map(|u| Person {
            userid: (!u.is_empty()).then(|| u.to_string()),
            patterns: if u.is_empty() {
                vec!["anonymous"]
            } else {
                vec![]
            },
        })
        .collect();
    let truth = Truth {
        people,
        devices: 5,
        patterns: vec!["anonymous"],
        events,
    };
    let merges = HashMap::from([("U5".to_owned(), "U2".to_owned())]);
    (truth, outcomes, merges)
}

#[test]
fn one_false_merge_one_misattributed_event_and_one_split() {
    let (truth, outcomes, merges) = case();
    let s = Score::measure(&truth, &outcomes, &merges);
    assert_eq!(s.false_merges.len(), 1);
    assert_eq!(s.false_merges[0].uuid, "U6");
    assert!(s.false_merges[0].accounts, "userids 4 and 5");
    assert_eq!(s.account_false_merges(), 1);
    let people: Vec<usize> = s.false_merges[0].people.iter().map(|p| p.0).collect();
    assert_eq!(people, [3, 4]);
    // Person 3's device and person 4's userid are not in common: nothing is.
    assert!(s.false_merges[0].shared.is_empty());
    assert_eq!(
        s.misattributed, 1,
        "person 1's MAC event on person 0's uuid"
    );
    assert_eq!(s.splits.len(), 1);
    assert_eq!(s.splits[0].person, 1);
    assert_eq!(
        s.splits[0].uuids,
        [("U2".to_owned(), 2), ("U1".to_owned(), 1)]
    );
    assert_eq!(s.total.falsely_merged, 2);
    assert_eq!(s.total.split, 1);
}

#[test]
fn attribution_and_refusals_are_counted() {
    let (truth, outcomes, merges) = case();
    let s = Score::measure(&truth, &outcomes, &merges);
    assert_eq!(s.total.attributable, 10);
    assert_eq!(s.total.right_after_merges, 8);
    assert_eq!(s.total.right_as_emitted, 7);
    assert_eq!(s.ambiguous, 1);
    assert_eq!(s.no_identity, 1);
    assert_eq!(s.unattributable, 1);
    assert_eq!(s.without_uuid, 1);
    assert_eq!(s.accepted, 12);
    let refused = ("type_mismatch".to_owned(), "uidentity.userid".to_owned());
    assert_eq!(s.refused, BTreeMap::from([(refused, 1)]));
    let (name, anonymous) = &s.patterns[0];
    assert_eq!(
        (*name, anonymous.people, anonymous.attributable),
        ("anonymous", 1, 1)
    );
}

#[test]
fn an_account_no_event_joins_to_the_userid_is_not_scored() {
    // A mini-program's openid + unionid that no event of the person shows beside the userid.
    let events = vec![
        event(0, json!({"userid": "9", "browserId": "b"})),
        event(0, json!({"appid": "wx", "openid": "o", "unionid": "w"})),
    ];
    let outcomes = vec![accepted("U"), accepted("W")];
    let truth = Truth {
        people: vec![Person {
            userid: Some("9".into()),
            patterns: vec![],
        }],
        devices: 2,
        patterns: vec![],
        events,
    };
    let s = Score::measure(&truth, &outcomes, &HashMap::new());
    assert_eq!((s.total.attributable, s.unjoined, s.total.split), (1, 1, 0));
}

#[test]
fn identities_normalise_numbers_scope_openids_and_drop_junk() {
    let ids = identities(&json!({
        "uuid": "U", "userid": 48672329, "appid": "wx1", "openid": "o-1",
        "imei": null, "uvId": "", "idfa": "00000000-0000-0000-0000-000000000000"
    }));
    assert_eq!(ids, ["userid=48672329", "openid=wx1:o-1"]);
    assert_eq!(identities(&json!({"openid": "o-1"})), Vec::<String>::new());
}
