//! What a report asks for, checked and resolved, independent of any SQL dialect: the range and
//! its periods in epoch ms, the measures, the properties grouped by with their registered types,
//! the filter with typed operands, and the sampling. `sqlite` (and later a ClickHouse dialect)
//! turns a plan into SQL; `answer` turns what that returns into the API's shapes.
//!
//! Every refusal names its field (`measures[0].aggregator`, `filter.conditions[1].params`) and
//! the rule, with `invalid_report`, or `unregistered_event` / `unknown_property` when the
//! registry snapshot does not know a name.
use super::periods::{self, Period, Span, Unit};
use super::request::{AddictionsRequest, ConditionRequest, EventsRequest, FilterRequest};
use crate::error::{Code, Rejection};
use crate::metadata::{PropertyKind, Snapshot, ValueType};
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::Value;

/// The event name that stands for every event.
pub const ANY_EVENT: &str = "$Anything";
/// `sampling_factor` that keeps everyone.
pub const FULL_SAMPLE: u8 = 64;

/// Where a property is read: the event's `props`, or the profile (`wh_users.props`) of the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Event,
    User,
}

/// A property as a report names it (`event.buyCourse.course_name`, `user.city`).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub source: Source,
    /// The property key; it follows `metadata::names` (letters, digits, `_`, `$`), so it is safe
    /// to write into SQL as a JSON path.
    pub name: String,
    pub ty: ValueType,
    /// As the request wrote it, for the answer's `by_fields`.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// `general`: events.
    Events,
    /// `unique`, `uniq_count`: distinct persons.
    Persons,
    /// `average`: events of persons per person.
    PerPerson,
    Sum(Field),
    Avg(Field),
    Max(Field),
    Min(Field),
}

impl Aggregate {
    /// Whether the value is a count (an integer in answers, 0 where nothing happened).
    pub fn is_count(&self) -> bool {
        matches!(self, Aggregate::Events | Aggregate::Persons)
    }

    /// The property aggregated, for `sum`, `avg`, `max` and `min`.
    pub fn field(&self) -> Option<&Field> {
        match self {
            Aggregate::Sum(f) | Aggregate::Avg(f) | Aggregate::Max(f) | Aggregate::Min(f) => {
                Some(f)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    /// `None`: `$Anything`.
    pub event: Option<String>,
    pub aggregate: Aggregate,
}

/// A filter operand, typed by the property's registered type.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// One operand or several (`IN`).
    Equal(Vec<Scalar>),
    NotEqual(Vec<Scalar>),
    Less(f64),
    Greater(f64),
    /// Closed: both ends included.
    Between(f64, f64),
    Contain(String),
    NotContain(String),
    IsSet,
    NotSet,
    IsTrue,
    IsFalse,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub test: Test,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// `true`: every condition must hold; `false`: any.
    pub all: bool,
    pub conditions: Vec<Condition>,
}

/// What both reports share: whose events, over which range, filtered and sampled how.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub project: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub span: Span,
    pub filter: Option<Filter>,
    /// Persons whose sample bucket (0..64) is below this are kept; 64 keeps everyone.
    pub sampling_factor: u8,
}

impl Scope {
    /// The properties the filter reads.
    pub fn filter_fields(&self) -> impl Iterator<Item = &Field> {
        self.filter
            .iter()
            .flat_map(|f| f.conditions.iter().map(|c| &c.field))
    }
}

/// A checked `POST /events/report`.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPlan {
    pub scope: Scope,
    pub measures: Vec<Measure>,
    pub by_fields: Vec<Field>,
    /// The series periods when a `unit` was asked for.
    pub periods: Option<Vec<Period>>,
    pub detail_and_rollup: bool,
    pub limit: Option<usize>,
}

/// How `POST /addictions/report` counts per person.
#[derive(Debug, Clone, PartialEq)]
pub enum PerPerson {
    /// Events in the range.
    Times,
    /// Distinct periods (days, weeks, months) with an event.
    Periods(Vec<Period>),
}

/// A checked `POST /addictions/report`.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionPlan {
    pub scope: Scope,
    pub event: String,
    pub by_field: Option<Field>,
    pub per_person: PerPerson,
    /// Ascending bucket starts: cells `[b0, b1)`, ..., `[b_last, ∞)`.
    pub buckets: Vec<f64>,
    /// `rollup_date: false`: one distribution per period of these, else one over the range.
    pub per_date: Option<Vec<Period>>,
}

