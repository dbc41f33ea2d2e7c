//! The event endpoints: the admission guard in front of them (`admit`), body decoding and limits (`decode`), the handler that runs a request
//! through the pipeline (`handler`), and the answers (`response`); the Sensors SDKs' endpoints
//! (`sensors`, their description in `sensors_described`). The app is assembled in
//! `http.rs`; the shared state is `state.rs`.
pub mod admit;
pub mod body;
pub mod decode;
pub mod described;
pub mod handler;
pub mod response;
pub mod sensors;
pub mod sensors_described;
