//! Sessions in the database (`migrations/*/0007_plugin_sessions.sql`): SQLite on the embedded
//! default, MySQL/MariaDB beside the identity store. A write is an `UPDATE ... WHERE version = ?`
//! (or an insert that the primary key refuses when a session opened meanwhile), all of one
//! request's writes in one transaction, rolled back when any of them finds its session moved.
//! A sweep deletes each expired row by the version it read: the instance whose delete took the
//! row closes the session.
use super::{Committed, SessionEntry, SessionError, SessionKey, SessionStore, Stored, Write};
use crate::db::{self, long_text};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use std::collections::HashMap;

/// Longer partition keys are stored as `#` and their SHA-256 (the column holds 255 characters).
const MAX_USER_KEY_CHARS: usize = 200;

pub struct SqlSessions {
    pool: AnyPool,
}

impl SqlSessions {
    /// Connects to `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self, SessionError> {
        let (pool, backend) = db::connect(url).await?;
        db::migrate(&pool, backend).await?;
        Ok(SqlSessions { pool })
    }
}

fn user_column(user: &str) -> String {
    if user.chars().count() <= MAX_USER_KEY_CHARS {
        return user.to_owned();
    }
    let digest = Sha256::digest(user.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("#{hex}")
}

fn version_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn parse_entry(plugin: &str, text: &str) -> Result<SessionEntry, SessionError> {
    serde_json::from_str(text).map_err(|e| SessionError::Corrupt {
        plugin: plugin.to_owned(),
        reason: e.to_string(),
    })
}

#[async_trait]
impl SessionStore for SqlSessions {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn load(&self, keys: &[SessionKey]) -> Result<HashMap<SessionKey, Stored>, SessionError> {
        let mut by_plugin: HashMap<&str, HashMap<String, &SessionKey>> = HashMap::new();
        for key in keys {
            by_plugin
                .entry(key.plugin.as_str())
                .or_default()
                .insert(user_column(&key.user), key);
        }
        let mut loaded = HashMap::with_capacity(keys.len());
        for (plugin, users) in by_plugin {
            let columns: Vec<&String> = users.keys().collect();
            for chunk in columns.chunks(200) {
                let placeholders = vec!["?"; chunk.len()].join(", ");
                let sql = format!(
                    "SELECT CAST(user_key AS CHAR), version, entry FROM plugin_sessions \
                     WHERE plugin = ? AND user_key IN ({placeholders})"
                );
                let mut query = sqlx::query(&sql).bind(plugin.to_owned());
                for user in chunk {
                    query = query.bind(user.to_string());
                }
                for row in query.fetch_all(&self.pool).await? {
                    let column: String = row.try_get(0)?;
                    let Some(key) = users.get(&column) else {
                        continue;
                    };
                    let stored = Stored {
                        entry: parse_entry(plugin, &long_text(&row, 2)?)?,
                        version: version_of(row.try_get(1)?),
                    };
                    loaded.insert((*key).clone(), stored);
                }
            }
        }
        Ok(loaded)
    }

    async fn commit(&self, writes: &[Write]) -> Result<Committed, SessionError> {
        if writes.is_empty() {
            return Ok(Committed::Done);
        }
        let mut tx = self.pool.begin().await?;
        let mut moved = Vec::new();
        for write in writes {
            let entry = serde_json::to_string(&write.entry).expect("a session entry serialises");
            let (plugin, user) = (write.key.plugin.clone(), user_column(&write.key.user));
            let landed = match write.expected {
                Some(version) => {
                    sqlx::query(
                        "UPDATE plugin_sessions SET version = ?, expires_at = ?, entry = ? \
                         WHERE plugin = ? AND user_key = ? AND version = ?",
                    )
                    .bind(i64::try_from(version + 1).unwrap_or(i64::MAX))
                    .bind(write.entry.expires_at)
                    .bind(entry)
                    .bind(plugin)
                    .bind(user)
                    .bind(i64::try_from(version).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1
                }
                None => {
                    let inserted = sqlx::query(
                        "INSERT INTO plugin_sessions (plugin, user_key, version, expires_at, entry) \
                         VALUES (?, ?, 1, ?, ?)",
                    )
                    .bind(plugin)
                    .bind(user)
                    .bind(write.entry.expires_at)
                    .bind(entry)
                    .execute(&mut *tx)
                    .await;
                    match inserted {
                        Ok(_) => true,
                        Err(e) if db::is_duplicate_key(&e) => false,
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            if !landed {
                moved.push(write.key.clone());
            }
        }
        if !moved.is_empty() {
            tx.rollback().await?;
            return Ok(Committed::Conflict(moved));
        }
        tx.commit().await?;
        Ok(Committed::Done)
    }

    async fn take_expired(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, SessionEntry)>, SessionError> {
        let rows = sqlx::query(
            "SELECT CAST(plugin AS CHAR), CAST(user_key AS CHAR), version, entry \
             FROM plugin_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
        )
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut taken = Vec::with_capacity(rows.len());
        let mut tx = self.pool.begin().await?;
        for row in rows {
            let plugin: String = row.try_get(0)?;
            let user: String = row.try_get(1)?;
            let version: i64 = row.try_get(2)?;
            let text = long_text(&row, 3)?;
            // Whoever deletes the version read closes the session; a step that moved it since
            // kept the session open, and another sweeper that deleted it first closes it.
            let deleted = sqlx::query(
                "DELETE FROM plugin_sessions WHERE plugin = ? AND user_key = ? AND version = ?",
            )
            .bind(plugin.clone())
            .bind(user)
            .bind(version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted != 1 {
                continue;
            }
            match parse_entry(&plugin, &text) {
                Ok(entry) => taken.push((plugin, entry)),
                // Gone either way: reported, and closed without events.
                Err(e) => tracing::error!(error = %e, "expired session dropped"),
            }
        }
        tx.commit().await?;
        Ok(taken)
    }

    async fn count(&self) -> Result<u64, SessionError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM plugin_sessions")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(version_of(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::sessions::contract;
    use std::sync::Arc;

    async fn store(dir: &tempfile::TempDir) -> SqlSessions {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
        SqlSessions::open(&url).await.unwrap()
    }

    #[tokio::test]
    async fn keeps_the_session_store_contract_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        contract::check(&store(&dir).await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_connections_to_one_file_lose_no_step_and_close_each_session_once() {
        // Two stores on one file: two slog processes sharing the embedded database.
        let dir = tempfile::tempdir().unwrap();
        let a: Arc<dyn SessionStore> = Arc::new(store(&dir).await);
        let b: Arc<dyn SessionStore> = Arc::new(store(&dir).await);
        let both = Arc::new(Alternating(a, b, Default::default()));
        contract::check_concurrent_steps(both.clone(), 4, 25).await;
        contract::check_concurrent_sweeps(both, 200).await;
    }

    /// The contract on the MariaDB scripts/test.sh starts, in a database of this run's own.
    #[cfg(feature = "service-tests")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keeps_the_session_store_contract_on_mariadb() {
        let base =
            std::env::var("SLOG_TEST_MYSQL_URL").expect("SLOG_TEST_MYSQL_URL (scripts/test.sh)");
        let base = base.trim_end_matches('/');
        let name = format!("slog_sessions_{}", uuid::Uuid::now_v7().simple());
        let (admin, _) = db::connect(base).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let url = format!("{base}/{name}");
        contract::check(&SqlSessions::open(&url).await.unwrap()).await;
        let a: Arc<dyn SessionStore> = Arc::new(SqlSessions::open(&url).await.unwrap());
        let b: Arc<dyn SessionStore> = Arc::new(SqlSessions::open(&url).await.unwrap());
        let both = Arc::new(Alternating(a, b, Default::default()));
        contract::check_concurrent_steps(both.clone(), 4, 25).await;
        contract::check_concurrent_sweeps(both, 200).await;
        sqlx::query(&format!("DROP DATABASE {name}"))
            .execute(&admin)
            .await
            .unwrap();
    }

    #[test]
    fn long_partition_keys_are_hashed_to_fit_the_column() {
        assert_eq!(user_column("u-1"), "u-1");
        let long = "长".repeat(300);
        let column = user_column(&long);
        assert_eq!(column.len(), 65);
        assert_ne!(column, user_column(&"长".repeat(301)));
    }

    /// Calls go to one store, then the other.
    struct Alternating(
        Arc<dyn SessionStore>,
        Arc<dyn SessionStore>,
        std::sync::atomic::AtomicUsize,
    );

    impl Alternating {
        fn next(&self) -> &dyn SessionStore {
            let n = self.2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n.is_multiple_of(2) {
                self.0.as_ref()
            } else {
                self.1.as_ref()
            }
        }
    }

    #[async_trait]
    impl SessionStore for Alternating {
        fn name(&self) -> &'static str {
            "alternating"
        }
        async fn load(
            &self,
            keys: &[SessionKey],
        ) -> Result<HashMap<SessionKey, Stored>, SessionError> {
            self.next().load(keys).await
        }
        async fn commit(&self, writes: &[Write]) -> Result<Committed, SessionError> {
            self.next().commit(writes).await
        }
        async fn take_expired(
            &self,
            now: i64,
            limit: usize,
        ) -> Result<Vec<(String, SessionEntry)>, SessionError> {
            self.next().take_expired(now, limit).await
        }
        async fn count(&self) -> Result<u64, SessionError> {
            self.next().count().await
        }
    }
}
