//! The identity rules on a real (in-memory SQLite) store: each test is one story a user of the
//! topics would recognise.
use super::cached_store::CachedStore;
use super::config::IdentityConfig;
use super::keys::KeyRules;
use super::local_cache::LocalCache;
use super::resolver::{Resolution, Resolver, Sighting};
use super::sql_store::SqlStore;
use super::store::{AccountLink, IdentityStore, MergeNote, MergeOutcome, PendingMerge};
use super::Identity;
use crate::event::UuidSource;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn resolver() -> Resolver {
    let store = SqlStore::open("sqlite::memory:")
        .await
        .expect("in-memory store");
    let config = IdentityConfig::default();
    Resolver::new(
        CachedStore::new(
            Arc::new(store),
            LocalCache::new(1000, Duration::from_secs(60)),
            None,
        ),
        KeyRules::new(&config),
    )
}

fn sighting(received_at: i64) -> Sighting<'static> {
    Sighting {
        project: "zhibo",
        received_at,
        time: received_at,
    }
}

async fn resolve(r: &Resolver, uidentity: Value) -> Resolution {
    r.resolve(uidentity.as_object().unwrap(), true, sighting(1_000))
        .await
        .expect("store answers")
}

fn uuid(res: &Resolution) -> String {
    res.uuid.clone().expect("a uuid")
}

#[tokio::test]
async fn an_unknown_browser_becomes_a_new_person_and_is_found_again() {
    let r = resolver().await;
    let first = resolve(&r, json!({"browserId": "b-1"})).await;
    assert_eq!(first.source, Some(UuidSource::New));
    let again = resolve(&r, json!({"browserId": "b-1"})).await;
    assert_eq!(again.source, Some(UuidSource::Lookup));
    assert_eq!(uuid(&again), uuid(&first));
}

#[tokio::test]
async fn server_side_userid_and_earlier_anonymous_pageviews_meet_on_one_uuid_after_login() {
    let r = resolver().await;
    let anonymous = uuid(&resolve(&r, json!({"browserId": "b-1", "uvId": "v-1"})).await);
    // buyCourse posted by the server, which only knows the account.
    let buyer = uuid(&resolve(&r, json!({"userid": "u-42"})).await);
    assert_ne!(anonymous, buyer, "nothing links them yet");
    // The login event: the browser seen with the account.
    let login = resolve(&r, json!({"browserId": "b-1", "userid": "u-42"})).await;
    assert_eq!(uuid(&login), buyer, "the account decides the person");
    assert_eq!(
        login.merges.len(),
        1,
        "the anonymous history is re-attributed"
    );
    let merge = &login.merges[0];
    assert_eq!(
        (merge.from_uuid.as_str(), merge.to_uuid.as_str()),
        (anonymous.as_str(), buyer.as_str())
    );
    assert_eq!(
        merge.moved.len(),
        2,
        "every identity of the anonymous uuid moves: {merge:?}"
    );
    // From now on the anonymous cookie alone finds the buyer.
    assert_eq!(uuid(&resolve(&r, json!({"uvId": "v-1"})).await), buyer);
}

#[tokio::test]
async fn a_first_login_on_an_anonymous_device_keeps_its_uuid() {
    let r = resolver().await;
    let anonymous = uuid(&resolve(&r, json!({"deviceUUID": "d-1"})).await);
    let login = resolve(&r, json!({"deviceUUID": "d-1", "userid": "u-1"})).await;
    assert_eq!(uuid(&login), anonymous);
    assert!(login.merges.is_empty());
    assert_eq!(
        uuid(&resolve(&r, json!({"userid": "u-1"})).await),
        anonymous
    );
}

#[tokio::test]
async fn two_accounts_on_a_shared_device_stay_two_people() {
    let r = resolver().await;
    let first = uuid(&resolve(&r, json!({"deviceUUID": "ipad", "userid": "mum"})).await);
    let second = resolve(&r, json!({"deviceUUID": "ipad", "userid": "son"})).await;
    assert_ne!(uuid(&second), first, "two userids are never one person");
    assert!(second.merges.is_empty(), "mum's history stays mum's");
    assert_eq!(uuid(&resolve(&r, json!({"userid": "mum"})).await), first);
    // The device now follows whoever used it last.
    assert_eq!(
        uuid(&resolve(&r, json!({"deviceUUID": "ipad"})).await),
        uuid(&second)
    );
}

