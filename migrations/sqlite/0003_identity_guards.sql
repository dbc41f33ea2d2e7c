-- Guards of the identity store against device ids that many people share. Same tables as
-- migrations/mysql/0003_identity_guards.sql, which explains them.

CREATE TABLE identity_device_owners (
    id_key      TEXT    NOT NULL,
    id_value    TEXT    NOT NULL,
    uuid        TEXT    NOT NULL,
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (id_key, id_value, uuid)
);

CREATE TABLE identity_blocklist (
    id_key      TEXT    NOT NULL,
    id_value    TEXT    NOT NULL,
    accounts    INTEGER NOT NULL,
    blocked_at  INTEGER NOT NULL,
    PRIMARY KEY (id_key, id_value)
);
