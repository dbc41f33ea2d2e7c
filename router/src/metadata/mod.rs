//! The metadata registry (tracking plan §3.2, §3.3): which events and properties exist, with which types.
//!
//! Source of truth in SQL (`store`: MySQL in production, SQLite embedded), cached in Redis
//! (`redis_cache`), held in memory as an immutable [`snapshot::Snapshot`] that validation reads
//! (`registry`). Names follow the rule in `names`; rows and value types are in `model`.
pub mod config;
pub mod model;
pub mod names;
pub mod redis_cache;
pub mod registry;
pub mod snapshot;
pub mod store;

pub use config::{Policy, RegistryConfig};
pub use model::{EventDef, PropertyDef, PropertyKind, ValueType};
pub use registry::{AutoRegistration, Registry};
pub use snapshot::Snapshot;
