//! The embedded analytic store: a SQLite file (`data/warehouse.db` by default) with the tables
//! of `migrations/warehouse-sqlite`, opened by the loader that fills it and by the reports that
//! read it.
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::str::FromStr;
use std::time::Duration;

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/warehouse-sqlite");

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("warehouse database {url}: {source}")]
    Database { url: String, source: sqlx::Error },
    #[error("warehouse migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Opens (creating it and its directory if needed) the SQLite warehouse at `url`
/// (`sqlite://data/warehouse.db`) and applies its migrations. Readers share the pool with the
/// loader; WAL lets reports read while the loader writes.
pub async fn open(url: &str) -> Result<SqlitePool, OpenError> {
    let failed = |source| OpenError::Database {
        url: url.to_owned(),
        source,
    };
    let options = SqliteConnectOptions::from_str(url)
        .map_err(failed)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5));
    if let Some(dir) = options.get_filename().parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| failed(sqlx::Error::Io(e)))?;
        }
    }
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(failed)?;
    MIGRATIONS.run(&pool).await?;
    Ok(pool)
}
