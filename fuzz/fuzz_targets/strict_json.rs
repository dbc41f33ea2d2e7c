//! slog's strict JSON against serde_json on the same bytes: whatever strict accepts, serde_json
//! accepts as the same value; whatever serde_json accepts without a repeated key or an over-long
//! string, strict accepts too. And neither panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use slog_router::strict_json::{self, StrictJsonError};

const CAP: usize = 64;

fuzz_target!(|bytes: &[u8]| {
    let strict = strict_json::parse(bytes, CAP);
    let plain = serde_json::from_slice::<Value>(bytes);
    match (&strict, &plain) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "strict and serde_json read different values"),
        (Ok(_), Err(e)) => panic!("strict accepted what serde_json refuses: {e}"),
        (Err(StrictJsonError::Syntax(_)), Ok(_)) => {
            panic!("strict called valid JSON a syntax error")
        }
        (Err(StrictJsonError::Syntax(_)), Err(_)) => {}
        (Err(StrictJsonError::DuplicateKey { .. } | StrictJsonError::StringTooLong { .. }), _) => {}
    }
    if let (Err(_), Ok(value)) = (&strict, &plain) {
        // Refused by a rule: the value must break it (serde_json kept the last of a repeated
        // key, so a duplicate can hide; a long string cannot).
        if !has_long_string(value) {
            assert!(
                matches!(strict, Err(StrictJsonError::DuplicateKey { .. })),
                "refused {strict:?} but no string is over the cap"
            );
        }
    }
});

fn has_long_string(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() > CAP,
        Value::Array(items) => items.iter().any(has_long_string),
        Value::Object(map) => map.iter().any(|(k, v)| k.len() > CAP || has_long_string(v)),
        _ => false,
    }
}
