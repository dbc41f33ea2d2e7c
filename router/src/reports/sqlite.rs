//! The SQLite dialect: a plan as SQL over the `wh_*` tables of the embedded warehouse.
//!
//! Every query has the same core: the project's events in `[start, end)` (the index
//! `wh_events_by_report` serves project, eid and time), each event's person
//! `COALESCE(wh_persons.person, wh_events.uuid)` (an anonymous history merged into a login is one
//! person), the person's profile from `wh_users` when a `user.` property is used, the filter,
//! and the sample. Periods come as a `VALUES` table of epoch-ms boundaries computed in Rust, so
//! the SQL needs no time zone.
//!
//! The ClickHouse dialect (`clickhouse`) reads the same tables with the same sample
//! expression, so both stores sample the same people.
use super::periods::Period;
use super::plan::{
    Aggregate, Condition, DistributionPlan, Field, Filter, Measure, PerPerson, Scalar, Scope,
    Source as Origin, Test, FULL_SAMPLE,
};
use super::source::{number_literal, CountRow, Freshness, MeasureRow, Source, SourceError};
use async_trait::async_trait;
use sqlx::{Row, SqlitePool};
use std::fmt::Write;

const PERSON: &str = "COALESCE(p.person, e.uuid)";

/// The warehouse file, read through the pool the warehouse module opened.
pub struct SqliteSource {
    pool: SqlitePool,
}

impl SqliteSource {
    pub fn new(pool: SqlitePool) -> Self {
        SqliteSource { pool }
    }
}

/// A statement and its text parameters, in order.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    binds: Vec<String>,
}

impl Sql {
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: &str) -> &mut Self {
        self.text.push('?');
        self.binds.push(value.to_owned());
        self
    }
}

/// The JSON path of a property. Names follow `metadata::names` (checked by the plan), so they
/// need no escaping.
fn path(field: &Field) -> String {
    format!("'$.\"{}\"'", field.name)
}

fn column(field: &Field) -> &'static str {
    match field.source {
        Origin::Event => "e.props",
        Origin::User => "u.props",
    }
}

/// The property as JSON text (a group key); NULL when absent or null.
fn raw(field: &Field) -> String {
    format!("NULLIF({} -> {}, 'null')", column(field), path(field))
}

/// The property as an SQL value (a filter operand or an aggregated number).
fn value(field: &Field) -> String {
    format!("json_extract({}, {})", column(field), path(field))
}

fn json_type(field: &Field) -> String {
    format!(
        "COALESCE(json_type({}, {}), 'null')",
        column(field),
        path(field)
    )
}

/// A finite number as an SQL literal (numbers are written, strings are bound).
fn number(n: f64) -> String {
    number_literal(n)
}

fn list(sql: &mut Sql, scalars: &[Scalar]) {
    sql.push("(");
    for (i, s) in scalars.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        match s {
            Scalar::Text(t) => sql.bind(t),
            Scalar::Number(n) => sql.push(&number(*n)),
        };
    }
    sql.push(")");
}

/// A comparison never holds for an absent property, except `notSet`: what SQL's NULL does on
/// both dialects.
fn condition(sql: &mut Sql, c: &Condition) {
    let v = value(&c.field);
    match &c.test {
        Test::Equal(s) => {
            sql.push(&format!("{v} IN "));
            list(sql, s);
        }
        Test::NotEqual(s) => {
            sql.push(&format!("{v} NOT IN "));
            list(sql, s);
        }
        Test::Less(n) => {
            sql.push(&format!("{v} < {}", number(*n)));
        }
        Test::Greater(n) => {
            sql.push(&format!("{v} > {}", number(*n)));
        }
        Test::Between(a, b) => {
            sql.push(&format!("{v} BETWEEN {} AND {}", number(*a), number(*b)));
        }
        Test::Contain(t) => {
            sql.push(&format!("instr({v}, ")).bind(t).push(") > 0");
        }
        Test::NotContain(t) => {
            sql.push(&format!("instr({v}, ")).bind(t).push(") = 0");
        }
        Test::IsSet => {
            sql.push(&format!("{} <> 'null'", json_type(&c.field)));
        }
        Test::NotSet => {
            sql.push(&format!("{} = 'null'", json_type(&c.field)));
        }
        Test::IsTrue => {
            sql.push(&format!("{} = 'true'", json_type(&c.field)));
        }
        Test::IsFalse => {
            sql.push(&format!("{} = 'false'", json_type(&c.field)));
        }
    }
}

fn filter(sql: &mut Sql, f: &Filter) {
    if f.conditions.is_empty() {
        return;
    }
    sql.push(" AND (");
    for (i, c) in f.conditions.iter().enumerate() {
        if i > 0 {
            sql.push(if f.all { " AND " } else { " OR " });
        }
        sql.push("(");
        condition(sql, c);
        sql.push(")");
    }
    sql.push(")");
}

