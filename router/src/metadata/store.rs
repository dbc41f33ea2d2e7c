//! The registry's tables in SQL: MySQL/MariaDB in production, SQLite embedded, one code path.
//!
//! The store speaks through sqlx's `Any` driver with SQL both engines accept (`?` placeholders,
//! backticks around `key`), so behaviour cannot drift between backends. Every write bumps
//! `registry_version` in the same transaction: that counter is how running instances notice.
use super::model::{EventDef, PropertyDef, PropertyKind, ValueType};
use super::snapshot::Snapshot;
use crate::db::{self, Backend, DbError};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    #[error("registry database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("registry {0}")]
    Db(#[from] DbError),
    #[error("registry row is invalid: {0}")]
    BadRow(String),
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

const EVENT_COLUMNS: &str = "id, name, project, is_reserve, need_uuid, proposer, create_time";
const PROPERTY_COLUMNS: &str = "`key`, name, value_type, is_reserve, proposer, create_time";
/// What SELECTs read: `+ 0` turns MySQL's tinyint(1), which the Any driver cannot decode, into
/// an integer on both engines.
const EVENT_SELECT: &str =
    "id, name, project, is_reserve + 0 AS is_reserve, need_uuid + 0 AS need_uuid, proposer, create_time";
const PROPERTY_SELECT: &str =
    "`key`, name, value_type, is_reserve + 0 AS is_reserve, proposer, create_time";

impl Store {
    /// Connects to `url` (`mysql://user:pass@host/db` or `sqlite://path?mode=rwc`).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let (pool, backend) = db::connect(url).await?;
        Ok(Store { pool, backend })
    }

    /// Applies the migrations (tables and the tracking plan's preset rows) that are not applied yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Ok(db::migrate(&self.pool, self.backend).await?)
    }

    pub async fn version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT version FROM registry_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>(0)?)
    }

    /// Every table, read in one transaction so the snapshot is consistent with its version.
    pub async fn load_snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await?;
        let version: i64 = sqlx::query("SELECT version FROM registry_version WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        let events = sqlx::query(&format!("SELECT {EVENT_SELECT} FROM events"))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(event_of)
            .collect::<Result<Vec<_>, _>>()?;
        let mut properties = Vec::new();
        for kind in PropertyKind::ALL {
            let rows = sqlx::query(&format!("SELECT {PROPERTY_SELECT} FROM {}", kind.table()))
                .fetch_all(&mut *tx)
                .await?;
            for row in &rows {
                properties.push((kind, property_of(row)?));
            }
        }
        tx.commit().await?;
        Ok(Snapshot::new(version, events, properties))
    }

    pub async fn list_events(&self, project: Option<&str>) -> Result<Vec<EventDef>, StoreError> {
        let rows = match project {
            Some(p) => {
                sqlx::query(&format!(
                    "SELECT {EVENT_SELECT} FROM events WHERE project = ? ORDER BY id"
                ))
                .bind(p.to_owned())
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {EVENT_SELECT} FROM events ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(event_of).collect()
    }

    pub async fn get_event(&self, id: &str) -> Result<EventDef, StoreError> {
        let row = sqlx::query(&format!("SELECT {EVENT_SELECT} FROM events WHERE id = ?"))
            .bind(id.to_owned())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        event_of(&row)
    }

    /// Inserts `event`; returns the new registry version.
    pub async fn insert_event(&self, e: &EventDef) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(e.id.clone())
        .bind(e.name.clone())
        .bind(e.project.clone())
        .bind(i32::from(e.is_reserve))
        .bind(i32::from(e.need_uuid))
        .bind(e.proposer.clone())
        .bind(e.create_time)
        .execute(&mut *tx)
        .await
        .map_err(conflict_or_db)?;
        bump_and_commit(tx).await
    }

    /// Replaces the mutable columns of event `e.id`; returns the new registry version.
    pub async fn update_event(&self, e: &EventDef) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE events SET name = ?, project = ?, need_uuid = ?, proposer = ? WHERE id = ?",
        )
        .bind(e.name.clone())
        .bind(e.project.clone())
        .bind(i32::from(e.need_uuid))
        .bind(e.proposer.clone())
        .bind(e.id.clone())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        bump_and_commit(tx).await
    }

    pub async fn delete_event(&self, id: &str) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM events WHERE id = ?")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        bump_and_commit(tx).await
    }

    pub async fn list_properties(
        &self,
        kind: PropertyKind,
    ) -> Result<Vec<PropertyDef>, StoreError> {
        sqlx::query(&format!(
            "SELECT {PROPERTY_SELECT} FROM {} ORDER BY `key`",
            kind.table()
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(property_of)
        .collect()
    }

    pub async fn get_property(
        &self,
        kind: PropertyKind,
        key: &str,
    ) -> Result<PropertyDef, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROPERTY_SELECT} FROM {} WHERE `key` = ?",
            kind.table()
        ))
        .bind(key.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        property_of(&row)
    }

    /// Inserts `p` into `kind`'s table; `AlreadyExists` if it exists. Returns the new version.
    pub async fn insert_property(
        &self,
        kind: PropertyKind,
        p: &PropertyDef,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO {} ({PROPERTY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            kind.table()
        ))
        .bind(p.key.clone())
        .bind(p.name.clone())
        .bind(i64::from(p.value_type) as i32)
        .bind(i32::from(p.is_reserve))
        .bind(p.proposer.clone())
        .bind(p.create_time)
        .execute(&mut *tx)
        .await
        .map_err(conflict_or_db)?;
        bump_and_commit(tx).await
    }

    pub async fn update_property(
        &self,
        kind: PropertyKind,
        p: &PropertyDef,
    ) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(&format!(
            "UPDATE {} SET name = ?, value_type = ?, proposer = ? WHERE `key` = ?",
            kind.table()
        ))
        .bind(p.name.clone())
        .bind(i64::from(p.value_type) as i32)
        .bind(p.proposer.clone())
        .bind(p.key.clone())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        bump_and_commit(tx).await
    }

    pub async fn delete_property(&self, kind: PropertyKind, key: &str) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(&format!("DELETE FROM {} WHERE `key` = ?", kind.table()))
            .bind(key.to_owned())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        bump_and_commit(tx).await
    }

    /// The pool, for tests that need to break the database on purpose.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// SQLite creates the file (`mode=rwc`) but not its directory: `data/` may not exist yet.
