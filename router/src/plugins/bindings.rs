//! The host side of the WIT contract (`plugin-sdk/wit/plugin.wit`) and the per-instance state
//! its imports see: logging, counters, the memory cap, and a WASI context that grants nothing.
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit",
    world: "plugin",
});

pub use exports::slog::plugin::hooks::Guest as Hooks;
pub use slog::plugin::types;

/// Raised by the limiter when a plugin grows its memory past the cap: the call fails with it, so
/// the failure is reported as a memory overrun rather than a generic trap.
#[derive(Debug, thiserror::Error)]
#[error("memory cap of {cap} bytes exceeded (asked for {desired})")]
pub struct MemoryCapExceeded {
    pub cap: usize,
    pub desired: usize,
}

/// What one plugin instance's store holds.
pub struct HostState {
    pub plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    memory_cap: usize,
}

impl HostState {
    pub fn new(plugin: Arc<str>, memory_cap: usize) -> Self {
        HostState {
            plugin,
            wasi: sandbox(),
            table: ResourceTable::new(),
            memory_cap,
        }
    }
}

/// WASI as a plugin sees it: no arguments, environment, files, sockets or stdin; output goes
/// nowhere; both clocks stand still at zero (a plugin's only clock is the event's time, so a
/// plugin's answer depends on the event alone). Rust's std on wasm32-wasip2 imports these
/// interfaces even when a plugin uses none of them, so they are linked rather than left out.
fn sandbox() -> WasiCtx {
    let mut builder = WasiCtx::builder();
    builder
        .wall_clock(StoppedClock)
        .monotonic_clock(StoppedClock)
        .insecure_random_seed(0)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    builder.build()
}

struct StoppedClock;

impl wasmtime_wasi::HostWallClock for StoppedClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl slog::plugin::host::Host for HostState {
    fn log(&mut self, level: slog::plugin::host::Level, message: String) {
        use slog::plugin::host::Level;
        let plugin = &*self.plugin;
        match level {
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => tracing::error!(plugin, "{message}"),
        }
    }

    fn count(&mut self, name: String, delta: u64) {
        metrics::counter!("slog_plugin_counter_total", "plugin" => self.plugin.to_string(), "name" => name)
            .increment(delta);
    }
}

impl slog::plugin::types::Host for HostState {}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            return Err(MemoryCapExceeded {
                cap: self.memory_cap,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}
