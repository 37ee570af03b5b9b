//! Terraform-generic plugin runtime: handshake, AutoMTLS, gRPC server, the cty value codec,
//! schema and diagnostics types, and the [`Provider`]/[`Resource`] traits. Knows nothing of DLT
//! or AWS.
pub mod codec;
pub mod diag;
pub mod handshake;
pub mod log;
pub mod planning;
pub mod proto;
pub mod resource;
pub mod schema;
pub mod server;
pub mod tls;
pub mod value;
pub mod wire;

pub use diag::{AttrPath, Diagnostic, Diagnostics, Severity};
pub use handshake::{serve, serve_debug};
pub use resource::{Ctx, DataSource, Outcome, Plan, Provider, Resource};
pub use schema::{timeouts_block, AttrKind, Attribute, Block, NestedBlock, Nesting, Schema};
pub use value::{Number, Type, Value};
