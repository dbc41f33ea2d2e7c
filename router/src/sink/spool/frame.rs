//! One record on disk: `[body length u32][crc32 of body u32][body]`, little-endian, where the
//! body is `[appended at, epoch ms u64][topic length u16][topic][key length u32, u32::MAX for
//! none][key][payload]`. The checksum is what tells a torn or corrupt tail from a record.
use crate::sink::Record;

/// Bytes before the body.
pub const HEADER: usize = 8;
const NO_KEY: u32 = u32::MAX;
/// A body larger than this is corruption, not a record (slog's records are far smaller).
pub const MAX_BODY: usize = 256 << 20;

/// Appends the frame of `record` to `out`.
pub fn encode(record: &Record, appended_ms: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&appended_ms.to_le_bytes());
    out.extend_from_slice(&(record.topic.len() as u16).to_le_bytes());
    out.extend_from_slice(record.topic.as_bytes());
    match &record.key {
        Some(key) => {
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(key.as_bytes());
        }
        None => out.extend_from_slice(&NO_KEY.to_le_bytes()),
    }
    out.extend_from_slice(&record.payload);
    let body = &out[start + HEADER..];
    let len = (body.len() as u32).to_le_bytes();
    let crc = crc32fast::hash(body).to_le_bytes();
    out[start..start + 4].copy_from_slice(&len);
    out[start + 4..start + 8].copy_from_slice(&crc);
}

/// The size of `record`'s frame.
pub fn size(record: &Record) -> u64 {
    (HEADER
        + 8
        + 2
        + record.topic.len()
        + 4
        + record.key.as_ref().map_or(0, String::len)
        + record.payload.len()) as u64
}

/// What is at the start of `bytes`.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole, intact record and the bytes its frame took.
    Record {
        record: Record,
        appended_ms: u64,
        len: usize,
    },
    /// Fewer bytes than a frame needs: the end of what was written, or a torn write.
    Incomplete,
    /// Bytes that are no record: a checksum or a length that does not hold.
    Corrupt,
}

pub fn decode(bytes: &[u8]) -> Decoded {
    if bytes.len() < HEADER {
        return Decoded::Incomplete;
    }
    let len = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"));
    if len > MAX_BODY {
        return Decoded::Corrupt;
    }
    let Some(body) = bytes.get(HEADER..HEADER + len) else {
        return Decoded::Incomplete;
    };
    if crc32fast::hash(body) != crc {
        return Decoded::Corrupt;
    }
    parse_body(body).map_or(Decoded::Corrupt, |(record, appended_ms)| Decoded::Record {
        record,
        appended_ms,
        len: HEADER + len,
    })
}

fn parse_body(body: &[u8]) -> Option<(Record, u64)> {
    let appended_ms = u64::from_le_bytes(body.get(0..8)?.try_into().ok()?);
    let topic_len = u16::from_le_bytes(body.get(8..10)?.try_into().ok()?) as usize;
    let topic = std::str::from_utf8(body.get(10..10 + topic_len)?).ok()?;
    let mut at = 10 + topic_len;
    let key_len = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?);
    at += 4;
    let key = if key_len == NO_KEY {
        None
    } else {
        let key = std::str::from_utf8(body.get(at..at + key_len as usize)?).ok()?;
        at += key_len as usize;
        Some(key.to_owned())
    };
    let record = Record {
        topic: topic.into(),
        key,
        payload: body.get(at..)?.to_vec(),
    };
    Some((record, appended_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: Option<&str>) -> Record {
        Record {
            topic: "events".into(),
            key: key.map(str::to_owned),
            payload: "{\"eid\":\"课程\"}".as_bytes().to_vec(),
        }
    }

    #[test]
    fn records_come_back_as_written_with_and_without_a_key() {
        for r in [record(Some("u-1")), record(None), record(Some(""))] {
            let mut out = Vec::new();
            encode(&r, 42, &mut out);
            assert_eq!(out.len() as u64, size(&r));
            assert_eq!(
                decode(&out),
                Decoded::Record {
                    record: r,
                    appended_ms: 42,
                    len: out.len()
                }
            );
        }
    }

    #[test]
    fn every_cut_is_incomplete_and_every_flipped_bit_is_caught() {
        let mut out = Vec::new();
        encode(&record(Some("u-1")), 7, &mut out);
        for cut in 0..out.len() {
            assert_eq!(decode(&out[..cut]), Decoded::Incomplete, "cut at {cut}");
        }
        for byte in HEADER..out.len() {
            for bit in 0..8 {
                let mut bad = out.clone();
                bad[byte] ^= 1 << bit;
                assert_eq!(decode(&bad), Decoded::Corrupt, "byte {byte} bit {bit}");
            }
        }
        let mut huge = out.clone();
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge), Decoded::Corrupt);
    }
}
