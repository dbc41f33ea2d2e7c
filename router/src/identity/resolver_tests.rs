//! The identity rules on a real (in-memory SQLite) store: each test is one story a user of the
//! topics would recognise.
use super::cached_store::CachedStore;
use super::config::IdentityConfig;
use super::keys::KeyRules;
use super::local_cache::LocalCache;
use super::resolver::{Resolution, Resolver, UuidSource};
use super::sql_store::SqlStore;
use super::Identity;
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

async fn resolve(r: &Resolver, uidentity: Value) -> Resolution {
    r.resolve(uidentity.as_object().unwrap(), true, 1_000)
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
async fn a_second_value_of_an_account_key_never_joins_the_person() {
    let r = resolver().await;
    let person = uuid(&resolve(&r, json!({"mobile": "13800000001", "userid": "u-1"})).await);
    // A message claiming another userid beside the known mobile: the mobile decides the person,
    // and u-2 is not linked to it.
    let mixed = resolve(&r, json!({"mobile": "13800000001", "userid": "u-2"})).await;
    assert_eq!(uuid(&mixed), person);
    let u2 = resolve(&r, json!({"userid": "u-2"})).await;
    assert_ne!(uuid(&u2), person);
    assert_eq!(u2.source, Some(UuidSource::New));
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
        .resolve(json!({"browserId": "b-9"}).as_object().unwrap(), false, 1)
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
