//! CloudFormation stack lifecycle: create, update, delete, describe, and waiting for them.
//!
//! Users of `aws_cloudformation_stack` complain that failures report only `ROLLBACK_COMPLETE`,
//! that "No updates are to be performed" is an error and that waits cannot be interrupted. So every
//! operation here waits with a backing-off poll that honours a timeout and a cancellation token, and
//! a failed operation comes back as [`StackError::Failed`] carrying the failed resource events of
//! *this* operation (matched by `ClientRequestToken`, else by time), whose `Display` names them.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_cloudformation::types::{Capability, OnFailure as SdkOnFailure, Parameter, Stack, StackEvent, Tag};
use aws_sdk_cloudformation::Client;
use tokio_util::sync::CancellationToken;

use super::error::ErrorParts;
use crate::dlt::stack_outputs::StackResource;

/// CloudFormation's limit for an inline `TemplateBody`.
pub const MAX_TEMPLATE_BODY_BYTES: usize = 51_200;

/// Where the template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    Url(String),
    Body(String),
    /// Update only: keep the stack's current template (the template attribute did not change).
    UsePrevious,
}

/// What CloudFormation does when a create fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    #[default]
    Rollback,
    Delete,
    DoNothing,
}

impl OnFailure {
    pub const NAMES: [&'static str; 3] = ["ROLLBACK", "DELETE", "DO_NOTHING"];

    pub fn parse(s: &str) -> Option<OnFailure> {
        match s {
            "ROLLBACK" => Some(OnFailure::Rollback),
            "DELETE" => Some(OnFailure::Delete),
            "DO_NOTHING" => Some(OnFailure::DoNothing),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Rollback => "ROLLBACK",
            OnFailure::Delete => "DELETE",
            OnFailure::DoNothing => "DO_NOTHING",
        }
    }

    fn to_sdk(self) -> SdkOnFailure {
        match self {
            OnFailure::Rollback => SdkOnFailure::Rollback,
            OnFailure::Delete => SdkOnFailure::Delete,
            OnFailure::DoNothing => SdkOnFailure::DoNothing,
        }
    }
}

/// The inputs of a create or update.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackInput {
    /// Stack name (or, for updates, the stack id).
    pub name: String,
    pub template: Option<TemplateSource>,
    pub parameters: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub role_arn: Option<String>,
    pub notification_arns: Vec<String>,
    /// Create only.
    pub on_failure: OnFailure,
    /// The value of the [`MARKER_TAG`]: put on a new stack ([`creation_marker`]), kept by an
    /// update (whose tags replace the stack's).
    pub marker: Option<String>,
}

/// A stack as `DescribeStacks` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackDescription {
    /// The stack ARN.
    pub id: String,
    pub name: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub capabilities: Vec<String>,
    pub notification_arns: Vec<String>,
    pub role_arn: Option<String>,
    /// The [`MARKER_TAG`]'s value, when the stack has it; it is not among `tags`.
    pub marker: Option<String>,
}

impl StackDescription {
    /// A deleted stack is still describable by ARN for a while, with this status.
    pub fn is_deleted(&self) -> bool {
        self.status == "DELETE_COMPLETE"
    }

    fn from_sdk(s: &Stack) -> StackDescription {
        StackDescription {
            id: s.stack_id().unwrap_or_default().to_string(),
            name: s.stack_name().unwrap_or_default().to_string(),
            status: s.stack_status().map(|st| st.as_str().to_string()).unwrap_or_default(),
            status_reason: s.stack_status_reason().map(str::to_string),
            outputs: s
                .outputs()
                .iter()
                .filter_map(|o| {
                    Some((
                        o.output_key()?.to_string(),
                        o.output_value().unwrap_or_default().to_string(),
                    ))
                })
                .collect(),
            parameters: s
                .parameters()
                .iter()
                .filter_map(|p| {
                    let value = p.resolved_value().or(p.parameter_value()).unwrap_or_default();
                    Some((p.parameter_key()?.to_string(), value.to_string()))
                })
                .collect(),
            tags: s
                .tags()
                .iter()
                .filter(|t| t.key() != Some(MARKER_TAG))
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect(),
            capabilities: s.capabilities().iter().map(|c| c.as_str().to_string()).collect(),
            notification_arns: s.notification_arns().to_vec(),
            role_arn: s.role_arn().map(str::to_string),
            marker: s
                .tags()
                .iter()
                .find(|t| t.key() == Some(MARKER_TAG))
                .and_then(|t| t.value())
                .map(str::to_string),
        }
    }
}