/// One character of the person read as a hex digit; any other character counts as its code
/// point mod 16.
fn hex_digit(at: i32) -> String {
    let ch = format!("lower(substr({PERSON}, {at}, 1))");
    format!(
        "(CASE WHEN instr('0123456789abcdef', {ch}) > 0 THEN instr('0123456789abcdef', {ch}) - 1 \
         ELSE unicode({ch}) % 16 END)"
    )
}

/// The person's sample bucket, 0..64: the last two characters of its uuid as hex, mod 64. Uuids
/// end in random bits, so every bucket holds about 1/64 of the people, and a person is in the
/// same bucket in every report.
pub fn sample_bucket() -> String {
    format!("(({} + 16 * {}) % 64)", hex_digit(-1), hex_digit(-2))
}

fn uses_profiles<'a>(mut fields: impl Iterator<Item = &'a Field>) -> bool {
    fields.any(|f| f.source == Origin::User)
}

/// `WITH periods(idx, start_ms, end_ms) AS (VALUES ...)`.
fn periods_cte(sql: &mut Sql, periods: &[Period]) {
    sql.push("WITH periods(idx, start_ms, end_ms) AS (VALUES ");
    for (i, p) in periods.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let _ = write!(sql.text, "({i}, {}, {})", p.span.start_ms, p.span.end_ms);
    }
    sql.push(") ");
}

/// `FROM ... WHERE ...`: the scope's events of `event` (every event when `None`), with their
/// persons, profiles when needed, and periods when given.
fn from_where(
    sql: &mut Sql,
    scope: &Scope,
    event: Option<&str>,
    profiles: bool,
    periods: bool,
    persons_only: bool,
) {
    sql.push(" FROM wh_events e LEFT JOIN wh_persons p ON p.uuid = e.uuid");
    if profiles {
        sql.push(&format!(" LEFT JOIN wh_users u ON u.uuid = {PERSON}"));
    }
    if periods {
        sql.push(" JOIN periods ON e.time >= periods.start_ms AND e.time < periods.end_ms");
    }
    sql.push(" WHERE e.project = ").bind(&scope.project);
    let _ = write!(
        sql.text,
        " AND e.time >= {} AND e.time < {}",
        scope.span.start_ms, scope.span.end_ms
    );
    if let Some(eid) = event {
        sql.push(" AND e.eid = ").bind(eid);
    }
    if let Some(f) = &scope.filter {
        filter(sql, f);
    }
    if persons_only {
        sql.push(&format!(" AND {PERSON} IS NOT NULL"));
    }
    if scope.sampling_factor < FULL_SAMPLE {
        let _ = write!(
            sql.text,
            " AND {} < {}",
            sample_bucket(),
            scope.sampling_factor
        );
    }
}

fn aggregate(a: &Aggregate) -> String {
    match a {
        Aggregate::Events => "COUNT(*)".into(),
        Aggregate::Persons => format!("COUNT(DISTINCT {PERSON})"),
        Aggregate::PerPerson => {
            format!("CAST(COUNT({PERSON}) AS REAL) / NULLIF(COUNT(DISTINCT {PERSON}), 0)")
        }
        Aggregate::Sum(f) => format!("SUM({})", value(f)),
        Aggregate::Avg(f) => format!("AVG({})", value(f)),
        Aggregate::Max(f) => format!("MAX({})", value(f)),
        Aggregate::Min(f) => format!("MIN({})", value(f)),
    }
}

fn group_by(sql: &mut Sql, columns: &[String]) {
    if !columns.is_empty() {
        sql.push(" GROUP BY ").push(&columns.join(", "));
    }
}

/// The SQL of one measure of an events report.
fn measure_sql(scope: &Scope, by: &[Field], m: &Measure, periods: Option<&[Period]>) -> Sql {
    let mut sql = Sql::default();
    let mut groups = Vec::new();
    if let Some(periods) = periods {
        periods_cte(&mut sql, periods);
    }
    sql.push("SELECT ");
    sql.push(if periods.is_some() {
        "periods.idx AS period"
    } else {
        "NULL AS period"
    });
    if periods.is_some() {
        groups.push("period".to_owned());
    }
    for (i, f) in by.iter().enumerate() {
        let _ = write!(sql.text, ", {} AS g{i}", raw(f));
        groups.push(format!("g{i}"));
    }
    let _ = write!(
        sql.text,
        ", CAST({} AS REAL) AS value",
        aggregate(&m.aggregate)
    );
    let profiles = uses_profiles(
        by.iter()
            .chain(scope.filter_fields())
            .chain(m.aggregate.field()),
    );
    from_where(
        &mut sql,
        scope,
        m.event.as_deref(),
        profiles,
        periods.is_some(),
        false,
    );
    group_by(&mut sql, &groups);
    sql
}

