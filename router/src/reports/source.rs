//! What a warehouse dialect answers for a plan: rows of raw aggregates that `answer` shapes. A
//! dialect (`sqlite`, `clickhouse`) implements [`Source`]; nothing above it sees SQL.
use super::periods::Period;
use super::plan::{DistributionPlan, Field, Measure, Scope};
use crate::warehouse::clickhouse::ClickHouseError;
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("warehouse query failed: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("warehouse query failed: {0}")]
    ClickHouse(#[from] ClickHouseError),
}

/// A finite number as SQL text, exactly: integers without a fraction, others in Rust's
/// shortest round-trip form. Both dialects write numbers this way (strings are quoted or bound).
pub fn number_literal(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:?}")
    }
}

/// A group key part: the property's value as JSON text (`"超级外教"`, `12`, `true`), `None` when
/// the event (or the person's profile) lacks it.
pub type KeyPart = Option<String>;

/// One measure's value for one group (and one period of the series, if any).
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureRow {
    /// Index into the periods asked for; `None` for the whole range.
    pub period: Option<usize>,
    pub key: Vec<KeyPart>,
    /// `None` when nothing was aggregated (a max over no values).
    pub value: Option<f64>,
}

/// How many people of a group (and period, per date) have `n` (events or periods).
#[derive(Debug, Clone, PartialEq)]
pub struct CountRow {
    pub period: Option<usize>,
    pub key: KeyPart,
    pub n: i64,
    pub people: i64,
}

/// How current the warehouse is, and a version of its data for the answer cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Freshness {
    /// Newest event time loaded (`data_update_time`).
    pub newest_ms: Option<i64>,
    /// Every record received before this is loaded (`data_sufficient_update_time`).
    pub sufficient_ms: Option<i64>,
    /// Changes whenever the loader has loaded anything: a cached answer of another version is stale.
    pub version: (i64, i64),
}

#[async_trait]
pub trait Source: Send + Sync {
    /// One measure of an events report, grouped by `by`, per period of `periods` or over the
    /// whole range.
    async fn measure(
        &self,
        scope: &Scope,
        by: &[Field],
        measure: &Measure,
        periods: Option<&[Period]>,
    ) -> Result<Vec<MeasureRow>, SourceError>;

    /// The per-person counts of a distribution report, as a histogram per group.
    async fn distribution(&self, plan: &DistributionPlan) -> Result<Vec<CountRow>, SourceError>;

    async fn freshness(&self, project: &str) -> Result<Freshness, SourceError>;
}
