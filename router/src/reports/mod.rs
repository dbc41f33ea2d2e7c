//! The report API (tracking plan §4, Sensors Analytics' query API): `POST /events/report` (event
//! analysis) and `POST /addictions/report` (distribution analysis) over the embedded warehouse
//! the loader fills. It reads the `wh_*` tables only, never the pipeline.
//!
//! - `request`: the bodies as sent; `plan`: checked against the registry snapshot and resolved
//!   (periods in epoch ms from `periods`), independent of SQL;
//! - `source`: what a warehouse dialect answers; `sqlite` and `clickhouse`: the two dialects;
//! - `answer`: the answers' JSON; `cache`: answers kept for `use_cache`;
//! - `config`: the `[reports]` section. The HTTP routes and their token are `report_api`.
pub mod answer;
pub mod cache;
pub mod clickhouse;
pub mod config;
pub mod periods;
pub mod plan;
pub mod request;
pub mod source;
pub mod sqlite;

use crate::error::Rejection;
use crate::metadata::Snapshot;
use cache::{AnswerCache, Key};
use chrono_tz::Tz;
pub use config::ReportsConfig;
use serde_json::Value;
use source::{Source, SourceError};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// The report API's state: the warehouse, the calendar, the tokens and the answer cache.
pub struct Reports {
    source: Box<dyn Source>,
    tz: Tz,
    default_project: String,
    max_range_days: u32,
    tokens: Vec<Arc<str>>,
    cache: AnswerCache,
}

impl Reports {
    /// Opens the warehouse at `warehouse_url`, SQLite or ClickHouse (creating and migrating
    /// its tables if needed; an unreachable ClickHouse is tried again by the loader).
    pub async fn open(
        config: &ReportsConfig,
        warehouse_url: &str,
        admin_token: Option<&str>,
    ) -> anyhow::Result<Self> {
        let warehouse = crate::warehouse::WarehouseConfig {
            url: warehouse_url.to_owned(),
            ..Default::default()
        };
        let source: Box<dyn Source> = match warehouse.store() {
            crate::warehouse::Store::Sqlite => {
                let pool = crate::warehouse::sqlite::open(warehouse_url).await?;
                Box::new(sqlite::SqliteSource::new(pool))
            }
            crate::warehouse::Store::ClickHouse => {
                // A ClickHouse that is down must not keep slog from serving events: the reports
                // answer 503 until it is back (the loaders create the tables then).
                let ch = crate::warehouse::clickhouse::ClickHouse::new(warehouse_url)?;
                if let Err(e) = crate::warehouse::clickhouse::schema::migrate(&ch).await {
                    tracing::warn!(error = %e, "the clickhouse warehouse is not reachable yet; reports answer 503 until it is");
                }
                Box::new(clickhouse::ClickHouseSource::new(ch))
            }
        };
        Self::new(source, config, admin_token)
    }

    /// Reports over `source`. Tokens: `reports.token` and the admin token, either accepted.
    pub fn new(
        source: Box<dyn Source>,
        config: &ReportsConfig,
        admin_token: Option<&str>,
    ) -> anyhow::Result<Self> {
        let tokens = [config.token(), admin_token.filter(|t| !t.is_empty())]
            .into_iter()
            .flatten()
            .map(Arc::from)
            .collect();
        Ok(Reports {
            source,
            tz: config.time_zone()?,
            default_project: config.default_project.clone(),
            max_range_days: config.max_range_days,
            tokens,
            cache: AnswerCache::new(config.cache_entries),
        })
    }

    /// The tokens the API accepts; none means the API is off.
    pub fn tokens(&self) -> &[Arc<str>] {
        &self.tokens
    }

    pub fn default_project(&self) -> &str {
        &self.default_project
    }

    fn context<'a>(&self, snapshot: &'a Snapshot, project: &'a str) -> plan::Context<'a> {
        plan::Context {
            snapshot,
            project,
            tz: self.tz,
            max_range_days: self.max_range_days,
        }
    }

    /// The cached answer when asked for one and the data has not changed since; else the cache
    /// key to keep the new answer under and the times it quotes.
    async fn lookup(
        &self,
        project: &str,
        endpoint: &'static str,
        request: &Value,
        use_cache: bool,
    ) -> Result<Result<Arc<Value>, (Key, answer::Times)>, ReportError> {
        let freshness = self.source.freshness(project).await?;
        let key = Key {
            project: project.to_owned(),
            endpoint,
            request: request.to_string(),
            version: freshness,
        };
        if use_cache {
            if let Some(hit) = self.cache.get(&key) {
                return Ok(Ok(hit));
            }
        }
        let times = answer::Times {
            report_ms: crate::clock::now_ms(),
            freshness,
            tz: self.tz,
        };
        Ok(Err((key, times)))
    }

    fn keep(&self, key: Key, answer: Value) -> Arc<Value> {
        let answer = Arc::new(answer);
        self.cache.put(key, answer.clone());
        answer
    }

    /// `POST /events/report`.
    pub async fn events(
        &self,
        snapshot: &Snapshot,
        project: &str,
        body: &[u8],
    ) -> Result<Arc<Value>, ReportError> {
        let (request, raw) = request::parse::<request::EventsRequest>(body)?;
        let plan = plan::events(&self.context(snapshot, project), &request)?;
        let (key, times) = match self
            .lookup(project, "events", &raw, request.use_cache)
            .await?
        {
            Ok(hit) => return Ok(hit),
            Err(miss) => miss,
        };
        // The whole range is always needed: it orders and limits the groups, and its distinct
        // counts are exact (a sum of the periods' would count a person once per period).
        let mut rollup = Vec::with_capacity(plan.measures.len());
        for m in &plan.measures {
            rollup.push(
                self.source
                    .measure(&plan.scope, &plan.by_fields, m, None)
                    .await?,
            );
        }
        let detail = match &plan.periods {
            None => None,
            Some(periods) => {
                let mut detail = Vec::with_capacity(plan.measures.len());
                for m in &plan.measures {
                    let rows = self
                        .source
                        .measure(&plan.scope, &plan.by_fields, m, Some(periods))
                        .await?;
                    detail.push(rows);
                }
                Some(detail)
            }
        };
        Ok(self.keep(key, answer::events(&plan, rollup, detail, &times)))
    }

    /// `POST /addictions/report`.
    pub async fn distribution(
        &self,
        snapshot: &Snapshot,
        project: &str,
        body: &[u8],
    ) -> Result<Arc<Value>, ReportError> {
        let (request, raw) = request::parse::<request::AddictionsRequest>(body)?;
        let plan = plan::distribution(&self.context(snapshot, project), &request)?;
        let (key, times) = match self
            .lookup(project, "addictions", &raw, request.use_cache)
            .await?
        {
            Ok(hit) => return Ok(hit),
            Err(miss) => miss,
        };
        let rows = self.source.distribution(&plan).await?;
        Ok(self.keep(key, answer::distribution(&plan, rows, &times)))
    }
}