/// One failed resource event: the root cause users need to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub reason: String,
}

impl fmt::Display for FailedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) {}: {}",
            self.logical_id, self.resource_type, self.status, self.reason
        )
    }
}

/// Which lifecycle operation a wait belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    fn success_status(self) -> &'static str {
        match self {
            Operation::Create => "CREATE_COMPLETE",
            Operation::Update => "UPDATE_COMPLETE",
            Operation::Delete => "DELETE_COMPLETE",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Delete => "delete",
        })
    }
}

/// How long and how often to poll.
#[derive(Debug, Clone)]
pub struct WaitOptions {
    pub timeout: Duration,
    pub cancel: CancellationToken,
    /// First pause between polls; doubles up to `max_poll`.
    pub initial_poll: Duration,
    pub max_poll: Duration,
    /// How often to log "still waiting" while the status does not change.
    pub progress_every: Duration,
}

impl WaitOptions {
    pub fn new(timeout: Duration, cancel: CancellationToken) -> WaitOptions {
        WaitOptions {
            timeout,
            cancel,
            initial_poll: Duration::from_secs(1),
            max_poll: Duration::from_secs(20),
            progress_every: Duration::from_secs(60),
        }
    }
}

/// Everything that can go wrong with a stack operation.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error(
        "the template body is {size} bytes, more than CloudFormation's {MAX_TEMPLATE_BODY_BYTES}-byte limit for \
         TemplateBody; upload the template to S3 and use `template_url` instead"
    )]
    TemplateBodyTooLarge { size: usize },

    #[error("{operation} of CloudFormation stack {stack:?} was refused: {cause}")]
    Api {
        operation: &'static str,
        stack: String,
        cause: ErrorParts,
    },

    #[error("{}", describe_failure(*.operation, .stack_name, .status, .status_reason.as_deref(), .events))]
    Failed {
        operation: Operation,
        stack_name: String,
        stack_id: String,
        status: String,
        status_reason: Option<String>,
        events: Vec<FailedEvent>,
    },

    #[error(
        "timed out after {} waiting for the {operation} of CloudFormation stack {stack_name:?} (last status \
         {status}); the operation continues in AWS. Raise `timeouts.{operation}` if the stack needs longer",
        crate::duration::format_duration(*.waited)
    )]
    Timeout {
        operation: Operation,
        stack_name: String,
        stack_id: String,
        status: String,
        waited: Duration,
    },

    #[error(
        "stopped waiting for the {operation} of CloudFormation stack {stack_name:?} (last status {status}) because \
         Terraform was interrupted; the operation continues in AWS"
    )]
    Cancelled {
        operation: Operation,
        stack_name: String,
        stack_id: String,
        status: String,
    },

    #[error("CloudFormation stack {stack:?} does not exist")]
    NotFound { stack: String },

    #[error(
        "CloudFormation stack {stack:?} already exists ({stack_id}, {status}) and {why}, so it is not taken over. \
         To manage it with this resource, import it: terraform import <this dlt_stack's address> {stack_id}; \
         otherwise choose another name or delete that stack"
    )]
    AlreadyExists {
        stack: String,
        stack_id: String,
        status: String,
        why: &'static str,
    },
}

impl StackError {
    /// The ARN of the stack the failed operation left behind, when one exists.
    pub fn stack_id(&self) -> Option<&str> {
        match self {
            StackError::Failed { stack_id, .. }
            | StackError::Timeout { stack_id, .. }
            | StackError::Cancelled { stack_id, .. } => Some(stack_id).filter(|s| !s.is_empty()).map(String::as_str),
            _ => None,
        }
    }

