pub mod backend;
pub mod harness;
pub mod http;
pub mod mmdb;
pub mod persons;
pub mod plugins;
pub mod sensors;
