//! The data of a Sensors request: form fields → the JSON messages they carry.
//!
//! `data` holds one message and `data_list` an array; either is base64 of the UTF-8 JSON, of its
//! gzip when `gzip=1`. `gzip=9` and `gzip=13` are the SDKs' encrypted payloads, which slog does
//! not hold keys for: refused with `encrypted_payload`. When the SDK sent a crc (`crc=<n>`, or
//! the web SDK's `ext=crc=<n>`), it must equal Java's `String.hashCode` of the base64 text, or the
//! data was cut or altered on the way (`crc_mismatch`).
//!
//! Base64 is read leniently, as SDKs write it: line breaks (Android's encoder adds them), spaces
//! where an unescaped `+` was form-decoded, missing padding, and the URL-safe alphabet.
use super::form::Form;
use crate::error::{Code, Rejection};
use crate::inflate::{gunzip_limited, InflateError};
use crate::strict_json;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, Engine, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

/// How large a request's data may grow and how many messages it may hold.
#[derive(Debug, Clone, Copy)]
pub struct PayloadLimits {
    /// Bytes of JSON once base64 (and gzip) are undone.
    pub max_decoded_bytes: usize,
    pub max_batch_events: usize,
    /// Longest string value or key, in bytes once unescaped.
    pub max_string_bytes: usize,
}

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// The messages of `form`, in the order sent.
pub fn messages(form: &Form, limits: PayloadLimits) -> Result<Vec<Value>, Rejection> {
    let (field, text) = match (&form.data_list, &form.data) {
        (Some(list), _) => ("data_list", list),
        (None, Some(one)) => ("data", one),
        (None, None) => {
            return Err(Rejection::field(
                Code::MissingField,
                "data",
                "the request carries no data: send data=<one message> or \
                 data_list=<array of messages>, base64-encoded, as a form",
            ))
        }
    };
    if text.trim().is_empty() {
        return Err(Rejection::field(
            Code::MissingField,
            field,
            format!("{field} is empty"),
        ));
    }
    let compressed = compression(form.gzip.as_deref())?;
    if let Some(crc) = form.crc() {
        check_crc(crc, text)?;
    }
    let bytes = base64(field, text)?;
    let json = if compressed {
        gunzip_limited(&bytes, limits.max_decoded_bytes).map_err(|e| match e {
            InflateError::Corrupt(e) => Rejection::field(
                Code::InvalidGzip,
                field,
                format!("{field} is gzip=1 but its bytes are not valid gzip: {e}"),
            ),
            InflateError::TooLarge(limit) => too_large(field, limit),
        })?
    } else if bytes.len() > limits.max_decoded_bytes {
        return Err(too_large(field, limits.max_decoded_bytes));
    } else {
        bytes
    };
    let value = strict_json::parse(&json, limits.max_string_bytes).map_err(|e| {
        let code = e.code();
        let at = strict_json::path_under(field, e.path());
        Rejection::field(
            code,
            &at,
            format!("{field} does not decode to accepted JSON: {e}"),
        )
    })?;
    match value {
        Value::Array(items) if items.is_empty() => Err(Rejection::field(
            Code::EmptyBatch,
            field,
            format!("{field} holds an empty array"),
        )),
        Value::Array(items) if items.len() > limits.max_batch_events => Err(Rejection::field(
            Code::BatchTooLarge,
            field,
            format!(
                "{field} may hold at most {} messages, got {}",
                limits.max_batch_events,
                items.len()
            ),
        )),
        Value::Array(items) => Ok(items),
        one => Ok(vec![one]),
    }
}

/// Whether the base64 holds gzip (`gzip=1`) or the JSON itself (`0`, absent).
fn compression(gzip: Option<&str>) -> Result<bool, Rejection> {
    match gzip.map(str::trim) {
        None | Some("" | "0") => Ok(false),
        Some("1") => Ok(true),
        Some(mode @ ("9" | "13")) => Err(Rejection::field(
            Code::EncryptedPayload,
            "gzip",
            format!(
                "gzip={mode} is an encrypted payload, which slog cannot read: turn off the \
                 SDK's data encryption (encrypt / enable_encrypt) for this server"
            ),
        )),
        Some(other) => Err(Rejection::field(
            Code::InvalidValue,
            "gzip",
            format!("gzip must be 0 (plain) or 1 (gzip), got {other:?}"),
        )),
    }
}

fn check_crc(sent: &str, text: &str) -> Result<(), Rejection> {
    let sent: i32 = sent.trim().parse().map_err(|_| {
        Rejection::field(
            Code::InvalidValue,
            "crc",
            format!("crc must be a 32-bit integer, got {sent:?}"),
        )
    })?;
    let actual = java_hash_code(text);
    if sent != actual {
        return Err(Rejection::field(
            Code::CrcMismatch,
            "crc",
            format!(
                "crc {sent} does not match the data received (its hash is {actual}): the data \
                 was cut or altered on the way"
            ),
        ));
    }
    Ok(())
}

/// Java's `String.hashCode`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, wrapping.
pub fn java_hash_code(text: &str) -> i32 {
    text.encode_utf16().fold(0i32, |hash, unit| {
        hash.wrapping_mul(31).wrapping_add(unit as i32)
    })
}

fn base64(field: &str, text: &str) -> Result<Vec<u8>, Rejection> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
        .map(|c| if c == ' ' { '+' } else { c })
        .collect();
    let engine = if cleaned.contains(['-', '_']) {
        &URL_SAFE
    } else {
        &STANDARD
    };
    engine.decode(cleaned.trim_end_matches('=')).map_err(|e| {
        Rejection::field(
            Code::InvalidBase64,
            field,
            format!("{field} is not base64: {e}"),
        )
    })
}

fn too_large(field: &str, limit: usize) -> Rejection {
    Rejection::field(
        Code::BodyTooLarge,
        field,
        format!("{field} is larger than {limit} bytes once decoded"),
    )
}

#[cfg(test)]
#[path = "payload_tests.rs"]
mod tests;
