//! The `dlt_stack` state model: what a state or plan records besides the arguments (the stack's
//! id, status, outputs, the well-known attributes and the password version), read into typed
//! fields, and the writers that set them. The arguments in state are the planned ones.

use std::collections::BTreeMap;

use crate::aws::cloudformation::StackDescription;
use crate::dlt::stack_outputs::{self, Discovered, WellKnown};
use crate::plugin::Value;
use crate::resources::model::{Attr, Obj, Parse};

use super::config::StackConfig;

/// Arguments that, when changed, require an `UpdateStack` call.
const STACK_INPUTS: [&str; 7] = [
    "template_url",
    "template_body",
    "parameters",
    "capabilities",
    "tags",
    "iam_role_arn",
    "notification_arns",
];

/// A state (or plan) of `dlt_stack`, read.
#[derive(Debug, Clone, Default)]
pub struct StackState {
    pub config: StackConfig,
    pub id: Attr<String>,
    pub status: Attr<String>,
    pub outputs: Attr<BTreeMap<String, String>>,
    pub user_pool_id: Attr<String>,
    pub admin_password_version: Attr<i64>,
}

impl StackState {
    pub fn read(v: &Value) -> StackState {
        // The arguments were checked when they were planned; a state is read, not judged.
        StackState::read_with(&mut Parse::new(), v)
    }

    pub(crate) fn read_with(cx: &mut Parse, v: &Value) -> StackState {
        let config = StackConfig::read(cx, v);
        let mut o = Obj::root(v);
        let state = StackState {
            config,
            id: o.field("id").string(),
            status: o.field("status").string(),
            outputs: o.field("outputs").string_map(),
            user_pool_id: o.field(WellKnown::UserPoolId.attribute()).string(),
            admin_password_version: o.field("admin_password_version").read(Value::as_i64),
        };
        // Only the names this read asked for: the rest of a state is the configuration model's.
        o.finish_strays(cx);
        state
    }

    /// What CloudFormation knows the stack by: its id, else its name.
    pub fn key(&self) -> String {
        self.id
            .known()
            .or(self.config.name.known())
            .cloned()
            .unwrap_or_default()
    }

    pub fn outputs(&self) -> BTreeMap<String, String> {
        self.outputs.known().cloned().unwrap_or_default()
    }
}

/// Whether an argument that needs an `UpdateStack` call changed (or is not known yet).
pub fn inputs_changed(a: &Value, b: &Value) -> bool {
    STACK_INPUTS.iter().any(|k| {
        let (old, new) = (a.get(k), b.get(k));
        !new.is_wholly_known() || old != new
    })
}

/// Whether `admin_password` is known and the same in both.
pub fn admin_password_unchanged(prior: &Value, planned: &Value) -> bool {
    let (old, new) = (prior.get("admin_password"), planned.get("admin_password"));
    new.is_wholly_known() && old == new
}

/// Sets `outputs` and the well-known attributes on `state` from stack outputs and the values
/// discovered among the stack's resources.
pub fn set_outputs(
    state: &mut Value,
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    discovered: &Discovered,
) {
    state.set("outputs", Value::string_map(outputs.clone()));
    set_well_known(state, outputs, overrides, discovered);
}

/// Sets the well-known attributes from the outputs, the overrides and what was discovered.
pub fn set_well_known(
    state: &mut Value,
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    discovered: &Discovered,
) {
    for (w, (val, _)) in stack_outputs::resolve_all(outputs, overrides, discovered) {
        state.set(w.attribute(), Value::opt_string(val));
    }
}

/// The well-known attributes are not known until apply (their output names are not).
pub fn unknown_well_known(state: &mut Value) {
    for w in WellKnown::ALL {
        state.set(w.attribute(), Value::Unknown);
    }
}

/// The stack is not touched: what it reports stays as the prior state has it.
pub fn keep_stack(prior: &Value, state: &mut Value) {
    for k in ["id", "status", "outputs"] {
        state.set(k, prior.get(k).clone());
    }
}

pub fn set_version(state: &mut Value, version: Attr<i64>) {
    let v = match version {
        Attr::Known(v) => Value::int(v),
        Attr::Unknown => Value::Unknown,
        Attr::Null => Value::Null,
    };
    state.set("admin_password_version", v);
}

