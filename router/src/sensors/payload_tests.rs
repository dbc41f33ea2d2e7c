//! The decoder on requests captured from the real SDKs (`router/tests/fixtures/sensors`), and on
//! every way a body can be broken: each is a 400-class refusal naming the field, never a panic.
use super::*;
use base64::engine::general_purpose::STANDARD as B64;
use flate2::{write::GzEncoder, Compression};
use std::io::Write;

const LIMITS: PayloadLimits = PayloadLimits {
    max_decoded_bytes: 64 * 1024,
    max_batch_events: 50,
    max_string_bytes: 1024,
};

/// Every request of one fixture file: its form, as the handler reads it.
fn captured(file: &str) -> Vec<Form> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sensors/");
    let text = std::fs::read_to_string(format!("{dir}{file}")).expect("fixture");
    text.lines()
        .map(|line| {
            let request: Value = serde_json::from_str(line).expect("a captured request");
            Form::parse(
                request["query"].as_str(),
                request["body"].as_str().unwrap_or("").as_bytes(),
            )
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn form(data: &str, gzip: Option<&str>) -> Form {
    Form {
        data: Some(data.to_owned()),
        gzip: gzip.map(str::to_owned),
        ..Form::default()
    }
}

fn refusal(form: &Form) -> (Code, Option<String>) {
    let r = messages(form, LIMITS).unwrap_err();
    (r.code, r.field)
}

#[test]
fn every_captured_request_decodes_to_messages_with_a_type() {
    for (file, min_requests) in [
        ("web-image.jsonl", 11),
        ("web-ajax.jsonl", 11),
        ("web-beacon.jsonl", 11),
        ("web-batch.jsonl", 2),
        ("node.jsonl", 9),
        ("python.jsonl", 10),
    ] {
        let forms = captured(file);
        assert!(
            forms.len() >= min_requests,
            "{file}: {} requests",
            forms.len()
        );
        for form in forms {
            let decoded = messages(&form, LIMITS).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!decoded.is_empty());
            for message in decoded {
                assert!(message["type"].is_string(), "{file}: {message}");
            }
        }
    }
}

#[test]
fn the_web_sdk_crc_is_checked_and_holds_on_captured_requests() {
    let forms = captured("web-image.jsonl");
    assert!(
        forms.iter().all(|f| f.crc().is_some()),
        "the web SDK sends ext=crc"
    );
    let mut altered = forms[0].clone();
    let data = altered.data.take().unwrap();
    // One character changed: still base64, still the same length, but not what was sent.
    let flipped = if data.starts_with('e') { "f" } else { "e" };
    altered.data = Some(format!("{flipped}{}", &data[1..]));
    assert_eq!(refusal(&altered), (Code::CrcMismatch, Some("crc".into())));
}

#[test]
fn java_hash_code_matches_java() {
    // What java.lang.String#hashCode gives for them (s[0]*31^(n-1) + ... over UTF-16 units).
    assert_eq!(java_hash_code(""), 0);
    assert_eq!(java_hash_code("hello"), 99_162_322);
    assert_eq!(java_hash_code("eyJhIjoxfQ=="), -1_930_075_513);
    assert_eq!(java_hash_code("中文"), 646_394);
}

#[test]
fn plain_gzip_and_list_payloads_decode_alike() {
    let json = br#"[{"type":"track","event":"a"},{"type":"track","event":"b"}]"#;
    let plain = Form {
        data_list: Some(B64.encode(json)),
        ..Form::default()
    };
    let zipped = Form {
        data_list: Some(B64.encode(gzip(json))),
        gzip: Some("1".into()),
        ..Form::default()
    };
    assert_eq!(messages(&plain, LIMITS).unwrap().len(), 2);
    assert_eq!(
        messages(&plain, LIMITS).unwrap(),
        messages(&zipped, LIMITS).unwrap()
    );
}

#[test]
fn base64_as_sdks_write_it_is_read() {
    // An event name whose base64 has `+`, `/` and padding.
    let encoded = B64.encode(r#"{"type":"track","event":"??>~~~~"}"#);
    assert!(encoded.contains(['+']) && encoded.contains('/') && encoded.ends_with('='));
    let wrapped = format!("{}\n{}", &encoded[..10], &encoded[10..]);
    let spaced = encoded.replace('+', " ");
    let unpadded = encoded.trim_end_matches('=').to_owned();
    let url_safe = encoded.replace('+', "-").replace('/', "_");
    for text in [encoded.clone(), wrapped, spaced, unpadded, url_safe] {
        let decoded =
            messages(&form(&text, None), LIMITS).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(decoded[0]["event"], "??>~~~~");
    }
}

#[test]
fn broken_bodies_are_refused_with_the_field_and_the_rule() {
    let not_gzip = B64.encode(b"{\"type\":\"track\"}");
    let truncated_gzip = {
        let mut z = gzip(br#"{"type":"track","event":"pageview"}"#);
        z.truncate(z.len() / 2);
        B64.encode(z)
    };
    let cases = [
        (Form::default(), Code::MissingField, "data"),
        (form("   ", None), Code::MissingField, "data"),
        (form("not base64!!", None), Code::InvalidBase64, "data"),
        (form(&not_gzip, Some("1")), Code::InvalidGzip, "data"),
        (form(&truncated_gzip, Some("1")), Code::InvalidGzip, "data"),
        (
            form(&B64.encode("{\"type\":"), None),
            Code::InvalidJson,
            "data",
        ),
        (
            form(&B64.encode([0xff, 0xfe]), None),
            Code::InvalidJson,
            "data",
        ),
        (form(&not_gzip, Some("9")), Code::EncryptedPayload, "gzip"),
        (form(&not_gzip, Some("13")), Code::EncryptedPayload, "gzip"),
        (form(&not_gzip, Some("2")), Code::InvalidValue, "gzip"),
        (form(&B64.encode("[]"), None), Code::EmptyBatch, "data"),
    ];
    for (form, code, field) in cases {
        assert_eq!(refusal(&form), (code, Some(field.into())), "{form:?}");
    }
    let bad_crc = Form {
        crc: Some("twelve".into()),
        ..form(&not_gzip, None)
    };
    assert_eq!(refusal(&bad_crc), (Code::InvalidValue, Some("crc".into())));
}

#[test]
fn oversized_payloads_stop_at_the_limits() {
    let bomb = B64.encode(gzip(&vec![b' '; 10 * 1024 * 1024]));
    assert!(bomb.len() < 20 * 1024, "small on the wire: {}", bomb.len());
    assert_eq!(
        refusal(&form(&bomb, Some("1"))),
        (Code::BodyTooLarge, Some("data".into()))
    );
    let big = B64.encode(vec![b' '; LIMITS.max_decoded_bytes + 1]);
    assert_eq!(
        refusal(&form(&big, None)),
        (Code::BodyTooLarge, Some("data".into()))
    );
    let many = format!("[{}]", vec!["{}"; LIMITS.max_batch_events + 1].join(","));
    let list = Form {
        data_list: Some(B64.encode(many)),
        ..Form::default()
    };
    assert_eq!(
        refusal(&list),
        (Code::BatchTooLarge, Some("data_list".into()))
    );
}

#[test]
fn duplicate_keys_and_overlong_strings_are_refused_where_they_are() {
    let dup = B64.encode(r#"{"type":"track","event":"a","event":"b"}"#);
    assert_eq!(
        refusal(&form(&dup, None)),
        (Code::DuplicateKey, Some("data.event".into()))
    );
    let long = format!(
        r#"[{{"type":"track"}},{{"properties":{{"x":"{}"}}}}]"#,
        "y".repeat(LIMITS.max_string_bytes + 1)
    );
    let list = Form {
        data_list: Some(B64.encode(gzip(long.as_bytes()))),
        gzip: Some("1".into()),
        ..Form::default()
    };
    assert_eq!(
        refusal(&list),
        (
            Code::StringTooLong,
            Some("data_list[1].properties.x".into())
        )
    );
}