#[tokio::test]
async fn a_child_registered_with_a_parent_s_mobile_stays_the_child() {
    let r = resolver().await;
    let parent = uuid(&resolve(&r, json!({"mobile": "13800000001", "userid": "parent"})).await);
    let child_device = uuid(&resolve(&r, json!({"deviceUUID": "kid-phone"})).await);
    // The child's login carries the parent's mobile: the event's own userid wins, so it is
    // neither the parent's event nor a reason to merge the child's phone into the parent.
    let login = resolve(
        &r,
        json!({"deviceUUID": "kid-phone", "userid": "child", "mobile": "13800000001"}),
    )
    .await;
    assert_eq!(
        uuid(&login),
        child_device,
        "the child's phone history stays the child's"
    );
    assert!(login.merges.is_empty(), "{:?}", login.merges);
    // The mobile stays where it was: it still finds the parent.
    assert_eq!(
        uuid(&resolve(&r, json!({"mobile": "13800000001"})).await),
        parent
    );
    assert_eq!(
        uuid(&resolve(&r, json!({"userid": "child"})).await),
        child_device
    );
    // The same holds when the child's account is new and has no device history.
    let other = resolve(&r, json!({"mobile": "13800000001", "userid": "child-2"})).await;
    assert_ne!(uuid(&other), parent);
    assert_eq!(other.source, Some(UuidSource::New));
}

#[tokio::test]
async fn a_wechat_user_authorised_before_logging_in_becomes_one_person_at_the_first_joint_event() {
    let r = resolver().await;
    let mini = uuid(
        &resolve(
            &r,
            json!({"appid": "wx-mp", "openid": "o-9", "unionid": "un-9"}),
        )
        .await,
    );
    let site = uuid(&resolve(&r, json!({"userid": "u-9", "browserId": "b-9"})).await);
    assert_ne!(mini, site);
    let joint = resolve(
        &r,
        json!({"appid": "wx-mp", "openid": "o-9", "unionid": "un-9", "userid": "u-9"}),
    )
    .await;
    assert_eq!(joint.merges.len(), 1, "{:?}", joint.merges);
    let merge = &joint.merges[0];
    let survivor = merge.to_uuid.clone();
    assert_eq!(uuid(&joint), survivor);
    // The older uuid survives: the mini-program's.
    assert_eq!(
        (merge.from_uuid.as_str(), survivor.as_str()),
        (site.as_str(), mini.as_str())
    );
    for identity in [
        json!({"unionid": "un-9"}),
        json!({"appid": "wx-mp", "openid": "o-9"}),
        json!({"userid": "u-9"}),
        json!({"browserId": "b-9"}),
    ] {
        assert_eq!(
            uuid(&resolve(&r, identity.clone()).await),
            survivor,
            "{identity}"
        );
    }
}

#[tokio::test]
async fn an_sms_login_and_an_app_login_merge_when_a_profile_names_both() {
    let r = resolver().await;
    let web = uuid(&resolve(&r, json!({"browserId": "b-1", "mobile": "13900000009"})).await);
    let app = uuid(&resolve(&r, json!({"deviceUUID": "d-1", "userid": "u-1"})).await);
    let profile = resolve(&r, json!({"userid": "u-1", "mobile": "13900000009"})).await;
    assert_eq!(profile.merges.len(), 1);
    assert_eq!(uuid(&profile), web, "the older uuid survives");
    assert_eq!(profile.merges[0].from_uuid, app);
    assert_eq!(uuid(&resolve(&r, json!({"deviceUUID": "d-1"})).await), web);
}

#[tokio::test]
async fn two_people_whose_accounts_conflict_never_merge() {
    let r = resolver().await;
    let a = uuid(&resolve(&r, json!({"userid": "a", "mobile": "1"})).await);
    let b = uuid(&resolve(&r, json!({"userid": "b", "unionid": "w"})).await);
    // One event names a's mobile and b's unionid: a and b hold different userids.
    let mixed = resolve(&r, json!({"mobile": "1", "unionid": "w"})).await;
    assert!(mixed.merges.is_empty());
    assert_eq!(uuid(&mixed), a, "the strongest account decides");
    assert_eq!(
        uuid(&resolve(&r, json!({"unionid": "w"})).await),
        b,
        "stays where it was"
    );
}

