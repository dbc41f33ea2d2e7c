//! Typed configuration: the TOML file, its defaults, its validation and `SLOG_*` overrides.
//!
//! Every key is documented in `config/slog.toml`. Overrides for deployment come from environment
//! variables: `SLOG_` + the key path in upper case with `__` between levels, e.g.
//! `SLOG_SINK__KIND=kafka`, `SLOG_SINK__KAFKA__BROKERS=10.0.0.1:9092`, `SLOG_SERVER__LISTEN=0.0.0.0:8080`.
//! A value is read as TOML when it parses as such (numbers, booleans, `["a","b"]`), else as a string.
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
    Invalid(String),
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
    pub identity: crate::identity::IdentityConfig,
    pub plugins: PluginsConfig,
}

/// WebAssembly plugins (`crate::plugins`): where they are and the sandbox's limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directory holding the `.wasm` files that plugins.toml names.
    pub dir: PathBuf,
    /// Which plugins run, in which order, for what, with which settings. Missing: no plugins.
    pub config: PathBuf,
    /// Reload when a file in `dir` or the plugins.toml changes.
    pub watch: bool,
    /// Changes closer together than this are one reload.
    pub debounce_ms: u64,
    /// Longest a plugin call may run before it is interrupted (the event then follows the policy).
    pub call_timeout_ms: u64,
    /// Longest a new instance may take to start and run `init` (instantiation is slower than a
    /// hook call, and a busy machine must not turn a good plugin into a failed reload).
    pub init_timeout_ms: u64,
    /// Granularity of the deadlines: the epoch ticker's period.
    pub epoch_tick_ms: u64,
    /// Linear memory cap of one plugin instance.
    pub max_memory_bytes: u64,
    /// Plugin instances alive at once, across every plugin and every chain still in use.
    pub max_instances: u32,
    /// Idle instances kept per plugin for reuse.
    pub idle_instances_per_plugin: usize,
    /// How often expired sessions are closed (and their summaries emitted).
    pub session_sweep_ms: u64,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dir: PathBuf::from("plugins/dist"),
            config: PathBuf::from("config/plugins.toml"),
            watch: true,
            debounce_ms: 250,
            call_timeout_ms: 50,
            init_timeout_ms: 1000,
            epoch_tick_ms: 5,
            max_memory_bytes: 32 * 1024 * 1024,
            max_instances: 64,
            idle_instances_per_plugin: 4,
            session_sweep_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichConfig {
    /// Proxies/load balancers in front of slog (CIDRs or addresses) whose X-Forwarded-For and
    /// X-Real-IP are believed. Empty: the peer address is the client address.
    pub trusted_proxies: Vec<String>,
    /// A GeoIP2/GeoLite2-City .mmdb file; unset: country/province/city are not filled.
    pub geoip_path: Option<PathBuf>,
    /// Locale of place names, falling back to `en`.
    pub geoip_locale: String,
    /// How often (seconds) the GeoIP file is checked for replacement.
    pub geoip_check_secs: u64,
    /// Distinct User-Agent strings whose parse is kept.
    pub ua_cache_size: usize,
    /// Emit the first_referrer profile_insert (seed §3.3.4).
    pub first_referrer_profile: bool,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            trusted_proxies: Vec::new(),
            geoip_path: None,
            geoip_locale: "zh-CN".into(),
            geoip_check_secs: 5,
            ua_cache_size: 10_000,
            first_referrer_profile: true,
        }
    }
}

/// What happens to an event that uses an unregistered event name or property key.
/// A value of the wrong type is refused under every policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Refuse the event (400 naming each unknown key); it goes to the dead-letter topic.
    #[default]
    Strict,
    /// Accept it, with the unknown keys as warnings in the answer and in metrics.
    Lenient,
    /// Accept it and register the unknown names with their inferred type (proposer "auto").
    Register,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// `sqlite://data/registry.db?mode=rwc` (embedded) or `mysql://user:pass@host:3306/db`.
    pub url: String,
    /// Optional Redis cache of registry snapshots, e.g. `redis://127.0.0.1:6379/0`.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key slog writes (several deployments can share one Redis).
    pub redis_key_prefix: String,
    /// How often each instance checks the registry version (changes apply within this).
    pub refresh_interval_ms: u64,
    /// Apply pending migrations (tables + seed presets) at start-up.
    pub auto_migrate: bool,
    /// Policy for projects not listed in `project_policies`.
    pub default_policy: Policy,
    /// Per-project policies, e.g. `{ zhibo = "lenient" }`.
    pub project_policies: std::collections::BTreeMap<String, Policy>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            url: "sqlite://data/registry.db?mode=rwc".into(),
            redis_url: None,
            redis_key_prefix: "slog:".into(),
            refresh_interval_ms: 500,
            auto_migrate: true,
            default_policy: Policy::Strict,
            project_policies: Default::default(),
        }
    }
}

