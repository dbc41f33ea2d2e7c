//! `slog plugin check FILE.wasm`: loads a plugin exactly as a reload would (compile, link
//! against the contract, start an instance, run `init` with the given settings) and reports it,
//! so CI pipelines can refuse a plugin before it reaches a plugins directory.
use super::config::PluginsConfig;
use super::engine::{content_hash, EngineError, PluginEngine};
use super::instance::{LoadError, Runtime};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("settings must be a JSON object: {0}")]
    Settings(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// What a loadable plugin declares.
#[derive(Debug)]
pub struct CheckReport {
    pub sha256: String,
    pub bytes: usize,
    pub version: String,
    pub hooks: Vec<&'static str>,
}

pub fn check(
    file: &Path,
    settings: &str,
    limits: &PluginsConfig,
) -> Result<CheckReport, CheckError> {
    match serde_json::from_str::<serde_json::Value>(settings) {
        Ok(serde_json::Value::Object(_)) => {}
        Ok(other) => return Err(CheckError::Settings(format!("got {other}"))),
        Err(e) => return Err(CheckError::Settings(e.to_string())),
    }
    let bytes = std::fs::read(file).map_err(|source| CheckError::Read {
        path: file.display().to_string(),
        source,
    })?;
    let engine = Arc::new(PluginEngine::new(limits)?);
    engine.spawn_ticker(std::time::Duration::from_millis(limits.epoch_tick_ms));
    let hash = content_hash(&bytes);
    let component = engine.compile(&hash, &bytes)?;
    let runtime = Runtime::start(engine, "check", &hash, &component, settings.to_owned(), 1)?;
    Ok(CheckReport {
        sha256: hash,
        bytes: bytes.len(),
        version: runtime.info.version.clone(),
        hooks: super::hook_names(runtime.info.hooks),
    })
}
