//! Values the stack outputs leave missing, found among the stack's resources: the AWS calls
//! (`ListStackResources`, and `GetDistribution` for the console) are made here, the reading of
//! what they return is the domain's (`crate::dlt::stack_outputs`), so `dlt/` needs no AWS client.

use std::collections::BTreeMap;

use crate::aws::{cloudformation, cloudfront, Clients};
use crate::dlt::stack_outputs::{self, Discovered, Discovery, WellKnown};
use crate::plugin::{Diagnostic, Diagnostics};

/// What the outputs leave missing, found among the stack's resources, with a warning for what
/// is still missing (or for resources that could not be listed).
pub async fn discover(
    clients: &Clients,
    stack_id: &str,
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> Discovered {
    let (discovery, listed) = match discover_missing(clients, stack_id, outputs, overrides).await {
        Ok(d) => (d, true),
        Err(e) => {
            diags.push(Diagnostic::warning(
                "Cannot list the DLT stack's resources",
                format!("{e}. Values the stack outputs do not give stay null."),
            ));
            (Discovery::default(), false)
        }
    };
    let resolved = stack_outputs::resolve_all(outputs, overrides, &discovery.found);
    if let Some(w) = stack_outputs::missing_warning(&resolved, listed, &discovery.unreadable) {
        diags.push(Diagnostic::warning("DLT stack values not found", w));
    }
    discovery.found
}

/// Lists the stack's resources and discovers what the outputs (and `output_names`) leave
/// missing; lists nothing when the outputs give everything. The console URL takes one more call,
/// `cloudfront:GetDistribution` on the console's distribution; when that is refused the value is
/// [`Discovery::unreadable`]. The error is why the resources could not be listed at all (the
/// caller warns and goes on without them).
async fn discover_missing(
    clients: &Clients,
    stack_id: &str,
    outputs: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
) -> Result<Discovery, String> {
    let wanted = stack_outputs::not_in_outputs(outputs, overrides);
    if wanted.is_empty() {
        return Ok(Discovery::default());
    }
    let Some(location) = stack_outputs::StackLocation::from_arn(stack_id) else {
        return Err(format!("{stack_id:?} is not a stack ARN"));
    };
    let resources = cloudformation::list_stack_resources(&clients.cloudformation, stack_id)
        .await
        .map_err(|e| e.to_string())?;
    let mut d = Discovery {
        found: stack_outputs::discover(&resources, &location),
        unreadable: BTreeMap::new(),
    };
    d.found.retain(|w, _| wanted.contains(w));
    if wanted.contains(&WellKnown::ConsoleUrl) {
        if let Some((id, from)) = stack_outputs::console_distribution(&resources) {
            match cloudfront::distribution_domain(&clients.cloudfront, &id).await {
                Ok(domain) => {
                    d.found
                        .insert(WellKnown::ConsoleUrl, (format!("https://{domain}"), from));
                }
                Err(e) => {
                    log::warn!("cannot read the console's CloudFront distribution {id}: {e}");
                    d.unreadable.insert(
                        WellKnown::ConsoleUrl,
                        format!("its {from} ({id}) could not be read ({e}); allow cloudfront:GetDistribution on it"),
                    );
                }
            }
        }
    }
    for (w, (v, from)) in &d.found {
        log::info!("{} = {v} (from the stack resource {from})", w.attribute());
    }
    Ok(d)
}
