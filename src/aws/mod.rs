//! AWS operations the provider needs, as domain functions over SDK clients (no Terraform types).
//!
//! Clients are built lazily from provider settings ([`AwsClients`]); every operation takes the
//! SDK client it needs so tests can pass mocked or emulator-bound clients.
pub mod admin_password;
pub mod cloudformation;
pub mod cloudfront;
pub mod cognito;
pub mod cognito_auth;
pub mod config;
pub mod error;
pub mod s3;
pub mod secret;
pub mod srp;
pub mod ssm;

#[cfg(test)]
mod tests;

pub use config::{AssumeRole, AwsClients, AwsConfigError, AwsSettings, Clients, Endpoints};
pub use error::ErrorParts;
pub use secret::Secret;
