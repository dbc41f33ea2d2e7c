//! The spool on disk: numbered segment files of frames (`frame.rs`), appended by one writer
//! thread with group commit, read and acknowledged in order by the replayer.
//!
//! `cursor` holds the position of the first record not yet acknowledged by the brokers (written
//! to a temporary file, synced, renamed). Segments wholly before it are deleted. A new process
//! never appends to an old segment: it starts a new one, so a torn tail of an old segment is
//! never written after. At open every segment is checked frame by frame: records up to the first
//! frame that fails its checksum are kept, the bytes from there are copied to `quarantine/` and
//! counted, and nothing stops the start.
use super::frame::{self, Decoded};
use crate::sink::Record;
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The on-disk queue and what is known about it.
pub struct Queue {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
}

/// A position: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    id: u64,
    /// Bytes known good: written and synced (the active segment), or checked (older ones).
    committed: u64,
}

struct State {
    /// Oldest first; the last one is the writer's.
    segments: VecDeque<Segment>,
    cursor: Position,
    /// Records and frame bytes reserved or written, not yet acknowledged.
    queued_records: u64,
    queued_bytes: u64,
    /// When the record at the cursor was appended (epoch ms), once the replayer has read it.
    oldest_ms: Option<u64>,
    /// A request was refused for want of room, and nothing was acknowledged since.
    full: bool,
}

/// What a new process found in the spool.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub records: u64,
    pub quarantined_bytes: u64,
}

/// Numbers for `/readyz` and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub records: u64,
    pub bytes: u64,
    pub oldest_ms: Option<u64>,
}

/// Room held in the spool for records about to be appended.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    pub records: u64,
    pub bytes: u64,
}

/// Records read from the cursor on, and where they end.
pub struct Batch {
    pub records: Vec<Record>,
    pub bytes: u64,
    pub end: Position,
}

#[derive(Debug, thiserror::Error)]
#[error("the spool is full ({queued} of {max} bytes queued)")]
pub struct Full {
    queued: u64,
    max: u64,
}

