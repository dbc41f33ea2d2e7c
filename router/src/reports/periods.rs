//! Calendar arithmetic in the report time zone: the epoch-ms range of `from_date..=to_date`, the
//! periods (hours, days, weeks from Monday, months) that cut it, and the times answers show.
//!
//! The warehouse stores UTC epoch milliseconds and has no notion of time zones (SQLite has none,
//! ClickHouse's would have to agree with ours), so every boundary is computed here, DST-correct,
//! and the SQL only compares `time` against the numbers.
use chrono::{Datelike, Days, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

/// The granularity of a report's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Hour,
    Day,
    Week,
    Month,
}

impl Unit {
    pub fn parse(text: &str) -> Option<Unit> {
        Some(match text {
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "week" => Unit::Week,
            "month" => Unit::Month,
            _ => return None,
        })
    }
}

/// A half-open span of epoch milliseconds, `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start_ms: i64,
    pub end_ms: i64,
}

/// One period of a series: its natural local start (a Monday for weeks, the 1st for months, even
/// when that lies before `from_date`) and the part of it inside the requested range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub label: NaiveDateTime,
    pub span: Span,
}

/// `YYYY-MM-DD`, as `from_date` and `to_date` are written.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// The instant local time `at` begins in `tz`, in epoch ms. An ambiguous time (the repeated hour
/// when clocks go back) is its first occurrence; a time that does not exist (skipped when clocks
/// go forward, in zones that move at midnight) is the first instant after the gap.
pub fn local_start(tz: Tz, at: NaiveDateTime) -> i64 {
    let mut probe = at;
    // Gaps are at most a few hours; probing by minute finds the end of any real one.
    for _ in 0..(26 * 60) {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.timestamp_millis(),
            LocalResult::Ambiguous(first, _) => return first.timestamp_millis(),
            LocalResult::None => probe += Duration::minutes(1),
        }
    }
    at.and_utc().timestamp_millis()
}

fn midnight(day: NaiveDate) -> NaiveDateTime {
    day.and_hms_opt(0, 0, 0).expect("midnight exists")
}

/// `[local midnight of from, local midnight after to)`.
pub fn range(tz: Tz, from: NaiveDate, to: NaiveDate) -> Span {
    Span {
        start_ms: local_start(tz, midnight(from)),
        end_ms: local_start(tz, midnight(to + Days::new(1))),
    }
}

