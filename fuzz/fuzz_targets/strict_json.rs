//! slog's strict JSON against serde_json on the same bytes: whatever strict accepts, serde_json
//! accepts as the same value; whatever serde_json accepts without a repeated key or an over-long
//! string, strict accepts too; a refusal for a long string is one. And neither panics.
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
        (Err(StrictJsonError::ReservedKey { .. }), _) => {}
        (Err(StrictJsonError::Syntax(_)), Ok(_)) => {
            panic!("strict called valid JSON a syntax error")
        }
        (Err(StrictJsonError::Syntax(_)), Err(_)) => {}
        (Err(StrictJsonError::DuplicateKey { .. } | StrictJsonError::StringTooLong { .. }), _) => {}
    }
    if let (Err(StrictJsonError::StringTooLong { .. }), Ok(value)) = (&strict, &plain) {
        // serde_json keeps the last of a repeated key, so a long string can hide behind one:
        // then the same bytes without the cap must be refused for the repeated key.
        if !has_long_string(value) {
            assert!(
                matches!(
                    strict_json::parse(bytes, usize::MAX),
                    Err(StrictJsonError::DuplicateKey { .. })
                ),
                "refused {strict:?} but no string is over the cap and no key repeats"
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
