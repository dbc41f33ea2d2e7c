//! The merge transaction of the SQL identity store: one person's links move to another, at most
//! once per uuid, never joining two values of an account key.
//!
//! Two requests (on one instance or on two) may try to merge the same uuid at the same moment,
//! into different survivors, or merge a survivor away while another request merges into it.
//! Merges that share a uuid therefore run one after the other: on MySQL each merge holds a
//! named lock per uuid (`GET_LOCK`, taken in a fixed order so two merges never wait for each
//! other in a circle); the embedded SQLite store has one connection, so one writer. Inside, both
//! uuids are checked not to be merged away already, and the claim on the merged uuid is the
//! primary key of `identity_merges(from_uuid)` (a plain INSERT: a second claimant fails, it never
//! overwrites). The account check reads with locks on MySQL, so that an account linked to either
//! uuid by a racing request is either seen here or waits for the merge and then sees it.
use super::keys::Identity;
use super::sql_outbox;
use super::store::{MergeNote, MergeOutcome, StoreError};
use crate::db::{self, Backend};
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Acquire, Any, AnyPool, Row, Transaction};
use std::collections::HashMap;

/// How long a merge waits for another merge of the same uuid, seconds.
const LOCK_WAIT_SECS: i64 = 5;

/// Runs the merge to its end even when the request that asked for it is dropped, so that a
/// named lock is never left held on a pooled connection.
#[allow(clippy::too_many_arguments)]
pub(super) async fn merge(
    pool: &AnyPool,
    backend: Backend,
    from: &str,
    to: &str,
    at: i64,
    reason: &str,
    account_keys: &[&str],
    note: &MergeNote,
) -> Result<MergeOutcome, StoreError> {
    let pool = pool.clone();
    let (from, to, reason) = (from.to_owned(), to.to_owned(), reason.to_owned());
    let note = note.clone();
    let keys: Vec<String> = account_keys.iter().map(|k| k.to_string()).collect();
    let task = tokio::spawn(async move {
        let mut conn = pool.acquire().await?;
        if backend == Backend::Sqlite {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            return merge_on(&mut conn, backend, &from, &to, at, &reason, &keys, &note).await;
        }
        let mut names = [lock_name(&from), lock_name(&to)];
        names.sort();
        let mut held = Vec::new();
        let mut result = Ok(MergeOutcome::Refused);
        for name in &names {
            match get_lock(&mut conn, name).await {
                Ok(()) => held.push(name),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if held.len() == names.len() {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            result = merge_on(&mut conn, backend, &from, &to, at, &reason, &keys, &note).await;
        }
        for name in held {
            if let Err(e) = release_lock(&mut conn, name).await {
                // The lock dies with the connection: close it rather than pool it.
                tracing::warn!(error = %e, "identity merge: releasing a lock failed; dropping the connection");
                conn.close_on_drop();
                break;
            }
        }
        result
    });
    match task.await {
        Ok(result) => result,
        Err(e) => Err(StoreError::Busy(format!("merge task failed: {e}"))),
    }
}

/// The named lock of one uuid. Lock names are at most 64 characters; a longer uuid (a client's
/// own) is hashed, and two uuids that share a hash only wait for each other.
fn lock_name(uuid: &str) -> String {
    if uuid.len() <= 48 {
        return format!("slog-merge:{uuid}");
    }
    // FNV-1a: the same name on every instance (the standard library's hasher is seeded).
    let hash = uuid.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("slog-merge:#{hash:016x}")
}

async fn get_lock(conn: &mut PoolConnection<Any>, name: &str) -> Result<(), StoreError> {
    let got: Option<i64> = sqlx::query("SELECT CAST(GET_LOCK(?, ?) AS SIGNED)")
        .bind(name.to_owned())
        .bind(LOCK_WAIT_SECS)
        .fetch_one(&mut **conn)
        .await?
        .try_get(0)?;
    match got {
        Some(1) => Ok(()),
        _ => Err(StoreError::Busy(format!(
            "another merge held {name} for {LOCK_WAIT_SECS} s"
        ))),
    }
}

async fn release_lock(conn: &mut PoolConnection<Any>, name: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(name.to_owned())
        .fetch_one(&mut **conn)
        .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn merge_on(
    conn: &mut PoolConnection<Any>,
    backend: Backend,
    from: &str,
    to: &str,
    at: i64,
    reason: &str,
    account_keys: &[&str],
    note: &MergeNote,
) -> Result<MergeOutcome, StoreError> {
    let mut tx = conn.begin().await?;
    for uuid in [from, to] {
        if let Some(into) = merged_into(&mut tx, uuid).await? {
            // A racing request merged it first. Links that reached it since (through a cache
            // entry that had not yet seen the merge) belong to its survivor as well.
            let swept = identities_on(&mut tx, uuid).await?;
            move_links(&mut tx, uuid, &into).await?;
            tx.commit().await?;
            return Ok(MergeOutcome::Gone {
                uuid: uuid.to_owned(),
                into,
                swept,
            });
        }
    }
    if accounts_clash(&mut tx, backend, from, to, account_keys).await? {
        tx.rollback().await?;
        return Ok(MergeOutcome::Refused);
    }
    let claimed = sqlx::query(
        "INSERT INTO identity_merges (from_uuid, to_uuid, merged_at, reason) VALUES (?, ?, ?, ?)",
    )
    .bind(from.to_owned())
    .bind(to.to_owned())
    .bind(at)
    .bind(reason.chars().take(255).collect::<String>())
    .execute(&mut *tx)
    .await;
    match claimed {
        Ok(_) => {}
        Err(e) if db::is_duplicate_key(&e) => {
            tx.rollback().await?;
            return Ok(MergeOutcome::Refused);
        }
        Err(e) => return Err(e.into()),
    }
    let moved = identities_on(&mut tx, from).await?;
    move_links(&mut tx, from, to).await?;
    // Committed with the merge or not at all: the announcement cannot be lost in between.
    sql_outbox::record(&mut tx, note, from, to, at, &moved).await?;
    // Earlier merges into `from` now lead to `to` as well, so the table stays one hop deep.
    sqlx::query("UPDATE identity_merges SET to_uuid = ? WHERE to_uuid = ?")
        .bind(to.to_owned())
        .bind(from.to_owned())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(MergeOutcome::Merged(moved))
}

/// Where `uuid` was merged, if it was.
async fn merged_into(
    tx: &mut Transaction<'_, Any>,
    uuid: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT CAST(to_uuid AS CHAR) FROM identity_merges WHERE from_uuid = ?")
        .bind(uuid.to_owned())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Whether `a` and `b` together hold two different values of one of `keys`.
async fn accounts_clash(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    a: &str,
    b: &str,
    keys: &[&str],
) -> Result<bool, StoreError> {
    if keys.is_empty() {
        return Ok(false);
    }
    let placeholders = vec!["?"; keys.len()].join(", ");
    // Locking on MySQL: an account linked to either of them by a racing request either lands
    // before this read (and is seen) or waits for the merge to commit (and then sees it).
    let lock = if backend == Backend::MySql {
        " FOR UPDATE"
    } else {
        ""
    };
    let sql = format!(
        "SELECT CAST(id_key AS CHAR), CAST(id_value AS CHAR) FROM identity_links \
         WHERE uuid IN (?, ?) AND id_key IN ({placeholders}){lock}"
    );
    let mut query = sqlx::query(&sql).bind(a.to_owned()).bind(b.to_owned());
    for key in keys {
        query = query.bind(key.to_string());
    }
    let held = identities_of(&query.fetch_all(&mut **tx).await?)?;
    let mut values: HashMap<&str, &str> = HashMap::new();
    for identity in &held {
        let seen = values.entry(&identity.key).or_insert(&identity.value);
        if *seen != identity.value {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn move_links(tx: &mut Transaction<'_, Any>, from: &str, to: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE identity_links SET uuid = ? WHERE uuid = ?")
        .bind(to.to_owned())
        .bind(from.to_owned())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The identities linked to `uuid`, oldest first, read inside the transaction that is about to
/// move or delete them.
pub(super) async fn identities_on(
    tx: &mut Transaction<'_, Any>,
    uuid: &str,
) -> Result<Vec<Identity>, StoreError> {
    let rows = sqlx::query(
        "SELECT CAST(id_key AS CHAR), CAST(id_value AS CHAR) FROM identity_links \
         WHERE uuid = ? ORDER BY first_seen, id_key",
    )
    .bind(uuid.to_owned())
    .fetch_all(&mut **tx)
    .await?;
    identities_of(&rows)
}

/// Rows of (key, value) as identities.
pub(super) fn identities_of(rows: &[AnyRow]) -> Result<Vec<Identity>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(Identity::new(
                r.try_get::<String, _>(0)?,
                r.try_get::<String, _>(1)?,
            ))
        })
        .collect()
}
