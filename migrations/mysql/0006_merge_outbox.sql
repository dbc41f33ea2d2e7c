-- The merge outbox. A merge is committed in the identity store before the request's records
-- reach the sink; if the sink then refuses the request, the client's retry finds nothing left to
-- merge and the users topic would never hear of it. So every merge also writes its record's
-- content here, in the merge's own transaction, and the row is deleted once the sink has
-- acknowledged the record. Rows left behind (the sink refused, or slog stopped in between) are
-- re-sent by a background task with the same event_id: the users topic gets each merge at least
-- once.
--
-- moved: the identities that moved, as a JSON array of {"key", "value"} objects.

CREATE TABLE identity_merge_outbox (
    event_id      varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    project       varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    from_uuid     varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    to_uuid       varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    received_at   bigint       NOT NULL,
    event_time    bigint       NOT NULL,
    trigger_key   varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    trigger_value varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    moved         mediumtext   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    PRIMARY KEY (event_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX idx_identity_merge_outbox_received ON identity_merge_outbox (received_at);
