//! The glue between the WIT bindings and [`Plugin`](crate::Plugin) (WebAssembly only).
//!
//! `export!` implements the generated `Guest` trait by calling these functions. The plugin value
//! lives in a thread-local: a component instance is single-threaded, and slog calls `init` before
//! any hook.
use crate::{Event, Hook, Plugin, Settings, VirtualEvent};
use std::any::Any;
use std::cell::RefCell;

pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "slog_plugin_sdk::rt::bindings",
    });
}

pub use bindings::exports::slog::plugin::hooks::Guest;
pub use bindings::slog::plugin::types::{
    Event as WitEvent, HookSet, PluginInfo, Rejection, SessionStep as WitSessionStep,
    VirtualEvent as WitVirtualEvent,
};

thread_local! {
    static PLUGIN: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

fn with<P: Plugin, T>(f: impl FnOnce(&P) -> T) -> T {
    PLUGIN.with(|cell| {
        let guard = cell.borrow();
        let plugin = guard
            .as_ref()
            .and_then(|p| p.downcast_ref::<P>())
            .expect("slog calls init before any hook");
        f(plugin)
    })
}

fn event(e: WitEvent) -> Event {
    Event::from_parts(
        e.event_id,
        e.project,
        e.stype,
        e.eid,
        e.time,
        e.props,
        e.identities,
    )
}

fn virtual_event(v: VirtualEvent) -> WitVirtualEvent {
    WitVirtualEvent {
        eid: v.eid,
        props: serde_json::Value::Object(v.props).to_string(),
        time: v.time,
    }
}

pub fn init<P: Plugin>(settings: &str, version: &str) -> Result<PluginInfo, String> {
    // A panic is a trap either way; its message goes to slog's log instead of a stderr the
    // plugin does not have.
    std::panic::set_hook(Box::new(|info| {
        bindings::slog::plugin::host::log(
            bindings::slog::plugin::host::Level::Error,
            &info.to_string(),
        )
    }));
    let settings = Settings::parse(settings)?;
    let mut plugin = P::default();
    plugin.init(&settings)?;
    PLUGIN.with(|cell| *cell.borrow_mut() = Some(Box::new(plugin)));
    let mut hooks = HookSet::empty();
    for hook in P::HOOKS {
        hooks |= match hook {
            Hook::Validate => HookSet::VALIDATE,
            Hook::Transform => HookSet::TRANSFORM,
            Hook::Identify => HookSet::IDENTIFY,
            Hook::Derive => HookSet::DERIVE,
            Hook::Session => HookSet::SESSION,
        };
    }
    Ok(PluginInfo {
        hooks,
        version: version.to_owned(),
        props: P::PROPS.map(|keys| keys.iter().map(|k| k.to_string()).collect()),
    })
}

pub fn validate<P: Plugin>(e: WitEvent) -> Result<(), Rejection> {
    let e = event(e);
    with::<P, _>(|p| p.validate(&e)).map_err(|r| Rejection {
        field: r.field,
        message: r.message,
    })
}

pub fn transform<P: Plugin>(e: WitEvent) -> Option<String> {
    let mut e = event(e);
    with::<P, _>(|p| p.transform(&mut e));
    e.changed_props()
}

pub fn identify<P: Plugin>(e: WitEvent) -> Vec<(String, String)> {
    let e = event(e);
    with::<P, _>(|p| p.identify(&e))
}

pub fn derive<P: Plugin>(e: WitEvent) -> Vec<WitVirtualEvent> {
    let e = event(e);
    with::<P, _>(|p| p.derive(&e))
        .into_iter()
        .map(virtual_event)
        .collect()
}

pub fn session<P: Plugin>(e: WitEvent, state: Option<String>) -> WitSessionStep {
    let e = event(e);
    let step = with::<P, _>(|p| p.session(&e, state.as_deref()));
    WitSessionStep {
        state: step.state,
        expires_at: step.expires_at,
        set_props: serde_json::Value::Object(step.set_props).to_string(),
        emit: step.emit.into_iter().map(virtual_event).collect(),
    }
}

pub fn session_close<P: Plugin>(state: &str) -> Vec<WitVirtualEvent> {
    with::<P, _>(|p| p.session_close(state))
        .into_iter()
        .map(virtual_event)
        .collect()
}
