//! The ClickHouse dialect: a plan as SQL over the `wh_*` tables of the production warehouse.
//!
//! A query is built in levels, each a subquery of the next, because ClickHouse 18.16 joins two
//! tables per SELECT:
//! 1. the project's events in `[start, end)` (the key prefix project, eid, day prunes parts);
//! 2. each event's person: `wh_persons` (the deepest chain per uuid) joined on the uuid;
//! 3. when a `user.` property is used, the person's profile: per property, the surviving uuid's
//!    value, else a merged uuid's (newest first);
//! 4. the filter, the sample and the aggregates.
//!
//! Properties are read from the parallel arrays by name; a property's JSON text gives the group
//! keys, exactly as the SQLite store's `->` does, so both stores answer alike. Periods are an
//! array of epoch-ms ends computed in Rust (the SQL needs no time zone). Literals are quoted by
//! `warehouse::clickhouse::client::quote`: 18.16 has no query parameters. Every joined subquery
//! has an alias, which current releases require. Avoided for the old
//! release: `JSONExtract*`, `Map`, multiple joins per SELECT, `FINAL` (ten times slower here;
//! the loader stores each record once instead).
use super::periods::Period;
use super::plan::{
    Aggregate, Condition, DistributionPlan, Field, Filter, Measure, PerPerson, Scalar, Scope,
    Source as Origin, Test, FULL_SAMPLE,
};
use super::source::{number_literal, CountRow, Freshness, MeasureRow, Source, SourceError};
use crate::warehouse::clickhouse::client::{quote, utc_day};
use crate::warehouse::clickhouse::ClickHouse;
use async_trait::async_trait;
use serde_json::Value;
use std::fmt::Write;

/// Distinct persons, counted by a 64-bit hash of their id: a third faster than the strings
/// (a collision among a million persons has odds of about 3 in 10^8).
const PERSONS_COUNT: &str = "uniqExactIf(cityHash64(pid), pid != '')";

/// The latest mapping of each merged uuid to its person.
const PERSONS: &str =
    "(SELECT uuid, argMax(person, depth) AS person FROM wh_persons GROUP BY uuid)";

pub struct ClickHouseSource {
    ch: ClickHouse,
}

impl ClickHouseSource {
    pub fn new(ch: ClickHouse) -> Self {
        ClickHouseSource { ch }
    }
}

/// The user properties a query reads, each a pair of columns `u<i>j` / `u<i>t` of level 3.
#[derive(Default)]
struct UserFields(Vec<String>);

impl UserFields {
    fn of<'a>(fields: impl Iterator<Item = &'a Field>) -> Self {
        let mut names: Vec<String> = Vec::new();
        for f in fields.filter(|f| f.source == Origin::User) {
            if !names.contains(&f.name) {
                names.push(f.name.clone());
            }
        }
        UserFields(names)
    }

    fn index(&self, field: &Field) -> usize {
        self.0
            .iter()
            .position(|n| *n == field.name)
            .expect("every user field of the query was gathered")
    }
}

/// How a query reads one property.
struct Prop<'a> {
    field: &'a Field,
    users: &'a UserFields,
}

impl Prop<'_> {
    /// The value as JSON text; '' when absent.
    fn json(&self) -> String {
        match self.field.source {
            Origin::Event => format!("prop_json[indexOf(prop_keys, {})]", quote(&self.field.name)),
            Origin::User => format!("u{}j", self.users.index(self.field)),
        }
    }

    /// A string's characters, other values their JSON text; '' when absent.
    fn text(&self) -> String {
        match self.field.source {
            Origin::Event => format!("prop_text[indexOf(prop_keys, {})]", quote(&self.field.name)),
            Origin::User => format!("u{}t", self.users.index(self.field)),
        }
    }

    fn is_set(&self) -> String {
        format!("({} NOT IN ('', 'null'))", self.json())
    }

    fn is_string(&self) -> String {
        format!("(substring({}, 1, 1) = '\"')", self.json())
    }

    /// The group key: JSON text, NULL when absent or null.
    fn raw(&self) -> String {
        format!("if({}, {}, NULL)", self.is_set(), self.json())
    }

    /// The value as a number; NULL when it is not one.
    fn number(&self) -> String {
        format!("toFloat64OrNull({})", self.json())
    }
}

