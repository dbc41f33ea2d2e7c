//! The `[reports]` section of slog.toml: whether the report API runs, the time zone days are cut
//! in, its token, and its limits. The warehouse it reads is `[warehouse] url`.
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Serve `POST /events/report` and `POST /addictions/report`. Off: both answer 404.
    pub enabled: bool,
    /// The IANA time zone days, weeks, months and hours are cut in, and report times are shown in.
    pub timezone: String,
    /// The project of a request without `?project=`.
    pub default_project: String,
    /// Bearer token of the report API (`SLOG_REPORTS__TOKEN`); the admin token is accepted too.
    /// Neither set: the report API is off (404), never open.
    pub token: Option<String>,
    /// Longest `from_date`..=`to_date` range a request may ask for, in days.
    pub max_range_days: u32,
    /// Answers kept in memory for requests with `use_cache: true`; 0 keeps none.
    pub cache_entries: usize,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            enabled: false,
            timezone: "Asia/Shanghai".into(),
            default_project: "zhibo".into(),
            token: None,
            max_range_days: 366,
            cache_entries: 256,
        }
    }
}

impl ReportsConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        self.time_zone()?;
        if self.max_range_days == 0 {
            return Err(InvalidConfig::new(
                "reports.max_range_days must be at least 1",
            ));
        }
        if self.default_project.is_empty() {
            return Err(InvalidConfig::new(
                "reports.default_project must not be empty",
            ));
        }
        Ok(())
    }

    /// `timezone` as a chrono-tz zone.
    pub fn time_zone(&self) -> Result<chrono_tz::Tz, InvalidConfig> {
        self.timezone.parse().map_err(|_| {
            InvalidConfig::new(format!(
                "reports.timezone `{}` is not an IANA time zone (e.g. Asia/Shanghai)",
                self.timezone
            ))
        })
    }

    /// The report token, if one is set and not empty.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref().filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_zones_are_named() {
        let config = ReportsConfig::default();
        config.validate().unwrap();
        assert_eq!(config.time_zone().unwrap(), chrono_tz::Asia::Shanghai);
        let bad = ReportsConfig {
            timezone: "Mars/Olympus".into(),
            ..ReportsConfig::default()
        };
        assert!(bad.validate().unwrap_err().0.contains("Mars/Olympus"));
        let empty_token = ReportsConfig {
            token: Some(String::new()),
            ..ReportsConfig::default()
        };
        assert_eq!(empty_token.token(), None);
    }
}
