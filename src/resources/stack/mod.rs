//! `dlt_stack`: deploys the DLT CloudFormation stack and sets its Cognito admin password from SSM.
//!
//! State never holds the password, only the SSM parameter *version* last applied
//! (`admin_password_version`). Read records the live version in private state; `modify_plan`
//! turns a newer one into an in-place update of that single attribute, so a rotation plans as
//! "admin_password_version: 3 -> 4" and apply re-sets the password without touching the stack.
//!
//! Rooms: `schema.rs` (the schema), `config.rs` (the arguments, read and checked once, the same
//! way at validate, plan and apply), `state.rs` (what a state records besides the arguments, and
//! its writers), `private.rs` (private state), `diag.rs` (errors as diagnostics), `discovery.rs` (the
//! values the outputs leave missing, found among the stack's resources); this file is
//! the resource's life cycle and reads no attribute by name. The password workflow itself is
//! `crate::aws::admin_password`.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::aws::admin_password::AdminPassword;
use crate::aws::cloudformation::{self, TemplateSource, WaitOptions};
use crate::aws::{ssm, Clients};
use crate::dlt::stack_outputs::WellKnown;
use crate::plugin::{AttrPath, Ctx, Diagnostic, Diagnostics, Outcome, Plan, Resource, Schema, Value};
use crate::resources::model::Attr;
use crate::resources::provider_data::{aws_clients, SharedData};

use config::{validate, Op, StackConfig};
use diag::{password_diag, ssm_diag, stack_diag};
pub use discovery::discover;
use private::Private;
use schema::schema;
use state::{inputs_changed, set_version, StackState};

pub mod config;
mod diag;
mod discovery;
mod private;
pub mod schema;
pub mod state;

pub struct StackResource {
    data: SharedData,
}

impl StackResource {
    pub fn new(data: SharedData) -> StackResource {
        StackResource { data }
    }
}

/// Sets the admin password on the stack described by `state`; returns the version applied.
async fn apply_password(clients: &Clients, state: &Value, password: &AdminPassword) -> Result<i64, Diagnostic> {
    let state = StackState::read(state);
    let Some(pool) = state.user_pool_id.known() else {
        return Err(Diagnostic::error(
            "Cannot set the DLT admin password",
            format!(
                "the stack has no Cognito user pool output (looked for {}); set output_names.user_pool_id to the \
                 output that holds the user pool id.",
                WellKnown::UserPoolId.output_names().join(", ")
            ),
        )
        .at(AttrPath::root("admin_password")));
    };
    let Some(user) = state.config.admin_username() else {
        return Err(Diagnostic::error(
            "Cannot set the DLT admin password",
            "admin_password.username is not set and parameters has no AdminName.",
        )
        .at(AttrPath::root("admin_password").attr("username")));
    };
    password
        .set(&clients.cognito_idp, pool, &user)
        .await
        .map_err(|e| password_diag(&e))
}

