//! A synthetic population for measuring identity accuracy (tracking plan goal 2), with ground truth.
//!
//! People browse anonymously on one to three devices (web browsers, Android and iOS apps, a
//! WeChat mini-program), some register and log in on some of their devices, some buy a course
//! that the server reports with the userid only, and a few share a browser with a family member
//! who logs in on it too. SDK failures are modelled with junk identity values (zeroed idfa/imei,
//! "undefined" browser ids). Every event records which person really sent it.
use crate::truth::{Lane, Person, Sent as TruthEvent, Truth, BROKEN_SDK_VALUES};
use serde_json::{json, Value};

/// A small deterministic PRNG (splitmix64): the same seed gives the same population.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Web,
    Android,
    Ios,
    MiniProgram,
}

/// One device (or browser, or app install) and the identities its SDK reports.
#[derive(Debug, Clone)]
pub struct Device {
    pub kind: DeviceKind,
    pub identities: Value,
    /// The people who use it (two for a shared family browser).
    pub users: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Sent by an SDK before anyone logged in on this device (in this session).
    Anonymous,
    /// Sent by an SDK with the account's identities beside the device's.
    LoggedIn,
    /// Sent by a back end that knows only the userid.
    Server,
}

/// One event to post, with its ground truth.
#[derive(Debug, Clone)]
pub struct Sent {
    pub person: usize,
    pub device: Option<usize>,
    pub origin: Origin,
    /// Simulated time, only used to order the timeline.
    pub at: u64,
    pub body: Value,
}

pub struct Population {
    pub people: usize,
    pub devices: Vec<Device>,
    /// Devices on which their user logged in at some point (they can be linked).
    pub logged_in_devices: Vec<bool>,
    pub registered: Vec<bool>,
    pub events: Vec<Sent>,
}

const PROJECT: &str = "accuracy";

fn pageview(uidentity: Value, url: &str) -> Value {
    json!({"stype": 100, "eid": "pageview", "project": PROJECT, "ps": {"url": url}, "uidentity": uidentity})
}

