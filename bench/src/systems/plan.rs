//! Who the people are: accounts, devices, which patterns each shows, and the pairings between
//! people (a child on a parent's mobile, a family browser, one openid string in two appids).
use super::ids::{self, Device, Kind, MINI_PROGRAMS};
use super::{Gen, Pattern, Plan, MINUTE, SPAN_MS};

impl Gen {
    pub(super) fn plan_people(&mut self, people: usize) {
        for p in 0..people {
            let plan = self.plan_person(p);
            self.people.push(plan);
        }
        self.pair_shared_mobiles();
        self.pair_family_browsers();
        self.collide_openids();
        for p in 0..people {
            let devices = self.people[p].devices.clone();
            for &d in &devices {
                let (listed, vendor) = self.devices[d].constant_ids();
                if listed {
                    self.flag(p, Pattern::ConstantIds);
                }
                if vendor {
                    self.flag(p, Pattern::VendorConstant);
                }
            }
            if devices.len() > 1 {
                self.flag(p, Pattern::SeveralDevices);
            }
            let plan = &self.people[p];
            if plan.userid.is_none() && !plan.lead {
                self.flag(p, Pattern::AnonymousOnly);
            }
        }
    }

    fn add_device(&mut self, plan: &mut Plan, person: usize, kind: Kind) -> usize {
        let used: Vec<String> = plan
            .devices
            .iter()
            .filter(|&&d| self.devices[d].kind == Kind::MiniProgram)
            .filter_map(|&d| Some(self.devices[d].ids.get("appid")?.as_str()?.to_owned()))
            .collect();
        let free: Vec<&str> = MINI_PROGRAMS
            .iter()
            .copied()
            .filter(|a| !used.iter().any(|u| u == a))
            .collect();
        let (kind, appid) = match (kind, free.len()) {
            // The plan has two mini-programs; a third one is a browser instead.
            (Kind::MiniProgram, 0) => (Kind::Web, None),
            (Kind::MiniProgram, n) => (kind, Some(free[self.rng.range(0, n as u64 - 1) as usize])),
            _ => (kind, None),
        };
        let id = self.devices.len();
        let device = Device::new(&mut self.rng, kind, appid, person);
        self.devices.push(device);
        plan.devices.push(id);
        id
    }

    fn plan_person(&mut self, p: usize) -> Plan {
        let rng = &mut self.rng;
        let registered = rng.chance(0.7);
        let start = rng.range(0, SPAN_MS * 6 / 10);
        let mut plan = Plan {
            // Unique, and shaped like the company's numeric account ids.
            userid: registered.then(|| 48_000_000 + p as u64 * 16 + rng.range(0, 15)),
            numeric_backend: registered && rng.chance(0.2),
            mobile: (registered && rng.chance(0.85)).then(|| mobile(rng.range(0, 9), p)),
            lead: rng.chance(0.12),
            start,
            registered_at: start + rng.range(5 * MINUTE, SPAN_MS * 3 / 10),
            ..Plan::default()
        };
        let devices = match rng.range(0, 99) {
            0..=54 => 1,
            55..=84 => 2,
            _ => 3,
        };
        for _ in 0..devices {
            let kind = match self.rng.range(0, 99) {
                0..=29 => Kind::Web,
                30..=44 => Kind::WechatH5,
                45..=64 => Kind::MiniProgram,
                65..=84 => Kind::Android,
                _ => Kind::Ios,
            };
            self.add_device(&mut plan, p, kind);
        }
        let kinds = |g: &Gen, plan: &Plan| -> Vec<Kind> {
            plan.devices.iter().map(|&d| g.devices[d].kind).collect()
        };
        let mini_programs = |g: &Gen, plan: &Plan| {
            kinds(g, plan)
                .iter()
                .filter(|k| **k == Kind::MiniProgram)
                .count()
        };
        if mini_programs(self, &plan) == 1 && self.rng.chance(0.2) {
            self.add_device(&mut plan, p, Kind::MiniProgram);
        }
        if mini_programs(self, &plan) == 2 {
            plan.patterns.insert(Pattern::TwoMiniPrograms);
        }
        if kinds(self, &plan).iter().any(|k| k.is_wechat()) {
            plan.unionid = Some(ids::unionid(&mut self.rng));
        }
        if plan.lead {
            plan.patterns.insert(Pattern::SalesLead);
            if plan.mobile.is_none() {
                plan.mobile = Some(mobile(self.rng.range(0, 9), p));
            }
        }
        if plan.numeric_backend {
            plan.patterns.insert(Pattern::NumericUserid);
        }
        if !registered {
            return plan;
        }
        let has_mp = kinds(self, &plan).contains(&Kind::MiniProgram);
        if has_mp && self.rng.chance(0.3) {
            // The login happens elsewhere: make sure there is an elsewhere.
            if kinds(self, &plan).iter().all(|k| k.is_wechat()) {
                self.add_device(&mut plan, p, Kind::Android);
            }
            plan.patterns.insert(Pattern::UnionidFirst);
        } else if plan.mobile.is_some() && plan.unionid.is_none() && self.rng.chance(0.12) {
            if !kinds(self, &plan).contains(&Kind::Web) {
                self.add_device(&mut plan, p, Kind::Web);
            }
            if !kinds(self, &plan).iter().any(|k| k.is_app()) {
                let kind = if self.rng.chance(0.6) {
                    Kind::Android
                } else {
                    Kind::Ios
                };
                self.add_device(&mut plan, p, kind);
            }
            plan.patterns.insert(Pattern::SmsThenCrm);
        }
        let kinds = kinds(self, &plan);
        let reg = if plan.has(Pattern::SmsThenCrm) {
            kinds.iter().position(|k| *k == Kind::Web)
        } else {
            kinds.iter().position(|k| !k.is_wechat())
        };
        let reg = reg.unwrap_or(0);
        plan.reg_device = Some(plan.devices[reg]);
        if kinds[reg].is_app() && plan.mobile.is_some() && self.rng.chance(0.3) {
            plan.patterns.insert(Pattern::SignupRace);
        }
        plan
    }

