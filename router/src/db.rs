//! The SQL databases slog keeps its state in (registry, identity store): one connection recipe
//! and one migration set for MySQL/MariaDB and SQLite.
//!
//! Both stores speak through sqlx's `Any` driver with SQL both engines accept, so behaviour cannot
//! drift between backends. The migrations in `migrations/{mysql,sqlite}` create every table; a
//! store pointed at its own database still runs all of them (sqlx refuses a database whose
//! applied migrations it does not know, so the set cannot be split per store).
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use std::time::Duration;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/mysql");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL must start with mysql:// or sqlite:, got {0:?}")]
    UnsupportedUrl(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    MySql,
    Sqlite,
}

/// Connects to `url` (`mysql://user:pass@host/db` or `sqlite://path?mode=rwc`).
pub async fn connect(url: &str) -> Result<(AnyPool, Backend), DbError> {
    let backend = if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        Backend::MySql
    } else if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else {
        return Err(DbError::UnsupportedUrl(url.to_owned()));
    };
    if backend == Backend::Sqlite {
        create_parent_dir(url).map_err(|e| DbError::Database(sqlx::Error::Io(e)))?;
    }
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        // SQLite allows one writer; a single connection avoids "database is locked" in-process.
        .max_connections(if backend == Backend::Sqlite { 1 } else { 8 })
        // A ping before every use is a round trip to SQLite's worker thread, per query; an
        // embedded database cannot drop the connection the way a server can.
        .test_before_acquire(backend != Backend::Sqlite)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL + synchronous=NORMAL: a commit survives a crash of slog (not of the
                    // machine's power) and costs no fsync, which otherwise bounds the embedded
                    // identity store at a few hundred new people per second.
                    sqlx::Executor::execute(&mut *conn, "PRAGMA journal_mode = WAL").await?;
                    sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = NORMAL").await?;
                    sqlx::Executor::execute(&mut *conn, "PRAGMA busy_timeout = 5000").await?;
                }
                Ok(())
            })
        })
        .acquire_timeout(Duration::from_secs(3))
        .connect(&url.replacen("mariadb:", "mysql:", 1))
        .await?;
    Ok((pool, backend))
}

/// Applies the migrations (tables and the tracking plan's preset rows) that are not applied yet.
pub async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), DbError> {
    match backend {
        Backend::MySql => MYSQL_MIGRATIONS.run(pool).await?,
        Backend::Sqlite => SQLITE_MIGRATIONS.run(pool).await?,
    }
    Ok(())
}

/// A primary-key or unique-index violation (MySQL 1062, SQLite's UNIQUE constraint).
pub fn is_duplicate_key(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else {
        return false;
    };
    db.is_unique_violation()
        || db
            .code()
            .is_some_and(|c| c == "1062" || c == "2067" || c == "1555")
        || db.message().contains("Duplicate entry")
        || db.message().contains("UNIQUE constraint failed")
}

/// A long text column (MySQL `mediumtext`, SQLite `TEXT`): MySQL hands a binary-collated one over
/// as bytes whatever the cast, SQLite as text.
pub fn long_text(row: &sqlx::any::AnyRow, index: usize) -> Result<String, sqlx::Error> {
    use sqlx::Row;
    match row.try_get::<String, _>(index) {
        Ok(text) => Ok(text),
        Err(_) => {
            let bytes: Vec<u8> = row.try_get(index)?;
            String::from_utf8(bytes).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        }
    }
}

fn create_parent_dir(url: &str) -> std::io::Result<()> {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or("");
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}