fn merge_objects(a: &Value, b: &Value) -> Value {
    let mut out = a.as_object().cloned().unwrap_or_default();
    for (k, v) in b.as_object().into_iter().flatten() {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

fn device_identities(rng: &mut Rng, kind: DeviceKind, id: usize) -> Value {
    match kind {
        DeviceKind::Web => {
            let browser = if rng.chance(0.05) {
                "undefined".to_owned()
            } else {
                format!("br-{id}")
            };
            json!({"browserId": browser, "uvId": format!("uv-{id}")})
        }
        DeviceKind::Android => {
            let imei = if rng.chance(0.10) {
                "000000000000000".to_owned()
            } else {
                format!("imei-{id}")
            };
            json!({"deviceUUID": format!("dev-{id}"), "imei": imei, "androidUUID": format!("and-{id}")})
        }
        DeviceKind::Ios => {
            let idfa = if rng.chance(0.15) {
                "00000000-0000-0000-0000-000000000000".to_owned()
            } else {
                format!("idfa-{id}")
            };
            json!({"deviceUUID": format!("dev-{id}"), "idfa": idfa, "iosUUID": format!("ios-{id}")})
        }
        DeviceKind::MiniProgram => json!({"appid": "wx-mp", "openid": format!("op-{id}")}),
    }
}

impl Population {
    pub fn generate(people: usize, seed: u64) -> Population {
        let mut rng = Rng::new(seed);
        let mut devices: Vec<Device> = Vec::new();
        let mut registered = Vec::with_capacity(people);
        let mut accounts = Vec::with_capacity(people);
        let mut own_devices: Vec<Vec<usize>> = vec![Vec::new(); people];
        for (person, owned) in own_devices.iter_mut().enumerate() {
            let is_registered = rng.chance(0.75);
            registered.push(is_registered);
            let mut account = json!({"userid": format!("u-{person}")});
            if rng.chance(0.7) {
                account["mobile"] = json!(format!("138{person:08}"));
            }
            accounts.push(account);
            for _ in 0..rng.range(1, 3) {
                let kind = match rng.range(0, 3) {
                    0 => DeviceKind::Web,
                    1 => DeviceKind::Android,
                    2 => DeviceKind::Ios,
                    _ => DeviceKind::MiniProgram,
                };
                let id = devices.len();
                devices.push(Device {
                    kind,
                    identities: device_identities(&mut rng, kind, id),
                    users: vec![person],
                });
                owned.push(id);
            }
        }
        // A few registered people share a web browser with the next registered person.
        for person in 0..people.saturating_sub(1) {
            let next = person + 1;
            if registered[person] && registered[next] && rng.chance(0.02) {
                if let Some(&web) = own_devices[person]
                    .iter()
                    .find(|&&d| devices[d].kind == DeviceKind::Web && devices[d].users.len() == 1)
                {
                    devices[web].users.push(next);
                    own_devices[next].push(web);
                }
            }
        }

        let mut events = Vec::new();
        let mut logged_in_devices = vec![false; devices.len()];
        for person in 0..people {
            for &d in &own_devices[person] {
                let device = &devices[d];
                let mut at = rng.range(0, 1_000_000);
                // Anonymous browsing first.
                for _ in 0..rng.range(1, 4) {
                    for page in 0..rng.range(1, 4) {
                        events.push(Sent {
                            person,
                            device: Some(d),
                            origin: Origin::Anonymous,
                            at,
                            body: pageview(device.identities.clone(), &format!("/p/{page}")),
                        });
                        at += rng.range(1, 500);
                    }
                    at += rng.range(1_000, 50_000);
                }
                // Then, for registered people, a login on most of their devices.
                if registered[person] && rng.chance(0.8) {
                    logged_in_devices[d] = true;
                    let mut logged = merge_objects(&device.identities, &accounts[person]);
                    if device.kind == DeviceKind::MiniProgram && rng.chance(0.6) {
                        logged["unionid"] = json!(format!("un-{person}"));
                    }
                    for page in 0..rng.range(1, 5) {
                        events.push(Sent {
                            person,
                            device: Some(d),
                            origin: Origin::LoggedIn,
                            at,
                            body: pageview(logged.clone(), &format!("/me/{page}")),
                        });
                        at += rng.range(1, 500);
                    }
                    // Some come back later without logging in again.
                    if rng.chance(0.5) {
                        events.push(Sent {
                            person,
                            device: Some(d),
                            origin: Origin::Anonymous,
                            at: at + rng.range(100_000, 500_000),
                            body: pageview(device.identities.clone(), "/again"),
                        });
                    }
                }
            }
            if registered[person] && rng.chance(0.3) {
                events.push(Sent {
                    person,
                    device: None,
                    origin: Origin::Server,
                    at: rng.range(0, 1_500_000),
                    body: json!({"stype": 100, "eid": "buyCourse", "project": PROJECT,
                        "ps": {"course_name": "新概念英语", "money": 199},
                        "uidentity": {"userid": format!("u-{person}")}}),
                });
            }
        }
        events.sort_by_key(|e| e.at);
        Population {
            people,
            devices,
            logged_in_devices,
            registered,
            events,
        }
    }
}

impl Population {
    /// The ground truth the scorer reads: anonymous events on a shared browser are ambiguous.
    pub fn truth(&self) -> Truth {
        let mut people: Vec<Person> = (0..self.people)
            .map(|p| Person {
                userid: self.registered[p].then(|| format!("u-{p}")),
                patterns: Vec::new(),
            })
            .collect();
        for (d, device) in self.devices.iter().enumerate() {
            for &user in &device.users {
                if device.users.len() > 1 {
                    people[user].patterns.push(SHARED_BROWSER);
                }
                if junk_device(&device.identities) {
                    people[user].patterns.push(JUNK_IDS);
                }
                if self.devices[..d].iter().any(|o| o.users.contains(&user)) {
                    people[user].patterns.push(SEVERAL_DEVICES);
                }
            }
        }
        for (p, person) in people.iter_mut().enumerate() {
            if !self.registered[p] {
                person.patterns.push(ANONYMOUS_ONLY);
            }
            person.patterns.sort_unstable();
            person.patterns.dedup();
        }
        let events = self
            .events
            .iter()
            .map(|e| TruthEvent {
                person: e.person,
                lane: e.device.map_or(Lane::Person(e.person), Lane::Device),
                ambiguous: e.origin == Origin::Anonymous
                    && e.device.is_some_and(|d| self.devices[d].users.len() > 1),
                at: e.at,
                body: e.body.clone(),
            })
            .collect();
        Truth {
            people,
            devices: self.devices.len(),
            patterns: vec![ANONYMOUS_ONLY, SEVERAL_DEVICES, SHARED_BROWSER, JUNK_IDS],
            events,
        }
    }
}

const ANONYMOUS_ONLY: &str = "anonymous only";
const SEVERAL_DEVICES: &str = "several devices";
const SHARED_BROWSER: &str = "shared browser";
const JUNK_IDS: &str = "junk device ids";

fn junk_device(identities: &Value) -> bool {
    identities
        .as_object()
        .into_iter()
        .flatten()
        .any(|(_, v)| v.as_str().is_some_and(|s| BROKEN_SDK_VALUES.contains(&s)))
}
