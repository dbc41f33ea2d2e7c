//! Test only: `validate` allocates without bound. slog's memory cap must stop it.
use slog_plugin_sdk::{export, Event, Hook, Plugin, Reject};

#[derive(Default)]
pub struct MemoryHog;

impl Plugin for MemoryHog {
    const HOOKS: &'static [Hook] = &[Hook::Validate];

    fn validate(&self, _event: &Event) -> Result<(), Reject> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            // Written, not just reserved, so every page is really used.
            hoard.push(vec![1u8; 1 << 20]);
            std::hint::black_box(&hoard);
        }
    }
}

export!(MemoryHog);
