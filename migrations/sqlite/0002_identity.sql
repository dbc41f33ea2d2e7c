-- slog identity store (the seed's "用户中心", §3.1 uidentity): which person (uuid) each identity
-- belongs to. Same tables as migrations/mysql/0002_identity.sql, which explains them.
-- SQLite compares TEXT exactly (BINARY collation), as the MySQL tables do with utf8mb4_bin.

CREATE TABLE identity_links (
    id_key      TEXT    NOT NULL,
    id_value    TEXT    NOT NULL,
    uuid        TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (id_key, id_value)
);

CREATE INDEX idx_identity_links_uuid ON identity_links (uuid);

CREATE TABLE identity_merges (
    from_uuid   TEXT    NOT NULL PRIMARY KEY,
    to_uuid     TEXT    NOT NULL,
    merged_at   INTEGER NOT NULL,
    reason      TEXT    NOT NULL
);

CREATE INDEX idx_identity_merges_to ON identity_merges (to_uuid);