    /// The stack status the operation ended in, when it got that far.
    pub fn final_status(&self) -> Option<&str> {
        match self {
            StackError::Failed { status, .. }
            | StackError::Timeout { status, .. }
            | StackError::Cancelled { status, .. } => Some(status),
            _ => None,
        }
    }
}

fn describe_failure(
    operation: Operation,
    stack: &str,
    status: &str,
    reason: Option<&str>,
    events: &[FailedEvent],
) -> String {
    let mut s = format!("{operation} of CloudFormation stack {stack:?} failed: the stack is {status}");
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        s.push_str(&format!(" ({r})"));
    }
    if events.is_empty() {
        s.push_str(". CloudFormation reported no failed resource events for this operation; see the stack's events");
    } else {
        s.push_str(". Failed resources:");
        for e in events {
            s.push_str(&format!("\n  - {e}"));
        }
    }
    s
}

fn api_error<E>(
    operation: &'static str,
    stack: &str,
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> StackError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    StackError::Api {
        operation,
        stack: stack.to_string(),
        cause: ErrorParts::from_sdk(err),
    }
}

/// A fresh `ClientRequestToken`: it tags the events of this operation so failures can be
/// attributed to it rather than to an older operation on the same stack.
fn request_token(op: Operation) -> String {
    format!(
        "terraform-dlt-{op}-{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

fn parameters(input: &StackInput) -> Vec<Parameter> {
    input
        .parameters
        .iter()
        .map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build())
        .collect()
}

fn tags(input: &StackInput) -> Vec<Tag> {
    let mut tags: Vec<Tag> = input
        .tags
        .iter()
        .filter(|(k, _)| k.as_str() != MARKER_TAG)
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    if let Some(m) = &input.marker {
        tags.push(Tag::builder().key(MARKER_TAG).value(m).build());
    }
    tags
}

fn capabilities(input: &StackInput) -> Vec<Capability> {
    input
        .capabilities
        .iter()
        .map(|c| Capability::from(c.as_str()))
        .collect()
}

fn check_body(template: &Option<TemplateSource>) -> Result<(), StackError> {
    if let Some(TemplateSource::Body(b)) = template {
        if b.len() > MAX_TEMPLATE_BODY_BYTES {
            return Err(StackError::TemplateBodyTooLarge { size: b.len() });
        }
    }
    Ok(())
}

/// Describes a stack by name or ARN; `None` when CloudFormation does not know it.
pub async fn describe_stack(client: &Client, name_or_id: &str) -> Result<Option<StackDescription>, StackError> {
    match client.describe_stacks().stack_name(name_or_id).send().await {
        Ok(out) => Ok(out.stacks().first().map(StackDescription::from_sdk)),
        Err(err) => {
            let parts = ErrorParts::from_sdk(&err);
            if parts.code_is("ValidationError") && parts.message.contains("does not exist") {
                Ok(None)
            } else {
                Err(StackError::Api {
                    operation: "describe",
                    stack: name_or_id.to_string(),
                    cause: parts,
                })
            }
        }
    }
}

/// Nested stacks followed at most this deep (DLT's templates nest none; customised ones may).
const MAX_NESTING: usize = 5;

/// Every resource of a stack and of the stacks nested in it (`AWS::CloudFormation::Stack`), all
/// pages. Resources whose creation failed or that have no physical id yet are left out.
pub async fn list_stack_resources(client: &Client, name_or_id: &str) -> Result<Vec<StackResource>, StackError> {
    let mut out = Vec::new();
    let mut queue = vec![(name_or_id.to_string(), Vec::<String>::new())];
    while let Some((stack, path)) = queue.pop() {
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_stack_resources()
                .stack_name(&stack)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| api_error("listing the resources", &stack, &e))?;
            for r in page.stack_resource_summaries() {
                let physical = r.physical_resource_id().unwrap_or_default();
                let failed = r
                    .resource_status()
                    .is_some_and(|s| s.as_str().ends_with("_FAILED") || s.as_str().starts_with("DELETE"));
                if physical.is_empty() || failed {
                    continue;
                }
                let resource = StackResource {
                    logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                    physical_id: physical.to_string(),
                    resource_type: r.resource_type().unwrap_or_default().to_string(),
                    nested_in: path.clone(),
                };
                if resource.resource_type == "AWS::CloudFormation::Stack" && path.len() < MAX_NESTING {
                    let mut inner = path.clone();
                    inner.push(resource.logical_id.clone());
                    queue.push((resource.physical_id.clone(), inner));
                }
                out.push(resource);
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
    }
    Ok(out)
}

/// The tag `dlt_stack` puts on every stack it creates. Its value, [`creation_marker`], says which
/// configuration created the stack, so a stack left behind by a killed apply (created in AWS,
/// never recorded in state) is recognised by the next apply of the same configuration and
/// adopted instead of failing with `AlreadyExistsException`, while a stack anyone else created
/// under that name is left alone. (CloudFormation's `ClientRequestToken` cannot serve: it is only
/// kept with the stack's events, and a token fixed per configuration would make CloudFormation
/// treat a later re-create as a retry of the first.)
pub const MARKER_TAG: &str = "terraform-provider-dlt:created-by";

/// The marker of a create: `dlt_stack-v1:` and a SHA-256 digest (first 32 hex digits) of the
/// stack name, the template (the URL, or the digest of the body), every parameter and every tag.
/// The same arguments give the same marker in every run; it holds no value in the clear.
pub fn creation_marker(input: &StackInput) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut field = |k: &str, v: &[u8]| {
        for part in [k.as_bytes(), v] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
    };
    field("name", input.name.as_bytes());
    match &input.template {
        Some(TemplateSource::Url(u)) => field("template_url", u.as_bytes()),
        Some(TemplateSource::Body(b)) => field("template_body", &Sha256::digest(b.as_bytes())),
        Some(TemplateSource::UsePrevious) | None => field("template", b""),
    }
    for (k, v) in &input.parameters {
        field(&format!("parameter:{k}"), v.as_bytes());
    }
    for (k, v) in input.tags.iter().filter(|(k, _)| k.as_str() != MARKER_TAG) {
        field(&format!("tag:{k}"), v.as_bytes());
    }
    let digest = hex::encode(h.finalize());
    format!("dlt_stack-v1:{}", &digest[..32])
}