/// A finite number as a Float64 literal.
fn number(n: f64) -> String {
    format!("toFloat64({})", number_literal(n))
}

/// `equal` holds when a string property equals a text parameter or a number property a number
/// parameter (a string never equals a number, as in SQLite).
fn matches_any(p: &Prop, scalars: &[Scalar]) -> String {
    let texts: Vec<String> = scalars
        .iter()
        .filter_map(|s| match s {
            Scalar::Text(t) => Some(quote(t)),
            Scalar::Number(_) => None,
        })
        .collect();
    let numbers: Vec<String> = scalars
        .iter()
        .filter_map(|s| match s {
            Scalar::Number(n) => Some(number(*n)),
            Scalar::Text(_) => None,
        })
        .collect();
    let mut parts = Vec::new();
    if !texts.is_empty() {
        parts.push(format!(
            "({} AND {} IN ({}))",
            p.is_string(),
            p.text(),
            texts.join(", ")
        ));
    }
    if !numbers.is_empty() {
        parts.push(format!(
            "ifNull({} IN ({}), 0)",
            p.number(),
            numbers.join(", ")
        ));
    }
    if parts.is_empty() {
        "0".into()
    } else {
        format!("({})", parts.join(" OR "))
    }
}

/// A comparison never holds for an absent property, except `notSet` (as on SQLite).
fn condition(c: &Condition, users: &UserFields) -> String {
    let p = Prop {
        field: &c.field,
        users,
    };
    let num = p.number();
    match &c.test {
        Test::Equal(s) => matches_any(&p, s),
        Test::NotEqual(s) => format!("({} AND NOT {})", p.is_set(), matches_any(&p, s)),
        Test::Less(n) => format!("ifNull({num} < {}, 0)", number(*n)),
        Test::Greater(n) => format!("ifNull({num} > {}, 0)", number(*n)),
        Test::Between(a, b) => format!(
            "ifNull({num} >= {} AND {num} <= {}, 0)",
            number(*a),
            number(*b)
        ),
        Test::Contain(t) => format!(
            "({} AND position({}, {}) > 0)",
            p.is_set(),
            p.text(),
            quote(t)
        ),
        Test::NotContain(t) => format!(
            "({} AND position({}, {}) = 0)",
            p.is_set(),
            p.text(),
            quote(t)
        ),
        Test::IsSet => p.is_set(),
        Test::NotSet => format!("NOT {}", p.is_set()),
        Test::IsTrue => format!("({} = 'true')", p.json()),
        Test::IsFalse => format!("({} = 'false')", p.json()),
    }
}

fn filter(f: &Filter, users: &UserFields) -> Option<String> {
    if f.conditions.is_empty() {
        return None;
    }
    let parts: Vec<String> = f
        .conditions
        .iter()
        .map(|c| format!("({})", condition(c, users)))
        .collect();
    Some(format!(
        "({})",
        parts.join(if f.all { " AND " } else { " OR " })
    ))
}

/// One character of the person read as a hex digit (any other character: its code mod 16).
fn hex_digit(back: i32) -> String {
    let ch = format!(
        "lower(substring(pid, toInt64(length(pid)) - {}, 1))",
        back - 1
    );
    format!(
        "if(position('0123456789abcdef', {ch}) > 0, toUInt64(position('0123456789abcdef', {ch}) - 1), \
         toUInt64(reinterpretAsUInt8({ch}) % 16))"
    )
}

/// The person's sample bucket, 0..64: the same as the SQLite dialect's, so both stores sample
/// the same people.
fn sample_bucket() -> String {
    format!("(({} + 16 * {}) % 64)", hex_digit(1), hex_digit(2))
}