#[tokio::test]
async fn a_signup_and_the_first_app_login_end_on_one_person() {
    let r = resolver().await;
    let device = uuid(&resolve(&r, json!({"deviceUUID": "d-5"})).await);
    // The back end's signup lands first and makes the account's person...
    let signup = uuid(&resolve(&r, json!({"userid": "u-5", "mobile": "13700000005"})).await);
    assert_ne!(signup, device);
    // ... then the app's login joins the device's anonymous history to it.
    let login = resolve(&r, json!({"deviceUUID": "d-5", "userid": "u-5"})).await;
    assert_eq!(uuid(&login), signup);
    assert_eq!(login.merges.len(), 1);
    assert_eq!(login.merges[0].from_uuid, device);
}

#[tokio::test]
async fn numeric_and_text_ids_are_one_identity() {
    let r = resolver().await;
    let text = uuid(&resolve(&r, json!({"userid": "48672329"})).await);
    assert_eq!(uuid(&resolve(&r, json!({"userid": 48672329})).await), text);
}

#[tokio::test]
async fn a_device_seen_on_too_many_accounts_stops_linking() {
    let r = resolver().await;
    let limit = r.rules().max_accounts_per_device();
    let shared = json!("vendor-constant-1");
    let mut people = Vec::new();
    for n in 0..=limit {
        people.push(uuid(
            &resolve(
                &r,
                json!({"androidUUID": shared, "userid": format!("u-{n}")}),
            )
            .await,
        ));
    }
    let blocked = r.store().store().blocked().await.unwrap();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0].value, "vendor-constant-1");
    assert_eq!(blocked[0].accounts, i64::try_from(limit + 1).unwrap());
    // From now on it is junk: alone it links no one, beside a real device it is ignored.
    let alone = resolve(&r, json!({"androidUUID": shared})).await;
    assert_eq!(
        (alone.uuid, alone.source),
        (None, Some(UuidSource::Unresolved))
    );
    let fresh = resolve(&r, json!({"androidUUID": shared, "deviceUUID": "d-new"})).await;
    assert_eq!(fresh.source, Some(UuidSource::New));
    assert!(!people.contains(&uuid(&fresh)));
}

#[tokio::test]
async fn a_constant_that_brings_in_new_phones_is_blocked_before_their_owners_log_in() {
    let r = resolver().await;
    let limit = r.rules().max_accounts_per_device();
    let owner = uuid(
        &resolve(
            &r,
            json!({"deviceUUID": "d-0", "androidUUID": "rom-constant", "userid": "u-0"}),
        )
        .await,
    );
    // Strangers' phones report the same ANDROID_ID beside their own install ids: each joins
    // the owner (as an app reinstall would) until the constant has brought in too many.
    let mut joined = 0;
    for n in 1..=limit + 3 {
        let stranger = resolve(
            &r,
            json!({"deviceUUID": format!("d-{n}"), "androidUUID": "rom-constant"}),
        )
        .await;
        if uuid(&stranger) == owner {
            joined += 1;
        }
    }
    assert_eq!(
        joined,
        limit + 1,
        "the constant is blocked once it brought in {limit}+1 phones"
    );
    let blocked = r.store().store().blocked().await.unwrap();
    assert_eq!(blocked[0].value, "rom-constant");
    // A real reinstall (one new install id beside a known ANDROID_ID) joins its owner.
    let phone = uuid(
        &resolve(
            &r,
            json!({"deviceUUID": "p-1", "androidUUID": "real-1", "userid": "u-9"}),
        )
        .await,
    );
    let reinstall = resolve(&r, json!({"deviceUUID": "p-2", "androidUUID": "real-1"})).await;
    assert_eq!(uuid(&reinstall), phone);
}