/// What plans are checked against: the registry, the calendar and the limits.
pub struct Context<'a> {
    pub snapshot: &'a Snapshot,
    pub project: &'a str,
    pub tz: Tz,
    pub max_range_days: u32,
}

fn invalid(field: &str, message: impl Into<String>) -> Rejection {
    Rejection::field(Code::InvalidReport, field, message)
}

impl Context<'_> {
    fn event(&self, field: &str, name: &str) -> Result<Option<String>, Rejection> {
        if name == ANY_EVENT {
            return Ok(None);
        }
        if self.snapshot.event(self.project, name).is_none() {
            return Err(Rejection::field(
                Code::UnregisteredEvent,
                field,
                format!(
                    "event `{name}` is not registered for project `{}` (use $Anything for every event)",
                    self.project
                ),
            ));
        }
        Ok(Some(name.to_owned()))
    }

    /// `event.<Event>.<prop>` or `user.<prop>`. Event properties are registered once for every
    /// event, so `<Event>` must be registered (or `$Anything`) and the property is read from the
    /// events each measure counts.
    fn field(&self, at: &str, text: &str) -> Result<Field, Rejection> {
        let parts: Vec<&str> = text.split('.').collect();
        let (source, kind, name) = match parts.as_slice() {
            ["event", event, name] => {
                self.event(at, event)?;
                (Source::Event, PropertyKind::Event, *name)
            }
            ["user", name] => (Source::User, PropertyKind::Profile, *name),
            _ => {
                return Err(invalid(
                    at,
                    format!("`{text}` is neither event.<event>.<property> nor user.<property>"),
                ))
            }
        };
        let def = self.snapshot.property(kind, name).ok_or_else(|| {
            Rejection::field(
                Code::UnknownProperty,
                at,
                format!("`{name}` is not a registered {} property", kind.table()),
            )
        })?;
        if crate::metadata::names::check(name).is_err() {
            return Err(invalid(at, format!("`{name}` is not a property name")));
        }
        Ok(Field {
            source,
            name: name.to_owned(),
            ty: def.value_type,
            text: text.to_owned(),
        })
    }

    fn scope(
        &self,
        from_date: &str,
        to_date: &str,
        filter: Option<&FilterRequest>,
        sampling_factor: Option<i64>,
    ) -> Result<Scope, Rejection> {
        let date = |field: &str, text: &str| {
            periods::parse_date(text)
                .ok_or_else(|| invalid(field, format!("`{text}` is not a date (YYYY-MM-DD)")))
        };
        let from = date("from_date", from_date)?;
        let to = date("to_date", to_date)?;
        if to < from {
            return Err(invalid("to_date", "to_date must not be before from_date"));
        }
        let days = (to - from).num_days() + 1;
        if days > i64::from(self.max_range_days) {
            return Err(invalid(
                "to_date",
                format!(
                    "the range is {days} days; at most {} (reports.max_range_days)",
                    self.max_range_days
                ),
            ));
        }
        let sampling_factor = match sampling_factor {
            None => FULL_SAMPLE,
            Some(f) if (1..=i64::from(FULL_SAMPLE)).contains(&f) => f as u8,
            Some(f) => {
                return Err(invalid(
                    "sampling_factor",
                    format!("sampling_factor must be 1..=64 (64 = everyone), got {f}"),
                ))
            }
        };
        Ok(Scope {
            project: self.project.to_owned(),
            from,
            to,
            span: periods::range(self.tz, from, to),
            filter: filter.map(|f| self.filter(f)).transpose()?,
            sampling_factor,
        })
    }

    fn filter(&self, request: &FilterRequest) -> Result<Filter, Rejection> {
        let all = match request.relation.as_deref().map(str::to_ascii_lowercase) {
            None => true,
            Some(r) if r == "and" => true,
            Some(r) if r == "or" => false,
            Some(r) => {
                return Err(invalid(
                    "filter.relation",
                    format!("relation must be `and` or `or`, got `{r}`"),
                ))
            }
        };
        let conditions = request
            .conditions
            .iter()
            .enumerate()
            .map(|(i, c)| self.condition(&format!("filter.conditions[{i}]"), c))
            .collect::<Result<_, _>>()?;
        Ok(Filter { all, conditions })
    }

    fn condition(&self, at: &str, request: &ConditionRequest) -> Result<Condition, Rejection> {
        let field = self.field(&format!("{at}.field"), &request.field)?;
        let params_at = format!("{at}.params");
        let params = &request.params;
        let ty = field.ty;
        let numeric = matches!(ty, ValueType::Int | ValueType::Double);
        let need = |ok: bool, rule: &str| {
            if ok {
                Ok(())
            } else {
                Err(invalid(
                    &format!("{at}.function"),
                    format!(
                        "`{}` {rule}; `{}` is {}",
                        request.function,
                        request.field,
                        ty.name()
                    ),
                ))
            }
        };
        let count = |n: usize| {
            if params.len() == n {
                Ok(())
            } else {
                Err(invalid(
                    &params_at,
                    format!(
                        "`{}` takes {n} param(s), got {}",
                        request.function,
                        params.len()
                    ),
                ))
            }
        };
        let number = |v: &Value| {
            number_of(v).ok_or_else(|| invalid(&params_at, format!("{v} is not a number")))
        };
        let test = match request.function.as_str() {
            "equal" | "notEqual" => {
                if params.is_empty() {
                    return Err(invalid(&params_at, format!("`{}` needs at least one param", request.function)));
                }
                if ty == ValueType::Bool {
                    // One bool operand is isTrue or isFalse; both values are every set value.
                    let wanted: Vec<bool> = params
                        .iter()
                        .map(|v| bool_of(v).ok_or_else(|| invalid(&params_at, format!("{v} is not a bool"))))
                        .collect::<Result<_, _>>()?;
                    let (t, f) = (wanted.contains(&true), wanted.contains(&false));
                    let equal = request.function == "equal";
                    match (t, f, equal) {
                        (true, true, true) => Test::IsSet,
                        (true, true, false) => Test::NotSet,
                        (true, false, true) | (false, true, false) => Test::IsTrue,
                        _ => Test::IsFalse,
                    }
                } else {
                    let scalars = params
                        .iter()
                        .map(|v| {
                            if numeric {
                                number(v).map(Scalar::Number)
                            } else {
                                text_of(v).map(Scalar::Text).ok_or_else(|| invalid(&params_at, format!("{v} is not a string")))
                            }
                        })
                        .collect::<Result<_, _>>()?;
                    if request.function == "equal" {
                        Test::Equal(scalars)
                    } else {
                        Test::NotEqual(scalars)
                    }
                }
            }
            "less" | "greater" => {
                need(numeric, "compares numbers")?;
                count(1)?;
                let n = number(&params[0])?;
                if request.function == "less" {
                    Test::Less(n)
                } else {
                    Test::Greater(n)
                }
            }
            "between" => {
                need(numeric, "compares numbers")?;
                count(2)?;
                let (low, high) = (number(&params[0])?, number(&params[1])?);
                if low > high {
                    return Err(invalid(&params_at, "between takes [low, high] with low <= high"));
                }
                Test::Between(low, high)
            }
            "contain" | "notContain" => {
                need(ty == ValueType::String, "applies to strings")?;
                count(1)?;
                let text = text_of(&params[0]).ok_or_else(|| invalid(&params_at, "the param must be a string"))?;
                if request.function == "contain" {
                    Test::Contain(text)
                } else {
                    Test::NotContain(text)
                }
            }
            "isSet" => Test::IsSet,
            "notSet" => Test::NotSet,
            "isTrue" | "isFalse" => {
                need(ty == ValueType::Bool, "applies to bools")?;
                if request.function == "isTrue" {
                    Test::IsTrue
                } else {
                    Test::IsFalse
                }
            }
            other => {
                return Err(invalid(
                    &format!("{at}.function"),
                    format!("unknown function `{other}` (equal, notEqual, less, greater, between, contain, notContain, isSet, notSet, isTrue, isFalse)"),
                ))
            }
        };
        Ok(Condition { field, test })
    }
}