    /// A child's account registered with a parent's mobile: person p is the parent, p + 1 the
    /// child, who keeps its own userid and devices.
    fn pair_shared_mobiles(&mut self) {
        for p in 0..self.people.len().saturating_sub(1) {
            let eligible = |plan: &Plan| {
                plan.userid.is_some()
                    && plan.mobile.is_some()
                    && !plan.lead
                    && !plan.has(Pattern::SharedMobile)
                    && !plan.has(Pattern::SmsThenCrm)
            };
            if eligible(&self.people[p]) && eligible(&self.people[p + 1]) && self.rng.chance(0.08) {
                self.people[p + 1].mobile = self.people[p].mobile.clone();
                self.flag(p, Pattern::SharedMobile);
                self.flag(p + 1, Pattern::SharedMobile);
            }
        }
    }

    /// Person p + 1 uses p's web browser too; both are registered and log in on it.
    fn pair_family_browsers(&mut self) {
        for p in 0..self.people.len().saturating_sub(1) {
            let both = self.people[p].userid.is_some() && self.people[p + 1].userid.is_some();
            let free = !self.people[p].has(Pattern::FamilyBrowser)
                && !self.people[p + 1].has(Pattern::FamilyBrowser);
            let web =
                self.people[p].devices.iter().copied().find(|&d| {
                    self.devices[d].kind == Kind::Web && self.devices[d].users.len() == 1
                });
            if let (true, true, Some(web)) = (both, free, web) {
                if self.rng.chance(0.06) {
                    self.devices[web].users.push(p + 1);
                    self.people[p + 1].devices.push(web);
                    self.flag(p, Pattern::FamilyBrowser);
                    self.flag(p + 1, Pattern::FamilyBrowser);
                }
            }
        }
    }

    /// openids are unique only within an appid: some H5 openid of the official account equals a
    /// mini-program openid of someone else.
    fn collide_openids(&mut self) {
        let h5: Vec<usize> = (0..self.devices.len())
            .filter(|&d| self.devices[d].kind == Kind::WechatH5)
            .collect();
        if h5.is_empty() {
            return;
        }
        let mut taken = vec![false; self.devices.len()];
        for d in 0..self.devices.len() {
            if self.devices[d].kind != Kind::MiniProgram || !self.rng.chance(0.03) {
                continue;
            }
            let other = h5[self.rng.range(0, h5.len() as u64 - 1) as usize];
            let (a, b) = (self.devices[d].users[0], self.devices[other].users[0]);
            if a == b || taken[other] || taken[d] {
                continue;
            }
            taken[other] = true;
            taken[d] = true;
            let openid = self.devices[d].ids["openid"].clone();
            self.devices[other].ids.insert("openid".into(), openid);
            self.flag(a, Pattern::OpenidCollision);
            self.flag(b, Pattern::OpenidCollision);
        }
    }
}

/// An 11-digit mainland mobile, unique per person (the last eight digits are the person).
fn mobile(second: u64, person: usize) -> String {
    format!("13{second}{person:08}")
}
