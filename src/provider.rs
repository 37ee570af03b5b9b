//! The `dlt` provider: its configuration schema and the shared data resources reach it through.
//!
//! `ConfigureProvider` only records settings; AWS clients are built lazily by the first CRUD
//! call that needs them, so validate, plan and configure never touch the network.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use crate::plugin::{Attribute, Block, Ctx, DataSource, Diagnostics, Provider, Resource, Schema, Value};

/// What resources get from the configured provider.
#[derive(Debug)]
pub struct ProviderData {
    pub config: Value,
}

/// Shared, set once by `ConfigureProvider`.
pub type SharedData = Arc<OnceLock<ProviderData>>;

/// Returns the configured provider data, or a diagnostic when Terraform did not configure it.
pub fn configured(data: &SharedData) -> Result<&ProviderData, Diagnostics> {
    data.get().ok_or_else(|| {
        let mut d = Diagnostics::new();
        d.error("Provider not configured", "The dlt provider was used before ConfigureProvider was called.");
        d
    })
}

#[derive(Default)]
pub struct DltProvider {
    data: SharedData,
}

impl DltProvider {
    pub fn new() -> DltProvider {
        DltProvider::default()
    }
}

#[async_trait]
impl Provider for DltProvider {
    fn type_name(&self) -> &'static str {
        "dlt"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new(vec![Attribute::string("region").optional()]))
    }

    async fn configure(&self, _ctx: &Ctx, config: &Value) -> Diagnostics {
        let _ = self.data.set(ProviderData { config: config.clone() });
        Diagnostics::new()
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        Vec::new()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        Vec::new()
    }
}
