//! The production analytic store on ClickHouse: its HTTP client, its tables, and how a batch of
//! consumed records is written to them.
//!
//! - `client`: statements, inserts and selects over the HTTP interface, literals quoted;
//! - `schema`: the migrations of `migrations/warehouse-clickhouse`;
//! - `props`: properties as parallel key/value arrays;
//! - `persons`: the person each merged uuid counts as, agreed on by concurrent loaders;
//! - `writer`: one batch stored once, with the progress that makes a retry safe.
pub mod client;
pub mod persons;
pub mod props;
pub mod schema;
pub mod writer;

pub use client::{ClickHouse, ClickHouseError};

/// Connects to the warehouse at `url` and applies its migrations.
pub async fn open(url: &str) -> Result<ClickHouse, ClickHouseError> {
    let ch = ClickHouse::new(url)?;
    schema::migrate(&ch).await?;
    Ok(ch)
}