/// The SQL of a distribution report: per group (and period, per date) and person their count,
/// then how many people have each count.
fn distribution_sql(plan: &DistributionPlan) -> Sql {
    let mut sql = Sql::default();
    let periods = match (&plan.per_person, &plan.per_date) {
        (PerPerson::Periods(p), _) => Some(p),
        (_, Some(p)) => Some(p),
        _ => None,
    };
    if let Some(p) = periods {
        periods_cte(&mut sql, p);
        sql.push(", ");
    } else {
        sql.push("WITH ");
    }
    let per_date = plan.per_date.is_some();
    sql.push("per AS (SELECT ");
    sql.push(if per_date {
        "periods.idx AS period"
    } else {
        "NULL AS period"
    });
    match &plan.by_field {
        Some(f) => {
            let _ = write!(sql.text, ", {} AS g0", raw(f));
        }
        None => {
            sql.push(", NULL AS g0");
        }
    }
    // `pid`, not `person`: a GROUP BY name that is also a column (wh_persons.person) means the column.
    let _ = write!(sql.text, ", {PERSON} AS pid");
    sql.push(match plan.per_person {
        PerPerson::Times => ", COUNT(*) AS n",
        PerPerson::Periods(_) => ", COUNT(DISTINCT periods.idx) AS n",
    });
    let profiles = uses_profiles(plan.by_field.iter().chain(plan.scope.filter_fields()));
    from_where(
        &mut sql,
        &plan.scope,
        Some(&plan.event),
        profiles,
        periods.is_some(),
        true,
    );
    sql.push(" GROUP BY period, g0, pid) ");
    sql.push("SELECT period, g0, n, COUNT(*) AS people FROM per GROUP BY period, g0, n");
    sql
}

async fn fetch(pool: &SqlitePool, sql: &Sql) -> Result<Vec<sqlx::sqlite::SqliteRow>, sqlx::Error> {
    let mut query = sqlx::query(&sql.text);
    for b in &sql.binds {
        query = query.bind(b.as_str());
    }
    query.fetch_all(pool).await
}

#[async_trait]
impl Source for SqliteSource {
    async fn measure(
        &self,
        scope: &Scope,
        by: &[Field],
        measure: &Measure,
        periods: Option<&[Period]>,
    ) -> Result<Vec<MeasureRow>, SourceError> {
        let sql = measure_sql(scope, by, measure, periods);
        let rows = fetch(&self.pool, &sql).await?;
        rows.iter()
            .map(|row| {
                let period: Option<i64> = row.try_get(0)?;
                let key = (0..by.len())
                    .map(|i| row.try_get::<Option<String>, _>(i + 1))
                    .collect::<Result<_, _>>()?;
                Ok(MeasureRow {
                    period: period.map(|p| p as usize),
                    key,
                    value: row.try_get(by.len() + 1)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(SourceError::Sqlite)
    }

    async fn distribution(&self, plan: &DistributionPlan) -> Result<Vec<CountRow>, SourceError> {
        let sql = distribution_sql(plan);
        let rows = fetch(&self.pool, &sql).await?;
        rows.iter()
            .map(|row| {
                let period: Option<i64> = row.try_get(0)?;
                Ok(CountRow {
                    period: period.map(|p| p as usize),
                    key: row.try_get(1)?,
                    n: row.try_get(2)?,
                    people: row.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(SourceError::Sqlite)
    }

    async fn freshness(&self, project: &str) -> Result<Freshness, SourceError> {
        let row = sqlx::query(
            "SELECT MAX(newest_event_time), MIN(watermark), COUNT(*), COALESCE(SUM(position), 0) \
             FROM wh_progress",
        )
        .fetch_one(&self.pool)
        .await?;
        let sources: i64 = row.try_get(2)?;
        if sources > 0 {
            return Ok(Freshness {
                newest_ms: row.try_get(0)?,
                sufficient_ms: row.try_get(1)?,
                version: (
                    row.try_get(3)?,
                    row.try_get::<Option<i64>, _>(0)?.unwrap_or(0),
                ),
            });
        }
        // No loader progress recorded (rows written some other way): the events are the record.
        let row = sqlx::query("SELECT MAX(time), COUNT(*) FROM wh_events WHERE project = ?")
            .bind(project)
            .fetch_one(&self.pool)
            .await?;
        let newest: Option<i64> = row.try_get(0)?;
        Ok(Freshness {
            newest_ms: newest,
            sufficient_ms: newest,
            version: (row.try_get(1)?, newest.unwrap_or(0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_exactly() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(-2.5), "-2.5");
        assert_eq!(number(0.1), "0.1");
    }
}
