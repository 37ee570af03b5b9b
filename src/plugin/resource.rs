//! The traits a provider implements: [`Provider`], [`Resource`] and [`DataSource`].
//!
//! The plugin server (`server.rs`) decodes wire values against these schemas, runs the generic
//! planning of `planning.rs` and calls these hooks; implementations see only [`Value`]s and
//! return [`Diagnostics`]. Every hook gets a [`Ctx`] whose `stop` token fires on `StopProvider`
//! (Ctrl-C in Terraform), so long waits must select on it.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::diag::{AttrPath, Diagnostics};
use super::schema::Schema;
use super::value::Value;

/// Per-request context.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    /// Cancelled when Terraform calls `StopProvider`.
    pub stop: CancellationToken,
}

/// What a create, update or read hands back.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The new state; `None` means the object does not exist (create failed before it existed,
    /// or read found it gone). Returning `Some` together with errors on create taints it.
    pub state: Option<Value>,
    /// Opaque provider-private bytes stored beside the state.
    pub private: Vec<u8>,
    pub diagnostics: Diagnostics,
}

impl Outcome {
    pub fn ok(state: Value) -> Outcome {
        Outcome {
            state: Some(state),
            ..Outcome::default()
        }
    }
    pub fn gone() -> Outcome {
        Outcome::default()
    }
    pub fn failed(diagnostics: Diagnostics) -> Outcome {
        Outcome {
            state: None,
            private: Vec::new(),
            diagnostics,
        }
    }
    pub fn with_diagnostics(mut self, d: Diagnostics) -> Outcome {
        self.diagnostics.extend(d);
        self
    }
}

/// A plan under construction, after the generic steps (defaults, unknown marking, modifiers).
/// The resource may adjust `planned` and `requires_replace` in [`Resource::modify_plan`].
#[derive(Debug)]
pub struct Plan {
    /// Prior state; `Null` on create.
    pub prior: Value,
    /// The configuration (may contain unknowns).
    pub config: Value,
    pub planned: Value,
    pub requires_replace: Vec<AttrPath>,
    pub private: Vec<u8>,
}

impl Plan {
    pub fn is_create(&self) -> bool {
        self.prior.is_null()
    }
}

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The provider's type name, e.g. `dlt`.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Offline checks of the provider configuration (may contain unknowns).
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Stores the configuration for later CRUD calls. Must not call any remote API.
    async fn configure(&self, ctx: &Ctx, config: &Value) -> Diagnostics;
    fn resources(&self) -> Vec<Arc<dyn Resource>>;
    fn data_sources(&self) -> Vec<Arc<dyn DataSource>>;
}

#[async_trait]
pub trait Resource: Send + Sync {
    /// Full type name, e.g. `dlt_stack`.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Offline checks; skip values that are unknown.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Resource-specific planning after the generic steps. May call remote APIs only when the
    /// resource already exists (never for a create).
    async fn modify_plan(&self, _ctx: &Ctx, _plan: &mut Plan) -> Diagnostics {
        Diagnostics::new()
    }
    async fn create(&self, ctx: &Ctx, planned: &Value, config: &Value) -> Outcome;
    async fn read(&self, ctx: &Ctx, state: &Value, private: &[u8]) -> Outcome;
    async fn update(&self, ctx: &Ctx, prior: &Value, planned: &Value, config: &Value, private: &[u8]) -> Outcome;
    async fn delete(&self, ctx: &Ctx, prior: &Value, private: &[u8]) -> Diagnostics;
    /// `terraform import`: a state holding at least the identity, completed by a following read.
    async fn import(&self, _ctx: &Ctx, _id: &str) -> Outcome {
        let mut d = Diagnostics::new();
        d.error(
            "Import not supported",
            format!("{} does not support `terraform import`.", self.type_name()),
        );
        Outcome::failed(d)
    }
    /// Rewrites a state stored under an older schema version (JSON form) into the current shape.
    fn upgrade_state(&self, _from_version: i64, state: serde_json::Value) -> Result<serde_json::Value, Diagnostics> {
        Ok(state)
    }
}

#[async_trait]
pub trait DataSource: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Reads with a wholly known config; returns the full object.
    async fn read(&self, ctx: &Ctx, config: &Value) -> Outcome;
}
