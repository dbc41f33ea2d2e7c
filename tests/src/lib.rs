pub mod harness;
pub mod mmdb;
pub mod plugins;
