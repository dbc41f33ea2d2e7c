-- Guards of the identity store against device ids that many people share.
--
-- sqlx migration 0003. identity_device_owners records, for a device identity that moved between
-- two people who both have accounts (a shared device), every person it was seen on. When one
-- device identity has been seen on more people than `identity.max_accounts_per_device`, it is a
-- constant that a broken SDK sends for everyone (or a device in a shop or a classroom): it goes to
-- identity_blocklist and stops linking anyone. Operators review the list through
-- GET /admin/identities/blocked and lift an entry with DELETE.

CREATE TABLE identity_device_owners (
    id_key      varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    id_value    varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    uuid        varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    seen_at     bigint       NOT NULL,
    PRIMARY KEY (id_key, id_value, uuid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE identity_blocklist (
    id_key      varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    id_value    varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    accounts    bigint       NOT NULL,
    blocked_at  bigint       NOT NULL,
    PRIMARY KEY (id_key, id_value)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