/// Levels 1–3: the scope's events of `event` with `time`, the property arrays, `pid` and the
/// user columns.
fn events_with_people(scope: &Scope, event: Option<&str>, users: &UserFields) -> String {
    let mut level1 = format!(
        "SELECT time, uuid, prop_keys, prop_json, prop_text FROM wh_events WHERE project = {}",
        quote(&scope.project)
    );
    if let Some(eid) = event {
        let _ = write!(level1, " AND eid = {}", quote(eid));
    }
    let _ = write!(
        level1,
        " AND day >= {} AND day <= {} AND time >= {} AND time < {}",
        utc_day(scope.span.start_ms),
        utc_day(scope.span.end_ms - 1),
        scope.span.start_ms,
        scope.span.end_ms
    );
    let level2 = format!(
        "SELECT time, prop_keys, prop_json, prop_text, if(person = '', uuid, person) AS pid \
         FROM ({level1}) AS events ANY LEFT JOIN {PERSONS} AS persons USING uuid"
    );
    if users.0.is_empty() {
        return level2;
    }
    let mut picked = Vec::new();
    let mut values = String::new();
    let mut columns = Vec::new();
    for (i, name) in users.0.iter().enumerate() {
        let at = format!("indexOf(prop_keys, {})", quote(name));
        let _ = write!(values, ", prop_json[{at}] AS j{i}, prop_text[{at}] AS t{i}");
        picked.push(format!(
            "argMaxIf(j{i}, rank, j{i} != '') AS u{i}j, argMaxIf(t{i}, rank, j{i} != '') AS u{i}t"
        ));
        columns.push(format!("u{i}j, u{i}t"));
    }
    // The surviving uuid's own profile ranks above any merged uuid's; then the newest.
    let profiles = format!(
        "SELECT pid, {} FROM (SELECT if(person = '', uuid, person) AS pid, \
         toUInt64(person = '') * 10000000000000 + toUInt64(greatest(updated_at, 0)) AS rank{values} \
         FROM (SELECT uuid, argMax(prop_keys, version) AS prop_keys, \
         argMax(prop_json, version) AS prop_json, argMax(prop_text, version) AS prop_text, \
         argMax(updated_at, version) AS updated_at FROM wh_users GROUP BY uuid) AS users \
         ANY LEFT JOIN {PERSONS} AS persons USING uuid) GROUP BY pid",
        picked.join(", ")
    );
    format!(
        "SELECT time, prop_keys, prop_json, prop_text, pid, {} FROM ({level2}) AS people \
         ANY LEFT JOIN ({profiles}) AS profiles USING pid",
        columns.join(", ")
    )
}

/// The WHERE of level 4: the filter, persons only when asked, the sample.
fn conditions(scope: &Scope, users: &UserFields, persons_only: bool) -> String {
    let mut parts = Vec::new();
    if let Some(f) = scope.filter.as_ref().and_then(|f| filter(f, users)) {
        parts.push(f);
    }
    if persons_only || scope.sampling_factor < FULL_SAMPLE {
        parts.push("pid != ''".into());
    }
    if scope.sampling_factor < FULL_SAMPLE {
        parts.push(format!("{} < {}", sample_bucket(), scope.sampling_factor));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", parts.join(" AND "))
    }
}

/// The index of the period an event's `time` falls in (the periods are contiguous). Written
/// without a lambda (`arrayFirstIndex(x -> ...)` fails on 18.16 beside array columns): when the
/// periods are equally long, a division; otherwise the range is cut into slots of the greatest
/// length every boundary is a multiple of (an hour, a day: time zone offsets are whole quarter
/// hours), and an array maps each slot to its period.
fn period_index(periods: &[Period]) -> String {
    let start = periods[0].span.start_ms;
    let lengths: Vec<i64> = periods
        .iter()
        .map(|p| p.span.end_ms - p.span.start_ms)
        .collect();
    if lengths.iter().all(|l| *l == lengths[0]) {
        return format!("toInt64(intDiv(time - {start}, {}))", lengths[0]);
    }
    let slot = periods
        .iter()
        .map(|p| p.span.end_ms - start)
        .fold(0, gcd)
        .max(1);
    let mut map = String::from("[");
    for (i, p) in periods.iter().enumerate() {
        for _ in 0..(p.span.end_ms - p.span.start_ms) / slot {
            if map.len() > 1 {
                map.push(',');
            }
            let _ = write!(map, "{i}");
        }
    }
    map.push(']');
    format!("toInt64({map}[toUInt64(intDiv(time - {start}, {slot})) + 1])")
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
    }
}