impl RegistryConfig {
    pub fn policy_for(&self, project: &str) -> Policy {
        self.project_policies
            .get(project)
            .copied()
            .unwrap_or(self.default_policy)
    }
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
    /// Origins allowed to post from a browser; `["*"]` allows any origin.
    pub cors_allowed_origins: Vec<String>,
    /// How long a graceful shutdown waits for in-flight requests before giving up.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            max_decoded_bytes: 8 * 1024 * 1024,
            max_batch_events: 500,
            cors_allowed_origins: vec!["*".into()],
            shutdown_grace_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    /// Topic for track events (stype 100).
    pub track_topic: String,
    /// Topic for profile_* messages (stype 101..=104).
    pub profile_topic: String,
    /// Topic for well-formed events the registry refused, with the reason.
    pub dead_letter_topic: String,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            track_topic: "events".into(),
            profile_topic: "users".into(),
            dead_letter_topic: "dead_letters".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    #[default]
    File,
    Kafka,
    Stdout,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SinkConfig {
    pub kind: SinkKind,
    pub file: FileSinkConfig,
    pub kafka: KafkaSinkConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileSinkConfig {
    /// Directory holding one `<topic>.jsonl` per topic; relative paths are from the working directory.
    pub dir: PathBuf,
    /// fsync after each write group. Off: a 200 survives a slog crash but not a power cut.
    pub fsync: bool,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        FileSinkConfig {
            dir: PathBuf::from("data"),
            fsync: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSinkConfig {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// How long the producer gathers records into one request (librdkafka `linger.ms`).
    pub linger_ms: u64,
    /// How long a record may wait for its acknowledgement before the request gets a 503
    /// (librdkafka `message.timeout.ms`).
    pub delivery_timeout_ms: u64,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: String,
    /// Create the routing topics at start-up when they are missing (brokers without auto-create).
    pub create_topics: bool,
    /// Partitions and replication factor for topics created by `create_topics`.
    pub topic_partitions: i32,
    pub topic_replication: i32,
    /// Seconds put in `Retry-After` when the broker cannot take an event.
    pub retry_after_secs: u64,
    /// Extra librdkafka properties, passed through as is (e.g. security.protocol, sasl.*).
    pub properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaSinkConfig {
    fn default() -> Self {
        KafkaSinkConfig {
            brokers: "127.0.0.1:9092".into(),
            linger_ms: 5,
            delivery_timeout_ms: 5000,
            compression: "none".into(),
            create_topics: false,
            topic_partitions: 3,
            topic_replication: 1,
            retry_after_secs: 5,
            properties: Default::default(),
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
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        let s = &self.server;
        if s.max_body_bytes == 0 || s.max_decoded_bytes < s.max_body_bytes {
            return invalid("server.max_decoded_bytes must be >= server.max_body_bytes > 0");
        }
        if s.max_batch_events == 0 {
            return invalid("server.max_batch_events must be at least 1");
        }
        let r = &self.routing;
        if r.track_topic.trim().is_empty() || r.profile_topic.trim().is_empty() {
            return invalid("routing.track_topic and routing.profile_topic must not be empty");
        }
        let k = &self.sink.kafka;
        if self.sink.kind == SinkKind::Kafka && k.brokers.trim().is_empty() {
            return invalid("sink.kafka.brokers must name at least one broker");
        }
        let dlq = &r.dead_letter_topic;
        if dlq.trim().is_empty() || dlq == &r.track_topic || dlq == &r.profile_topic {
            return invalid(
                "routing.dead_letter_topic must be set and differ from the other topics",
            );
        }
        if let Err(e) =
            crate::enrich::client_ip::TrustedProxies::parse(&self.enrich.trusted_proxies)
        {
            return Err(ConfigError::Invalid(e));
        }
        if self.enrich.geoip_check_secs == 0 || self.enrich.ua_cache_size == 0 {
            return invalid("enrich.geoip_check_secs and enrich.ua_cache_size must be at least 1");
        }
        if self.registry.refresh_interval_ms == 0 {
            return invalid("registry.refresh_interval_ms must be at least 1");
        }
        if k.topic_partitions < 1 || k.topic_replication < 1 {
            return invalid("sink.kafka.topic_partitions and topic_replication must be >= 1");
        }
        self.identity.validate().map_err(ConfigError::Invalid)?;
        let p = &self.plugins;
        if p.call_timeout_ms == 0
            || p.epoch_tick_ms == 0
            || p.epoch_tick_ms > p.call_timeout_ms.min(p.init_timeout_ms)
        {
            return invalid(
                "plugins.epoch_tick_ms must be between 1 and plugins.call_timeout_ms and init_timeout_ms",
            );
        }
        if p.max_instances == 0 || p.max_memory_bytes < 64 * 1024 || p.session_sweep_ms == 0 {
            return invalid("plugins.max_instances and plugins.session_sweep_ms must be >= 1, plugins.max_memory_bytes >= 65536");
        }
        Ok(())
    }
}

/// The config's top-level sections: `SLOG_*` variables outside them are not slog settings.
const SECTIONS: [&str; 9] = [
    "server", "routing", "sink", "registry", "enrich", "admin", "log", "identity", "plugins",
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
        let defaults = crate::identity::IdentityConfig::default();
        for shipped in [&embedded.identity, &production.identity] {
            assert_eq!(shipped.junk_values, defaults.junk_values);
            assert_eq!(shipped.junk_values_by_key, defaults.junk_values_by_key);
            assert_eq!(
                shipped.max_accounts_per_device,
                defaults.max_accounts_per_device
            );
        }
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
