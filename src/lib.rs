//! terraform-provider-dlt as a library: the binary in `src/main.rs` is a thin shell over it,
//! and the integration tests reuse the domain (engine, DLT model) directly.
pub mod aws;
pub mod cli;
pub mod dlt;
pub mod duration;
pub mod engine;
pub mod plugin;
pub mod provider;
pub mod resources;
