//! The error a config section's own check returns: the setting that is wrong and the rule it breaks.
//! Each subsystem checks its own section; `config` only gathers the answers.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

impl InvalidConfig {
    pub fn new(message: impl Into<String>) -> Self {
        InvalidConfig(message.into())
    }
}
