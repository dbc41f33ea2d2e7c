//! The identity store on MySQL/MariaDB or SQLite (tables in `migrations/*/0002_identity.sql`).
//!
//! Race safety comes from the primary key on (id_key, id_value): `link` inserts if absent
//! (`ON DUPLICATE KEY UPDATE` / `ON CONFLICT DO NOTHING`, which unlike `INSERT IGNORE` hide no
//! other error) and then reads the row back, so whichever request inserted first decides the uuid
//! and the other one adopts it. Moves are `UPDATE ... WHERE uuid = <the uuid the caller saw>`.
//! Merges are in `sql_merge`, the shared-device guard in `sql_guards`.
use super::keys::Identity;
use super::sql_guards;
use super::sql_merge::{self, identities_of, identities_on};
use super::sql_outbox;
use super::store::{
    AccountLink, Blocked, Found, IdentityStore, Link, MergeNote, MergeOutcome, PendingMerge,
    StoreError,
};
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

    async fn link_account(
        &self,
        identity: &Identity,
        uuid: &str,
        at: i64,
    ) -> Result<AccountLink, StoreError> {
        let linked = self.link(identity, uuid, at).await?;
        if linked != uuid {
            return Ok(AccountLink::OnOther(linked));
        }
        // A racing request may have given `uuid` another value of this key between the caller's
        // check and this insert: two values of an account key are two people, so ours goes.
        let values: i64 =
            sqlx::query("SELECT COUNT(*) FROM identity_links WHERE uuid = ? AND id_key = ?")
                .bind(uuid.to_owned())
                .bind(identity.key.clone())
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
        if values <= 1 {
            return Ok(AccountLink::Linked);
        }
        sqlx::query("DELETE FROM identity_links WHERE id_key = ? AND id_value = ? AND uuid = ?")
            .bind(identity.key.clone())
            .bind(identity.value.clone())
            .bind(uuid.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(AccountLink::Clash)
    }

    async fn merge(
        &self,
        from: &str,
        to: &str,
        at: i64,
        reason: &str,
        account_keys: &[&str],
        note: &MergeNote,
    ) -> Result<MergeOutcome, StoreError> {
        sql_merge::merge(
            &self.pool,
            self.backend,
            from,
            to,
            at,
            reason,
            account_keys,
            note,
        )
        .await
    }

    async fn pending_merges(
        &self,
        received_before: i64,
        limit: usize,
    ) -> Result<Vec<PendingMerge>, StoreError> {
        sql_outbox::pending(&self.pool, received_before, limit).await
    }

    async fn merges_delivered(&self, event_ids: &[uuid::Uuid]) -> Result<(), StoreError> {
        sql_outbox::delivered(&self.pool, event_ids).await
    }

    async fn identities_under(
        &self,
        uuid: &str,
        keys: &[&str],
    ) -> Result<Vec<Identity>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; keys.len()].join(", ");
        let sql = format!(
            "SELECT CAST(id_key AS CHAR), CAST(id_value AS CHAR) FROM identity_links \
             WHERE uuid = ? AND id_key IN ({placeholders})"
        );
        let mut query = sqlx::query(&sql).bind(uuid.to_owned());
        for key in keys {
            query = query.bind(key.to_string());
        }
        identities_of(&query.fetch_all(&self.pool).await?)
    }

    async fn note_device_owners(
        &self,
        identity: &Identity,
        owners: &[&str],
        at: i64,
    ) -> Result<usize, StoreError> {
        sql_guards::note_device_owners(&self.pool, self.backend, identity, owners, at).await
    }

    async fn block(&self, identity: &Identity, accounts: usize, at: i64) -> Result<(), StoreError> {
        sql_guards::block(&self.pool, self.backend, identity, accounts, at).await
    }

    async fn blocked(&self) -> Result<Vec<Blocked>, StoreError> {
        sql_guards::blocked(&self.pool).await
    }

    async fn unblock(&self, identity: &Identity) -> Result<bool, StoreError> {
        sql_guards::unblock(&self.pool, identity).await
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
        sqlx::query("DELETE FROM identity_device_owners WHERE uuid = ?")
            .bind(uuid.to_owned())
            .execute(&mut *tx)
            .await?;
        sql_outbox::forget(&mut tx, uuid).await?;
        tx.commit().await?;
        Ok(gone)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}
