//! Ground truth of a synthetic population: who really sent each event, and in which order and
//! lane the accuracy tool posts it.
//!
//! Both generators ([`crate::population`], [`crate::systems`]) produce a [`Truth`]; the scorer
//! ([`crate::score`]) reads only this and slog's output, never slog's identity rules.
use serde_json::Value;

/// Values broken SDKs send for every device alike. They name no one: the scorer never joins on
/// them (slog may or may not know them; that is what is measured).
pub const BROKEN_SDK_VALUES: &[&str] = &[
    // Android 6+ hides the MAC address behind this constant.
    "02:00:00:00:00:00",
    // The Android 2.2 ANDROID_ID bug, still sent by old ROMs.
    "9774d56d682e549c",
    // An iOS SDK formatting a nil identifier.
    "(null)",
    // idfa with ad tracking limited.
    "00000000-0000-0000-0000-000000000000",
    // IMEI placeholder without the phone permission.
    "000000000000000",
    // One vendor's ROM returns this ANDROID_ID on every device (in no public junk list).
    "a1b2c3d4e5f60718",
    // A JavaScript SDK bug.
    "undefined",
];

/// Identity keys that name a person rather than a device (README "Unified identity").
pub const ACCOUNT_KEYS: &[&str] = &["userid", "mobile", "unionid", "idCard", "email263"];

/// Which concurrent lane an event is posted in (`--concurrency`): events of one lane keep their
/// order, different lanes race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// The device's (or browser's, or app install's) own lane.
    Device(usize),
    /// A back end's event of this person, no device.
    Person(usize),
    /// The lane after this device's: posted concurrently with it on purpose (signup races).
    Beside(usize),
}

impl Lane {
    /// The lane's index among `lanes`.
    pub fn index(self, lanes: usize) -> usize {
        let lanes = lanes.max(1);
        match self {
            Lane::Device(d) => d % lanes,
            Lane::Person(p) => p.wrapping_mul(7).wrapping_add(3) % lanes,
            Lane::Beside(d) => (d + 1) % lanes,
        }
    }
}

/// One event to post.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The person who really sent it.
    pub person: usize,
    pub lane: Lane,
    /// Sent anonymously on a device several people use: nobody can tell whose it is.
    pub ambiguous: bool,
    /// Simulated posting time (ms); the timeline is sorted by it.
    pub at: u64,
    pub body: Value,
}

#[derive(Debug, Clone, Default)]
pub struct Person {
    /// The account's userid, when the person registered (for the false-merge listing).
    pub userid: Option<String>,
    /// The real-world patterns this person's data shows (names from [`Truth::patterns`]).
    pub patterns: Vec<&'static str>,
}

pub struct Truth {
    pub people: Vec<Person>,
    pub devices: usize,
    /// Every pattern name, in report order.
    pub patterns: Vec<&'static str>,
    /// In posting order.
    pub events: Vec<Sent>,
}

impl Truth {
    pub fn registered(&self) -> usize {
        self.people.iter().filter(|p| p.userid.is_some()).count()
    }
}
