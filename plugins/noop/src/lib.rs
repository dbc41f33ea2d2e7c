//! Does nothing in every hook it declares: the benchmark's measure of a plugin call's own cost.
use slog_plugin_sdk::{export, Hook, Plugin};

#[derive(Default)]
pub struct Noop;

impl Plugin for Noop {
    const HOOKS: &'static [Hook] = &[Hook::Validate];
    const PROPS: Option<&'static [&'static str]> = Some(&[]);
}

export!(Noop);
