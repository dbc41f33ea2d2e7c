//! The answers' shapes (tracking plan §4): what a dialect returned, merged per group, ordered,
//! limited and written as the plan's JSON.
//!
//! Events report rows are ordered by their first measure over the whole range, largest first
//! (ties by group value), so `limit` keeps the largest groups. An event without a `by_fields`
//! property is in the group whose value at that place is `null`, as Sensors answers. A
//! distribution row of the people whose events lack `by_field` has no `by_value` key, as in the
//! plan's example, and comes last.
use super::periods::{format_label, format_ms, Period};
use super::plan::{Aggregate, DistributionPlan, EventsPlan};
use super::source::{CountRow, Freshness, KeyPart, MeasureRow};
use crate::metadata::ValueType;
use chrono_tz::Tz;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The three times every answer quotes.
pub struct Times {
    pub report_ms: i64,
    pub freshness: Freshness,
    pub tz: Tz,
}

impl Times {
    fn write(&self, out: &mut Map<String, Value>) {
        let time = |ms: Option<i64>| ms.map_or(Value::Null, |ms| format_ms(self.tz, ms).into());
        out.insert("report_update_time".into(), time(Some(self.report_ms)));
        out.insert("data_update_time".into(), time(self.freshness.newest_ms));
        out.insert(
            "data_sufficient_update_time".into(),
            time(self.freshness.sufficient_ms),
        );
    }
}

/// A key part as the JSON value it is; `null` when absent.
fn key_value(part: &KeyPart) -> Value {
    match part {
        None => Value::Null,
        Some(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())),
    }
}

/// A measure's value as the answer writes it: counts as integers (0 where nothing happened),
/// sums as numbers (0 where nothing happened; integers for int properties), averages, maxima and
/// minima as numbers or `null` where there was nothing to aggregate.
fn measure_value(aggregate: &Aggregate, value: Option<f64>) -> Value {
    let integer = |v: f64| json!(v as i64);
    let number = |v: f64| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number);
    match aggregate {
        Aggregate::Events | Aggregate::Persons => integer(value.unwrap_or(0.0)),
        Aggregate::Sum(f) => {
            let v = value.unwrap_or(0.0);
            if f.ty == ValueType::Int && v.fract() == 0.0 {
                integer(v)
            } else {
                number(v)
            }
        }
        Aggregate::Max(f) | Aggregate::Min(f) if f.ty == ValueType::Int => {
            value.map_or(Value::Null, integer)
        }
        Aggregate::PerPerson => number(value.unwrap_or(0.0)),
        _ => value.map_or(Value::Null, number),
    }
}

/// One group's values: over the range per measure, and per period per measure.
struct Group {
    rollup: Vec<Option<f64>>,
    detail: Vec<Vec<Option<f64>>>,
}

fn order(a: &(&Vec<KeyPart>, &Group), b: &(&Vec<KeyPart>, &Group)) -> Ordering {
    let first = |g: &Group| {
        g.rollup
            .first()
            .copied()
            .flatten()
            .unwrap_or(f64::NEG_INFINITY)
    };
    first(b.1)
        .partial_cmp(&first(a.1))
        .unwrap_or(Ordering::Equal)
        .then_with(|| a.0.cmp(b.0))
}

/// The events report answer. `rollup[m]` holds measure m over the whole range, `detail[m]` per
/// period (when the plan has periods).
pub fn events(
    plan: &EventsPlan,
    rollup: Vec<Vec<MeasureRow>>,
    detail: Option<Vec<Vec<MeasureRow>>>,
    times: &Times,
) -> Value {
    let measures = plan.measures.len();
    let periods = plan.periods.as_deref().unwrap_or_default();
    let mut groups: BTreeMap<Vec<KeyPart>, Group> = BTreeMap::new();
    let new_group = || Group {
        rollup: vec![None; measures],
        detail: vec![vec![None; measures]; periods.len()],
    };
    for (m, rows) in rollup.into_iter().enumerate() {
        for row in rows {
            groups.entry(row.key).or_insert_with(new_group).rollup[m] = row.value;
        }
    }
    for (m, rows) in detail.into_iter().flatten().enumerate() {
        for row in rows {
            if let Some(p) = row.period.filter(|p| *p < periods.len()) {
                groups.entry(row.key).or_insert_with(new_group).detail[p][m] = row.value;
            }
        }
    }
    let mut ordered: Vec<(&Vec<KeyPart>, &Group)> = groups.iter().collect();
    ordered.sort_by(order);
    let total_rows = ordered.len();
    let kept = plan.limit.map_or(total_rows, |l| l.min(total_rows));
    ordered.truncate(kept);

    let values = |vs: &[Option<f64>]| -> Value {
        plan.measures
            .iter()
            .zip(vs)
            .map(|(m, v)| measure_value(&m.aggregate, *v))
            .collect()
    };
    let by_values = |key: &[KeyPart]| -> Value { key.iter().map(key_value).collect() };
    let by_fields: Value = plan.by_fields.iter().map(|f| f.text.clone()).collect();

    let mut out = Map::new();
    out.insert("by_fields".into(), by_fields.clone());
    match &plan.periods {
        None => {
            let rows: Vec<Value> = ordered
                .iter()
                .map(|(key, g)| json!({"values": values(&g.rollup), "by_values": by_values(key)}))
                .collect();
            out.insert("rows".into(), rows.into());
        }
        Some(periods) => {
            let series: Vec<String> = periods.iter().map(|p| format_label(p.label)).collect();
            out.insert("series".into(), json!(series));
            let rows: Vec<Value> = ordered
                .iter()
                .map(|(key, g)| {
                    let per_period: Vec<Value> = g.detail.iter().map(|d| values(d)).collect();
                    json!({"values": per_period, "by_values": by_values(key)})
                })
                .collect();
            out.insert("rows".into(), rows.into());
            if plan.detail_and_rollup {
                let rows: Vec<Value> = ordered
                    .iter()
                    .map(|(key, g)| json!({"values": [values(&g.rollup)], "by_values": by_values(key)}))
                    .collect();
                let from = format_label(plan.scope.from.and_hms_opt(0, 0, 0).expect("midnight"));
                out.insert(
                    "rollup_result".into(),
                    json!({"by_fields": by_fields, "series": [from], "rows": rows,
                           "num_rows": kept, "total_rows": total_rows}),
                );
            }
        }
    }
    out.insert("num_rows".into(), kept.into());
    out.insert("total_rows".into(), total_rows.into());
    times.write(&mut out);
    out.insert("truncated".into(), (kept < total_rows).into());
    Value::Object(out)
}