fn aggregate(a: &Aggregate, users: &UserFields) -> String {
    let num = |f: &Field| Prop { field: f, users }.number();
    match a {
        Aggregate::Events => "toFloat64(count())".into(),
        Aggregate::Persons => format!("toFloat64({PERSONS_COUNT})"),
        Aggregate::PerPerson => {
            format!("toFloat64(countIf(pid != '')) / toFloat64({PERSONS_COUNT})")
        }
        Aggregate::Sum(f) => format!("sum({})", num(f)),
        Aggregate::Avg(f) => format!("avg({})", num(f)),
        Aggregate::Max(f) => format!("max({})", num(f)),
        Aggregate::Min(f) => format!("min({})", num(f)),
    }
}

fn measure_sql(scope: &Scope, by: &[Field], m: &Measure, periods: Option<&[Period]>) -> String {
    let users = UserFields::of(
        by.iter()
            .chain(scope.filter_fields())
            .chain(m.aggregate.field()),
    );
    let mut columns = vec![match periods {
        Some(p) => format!("{} AS period", period_index(p)),
        None => "toInt64(-1) AS period".into(),
    }];
    for (i, f) in by.iter().enumerate() {
        let raw = Prop {
            field: f,
            users: &users,
        }
        .raw();
        columns.push(format!("{raw} AS g{i}"));
    }
    columns.push(format!("{} AS value", aggregate(&m.aggregate, &users)));
    let groups: Vec<String> = std::iter::once("period".to_owned())
        .chain((0..by.len()).map(|i| format!("g{i}")))
        .collect();
    format!(
        "SELECT {} FROM ({}){} GROUP BY {}",
        columns.join(", "),
        events_with_people(scope, m.event.as_deref(), &users),
        conditions(scope, &users, false),
        groups.join(", ")
    )
}

fn distribution_sql(plan: &DistributionPlan) -> String {
    let users = UserFields::of(plan.by_field.iter().chain(plan.scope.filter_fields()));
    let periods = match (&plan.per_person, &plan.per_date) {
        (PerPerson::Periods(p), _) => Some(p),
        (_, Some(p)) => Some(p),
        _ => None,
    };
    let index = periods.map(|p| period_index(p));
    let period = match (&plan.per_date, &index) {
        (Some(_), Some(i)) => format!("{i} AS period"),
        _ => "toInt64(-1) AS period".into(),
    };
    let g0 = match &plan.by_field {
        Some(f) => format!(
            "{} AS g0",
            Prop {
                field: f,
                users: &users
            }
            .raw()
        ),
        None => "CAST(NULL AS Nullable(String)) AS g0".into(),
    };
    let n = match (&plan.per_person, &index) {
        (PerPerson::Periods(_), Some(i)) => format!("toInt64(uniqExact({i})) AS n"),
        _ => "toInt64(count()) AS n".into(),
    };
    format!(
        "SELECT period, g0, n, toInt64(count()) AS people FROM (SELECT {period}, {g0}, \
         cityHash64(pid) AS person_key, {n} FROM ({}){} GROUP BY period, g0, person_key) \
         GROUP BY period, g0, n",
        events_with_people(&plan.scope, Some(&plan.event), &users),
        conditions(&plan.scope, &users, true)
    )
}

fn period_of(cell: Option<&Value>) -> Option<usize> {
    cell.and_then(Value::as_i64)
        .filter(|p| *p >= 0)
        .map(|p| p as usize)
}