pub fn set_status(state: &mut Value, status: &str) {
    state.set("status", Value::string(status));
}

/// A stack whose create failed but that exists: its id and final status, no outputs.
pub fn failed_create(planned: &Value, id: &str, status: &str, overrides: &BTreeMap<String, String>) -> Value {
    let mut state = planned.clone();
    state.set("id", Value::string(id));
    set_status(&mut state, status);
    set_outputs(&mut state, &BTreeMap::new(), overrides, &Discovered::new());
    set_version(&mut state, Attr::Null);
    state
}

/// The state after a create/update: the planned arguments plus what the stack reports.
pub fn state_from(planned: &Value, desc: &StackDescription, discovered: &Discovered) -> Value {
    let mut s = planned.clone();
    s.set("id", Value::string(desc.id.clone()));
    set_status(&mut s, &desc.status);
    let overrides = StackState::read(planned).config.overrides();
    set_outputs(&mut s, &desc.outputs, &overrides, discovered);
    s
}

/// A refreshed state: what the stack reports now, `parameters` and `tags` included.
pub fn refreshed(state: &Value, desc: &StackDescription, discovered: &Discovered) -> Value {
    let mut s = state.clone();
    s.set("name", Value::string(desc.name.clone()));
    let overrides = StackState::read(state).config.overrides();
    s.set("id", Value::string(desc.id.clone()));
    set_status(&mut s, &desc.status);
    set_outputs(&mut s, &desc.outputs, &overrides, discovered);
    s.set(
        "parameters",
        refresh_parameters(state.get("parameters"), &desc.parameters),
    );
    s.set("tags", refresh_tags(state.get("tags"), &desc.tags));
    s
}

/// The arguments an imported stack is recorded with (what CloudFormation reports of them).
pub fn imported(desc: &StackDescription) -> Value {
    let set_or_null = |v: &[String]| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::Set(v.iter().map(|s| Value::string(s.clone())).collect())
        }
    };
    let map_or_null = |m: &BTreeMap<String, String>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::string_map(m.clone())
        }
    };
    Value::object([
        ("name", Value::string(desc.name.clone())),
        ("on_failure", Value::string("ROLLBACK")),
        ("parameters", map_or_null(&desc.parameters)),
        ("tags", map_or_null(&desc.tags)),
        ("capabilities", set_or_null(&desc.capabilities)),
        ("notification_arns", set_or_null(&desc.notification_arns)),
        ("iam_role_arn", Value::opt_string(desc.role_arn.clone())),
        ("admin_password_version", Value::Null),
    ])
}

/// The data source's state: its arguments plus what the stack reports.
pub fn data_source_state(
    config: &Value,
    desc: &StackDescription,
    overrides: &BTreeMap<String, String>,
    discovered: &Discovered,
) -> Value {
    let mut s = config.clone();
    s.set("id", Value::string(desc.id.clone()));
    set_status(&mut s, &desc.status);
    s.set("parameters", Value::string_map(desc.parameters.clone()));
    s.set("tags", Value::string_map(desc.tags.clone()));
    set_outputs(&mut s, &desc.outputs, overrides, discovered);
    s
}

/// Refreshes a map attribute from live values. Only keys already present are kept for
/// `parameters` (users configure a subset; the rest are template defaults). A `****` value is a
/// NoEcho parameter: CloudFormation never returns it, so the configured value stands.
pub fn refresh_parameters(current: &Value, live: &BTreeMap<String, String>) -> Value {
    let Some(m) = current.entries() else {
        return current.clone();
    };
    Value::Map(
        m.iter()
            .filter_map(|(k, old)| match live.get(k) {
                Some(v) if v == "****" => Some((k.clone(), old.clone())),
                Some(v) => Some((k.clone(), Value::string(v.clone()))),
                None => None,
            })
            .collect(),
    )
}

fn refresh_tags(current: &Value, live: &BTreeMap<String, String>) -> Value {
    if current.is_null() && live.is_empty() {
        Value::Null
    } else {
        Value::string_map(live.clone())
    }
}
