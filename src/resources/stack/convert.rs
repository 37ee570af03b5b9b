//! `dlt_stack` values to and from the domain: the CloudFormation input from a configuration,
//! and the state from what the stack reports (its outputs, and what was found among its
//! resources).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::aws::cloudformation::{OnFailure, StackDescription, StackInput, TemplateSource};
use crate::dlt::stack_outputs::{self, Discovered};
use crate::plugin::Value;

/// Default for each of `timeouts.create/update/delete`: a DLT stack takes 10-20 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

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

pub fn timeout(v: &Value, op: &str) -> Duration {
    v.get("timeouts")
        .get(op)
        .as_str()
        .and_then(|s| crate::duration::parse_duration(s).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT)
}

pub fn stack_input(v: &Value, template: Option<TemplateSource>) -> StackInput {
    let opt = |name: &str| v.get(name).as_str().filter(|s| !s.is_empty()).map(str::to_string);
    StackInput {
        name: v.get("name").as_str().unwrap_or_default().to_string(),
        template,
        parameters: v.get("parameters").to_string_map(),
        capabilities: v.get("capabilities").to_string_list(),
        tags: v.get("tags").to_string_map(),
        role_arn: opt("iam_role_arn"),
        notification_arns: v.get("notification_arns").to_string_list(),
        on_failure: v
            .get("on_failure")
            .as_str()
            .and_then(OnFailure::parse)
            .unwrap_or_default(),
    }
}

pub fn template_of(v: &Value) -> Option<TemplateSource> {
    if let Some(u) = v.get("template_url").as_str() {
        Some(TemplateSource::Url(u.to_string()))
    } else {
        v.get("template_body")
            .as_str()
            .map(|b| TemplateSource::Body(b.to_string()))
    }
}

pub fn output_overrides(v: &Value) -> BTreeMap<String, String> {
    v.get("output_names").to_string_map()
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

pub fn outputs_of(v: &Value) -> BTreeMap<String, String> {
    v.get("outputs").to_string_map()
}

/// The username the password is set for: explicit, else the `AdminName` parameter.
pub fn admin_username(v: &Value) -> Option<String> {
    let ap = v.get("admin_password");
    ap.get("username")
        .as_str()
        .or_else(|| v.get("parameters").get("AdminName").as_str())
        .map(str::to_string)
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

pub fn refresh_tags(current: &Value, live: &BTreeMap<String, String>) -> Value {
    if current.is_null() && live.is_empty() {
        Value::Null
    } else {
        Value::string_map(live.clone())
    }
}

/// Whether an argument that needs an `UpdateStack` call changed (or is not known yet).
pub fn inputs_changed(a: &Value, b: &Value) -> bool {
    STACK_INPUTS
        .iter()
        .any(|k| !b.get(k).is_wholly_known() || a.get(k) != b.get(k))
}

/// The state after a create/update: the planned arguments plus what the stack reports.
pub fn state_from(planned: &Value, desc: &StackDescription, discovered: &Discovered) -> Value {
    let mut s = planned.clone();
    s.set("id", Value::string(desc.id.clone()));
    s.set("status", Value::string(desc.status.clone()));
    set_outputs(&mut s, &desc.outputs, &output_overrides(planned), discovered);
    s
}
