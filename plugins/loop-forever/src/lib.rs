//! Test only: `validate` never returns. slog's epoch deadline must stop it.
use slog_plugin_sdk::{export, Event, Hook, Plugin, Reject};

#[derive(Default)]
pub struct LoopForever;

impl Plugin for LoopForever {
    const HOOKS: &'static [Hook] = &[Hook::Validate];

    fn validate(&self, event: &Event) -> Result<(), Reject> {
        let mut n = event.time as u64;
        loop {
            // black_box: the optimiser may not prove the loop endless and remove it.
            n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

export!(LoopForever);
