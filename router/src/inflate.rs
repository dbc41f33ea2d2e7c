//! Bounded gzip decompression, shared by every body decoder (`POST /slog/event` with
//! `Content-Encoding: gzip`, the Sensors receiver's `gzip=1` payloads).
//!
//! It reads at most one byte past the limit, so a gzip bomb costs a few MiB and an error, never
//! the process; each caller turns the error into its own answer.
use flate2::read::GzDecoder;
use std::io::Read;

#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    #[error("not valid gzip: {0}")]
    Corrupt(std::io::Error),
    #[error("larger than {0} bytes once decompressed")]
    TooLarge(usize),
}

/// The decompressed bytes of `body`, refused once they pass `limit` bytes.
pub fn gunzip_limited(body: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(InflateError::Corrupt)?;
    if out.len() > limit {
        return Err(InflateError::TooLarge(limit));
    }
    Ok(out)
}
