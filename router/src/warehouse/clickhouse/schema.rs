//! The ClickHouse warehouse's tables: `migrations/warehouse-clickhouse`, applied in order once
//! each and recorded in `wh_migrations`. ClickHouse has no transactions, so every statement is
//! written to be safe to run again (`IF NOT EXISTS`) should a migration stop half way.
use super::client::{ClickHouse, ClickHouseError};

/// The migrations, in order: (version, SQL).
const MIGRATIONS: &[(u32, &str)] = &[(
    1,
    include_str!("../../../../migrations/warehouse-clickhouse/0001_warehouse.sql"),
)];

/// Creates the database and applies the migrations it lacks.
pub async fn migrate(ch: &ClickHouse) -> Result<(), ClickHouseError> {
    ch.execute_on_server(&format!("CREATE DATABASE IF NOT EXISTS {}", ch.database()))
        .await?;
    ch.execute(
        "CREATE TABLE IF NOT EXISTS wh_migrations (version UInt32, applied_at DateTime) \
         ENGINE = TinyLog",
    )
    .await?;
    let applied: Vec<u32> = ch
        .select("SELECT version FROM wh_migrations")
        .await?
        .into_iter()
        .filter_map(|row| row.first().and_then(|v| v.as_u64()).map(|v| v as u32))
        .collect();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        for statement in statements(sql) {
            ch.execute(&statement).await?;
        }
        ch.execute(&format!(
            "INSERT INTO wh_migrations (version, applied_at) VALUES ({version}, now())"
        ))
        .await?;
        tracing::info!(version, "clickhouse warehouse migration applied");
    }
    Ok(())
}

/// The statements of a migration file: comments dropped, split at `;` ending a line.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("").trim_end();
        if code.trim().is_empty() {
            continue;
        }
        current.push_str(code);
        current.push('\n');
        if code.ends_with(';') {
            out.push(current.trim().trim_end_matches(';').to_owned());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_migration_splits_into_its_create_statements() {
        let all = statements(MIGRATIONS[0].1);
        assert_eq!(all.len(), 5);
        assert!(all
            .iter()
            .all(|s| s.starts_with("CREATE TABLE IF NOT EXISTS")));
        assert!(all.iter().all(|s| !s.contains("--") && !s.ends_with(';')));
    }
}
