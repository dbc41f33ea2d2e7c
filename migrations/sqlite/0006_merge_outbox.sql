-- The merge outbox: every merge the identity store commits is written here in the same
-- transaction, and the row stays until the sink has acknowledged the merge's record on the users
-- topic. Same table as migrations/mysql/0006_merge_outbox.sql, which explains it.

CREATE TABLE identity_merge_outbox (
    event_id     TEXT    NOT NULL PRIMARY KEY,
    project      TEXT    NOT NULL,
    from_uuid    TEXT    NOT NULL,
    to_uuid      TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    event_time   INTEGER NOT NULL,
    trigger_key  TEXT    NOT NULL,
    trigger_value TEXT   NOT NULL,
    moved        TEXT    NOT NULL
);

CREATE INDEX idx_identity_merge_outbox_received ON identity_merge_outbox (received_at);