#[tokio::test]
async fn a_uuid_is_merged_at_most_once() {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    let keys = ["userid"];
    for (value, uuid) in [("a", "A"), ("b", "B"), ("c", "C")] {
        store
            .link(&Identity::new("browserId", value), uuid, 1)
            .await
            .unwrap();
    }
    let first = store
        .merge("A", "B", 2, "test", &keys, &note())
        .await
        .unwrap();
    assert_eq!(
        first,
        MergeOutcome::Merged(vec![Identity::new("browserId", "a")])
    );
    // A racing request that still saw A on its own: A is gone, and so is that merge.
    let second = store
        .merge("A", "C", 3, "test", &keys, &note())
        .await
        .unwrap();
    assert!(
        matches!(&second, MergeOutcome::Gone { uuid, into, .. } if uuid == "A" && into == "B"),
        "{second:?}"
    );
    assert_eq!(
        store
            .lookup(&Identity::new("browserId", "a"))
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "B"
    );
    // Merging into a uuid that is gone follows nothing either.
    let third = store
        .merge("C", "A", 4, "test", &keys, &note())
        .await
        .unwrap();
    assert!(matches!(third, MergeOutcome::Gone { .. }), "{third:?}");
}

fn note() -> MergeNote {
    MergeNote {
        event_id: uuid::Uuid::now_v7(),
        project: "zhibo".into(),
        time: 1,
        trigger: Identity::new("browserId", "a"),
    }
}

/// A store with two people: browser `a` on uuid A, browser `b` on uuid B.
async fn two_browsers() -> SqlStore {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    for (value, uuid) in [("a", "A"), ("b", "B")] {
        store
            .link(&Identity::new("browserId", value), uuid, 1)
            .await
            .unwrap();
    }
    store
}