async fn bump_and_commit(mut tx: sqlx::Transaction<'_, sqlx::Any>) -> Result<i64, StoreError> {
    sqlx::query("UPDATE registry_version SET version = version + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    let version: i64 = sqlx::query("SELECT version FROM registry_version WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    tx.commit().await?;
    Ok(version)
}

fn conflict_or_db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists,
        _ => StoreError::Database(e),
    }
}

fn flag(row: &AnyRow, column: &str) -> Result<bool, StoreError> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn event_of(row: &AnyRow) -> Result<EventDef, StoreError> {
    Ok(EventDef {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        project: row.try_get("project")?,
        is_reserve: flag(row, "is_reserve")?,
        need_uuid: flag(row, "need_uuid")?,
        proposer: row.try_get("proposer")?,
        create_time: row.try_get("create_time")?,
    })
}

fn property_of(row: &AnyRow) -> Result<PropertyDef, StoreError> {
    let raw: i64 = row.try_get("value_type")?;
    Ok(PropertyDef {
        key: row.try_get("key")?,
        name: row.try_get("name")?,
        value_type: ValueType::try_from(raw).map_err(StoreError::BadRow)?,
        is_reserve: flag(row, "is_reserve")?,
        proposer: row.try_get("proposer")?,
        create_time: row.try_get("create_time")?,
    })
}

#[cfg(test)]
mod tests {
    //! Runs against SQLite here; tests/tests/registry.rs runs the same paths against MariaDB.
    use super::*;