fn text_of(cell: Option<&Value>) -> Option<String> {
    cell.and_then(Value::as_str).map(str::to_owned)
}

#[async_trait]
impl Source for ClickHouseSource {
    async fn measure(
        &self,
        scope: &Scope,
        by: &[Field],
        measure: &Measure,
        periods: Option<&[Period]>,
    ) -> Result<Vec<MeasureRow>, SourceError> {
        let rows = self
            .ch
            .select(&measure_sql(scope, by, measure, periods))
            .await
            .map_err(SourceError::ClickHouse)?;
        Ok(rows
            .iter()
            .map(|row| MeasureRow {
                period: period_of(row.first()),
                key: (0..by.len()).map(|i| text_of(row.get(i + 1))).collect(),
                value: row.get(by.len() + 1).and_then(Value::as_f64),
            })
            .collect())
    }

    async fn distribution(&self, plan: &DistributionPlan) -> Result<Vec<CountRow>, SourceError> {
        let rows = self
            .ch
            .select(&distribution_sql(plan))
            .await
            .map_err(SourceError::ClickHouse)?;
        Ok(rows
            .iter()
            .map(|row| CountRow {
                period: period_of(row.first()),
                key: text_of(row.get(1)),
                n: row.get(2).and_then(Value::as_i64).unwrap_or(0),
                people: row.get(3).and_then(Value::as_i64).unwrap_or(0),
            })
            .collect())
    }

    async fn freshness(&self, _project: &str) -> Result<Freshness, SourceError> {
        let rows = self
            .ch
            .select(
                "SELECT max(newest), min(watermark), toInt64(count()), toInt64(sum(loaded)) FROM \
                 (SELECT source, argMax(newest_event_time, updated) AS newest, \
                 argMax(watermark, updated) AS watermark, argMax(loaded, updated) AS loaded \
                 FROM wh_progress GROUP BY source)",
            )
            .await
            .map_err(SourceError::ClickHouse)?;
        let row = rows.first().cloned().unwrap_or_default();
        let newest = row.first().and_then(Value::as_i64);
        Ok(Freshness {
            newest_ms: newest,
            sufficient_ms: row.get(1).and_then(Value::as_i64),
            version: (
                row.get(3).and_then(Value::as_i64).unwrap_or(0),
                newest.unwrap_or(0),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_float_literals() {
        assert_eq!(number(3.0), "toFloat64(3)");
        assert_eq!(number(-2.5), "toFloat64(-2.5)");
    }

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(utc_day(0), "toDate('1970-01-01')");
        assert_eq!(utc_day(1_767_225_599_999), "toDate('2025-12-31')");
    }

    fn period(start_ms: i64, end_ms: i64) -> Period {
        Period {
            label: chrono::NaiveDateTime::default(),
            span: super::super::periods::Span { start_ms, end_ms },
        }
    }

    #[test]
    fn equal_periods_are_a_division_and_unequal_ones_a_slot_map() {
        let day = 86_400_000;
        assert_eq!(
            period_index(&[period(0, day), period(day, 2 * day)]),
            format!("toInt64(intDiv(time - 0, {day}))")
        );
        // A clipped first week of two days, then a full week: one-day slots.
        assert_eq!(
            period_index(&[period(5 * day, 7 * day), period(7 * day, 14 * day)]),
            format!(
                "toInt64([0,0,1,1,1,1,1,1,1][toUInt64(intDiv(time - {}, {day})) + 1])",
                5 * day
            )
        );
        // A 23-hour day (daylight saving starts) beside a 24-hour one: one-hour slots.
        let hour = 3_600_000;
        let map: Vec<&str> = std::iter::repeat_n("0", 23)
            .chain(std::iter::repeat_n("1", 24))
            .collect();
        assert_eq!(
            period_index(&[period(0, 23 * hour), period(23 * hour, 47 * hour)]),
            format!(
                "toInt64([{}][toUInt64(intDiv(time - 0, {hour})) + 1])",
                map.join(",")
            )
        );
    }
}
