//! The wasmtime engine plugins run on: component model, pooling allocator, epoch interruption,
//! a linker exposing only the host interface (and a WASI that grants nothing), and the compile
//! cache keyed by the file's SHA-256 so a reload of unchanged files compiles nothing.
use super::bindings::{HostState, Plugin};
use super::config::PluginsConfig;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot set up the WebAssembly engine: {0:#}")]
    Setup(wasmtime::Error),
    #[error("not a valid slog plugin component: {0:#}")]
    Compile(wasmtime::Error),
}

/// The engine and what every plugin shares.
pub struct PluginEngine {
    pub engine: Engine,
    pub linker: Linker<HostState>,
    pub memory_cap: usize,
    /// Epoch ticks a call may last.
    pub deadline_ticks: u64,
    /// Epoch ticks starting an instance (instantiation and `init`) may last.
    pub init_deadline_ticks: u64,
    cache: Mutex<HashMap<String, Component>>,
}

/// Hex SHA-256 of a plugin file: its identity in the cache and in `GET /admin/plugins`.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl PluginEngine {
    pub fn new(config: &PluginsConfig) -> Result<Self, EngineError> {
        let memory_cap = usize::try_from(config.max_memory_bytes).unwrap_or(usize::MAX);
        let instances = config.max_instances;
        let mut pool = PoolingAllocationConfig::default();
        // A wasip2 Rust component is a few core instances (the program, the WASI adapter, shims),
        // each with at most a couple of tables and memories.
        pool.total_component_instances(instances)
            .total_core_instances(instances * 8)
            .total_memories(instances * 2)
            .total_tables(instances * 8)
            .max_memory_size(memory_cap);
        let mut wasm = Config::new();
        // No wasm backtraces: a trap's reason goes into client answers and dead letters, where
        // a list of function offsets of a stripped plugin helps nobody (a panic's message is in
        // slog's log through the SDK).
        wasm.wasm_component_model(true)
            .wasm_backtrace_max_frames(None)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(EngineError::Setup)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(EngineError::Setup)?;
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .map_err(EngineError::Setup)?;
        let deadline_ticks = config.call_timeout_ms.div_ceil(config.epoch_tick_ms).max(1);
        let init_deadline_ticks = config.init_timeout_ms.div_ceil(config.epoch_tick_ms).max(1);
        Ok(PluginEngine {
            engine,
            linker,
            memory_cap,
            deadline_ticks,
            init_deadline_ticks,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The compiled component for `bytes` (whose hash is `hash`), compiled at most once.
    pub fn compile(&self, hash: &str, bytes: &[u8]) -> Result<Component, EngineError> {
        if let Some(component) = self.cache.lock().expect("cache lock").get(hash) {
            return Ok(component.clone());
        }
        let component = Component::new(&self.engine, bytes).map_err(EngineError::Compile)?;
        self.cache
            .lock()
            .expect("cache lock")
            .insert(hash.to_owned(), component.clone());
        Ok(component)
    }

    /// Drops compiled components no longer in `keep` (old versions of replaced plugins).
    pub fn retain(&self, keep: &[String]) {
        self.cache
            .lock()
            .expect("cache lock")
            .retain(|hash, _| keep.contains(hash));
    }

    /// Starts the thread that advances the epoch every `tick`: the clock of call deadlines.
    /// It holds only a weak reference, so it ends with the engine.
    pub fn spawn_ticker(self: &Arc<Self>, tick: Duration) {
        let weak = self.engine.weak();
        std::thread::Builder::new()
            .name("plugin-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(tick);
                }
            })
            .expect("spawning the plugin epoch thread");
    }
}