/// The cells of one group: people per bucket, and their share of the group's people.
fn cells(buckets: &[f64], histogram: &BTreeMap<i64, i64>) -> (i64, Vec<Value>) {
    let total: i64 = histogram.values().sum();
    let mut people = vec![0_i64; buckets.len()];
    for (&n, &count) in histogram {
        // The last bucket whose start is <= n; below the first start, no cell.
        if let Some(i) = buckets.iter().rposition(|&start| start <= n as f64) {
            people[i] += count;
        }
    }
    let cells = buckets
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let percent = if total == 0 {
                0.0
            } else {
                (people[i] as f64 * 100.0 / total as f64 * 100.0).round() / 100.0
            };
            let mut cell = Map::new();
            cell.insert("people".into(), people[i].into());
            cell.insert("percent".into(), json!(percent));
            cell.insert("bucket_start".into(), json!(start));
            if let Some(end) = buckets.get(i + 1) {
                cell.insert("bucket_end".into(), json!(end));
            }
            Value::Object(cell)
        })
        .collect();
    (total, cells)
}

/// The distribution report answer.
pub fn distribution(plan: &DistributionPlan, rows: Vec<CountRow>, times: &Times) -> Value {
    // (period, key) -> n -> people
    let mut groups: BTreeMap<(Option<usize>, KeyPart), BTreeMap<i64, i64>> = BTreeMap::new();
    for row in rows {
        *groups
            .entry((row.period, row.key))
            .or_default()
            .entry(row.n)
            .or_default() += row.people;
    }
    if plan.by_field.is_none() && plan.per_date.is_none() {
        groups.entry((None, None)).or_default();
    }
    let mut built: Vec<(Option<usize>, KeyPart, i64, Vec<Value>)> = groups
        .into_iter()
        .map(|((period, key), histogram)| {
            let (total, cells) = cells(&plan.buckets, &histogram);
            (period, key, total, cells)
        })
        .collect();
    // By date, then the largest groups first, the group without a value last.
    built.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.is_none().cmp(&b.1.is_none()))
            .then_with(|| b.2.cmp(&a.2))
            .then_with(|| a.1.cmp(&b.1))
    });
    let periods: &[Period] = plan.per_date.as_deref().unwrap_or_default();
    let rows: Vec<Value> = built
        .into_iter()
        .map(|(period, key, total, cells)| {
            let mut row = Map::new();
            if let Some(p) = period.and_then(|p| periods.get(p)) {
                row.insert("by_date".into(), format_label(p.label).into());
            }
            if key.is_some() {
                row.insert("by_value".into(), key_value(&key));
            }
            row.insert("total_people".into(), total.into());
            row.insert("cells".into(), cells.into());
            Value::Object(row)
        })
        .collect();
    let mut out = Map::new();
    if let Some(f) = &plan.by_field {
        out.insert("by_field".into(), f.text.clone().into());
    }
    out.insert("rows".into(), rows.into());
    times.write(&mut out);
    out.insert("truncated".into(), false.into());
    out.insert("sampling_factor".into(), plan.scope.sampling_factor.into());
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_plans_buckets_and_round_percent_to_two_places() {
        let histogram = BTreeMap::from([(1, 20), (2, 2)]);
        let (total, c) = cells(&[1.0, 2.0, 3.0, 4.0], &histogram);
        assert_eq!(total, 22);
        assert_eq!(
            c[0],
            json!({"people": 20, "percent": 90.91, "bucket_start": 1.0, "bucket_end": 2.0})
        );
        assert_eq!(c[1]["percent"], 9.09);
        assert_eq!(
            c[3],
            json!({"people": 0, "percent": 0.0, "bucket_start": 4.0})
        );
        // Counts past the last bound fall in the open-ended cell; below the first, in none.
        let (total, c) = cells(&[2.0, 5.0], &BTreeMap::from([(1, 1), (9, 3)]));
        assert_eq!(total, 4);
        assert_eq!(c[0]["people"], 0);
        assert_eq!(c[1]["people"], 3);
    }

    #[test]
    fn key_parts_keep_their_json_types() {
        assert_eq!(key_value(&Some("\"a\"".into())), json!("a"));
        assert_eq!(key_value(&Some("12".into())), json!(12));
        assert_eq!(key_value(&Some("true".into())), json!(true));
        assert_eq!(key_value(&None), Value::Null);
    }
}
