//! WebAssembly plugins: business lines extend slog with components built against
//! `slog-plugin-sdk` (contract: `plugin-sdk/wit/plugin.wit`), switched on in plugins.toml and
//! reloaded live.
//!
//! - `config`: the `[plugins]` section of slog.toml (where plugins live, the sandbox limits);
//! - `manifest`: plugins.toml (which plugins, order, selection, settings, failure policy);
//! - `engine`: wasmtime set-up (pooling allocator, epochs, linker) and the compile cache;
//! - `bindings`: the host side of the WIT contract, the sandbox and the memory cap;
//! - `instance`: a loaded plugin version, its instance pool and the guarded call;
//! - `chain`: the hooks of one plugins.toml version run on an event;
//! - `host`: the current chain, reloads and their status;
//! - `watcher`: reload on file changes;
//! - `sessions`: session state owned by the host, shared between instances;
//! - `check`: `slog plugin check`.
pub mod bindings;
pub mod chain;
pub mod check;
pub mod config;
pub mod engine;
pub mod host;
pub mod instance;
pub mod manifest;
pub mod sessions;
pub mod watcher;

pub use chain::Chain;
pub use host::PluginHost;

/// The names of the hooks in `hooks`, in contract order.
pub fn hook_names(hooks: bindings::types::HookSet) -> Vec<&'static str> {
    use bindings::types::HookSet;
    [
        (HookSet::VALIDATE, "validate"),
        (HookSet::TRANSFORM, "transform"),
        (HookSet::IDENTIFY, "identify"),
        (HookSet::DERIVE, "derive"),
        (HookSet::SESSION, "session"),
    ]
    .into_iter()
    .filter(|(flag, _)| hooks.contains(*flag))
    .map(|(_, name)| name)
    .collect()
}
