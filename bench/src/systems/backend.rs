//! What the back ends send: signups, course purchases, orders and payments (userid and order ids
//! only), CRM profile messages (userid and mobile) and sales leads (mobile, opportunity, click).
use super::ids::hex;
use super::{identities, profile, track, Gen, Pattern, Plan, MINUTE, SPAN_MS};
use crate::truth::Lane;
use serde_json::{json, Value};

const NAMES: [&str; 8] = [
    "王芳", "李伟", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强",
];

impl Gen {
    pub(super) fn backend_events(&mut self, person: usize) {
        let plan = self.people[person].clone();
        if plan.lead {
            self.lead(person, &plan);
        }
        let Some(userid) = self.backend_userid(person) else {
            return;
        };
        let lane = Lane::Person(person);
        let server = |extra: Value| {
            let mut ps = json!({"ct": 1});
            ps.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            ps
        };
        // The SMS signup only ever reported the mobile to the web; the CRM joins them later.
        if !plan.has(Pattern::SmsThenCrm) {
            let reg = plan
                .reg_device
                .expect("registered people have a registration device");
            let mut ids = identities([("userid", userid.clone())]);
            if let Some(mobile) = &plan.mobile {
                ids.insert("mobile".into(), json!(mobile));
            }
            // Normally the account exists before the app's login reaches slog (same lane,
            // first); in a race the two are posted concurrently.
            let (lane, at) = if plan.has(Pattern::SignupRace) {
                (Lane::Beside(reg), plan.registered_at + 1)
            } else {
                (Lane::Device(reg), plan.registered_at.saturating_sub(1))
            };
            let channel = self.devices[reg].kind.name();
            let body = track("signup", server(json!({"channel": channel})), ids);
            self.push(person, lane, false, at, body);
        }
        if self.rng.chance(0.35) {
            for _ in 0..self.rng.range(1, 2) {
                let at = self.rng.range(plan.registered_at, SPAN_MS);
                let ps = server(json!({"course_name": "新概念英语", "money": 199}));
                let body = track("buyCourse", ps, identities([("userid", userid.clone())]));
                self.push(person, lane, false, at, body);
            }
        }
        if self.rng.chance(0.25) {
            for k in 0..self.rng.range(1, 2) {
                self.order(person, &plan, &userid, k);
            }
        }
        let Some(mobile) = &plan.mobile else {
            return;
        };
        if plan.has(Pattern::SmsThenCrm) || self.rng.chance(0.35) {
            let at = if plan.has(Pattern::SmsThenCrm) {
                // After the web's SMS login and the app's userid login.
                SPAN_MS + self.rng.range(MINUTE, 30 * MINUTE)
            } else {
                self.rng.range(plan.registered_at + MINUTE, SPAN_MS)
            };
            let name = NAMES[person % NAMES.len()];
            let ids = identities([("userid", userid.clone()), ("mobile", json!(mobile))]);
            self.push(
                person,
                lane,
                false,
                at,
                profile(102, json!({"name": name}), ids.clone()),
            );
            if self.rng.chance(0.4) {
                let later = at + self.rng.range(MINUTE, 60 * MINUTE);
                self.push(
                    person,
                    lane,
                    false,
                    later,
                    profile(101, json!({"name": name}), ids),
                );
            }
        }
    }

    /// An order and its payment. Usually the order comes first; the payment gateway's callback
    /// (orderDetailId only) sometimes beats it.
    fn order(&mut self, person: usize, plan: &Plan, userid: &Value, k: u64) {
        let order = format!("OD{person:08}{k}");
        let at = self.rng.range(plan.registered_at + MINUTE, SPAN_MS);
        let ps = json!({"ct": 1, "money": 199});
        let submit = track(
            "submitOrder",
            ps.clone(),
            identities([("userid", userid.clone()), ("orderDetailId", json!(order))]),
        );
        let lane = Lane::Person(person);
        if self.rng.chance(0.3) {
            let pay = track(
                "payOrder",
                ps,
                identities([("orderDetailId", json!(order))]),
            );
            self.push(person, lane, false, at, pay);
            let later = at + self.rng.range(2_000, 30_000);
            self.push(person, lane, false, later, submit);
            self.flag(person, Pattern::PaymentFirst);
        } else {
            let pay = track(
                "payOrder",
                ps,
                identities([("userid", userid.clone()), ("orderDetailId", json!(order))]),
            );
            self.push(person, lane, false, at, submit);
            let later = at + self.rng.range(MINUTE, 10 * MINUTE);
            self.push(person, lane, false, later, pay);
        }
    }

    /// A sales lead from an ad: the CRM knows the mobile, its opportunity and the ad's click;
    /// a follow-up names the opportunity only.
    fn lead(&mut self, person: usize, plan: &Plan) {
        let Some(mobile) = &plan.mobile else {
            return;
        };
        let opportunity = format!("OPP{person:08}");
        let at = plan.start.saturating_sub(self.rng.range(0, 60 * MINUTE));
        let mut ids = identities([
            ("mobile", json!(mobile)),
            ("opptunityId", json!(opportunity)),
        ]);
        if self.rng.chance(0.6) {
            ids.insert("clickId".into(), json!(hex(&mut self.rng, 24)));
        }
        let lane = Lane::Person(person);
        let body = profile(102, json!({"lead_channel": "baidu_sem"}), ids);
        self.push(person, lane, false, at, body);
        if self.rng.chance(0.5) {
            let later = at + self.rng.range(30 * MINUTE, 300 * MINUTE);
            let ids = identities([("opptunityId", json!(opportunity))]);
            let body = profile(101, json!({"lead_stage": "contacted"}), ids);
            self.push(person, lane, false, later, body);
        }
    }
}
