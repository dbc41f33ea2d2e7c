//! Devices and the identity values their SDKs report, with the constants broken SDKs send.
use crate::population::Rng;
use serde_json::{json, Map, Value};

/// The official account whose H5 pages run inside WeChat.
pub(super) const OFFICIAL_ACCOUNT: &str = "wx5c1a2b3c4d5e6f70";
/// Two mini-programs of the same WeChat open platform (one unionid per person across them).
pub(super) const MINI_PROGRAMS: [&str; 2] = ["wx9f8e7d6c5b4a3921", "wx1a2b3c4d5e6f7081"];

pub(super) const ZERO_IDFA: &str = "00000000-0000-0000-0000-000000000000";
pub(super) const ZERO_IMEI: &str = "000000000000000";
pub(super) const ANDROID6_MAC: &str = "02:00:00:00:00:00";
pub(super) const ANDROID22_ID: &str = "9774d56d682e549c";
pub(super) const IOS_NULL: &str = "(null)";
pub(super) const UNDEFINED: &str = "undefined";
/// The vendor constant in no public list: the test of whether junk is detected, not listed.
pub(super) const VENDOR_ANDROID_ID: &str = "a1b2c3d4e5f60718";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Web,
    WechatH5,
    MiniProgram,
    Android,
    Ios,
}

impl Kind {
    pub(super) fn is_app(self) -> bool {
        matches!(self, Kind::Android | Kind::Ios)
    }

    pub(super) fn is_wechat(self) -> bool {
        matches!(self, Kind::WechatH5 | Kind::MiniProgram)
    }

    /// The client type (`ps.ct`) its SDK reports.
    pub(super) fn ct(self) -> u32 {
        match self {
            Kind::Web => 100,
            Kind::WechatH5 => 101,
            Kind::Android => 200,
            Kind::Ios => 300,
            Kind::MiniProgram => 400,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Web => "web",
            Kind::WechatH5 => "h5",
            Kind::MiniProgram => "miniprogram",
            Kind::Android => "android",
            Kind::Ios => "ios",
        }
    }
}

/// One device, browser, mini-program or app install.
#[derive(Debug, Clone)]
pub(super) struct Device {
    pub kind: Kind,
    /// The identities its SDK sends now (reinstalls and cookie resets change them).
    pub ids: Map<String, Value>,
    /// The people who use it (two for a family browser).
    pub users: Vec<usize>,
}

impl Device {
    pub(super) fn new(rng: &mut Rng, kind: Kind, appid: Option<&str>, user: usize) -> Device {
        let mut ids = Map::new();
        let mut set = |k: &str, v: String| {
            ids.insert(k.to_owned(), json!(v));
        };
        match kind {
            Kind::Web | Kind::WechatH5 => {
                // Storage-less WebViews and a JS bug yield "undefined".
                let browser = if rng.chance(0.04) {
                    UNDEFINED.to_owned()
                } else {
                    hex(rng, 32)
                };
                set("browserId", browser);
                if kind == Kind::Web {
                    set("uvId", format!("uv{}", hex(rng, 20)));
                } else {
                    set("appid", OFFICIAL_ACCOUNT.to_owned());
                    set("openid", openid(rng));
                }
            }
            Kind::MiniProgram => {
                set("appid", appid.unwrap_or(MINI_PROGRAMS[0]).to_owned());
                set("openid", openid(rng));
            }
            Kind::Android => {
                set("deviceUUID", uuid(rng));
                let android_id = if rng.chance(0.02) {
                    ANDROID22_ID.to_owned()
                } else if rng.chance(0.05) {
                    VENDOR_ANDROID_ID.to_owned()
                } else {
                    hex(rng, 16)
                };
                set("androidUUID", android_id);
                let imei = if rng.chance(0.10) {
                    ZERO_IMEI.to_owned()
                } else {
                    format!("86{:013}", rng.next_u64() % 10_000_000_000_000)
                };
                set("imei", imei);
                // Android 6+ returns the constant to apps without the privileged permission.
                let mac = if rng.chance(0.6) {
                    ANDROID6_MAC.to_owned()
                } else {
                    mac(rng)
                };
                set("macAddress", mac);
            }
            Kind::Ios => {
                set("deviceUUID", uuid(rng));
                // Limited ad tracking (and, since iOS 14, no ATT consent) zeroes the idfa.
                let idfa = if rng.chance(0.30) {
                    ZERO_IDFA.to_owned()
                } else {
                    uuid(rng).to_uppercase()
                };
                set("idfa", idfa);
                let vendor = if rng.chance(0.05) {
                    IOS_NULL.to_owned()
                } else {
                    uuid(rng).to_uppercase()
                };
                set("iosUUID", vendor);
            }
        }
        Device {
            kind,
            ids,
            users: vec![user],
        }
    }

    /// The app was reinstalled: the user center hands out a new deviceUUID; the hardware ids
    /// (androidUUID, imei, mac, idfa) stay. iOS also resets the vendor id (iosUUID) when the
    /// vendor's last app goes.
    pub(super) fn reinstall(&mut self, rng: &mut Rng) {
        self.ids.insert("deviceUUID".into(), json!(uuid(rng)));
        if self.kind == Kind::Ios && self.ids["iosUUID"] != IOS_NULL {
            self.ids
                .insert("iosUUID".into(), json!(uuid(rng).to_uppercase()));
        }
    }

    /// The browser's cookies and storage were cleared: new browserId and uvId.
    pub(super) fn reset_cookies(&mut self, rng: &mut Rng) {
        if self.ids["browserId"] != UNDEFINED {
            self.ids.insert("browserId".into(), json!(hex(rng, 32)));
        }
        if self.ids.contains_key("uvId") {
            self.ids
                .insert("uvId".into(), json!(format!("uv{}", hex(rng, 20))));
        }
    }

    /// Carries a constant value broken SDKs send for every device alike.
    pub(super) fn constant_ids(&self) -> (bool, bool) {
        let vendor = self
            .ids
            .get("androidUUID")
            .is_some_and(|v| v == VENDOR_ANDROID_ID);
        let listed = self.ids.values().any(|v| {
            [
                ZERO_IDFA,
                ZERO_IMEI,
                ANDROID6_MAC,
                ANDROID22_ID,
                IOS_NULL,
                UNDEFINED,
            ]
            .iter()
            .any(|c| v == c)
        });
        (listed, vendor)
    }
}

pub(super) fn hex(rng: &mut Rng, digits: usize) -> String {
    let mut s = String::with_capacity(digits + 16);
    while s.len() < digits {
        s.push_str(&format!("{:016x}", rng.next_u64()));
    }
    s.truncate(digits);
    s
}

fn uuid(rng: &mut Rng) -> String {
    let h = hex(rng, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn mac(rng: &mut Rng) -> String {
    let h = hex(rng, 12);
    (0..6)
        .map(|i| &h[2 * i..2 * i + 2])
        .collect::<Vec<_>>()
        .join(":")
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(rng: &mut Rng, chars: usize) -> String {
    (0..chars)
        .map(|_| B64[(rng.next_u64() % 64) as usize] as char)
        .collect()
}

/// A WeChat openid: 28 characters starting with "o".
pub(super) fn openid(rng: &mut Rng) -> String {
    format!("o{}", b64(rng, 27))
}

/// A WeChat unionid: 28 characters starting with "oU".
pub(super) fn unionid(rng: &mut Rng) -> String {
    format!("oU{}", b64(rng, 26))
}
