//! The tfplugin6 `Provider` gRPC service, mapped onto the [`Provider`]/[`Resource`]/
//! [`DataSource`] traits, plus go-plugin's `GRPCController`.
//!
//! Every handler runs in its own task so a panic in provider code becomes an error diagnostic
//! instead of killing the connection, and every problem reaches Terraform as a diagnostic, never
//! as a gRPC status (Terraform prints any status as an opaque "Plugin error").

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use super::codec;
use super::diag::{AttrPath, Diagnostic, Diagnostics};
use super::planning;
use super::proto::plugin as ctl;
use super::proto::tfplugin6 as pb;
use super::resource::{Ctx, DataSource, Provider, Resource};
use super::schema::{Block, Schema};
use super::value::{Type, Value};
use super::wire::{
    decode, diagnostics_to_proto, encode, null_value, path_to_proto, schema_to_proto, state_error, WithDiagnostics,
};

/// gRPC message size limit, as terraform-plugin-go serves (tonic's default is only 4 MiB).
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024 * 1024;

type Res<T> = Result<Response<T>, Status>;

/// A schema with its cty type, built once per process. Every RPC decodes and encodes against
/// the type, and deriving it walks and allocates the whole schema: for a large schema that cost
/// more per request than decoding the request itself.
struct Typed {
    schema: Schema,
    ty: Type,
}

impl Typed {
    fn new(schema: Schema) -> Typed {
        let ty = schema.value_type();
        Typed { schema, ty }
    }
}

impl std::ops::Deref for Typed {
    type Target = Schema;
    fn deref(&self) -> &Schema {
        &self.schema
    }
}

/// Resources and data sources with their schemas, built on first use (not before the
/// handshake line, which is on Terraform's critical path).
struct Catalog {
    provider_schema: Typed,
    resources: HashMap<&'static str, (Arc<dyn Resource>, Arc<Typed>)>,
    data_sources: HashMap<&'static str, (Arc<dyn DataSource>, Arc<Typed>)>,
}

struct Inner {
    provider: Arc<dyn Provider>,
    catalog: OnceLock<Catalog>,
    stop: CancellationToken,
    /// Every RPC handler runs as a task of this tracker, so a shutdown can wait for them.
    in_flight: TaskTracker,
}

impl Inner {
    fn catalog(&self) -> &Catalog {
        self.catalog.get_or_init(|| Catalog {
            provider_schema: Typed::new(self.provider.schema()),
            resources: self
                .provider
                .resources()
                .into_iter()
                .map(|r| (r.type_name(), (r.clone(), Arc::new(Typed::new(r.schema())))))
                .collect(),
            data_sources: self
                .provider
                .data_sources()
                .into_iter()
                .map(|d| (d.type_name(), (d.clone(), Arc::new(Typed::new(d.schema())))))
                .collect(),
        })
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            stop: self.stop.clone(),
        }
    }

    fn resource(&self, name: &str) -> Result<(Arc<dyn Resource>, Arc<Typed>), Diagnostics> {
        self.catalog()
            .resources
            .get(name)
            .cloned()
            .ok_or_else(|| unknown_type("resource", name))
    }

    fn data_source(&self, name: &str) -> Result<(Arc<dyn DataSource>, Arc<Typed>), Diagnostics> {
        self.catalog()
            .data_sources
            .get(name)
            .cloned()
            .ok_or_else(|| unknown_type("data source", name))
    }
}

fn unknown_type(kind: &str, name: &str) -> Diagnostics {
    Diagnostic::error(
        format!("Unknown {kind} type"),
        format!("This provider has no {kind} type {name:?}; check the provider version."),
    )
    .into()
}

/// The tfplugin6 `Provider` service. Cheap to clone.
#[derive(Clone)]
pub struct ProviderService {
    inner: Arc<Inner>,
}

impl ProviderService {
    /// `stop` is cancelled by `StopProvider`; the same token reaches every hook as `Ctx::stop`.
    pub fn new(provider: Arc<dyn Provider>, stop: CancellationToken) -> ProviderService {
        ProviderService {
            inner: Arc::new(Inner {
                provider,
                catalog: OnceLock::new(),
                stop,
                in_flight: TaskTracker::new(),
            }),
        }
    }

