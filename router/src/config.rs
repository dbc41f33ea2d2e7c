//! Typed configuration: slog.toml assembled from its sections, and `SLOG_*` overrides.
//!
//! Each subsystem owns its section (type, defaults, checks): `[routing]` in `pipeline::records`,
//! `[sink]` in `sink::config`, `[registry]` in `metadata::config`, `[enrich]` in
//! `enrich::config`, `[identity]` in `identity::config`, `[plugins]` in `plugins::config`,
//! `[warehouse]` in `warehouse::config`, `[reports]` in `reports::config`, `[sensors]` in
//! `sensors::config`, `[limits]` in `admission::config`. This
//! module gathers them, owns the sections of the server itself (`[server]`, `[admin]`, `[log]`),
//! and applies the environment overrides.
//!
//! Every key is documented in `config/slog.toml`. Overrides for deployment come from environment
//! variables: `SLOG_` + the key path in upper case with `__` between levels, e.g.
//! `SLOG_SINK__KIND=kafka`, `SLOG_SINK__KAFKA__BROKERS=10.0.0.1:9092`, `SLOG_SERVER__LISTEN=0.0.0.0:8080`.
//! A value is read as TOML when it parses as such (numbers, booleans, `["a","b"]`), else as a string.
pub use crate::admission::LimitsConfig;
pub use crate::enrich::config::EnrichConfig;
pub use crate::identity::config::IdentityConfig;
pub use crate::invalid_config::InvalidConfig;
pub use crate::metadata::config::{Policy, RegistryConfig};
pub use crate::pipeline::records::RoutingConfig;
pub use crate::plugins::config::PluginsConfig;
pub use crate::reports::config::ReportsConfig;
pub use crate::sensors::SensorsConfig;
pub use crate::sink::config::{FileSinkConfig, KafkaSinkConfig, SinkConfig, SinkKind};
pub use crate::warehouse::WarehouseConfig;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("environment override {var}: {message}")]
    Env { var: String, message: String },
    #[error("invalid config: {0}")]
    Invalid(#[from] InvalidConfig),
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub routing: RoutingConfig,
    pub sink: SinkConfig,
    pub registry: RegistryConfig,
    pub enrich: EnrichConfig,
    pub admin: AdminConfig,
    pub log: LogConfig,
    pub identity: IdentityConfig,
    pub plugins: PluginsConfig,
    pub warehouse: WarehouseConfig,
    pub reports: ReportsConfig,
    pub sensors: SensorsConfig,
    pub limits: LimitsConfig,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// Bearer token of the admin API (`SLOG_ADMIN_TOKEN`). Unset or empty: the admin API is off.
    pub token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest request body accepted as sent (compressed or not).
    pub max_body_bytes: usize,
    /// Largest body after gzip decompression: the guard against gzip bombs.
    pub max_decoded_bytes: usize,
    /// Largest number of events in one batch (a JSON array).
    pub max_batch_events: usize,
    /// Longest string (a property value, an identity, a key) in bytes once unescaped.
    pub max_string_bytes: usize,
    /// Origins allowed to post from a browser; `["*"]` allows any origin.
    pub cors_allowed_origins: Vec<String>,
    /// How long a graceful shutdown waits for in-flight requests before giving up.
    pub shutdown_grace_secs: u64,
}

impl ServerConfig {
    fn validate(&self) -> Result<(), InvalidConfig> {
        if self.max_body_bytes == 0 || self.max_decoded_bytes < self.max_body_bytes {
            return Err(InvalidConfig::new(
                "server.max_decoded_bytes must be >= server.max_body_bytes > 0",
            ));
        }
        if self.max_string_bytes == 0 {
            return Err(InvalidConfig::new(
                "server.max_string_bytes must be at least 1",
            ));
        }
        if self.max_batch_events == 0 {
            return Err(InvalidConfig::new(
                "server.max_batch_events must be at least 1",
            ));
        }
        Ok(())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            max_decoded_bytes: 8 * 1024 * 1024,
            max_batch_events: 500,
            max_string_bytes: 64 * 1024,
            cors_allowed_origins: vec!["*".into()],
            shutdown_grace_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter (`info`, `slog_router=debug,info`); `RUST_LOG` wins when set.
    pub level: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Reads `path`, applies `SLOG_*` overrides from `env`, and validates the result.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_str(&text, env).map_err(|e| match e {
            ConfigError::Parse { source, .. } => ConfigError::Parse {
                path: path.to_owned(),
                source,
            },
            other => other,
        })
    }

    pub fn from_toml_str(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let parse_err = |source| ConfigError::Parse {
            path: PathBuf::new(),
            source,
        };
        let mut tree: toml::Table = toml::from_str(text).map_err(parse_err)?;
        for (var, value) in env {
            apply_env_override(&mut tree, &var, &value)?;
        }
        let config: Config = toml::Table::try_into(tree).map_err(parse_err)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.routing.validate()?;
        self.sink.validate()?;
        self.registry.validate()?;
        self.enrich.validate()?;
        self.identity.validate()?;
        self.plugins.validate()?;
        self.warehouse.validate()?;
        self.reports.validate()?;
        self.sensors.validate()?;
        self.limits.validate(self.server.max_batch_events)?;
        Ok(())
    }
}