#[async_trait]
impl Resource for StackResource {
    fn type_name(&self) -> &'static str {
        "dlt_stack"
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate(config)
    }

    async fn modify_plan(&self, _ctx: &Ctx, plan: &mut Plan) -> Diagnostics {
        let planned = &mut plan.planned;
        let new = StackState::read(planned);
        let wants_password = !new.config.admin_password.is_null();
        if plan.prior.is_null() {
            if !wants_password {
                set_version(planned, Attr::Null);
            }
            return Diagnostics::new();
        }
        let prior = &plan.prior;
        let old = StackState::read(prior);
        if !inputs_changed(prior, planned) {
            // The stack is not touched: what it reports stays as it is.
            state::keep_stack(prior, planned);
            match &new.config.output_names {
                Attr::Unknown => state::unknown_well_known(planned),
                names => {
                    let discovered = Private::decode(&plan.private).discovered;
                    let names = names.known().cloned().unwrap_or_default();
                    state::set_well_known(planned, &old.outputs(), &names, &discovered);
                }
            }
        }
        let prior_version = old.admin_password_version.known().copied();
        let version = if !wants_password {
            Attr::Null
        } else if !state::admin_password_unchanged(prior, planned) || prior_version.is_none() {
            Attr::Unknown
        } else {
            match Private::decode(&plan.private).live_admin_password_version {
                Some(live) if Some(live) != prior_version => {
                    log::info!(
                        "SSM parameter {:?} is at version {live}, the admin password was set from version {}: planning \
                         an update",
                        new.config.password_parameter().unwrap_or_default(),
                        prior_version.unwrap_or_default()
                    );
                    Attr::Known(live)
                }
                _ => old.admin_password_version.clone(),
            }
        };
        set_version(planned, version);
        // A changed username (or AdminName parameter) re-sets the password for the new user.
        if wants_password && new.config.admin_username() != old.config.admin_username() {
            set_version(planned, Attr::Unknown);
        }
        Diagnostics::new()
    }

    async fn create(&self, ctx: &Ctx, planned: &Value, _config: &Value) -> Outcome {
        let (config, mut diags) = StackConfig::parse(planned);
        if diags.has_errors() {
            return Outcome::failed(diags);
        }
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        // Read the password before creating anything, so a wrong parameter fails fast and cheap.
        let secret = match config.password_parameter() {
            Some(p) => match AdminPassword::read(&clients.ssm, p, None).await {
                Ok(s) => Some(s),
                Err(e) => return Outcome::failed(ssm_diag(&e).into()),
            },
            None => None,
        };
        let input = config.input(config.template());
        let wait = WaitOptions::new(config.timeout(Op::Create), ctx.stop.clone());
        let overrides = config.overrides();
        let desc = match cloudformation::create_or_adopt(&clients.cloudformation, &input, &wait).await {
            Ok((d, adopted)) => {
                if adopted {
                    diags.push(Diagnostic::warning(
                        "Adopted an existing DLT stack",
                        format!(
                            "CloudFormation stack {:?} ({}) already existed with this configuration's creation marker: an \
                             earlier apply created it but did not record it (it was killed or lost). It is now in state; \
                             no second stack was created.",
                            d.name, d.id
                        ),
                    ));
                }
                d
            }
            Err(e) => {
                diags.push(stack_diag("Cannot create the DLT stack", &e));
                let Some(id) = e.stack_id() else {
                    return Outcome::failed(diags);
                };
                if e.final_status() == Some("DELETE_COMPLETE") {
                    // on_failure = DELETE removed it: nothing exists to track.
                    return Outcome::failed(diags);
                }
                // The stack exists in a failed or unfinished state: record it so Terraform taints it.
                let status = e.final_status().unwrap_or("UNKNOWN");
                return Outcome {
                    state: Some(state::failed_create(planned, id, status, &overrides)),
                    private: Private::default().encode(),
                    diagnostics: diags,
                };
            }
        };
        let discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
        let mut state = state::state_from(planned, &desc, &discovered);
        set_version(&mut state, Attr::Null);
        let mut private = Private {
            discovered,
            marker: desc.marker.clone(),
            ..Private::default()
        };
        if let Some(secret) = secret {
            match apply_password(clients, &state, &secret).await {
                Ok(v) => {
                    set_version(&mut state, Attr::Known(v));
                    private.live_admin_password_version = Some(v);
                }
                Err(d) => diags.push(d),
            }
        }
        Outcome {
            state: Some(state),
            private: private.encode(),
            diagnostics: diags,
        }
    }

    async fn read(&self, _ctx: &Ctx, state: &Value, private: &[u8]) -> Outcome {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => {
                return Outcome {
                    state: Some(state.clone()),
                    private: private.to_vec(),
                    diagnostics: d,
                }
            }
        };
        let current = StackState::read(state);
        let key = current.key();
        let desc = match cloudformation::describe_stack(&clients.cloudformation, &key).await {
            Ok(Some(d)) if !d.is_deleted() => d,
            Ok(_) => {
                log::warn!("CloudFormation stack {key} no longer exists; removing it from state");
                return Outcome::gone();
            }
            Err(e) => {
                return Outcome {
                    state: Some(state.clone()),
                    private: private.to_vec(),
                    diagnostics: stack_diag("Cannot read the DLT stack", &e).into(),
                }
            }
        };
        let mut p = Private::decode(private);
        let mut diags = Diagnostics::new();
        let overrides = current.config.overrides();
        p.discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
        p.marker = desc.marker.clone();
        let s = state::refreshed(state, &desc, &p.discovered);

        if let Some(param) = current.config.password_parameter() {
            match ssm::get_parameter_version(&clients.ssm, param).await {
                Ok(v) => {
                    if current.admin_password_version.known() != Some(&v) {
                        log::info!("SSM parameter {param:?} has version {v}; the admin password will be re-set");
                    }
                    p.live_admin_password_version = Some(v);
                }
                Err(e) => {
                    p.live_admin_password_version = None;
                    diags.push(
                        Diagnostic::warning("Cannot check the admin password parameter", e.to_string())
                            .at(AttrPath::root("admin_password").attr("ssm_parameter")),
                    );
                }
            }
        }
        Outcome {
            state: Some(s),
            private: p.encode(),
            diagnostics: diags,
        }
    }

    async fn update(&self, ctx: &Ctx, prior: &Value, planned: &Value, _config: &Value, private: &[u8]) -> Outcome {
        let (config, mut diags) = StackConfig::parse(planned);
        if diags.has_errors() {
            return Outcome::failed(diags);
        }
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => {
                return Outcome {
                    state: Some(prior.clone()),
                    private: private.to_vec(),
                    diagnostics: d,
                }
            }
        };
        let old = StackState::read(prior);
        let new = StackState::read(planned);
        let mut p = Private::decode(private);
        let password_wanted =
            !config.admin_password.is_null() && new.admin_password_version != old.admin_password_version;
        // As on create, read the password first: a wrong parameter should not leave a half-done update.
        let secret = match (password_wanted, config.password_parameter()) {
            (true, Some(param)) => {
                let version = new.admin_password_version.known().copied();
                match AdminPassword::read(&clients.ssm, param, version).await {
                    Ok(s) => Some(s),
                    Err(e) => {
                        return Outcome {
                            state: Some(prior.clone()),
                            private: private.to_vec(),
                            diagnostics: ssm_diag(&e).into(),
                        }
                    }
                }
            }
            _ => None,
        };

        let mut state = planned.clone();
        if inputs_changed(prior, planned) {
            let template = if old.config.template() == config.template() {
                Some(TemplateSource::UsePrevious)
            } else {
                config.template()
            };
            let mut input = config.input(template);
            input.name = old.id.known().cloned().unwrap_or_default();
            input.marker = p.marker.clone();
            let wait = WaitOptions::new(config.timeout(Op::Update), ctx.stop.clone());
            match cloudformation::update_stack(&clients.cloudformation, &input, &wait).await {
                Ok(desc) => {
                    let overrides = config.overrides();
                    p.discovered = discover(clients, &desc.id, &desc.outputs, &overrides, &mut diags).await;
                    state = state::state_from(planned, &desc, &p.discovered);
                }
                Err(e) => {
                    diags.push(stack_diag("Cannot update the DLT stack", &e));
                    // Keep the prior arguments so the next plan proposes the update again.
                    let mut s = prior.clone();
                    if let Some(st) = e.final_status() {
                        state::set_status(&mut s, st);
                    }
                    return Outcome {
                        state: Some(s),
                        private: private.to_vec(),
                        diagnostics: diags,
                    };
                }
            }
        } else {
            state::keep_stack(prior, &mut state);
            state::set_well_known(&mut state, &old.outputs(), &config.overrides(), &p.discovered);
        }

        if config.admin_password.is_null() {
            set_version(&mut state, Attr::Null);
        } else if let Some(secret) = secret {
            match apply_password(clients, &state, &secret).await {
                Ok(v) => {
                    set_version(&mut state, Attr::Known(v));
                    p.live_admin_password_version = Some(v);
                }
                Err(d) => {
                    diags.push(d);
                    set_version(&mut state, old.admin_password_version.clone());
                }
            }
        } else {
            set_version(&mut state, old.admin_password_version.clone());
        }
        Outcome {
            state: Some(state),
            private: p.encode(),
            diagnostics: diags,
        }
    }

    async fn delete(&self, ctx: &Ctx, prior: &Value, _private: &[u8]) -> Diagnostics {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return d,
        };
        let old = StackState::read(prior);
        let wait = WaitOptions::new(old.config.timeout(Op::Delete), ctx.stop.clone());
        match cloudformation::delete_stack(&clients.cloudformation, &old.key(), &wait).await {
            Ok(()) => Diagnostics::new(),
            Err(e) => stack_diag("Cannot delete the DLT stack", &e).into(),
        }
    }

    async fn import(&self, _ctx: &Ctx, id: &str) -> Outcome {
        let clients = match aws_clients(&self.data).await {
            Ok(c) => c,
            Err(d) => return Outcome::failed(d),
        };
        let desc = match cloudformation::describe_stack(&clients.cloudformation, id).await {
            Ok(Some(d)) if !d.is_deleted() => d,
            Ok(_) => {
                return Outcome::failed(
                    Diagnostic::error(
                        "Cannot import the DLT stack",
                        format!("CloudFormation stack {id:?} does not exist; import takes the stack name or ARN."),
                    )
                    .into(),
                )
            }
            Err(e) => return Outcome::failed(stack_diag("Cannot import the DLT stack", &e).into()),
        };
        let mut diags = Diagnostics::new();
        let discovered = discover(clients, &desc.id, &desc.outputs, &BTreeMap::new(), &mut diags).await;
        let s = state::state_from(&state::imported(&desc), &desc, &discovered);
        Outcome {
            state: Some(s),
            private: Private {
                discovered,
                marker: desc.marker.clone(),
                ..Private::default()
            }
            .encode(),
            diagnostics: diags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::config::tests::base;
    use super::state::{refresh_parameters, set_outputs};
    use super::*;
    use crate::dlt::stack_outputs::Discovered;

    fn prior_state() -> Value {
        let mut s = base();
        s.set(
            "id",
            Value::string("arn:aws:cloudformation:us-east-1:123456789012:stack/DLT-test/x"),
        );
        s.set("status", Value::string("CREATE_COMPLETE"));
        set_outputs(
            &mut s,
            &[("UserPoolId".to_string(), "pool".to_string())].into(),
            &BTreeMap::new(),
            &Discovered::new(),
        );
        s.set("admin_password_version", Value::int(1));
        s
    }

    fn plan_with(planned: Value, private: Private) -> Plan {
        Plan {
            prior: prior_state(),
            config: planned.clone(),
            planned,
            requires_replace: Vec::new(),
            private: private.encode(),
        }
    }

    fn resource() -> StackResource {
        StackResource::new(SharedData::default())
    }

    #[tokio::test]
    async fn rotation_plans_only_the_version() {
        let mut plan = plan_with(
            prior_state(),
            Private {
                live_admin_password_version: Some(2),
                ..Private::default()
            },
        );
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        let mut expected = prior_state();
        expected.set("admin_password_version", Value::int(2));
        assert_eq!(plan.planned, expected);
    }

    #[tokio::test]
    async fn unchanged_version_plans_no_change() {
        let mut plan = plan_with(
            prior_state(),
            Private {
                live_admin_password_version: Some(1),
                ..Private::default()
            },
        );
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        assert_eq!(plan.planned, prior_state());
    }

    #[tokio::test]
    async fn output_names_change_keeps_outputs_known() {
        let mut planned = prior_state();
        // As the generic planner leaves it: computed attributes unknown after a config change.
        for k in [
            "status",
            "outputs",
            "user_pool_id",
            "api_endpoint",
            "admin_password_version",
        ] {
            planned.set(k, Value::Unknown);
        }
        planned.set(
            "output_names",
            Value::object([("api_endpoint", Value::string("UserPoolId"))]),
        );
        let mut plan = plan_with(planned, Private::default());
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        assert_eq!(plan.planned.get("api_endpoint"), &Value::string("pool"));
        assert_eq!(plan.planned.get("status"), &Value::string("CREATE_COMPLETE"));
        assert_eq!(plan.planned.get("admin_password_version"), &Value::int(1));
    }

    #[tokio::test]
    async fn parameter_change_leaves_outputs_unknown() {
        let mut planned = prior_state();
        planned.set(
            "parameters",
            Value::string_map([("AdminName", "dltadmin"), ("AdminEmail", "a@b.c")]),
        );
        for k in ["status", "outputs", "user_pool_id"] {
            planned.set(k, Value::Unknown);
        }
        let mut plan = plan_with(planned, Private::default());
        resource().modify_plan(&Ctx::default(), &mut plan).await;
        assert!(plan.planned.get("outputs").is_unknown());
        assert_eq!(plan.planned.get("admin_password_version"), &Value::int(1));
    }

    #[test]
    fn refresh_keeps_only_configured_parameters_and_noecho_values() {
        let current = Value::string_map([("AdminName", "a"), ("Secret", "s")]);
        let live: BTreeMap<String, String> = [("AdminName", "b"), ("Secret", "****"), ("Other", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            refresh_parameters(&current, &live),
            Value::string_map([("AdminName", "b"), ("Secret", "s")])
        );
        assert_eq!(refresh_parameters(&Value::Null, &live), Value::Null);
    }
}