/// A number, or a string holding one (Sensors clients send params as strings).
fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bool_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s == "true" || s == "1" => Some(true),
        Value::String(s) if s == "false" || s == "0" => Some(false),
        Value::Number(n) => n.as_i64().filter(|n| *n == 0 || *n == 1).map(|n| n == 1),
        _ => None,
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn unit_of(field: &str, text: &str, allowed: &[Unit]) -> Result<Unit, Rejection> {
    Unit::parse(text)
        .filter(|u| allowed.contains(u))
        .ok_or_else(|| {
            invalid(
                field,
                format!("unit `{text}` is not one of {allowed:?}").to_lowercase(),
            )
        })
}

/// Checks `POST /events/report`.
pub fn events(cx: &Context, request: &EventsRequest) -> Result<EventsPlan, Rejection> {
    let scope = cx.scope(
        &request.from_date,
        &request.to_date,
        request.filter.as_ref(),
        request.sampling_factor,
    )?;
    if request.measures.is_empty() {
        return Err(invalid("measures", "at least one measure is needed"));
    }
    let measures = request
        .measures
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let at = format!("measures[{i}]");
            let event = cx.event(&format!("{at}.event_name"), &m.event_name)?;
            let field = || -> Result<Field, Rejection> {
                let field_at = format!("{at}.field");
                let text = m.field.as_deref().ok_or_else(|| {
                    invalid(&field_at, format!("aggregator `{}` needs a numeric field", m.aggregator))
                })?;
                let field = cx.field(&field_at, text)?;
                if !matches!(field.ty, ValueType::Int | ValueType::Double) {
                    return Err(invalid(&field_at, format!("`{text}` is {}, not a number", field.ty.name())));
                }
                Ok(field)
            };
            let aggregate = match m.aggregator.as_str() {
                "general" => Aggregate::Events,
                "unique" | "uniq_count" => Aggregate::Persons,
                "average" => Aggregate::PerPerson,
                "sum" => Aggregate::Sum(field()?),
                "avg" => Aggregate::Avg(field()?),
                "max" => Aggregate::Max(field()?),
                "min" => Aggregate::Min(field()?),
                other => {
                    return Err(invalid(
                        &format!("{at}.aggregator"),
                        format!("unknown aggregator `{other}` (general, unique, uniq_count, average, sum, avg, max, min)"),
                    ))
                }
            };
            Ok(Measure { event, aggregate })
        })
        .collect::<Result<_, Rejection>>()?;
    let by_fields = request
        .by_fields
        .iter()
        .enumerate()
        .map(|(i, f)| cx.field(&format!("by_fields[{i}]"), f))
        .collect::<Result<_, _>>()?;
    let periods = request
        .unit
        .as_deref()
        .map(|u| {
            let unit = unit_of("unit", u, &[Unit::Hour, Unit::Day, Unit::Week, Unit::Month])?;
            Ok::<_, Rejection>(periods::periods(cx.tz, scope.from, scope.to, unit))
        })
        .transpose()?;
    let limit = match request.limit {
        None | Some(-1) => None,
        Some(n) if n >= 1 => Some(n as usize),
        Some(n) => {
            return Err(invalid(
                "limit",
                format!("limit must be at least 1 (or -1 for all), got {n}"),
            ))
        }
    };
    Ok(EventsPlan {
        scope,
        measures,
        by_fields,
        periods,
        detail_and_rollup: request.detail_and_rollup,
        limit,
    })
}