/// What to do with a stack that already exists under the name a create wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Created by this configuration (a killed apply): take it over.
    Adopt,
    /// Created by `dlt_stack` from other arguments, or by someone else: leave it, name import.
    Refuse(&'static str),
}

/// Whether an existing stack with `marker` may be adopted by a create whose marker is `ours`.
pub fn existing(found: Option<&str>, ours: &str) -> Existing {
    match found {
        Some(m) if m == ours => Existing::Adopt,
        Some(_) => Existing::Refuse(
            "was created by terraform-provider-dlt from other arguments (another configuration, or this one \
             before its arguments changed)",
        ),
        None => Existing::Refuse("was not created by terraform-provider-dlt (it has no creation marker tag)"),
    }
}

/// [`create_stack`], and when the name is taken by a stack a killed apply of this same
/// configuration created (its [`MARKER_TAG`] matches), that stack: its create is waited for like
/// one's own. Any other existing stack is [`StackError::AlreadyExists`], naming `terraform
/// import`. The flag says whether the stack was adopted.
pub async fn create_or_adopt(
    client: &Client,
    input: &StackInput,
    wait: &WaitOptions,
) -> Result<(StackDescription, bool), StackError> {
    let marker = creation_marker(input);
    let mut input = input.clone();
    input.marker = Some(marker.clone());
    let err = match create_stack(client, &input, wait).await {
        Ok(d) => return Ok((d, false)),
        Err(e) => e,
    };
    let taken = matches!(&err, StackError::Api { cause, .. } if cause.code_is("AlreadyExistsException"));
    if !taken {
        return Err(err);
    }
    let Some(found) = describe_stack(client, &input.name).await?.filter(|d| !d.is_deleted()) else {
        return Err(err);
    };
    match existing(found.marker.as_deref(), &marker) {
        Existing::Adopt => {
            log::warn!(
                "CloudFormation stack {:?} ({}, {}) was created by an earlier apply of this configuration that did \
                 not record it (killed?); adopting it",
                input.name,
                found.id,
                found.status
            );
            // A stack past its create (updated since, by an apply whose state was lost) is taken
            // as it is: judging it as a create would taint, and so delete, a working stack.
            let created = found.status.starts_with("CREATE_") || found.status.starts_with("ROLLBACK_");
            if !created && !is_in_progress(&found.status) {
                return Ok((found, true));
            }
            let op = if created { Operation::Create } else { Operation::Update };
            // Its create (or that update) may still run; failed events are matched by time, not
            // by token (the token is the other apply's).
            wait_for(client, op, &input.name, &found.id, "", SystemTime::UNIX_EPOCH, wait)
                .await
                .map(|d| (d, true))
        }
        Existing::Refuse(why) => Err(StackError::AlreadyExists {
            stack: input.name.clone(),
            stack_id: found.id,
            status: found.status,
            why,
        }),
    }
}

