//! What the resources get from the configured provider. The resources own this type (the
//! provider only fills it in `ConfigureProvider`), so `resources/` never imports the provider.

use std::sync::{Arc, OnceLock};

use crate::aws::{AwsClients, Clients};
use crate::plugin::{Diagnostic, Diagnostics};

/// Set once by `ConfigureProvider`.
#[derive(Debug)]
pub struct ProviderData {
    /// AWS clients, built on first use.
    pub aws: AwsClients,
}

/// Shared between the provider and every resource it serves.
pub type SharedData = Arc<OnceLock<ProviderData>>;

/// Returns the configured provider data, or a diagnostic when Terraform did not configure it.
pub fn configured(data: &SharedData) -> Result<&ProviderData, Diagnostics> {
    data.get().ok_or_else(|| {
        Diagnostic::error(
            "Provider not configured",
            "The dlt provider was used before ConfigureProvider was called.",
        )
        .into()
    })
}

/// The AWS clients (built on the first call), or an error diagnostic.
pub async fn aws_clients(data: &SharedData) -> Result<&Clients, Diagnostics> {
    configured(data)?
        .aws
        .get()
        .await
        .map_err(|e| Diagnostic::error("Cannot configure AWS", e.to_string()).into())
}
