#![doc = include_str!("../README.md")]
mod event;
mod output;
mod settings;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod rt;

pub use event::Event;
pub use output::{Reject, SessionStep, VirtualEvent};
pub use serde_json::{json, Map, Value};
pub use settings::Settings;

/// The hooks a plugin may implement; list yours in [`Plugin::HOOKS`] (slog calls only those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Validate,
    Transform,
    Identify,
    Derive,
    Session,
}

/// A slog plugin. Implement the hooks you need, list them in `HOOKS`, and `export!` the type.
///
/// One value of the type lives in each instance slog runs; `init` sets it up from the settings.
/// Hooks take `&self`: anything to remember between events belongs in the session state, which
/// slog keeps (an instance may be replaced at any time).
pub trait Plugin: Default + 'static {
    /// The hooks this plugin implements.
    const HOOKS: &'static [Hook];

    /// The properties the plugin reads, when it reads only a few: slog then hands it just those,
    /// which makes a call several times cheaper on a typical web event. `None` (the default):
    /// all of them. Ignored for plugins with a `Transform` hook, which always see everything.
    const PROPS: Option<&'static [&'static str]> = None;

    /// Reads the plugin's settings; an error refuses them and slog keeps its previous chain.
    fn init(&mut self, settings: &Settings) -> Result<(), String> {
        settings.only(&[])
    }

    /// Accepts the event or refuses it.
    fn validate(&self, _event: &Event) -> Result<(), Reject> {
        Ok(())
    }

    /// Edits the event's properties through [`Event::props_mut`].
    fn transform(&self, _event: &mut Event) {}

    /// Identities to add to the event (key, value); slog adds those whose key it lacks.
    fn identify(&self, _event: &Event) -> Vec<(String, String)> {
        Vec::new()
    }

    /// Virtual events derived from this event.
    fn derive(&self, _event: &Event) -> Vec<VirtualEvent> {
        Vec::new()
    }

    /// The next step of the user's session; `state` is what the previous step returned, `None`
    /// when the user has no open session.
    fn session(&self, _event: &Event, _state: Option<&str>) -> SessionStep {
        SessionStep::default()
    }

    /// The events that close an expired session.
    fn session_close(&self, _state: &str) -> Vec<VirtualEvent> {
        Vec::new()
    }
}

/// Log lines and counters, through slog (a plugin has no other output).
pub mod log {
    /// Writes an info line to slog's log, tagged with the plugin's name.
    pub fn info(message: &str) {
        write(Level::Info, message)
    }

    pub fn warn(message: &str) {
        write(Level::Warn, message)
    }

    pub fn debug(message: &str) {
        write(Level::Debug, message)
    }

    pub fn error(message: &str) {
        write(Level::Error, message)
    }

    /// Adds `delta` to `slog_plugin_counter_total{plugin, name}`.
    pub fn count(name: &str, delta: u64) {
        #[cfg(target_arch = "wasm32")]
        crate::rt::bindings::slog::plugin::host::count(name, delta);
        // Outside WebAssembly (a plugin's unit tests) there is no slog to count for.
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (name, delta);
    }

    #[derive(Clone, Copy)]
    enum Level {
        Debug,
        Info,
        Warn,
        Error,
    }

    fn write(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        {
            use crate::rt::bindings::slog::plugin::host::{log, Level as L};
            let level = match level {
                Level::Debug => L::Debug,
                Level::Info => L::Info,
                Level::Warn => L::Warn,
                Level::Error => L::Error,
            };
            log(level, message);
        }
        // In a plugin's unit tests, the log goes to stderr.
        #[cfg(not(target_arch = "wasm32"))]
        {
            let tag = match level {
                Level::Debug => "debug",
                Level::Info => "info",
                Level::Warn => "warn",
                Level::Error => "error",
            };
            eprintln!("[{tag}] {message}");
        }
    }
}

/// Exports a [`Plugin`] type as the component's hooks: `slog_plugin_sdk::export!(MyPlugin);`.
///
/// Expands to nothing outside WebAssembly, so a plugin crate also builds (and unit-tests) on the
/// host.
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct SlogPluginExport;
            impl $crate::rt::Guest for SlogPluginExport {
                fn init(settings: String) -> Result<$crate::rt::PluginInfo, String> {
                    $crate::rt::init::<$plugin>(&settings, env!("CARGO_PKG_VERSION"))
                }
                fn validate(event: $crate::rt::WitEvent) -> Result<(), $crate::rt::Rejection> {
                    $crate::rt::validate::<$plugin>(event)
                }
                fn transform(event: $crate::rt::WitEvent) -> Option<String> {
                    $crate::rt::transform::<$plugin>(event)
                }
                fn identify(event: $crate::rt::WitEvent) -> Vec<(String, String)> {
                    $crate::rt::identify::<$plugin>(event)
                }
                fn derive(event: $crate::rt::WitEvent) -> Vec<$crate::rt::WitVirtualEvent> {
                    $crate::rt::derive::<$plugin>(event)
                }
                fn session(
                    event: $crate::rt::WitEvent,
                    state: Option<String>,
                ) -> $crate::rt::WitSessionStep {
                    $crate::rt::session::<$plugin>(event, state)
                }
                fn session_close(state: String) -> Vec<$crate::rt::WitVirtualEvent> {
                    $crate::rt::session_close::<$plugin>(&state)
                }
            }
            $crate::rt::bindings::export_bindings!(SlogPluginExport with_types_in $crate::rt::bindings);
        };
    };
}