/// Buckets when the request has none: the counts 1 to 5 one by one, then wider cells, as Sensors'
/// distribution report does; for `period`, one cell per possible number of periods (at most 31).
fn default_buckets(per_person: &PerPerson) -> Vec<f64> {
    match per_person {
        PerPerson::Times => vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 10.0, 20.0, 50.0],
        PerPerson::Periods(periods) => (1..=periods.len().clamp(1, 31)).map(|n| n as f64).collect(),
    }
}

/// Checks `POST /addictions/report`.
pub fn distribution(
    cx: &Context,
    request: &AddictionsRequest,
) -> Result<DistributionPlan, Rejection> {
    let scope = cx.scope(
        &request.from_date,
        &request.to_date,
        request.filter.as_ref(),
        request.sampling_factor,
    )?;
    let event = cx
        .event("event_name", &request.event_name)?
        .ok_or_else(|| {
            invalid(
                "event_name",
                "the distribution is of one event, not $Anything",
            )
        })?;
    let by_field = request
        .by_field
        .as_deref()
        .map(|f| cx.field("by_field", f))
        .transpose()?;
    let unit = request
        .unit
        .as_deref()
        .map(|u| unit_of("unit", u, &[Unit::Day, Unit::Week, Unit::Month]))
        .transpose()?
        .unwrap_or(Unit::Day);
    let unit_periods = || periods::periods(cx.tz, scope.from, scope.to, unit);
    let per_person = match request.measure_type.as_deref().unwrap_or("times") {
        "times" => PerPerson::Times,
        "period" => PerPerson::Periods(unit_periods()),
        other => {
            return Err(invalid(
                "measure_type",
                format!("measure_type must be `times` or `period`, got `{other}`"),
            ))
        }
    };
    let per_date = if request.rollup_date == Some(false) {
        if matches!(per_person, PerPerson::Periods(_)) {
            return Err(invalid(
                "rollup_date",
                "rollup_date: false counts within each unit; measure_type `period` needs the whole range",
            ));
        }
        Some(unit_periods())
    } else {
        None
    };
    let buckets = match &request.result_bucket_param {
        None => default_buckets(&per_person),
        Some(b) if b.is_empty() => {
            return Err(invalid(
                "result_bucket_param",
                "at least one bucket bound is needed",
            ))
        }
        Some(b) => {
            if b.windows(2).any(|w| w[0] >= w[1]) || b.iter().any(|x| !x.is_finite()) {
                return Err(invalid(
                    "result_bucket_param",
                    "bucket bounds must be finite and strictly increasing",
                ));
            }
            b.clone()
        }
    };
    Ok(DistributionPlan {
        scope,
        event,
        by_field,
        per_person,
        buckets,
        per_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{EventDef, PropertyDef};
    use serde_json::json;

    fn snapshot() -> Snapshot {
        let prop = |key: &str, ty| (PropertyKind::Event, PropertyDef::custom(key, key, ty, "t"));
        Snapshot::new(
            1,
            vec![EventDef::custom("buyCourse", "b", Some("zhibo"), true, "t")],
            vec![
                prop("money", ValueType::Int),
                prop("wifi", ValueType::Bool),
                prop("course_name", ValueType::String),
                (
                    PropertyKind::Profile,
                    PropertyDef::custom("city", "c", ValueType::String, "t"),
                ),
            ],
        )
    }

    fn plan(snapshot: &Snapshot, project: &str, body: Value) -> Result<EventsPlan, Rejection> {
        let cx = Context {
            snapshot,
            project,
            tz: chrono_tz::Asia::Shanghai,
            max_range_days: 366,
        };
        let mut full = json!({"measures": [{"event_name": "buyCourse", "aggregator": "general"}],
                              "from_date": "2019-04-21", "to_date": "2019-04-27"});
        full.as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        events(&cx, &serde_json::from_value(full).unwrap())
    }

    fn test_of(body: Value) -> Test {
        let s = snapshot();
        let p = plan(&s, "zhibo", json!({"filter": {"conditions": [body]}})).unwrap();
        p.scope.filter.unwrap().conditions[0].test.clone()
    }

    #[test]
    fn operands_take_the_registered_type() {
        let t = test_of(
            json!({"field": "event.buyCourse.money", "function": "equal", "params": ["100", 7]}),
        );
        assert_eq!(
            t,
            Test::Equal(vec![Scalar::Number(100.0), Scalar::Number(7.0)])
        );
        let t = test_of(
            json!({"field": "event.$Anything.course_name", "function": "equal", "params": [12]}),
        );
        assert_eq!(t, Test::Equal(vec![Scalar::Text("12".into())]));
        let t = test_of(
            json!({"field": "event.buyCourse.wifi", "function": "notEqual", "params": [true]}),
        );
        assert_eq!(t, Test::IsFalse);
        let t = test_of(json!({"field": "user.city", "function": "notSet"}));
        assert_eq!(t, Test::NotSet);
    }

    #[test]
    fn names_are_checked_against_the_project_and_the_registry() {
        let s = snapshot();
        let err = plan(&s, "other", json!({})).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::UnregisteredEvent, Some("measures[0].event_name"))
        );
        let err = plan(&s, "zhibo", json!({"by_fields": ["user.money"]})).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (Code::UnknownProperty, Some("by_fields[0]"))
        );
        let err = plan(&s, "zhibo", json!({"filter": {"relation": "xor"}})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("filter.relation"));
        let err = plan(
            &s,
            "zhibo",
            json!({"filter": {"conditions": [
            {"field": "event.buyCourse.money", "function": "between", "params": [5, 1]}]}}),
        )
        .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("filter.conditions[0].params"));
        let err = plan(&s, "zhibo", json!({"limit": 0})).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("limit"));
    }

    #[test]
    fn the_range_and_sampling_defaults() {
        let s = snapshot();
        let p = plan(&s, "zhibo", json!({"unit": "week", "limit": -1})).unwrap();
        assert_eq!(p.scope.sampling_factor, FULL_SAMPLE);
        assert_eq!(p.limit, None);
        assert_eq!(p.periods.unwrap().len(), 2);
        assert_eq!(p.scope.span.end_ms - p.scope.span.start_ms, 7 * 86_400_000);
        let one_day = plan(&s, "zhibo", json!({"from_date": "2019-04-27"})).unwrap();
        assert_eq!(
            one_day.scope.span.end_ms - one_day.scope.span.start_ms,
            86_400_000
        );
    }
}
