-- Open sessions of the plugins' session hook (tracking plan §5.2), when slog keeps them in the
-- database (plugins.session_store; Redis is the other shared store). One row per plugin and user
-- (user_key: the event's partition key, or '#' and its SHA-256 when longer than 200 characters).
-- Every write names the version it read (compare-and-set), so two instances stepping one user's
-- session never lose a step; a sweeper closes an expired session by deleting the version it read,
-- so exactly one instance closes it.
--
-- entry: the plugin's state and where the closing events go, as JSON.

CREATE TABLE plugin_sessions (
    plugin      varchar(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    user_key    varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    version     bigint       NOT NULL,
    expires_at  bigint       NOT NULL,
    entry       mediumtext   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    PRIMARY KEY (plugin, user_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE INDEX idx_plugin_sessions_expires ON plugin_sessions (expires_at);
