-- The embedded analytic store (data/warehouse.db): what the loader moves out of the events and
-- users topics, in the shape the report queries read (tracking plan §3.1: the "events" and
-- "users" databases). Times are epoch milliseconds, UTC; days and weeks are cut at query time in
-- the configured time zone.

-- One row per track record; the primary key makes a re-read record a no-op (at-least-once in,
-- exactly once stored).
CREATE TABLE wh_events (
    event_id TEXT PRIMARY KEY NOT NULL,
    time INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    project TEXT NOT NULL,
    eid TEXT NOT NULL,
    -- The uuid the record was routed with, before merges; NULL when it carried none.
    uuid TEXT,
    -- The event's properties, a JSON object (`ps` of the output record).
    props TEXT NOT NULL
);
CREATE INDEX wh_events_by_report ON wh_events (project, eid, time);

-- One row per person (uuid): the profile that profile_* messages built (101 overwrite,
-- 102 set if absent, 103 unset, 104 append to a list).
CREATE TABLE wh_users (
    uuid TEXT PRIMARY KEY NOT NULL,
    project TEXT NOT NULL,
    props TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- The identity_merge records: from_uuid's history belongs to to_uuid. A uuid is merged at most once.
CREATE TABLE wh_merges (
    from_uuid TEXT PRIMARY KEY NOT NULL,
    to_uuid TEXT NOT NULL,
    project TEXT NOT NULL,
    time INTEGER NOT NULL
);
CREATE INDEX wh_merges_by_survivor ON wh_merges (to_uuid);

-- The person each merged uuid counts as now: the end of its merge chain. A uuid without a row
-- here is its own person. Maintained by the loader from wh_merges, whatever order merges and
-- events arrive in.
CREATE TABLE wh_persons (
    uuid TEXT PRIMARY KEY NOT NULL,
    person TEXT NOT NULL
);
CREATE INDEX wh_persons_by_person ON wh_persons (person);

-- How far the loader has read each source, and the times the report answers quote.
CREATE TABLE wh_progress (
    source TEXT PRIMARY KEY NOT NULL,
    -- Byte offset of the next unread line (file sources).
    position INTEGER NOT NULL,
    -- Newest event time loaded from this source (data_update_time).
    newest_event_time INTEGER,
    -- Every record received by slog before this time is loaded (data_sufficient_update_time).
    watermark INTEGER
);
