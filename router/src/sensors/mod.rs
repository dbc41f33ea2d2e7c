//! The Sensors Analytics wire format: what the Sensors SDKs (sa-sdk-javascript, Android, iOS,
//! mini-programs, sa-sdk-node, sensorsanalyticssdk, Java, ...) post to `/sa` and `/sa.gif`, and
//! its mapping onto slog's model, so that their events take the same way as native ones.
//!
//! `form` reads the request's fields, `payload` decodes their data into messages, `translate`
//! maps one message to an [`Event`](crate::event::Event) (with `properties` and `identities`),
//! and `config` is the `[sensors]` section. The HTTP side is `ingest::sensors`.
pub mod config;
pub mod form;
pub mod identities;
pub mod payload;
pub mod properties;
pub mod translate;

pub use config::SensorsConfig;