    /// A store on a fresh database: SQLite in a temp dir, or the MySQL URL in
    /// `SLOG_TEST_STORE_URL` (used to check the Any-driver mapping against MariaDB by hand).
    async fn fresh_store() -> (Store, Option<tempfile::TempDir>) {
        if let Ok(url) = std::env::var("SLOG_TEST_STORE_URL") {
            let store = Store::connect(&url).await.unwrap();
            for t in [
                "events",
                "event_properties",
                "user_identity_properties",
                "profile_properties",
                "registry_version",
                "_sqlx_migrations",
            ] {
                sqlx::query(&format!("DROP TABLE IF EXISTS {t}"))
                    .execute(store.pool())
                    .await
                    .unwrap();
            }
            return (store, None);
        }
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
        (Store::connect(&url).await.unwrap(), Some(dir))
    }

    fn prop(key: &str, t: ValueType) -> PropertyDef {
        PropertyDef::custom(key, key, t, "t")
    }

    #[tokio::test]
    async fn migrations_load_the_seed_presets() {
        let (store, _dir) = fresh_store().await;
        store.migrate().await.unwrap();
        store.migrate().await.unwrap(); // idempotent
        let snap = store.load_snapshot().await.unwrap();
        assert_eq!(
            snap.counts(),
            [
                // The plan's 7, and 11 the Sensors SDKs send on their own.
                ("events", 18),
                // The plan's 26, the 2 that the shipped example plugins read, and 47 that stock
                // Sensors SDKs send.
                ("event_properties", 75),
                ("user_identity_properties", 21),
                // The plan's 9 and 11 that stock Sensors SDKs send.
                ("profile_properties", 20)
            ]
        );
        let pv = snap
            .event("any-project", "pageview")
            .expect("pageview is common");
        assert!(pv.is_reserve && pv.project.is_none());
        assert_eq!(
            snap.property(PropertyKind::Event, "screen_width")
                .unwrap()
                .value_type,
            ValueType::Int
        );
        assert_eq!(
            snap.property(PropertyKind::Event, "wifi")
                .unwrap()
                .value_type,
            ValueType::Bool
        );
        assert_eq!(
            snap.property(PropertyKind::Profile, "first_visit_time")
                .unwrap()
                .value_type,
            ValueType::Datetime
        );
        assert!(snap.property(PropertyKind::Identity, "wx-id").is_some());
        assert!(
            snap.property(PropertyKind::Event, "course_name").is_none(),
            "business fields are not preset"
        );
    }

    #[tokio::test]
    async fn writes_bump_the_version_and_conflicts_are_reported() {
        let (store, _dir) = fresh_store().await;
        store.migrate().await.unwrap();
        let v0 = store.version().await.unwrap();
        let ev = EventDef::custom("buyCourse", "购买课程", Some("zhibo"), true, "li");
        let v1 = store.insert_event(&ev).await.unwrap();
        assert_eq!(v1, v0 + 1);
        assert_eq!(store.get_event("buyCourse").await.unwrap(), ev);
        assert!(matches!(
            store.insert_event(&ev).await,
            Err(StoreError::AlreadyExists)
        ));
        let mut shouty = ev.clone();
        shouty.id = "BUYCOURSE".into();
        assert!(
            matches!(
                store.insert_event(&shouty).await,
                Err(StoreError::AlreadyExists)
            ),
            "names are unique regardless of case"
        );
        assert_eq!(
            store.list_events(Some("zhibo")).await.unwrap(),
            vec![ev.clone()]
        );

        let v2 = store
            .insert_property(PropertyKind::Event, &prop("money", ValueType::Int))
            .await
            .unwrap();
        assert_eq!(v2, v1 + 1);
        let mut retyped = prop("money", ValueType::Double);
        retyped.name = "支付金额".into();
        store
            .update_property(PropertyKind::Event, &retyped)
            .await
            .unwrap();
        assert_eq!(
            store
                .get_property(PropertyKind::Event, "money")
                .await
                .unwrap()
                .value_type,
            ValueType::Double
        );
        store
            .delete_property(PropertyKind::Event, "money")
            .await
            .unwrap();
        assert!(matches!(
            store.get_property(PropertyKind::Event, "money").await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.delete_event("nope").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.load_snapshot().await.unwrap().version(),
            store.version().await.unwrap()
        );
    }
}