/// The config's top-level sections: `SLOG_*` variables outside them are not slog settings.
const SECTIONS: [&str; 13] = [
    "server",
    "routing",
    "sink",
    "registry",
    "enrich",
    "admin",
    "log",
    "identity",
    "plugins",
    "warehouse",
    "reports",
    "sensors",
    "limits",
];

/// Sets `a.b.c` in `tree` from `SLOG_A__B__C=value`. `SLOG_ADMIN_TOKEN` is an alias of
/// `SLOG_ADMIN__TOKEN`; variables that name no section (say `SLOG_BIN`) are ignored.
fn apply_env_override(tree: &mut toml::Table, var: &str, value: &str) -> Result<(), ConfigError> {
    let var = if var == "SLOG_ADMIN_TOKEN" {
        "SLOG_ADMIN__TOKEN"
    } else {
        var
    };
    let Some(path) = var.strip_prefix("SLOG_") else {
        return Ok(());
    };
    let section = path.split("__").next().unwrap_or("").to_lowercase();
    if !SECTIONS.contains(&section.as_str()) {
        return Ok(());
    }
    let err = |message: &str| ConfigError::Env {
        var: var.to_owned(),
        message: message.to_owned(),
    };
    let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
    if keys.iter().any(String::is_empty) {
        return Err(err("empty key segment (use __ between levels)"));
    }
    let (leaf, parents) = keys.split_last().expect("split yields at least one key");
    let mut table = tree;
    for key in parents {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| err(&format!("`{key}` is a value, not a section")))?;
    }
    table.insert(leaf.clone(), parse_env_value(value));
    Ok(())
}

/// Reads an override as a TOML value when it is one (`5000`, `true`, `["*"]`), else as a string.
fn parse_env_value(value: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shipped_configs_parse_and_validate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        let embedded = Config::load(&root.join("slog.toml"), env(&[])).unwrap();
        assert_eq!(embedded.sink.kind, SinkKind::File);
        assert_eq!(embedded.sink.file.dir, PathBuf::from("data"));
        let production = Config::load(&root.join("slog.production.toml"), env(&[])).unwrap();
        assert_eq!(production.sink.kind, SinkKind::Kafka);
        // The shipped files spell the junk lists out, and a list there replaces the default:
        // they must not fall behind the defaults.
        let defaults = IdentityConfig::default();
        for shipped in [&embedded.identity, &production.identity] {
            assert_eq!(shipped.junk_values, defaults.junk_values);
            assert_eq!(shipped.junk_values_by_key, defaults.junk_values_by_key);
            assert_eq!(
                shipped.max_accounts_per_device,
                defaults.max_accounts_per_device
            );
        }
        // The embedded file spells the Sensors identity table out, which replaces the default.
        assert_eq!(
            embedded.sensors.identity_keys,
            SensorsConfig::default().identity_keys
        );
    }

    #[test]
    fn env_overrides_reach_nested_keys_with_their_types() {
        let config = Config::from_toml_str(
            "[sink]\nkind = \"file\"\n",
            env(&[
                ("SLOG_SINK__KIND", "kafka"),
                ("SLOG_SINK__KAFKA__LINGER_MS", "20"),
                (
                    "SLOG_SERVER__CORS_ALLOWED_ORIGINS",
                    "[\"https://a.example\"]",
                ),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.sink.kind, SinkKind::Kafka);
        assert_eq!(config.sink.kafka.linger_ms, 20);
        assert_eq!(
            config.server.cors_allowed_origins,
            vec!["https://a.example"]
        );
    }

    #[test]
    fn every_section_of_the_shipped_config_takes_env_overrides() {
        let shipped: toml::Table = include_str!("../../config/slog.toml").parse().unwrap();
        for section in shipped.keys() {
            assert!(
                SECTIONS.contains(&section.as_str()),
                "[{section}] has no SLOG_ overrides"
            );
        }
        let config =
            Config::from_toml_str("", env(&[("SLOG_LIMITS__MAX_IN_FLIGHT", "7")])).unwrap();
        assert_eq!(config.limits.max_in_flight, 7);
    }

    #[test]
    fn admin_token_alias_and_foreign_slog_variables() {
        let config = Config::from_toml_str(
            "[registry]\nproject_policies = { zhibo = \"lenient\" }\n",
            env(&[("SLOG_ADMIN_TOKEN", "s3cret"), ("SLOG_BIN", "/x/slog")]),
        )
        .unwrap();
        assert_eq!(config.admin.token.as_deref(), Some("s3cret"));
        assert_eq!(config.registry.policy_for("zhibo"), Policy::Lenient);
        assert_eq!(config.registry.policy_for("other"), Policy::Strict);
    }

    #[test]
    fn a_plain_string_override_is_taken_as_a_string() {
        let config =
            Config::from_toml_str("", env(&[("SLOG_SINK__KAFKA__BROKERS", "h1:9092,h2:9092")]))
                .unwrap();
        assert_eq!(config.sink.kafka.brokers, "h1:9092,h2:9092");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_the_key_named() {
        let err = Config::from_toml_str("[server]\nlisen = \"x\"\n", env(&[])).unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let err =
            Config::from_toml_str("", env(&[("SLOG_SINK__KIND", "carrier-pigeon")])).unwrap_err();
        assert!(err.to_string().contains("carrier-pigeon"), "{err}");
        let err = Config::from_toml_str("[server]\nmax_batch_events = 0\n", env(&[])).unwrap_err();
        assert!(err.to_string().contains("max_batch_events"), "{err}");
    }
}
