//! The two state backends a test can run slog on: the embedded SQLite file, or MariaDB with a
//! Redis cache (scripts/test.sh starts both and exports `SLOG_TEST_MYSQL_URL` and
//! `SLOG_TEST_REDIS_URL`). Every test gets its own database and its own Redis key prefix.
use crate::harness::{mysql_test_database, redis_test_url, unique_prefix};

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    MySqlRedis,
}

/// One database (and Redis prefix) that one or more slog instances share.
pub struct Databases {
    pub url: String,
    pub redis_url: Option<String>,
    pub prefix: String,
    /// Holds the SQLite file; removed when the test ends.
    _dir: Option<tempfile::TempDir>,
}

impl Databases {
    pub async fn new(backend: Backend) -> Databases {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("registry.db");
                Databases {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    redis_url: None,
                    prefix: unique_prefix(),
                    _dir: Some(dir),
                }
            }
            Backend::MySqlRedis => Databases {
                url: mysql_test_database().await,
                redis_url: Some(redis_test_url()),
                prefix: unique_prefix(),
                _dir: None,
            },
        }
    }

    /// The `[registry]` keys naming these databases (the identity store defaults to them too),
    /// without the section header.
    pub fn registry_keys(&self) -> String {
        let redis = match &self.redis_url {
            Some(url) => format!("redis_url = \"{url}\"\n"),
            None => String::new(),
        };
        format!(
            "url = \"{url}\"\n{redis}redis_key_prefix = \"{prefix}\"\n",
            url = self.url,
            prefix = self.prefix
        )
    }
}