    /// The handlers running now. A SIGTERM handler fires `stop`, then waits on this (closed)
    /// tracker so that an apply can send its cancel and answer Terraform before the process exits.
    pub fn in_flight(&self) -> TaskTracker {
        self.inner.in_flight.clone()
    }

    /// The tonic server for this service, with the 256 MiB message limits.
    pub fn into_server(self) -> pb::provider_server::ProviderServer<ProviderService> {
        pb::provider_server::ProviderServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }
}

// ---------------------------------------------------------------------------------------------
// Service helpers

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: true,
        get_provider_schema_optional: true,
        ..Default::default()
    }
}

/// Errors for write-only attributes set in configuration when Terraform cannot handle them.
fn check_write_only_allowed(block: &Block, config: &Value, caps: Option<&pb::ClientCapabilities>) -> Diagnostics {
    let mut d = Diagnostics::new();
    if caps.is_some_and(|c| c.write_only_attributes_allowed) {
        return d;
    }
    for a in &block.attributes {
        if a.write_only && !config.get(&a.name).is_null() {
            d.push(
                Diagnostic::error(
                    "Write-only attribute not supported",
                    format!("`{}` is write-only, which needs Terraform 1.11 or later.", a.name),
                )
                .at(AttrPath::root(&a.name)),
            );
        }
    }
    d
}

/// Runs `fut` in its own task: a panic becomes an error diagnostic on an otherwise default
/// response instead of tearing down the connection.
async fn guarded<T, F>(in_flight: &TaskTracker, rpc: &'static str, fut: F) -> Res<T>
where
    T: WithDiagnostics + Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    log::debug!("tfplugin6 {rpc}");
    match in_flight.spawn(fut).await {
        Ok(resp) => Ok(Response::new(resp)),
        Err(e) => {
            let msg = if e.is_panic() {
                let p = e.into_panic();
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string())
            } else {
                e.to_string()
            };
            log::error!("{rpc} panicked: {msg}");
            let mut resp = T::default();
            resp.diagnostics_mut().extend(diagnostics_to_proto(
                &Diagnostic::error(
                    "Provider bug: internal error",
                    format!("The provider crashed while handling {rpc}: {msg}. This is a bug in the provider."),
                )
                .into(),
            ));
            Ok(Response::new(resp))
        }
    }
}

