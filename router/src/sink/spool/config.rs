//! `[sink.spool]`: the disk spool in front of the Kafka sink.
use crate::invalid_config::InvalidConfig;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Spool the events the brokers cannot take in time, instead of answering 503. Kafka only:
    /// the file sink is its own disk.
    pub enabled: bool,
    /// How long a request waits for the brokers before its events go to the spool.
    pub after_ms: u64,
    /// Where the segment files live; relative paths are from the working directory.
    pub dir: PathBuf,
    /// Most bytes of records waiting in the spool; past it requests get 503 again.
    pub max_bytes: u64,
    /// Size at which a segment file is closed and a new one started.
    pub segment_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            enabled: true,
            after_ms: 1000,
            dir: PathBuf::from("data/spool"),
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
        }
    }
}

impl SpoolConfig {
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        if self.enabled && (self.after_ms == 0 || self.max_bytes == 0 || self.segment_bytes == 0) {
            return Err(InvalidConfig::new(
                "sink.spool.after_ms, max_bytes and segment_bytes must be above 0",
            ));
        }
        Ok(())
    }
}
