//! Torn tails of the file sink: half a line that a crash or a power cut left at a file's end.
//!
//! Every record the sink wrote and acknowledged ends with a newline. A process killed in the
//! middle of a write can leave part of one more record with no newline; appending after it would
//! glue the next acknowledged record onto that fragment, and a line reader would lose both. So
//! before a file is appended to, a tail after its last newline is moved to `<file>.torn` (appended
//! there, with a newline, so several crashes keep several fragments) and cut from the file.
//! The fragment was never acknowledged: nothing a client was promised is lost by setting it apart.
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How far back from the end to look for the last newline at a time.
const CHUNK: u64 = 64 * 1024;

/// The quarantine file of `path`'s torn tails.
pub fn quarantine_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".torn");
    PathBuf::from(name)
}

/// Moves a torn tail of `path` (if it has one) to its quarantine file and cuts it from `path`.
/// Returns the bytes set apart: 0 when the file is missing, empty or ends with a newline.
pub fn set_apart(path: &Path) -> io::Result<u64> {
    let mut file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let keep = end_of_last_line(&mut file, len)?;
    if keep == len {
        return Ok(0);
    }
    let mut tail = Vec::with_capacity((len - keep) as usize);
    file.seek(SeekFrom::Start(keep))?;
    file.read_to_end(&mut tail)?;
    let mut quarantine = OpenOptions::new()
        .create(true)
        .append(true)
        .open(quarantine_path(path))?;
    tail.push(b'\n');
    quarantine.write_all(&tail)?;
    // The fragment is safe in quarantine before it is cut from the data file.
    quarantine.sync_data()?;
    file.set_len(keep)?;
    file.sync_data()?;
    Ok(len - keep)
}

/// The offset just after the file's last newline (0 when it has none).
fn end_of_last_line(file: &mut File, len: u64) -> io::Result<u64> {
    let mut end = len;
    let mut buf = vec![0u8; CHUNK as usize];
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn a_whole_file_is_left_alone() {
        for bytes in [&b""[..], b"{\"a\":1}\n", b"{\"a\":1}\n{\"a\":2}\n"] {
            let (_dir, path) = file_with(bytes);
            assert_eq!(set_apart(&path).unwrap(), 0);
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
            assert!(!quarantine_path(&path).exists());
        }
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(set_apart(&dir.path().join("missing.jsonl")).unwrap(), 0);
    }

    #[test]
    fn a_torn_tail_moves_to_quarantine_and_each_crash_keeps_its_fragment() {
        let (_dir, path) = file_with(b"{\"a\":1}\n{\"a\":2}\n{\"a\":");
        assert_eq!(set_apart(&path).unwrap(), 5);
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n{\"a\":2}\n");
        std::fs::write(&path, b"{\"a\":1}\n{\"a\":2}\n{\"b\"").unwrap();
        assert_eq!(set_apart(&path).unwrap(), 4);
        assert_eq!(
            std::fs::read(quarantine_path(&path)).unwrap(),
            b"{\"a\":\n{\"b\"\n"
        );
    }

    #[test]
    fn a_file_with_no_newline_at_all_is_all_tail() {
        let (_dir, path) = file_with(b"{\"half");
        assert_eq!(set_apart(&path).unwrap(), 6);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn the_last_newline_is_found_across_chunks() {
        let mut bytes = b"{\"a\":1}\n".to_vec();
        let fragment = vec![b'x'; CHUNK as usize * 2 + 17];
        bytes.extend_from_slice(&fragment);
        let (_dir, path) = file_with(&bytes);
        assert_eq!(set_apart(&path).unwrap(), fragment.len() as u64);
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\":1}\n");
    }
}