#[tokio::test]
async fn a_merge_stays_in_the_outbox_until_its_record_is_delivered() {
    let store = two_browsers().await;
    let first = note();
    let merged = store.merge("A", "B", 2, "test", &[], &first).await.unwrap();
    assert!(matches!(merged, MergeOutcome::Merged(_)), "{merged:?}");
    // Refused and lost races leave nothing to announce.
    assert_eq!(
        store
            .merge("A", "B", 3, "test", &[], &note())
            .await
            .unwrap(),
        MergeOutcome::Gone {
            uuid: "A".into(),
            into: "B".into(),
            swept: vec![]
        }
    );

    assert!(
        store.pending_merges(2, 10).await.unwrap().is_empty(),
        "only merges received before 2"
    );
    let pending = store.pending_merges(3, 10).await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    let PendingMerge {
        project,
        received_at,
        time,
        merge,
    } = &pending[0];
    assert_eq!((project.as_str(), *received_at, *time), ("zhibo", 2, 1));
    assert_eq!(merge.event_id, first.event_id);
    assert_eq!(
        (merge.from_uuid.as_str(), merge.to_uuid.as_str()),
        ("A", "B")
    );
    assert_eq!(merge.trigger, Identity::new("browserId", "a"));
    assert_eq!(merge.moved, vec![Identity::new("browserId", "a")]);

    store.merges_delivered(&[first.event_id]).await.unwrap();
    assert!(store.pending_merges(i64::MAX, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn forgetting_a_person_drops_their_unsent_merges() {
    let store = two_browsers().await;
    store
        .merge("A", "B", 2, "test", &[], &note())
        .await
        .unwrap();
    store.forget("B").await.unwrap();
    assert!(store.pending_merges(i64::MAX, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_merge_that_would_join_two_values_of_an_account_key_is_refused() {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    store
        .link(&Identity::new("userid", "x"), "X", 1)
        .await
        .unwrap();
    store
        .link(&Identity::new("userid", "y"), "Y", 1)
        .await
        .unwrap();
    let outcome = store
        .merge("X", "Y", 2, "test", &["userid"], &note())
        .await
        .unwrap();
    assert_eq!(outcome, MergeOutcome::Refused);
    assert_eq!(
        store
            .lookup(&Identity::new("userid", "x"))
            .await
            .unwrap()
            .unwrap()
            .uuid,
        "X"
    );
}

#[tokio::test]
async fn an_account_linked_beside_another_value_of_its_key_is_undone() {
    let store = SqlStore::open("sqlite::memory:").await.unwrap();
    let first = Identity::new("userid", "x");
    let second = Identity::new("userid", "y");
    assert_eq!(
        store.link_account(&first, "P", 1).await.unwrap(),
        AccountLink::Linked
    );
    assert_eq!(
        store.link_account(&second, "P", 1).await.unwrap(),
        AccountLink::Clash
    );
    assert_eq!(store.lookup(&second).await.unwrap(), None);
    assert_eq!(
        store.link_account(&first, "Q", 1).await.unwrap(),
        AccountLink::OnOther("P".to_owned())
    );
}

#[tokio::test]
async fn junk_values_link_no_one() {
    let r = resolver().await;
    let zeros = "00000000-0000-0000-0000-000000000000";
    let a = uuid(&resolve(&r, json!({"idfa": zeros, "deviceUUID": "d-a"})).await);
    let b = uuid(&resolve(&r, json!({"idfa": zeros, "deviceUUID": "d-b"})).await);
    assert_ne!(a, b);
    let nothing = resolve(&r, json!({"imei": "null", "browserId": "undefined"})).await;
    assert_eq!(
        (nothing.uuid, nothing.source),
        (None, Some(UuidSource::Unresolved))
    );
}

#[tokio::test]
async fn a_client_uuid_is_the_person_and_absorbs_anonymous_devices() {
    let r = resolver().await;
    let anonymous = uuid(&resolve(&r, json!({"idfa": "i-1"})).await);
    let res = resolve(
        &r,
        json!({"uuid": "crm-7", "idfa": "i-1", "mobile": "13900000000"}),
    )
    .await;
    assert_eq!(
        (uuid(&res), res.source),
        ("crm-7".to_owned(), Some(UuidSource::Client))
    );
    assert_eq!(res.merges.len(), 1);
    assert_eq!(res.merges[0].from_uuid, anonymous);
    assert_eq!(
        uuid(&resolve(&r, json!({"mobile": "13900000000"})).await),
        "crm-7"
    );
    // The client's uuid now counts as an account: a later login of another userid on that
    // device does not merge crm-7 away.
    let other = resolve(&r, json!({"idfa": "i-1", "userid": "someone-else"})).await;
    assert!(other.merges.is_empty());
}

#[tokio::test]
async fn openids_of_two_apps_are_two_identities() {
    let r = resolver().await;
    let a = uuid(&resolve(&r, json!({"appid": "wx-a", "openid": "o-1"})).await);
    let b = uuid(&resolve(&r, json!({"appid": "wx-b", "openid": "o-1"})).await);
    assert_ne!(a, b);
    // unionid spans apps: seen with both openids, the two uuids are one person.
    let u = uuid(
        &resolve(
            &r,
            json!({"appid": "wx-a", "openid": "o-1", "unionid": "un-1"}),
        )
        .await,
    );
    let joined = resolve(
        &r,
        json!({"appid": "wx-b", "openid": "o-1", "unionid": "un-1"}),
    )
    .await;
    assert_eq!(uuid(&joined), u);
    assert_eq!(
        joined.merges.len(),
        1,
        "app b's anonymous uuid merges into the person"
    );
}

#[tokio::test]
async fn events_that_need_no_uuid_link_nothing() {
    let r = resolver().await;
    let res = r
        .resolve(
            json!({"browserId": "b-9"}).as_object().unwrap(),
            false,
            sighting(1),
        )
        .await
        .unwrap();
    assert_eq!((res.uuid, res.source), (None, None));
    assert_eq!(
        r.store()
            .store()
            .lookup(&Identity::new("browserId", "b-9"))
            .await
            .unwrap()
            .map(|found| found.uuid),
        None
    );
}

#[tokio::test]
async fn racing_resolutions_of_the_same_new_identities_agree() {
    let r = Arc::new(resolver().await);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move {
                uuid(&resolve(&r, json!({"deviceUUID": "d-r", "uvId": "v-r"})).await)
            })
        })
        .collect();
    let mut uuids = Vec::new();
    for t in tasks {
        uuids.push(t.await.unwrap());
    }
    uuids.dedup();
    assert_eq!(uuids.len(), 1, "{uuids:?}");
}
