//! The SQL identity store's guard against device ids shared by many people: who a device
//! identity was seen on (`identity_device_owners`), and the blocklist (`identity_blocklist`).
use super::keys::Identity;
use super::store::{Blocked, StoreError};
use crate::db::Backend;
use sqlx::{AnyPool, Row};

pub(super) async fn note_device_owners(
    pool: &AnyPool,
    backend: Backend,
    identity: &Identity,
    owners: &[&str],
    at: i64,
) -> Result<usize, StoreError> {
    let insert = match backend {
        Backend::MySql => {
            "INSERT INTO identity_device_owners (id_key, id_value, uuid, seen_at) \
             VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE seen_at = seen_at"
        }
        Backend::Sqlite => {
            "INSERT INTO identity_device_owners (id_key, id_value, uuid, seen_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (id_key, id_value, uuid) DO NOTHING"
        }
    };
    for owner in owners {
        sqlx::query(insert)
            .bind(identity.key.clone())
            .bind(identity.value.clone())
            .bind(owner.to_string())
            .bind(at)
            .execute(pool)
            .await?;
    }
    let count: i64 = sqlx::query(
        "SELECT COUNT(*) FROM identity_device_owners WHERE id_key = ? AND id_value = ?",
    )
    .bind(identity.key.clone())
    .bind(identity.value.clone())
    .fetch_one(pool)
    .await?
    .try_get(0)?;
    Ok(usize::try_from(count).unwrap_or(0))
}

pub(super) async fn block(
    pool: &AnyPool,
    backend: Backend,
    identity: &Identity,
    accounts: usize,
    at: i64,
) -> Result<(), StoreError> {
    let insert = match backend {
        Backend::MySql => {
            "INSERT INTO identity_blocklist (id_key, id_value, accounts, blocked_at) \
             VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE accounts = VALUES(accounts)"
        }
        Backend::Sqlite => {
            "INSERT INTO identity_blocklist (id_key, id_value, accounts, blocked_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (id_key, id_value) DO UPDATE SET \
             accounts = excluded.accounts"
        }
    };
    sqlx::query(insert)
        .bind(identity.key.clone())
        .bind(identity.value.clone())
        .bind(i64::try_from(accounts).unwrap_or(i64::MAX))
        .bind(at)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn blocked(pool: &AnyPool) -> Result<Vec<Blocked>, StoreError> {
    let rows = sqlx::query(
        "SELECT CAST(id_key AS CHAR), CAST(id_value AS CHAR), accounts, blocked_at \
         FROM identity_blocklist ORDER BY blocked_at DESC, id_key, id_value",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Blocked {
                key: r.try_get(0)?,
                value: r.try_get(1)?,
                accounts: r.try_get::<i64, _>(2)?,
                blocked_at: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

pub(super) async fn unblock(pool: &AnyPool, identity: &Identity) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
    let removed = sqlx::query("DELETE FROM identity_blocklist WHERE id_key = ? AND id_value = ?")
        .bind(identity.key.clone())
        .bind(identity.value.clone())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("DELETE FROM identity_device_owners WHERE id_key = ? AND id_value = ?")
        .bind(identity.key.clone())
        .bind(identity.value.clone())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed > 0)
}
