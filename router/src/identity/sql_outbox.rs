//! The merge outbox of the SQL identity store (`migrations/*/0006_merge_outbox.sql`): a merge's
//! record content, written in the merge's transaction and deleted once the sink acknowledged the
//! record, so that a merge committed for a request the sink then refused is still announced.
use super::keys::Identity;
use super::store::{MergeNote, PendingMerge, StoreError};
use crate::event::Merge;
use sqlx::{Any, AnyPool, Row, Transaction};

/// Writes `note`'s merge of `from` into `to` (received at `at`, moving `moved`) to the outbox,
/// inside the merge's transaction.
pub(super) async fn record(
    tx: &mut Transaction<'_, Any>,
    note: &MergeNote,
    from: &str,
    to: &str,
    at: i64,
    moved: &[Identity],
) -> Result<(), StoreError> {
    let moved = serde_json::to_string(moved).expect("identities always serialise");
    sqlx::query(
        "INSERT INTO identity_merge_outbox (event_id, project, from_uuid, to_uuid, received_at, \
         event_time, trigger_key, trigger_value, moved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(note.event_id.to_string())
    .bind(note.project.clone())
    .bind(from.to_owned())
    .bind(to.to_owned())
    .bind(at)
    .bind(note.time)
    .bind(note.trigger.key.clone())
    .bind(note.trigger.value.clone())
    .bind(moved)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn pending(
    pool: &AnyPool,
    received_before: i64,
    limit: usize,
) -> Result<Vec<PendingMerge>, StoreError> {
    let rows = sqlx::query(
        "SELECT CAST(event_id AS CHAR), CAST(project AS CHAR), CAST(from_uuid AS CHAR), \
         CAST(to_uuid AS CHAR), received_at, event_time, CAST(trigger_key AS CHAR), \
         CAST(trigger_value AS CHAR), moved FROM identity_merge_outbox \
         WHERE received_at < ? ORDER BY received_at, event_id LIMIT ?",
    )
    .bind(received_before)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        let event_id: String = row.try_get(0)?;
        let moved = crate::db::long_text(&row, 8)?;
        let (Ok(event_id), Ok(moved)) = (
            event_id.parse::<uuid::Uuid>(),
            serde_json::from_str::<Vec<Identity>>(&moved),
        ) else {
            // Only slog writes these rows; one it cannot read is reported, not retried forever.
            tracing::error!(%event_id, "merge outbox: unreadable row left in place");
            continue;
        };
        pending.push(PendingMerge {
            project: row.try_get(1)?,
            received_at: row.try_get(4)?,
            time: row.try_get(5)?,
            merge: Merge {
                event_id,
                from_uuid: row.try_get(2)?,
                to_uuid: row.try_get(3)?,
                trigger: Identity::new(row.try_get::<String, _>(6)?, row.try_get::<String, _>(7)?),
                moved,
            },
        });
    }
    Ok(pending)
}

pub(super) async fn delivered(pool: &AnyPool, event_ids: &[uuid::Uuid]) -> Result<(), StoreError> {
    // Bounded statements: a request carries at most a few merges, the re-sender a batch.
    for chunk in event_ids.chunks(200) {
        let placeholders = vec!["?"; chunk.len()].join(", ");
        let sql = format!("DELETE FROM identity_merge_outbox WHERE event_id IN ({placeholders})");
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id.to_string());
        }
        query.execute(pool).await?;
    }
    Ok(())
}

/// Drops the unsent merges naming `uuid` (a privacy request), inside its transaction.
pub(super) async fn forget(tx: &mut Transaction<'_, Any>, uuid: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM identity_merge_outbox WHERE from_uuid = ? OR to_uuid = ?")
        .bind(uuid.to_owned())
        .bind(uuid.to_owned())
        .execute(&mut **tx)
        .await?;
    Ok(())
}