impl Queue {
    /// Opens (creating) the spool in `dir`: checks every segment, quarantines what is corrupt,
    /// and starts a new segment for this process's appends.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<(Arc<Queue>, Appender, Recovered)> {
        fs::create_dir_all(dir)?;
        let mut ids = segment_ids(dir)?;
        ids.sort_unstable();
        let first = ids.first().copied().unwrap_or(1);
        let saved = read_cursor(dir)?.filter(|c| ids.contains(&c.segment));
        let cursor = saved.unwrap_or(Position {
            segment: first,
            offset: 0,
        });
        let mut recovered = Recovered::default();
        let mut segments = VecDeque::new();
        let (mut queued_records, mut queued_bytes) = (0, 0);
        for id in ids {
            let path = segment_path(dir, id);
            if id < cursor.segment {
                fs::remove_file(&path)?;
                continue;
            }
            let check = check_segment(&path)?;
            if check.good_len < check.file_len {
                quarantine(dir, id, &path, check.good_len)?;
                recovered.quarantined_bytes += check.file_len - check.good_len;
            }
            let from = if id == cursor.segment {
                cursor.offset
            } else {
                0
            };
            for (at, len) in &check.frames {
                if *at >= from {
                    queued_records += 1;
                    queued_bytes += *len;
                }
            }
            segments.push_back(Segment {
                id,
                committed: check.good_len,
            });
        }
        recovered.records = queued_records;
        let cursor = match segments.front() {
            Some(s) if s.id == cursor.segment => Position {
                segment: s.id,
                offset: cursor.offset.min(s.committed),
            },
            Some(s) => Position {
                segment: s.id,
                offset: 0,
            },
            None => Position {
                segment: first,
                offset: 0,
            },
        };
        let active = segments.back().map_or(cursor.segment, |s| s.id + 1);
        let file = create_segment(dir, active)?;
        segments.push_back(Segment {
            id: active,
            committed: 0,
        });
        let cursor = if queued_records == 0 {
            // Nothing to replay: start reading where the writer starts.
            Position {
                segment: active,
                offset: 0,
            }
        } else {
            cursor
        };
        let queue = Arc::new(Queue {
            dir: dir.to_owned(),
            max_bytes,
            state: Mutex::new(State {
                segments,
                cursor,
                queued_records,
                queued_bytes,
                oldest_ms: None,
                full: false,
            }),
        });
        let appender = Appender {
            queue: queue.clone(),
            file,
            segment: active,
            written: 0,
            pending: Vec::new(),
        };
        Ok((queue, appender, recovered))
    }

    /// Holds room for `records` (their frame bytes) before they are appended; refused when the
    /// spool would pass its bound.
    pub fn reserve(&self, records: &[Record]) -> Result<Reservation, Full> {
        let reservation = Reservation {
            records: records.len() as u64,
            bytes: records.iter().map(frame::size).sum(),
        };
        let mut state = self.lock();
        if state.queued_bytes + reservation.bytes > self.max_bytes {
            state.full = true;
            return Err(Full {
                queued: state.queued_bytes,
                max: self.max_bytes,
            });
        }
        state.queued_bytes += reservation.bytes;
        state.queued_records += reservation.records;
        Ok(reservation)
    }

    /// Gives back the room of records that could not be appended.
    pub fn unreserve(&self, reservation: Reservation) {
        let mut state = self.lock();
        state.queued_bytes = state.queued_bytes.saturating_sub(reservation.bytes);
        state.queued_records = state.queued_records.saturating_sub(reservation.records);
    }

    /// Where the next record to replay is.
    pub fn cursor(&self) -> Position {
        self.lock().cursor
    }

    /// Whether a request was refused for want of room since the replayer last made some.
    pub fn is_full(&self) -> bool {
        self.lock().full
    }

    /// Whether no record waits (reserved, written or unacknowledged).
    pub fn is_empty(&self) -> bool {
        self.lock().queued_records == 0
    }

    pub fn depth(&self) -> Depth {
        let state = self.lock();
        Depth {
            records: state.queued_records,
            bytes: state.queued_bytes,
            oldest_ms: state.oldest_ms.filter(|_| state.queued_records > 0),
        }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Up to `max_records` committed records from the cursor on, across segments. A frame that
    /// fails its checksum here (the disk changed under slog) is quarantined with the rest of its
    /// segment, and reading goes on after it.
    pub fn read(&self, max_records: usize, max_bytes: u64) -> io::Result<Batch> {
        let (cursor, segments) = {
            let state = self.lock();
            (state.cursor, state.segments.clone())
        };
        let mut batch = Batch {
            records: Vec::new(),
            bytes: 0,
            end: cursor,
        };
        let mut first_ms = None;
        for segment in segments.iter().filter(|s| s.id >= cursor.segment) {
            let from = if segment.id == cursor.segment {
                cursor.offset
            } else {
                0
            };
            if segment.id != batch.end.segment {
                batch.end = Position {
                    segment: segment.id,
                    offset: 0,
                };
            }
            if from >= segment.committed {
                continue;
            }
            let mut file = io::BufReader::with_capacity(
                1 << 20,
                File::open(segment_path(&self.dir, segment.id))?,
            );
            file.seek(SeekFrom::Start(from))?;
            let mut at = from;
            let mut frame_bytes = Vec::new();
            while at < segment.committed
                && batch.records.len() < max_records
                && batch.bytes < max_bytes
            {
                match read_frame(&mut file, segment.committed - at, &mut frame_bytes)? {
                    Some(Decoded::Record {
                        record,
                        appended_ms,
                        len,
                    }) => {
                        first_ms.get_or_insert(appended_ms);
                        batch.records.push(record);
                        batch.bytes += len as u64;
                        at += len as u64;
                    }
                    _ => {
                        let path = segment_path(&self.dir, segment.id);
                        quarantine(&self.dir, segment.id, &path, at)?;
                        tracing::error!(
                            segment = segment.id,
                            offset = at,
                            "a spool record changed on disk after it was written; the rest of \
                             the segment is quarantined"
                        );
                        self.forget_unreadable(segment.id, at);
                        break;
                    }
                }
            }
            batch.end.offset = at;
            if batch.records.len() >= max_records || batch.bytes >= max_bytes {
                break;
            }
        }
        self.lock().oldest_ms = first_ms;
        Ok(batch)
    }

    /// The brokers have every record up to `batch.end`: moves the cursor there (on disk first)
    /// and deletes the segments wholly before it.
    pub fn acknowledge(&self, batch: &Batch) -> io::Result<()> {
        write_cursor(&self.dir, batch.end)?;
        let done: Vec<u64> = {
            let mut state = self.lock();
            state.cursor = batch.end;
            state.queued_records = state
                .queued_records
                .saturating_sub(batch.records.len() as u64);
            state.queued_bytes = state.queued_bytes.saturating_sub(batch.bytes);
            state.oldest_ms = None;
            state.full = false;
            let mut done = Vec::new();
            while state.segments.len() > 1 && state.segments[0].id < state.cursor.segment {
                done.push(state.segments.pop_front().expect("len > 1").id);
            }
            done
        };
        for id in done {
            fs::remove_file(segment_path(&self.dir, id))?;
        }
        Ok(())
    }

    /// Counts the records of a segment's unreadable tail as gone, so the depth stays true.
    fn forget_unreadable(&self, segment: u64, from: u64) {
        let mut state = self.lock();
        if let Some(s) = state.segments.iter_mut().find(|s| s.id == segment) {
            let lost = s.committed.saturating_sub(from);
            s.committed = from;
            state.queued_bytes = state.queued_bytes.saturating_sub(lost);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain numbers: one left mid-update by a panic is still the best estimate there is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer side, run by the line writer thread: frames are gathered, then written and synced
/// once per group of requests.
pub struct Appender {
    queue: Arc<Queue>,
    file: File,
    segment: u64,
    written: u64,
    pending: Vec<u8>,
}

impl Appender {
    pub fn append(&mut self, record: &Record) {
        frame::encode(record, super::now_ms(), &mut self.pending);
    }

    /// Writes and syncs what was appended, makes it visible to the reader, and starts a new
    /// segment once this one is past `segment_bytes`.
    pub fn commit(&mut self, segment_bytes: u64) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self
            .file
            .write_all(&self.pending)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = result {
            // Whatever part was written is past `committed`: never read, overwritten by nothing
            // (the next process starts a new segment), quarantined at the next open.
            self.pending.clear();
            let _ = self.file.seek(SeekFrom::Start(self.written));
            return Err(e);
        }
        self.written += self.pending.len() as u64;
        self.pending.clear();
        let mut state = self.queue.lock();
        if let Some(s) = state.segments.iter_mut().find(|s| s.id == self.segment) {
            s.committed = self.written;
        }
        if self.written >= segment_bytes {
            let next = self.segment + 1;
            let file = create_segment(&self.queue.dir, next)?;
            state.segments.push_back(Segment {
                id: next,
                committed: 0,
            });
            drop(state);
            self.file = file;
            self.segment = next;
            self.written = 0;
        }
        Ok(())
    }
}

/// Reads the frame at the reader's position into `buf`, no further than `left` bytes; `None`
/// when the frame would pass them (committed bytes hold whole frames, so that is corruption).
fn read_frame(reader: &mut impl Read, left: u64, buf: &mut Vec<u8>) -> io::Result<Option<Decoded>> {
    if left < frame::HEADER as u64 {
        return Ok(None);
    }
    buf.resize(frame::HEADER, 0);
    reader.read_exact(buf)?;
    let body = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as u64;
    if body > frame::MAX_BODY as u64 || frame::HEADER as u64 + body > left {
        return Ok(None);
    }
    buf.resize(frame::HEADER + body as usize, 0);
    reader.read_exact(&mut buf[frame::HEADER..])?;
    Ok(Some(frame::decode(buf)))
}

struct SegmentCheck {
    file_len: u64,
    good_len: u64,
    /// (offset, length) of each good frame.
    frames: Vec<(u64, u64)>,
}

fn check_segment(path: &Path) -> io::Result<SegmentCheck> {
    let bytes = fs::read(path)?;
    let mut frames = Vec::new();
    let mut at = 0usize;
    while let Decoded::Record { len, .. } = frame::decode(&bytes[at..]) {
        frames.push((at as u64, len as u64));
        at += len;
    }
    Ok(SegmentCheck {
        file_len: bytes.len() as u64,
        good_len: at as u64,
        frames,
    })
}

/// Copies the bytes of `path` from `from` on to `quarantine/<segment>-<from>.bad`.
fn quarantine(dir: &Path, segment: u64, path: &Path, from: u64) -> io::Result<()> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut rest = Vec::new();
    file.read_to_end(&mut rest)?;
    if rest.is_empty() {
        return Ok(());
    }
    let place = dir.join("quarantine");
    fs::create_dir_all(&place)?;
    let mut out = File::create(place.join(format!("{segment:012}-{from}.bad")))?;
    out.write_all(&rest)?;
    out.sync_data()?;
    metrics::counter!("slog_spool_quarantined_bytes_total").increment(rest.len() as u64);
    tracing::warn!(
        segment,
        offset = from,
        bytes = rest.len(),
        "a spool segment ends in bytes that are no whole record (a torn write or corruption); \
         they are quarantined"
    );
    Ok(())
}

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:012}.seg"))
}

fn segment_ids(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(id) = name.strip_suffix(".seg").and_then(|n| n.parse().ok()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

fn create_segment(dir: &Path, id: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, id))?;
    // The new file's directory entry must survive a power cut too.
    File::open(dir)?.sync_all()?;
    Ok(file)
}

fn read_cursor(dir: &Path) -> io::Result<Option<Position>> {
    let text = match fs::read_to_string(dir.join("cursor")) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut parts = text.split_whitespace().map(str::parse::<u64>);
    Ok(match (parts.next(), parts.next()) {
        (Some(Ok(segment)), Some(Ok(offset))) => Some(Position { segment, offset }),
        _ => None,
    })
}

fn write_cursor(dir: &Path, at: Position) -> io::Result<()> {
    let tmp = dir.join("cursor.tmp");
    let mut file = File::create(&tmp)?;
    writeln!(file, "{} {}", at.segment, at.offset)?;
    file.sync_data()?;
    fs::rename(&tmp, dir.join("cursor"))
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
