//! `POST /slog/event` bodies: decode (plain or gzip) and normalise every message. Any input is a
//! value or a rejection naming the rule — never a panic, never a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use slog_router::ingest::decode::{decode, Encoding, Payload};
use slog_router::pipeline::normalize::normalize;
use slog_router::state::Limits;

const LIMITS: Limits = Limits {
    max_body_bytes: 1 << 20,
    max_decoded_bytes: 1 << 20,
    max_batch_events: 50,
    max_string_bytes: 4096,
};
const NOW: i64 = 1_764_000_000_000;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the encoding, so gzip framing is explored too.
    let Some((&selector, body)) = input.split_first() else {
        return;
    };
    let encoding = if selector & 1 == 1 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    };
    let messages = match decode(body, encoding, &LIMITS) {
        Ok(Payload::One(m)) => vec![m],
        Ok(Payload::Batch(ms)) => ms,
        Err(rejection) => {
            assert!(!rejection.message.is_empty());
            return;
        }
    };
    for message in messages {
        if let Err(rejection) = normalize(message, NOW) {
            assert!(!rejection.message.is_empty());
        }
    }
});
