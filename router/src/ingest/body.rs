//! Reading a request body under its size limit, and the lingering close of a refused one.
//!
//! A body over the limit is refused with a 413, but answering while the client is still sending
//! makes the connection close under it: a client that writes its whole body before reading
//! (Python's urllib, many SDKs) then sees a broken pipe or a reset, never the 413. So before
//! answering, slog reads and discards what the client goes on sending, up to a bound in bytes
//! and in time (nginx's lingering close), and the client reads the answer. A client that sent
//! `Expect: 100-continue` has sent nothing yet: it is answered at once, without reading.
use crate::error::{Code, Rejection};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use http_body_util::BodyExt;
use std::time::Duration;

/// How much of a refused body is read and thrown away before answering.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    pub bytes: usize,
    pub time: Duration,
}

/// The whole body, or a 413 once it passes `limit` bytes (after draining the rest, see above).
pub async fn read_limited(
    mut body: Body,
    headers: &HeaderMap,
    limit: usize,
    drain: Drain,
) -> Result<Bytes, Rejection> {
    let too_large = || {
        Rejection::request(
            Code::BodyTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = content_length(headers);
    if declared.is_some_and(|n| n > limit) {
        if !expects_continue(headers) {
            discard(body, drain).await;
        }
        return Err(too_large());
    }
    // One chunk is the common case: it is returned as is, without a copy.
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Rejection::request(
                Code::InvalidJson,
                format!("the body could not be read: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry no body bytes
        };
        read += data.len();
        if read > limit {
            discard(body, drain).await;
            return Err(too_large());
        }
        chunks.push(data);
    }
    Ok(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().expect("one chunk"),
        _ => Bytes::from(chunks.concat()),
    })
}

/// `refused`, answered only after the unread body is drained (a refusal decided from the
/// headers alone: wrong content type or encoding).
pub async fn refuse_unread(body: Body, drain: Drain, refused: Rejection) -> Rejection {
    discard(body, drain).await;
    refused
}

/// Reads and drops what is left of `body`, within `drain`'s bounds; a client still sending past
/// them is cut off (the connection closes after the answer).
pub async fn discard(mut body: Body, drain: Drain) {
    let read = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > drain.bytes {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(drain.time, read).await;
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    const DRAIN: Drain = Drain {
        bytes: 1024,
        time: Duration::from_secs(1),
    };

    fn chunked(chunks: &[&'static [u8]]) -> Body {
        let frames: Vec<Result<Bytes, std::io::Error>> =
            chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        Body::from_stream(stream::iter(frames))
    }

    #[tokio::test]
    async fn chunks_are_joined_in_order_and_one_chunk_is_kept_as_is() {
        let none = HeaderMap::new();
        let body = read_limited(chunked(&[b"ab", b"cd", b"e"]), &none, 5, DRAIN).await;
        assert_eq!(body.unwrap(), Bytes::from_static(b"abcde"));
        let body = read_limited(chunked(&[b"abc"]), &none, 5, DRAIN).await;
        assert_eq!(body.unwrap(), Bytes::from_static(b"abc"));
        let body = read_limited(Body::empty(), &none, 5, DRAIN).await;
        assert!(body.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_body_past_the_limit_is_413_however_it_is_chunked() {
        let none = HeaderMap::new();
        let r = read_limited(chunked(&[b"abc", b"def"]), &none, 5, DRAIN).await;
        assert_eq!(r.unwrap_err().code, Code::BodyTooLarge);
        let mut declared = HeaderMap::new();
        declared.insert(header::CONTENT_LENGTH, "6".parse().unwrap());
        declared.insert(header::EXPECT, "100-continue".parse().unwrap());
        let r = read_limited(chunked(&[b"abcdef"]), &declared, 5, DRAIN).await;
        assert_eq!(r.unwrap_err().code, Code::BodyTooLarge);
    }
}
