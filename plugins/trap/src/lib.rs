//! Test only: `validate` traps (a Rust panic is a WebAssembly trap). Events named in the
//! `spare` setting pass, so a test can show the plugin still runs for them after a trap.
use slog_plugin_sdk::{export, Event, Hook, Plugin, Reject, Settings};

#[derive(Default)]
pub struct Trap {
    spare: Vec<String>,
}

impl Plugin for Trap {
    const HOOKS: &'static [Hook] = &[Hook::Validate];

    fn init(&mut self, settings: &Settings) -> Result<(), String> {
        settings.only(&["spare"])?;
        self.spare = settings.strings_or("spare", &[])?;
        Ok(())
    }

    fn validate(&self, event: &Event) -> Result<(), Reject> {
        if event
            .eid()
            .is_some_and(|e| self.spare.iter().any(|s| s == e))
        {
            return Ok(());
        }
        panic!("trap plugin: refusing to return for {:?}", event.eid());
    }
}

export!(Trap);
