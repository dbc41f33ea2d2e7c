//! The identity store on MySQL/MariaDB or SQLite (tables in `migrations/*/0002_identity.sql`).
//!
//! Race safety comes from the primary key on (id_key, id_value): `link` inserts if absent
//! (`ON DUPLICATE KEY UPDATE` / `ON CONFLICT DO NOTHING`, which unlike `INSERT IGNORE` hide no
//! other error) and then reads the row back, so whichever request inserted first decides the uuid
//! and the other one adopts it. Moves are `UPDATE ... WHERE uuid = <the uuid the caller saw>`.
use super::keys::Identity;
use super::store::{Found, IdentityStore, Link, StoreError};
use crate::db::{self, Backend};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

#[derive(Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
}

/// Text columns read back through `CAST(.. AS CHAR)`: sqlx reports MySQL's binary-collated
/// columns as VARBINARY (sqlx #3387), and CHAR gives TEXT affinity on SQLite.
const LINK_SELECT: &str = "CAST(id_key AS CHAR) AS id_key, CAST(id_value AS CHAR) AS id_value, \
     CAST(uuid AS CHAR) AS uuid, first_seen, last_seen";

impl SqlStore {
    /// Connects to `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        let (pool, backend) = db::connect(url).await?;
        db::migrate(&pool, backend).await?;
        Ok(SqlStore { pool, backend })
    }

    fn insert_if_absent(&self) -> &'static str {
        match self.backend {
            Backend::MySql => {
                "INSERT INTO identity_links (id_key, id_value, uuid, first_seen, last_seen) \
                 VALUES (?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE id_key = id_key"
            }
            Backend::Sqlite => {
                "INSERT INTO identity_links (id_key, id_value, uuid, first_seen, last_seen) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (id_key, id_value) DO NOTHING"
            }
        }
    }
}

fn link_of(row: &AnyRow) -> Result<Link, sqlx::Error> {
    Ok(Link {
        key: row.try_get("id_key")?,
        value: row.try_get("id_value")?,
        uuid: row.try_get("uuid")?,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
    })
}

