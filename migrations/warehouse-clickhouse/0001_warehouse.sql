-- The production analytic store on ClickHouse: what the loader consumes from the events and
-- users topics, in the shape the report queries read (tracking plan §3.1: the "events" and
-- "users" databases). Times are epoch milliseconds, UTC; report days and weeks are cut at query
-- time in the configured time zone. The SQL avoids what ClickHouse 18.16 lacks (JSONExtract*,
-- Map, DateTime64, Nullable key columns, query parameters): properties are parallel arrays.

-- One row per track record. ReplacingMergeTree folds a record stored twice (a producer retry)
-- when parts merge; the loader itself never stores a record twice (see wh_progress).
-- Partitioned by month; ordered for the report queries: project, event, day, then the uuid the
-- event was routed with (the person after merges is resolved at query time).
CREATE TABLE IF NOT EXISTS wh_events (
    event_id String,
    time Int64,
    received_at Int64,
    project String,
    eid String,
    -- '' when the record carried no uuid.
    uuid String,
    -- The event's properties (`ps`): keys, each value as JSON text, and each value as text
    -- (a string's characters, other values their JSON text). Position i of each is one property.
    prop_keys Array(String),
    prop_json Array(String),
    prop_text Array(String),
    day Date MATERIALIZED toDate(toDateTime(intDiv(time, 1000), 'UTC'))
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (project, eid, day, uuid, event_id);

-- One row per uuid and version: the profile that profile_* messages built for that uuid (101
-- overwrite, 102 set if absent, 103 unset, 104 append to a list). The newest version is the
-- profile; a person's profile is their surviving uuid's, completed by the merged uuids'.
CREATE TABLE IF NOT EXISTS wh_users (
    uuid String,
    project String,
    props String,
    prop_keys Array(String),
    prop_json Array(String),
    prop_text Array(String),
    updated_at Int64,
    -- The topic offset (plus one) of the last operation applied: a replayed one is skipped.
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY uuid;

-- The identity_merge records: from_uuid's history belongs to to_uuid. A uuid is merged at most once.
CREATE TABLE IF NOT EXISTS wh_merges (
    from_uuid String,
    to_uuid String,
    project String,
    time Int64
) ENGINE = ReplacingMergeTree()
ORDER BY from_uuid;

-- The person each merged uuid counts as: the end of its merge chain, with the chain's length.
-- A longer chain from the same uuid is always the truer one (merges only extend chains), so the
-- row with the greatest depth is the answer, whichever loader wrote it and when.
CREATE TABLE IF NOT EXISTS wh_persons (
    uuid String,
    person String,
    depth UInt32
) ENGINE = ReplacingMergeTree(depth)
ORDER BY uuid;

-- How far each topic partition is loaded. `loaded` is the next offset not yet stored; `intent`
-- the offset a batch being stored reaches: after a crash, records between the two are checked
-- against the table before they are stored, so none is stored twice.
CREATE TABLE IF NOT EXISTS wh_progress (
    source String,
    loaded Int64,
    intent Int64,
    newest_event_time Nullable(Int64),
    watermark Nullable(Int64),
    updated UInt64
) ENGINE = ReplacingMergeTree(updated)
ORDER BY source;