/// Creates a stack and waits for the create to finish.
///
/// On failure the error carries the stack ARN ([`StackError::stack_id`]) when the stack exists, so
/// the caller can record it (Terraform then taints the resource); with `on_failure = DELETE` the
/// final status is `DELETE_COMPLETE` and nothing is left to record.
pub async fn create_stack(
    client: &Client,
    input: &StackInput,
    wait: &WaitOptions,
) -> Result<StackDescription, StackError> {
    check_body(&input.template)?;
    let token = request_token(Operation::Create);
    let started = SystemTime::now();
    let mut req = client
        .create_stack()
        .stack_name(&input.name)
        .set_parameters(Some(parameters(input)))
        .set_capabilities(Some(capabilities(input)))
        .set_tags(Some(tags(input)))
        .set_role_arn(input.role_arn.clone())
        .set_notification_arns(Some(input.notification_arns.clone()))
        .on_failure(input.on_failure.to_sdk())
        .client_request_token(&token);
    req = match &input.template {
        Some(TemplateSource::Url(u)) => req.template_url(u),
        Some(TemplateSource::Body(b)) => req.template_body(b),
        Some(TemplateSource::UsePrevious) | None => req,
    };
    log::info!("creating CloudFormation stack {:?}", input.name);
    let out = req.send().await.map_err(|e| api_error("create", &input.name, &e))?;
    let stack_id = out.stack_id().unwrap_or(&input.name).to_string();
    log::info!("CloudFormation stack {:?} is being created as {stack_id}", input.name);
    wait_for(client, Operation::Create, &input.name, &stack_id, &token, started, wait).await
}

/// Updates a stack and waits. "No updates are to be performed" is success (nothing changed);
/// a stack in `UPDATE_ROLLBACK_COMPLETE` is updatable like any other.
pub async fn update_stack(
    client: &Client,
    input: &StackInput,
    wait: &WaitOptions,
) -> Result<StackDescription, StackError> {
    check_body(&input.template)?;
    let token = request_token(Operation::Update);
    let started = SystemTime::now();
    let mut req = client
        .update_stack()
        .stack_name(&input.name)
        .set_parameters(Some(parameters(input)))
        .set_capabilities(Some(capabilities(input)))
        .set_tags(Some(tags(input)))
        .set_role_arn(input.role_arn.clone())
        .set_notification_arns(Some(input.notification_arns.clone()))
        .client_request_token(&token);
    req = match &input.template {
        Some(TemplateSource::Url(u)) => req.template_url(u),
        Some(TemplateSource::Body(b)) => req.template_body(b),
        Some(TemplateSource::UsePrevious) | None => req.use_previous_template(true),
    };
    log::info!("updating CloudFormation stack {:?}", input.name);
    let stack_id = match req.send().await {
        Ok(out) => out.stack_id().unwrap_or(&input.name).to_string(),
        Err(err) => {
            let parts = ErrorParts::from_sdk(&err);
            if parts.code_is("ValidationError") && parts.message.contains("No updates are to be performed") {
                log::info!("CloudFormation stack {:?} is already up to date", input.name);
                return describe_stack(client, &input.name)
                    .await?
                    .ok_or_else(|| StackError::NotFound {
                        stack: input.name.clone(),
                    });
            }
            if parts.code_is("ValidationError") && parts.message.contains("does not exist") {
                return Err(StackError::NotFound {
                    stack: input.name.clone(),
                });
            }
            return Err(StackError::Api {
                operation: "update",
                stack: input.name.clone(),
                cause: parts,
            });
        }
    };
    wait_for(client, Operation::Update, &input.name, &stack_id, &token, started, wait).await
}

