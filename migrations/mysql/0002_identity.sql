-- slog identity store (the seed's "用户中心", §3.1 uidentity): which person (uuid) each identity
-- belongs to.
--
-- sqlx migration 0002. One row per identity (key, value), e.g. ('deviceUUID', 'd-1') or, for
-- WeChat, ('openid', '<appid>:<openid>') because an openid is only unique within its appid.
-- The primary key is what makes linking race-safe: every writer inserts-if-absent and then reads
-- the row back, so two requests (on one instance or on two) that race with the same new identity
-- end on one uuid.
--
-- Identity values are compared exactly (utf8mb4_bin): `AbC` and `abc` are different browsers.
-- identity_merges records every person merged into another (an anonymous uuid whose device was
-- later seen with an account), the same facts slog sends to the users topic.

CREATE TABLE identity_links (
    id_key      varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    id_value    varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    uuid        varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    first_seen  bigint       NOT NULL,
    last_seen   bigint       NOT NULL,
    PRIMARY KEY (id_key, id_value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX idx_identity_links_uuid ON identity_links (uuid);

CREATE TABLE identity_merges (
    from_uuid   varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    to_uuid     varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    merged_at   bigint       NOT NULL,
    reason      varchar(255) NOT NULL,
    PRIMARY KEY (from_uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX idx_identity_merges_to ON identity_merges (to_uuid);
