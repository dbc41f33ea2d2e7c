//! Bearer tokens, as the admin and report APIs check them: the token a request presents, a
//! comparison that does not leak how much of a guess matched, and the 401 for a wrong one.
use crate::error::{Code, Rejection};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The token of `Authorization: Bearer <token>`.
pub fn presented(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Compares without an early exit, so response timing does not reveal how much of a guess matched.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 401 `unauthorized` on the `Authorization` field, with `WWW-Authenticate: Bearer`.
pub fn unauthorized(message: &str) -> Response {
    let mut response =
        Rejection::field(Code::Unauthorized, "Authorization", message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(super::same_secret(b"abc", b"abc"));
        assert!(!super::same_secret(b"abc", b"abd"));
        assert!(!super::same_secret(b"abc", b"abcd"));
    }
}