/// Deletes a stack and waits until it is gone. A stack that does not exist is already deleted.
pub async fn delete_stack(client: &Client, name_or_id: &str, wait: &WaitOptions) -> Result<(), StackError> {
    let Some(current) = describe_stack(client, name_or_id).await? else {
        return Ok(());
    };
    if current.is_deleted() {
        return Ok(());
    }
    let token = request_token(Operation::Delete);
    let started = SystemTime::now();
    log::info!("deleting CloudFormation stack {:?} ({})", current.name, current.id);
    if let Err(err) = client
        .delete_stack()
        .stack_name(&current.id)
        .client_request_token(&token)
        .send()
        .await
    {
        let parts = ErrorParts::from_sdk(&err);
        if parts.code_is("ValidationError") && parts.message.contains("does not exist") {
            return Ok(());
        }
        return Err(StackError::Api {
            operation: "delete",
            stack: current.name.clone(),
            cause: parts,
        });
    }
    wait_for(
        client,
        Operation::Delete,
        &current.name,
        &current.id,
        &token,
        started,
        wait,
    )
    .await
    .map(|_| ())
}

/// Polls `DescribeStacks` by ARN until the stack leaves every `*_IN_PROGRESS` status.
async fn wait_for(
    client: &Client,
    op: Operation,
    name: &str,
    stack_id: &str,
    token: &str,
    started: SystemTime,
    wait: &WaitOptions,
) -> Result<StackDescription, StackError> {
    let begin = Instant::now();
    let mut pause = wait.initial_poll;
    let mut last_status = String::from("UNKNOWN");
    let mut last_log = Instant::now();
    loop {
        let current = describe_stack(client, stack_id).await?;
        let desc = match current {
            Some(d) => d,
            // Gone entirely: for a delete that is success; otherwise CloudFormation removed it.
            None => StackDescription {
                id: stack_id.to_string(),
                name: name.to_string(),
                status: "DELETE_COMPLETE".into(),
                ..StackDescription::default()
            },
        };
        if desc.status != last_status {
            log::info!(
                "CloudFormation stack {name:?}: {} ({} elapsed)",
                desc.status,
                crate::duration::format_duration(begin.elapsed())
            );
            last_status = desc.status.clone();
            last_log = Instant::now();
        } else if last_log.elapsed() >= wait.progress_every {
            log::info!(
                "CloudFormation stack {name:?}: still {} ({} elapsed)",
                desc.status,
                crate::duration::format_duration(begin.elapsed())
            );
            last_log = Instant::now();
        }
        if !is_in_progress(&desc.status) {
            if desc.status == op.success_status() {
                return Ok(desc);
            }
            let events = failed_events(client, stack_id, name, token, started)
                .await
                .unwrap_or_else(|e| {
                    log::warn!("could not read the events of CloudFormation stack {name:?}: {e}");
                    Vec::new()
                });
            return Err(StackError::Failed {
                operation: op,
                stack_name: name.to_string(),
                stack_id: stack_id.to_string(),
                status: desc.status,
                status_reason: desc.status_reason,
                events,
            });
        }
        let elapsed = begin.elapsed();
        if elapsed >= wait.timeout {
            return Err(StackError::Timeout {
                operation: op,
                stack_name: name.to_string(),
                stack_id: stack_id.to_string(),
                status: desc.status,
                waited: elapsed,
            });
        }
        let sleep = pause.min(wait.timeout - elapsed);
        tokio::select! {
            _ = wait.cancel.cancelled() => {
                return Err(StackError::Cancelled {
                    operation: op,
                    stack_name: name.to_string(),
                    stack_id: stack_id.to_string(),
                    status: desc.status,
                });
            }
            _ = tokio::time::sleep(sleep) => {}
        }
        pause = (pause * 2).min(wait.max_poll);
    }
}