/// Unwraps a `Result<_, Diagnostics>` inside a handler; on an error, returns the handler's
/// response with the error's diagnostics added.
macro_rules! ok_or_respond {
    ($e:expr, $resp:ident) => {
        match $e {
            Ok(v) => v,
            Err(d) => {
                $resp.diagnostics.extend(diagnostics_to_proto(&d));
                return $resp;
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The service

#[tonic::async_trait]
impl pb::provider_server::Provider for ProviderService {
    async fn get_metadata(&self, _req: Request<pb::get_metadata::Request>) -> Res<pb::get_metadata::Response> {
        let inner = self.inner.clone();
        guarded(&self.inner.in_flight, "GetMetadata", async move {
            let cat = inner.catalog();
            pb::get_metadata::Response {
                server_capabilities: Some(capabilities()),
                resources: cat
                    .resources
                    .keys()
                    .map(|n| pb::get_metadata::ResourceMetadata {
                        type_name: n.to_string(),
                    })
                    .collect(),
                data_sources: cat
                    .data_sources
                    .keys()
                    .map(|n| pb::get_metadata::DataSourceMetadata {
                        type_name: n.to_string(),
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .await
    }

    async fn get_provider_schema(
        &self,
        _req: Request<pb::get_provider_schema::Request>,
    ) -> Res<pb::get_provider_schema::Response> {
        let inner = self.inner.clone();
        guarded(&self.inner.in_flight, "GetProviderSchema", async move {
            let cat = inner.catalog();
            let resp = pb::get_provider_schema::Response {
                provider: Some(schema_to_proto(&cat.provider_schema)),
                resource_schemas: cat
                    .resources
                    .iter()
                    .map(|(n, (_, s))| (n.to_string(), schema_to_proto(s)))
                    .collect(),
                data_source_schemas: cat
                    .data_sources
                    .iter()
                    .map(|(n, (_, s))| (n.to_string(), schema_to_proto(s)))
                    .collect(),
                server_capabilities: Some(capabilities()),
                ..Default::default()
            };
            // Terraform decodes this at every launch that asks for it: its size is launch cost.
            if log::log_enabled!(log::Level::Debug) {
                log::debug!("GetProviderSchema: {} bytes", prost::Message::encoded_len(&resp));
            }
            resp
        })
        .await
    }

    async fn get_resource_identity_schemas(
        &self,
        _req: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Res<pb::get_resource_identity_schemas::Response> {
        Ok(Response::new(Default::default()))
    }

    async fn get_functions(&self, _req: Request<pb::get_functions::Request>) -> Res<pb::get_functions::Response> {
        Ok(Response::new(Default::default()))
    }

    async fn validate_provider_config(
        &self,
        req: Request<pb::validate_provider_config::Request>,
    ) -> Res<pb::validate_provider_config::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ValidateProviderConfig", async move {
            let mut resp = pb::validate_provider_config::Response::default();
            let ty = &inner.catalog().provider_schema.ty;
            let config = ok_or_respond!(decode(req.config.as_ref(), ty, "provider configuration"), resp);
            resp.diagnostics = diagnostics_to_proto(&inner.provider.validate(&config));
            resp
        })
        .await
    }

    async fn validate_resource_config(
        &self,
        req: Request<pb::validate_resource_config::Request>,
    ) -> Res<pb::validate_resource_config::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ValidateResourceConfig", async move {
            let mut resp = pb::validate_resource_config::Response::default();
            let (res, schema) = ok_or_respond!(inner.resource(&req.type_name), resp);
            let config = ok_or_respond!(decode(req.config.as_ref(), &schema.ty, "resource configuration"), resp);
            let mut d = check_write_only_allowed(&schema.block, &config, req.client_capabilities.as_ref());
            d.extend(res.validate(&config));
            resp.diagnostics = diagnostics_to_proto(&d);
            resp
        })
        .await
    }

    async fn validate_data_resource_config(
        &self,
        req: Request<pb::validate_data_resource_config::Request>,
    ) -> Res<pb::validate_data_resource_config::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ValidateDataResourceConfig", async move {
            let mut resp = pb::validate_data_resource_config::Response::default();
            let (ds, schema) = ok_or_respond!(inner.data_source(&req.type_name), resp);
            let config = ok_or_respond!(
                decode(req.config.as_ref(), &schema.ty, "data source configuration"),
                resp
            );
            resp.diagnostics = diagnostics_to_proto(&ds.validate(&config));
            resp
        })
        .await
    }

    async fn upgrade_resource_state(
        &self,
        req: Request<pb::upgrade_resource_state::Request>,
    ) -> Res<pb::upgrade_resource_state::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "UpgradeResourceState", async move {
            let mut resp = pb::upgrade_resource_state::Response::default();
            let (res, schema) = ok_or_respond!(inner.resource(&req.type_name), resp);
            let ty = &schema.ty;
            let raw = req.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                if !raw.flatmap.is_empty() {
                    let d = Diagnostic::error(
                        "Unsupported state format",
                        "This state uses the legacy flatmap format, which this provider never wrote.",
                    );
                    resp.diagnostics = diagnostics_to_proto(&d.into());
                    return resp;
                }
                resp.upgraded_state = Some(null_value());
                return resp;
            }
            let value = if req.version == schema.version {
                ok_or_respond!(codec::decode_json(&raw.json, ty).map_err(|e| state_error(&e)), resp)
            } else if req.version < schema.version {
                let json: serde_json::Value = ok_or_respond!(
                    serde_json::from_slice(&raw.json).map_err(|e| state_error(&e.to_string().into())),
                    resp
                );
                let upgraded = ok_or_respond!(res.upgrade_state(req.version, json), resp);
                ok_or_respond!(codec::json_to_value(&upgraded, ty).map_err(|e| state_error(&e)), resp)
            } else {
                let d = Diagnostic::error(
                    "State from a newer provider",
                    format!(
                        "The state of this {} was written with schema version {}, newer than this provider's {}. \
                         Upgrade the provider.",
                        req.type_name, req.version, schema.version
                    ),
                );
                resp.diagnostics = diagnostics_to_proto(&d.into());
                return resp;
            };
            resp.upgraded_state = Some(ok_or_respond!(encode(&value, ty, "upgraded state"), resp));
            resp
        })
        .await
    }

    async fn upgrade_resource_identity(
        &self,
        _req: Request<pb::upgrade_resource_identity::Request>,
    ) -> Res<pb::upgrade_resource_identity::Response> {
        Ok(Response::new(pb::upgrade_resource_identity::Response {
            upgraded_identity: None,
            diagnostics: diagnostics_to_proto(
                &Diagnostic::error(
                    "Resource identity not supported",
                    "This provider defines no resource identities.",
                )
                .into(),
            ),
        }))
    }

    async fn configure_provider(
        &self,
        req: Request<pb::configure_provider::Request>,
    ) -> Res<pb::configure_provider::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ConfigureProvider", async move {
            let mut resp = pb::configure_provider::Response::default();
            let ty = &inner.catalog().provider_schema.ty;
            let config = ok_or_respond!(decode(req.config.as_ref(), ty, "provider configuration"), resp);
            let ctx = inner.ctx();
            resp.diagnostics = diagnostics_to_proto(&inner.provider.configure(&ctx, &config).await);
            resp
        })
        .await
    }

    async fn read_resource(&self, req: Request<pb::read_resource::Request>) -> Res<pb::read_resource::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ReadResource", async move {
            let mut resp = pb::read_resource::Response {
                private: req.private.clone(),
                ..Default::default()
            };
            let (res, schema) = ok_or_respond!(inner.resource(&req.type_name), resp);
            let ty = &schema.ty;
            let state = ok_or_respond!(decode(req.current_state.as_ref(), ty, "current state"), resp);
            if state.is_null() {
                resp.new_state = Some(null_value());
                return resp;
            }
            let out = res.read(&inner.ctx(), &state, &req.private).await;
            let mut diags = out.diagnostics;
            if !out.private.is_empty() {
                resp.private = out.private;
            }
            let new_state = match out.state {
                Some(s) => planning::settle_state(&schema, None, s, &mut diags),
                None => Value::Null,
            };
            resp.diagnostics = diagnostics_to_proto(&diags);
            resp.new_state = Some(ok_or_respond!(encode(&new_state, ty, "new state"), resp));
            resp
        })
        .await
    }

    async fn plan_resource_change(
        &self,
        req: Request<pb::plan_resource_change::Request>,
    ) -> Res<pb::plan_resource_change::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "PlanResourceChange", async move {
            let mut resp = pb::plan_resource_change::Response::default();
            let (res, schema) = ok_or_respond!(inner.resource(&req.type_name), resp);
            let ty = &schema.ty;
            let prior = ok_or_respond!(decode(req.prior_state.as_ref(), ty, "prior state"), resp);
            let proposed = ok_or_respond!(decode(req.proposed_new_state.as_ref(), ty, "proposed new state"), resp);
            let config = ok_or_respond!(decode(req.config.as_ref(), ty, "configuration"), resp);
            let ctx = inner.ctx();
            let (plan, diags) =
                planning::plan_resource(res.as_ref(), &ctx, &schema, prior, proposed, config, req.prior_private).await;
            resp.diagnostics = diagnostics_to_proto(&diags);
            if diags.has_errors() {
                return resp;
            }
            resp.planned_state = Some(ok_or_respond!(encode(&plan.planned, ty, "planned state"), resp));
            resp.requires_replace = plan.requires_replace.iter().map(path_to_proto).collect();
            resp.planned_private = plan.private;
            resp
        })
        .await
    }

    async fn apply_resource_change(
        &self,
        req: Request<pb::apply_resource_change::Request>,
    ) -> Res<pb::apply_resource_change::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ApplyResourceChange", async move {
            let mut resp = pb::apply_resource_change::Response::default();
            let (res, schema) = ok_or_respond!(inner.resource(&req.type_name), resp);
            let ty = &schema.ty;
            let prior = ok_or_respond!(decode(req.prior_state.as_ref(), ty, "prior state"), resp);
            let planned = ok_or_respond!(decode(req.planned_state.as_ref(), ty, "planned state"), resp);
            let config = ok_or_respond!(decode(req.config.as_ref(), ty, "configuration"), resp);
            let ctx = inner.ctx();
            let private = req.planned_private;

            if planned.is_null() {
                let diags = res.delete(&ctx, &prior, &private).await;
                resp.diagnostics = diagnostics_to_proto(&diags);
                resp.new_state = Some(null_value());
                return resp;
            }
            let out = if prior.is_null() {
                res.create(&ctx, &planned, &config).await
            } else {
                res.update(&ctx, &prior, &planned, &config, &private).await
            };
            let mut diags = out.diagnostics;
            resp.private = if out.private.is_empty() { private } else { out.private };
            let new_state = match out.state {
                Some(s) => planning::settle_state(&schema, Some(&planned), s, &mut diags),
                None => {
                    if !diags.has_errors() {
                        diags.push(Diagnostic::error(
                            "Provider bug: no state after apply",
                            "The resource reported success but returned no state. This is a bug in the provider.",
                        ));
                    }
                    Value::Null
                }
            };
            resp.diagnostics = diagnostics_to_proto(&diags);
            resp.new_state = Some(ok_or_respond!(encode(&new_state, ty, "new state"), resp));
            resp
        })
        .await
    }

    async fn import_resource_state(
        &self,
        req: Request<pb::import_resource_state::Request>,
    ) -> Res<pb::import_resource_state::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ImportResourceState", async move {
            let mut resp = pb::import_resource_state::Response::default();
            let (res, schema) = ok_or_respond!(inner.resource(&req.type_name), resp);
            let out = res.import(&inner.ctx(), &req.id).await;
            resp.diagnostics = diagnostics_to_proto(&out.diagnostics);
            if let Some(state) = out.state {
                let state = ok_or_respond!(encode(&state, &schema.ty, "imported state"), resp);
                resp.imported_resources
                    .push(pb::import_resource_state::ImportedResource {
                        type_name: req.type_name.clone(),
                        state: Some(state),
                        private: out.private,
                        identity: None,
                    });
            }
            resp
        })
        .await
    }

    async fn move_resource_state(
        &self,
        _req: Request<pb::move_resource_state::Request>,
    ) -> Res<pb::move_resource_state::Response> {
        Ok(Response::new(pb::move_resource_state::Response {
            diagnostics: diagnostics_to_proto(
                &Diagnostic::error(
                    "Moving resources not supported",
                    "This provider cannot move state between types.",
                )
                .into(),
            ),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        req: Request<pb::read_data_source::Request>,
    ) -> Res<pb::read_data_source::Response> {
        let inner = self.inner.clone();
        let req = req.into_inner();
        guarded(&self.inner.in_flight, "ReadDataSource", async move {
            let mut resp = pb::read_data_source::Response::default();
            let (ds, schema) = ok_or_respond!(inner.data_source(&req.type_name), resp);
            let ty = &schema.ty;
            let config = ok_or_respond!(decode(req.config.as_ref(), ty, "data source configuration"), resp);
            let out = ds.read(&inner.ctx(), &config).await;
            let mut diags = out.diagnostics;
            match out.state {
                Some(s) => {
                    let s = planning::settle_state(&schema, None, s, &mut diags);
                    resp.state = Some(ok_or_respond!(encode(&s, ty, "data source state"), resp));
                }
                None if !diags.has_errors() => diags.push(Diagnostic::error(
                    "Provider bug: data source returned nothing",
                    "The data source reported success but returned no value. This is a bug in the provider.",
                )),
                None => {}
            }
            resp.diagnostics = diagnostics_to_proto(&diags);
            resp
        })
        .await
    }

    async fn call_function(&self, req: Request<pb::call_function::Request>) -> Res<pb::call_function::Response> {
        let name = req.into_inner().name;
        Ok(Response::new(pb::call_function::Response {
            result: None,
            error: Some(pb::FunctionError {
                text: format!("This provider defines no function {name:?}."),
                function_argument: None,
            }),
        }))
    }

    async fn stop_provider(&self, _req: Request<pb::stop_provider::Request>) -> Res<pb::stop_provider::Response> {
        log::info!("StopProvider: cancelling in-flight work");
        self.inner.stop.cancel();
        Ok(Response::new(pb::stop_provider::Response { error: String::new() }))
    }
}

/// go-plugin's controller: `Shutdown` ends the process (after its response is sent).
pub struct Controller {
    shutdown: CancellationToken,
}

impl Controller {
    pub fn new(shutdown: CancellationToken) -> Controller {
        Controller { shutdown }
    }
    pub fn into_server(self) -> ctl::grpc_controller_server::GrpcControllerServer<Controller> {
        ctl::grpc_controller_server::GrpcControllerServer::new(self)
    }
}

#[tonic::async_trait]
impl ctl::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _req: Request<ctl::Empty>) -> Result<Response<ctl::Empty>, Status> {
        log::debug!("GRPCController.Shutdown");
        self.shutdown.cancel();
        Ok(Response::new(ctl::Empty {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::resource::Outcome;
    use crate::plugin::schema::timeouts_block;
    use crate::plugin::schema::Attribute;
    use crate::plugin::value::Type;
    use async_trait::async_trait;
    use pb::provider_server::Provider as _;

    struct TestProvider;
    struct Thing;

    #[async_trait]
    impl Provider for TestProvider {
        fn type_name(&self) -> &'static str {
            "test"
        }
        fn schema(&self) -> Schema {
            Schema::new(Block::new(vec![Attribute::string("region").optional()]))
        }
        async fn configure(&self, _ctx: &Ctx, _config: &Value) -> Diagnostics {
            Diagnostics::new()
        }
        fn resources(&self) -> Vec<Arc<dyn Resource>> {
            vec![Arc::new(Thing)]
        }
        fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
            Vec::new()
        }
    }

    #[async_trait]
    impl Resource for Thing {
        fn type_name(&self) -> &'static str {
            "test_thing"
        }
        fn schema(&self) -> Schema {
            Schema::new(
                Block::new(vec![
                    Attribute::string("id").computed(),
                    Attribute::string("name").required().requires_replace(),
                    Attribute::single("nested", vec![Attribute::number("n").optional()])
                        .optional()
                        .sensitive(),
                ])
                .with_block(timeouts_block(&["create"])),
            )
        }
        async fn create(&self, _ctx: &Ctx, planned: &Value, _config: &Value) -> Outcome {
            if planned.get("name").as_str() == Some("panic") {
                panic!("boom");
            }
            let mut s = planned.clone();
            s.set("id", Value::string("x1"));
            Outcome::ok(s)
        }
        async fn read(&self, _ctx: &Ctx, state: &Value, _private: &[u8]) -> Outcome {
            Outcome::ok(state.clone())
        }
        async fn update(&self, _: &Ctx, _: &Value, planned: &Value, _: &Value, _: &[u8]) -> Outcome {
            Outcome::ok(planned.clone())
        }
        async fn delete(&self, _ctx: &Ctx, _prior: &Value, _private: &[u8]) -> Diagnostics {
            Diagnostics::new()
        }
    }

    fn svc() -> ProviderService {
        ProviderService::new(Arc::new(TestProvider), CancellationToken::new())
    }

    fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
        Some(pb::DynamicValue {
            msgpack: codec::encode_msgpack(v, ty).unwrap(),
            json: vec![],
        })
    }

    #[tokio::test]
    async fn schema_conversion() {
        let r = svc()
            .get_provider_schema(Request::new(Default::default()))
            .await
            .unwrap()
            .into_inner();
        let s = &r.resource_schemas["test_thing"];
        let block = s.block.as_ref().unwrap();
        let nested = block.attributes.iter().find(|a| a.name == "nested").unwrap();
        assert!(nested.r#type.is_empty() && nested.nested_type.is_some() && nested.sensitive);
        let name = block.attributes.iter().find(|a| a.name == "name").unwrap();
        assert_eq!(name.r#type, b"\"string\"");
        assert_eq!(block.block_types[0].type_name, "timeouts");
        assert!(r.server_capabilities.unwrap().plan_destroy);
    }

    #[tokio::test]
    async fn plan_apply_and_panic() {
        let s = svc();
        let ty = Thing.schema().value_type();
        let config = Value::object([("name", Value::string("a"))]);
        let plan = s
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "test_thing".into(),
                prior_state: dv(&Value::Null, &ty),
                proposed_new_state: dv(&config, &ty),
                config: dv(&config, &ty),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(plan.diagnostics.is_empty(), "{:?}", plan.diagnostics);
        let planned = codec::decode_msgpack(&plan.planned_state.as_ref().unwrap().msgpack, &ty).unwrap();
        assert!(planned.get("id").is_unknown());

        let applied = s
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "test_thing".into(),
                prior_state: dv(&Value::Null, &ty),
                planned_state: plan.planned_state.clone(),
                config: dv(&config, &ty),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(applied.diagnostics.is_empty(), "{:?}", applied.diagnostics);
        let new = codec::decode_msgpack(&applied.new_state.unwrap().msgpack, &ty).unwrap();
        assert_eq!(new.get("id"), &Value::string("x1"));

        let boom = Value::object([("name", Value::string("panic"))]);
        let applied = s
            .apply_resource_change(Request::new(pb::apply_resource_change::Request {
                type_name: "test_thing".into(),
                prior_state: dv(&Value::Null, &ty),
                planned_state: dv(&boom, &ty),
                config: dv(&boom, &ty),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(applied.diagnostics.len(), 1);
        assert!(applied.diagnostics[0].detail.contains("boom"));
    }

    #[tokio::test]
    async fn bad_input_and_unknown_type_are_diagnostics() {
        let s = svc();
        let r = s
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "test_thing".into(),
                config: Some(pb::DynamicValue {
                    msgpack: vec![0x92, 0x01],
                    json: vec![],
                }),
                client_capabilities: None,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.diagnostics[0].severity, pb::diagnostic::Severity::Error as i32);
        let r = s
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "nope".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(r.diagnostics[0].summary.contains("Unknown resource type"));
    }

    #[tokio::test]
    async fn upgrade_state_same_version() {
        let r = svc()
            .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "test_thing".into(),
                version: 0,
                raw_state: Some(pb::RawState {
                    json: br#"{"id":"a","name":"n"}"#.to_vec(),
                    ..Default::default()
                }),
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let ty = Thing.schema().value_type();
        let v = codec::decode_msgpack(&r.upgraded_state.unwrap().msgpack, &ty).unwrap();
        assert_eq!(v.get("name"), &Value::string("n"));
        assert!(v.get("timeouts").is_null());
    }

    #[test]
    fn catalog_types_are_the_schemas_types() {
        let s = svc();
        let cat = s.inner.catalog();
        assert_eq!(cat.provider_schema.ty, TestProvider.schema().value_type());
        let (_, thing) = s.inner.resource("test_thing").unwrap();
        assert_eq!(thing.ty, Thing.schema().value_type());
        assert_eq!(thing.block.attributes.len(), Thing.schema().block.attributes.len());
        // The same entry (one type per process), not a new one per lookup.
        let (_, again) = s.inner.resource("test_thing").unwrap();
        assert!(Arc::ptr_eq(&thing, &again));
    }

    #[tokio::test]
    async fn stop_cancels_token() {
        let token = CancellationToken::new();
        let s = ProviderService::new(Arc::new(TestProvider), token.clone());
        let r = s
            .stop_provider(Request::new(Default::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(r.error.is_empty());
        assert!(token.is_cancelled());
    }
}
