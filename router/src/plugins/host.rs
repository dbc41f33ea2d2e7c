//! The plugin host: the current chain (swapped atomically), reloads, and their status.
//!
//! A reload reads plugins.toml, loads each plugin file (hash, compile once per hash,
//! pre-instantiate, start an instance and run `init` with its settings) and only when all of
//! that succeeded swaps the new chain in. Requests that already took the old chain finish on it.
//! Any failure keeps the old chain and is reported: log, `slog_plugin_reloads_total{result}`,
//! and `GET /admin/plugins`.
use super::chain::{Chain, ChainPlugin};
use super::config::PluginsConfig;
use super::engine::{content_hash, EngineError, PluginEngine};
use super::instance::{LoadError, Runtime};
use super::manifest::{self, PluginEntry};
use super::sessions::{MemorySessions, SessionStore};
use crate::clock::now_ms;
use arc_swap::ArcSwap;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error(transparent)]
    File(#[from] manifest::ManifestError),
    #[error("plugin `{plugin}`: cannot read {path}: {source}")]
    Read {
        plugin: String,
        path: String,
        source: std::io::Error,
    },
    #[error("plugin `{plugin}` ({path}): {source}")]
    Compile {
        plugin: String,
        path: String,
        source: EngineError,
    },
    #[error("plugin `{plugin}` ({path}): {source}")]
    Load {
        plugin: String,
        path: String,
        source: LoadError,
    },
}

impl ReloadError {
    /// The plugin the failure is about, when it is about one.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            ReloadError::File(_) => None,
            ReloadError::Read { plugin, .. }
            | ReloadError::Compile { plugin, .. }
            | ReloadError::Load { plugin, .. } => Some(plugin),
        }
    }
}

/// The outcome of the last reload attempt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReloadStatus {
    /// Epoch ms.
    pub at: i64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The plugin the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
}

/// One plugin as `GET /admin/plugins` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginStatus {
    pub name: String,
    pub file: String,
    pub sha256: String,
    /// The plugin crate's version, as its `init` reports it.
    pub version: String,
    /// The hooks it declares: `validate`, `transform`, `identify`, `derive`, `session`.
    #[schema(value_type = Vec<String>)]
    pub hooks: Vec<&'static str>,
    /// The properties the plugin declared it reads (it is handed only those); absent: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads: Option<Vec<String>>,
    pub policy: manifest::FailurePolicy,
    pub projects: Vec<String>,
    pub events: Vec<String>,
    /// `active`; `failing` when the last reload could not load this plugin's new version (the
    /// version shown still runs).
    #[schema(value_type = String, examples("active", "failing"))]
    pub status: &'static str,
    /// Failed calls of this version (trap, timeout, memory, invalid answer).
    pub failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The whole picture for operators.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HostStatus {
    pub chain_version: u64,
    pub plugins: Vec<PluginStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_reload: Option<ReloadStatus>,
    /// Open sessions of the session hook, all plugins and instances together, as the last
    /// sweep counted them.
    pub open_sessions: u64,
    /// Where sessions are kept: `redis`, `database` or `memory` (`plugins.session_store`).
    #[schema(value_type = String, examples("redis", "database", "memory"))]
    pub session_store: &'static str,
}

pub struct PluginHost {
    engine: Arc<PluginEngine>,
    dir: PathBuf,
    toml: PathBuf,
    max_idle: usize,
    current: ArcSwap<Chain>,
    sessions: Arc<dyn SessionStore>,
    open_sessions: AtomicU64,
    /// One reload at a time (watcher, admin API); the request path never takes it.
    reloading: Mutex<()>,
    last_reload: Mutex<Option<ReloadStatus>>,
}

impl PluginHost {
    /// A host with the empty chain, keeping sessions in this process's memory; call
    /// [`PluginHost::reload`] to load plugins.toml.
    pub fn new(config: &PluginsConfig) -> Result<Self, EngineError> {
        Self::with_sessions(config, Arc::new(MemorySessions::default()))
    }

