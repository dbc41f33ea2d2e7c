//! The event endpoint: body decoding and limits (`decode`), the handler that runs a request
//! through the pipeline (`handler`), and the answers (`response`). The app is assembled in
//! `http.rs`; the shared state is `state.rs`.
pub mod decode;
pub mod described;
pub mod handler;
pub mod response;
