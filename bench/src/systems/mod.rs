//! The "systems" population: people as the tracking plan's systems see them, with ground truth.
//!
//! Each person reaches the company through some of its systems, each reporting the identities it
//! knows: the website (browserId, uvId), H5 pages inside WeChat (browserId, the official
//! account's appid + openid, sometimes the unionid), WeChat mini-programs (appid + openid, the
//! unionid once the user authorises), the Android app (deviceUUID, androidUUID, imei,
//! macAddress), the iOS app (deviceUUID, idfa, iosUUID), back ends (userid only: signup,
//! buyCourse, submitOrder, payOrder), the CRM (profile messages with userid and mobile) and sales
//! leads (mobile, opptunityId, clickId). On top of that, the real-world patterns of [`Pattern`],
//! each at a noticeable rate, are recorded per person so the report can break accuracy down by
//! pattern.
//!
//! - [`plan`]: who the people are, their accounts and devices, and the pairings between people
//!   (shared mobiles, family browsers, colliding openids);
//! - [`ids`]: the identity values each kind of device reports, broken SDK constants included;
//! - [`clients`]: sessions on devices (logins, reinstalls, cookie resets, offline buffering);
//! - [`backend`]: server events, CRM profile messages and sales leads.
//!
//! Deterministic per seed: `epoch_ms` (the simulated timeline's start) only shifts the `time` of
//! offline-buffered events, which slog checks against its clock.
mod backend;
mod clients;
mod ids;
mod plan;
#[cfg(test)]
mod tests;

use crate::population::Rng;
use crate::truth::{Lane, Person, Sent, Truth};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The simulated timeline: people act over 20 hours.
pub const SPAN_MS: u64 = 20 * 3600 * 1000;
const MINUTE: u64 = 60 * 1000;
const PROJECT: &str = "accuracy";

/// The real-world patterns a person's data may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pattern {
    /// A back end sends the userid as a JSON number, the apps as a string.
    NumericUserid,
    /// Some events carry `"uvId": ""` or `"imei": null`.
    EmptyValues,
    /// A child's account registered with a parent's mobile (both sides are marked).
    SharedMobile,
    /// Mini-program events with openid + unionid before any login, then a login elsewhere, then
    /// an event carrying openid, unionid and userid.
    UnionidFirst,
    /// SMS login on the web (mobile only), userid login in the app, a CRM message with both.
    SmsThenCrm,
    /// The signup {userid, mobile} races the app's first login {device ids, userid}.
    SignupRace,
    /// A device reports a constant (broken SDK) value listed in public junk lists.
    ConstantIds,
    /// An Android device reports the vendor constant androidUUID in no list.
    VendorConstant,
    /// An app was reinstalled (new deviceUUID, same androidUUID / idfa).
    Reinstall,
    /// A browser's cookies were reset (new browserId and uvId).
    CookieReset,
    /// An app session was buffered offline and posted late with its own `time`.
    OfflineBuffer,
    /// A payment (orderDetailId only) posted before its order (orderDetailId + userid).
    PaymentFirst,
    /// The same openid string in two appids, belonging to two people (both sides are marked).
    OpenidCollision,
    /// A browser shared with a family member; both log in on it.
    FamilyBrowser,
    /// Two mini-programs: one unionid, two openids.
    TwoMiniPrograms,
    /// A sales lead (mobile, opptunityId, clickId) from the CRM.
    SalesLead,
    /// Two or more devices.
    SeveralDevices,
    /// Never registered, no lead: anonymous device identities only.
    AnonymousOnly,
}