/// `*_IN_PROGRESS` plus the transient states an emulator or a fresh stack may report.
fn is_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS") || status == "CREATE_PENDING" || status.is_empty()
}

/// Events older than the operation start by more than this are never ours (allows clock skew).
const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// A stack with a long history has many event pages; the failures of this operation are on the
/// first ones (newest first), so stop after this many.
const MAX_EVENT_PAGES: usize = 20;

/// The failed resource events of the operation tagged `token` (or, for events without a token,
/// those since `started`), oldest first with "cancelled" follow-ups last, so the root cause leads.
async fn failed_events(
    client: &Client,
    stack_id: &str,
    stack_name: &str,
    token: &str,
    started: SystemTime,
) -> Result<Vec<FailedEvent>, StackError> {
    let since = started.checked_sub(CLOCK_SKEW).unwrap_or(started);
    let mut ours: Vec<StackEvent> = Vec::new();
    let mut next: Option<String> = None;
    'pages: for _ in 0..MAX_EVENT_PAGES {
        let out = client
            .describe_stack_events()
            .stack_name(stack_id)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| api_error("describe events", stack_name, &e))?;
        for ev in out.stack_events() {
            match ev.client_request_token() {
                // No token of ours (an adopted create): every event counts, by time.
                Some(t) if !t.is_empty() && !token.is_empty() => {
                    if t == token {
                        ours.push(ev.clone());
                    } else if event_time(ev).is_some_and(|t| t < since) {
                        // An older operation's events: everything after this is older still.
                        break 'pages;
                    }
                }
                _ => match event_time(ev) {
                    Some(t) if t < since => break 'pages,
                    _ => ours.push(ev.clone()),
                },
            }
        }
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    let mut failed: Vec<(bool, SystemTime, FailedEvent)> = ours
        .iter()
        .filter(|ev| ev.resource_status().is_some_and(|s| s.as_str().ends_with("_FAILED")))
        .filter(|ev| {
            // The stack's own record repeats the resources' reasons; keep only resources.
            !(ev.resource_type() == Some("AWS::CloudFormation::Stack")
                && (ev.logical_resource_id() == Some(stack_name) || ev.physical_resource_id() == Some(stack_id)))
        })
        .map(|ev| {
            let reason = ev.resource_status_reason().unwrap_or("no reason given").to_string();
            let secondary = is_secondary(&reason);
            let at = event_time(ev).unwrap_or(SystemTime::UNIX_EPOCH);
            let fe = FailedEvent {
                logical_id: ev.logical_resource_id().unwrap_or("?").to_string(),
                resource_type: ev.resource_type().unwrap_or("?").to_string(),
                status: ev.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
                reason,
            };
            (secondary, at, fe)
        })
        .collect();
    failed.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<FailedEvent> = Vec::new();
    for (_, _, fe) in failed {
        if !out.contains(&fe) {
            out.push(fe);
        }
    }
    Ok(out)
}

/// Reasons that are consequences of another resource's failure, not causes.
fn is_secondary(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("resource creation cancelled")
        || r.contains("resource update cancelled")
        || r.contains("resource deletion cancelled")
        || r.contains("the following resource(s) failed")
}

fn event_time(ev: &StackEvent) -> Option<SystemTime> {
    ev.timestamp().and_then(|t| SystemTime::try_from(*t).ok())
}
