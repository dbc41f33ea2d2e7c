-- Open sessions of the plugins' session hook. Same table as migrations/mysql/0007_plugin_sessions.sql,
-- which explains it.

CREATE TABLE plugin_sessions (
    plugin      TEXT    NOT NULL,
    user_key    TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    entry       TEXT    NOT NULL,
    PRIMARY KEY (plugin, user_key)
);

CREATE INDEX idx_plugin_sessions_expires ON plugin_sessions (expires_at);