impl Pattern {
    pub const ALL: [Pattern; 18] = [
        Pattern::NumericUserid,
        Pattern::EmptyValues,
        Pattern::SharedMobile,
        Pattern::UnionidFirst,
        Pattern::SmsThenCrm,
        Pattern::SignupRace,
        Pattern::ConstantIds,
        Pattern::VendorConstant,
        Pattern::Reinstall,
        Pattern::CookieReset,
        Pattern::OfflineBuffer,
        Pattern::PaymentFirst,
        Pattern::OpenidCollision,
        Pattern::FamilyBrowser,
        Pattern::TwoMiniPrograms,
        Pattern::SalesLead,
        Pattern::SeveralDevices,
        Pattern::AnonymousOnly,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pattern::NumericUserid => "numeric userid",
            Pattern::EmptyValues => "empty/null values",
            Pattern::SharedMobile => "shared mobile",
            Pattern::UnionidFirst => "unionid first",
            Pattern::SmsThenCrm => "sms login, crm joins",
            Pattern::SignupRace => "signup race",
            Pattern::ConstantIds => "constant device ids",
            Pattern::VendorConstant => "vendor constant androidUUID",
            Pattern::Reinstall => "app reinstall",
            Pattern::CookieReset => "cookie reset",
            Pattern::OfflineBuffer => "offline buffer",
            Pattern::PaymentFirst => "payment before order",
            Pattern::OpenidCollision => "openid in two appids",
            Pattern::FamilyBrowser => "family browser",
            Pattern::TwoMiniPrograms => "two mini-programs",
            Pattern::SalesLead => "sales lead",
            Pattern::SeveralDevices => "several devices",
            Pattern::AnonymousOnly => "anonymous only",
        }
    }
}

/// One person's accounts and plan.
#[derive(Debug, Clone, Default)]
struct Plan {
    userid: Option<u64>,
    /// The back ends (signup, orders, CRM) send the userid as a number.
    numeric_backend: bool,
    mobile: Option<String>,
    unionid: Option<String>,
    lead: bool,
    /// First activity, and the registration (the first login) for registered people.
    start: u64,
    registered_at: u64,
    /// Where the person registered (the first login happens there, at `registered_at`).
    reg_device: Option<usize>,
    devices: Vec<usize>,
    patterns: BTreeSet<Pattern>,
}

impl Plan {
    fn has(&self, p: Pattern) -> bool {
        self.patterns.contains(&p)
    }
}

/// The generator's state while it builds one population.
struct Gen {
    rng: Rng,
    epoch_ms: u64,
    people: Vec<Plan>,
    devices: Vec<ids::Device>,
    events: Vec<Sent>,
}

/// The population of `people` people for `seed`; `epoch_ms` is the wall-clock time of the
/// timeline's start (the accuracy tool uses now minus 22 hours, so every time is in the past).
pub fn generate(people: usize, seed: u64, epoch_ms: u64) -> Truth {
    let mut g = Gen {
        rng: Rng::new(seed),
        epoch_ms,
        people: Vec::new(),
        devices: Vec::new(),
        events: Vec::new(),
    };
    g.plan_people(people);
    for person in 0..people {
        for d in g.people[person].devices.clone() {
            g.client_events(person, d);
        }
        g.backend_events(person);
    }
    g.events.sort_by_key(|e| e.at);
    let people = g
        .people
        .iter()
        .map(|plan| Person {
            userid: plan.userid.map(|u| u.to_string()),
            patterns: plan.patterns.iter().map(|p| p.name()).collect(),
        })
        .collect();
    Truth {
        people,
        devices: g.devices.len(),
        patterns: Pattern::ALL.iter().map(|p| p.name()).collect(),
        events: g.events,
    }
}

impl Gen {
    fn flag(&mut self, person: usize, pattern: Pattern) {
        self.people[person].patterns.insert(pattern);
    }

    fn push(&mut self, person: usize, lane: Lane, ambiguous: bool, at: u64, body: Value) {
        self.events.push(Sent {
            person,
            lane,
            ambiguous,
            at,
            body,
        });
    }

    /// The person's userid as the back ends send it.
    fn backend_userid(&self, person: usize) -> Option<Value> {
        let plan = &self.people[person];
        let id = plan.userid?;
        Some(if plan.numeric_backend {
            json!(id)
        } else {
            json!(id.to_string())
        })
    }
}

fn track(eid: &str, ps: Value, uidentity: Map<String, Value>) -> Value {
    json!({"stype": 100, "eid": eid, "project": PROJECT, "ps": ps, "uidentity": uidentity})
}

/// A profile message: 101 profile_update, 102 profile_insert.
fn profile(stype: u32, ps: Value, uidentity: Map<String, Value>) -> Value {
    json!({"stype": stype, "project": PROJECT, "ps": ps, "uidentity": uidentity})
}

fn identities<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
