//! One loaded plugin version: its pre-instantiated component, its pool of initialised instances,
//! and the call wrapper that turns a trap, a timeout or a memory overrun into a [`CallError`]
//! and throws the instance away (a trap poisons a component instance).
use super::bindings::{types, Hooks, HostState, MemoryCapExceeded, Plugin, PluginPre};
use super::engine::PluginEngine;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime::component::Component;
use wasmtime::{Store, Trap};

/// Why a plugin call gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    #[error("trapped: {0}")]
    Trap(String),
    #[error("ran past its deadline")]
    Timeout,
    #[error("{0}")]
    Memory(String),
    #[error("could not start an instance: {0}")]
    Instantiate(String),
    #[error("gave an answer slog cannot use: {0}")]
    Answer(String),
}

impl CallError {
    /// The `kind` label of `slog_plugin_failures_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Trap(_) => "trap",
            CallError::Timeout => "timeout",
            CallError::Memory(_) => "memory",
            CallError::Instantiate(_) => "instantiate",
            CallError::Answer(_) => "invalid_answer",
        }
    }

    fn from_wasm(error: wasmtime::Error) -> Self {
        if let Some(cap) = error.downcast_ref::<MemoryCapExceeded>() {
            return CallError::Memory(cap.to_string());
        }
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Timeout;
        }
        CallError::Trap(format!("{error:#}"))
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("does not fit the slog plugin contract: {0:#}")]
    Contract(wasmtime::Error),
    #[error("init refused its settings: {0}")]
    InitRefused(String),
    #[error("init failed: {0}")]
    Init(CallError),
}

/// An instance ready for calls: its store and the bindings to its exports.
pub struct Instance {
    store: Store<HostState>,
    plugin: Plugin,
}

/// A plugin version with its settings, started: every instance ran `init` with those settings.
pub struct Runtime {
    pub name: Arc<str>,
    pub hash: String,
    pub settings: String,
    pub info: types::PluginInfo,
    engine: Arc<PluginEngine>,
    pre: PluginPre<HostState>,
    idle: Mutex<Vec<Instance>>,
    max_idle: usize,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl Runtime {
    /// Pre-instantiates `component`, starts one instance and runs `init` on it: a plugin that
    /// does not link, does not start or refuses its settings is not loaded.
    pub fn start(
        engine: Arc<PluginEngine>,
        name: &str,
        hash: &str,
        component: &Component,
        settings: String,
        max_idle: usize,
    ) -> Result<Self, LoadError> {
        let pre = engine
            .linker
            .instantiate_pre(component)
            .and_then(PluginPre::new)
            .map_err(LoadError::Contract)?;
        let name: Arc<str> = Arc::from(name);
        let (first, info) = new_instance(&engine, &pre, &name, &settings)?;
        Ok(Runtime {
            name,
            hash: hash.to_owned(),
            settings,
            info,
            engine,
            pre,
            idle: Mutex::new(vec![first]),
            max_idle: max_idle.max(1),
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
        })
    }

    /// Runs `call` on an idle instance (or a new one) under the call deadline. On failure the
    /// instance is dropped, so the next call gets a fresh one.
    pub fn call<T>(
        &self,
        call: impl FnOnce(&Hooks, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let idle = self.idle.lock().expect("pool lock").pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => new_instance(&self.engine, &self.pre, &self.name, &self.settings)
                .map(|(instance, _)| instance)
                .map_err(|e| self.failed(CallError::Instantiate(e.to_string())))?,
        };
        instance
            .store
            .set_epoch_deadline(self.engine.deadline_ticks);
        let result = guarded(|| call(instance.plugin.slog_plugin_hooks(), &mut instance.store));
        match result {
            Ok(value) => {
                let mut idle = self.idle.lock().expect("pool lock");
                if idle.len() < self.max_idle {
                    idle.push(instance);
                }
                Ok(value)
            }
            Err(e) => Err(self.failed(e)),
        }
    }

    fn failed(&self, error: CallError) -> CallError {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().expect("error lock") = Some(error.to_string());
        error
    }

    /// Failed calls since this version was loaded.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The last failed call's reason.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().expect("error lock").clone()
    }
}

/// Runs a call into a plugin, turning a panic on the host side of it into a failure of that
/// call. wasmtime-wasi's synchronous streams block on a Tokio runtime, which panics on a Tokio
/// worker: a plugin that writes to stdout or stderr must cost its event, not the request.
fn guarded<T>(call: impl FnOnce() -> wasmtime::Result<T>) -> Result<T, CallError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(CallError::from_wasm),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(CallError::Trap(format!(
                "host panicked during the call: {message}"
            )))
        }
    }
}

fn new_instance(
    engine: &PluginEngine,
    pre: &PluginPre<HostState>,
    name: &Arc<str>,
    settings: &str,
) -> Result<(Instance, types::PluginInfo), LoadError> {
    let mut store = Store::new(
        &engine.engine,
        HostState::new(name.clone(), engine.memory_cap),
    );
    store.limiter(|state| state);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(engine.init_deadline_ticks);
    let plugin = guarded(|| pre.instantiate(&mut store)).map_err(LoadError::Init)?;
    let info = guarded(|| plugin.slog_plugin_hooks().call_init(&mut store, settings))
        .map_err(LoadError::Init)?
        .map_err(LoadError::InitRefused)?;
    Ok((Instance { store, plugin }, info))
}
