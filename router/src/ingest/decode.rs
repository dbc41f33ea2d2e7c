//! Request body decoding: content type, content encoding, size limits, JSON.
//!
//! Limits are applied twice: to the bytes as sent (`max_body_bytes`) and to the bytes after gzip
//! (`max_decoded_bytes`, see `inflate`), so a gzip bomb costs a few MiB and a 413.
use crate::error::{Code, Rejection};
use crate::inflate::{gunzip_limited, InflateError};
use crate::state::Limits;
use crate::strict_json::{self, StrictJsonError};
use axum::http::{header, HeaderMap};
use serde_json::Value;

/// What a request body holds.
#[derive(Debug)]
pub enum Payload {
    One(Value),
    Batch(Vec<Value>),
}

/// Content types an SDK may send. `text/plain` is what `navigator.sendBeacon` sends for a string
/// body, and it spares browsers a CORS preflight.
const ACCEPTED_TYPES: [&str; 2] = ["application/json", "text/plain"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

/// Checks `Content-Type` and `Content-Encoding` before the body is read.
pub fn check_headers(headers: &HeaderMap) -> Result<Encoding, Rejection> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !ACCEPTED_TYPES.contains(&mime.as_str()) {
        return Err(Rejection::field(
            Code::UnsupportedMediaType,
            "Content-Type",
            format!(
                "Content-Type must be application/json (or text/plain), got {:?}",
                content_type
            ),
        ));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    match encoding.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        other => Err(Rejection::field(
            Code::UnsupportedEncoding,
            "Content-Encoding",
            format!("Content-Encoding must be gzip or identity, got {other:?}"),
        )),
    }
}

/// Decompresses (when gzip) and parses the body into one message or a batch.
pub fn decode(body: &[u8], encoding: Encoding, limits: &Limits) -> Result<Payload, Rejection> {
    let inflated;
    let json = match encoding {
        Encoding::Identity => body,
        Encoding::Gzip => {
            inflated = gunzip(body, limits.max_decoded_bytes)?;
            &inflated[..]
        }
    };
    let value = strict_json::parse(json, limits.max_string_bytes).map_err(json_rejection)?;
    match value {
        Value::Array(items) if items.is_empty() => Err(Rejection::request(
            Code::EmptyBatch,
            "a batch must hold at least one event",
        )),
        Value::Array(items) if items.len() > limits.max_batch_events => Err(Rejection::request(
            Code::BatchTooLarge,
            format!(
                "a batch may hold at most {} events, got {}",
                limits.max_batch_events,
                items.len()
            ),
        )),
        Value::Array(items) => Ok(Payload::Batch(items)),
        one => Ok(Payload::One(one)),
    }
}

/// The rejection of a body that is not strict JSON, naming the key or value at fault.
fn json_rejection(e: StrictJsonError) -> Rejection {
    let code = e.code();
    match e.path() {
        "" => Rejection::request(code, format!("the body is not accepted JSON: {e}")),
        path => Rejection::field(code, path, e.to_string()),
    }
}

fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, Rejection> {
    gunzip_limited(body, limit).map_err(|e| match e {
        InflateError::Corrupt(e) => Rejection::field(
            Code::InvalidGzip,
            "Content-Encoding",
            format!("the body is not valid gzip: {e}"),
        ),
        InflateError::TooLarge(limit) => Rejection::request(
            Code::BodyTooLarge,
            format!("the body is larger than {limit} bytes once decompressed"),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    const LIMITS: Limits = Limits {
        max_body_bytes: 1024,
        max_decoded_bytes: 4096,
        max_batch_events: 3,
        max_string_bytes: 32,
    };

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn json_with_charset_and_text_plain_are_accepted() {
        let h = headers(&[(header::CONTENT_TYPE, "application/json; charset=utf-8")]);
        assert_eq!(check_headers(&h).unwrap(), Encoding::Identity);
        let h = headers(&[(header::CONTENT_TYPE, "text/plain;charset=UTF-8")]);
        assert_eq!(check_headers(&h).unwrap(), Encoding::Identity);
    }

    #[test]
    fn form_posts_and_missing_types_are_unsupported_media() {
        for h in [
            headers(&[(header::CONTENT_TYPE, "application/x-www-form-urlencoded")]),
            headers(&[]),
        ] {
            let r = check_headers(&h).unwrap_err();
            assert_eq!(
                (r.code, r.field.as_deref()),
                (Code::UnsupportedMediaType, Some("Content-Type"))
            );
        }
    }

    #[test]
    fn unknown_encodings_are_refused() {
        let h = headers(&[
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "br"),
        ]);
        assert_eq!(
            check_headers(&h).unwrap_err().code,
            Code::UnsupportedEncoding
        );
    }

    #[test]
    fn gzip_bodies_decode_to_the_same_payload() {
        let body = br#"[{"a":1},{"b":2}]"#;
        let Payload::Batch(items) = decode(&gzip(body), Encoding::Gzip, &LIMITS).unwrap() else {
            panic!("expected a batch");
        };
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_decoded_limit() {
        let bomb = gzip(&vec![b' '; 10 * 1024 * 1024]);
        assert!(
            bomb.len() < LIMITS.max_body_bytes * 20,
            "the bomb is small on the wire"
        );
        let r = decode(&bomb, Encoding::Gzip, &LIMITS).unwrap_err();
        assert_eq!(r.code, Code::BodyTooLarge);
    }

    #[test]
    fn corrupt_gzip_and_bad_json_are_400s_with_a_reason() {
        let r = decode(b"not gzip", Encoding::Gzip, &LIMITS).unwrap_err();
        assert_eq!(r.code, Code::InvalidGzip);
        let r = decode(b"{\"a\": }", Encoding::Identity, &LIMITS).unwrap_err();
        assert_eq!(r.code, Code::InvalidJson);
        assert!(r.message.contains("line 1"), "{}", r.message);
    }

    #[test]
    fn duplicate_keys_and_long_strings_name_the_field() {
        let r = decode(br#"{"stype":"x","stype":100}"#, Encoding::Identity, &LIMITS).unwrap_err();
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::DuplicateKey, Some("stype"))
        );
        let body = format!(r#"[{{}},{{"ps":{{"url":"{}"}}}}]"#, "u".repeat(33));
        let r = decode(body.as_bytes(), Encoding::Identity, &LIMITS).unwrap_err();
        assert_eq!(
            (r.code, r.field.as_deref()),
            (Code::StringTooLong, Some("[1].ps.url"))
        );
        assert!(r.message.contains("33 bytes"), "{}", r.message);
    }

    #[test]
    fn empty_and_oversized_batches_are_refused() {
        assert_eq!(
            decode(b"[]", Encoding::Identity, &LIMITS).unwrap_err().code,
            Code::EmptyBatch
        );
        let r = decode(b"[1,2,3,4]", Encoding::Identity, &LIMITS).unwrap_err();
        assert_eq!(r.code, Code::BatchTooLarge);
    }
}