/// The periods of `unit` that meet `from..=to`, in order, each clipped to the range.
pub fn periods(tz: Tz, from: NaiveDate, to: NaiveDate, unit: Unit) -> Vec<Period> {
    let whole = range(tz, from, to);
    let clip = |label: NaiveDateTime, end: NaiveDateTime| Period {
        label,
        span: Span {
            start_ms: local_start(tz, label).max(whole.start_ms),
            end_ms: local_start(tz, end).min(whole.end_ms),
        },
    };
    let mut out = Vec::new();
    match unit {
        Unit::Hour => {
            // Each local day split into its real hours: 23 on the day clocks go forward, 25 (one
            // label twice) on the day they go back.
            let mut day = from;
            while day <= to {
                let next = day + Days::new(1);
                let (mut start, end) = (
                    local_start(tz, midnight(day)),
                    local_start(tz, midnight(next)),
                );
                while start < end {
                    let stop = (start + 3_600_000).min(end);
                    let label = tz
                        .timestamp_millis_opt(start)
                        .single()
                        .map_or_else(|| midnight(day), |t| t.naive_local());
                    out.push(Period {
                        label,
                        span: Span {
                            start_ms: start,
                            end_ms: stop,
                        },
                    });
                    start = stop;
                }
                day = next;
            }
        }
        Unit::Day => {
            let mut day = from;
            while day <= to {
                let next = day + Days::new(1);
                out.push(clip(midnight(day), midnight(next)));
                day = next;
            }
        }
        Unit::Week => {
            let back = u64::from(from.weekday().num_days_from_monday());
            let mut monday = from - Days::new(back);
            while monday <= to {
                let next = monday + Days::new(7);
                out.push(clip(midnight(monday), midnight(next)));
                monday = next;
            }
        }
        Unit::Month => {
            let mut first = from.with_day(1).expect("every month has a 1st");
            while first <= to {
                let next = first + Months::new(1);
                out.push(clip(midnight(first), midnight(next)));
                first = next;
            }
        }
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in `tz`: report, data and sufficiency times.
pub fn format_ms(tz: Tz, ms: i64) -> String {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        None => String::new(),
    }
}

/// `YYYY-MM-DD HH:MM:SS`: a period start in a series.
pub fn format_label(label: NaiveDateTime) -> String {
    label.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    fn utc_ms(text: &str) -> i64 {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn dates_are_strict() {
        assert_eq!(
            parse_date("2019-04-21"),
            NaiveDate::from_ymd_opt(2019, 4, 21)
        );
        for bad in [
            "2019-4-21",
            "2019-02-30",
            "21-04-2019",
            "2019-04-21 00:00:00",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn shanghai_days_start_at_16_utc_the_day_before() {
        let tz = chrono_tz::Asia::Shanghai;
        let span = range(tz, date("2019-04-21"), date("2019-04-27"));
        assert_eq!(span.start_ms, utc_ms("2019-04-20 16:00:00"));
        assert_eq!(span.end_ms, utc_ms("2019-04-27 16:00:00"));
        let days = periods(tz, date("2019-04-21"), date("2019-04-22"), Unit::Day);
        assert_eq!(days.len(), 2);
        assert_eq!(format_label(days[1].label), "2019-04-22 00:00:00");
        assert_eq!(days[1].span.start_ms, utc_ms("2019-04-21 16:00:00"));
        // One millisecond before local midnight is the day before, in the report's clock too.
        assert_eq!(
            format_ms(tz, utc_ms("2019-04-21 16:00:00") - 1),
            "2019-04-21 23:59:59.999"
        );
    }

    #[test]
    fn a_week_crossing_a_month_starts_on_its_monday_and_is_clipped_to_the_range() {
        let tz = chrono_tz::Asia::Shanghai;
        // 2019-05-01 is a Wednesday; its week began on Monday 2019-04-29.
        let weeks = periods(tz, date("2019-05-01"), date("2019-05-13"), Unit::Week);
        let labels: Vec<String> = weeks.iter().map(|p| format_label(p.label)).collect();
        assert_eq!(
            labels,
            [
                "2019-04-29 00:00:00",
                "2019-05-06 00:00:00",
                "2019-05-13 00:00:00"
            ]
        );
        assert_eq!(weeks[0].span.start_ms, utc_ms("2019-04-30 16:00:00"));
        assert_eq!(weeks[0].span.end_ms, utc_ms("2019-05-05 16:00:00"));
        assert_eq!(weeks[2].span.end_ms, utc_ms("2019-05-13 16:00:00"));
        let months = periods(tz, date("2019-04-21"), date("2019-05-02"), Unit::Month);
        assert_eq!(months.len(), 2);
        assert_eq!(months[1].span.start_ms, utc_ms("2019-04-30 16:00:00"));
    }

    #[test]
    fn new_york_days_follow_daylight_saving_time() {
        let tz = chrono_tz::America::New_York;
        // Clocks went forward on 2019-03-10 (a 23-hour day) and back on 2019-11-03 (25 hours).
        let spring = periods(tz, date("2019-03-10"), date("2019-03-11"), Unit::Day);
        assert_eq!(spring[0].span.start_ms, utc_ms("2019-03-10 05:00:00"));
        assert_eq!(spring[0].span.end_ms, utc_ms("2019-03-11 04:00:00"));
        assert_eq!(
            spring[0].span.end_ms - spring[0].span.start_ms,
            23 * 3_600_000
        );
        let autumn = range(tz, date("2019-11-03"), date("2019-11-03"));
        assert_eq!(autumn.end_ms - autumn.start_ms, 25 * 3_600_000);
        let hours = periods(tz, date("2019-03-10"), date("2019-03-10"), Unit::Hour);
        assert_eq!(hours.len(), 23);
        assert_eq!(format_label(hours[2].label), "2019-03-10 03:00:00");
        assert_eq!(
            periods(tz, date("2019-11-03"), date("2019-11-03"), Unit::Hour).len(),
            25
        );
    }

    #[test]
    fn a_midnight_that_does_not_exist_starts_the_day_at_the_end_of_the_gap() {
        // Havana moved clocks forward at midnight: 2019-03-10 00:00 never happened there.
        let tz = chrono_tz::America::Havana;
        let start = local_start(tz, midnight(date("2019-03-10")));
        assert_eq!(format_ms(tz, start), "2019-03-10 01:00:00.000");
    }
}
