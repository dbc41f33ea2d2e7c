//! Sessions on devices: anonymous browsing, logins, mini-program authorisation, app reinstalls,
//! cookie resets, offline-buffered sessions and SDKs sending empty values.
use super::ids::Kind;
use super::{identities, track, Gen, Pattern, MINUTE, SPAN_MS};
use crate::truth::Lane;
use serde_json::{json, Map, Value};

/// What an event's SDK adds to the device's identities.
#[derive(Default)]
struct Extra {
    unionid: bool,
    logged_in: bool,
    /// The first event of the device: empty uvId (cookie not yet written) or null imei (phone
    /// permission not yet granted).
    empty: bool,
}

impl Gen {
    pub(super) fn client_events(&mut self, person: usize, d: usize) {
        let kind = self.devices[d].kind;
        let shared = self.devices[d].users.len() > 1;
        let plan = self.people[person].clone();
        let registered = plan.userid.is_some();
        let is_reg = plan.reg_device == Some(d);
        let unionid_first = plan.has(Pattern::UnionidFirst) && kind == Kind::MiniProgram;
        let sms_app = plan.has(Pattern::SmsThenCrm) && kind.is_app();
        let rng = &mut self.rng;
        // Logins elsewhere come after the registration.
        let login_from = if unionid_first || sms_app {
            (plan.registered_at + rng.range(10 * MINUTE, 120 * MINUTE)).min(SPAN_MS)
        } else {
            plan.registered_at
        };
        // Both members of a family log in on their shared browser.
        let will_login =
            registered && (is_reg || unionid_first || sms_app || shared || rng.chance(0.8));
        let mut times: Vec<u64> = (0..rng.range(1, 5))
            .map(|_| rng.range(plan.start, SPAN_MS))
            .collect();
        if is_reg {
            times.push(plan.registered_at);
        }
        if unionid_first {
            times.push(rng.range(plan.start, plan.registered_at - 1));
            times.push(login_from);
        }
        if sms_app {
            times.push(login_from);
        }
        times.sort_unstable();
        let sessions = times.len();
        // A mini-program's openid survives everything; apps and browsers lose their ids.
        let resettable = !shared && kind != Kind::MiniProgram;
        let reset_at = (resettable && sessions > 1 && rng.chance(0.12))
            .then(|| rng.range(1, sessions as u64 - 1) as usize);
        let offline = (kind.is_app() && !shared && rng.chance(0.12))
            .then(|| rng.range(0, sessions as u64 - 1) as usize);
        let empty_first = match kind {
            Kind::Web => rng.chance(0.10),
            Kind::Android => rng.chance(0.15),
            _ => false,
        };
        let authorised_from = match kind {
            Kind::MiniProgram if unionid_first => Some(0),
            Kind::MiniProgram if rng.chance(0.6) => {
                Some(rng.range(0, sessions as u64 - 1) as usize)
            }
            Kind::WechatH5 if rng.chance(0.4) => Some(0),
            _ => None,
        };

        let mut logged_in = false;
        let mut ever_logged_in = false;
        let mut may_login = will_login;
        for (s, &at) in times.iter().enumerate() {
            if reset_at == Some(s) {
                if kind.is_app() {
                    self.devices[d].reinstall(&mut self.rng);
                    self.flag(person, Pattern::Reinstall);
                } else {
                    self.devices[d].reset_cookies(&mut self.rng);
                    self.flag(person, Pattern::CookieReset);
                }
                logged_in = false;
                // Not everyone logs in again on the fresh install or browser.
                may_login = will_login && (!ever_logged_in || self.rng.chance(0.7));
            }
            if shared {
                // A family browser: whoever uses it logs in (or not) each time.
                logged_in = will_login && at >= login_from && self.rng.chance(0.85);
            } else if may_login && !logged_in && at >= login_from {
                logged_in = true;
            }
            ever_logged_in |= logged_in;
            let extra = Extra {
                unionid: authorised_from.is_some_and(|a| s >= a),
                logged_in,
                empty: empty_first && s == 0,
            };
            let buffered = offline == Some(s) && !(is_reg && at == plan.registered_at);
            let post_delay = buffered.then(|| self.rng.range(20 * MINUTE, 180 * MINUTE));
            self.session(person, d, at, &extra, post_delay);
        }
    }

    /// One session's events; `post_delay` set: buffered offline, posted that much later with the
    /// events' own times.
    fn session(
        &mut self,
        person: usize,
        d: usize,
        start: u64,
        extra: &Extra,
        post_delay: Option<u64>,
    ) {
        let kind = self.devices[d].kind;
        let shared = self.devices[d].users.len() > 1;
        let mut at = start;
        let pages = self.rng.range(1, 4);
        let mut bodies: Vec<(u64, Value)> = Vec::new();
        if kind.is_app() {
            let ps =
                json!({"ct": kind.ct(), "app_version": "5.2.0", "resume_from_background": false});
            bodies.push((at, track("AppStart", ps, Map::new())));
        }
        for page in 0..pages {
            at += self.rng.range(2_000, 60_000);
            let url = match kind {
                Kind::Web => format!("https://www.example.com/course/{page}"),
                Kind::WechatH5 => format!("https://h5.example.com/activity/{page}"),
                Kind::MiniProgram => format!("pages/course/detail?id={page}"),
                Kind::Android | Kind::Ios => format!("app://course/{page}"),
            };
            bodies.push((
                at,
                track("pageview", json!({"ct": kind.ct(), "url": url}), Map::new()),
            ));
        }
        for (i, (time, mut body)) in bodies.into_iter().enumerate() {
            let uidentity = self.client_identities(person, d, extra, i == 0);
            body["uidentity"] = Value::Object(uidentity);
            let post_at = match post_delay {
                Some(delay) => {
                    body["use_server_time"] = json!(false);
                    body["time"] = json!(self.epoch_ms + time);
                    self.flag(person, Pattern::OfflineBuffer);
                    start + delay + i as u64
                }
                None => time,
            };
            let ambiguous = shared && !extra.logged_in;
            self.push(person, Lane::Device(d), ambiguous, post_at, body);
        }
    }

    fn client_identities(
        &mut self,
        person: usize,
        d: usize,
        extra: &Extra,
        first: bool,
    ) -> Map<String, Value> {
        let device = &self.devices[d];
        let plan = &self.people[person];
        let mut ids = device.ids.clone();
        let mut empty = false;
        if extra.empty && first && device.kind == Kind::Web {
            ids.insert("uvId".into(), json!(""));
            empty = true;
        }
        if extra.empty && device.kind == Kind::Android {
            ids.insert("imei".into(), Value::Null);
            empty = true;
        }
        if extra.unionid {
            if let Some(unionid) = &plan.unionid {
                ids.insert("unionid".into(), json!(unionid));
            }
        }
        if extra.logged_in {
            let sms_web = plan.has(Pattern::SmsThenCrm) && device.kind == Kind::Web;
            let account = match (sms_web, plan.userid, &plan.mobile) {
                // SMS login: the web only ever learns the mobile.
                (true, _, Some(mobile)) => identities([("mobile", json!(mobile))]),
                // The apps and pages send the userid as a string, whatever the back ends do.
                (_, Some(userid), _) => identities([("userid", json!(userid.to_string()))]),
                _ => Map::new(),
            };
            ids.extend(account);
        }
        if empty {
            self.flag(person, Pattern::EmptyValues);
        }
        ids
    }
}
