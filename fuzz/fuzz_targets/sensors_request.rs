//! What a Sensors SDK posts to `/sa`: the form (query and body), its data (base64, gzip, crc)
//! and the translation of every message onto slog's model. Never a panic, never a hang.
#![no_main]
use libfuzzer_sys::fuzz_target;
use slog_router::sensors::form::Form;
use slog_router::sensors::payload::{messages, PayloadLimits};
use slog_router::sensors::translate::{to_event, Context};
use slog_router::sensors::SensorsConfig;

const LIMITS: PayloadLimits = PayloadLimits {
    max_decoded_bytes: 1 << 20,
    max_batch_events: 50,
    max_string_bytes: 4096,
};

fuzz_target!(|input: &[u8]| {
    // Up to the first NUL is the query string, the rest the body.
    let (query, body) = match input.iter().position(|&b| b == 0) {
        Some(at) => (std::str::from_utf8(&input[..at]).ok(), &input[at + 1..]),
        None => (None, input),
    };
    let form = Form::parse(query, body);
    let Ok(raw) = messages(&form, LIMITS) else {
        return;
    };
    let config = SensorsConfig::default();
    let context = Context {
        config: &config,
        url_project: form.project.as_deref(),
        received_at: 1_764_000_000_000,
    };
    for message in &raw {
        let _ = to_event(message, &context);
    }
});