    /// A host keeping sessions in `sessions` (`plugins::sessions::config::open`).
    pub fn with_sessions(
        config: &PluginsConfig,
        sessions: Arc<dyn SessionStore>,
    ) -> Result<Self, EngineError> {
        let engine = Arc::new(PluginEngine::new(config)?);
        Ok(PluginHost {
            engine,
            dir: config.dir.clone(),
            toml: config.config.clone(),
            max_idle: config.idle_instances_per_plugin,
            current: ArcSwap::from_pointee(Chain::empty()),
            sessions,
            open_sessions: AtomicU64::new(0),
            reloading: Mutex::new(()),
            last_reload: Mutex::new(None),
        })
    }

    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.engine
    }

    pub fn sessions(&self) -> &Arc<dyn SessionStore> {
        &self.sessions
    }

    /// Records how many sessions are open (the sweeper counts them), for the status.
    pub fn note_open_sessions(&self, open: u64) {
        self.open_sessions.store(open, Ordering::Relaxed);
        metrics::gauge!("slog_plugin_sessions_open").set(open as f64);
    }

    /// The chain in force; a request holds it for its whole batch.
    pub fn chain(&self) -> Arc<Chain> {
        self.current.load_full()
    }

    /// The plugins directory and plugins.toml, for the watcher.
    pub fn watched_paths(&self) -> (PathBuf, PathBuf) {
        (self.dir.clone(), self.toml.clone())
    }

    /// Builds a new chain from the files and swaps it in; on failure the old chain stays.
    /// Blocking (compiles): call it off the request path.
    pub fn reload(&self) -> Result<u64, ReloadError> {
        let _one_at_a_time = self.reloading.lock().expect("reload lock");
        let result = self.build();
        let status = match &result {
            Ok(chain) => {
                let version = chain.version;
                let keep: Vec<String> = chain
                    .plugins()
                    .iter()
                    .map(|p| p.runtime.hash.clone())
                    .collect();
                let names: Vec<&str> = chain.plugins().iter().map(|p| &*p.runtime.name).collect();
                tracing::info!(version, plugins = ?names, "plugin chain loaded");
                self.current.store(Arc::clone(chain));
                self.engine.retain(&keep);
                metrics::counter!("slog_plugin_reloads_total", "result" => "ok").increment(1);
                metrics::gauge!("slog_plugin_chain_plugins").set(keep.len() as f64);
                ReloadStatus {
                    at: now_ms(),
                    ok: true,
                    error: None,
                    plugin: None,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "plugin reload failed; the previous chain stays in force");
                metrics::counter!("slog_plugin_reloads_total", "result" => "error").increment(1);
                ReloadStatus {
                    at: now_ms(),
                    ok: false,
                    error: Some(e.to_string()),
                    plugin: e.plugin().map(str::to_owned),
                }
            }
        };
        *self.last_reload.lock().expect("status lock") = Some(status);
        result.map(|chain| chain.version)
    }

    fn build(&self) -> Result<Arc<Chain>, ReloadError> {
        let entries = manifest::load(&self.toml)?;
        let old = self.chain();
        let mut plugins = Vec::with_capacity(entries.len());
        for entry in entries {
            let runtime = self.load(&entry, &old)?;
            plugins.push(ChainPlugin { entry, runtime });
        }
        Ok(Arc::new(Chain::new(plugins, old.version + 1)))
    }

    /// The running version of `entry`: the old chain's when the file and settings are the same
    /// (its warm instances carry over), else a freshly started one.
    fn load(&self, entry: &PluginEntry, old: &Chain) -> Result<Arc<Runtime>, ReloadError> {
        let path = self.dir.join(&entry.file);
        let shown = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| ReloadError::Read {
            plugin: entry.name.clone(),
            path: shown.clone(),
            source,
        })?;
        let hash = content_hash(&bytes);
        let settings = entry.settings_json();
        if let Some(same) = old.plugins().iter().find(|p| {
            *p.runtime.name == *entry.name
                && p.runtime.hash == hash
                && p.runtime.settings == settings
        }) {
            return Ok(same.runtime.clone());
        }
        let component =
            self.engine
                .compile(&hash, &bytes)
                .map_err(|source| ReloadError::Compile {
                    plugin: entry.name.clone(),
                    path: shown.clone(),
                    source,
                })?;
        let runtime = Runtime::start(
            self.engine.clone(),
            &entry.name,
            &hash,
            &component,
            settings,
            self.max_idle,
        )
        .map_err(|source| ReloadError::Load {
            plugin: entry.name.clone(),
            path: shown,
            source,
        })?;
        Ok(Arc::new(runtime))
    }

    pub fn status(&self) -> HostStatus {
        let chain = self.chain();
        let last_reload = self.last_reload.lock().expect("status lock").clone();
        let failing = last_reload
            .as_ref()
            .filter(|r| !r.ok)
            .and_then(|r| r.plugin.clone());
        let plugins = chain
            .plugins()
            .iter()
            .map(|p| PluginStatus {
                name: p.entry.name.clone(),
                file: p.entry.file.clone(),
                sha256: p.runtime.hash.clone(),
                version: p.runtime.info.version.clone(),
                hooks: super::hook_names(p.runtime.info.hooks),
                reads: p.reads().map(<[String]>::to_vec),
                policy: p.entry.policy,
                projects: p.entry.projects.clone(),
                events: p.entry.events.clone(),
                status: if failing.as_deref() == Some(&p.entry.name) {
                    "failing"
                } else {
                    "active"
                },
                failures: p.runtime.failures(),
                last_error: p.runtime.last_error(),
            })
            .collect();
        HostStatus {
            chain_version: chain.version,
            plugins,
            last_reload,
            open_sessions: self.open_sessions.load(Ordering::Relaxed),
            session_store: self.sessions.name(),
        }
    }
}
