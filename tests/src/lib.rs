pub mod harness;
pub mod mmdb;