/// The identities linked to `uuid`, oldest first, read inside the transaction that is about to
/// move or delete them.
async fn identities_on(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    uuid: &str,
) -> Result<Vec<Identity>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {LINK_SELECT} FROM identity_links WHERE uuid = ? ORDER BY first_seen"
    ))
    .bind(uuid.to_owned())
    .fetch_all(&mut **tx)
    .await?;
    let identities = rows
        .iter()
        .map(|r| link_of(r).map(|l| Identity::new(l.key, l.value)))
        .collect::<Result<_, _>>()?;
    Ok(identities)
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn lookup(&self, identity: &Identity) -> Result<Option<Found>, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(uuid AS CHAR), last_seen FROM identity_links \
             WHERE id_key = ? AND id_value = ?",
        )
        .bind(identity.key.clone())
        .bind(identity.value.clone())
        .fetch_optional(&self.pool)
        .await?;
        let found = row.map(|r| {
            Ok::<_, sqlx::Error>(Found {
                uuid: r.try_get(0)?,
                last_seen: r.try_get(1)?,
            })
        });
        Ok(found.transpose()?)
    }

    async fn link(&self, identity: &Identity, uuid: &str, at: i64) -> Result<String, StoreError> {
        sqlx::query(self.insert_if_absent())
            .bind(identity.key.clone())
            .bind(identity.value.clone())
            .bind(uuid.to_owned())
            .bind(at)
            .bind(at)
            .execute(&self.pool)
            .await?;
        // Read back: a racing request may have inserted first, and its uuid is the one that holds.
        match self.lookup(identity).await? {
            Some(linked) => Ok(linked.uuid),
            // Unlinked between our insert and read (an admin unlink): our uuid stands for this event.
            None => Ok(uuid.to_owned()),
        }
    }

    async fn touch(
        &self,
        identity: &Identity,
        at: i64,
        granularity_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE identity_links SET last_seen = ? \
             WHERE id_key = ? AND id_value = ? AND last_seen < ?",
        )
        .bind(at)
        .bind(identity.key.clone())
        .bind(identity.value.clone())
        .bind(at - granularity_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn relink(
        &self,
        identity: &Identity,
        from: &str,
        to: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE identity_links SET uuid = ?, last_seen = ? \
             WHERE id_key = ? AND id_value = ? AND uuid = ?",
        )
        .bind(to.to_owned())
        .bind(at)
        .bind(identity.key.clone())
        .bind(identity.value.clone())
        .bind(from.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn merge(
        &self,
        from: &str,
        to: &str,
        at: i64,
        reason: &str,
    ) -> Result<Vec<Identity>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let moved = identities_on(&mut tx, from).await?;
        sqlx::query("UPDATE identity_links SET uuid = ? WHERE uuid = ?")
            .bind(to.to_owned())
            .bind(from.to_owned())
            .execute(&mut *tx)
            .await?;
        // Earlier merges into `from` now lead to `to` as well, so the table stays one hop deep.
        sqlx::query("UPDATE identity_merges SET to_uuid = ? WHERE to_uuid = ?")
            .bind(to.to_owned())
            .bind(from.to_owned())
            .execute(&mut *tx)
            .await?;
        let insert = match self.backend {
            Backend::MySql => {
                "INSERT INTO identity_merges (from_uuid, to_uuid, merged_at, reason) \
                 VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE to_uuid = VALUES(to_uuid), \
                 merged_at = VALUES(merged_at), reason = VALUES(reason)"
            }
            Backend::Sqlite => {
                "INSERT INTO identity_merges (from_uuid, to_uuid, merged_at, reason) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (from_uuid) DO UPDATE SET \
                 to_uuid = excluded.to_uuid, merged_at = excluded.merged_at, reason = excluded.reason"
            }
        };
        sqlx::query(insert)
            .bind(from.to_owned())
            .bind(to.to_owned())
            .bind(at)
            .bind(reason.chars().take(255).collect::<String>())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(moved)
    }

    async fn has_any_key(&self, uuid: &str, keys: &[&str]) -> Result<bool, StoreError> {
        if keys.is_empty() {
            return Ok(false);
        }
        let placeholders = vec!["?"; keys.len()].join(", ");
        let sql = format!(
            "SELECT 1 FROM identity_links WHERE uuid = ? AND id_key IN ({placeholders}) LIMIT 1"
        );
        let mut query = sqlx::query(&sql).bind(uuid.to_owned());
        for key in keys {
            query = query.bind(key.to_string());
        }
        Ok(query.fetch_optional(&self.pool).await?.is_some())
    }

    async fn links_of(&self, uuid: &str) -> Result<Vec<Link>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {LINK_SELECT} FROM identity_links WHERE uuid = ? ORDER BY first_seen, id_key"
        ))
        .bind(uuid.to_owned())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(link_of).collect::<Result<_, _>>()?)
    }

    async fn unlink(&self, identity: &Identity) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let uuid: Option<String> = sqlx::query(
            "SELECT CAST(uuid AS CHAR) FROM identity_links WHERE id_key = ? AND id_value = ?",
        )
        .bind(identity.key.clone())
        .bind(identity.value.clone())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        sqlx::query("DELETE FROM identity_links WHERE id_key = ? AND id_value = ?")
            .bind(identity.key.clone())
            .bind(identity.value.clone())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(uuid)
    }

    async fn forget(&self, uuid: &str) -> Result<Vec<Identity>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let gone = identities_on(&mut tx, uuid).await?;
        sqlx::query("DELETE FROM identity_links WHERE uuid = ?")
            .bind(uuid.to_owned())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM identity_merges WHERE from_uuid = ? OR to_uuid = ?")
            .bind(uuid.to_owned())
            .bind(uuid.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(gone)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
