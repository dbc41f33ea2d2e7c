//! The spool on disk through restarts, torn tails, corruption, rotation and its bound.
use super::*;

fn record(n: usize) -> Record {
    Record {
        topic: if n.is_multiple_of(2) {
            "events"
        } else {
            "users"
        }
        .into(),
        key: (!n.is_multiple_of(3)).then(|| format!("user-{n}")),
        payload: format!("{{\"n\":{n},\"eid\":\"课程\"}}").into_bytes(),
    }
}

fn append(appender: &mut Appender, from: usize, to: usize, segment_bytes: u64) {
    for n in from..to {
        appender.append(&record(n));
    }
    appender.commit(segment_bytes).unwrap();
}

fn numbers(batch: &Batch) -> Vec<usize> {
    batch
        .records
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
            v["n"].as_u64().unwrap() as usize
        })
        .collect()
}

const BIG: u64 = 1 << 30;

#[test]
fn records_are_read_in_order_and_acknowledged_ones_are_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, mut appender, recovered) = Queue::open(dir.path(), BIG).unwrap();
    assert_eq!(recovered, Recovered::default());
    assert!(queue.is_empty());
    let records: Vec<Record> = (0..5).map(record).collect();
    queue.reserve(&records).unwrap();
    append(&mut appender, 0, 5, BIG);
    let batch = queue.read(3, BIG).unwrap();
    assert_eq!(numbers(&batch), [0, 1, 2]);
    assert_eq!(
        batch.records[1],
        record(1),
        "topic, key and payload as appended"
    );
    assert_eq!(
        queue.read(3, BIG).unwrap().records.len(),
        3,
        "unacknowledged: read again"
    );
    queue.acknowledge(&batch).unwrap();
    assert_eq!(queue.depth().records, 2);
    let rest = queue.read(10, BIG).unwrap();
    assert_eq!(numbers(&rest), [3, 4]);
    queue.acknowledge(&rest).unwrap();
    assert!(queue.is_empty());
    assert_eq!(queue.depth().bytes, 0);
}

#[test]
fn a_restart_replays_exactly_what_was_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (queue, mut appender, _) = Queue::open(dir.path(), BIG).unwrap();
        queue
            .reserve(&(0..4).map(record).collect::<Vec<_>>())
            .unwrap();
        append(&mut appender, 0, 4, BIG);
        let first = queue.read(1, BIG).unwrap();
        queue.acknowledge(&first).unwrap();
    }
    let (queue, mut appender, recovered) = Queue::open(dir.path(), BIG).unwrap();
    assert_eq!(recovered.records, 3);
    assert!(
        !queue.is_empty(),
        "new records must queue behind the old ones"
    );
    queue.reserve(&[record(4)]).unwrap();
    append(&mut appender, 4, 5, BIG);
    let batch = queue.read(10, BIG).unwrap();
    assert_eq!(
        numbers(&batch),
        [1, 2, 3, 4],
        "old segment first, then this process's"
    );
    queue.acknowledge(&batch).unwrap();
    drop((queue, appender));
    let (queue, _, recovered) = Queue::open(dir.path(), BIG).unwrap();
    assert_eq!(recovered.records, 0);
    assert!(queue.is_empty());
}

#[test]
fn a_torn_tail_is_quarantined_and_the_records_before_it_replayed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (queue, mut appender, _) = Queue::open(dir.path(), BIG).unwrap();
        queue
            .reserve(&(0..3).map(record).collect::<Vec<_>>())
            .unwrap();
        append(&mut appender, 0, 3, BIG);
    }
    // A power cut in the middle of the next write: half a frame at the end.
    let segment = segment_path(dir.path(), 1);
    let mut half = Vec::new();
    frame::encode(&record(3), 0, &mut half);
    half.truncate(half.len() / 2);
    OpenOptions::new()
        .append(true)
        .open(&segment)
        .unwrap()
        .write_all(&half)
        .unwrap();
    let (queue, _, recovered) = Queue::open(dir.path(), BIG).unwrap();
    assert_eq!(
        recovered,
        Recovered {
            records: 3,
            quarantined_bytes: half.len() as u64
        }
    );
    assert_eq!(numbers(&queue.read(10, BIG).unwrap()), [0, 1, 2]);
    let quarantined: Vec<_> = fs::read_dir(dir.path().join("quarantine"))
        .unwrap()
        .map(|e| fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(quarantined, [half]);
}

#[test]
fn a_corrupt_record_stops_its_segment_but_not_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Segments of about two records each.
        let small = frame::size(&record(0)) * 2;
        let (queue, mut appender, _) = Queue::open(dir.path(), BIG).unwrap();
        queue
            .reserve(&(0..6).map(record).collect::<Vec<_>>())
            .unwrap();
        for pair in [0, 2, 4] {
            append(&mut appender, pair, pair + 2, small);
        }
    }
    assert!(
        segment_path(dir.path(), 3).exists(),
        "three segments were written"
    );
    // Flip one byte inside the second record of the first segment.
    let first = segment_path(dir.path(), 1);
    let mut bytes = fs::read(&first).unwrap();
    let at = frame::size(&record(0)) as usize + frame::HEADER + 3;
    bytes[at] ^= 0x55;
    fs::write(&first, bytes).unwrap();
    let (queue, _, recovered) = Queue::open(dir.path(), BIG).unwrap();
    assert_eq!(recovered.records, 5, "all but the corrupt one");
    assert!(recovered.quarantined_bytes > 0);
    let batch = queue.read(10, BIG).unwrap();
    assert_eq!(numbers(&batch), [0, 2, 3, 4, 5]);
}

#[test]
fn acknowledged_segments_are_deleted_and_the_cursor_survives_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let small = frame::size(&record(0)) * 2;
    let (queue, mut appender, _) = Queue::open(dir.path(), BIG).unwrap();
    queue
        .reserve(&(0..6).map(record).collect::<Vec<_>>())
        .unwrap();
    for pair in [0, 2, 4] {
        append(&mut appender, pair, pair + 2, small);
    }
    let batch = queue.read(3, BIG).unwrap();
    assert_eq!(numbers(&batch), [0, 1, 2], "a batch spans segments");
    queue.acknowledge(&batch).unwrap();
    assert!(
        !segment_path(dir.path(), 1).exists(),
        "wholly acknowledged: deleted"
    );
    assert!(
        segment_path(dir.path(), 2).exists(),
        "half acknowledged: kept"
    );
    drop((queue, appender));
    let (queue, _, recovered) = Queue::open(dir.path(), BIG).unwrap();
    assert_eq!(recovered.records, 3);
    assert_eq!(numbers(&queue.read(10, BIG).unwrap()), [3, 4, 5]);
}

#[test]
fn the_bound_refuses_what_would_not_fit_and_gives_room_back() {
    let dir = tempfile::tempdir().unwrap();
    let two = frame::size(&record(0)) + frame::size(&record(2));
    let (queue, _, _) = Queue::open(dir.path(), two).unwrap();
    let held = queue.reserve(&[record(0), record(2)]).unwrap();
    assert!(queue.reserve(&[record(4)]).is_err(), "full");
    assert!(queue.is_full());
    queue.unreserve(held);
    assert!(queue.is_empty());
    queue.reserve(&[record(4)]).unwrap();
}
