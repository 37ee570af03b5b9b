//! Failure paths moto cannot produce (throttling, Cognito and SSM error codes it never returns),
//! driven through `aws-smithy-mocks`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudformation::operation::create_stack::CreateStackOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::update_stack::UpdateStackOutput;
use aws_sdk_cloudformation::types::{Output, ResourceStatus, Stack, StackEvent, StackStatus};
use aws_sdk_cloudformation::Client as Cfn;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::DateTime;
use tokio_util::sync::CancellationToken;

use super::admin_password::{AdminPassword, AdminPasswordError};
use super::cloudformation::{self, OnFailure, StackError, StackInput, TemplateSource, WaitOptions};
use super::cognito::CognitoError;
use super::ssm::{self, SsmError};

const ARN: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/dlt/11111111-2222-3333-4444-555555555555";

fn fast_wait() -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_secs(10),
        cancel: CancellationToken::new(),
        initial_poll: Duration::from_millis(1),
        max_poll: Duration::from_millis(5),
        progress_every: Duration::from_secs(60),
    }
}

fn fast_retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(4)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn cfn(rules: &[&Rule]) -> Cfn {
    mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules.iter().copied(), |c| c
        .retry_config(fast_retry()))
}

fn stack(status: &str) -> Stack {
    Stack::builder()
        .stack_id(ARN)
        .stack_name("dlt")
        .stack_status(StackStatus::from(status))
        .outputs(
            Output::builder()
                .output_key("UserPoolId")
                .output_value("us-east-1_x")
                .build(),
        )
        .build()
}

fn stacks_sequence(statuses: &[&'static str]) -> Rule {
    let mut seq = mock!(Cfn::describe_stacks).sequence();
    for s in statuses {
        let s = *s;
        seq = seq.output(move || DescribeStacksOutput::builder().stacks(stack(s)).build());
    }
    seq.repeatedly().build()
}

fn event(logical: &str, ty: &str, status: &str, reason: &str, token: Option<&str>, age_secs: u64) -> StackEvent {
    let at = SystemTime::now() - Duration::from_secs(age_secs);
    StackEvent::builder()
        .stack_id(ARN)
        .stack_name("dlt")
        .event_id(format!("{logical}-{status}"))
        .logical_resource_id(logical)
        .physical_resource_id(if ty == "AWS::CloudFormation::Stack" {
            ARN
        } else {
            "phys"
        })
        .resource_type(ty)
        .resource_status(ResourceStatus::from(status))
        .resource_status_reason(reason)
        .timestamp(DateTime::from(at))
        .set_client_request_token(token.map(str::to_string))
        .build()
}

fn input() -> StackInput {
    StackInput {
        name: "dlt".into(),
        template: Some(TemplateSource::Url("https://b.s3.amazonaws.com/t.yml".into())),
        parameters: [("AdminName".to_string(), "dltadmin".to_string())].into(),
        ..StackInput::default()
    }
}

fn query_error(code: &str, message: &str) -> Option<String> {
    Some(format!(
        "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    ))
}

#[tokio::test]
async fn create_failure_names_failed_resources_of_this_operation_only() {
    let token = Arc::new(Mutex::new(None::<String>));
    let t1 = token.clone();
    let create = mock!(Cfn::create_stack)
        .match_requests(move |r| {
            *t1.lock().unwrap() = r.client_request_token().map(str::to_string);
            true
        })
        .then_output(|| CreateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]);
    let t2 = token.clone();
    let events = mock!(Cfn::describe_stack_events).then_compute_output(move |_| {
        let tok = t2.lock().unwrap().clone();
        let tok = tok.as_deref();
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "dlt",
                "AWS::CloudFormation::Stack",
                "ROLLBACK_COMPLETE",
                "",
                tok,
                0,
            ))
            .stack_events(event(
                "DLTEcsCluster",
                "AWS::ECS::Cluster",
                "CREATE_FAILED",
                "Resource creation cancelled",
                tok,
                1,
            ))
            .stack_events(event(
                "dlt",
                "AWS::CloudFormation::Stack",
                "ROLLBACK_IN_PROGRESS",
                "The following resource(s) failed to create: [ScenariosBucket].",
                tok,
                2,
            ))
            .stack_events(event(
                "ScenariosBucket",
                "AWS::S3::Bucket",
                "CREATE_FAILED",
                "dlt-scenarios already exists",
                tok,
                3,
            ))
            // An older operation's failure with another token must not be reported.
            .stack_events(event(
                "OldQueue",
                "AWS::SQS::Queue",
                "UPDATE_FAILED",
                "old failure",
                Some("other"),
                7200,
            ))
            .build()
    });
    let client = cfn(&[&create, &describe, &events]);
    let err = cloudformation::create_stack(&client, &input(), &fast_wait())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, StackError::Failed { ref status, .. } if status == "ROLLBACK_COMPLETE"),
        "{msg}"
    );
    assert_eq!(err.stack_id(), Some(ARN));
    assert!(
        msg.contains("ScenariosBucket (AWS::S3::Bucket) CREATE_FAILED: dlt-scenarios already exists"),
        "{msg}"
    );
    assert!(msg.contains("DLTEcsCluster"), "{msg}");
    assert!(
        msg.find("ScenariosBucket").unwrap() < msg.find("DLTEcsCluster").unwrap(),
        "root cause first: {msg}"
    );
    assert!(!msg.contains("OldQueue"), "{msg}");
    assert!(token
        .lock()
        .unwrap()
        .as_deref()
        .is_some_and(|t| t.starts_with("terraform-dlt-create-")));
}

#[tokio::test]
async fn create_failure_without_tokens_uses_event_time() {
    let create = mock!(Cfn::create_stack).then_output(|| CreateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&["CREATE_FAILED"]);
    let events = mock!(Cfn::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "Role",
                "AWS::IAM::Role",
                "CREATE_FAILED",
                "Requires capabilities : [CAPABILITY_IAM]",
                None,
                0,
            ))
            .stack_events(event(
                "Ancient",
                "AWS::IAM::Role",
                "CREATE_FAILED",
                "from last week",
                None,
                7 * 86400,
            ))
            .build()
    });
    let client = cfn(&[&create, &describe, &events]);
    let mut inp = input();
    inp.on_failure = OnFailure::DoNothing;
    let msg = cloudformation::create_stack(&client, &inp, &fast_wait())
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("the stack is CREATE_FAILED"), "{msg}");
    assert!(
        msg.contains("Role (AWS::IAM::Role) CREATE_FAILED: Requires capabilities"),
        "{msg}"
    );
    assert!(!msg.contains("Ancient"), "{msg}");
}

#[tokio::test]
async fn create_with_on_failure_delete_ends_deleted() {
    let create = mock!(Cfn::create_stack).then_output(|| CreateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&["CREATE_IN_PROGRESS", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]);
    let events = mock!(Cfn::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "Fn",
                "AWS::Lambda::Function",
                "CREATE_FAILED",
                "Runtime nodejs16.x is deprecated",
                None,
                0,
            ))
            .build()
    });
    let client = cfn(&[&create, &describe, &events]);
    let err = cloudformation::create_stack(&client, &input(), &fast_wait())
        .await
        .unwrap_err();
    assert_eq!(err.final_status(), Some("DELETE_COMPLETE"));
    assert!(err.to_string().contains("nodejs16.x is deprecated"));
}

#[tokio::test]
async fn create_success_returns_outputs() {
    let create = mock!(Cfn::create_stack).then_output(|| CreateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"]);
    let client = cfn(&[&create, &describe]);
    let s = cloudformation::create_stack(&client, &input(), &fast_wait())
        .await
        .unwrap();
    assert_eq!(s.status, "CREATE_COMPLETE");
    assert_eq!(s.id, ARN);
    assert_eq!(s.outputs.get("UserPoolId").map(String::as_str), Some("us-east-1_x"));
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn delete_failed_names_the_resource() {
    let describe = stacks_sequence(&["CREATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_FAILED"]);
    let delete = mock!(Cfn::delete_stack).then_output(|| DeleteStackOutput::builder().build());
    let events = mock!(Cfn::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "ScenariosBucket",
                "AWS::S3::Bucket",
                "DELETE_FAILED",
                "The bucket you tried to delete is not empty",
                None,
                0,
            ))
            .build()
    });
    let client = cfn(&[&describe, &delete, &events]);
    let err = cloudformation::delete_stack(&client, ARN, &fast_wait())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("delete of CloudFormation stack \"dlt\" failed: the stack is DELETE_FAILED"),
        "{msg}"
    );
    assert!(
        msg.contains("ScenariosBucket (AWS::S3::Bucket) DELETE_FAILED: The bucket you tried to delete is not empty")
    );
}

#[tokio::test]
async fn delete_of_missing_stack_succeeds() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .http_status(
            400,
            query_error("ValidationError", &format!("Stack with id {ARN} does not exist")),
        )
        .repeatedly()
        .build();
    let client = cfn(&[&describe]);
    cloudformation::delete_stack(&client, ARN, &fast_wait()).await.unwrap();
    assert_eq!(cloudformation::describe_stack(&client, "dlt").await.unwrap(), None);
}

#[tokio::test]
async fn update_rollback_complete_is_a_failure_and_can_be_updated_again() {
    let update = mock!(Cfn::update_stack).then_output(|| UpdateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&[
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]);
    let events = mock!(Cfn::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "DLTApiLambda",
                "AWS::Lambda::Function",
                "UPDATE_FAILED",
                "Resource handler returned message: \"Invalid runtime\"",
                None,
                0,
            ))
            .build()
    });
    let client = cfn(&[&update, &describe, &events]);
    let err = cloudformation::update_stack(&client, &input(), &fast_wait())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("update of CloudFormation stack \"dlt\" failed: the stack is UPDATE_ROLLBACK_COMPLETE"));
    assert!(msg.contains("DLTApiLambda (AWS::Lambda::Function) UPDATE_FAILED: Resource handler returned message"));

    // From UPDATE_ROLLBACK_COMPLETE the next update proceeds normally.
    let update = mock!(Cfn::update_stack).then_output(|| UpdateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&[
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]);
    let client = cfn(&[&update, &describe]);
    let s = cloudformation::update_stack(&client, &input(), &fast_wait())
        .await
        .unwrap();
    assert_eq!(s.status, "UPDATE_COMPLETE");
}

#[tokio::test]
async fn no_updates_to_perform_is_success() {
    let update = mock!(Cfn::update_stack)
        .sequence()
        .http_status(400, query_error("ValidationError", "No updates are to be performed."))
        .build();
    let describe = stacks_sequence(&["UPDATE_ROLLBACK_COMPLETE"]);
    let client = cfn(&[&update, &describe]);
    let mut inp = input();
    inp.template = Some(TemplateSource::UsePrevious);
    let s = cloudformation::update_stack(&client, &inp, &fast_wait()).await.unwrap();
    assert_eq!(s.status, "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn throttling_is_retried_then_succeeds() {
    let describe = mock!(Cfn::describe_stacks)
        .sequence()
        .http_status(400, query_error("Throttling", "Rate exceeded"))
        .times(2)
        .output(|| DescribeStacksOutput::builder().stacks(stack("CREATE_COMPLETE")).build())
        .repeatedly()
        .build();
    let client = cfn(&[&describe]);
    let s = cloudformation::describe_stack(&client, "dlt").await.unwrap().unwrap();
    assert_eq!(s.status, "CREATE_COMPLETE");
    assert_eq!(describe.num_calls(), 3);
}

#[tokio::test]
async fn api_errors_carry_code_and_message() {
    let create = mock!(Cfn::create_stack)
        .sequence()
        .http_status(
            400,
            query_error(
                "InsufficientCapabilitiesException",
                "Requires capabilities : [CAPABILITY_IAM]",
            ),
        )
        .build();
    let client = cfn(&[&create]);
    let msg = cloudformation::create_stack(&client, &input(), &fast_wait())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("InsufficientCapabilitiesException: Requires capabilities : [CAPABILITY_IAM]"),
        "{msg}"
    );
}

#[tokio::test]
async fn template_body_over_limit_is_refused_before_any_call() {
    let create = mock!(Cfn::create_stack).then_output(|| CreateStackOutput::builder().stack_id(ARN).build());
    let client = cfn(&[&create]);
    let mut inp = input();
    inp.template = Some(TemplateSource::Body(
        "x".repeat(cloudformation::MAX_TEMPLATE_BODY_BYTES + 1),
    ));
    let msg = cloudformation::create_stack(&client, &inp, &fast_wait())
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("51201 bytes") && msg.contains("template_url"), "{msg}");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn wait_times_out_with_the_stack_id() {
    let create = mock!(Cfn::create_stack).then_output(|| CreateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&["CREATE_IN_PROGRESS"]);
    let client = cfn(&[&create, &describe]);
    let mut wait = fast_wait();
    wait.timeout = Duration::from_millis(30);
    let err = cloudformation::create_stack(&client, &input(), &wait)
        .await
        .unwrap_err();
    assert!(matches!(err, StackError::Timeout { .. }), "{err}");
    assert_eq!(err.stack_id(), Some(ARN));
    assert!(err.to_string().contains("timeouts.create"), "{err}");
}

#[tokio::test]
async fn wait_stops_on_cancellation() {
    let create = mock!(Cfn::create_stack).then_output(|| CreateStackOutput::builder().stack_id(ARN).build());
    let describe = stacks_sequence(&["CREATE_IN_PROGRESS"]);
    let client = cfn(&[&create, &describe]);
    let mut wait = fast_wait();
    wait.initial_poll = Duration::from_secs(30);
    wait.max_poll = Duration::from_secs(30);
    let cancel = wait.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancel.cancel();
    });
    let err = cloudformation::create_stack(&client, &input(), &wait)
        .await
        .unwrap_err();
    assert!(matches!(err, StackError::Cancelled { .. }), "{err}");
    assert_eq!(err.stack_id(), Some(ARN));
}

// ---- SSM and Cognito ----

fn ssm_client(rules: &[&Rule]) -> aws_sdk_ssm::Client {
    mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules.iter().copied(), |c| c
        .retry_config(fast_retry()))
}

fn idp_client(rules: &[&Rule]) -> aws_sdk_cognitoidentityprovider::Client {
    mock_client!(
        aws_sdk_cognitoidentityprovider,
        RuleMode::MatchAny,
        rules.iter().copied(),
        |c| c.retry_config(fast_retry())
    )
}

const PASSWORD: &str = "Corr3ct-Horse-Battery!";

fn password_parameter() -> Rule {
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/cognito/password"))
        .then_output(|| {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name("/cognito/password")
                        .value(PASSWORD)
                        .version(3)
                        .build(),
                )
                .build()
        })
}

/// Both steps of the admin password workflow, as `dlt_stack` runs them on create.
async fn set_from_ssm(
    ssm: &aws_sdk_ssm::Client,
    idp: &aws_sdk_cognitoidentityprovider::Client,
    parameter: &str,
    user_pool_id: &str,
    username: &str,
) -> Result<i64, AdminPasswordError> {
    AdminPassword::read(ssm, parameter, None)
        .await?
        .set(idp, user_pool_id, username)
        .await
}

fn json_error(code: &str, message: &str) -> Option<String> {
    Some(format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"))
}

#[tokio::test]
async fn password_is_set_and_version_returned() {
    let get = password_parameter();
    let set = mock!(aws_sdk_cognitoidentityprovider::Client::admin_set_user_password)
        .match_requests(|r| {
            r.password() == Some(PASSWORD) && r.permanent() == Some(true) && r.username() == Some("dltadmin")
        })
        .then_output(|| {
            aws_sdk_cognitoidentityprovider::operation::admin_set_user_password::AdminSetUserPasswordOutput::builder()
                .build()
        });
    let version = set_from_ssm(
        &ssm_client(&[&get]),
        &idp_client(&[&set]),
        "/cognito/password",
        "us-east-1_pool",
        "dltadmin",
    )
    .await
    .unwrap();
    assert_eq!(version, 3);
    assert_eq!(set.num_calls(), 1);
}

#[tokio::test]
async fn secure_parameter_debug_never_shows_the_value() {
    let get = password_parameter();
    let p = ssm::get_secure_parameter(&ssm_client(&[&get]), "/cognito/password")
        .await
        .unwrap();
    assert!(!format!("{p:?}").contains(PASSWORD));
    assert_eq!(p.value.expose(), PASSWORD);
}

#[tokio::test]
async fn password_policy_violation_names_user_parameter_and_policy() {
    let get = password_parameter();
    let set = mock!(aws_sdk_cognitoidentityprovider::Client::admin_set_user_password)
        .sequence()
        .http_status(
            400,
            json_error(
                "InvalidPasswordException",
                "Password did not conform with policy: Password must have symbol characters",
            ),
        )
        .build();
    let err = set_from_ssm(
        &ssm_client(&[&get]),
        &idp_client(&[&set]),
        "/cognito/password",
        "us-east-1_pool",
        "dltadmin",
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            AdminPasswordError::Cognito {
                source: CognitoError::InvalidPassword { .. },
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("\"dltadmin\"") && msg.contains("\"/cognito/password\""),
        "{msg}"
    );
    assert!(msg.contains("password policy of user pool us-east-1_pool"), "{msg}");
    assert!(msg.contains("Password must have symbol characters"), "{msg}");
    assert!(!msg.contains(PASSWORD));
}

#[tokio::test]
async fn missing_parameter_is_named() {
    let get = mock!(aws_sdk_ssm::Client::get_parameter)
        .sequence()
        .http_status(400, json_error("ParameterNotFound", ""))
        .build();
    let idp = idp_client(&[]);
    let err = set_from_ssm(&ssm_client(&[&get]), &idp, "/nope", "us-east-1_pool", "dltadmin")
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdminPasswordError::Parameter(SsmError::NotFound { .. })),
        "{err}"
    );
    assert!(
        err.to_string().contains("SSM parameter \"/nope\" does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn parameter_version_without_decryption() {
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    let get = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.with_decryption() == Some(false))
        .then_output(|| {
            GetParameterOutput::builder()
                .parameter(
                    Parameter::builder()
                        .name("/p")
                        .value("AQICAH-ciphertext")
                        .version(7)
                        .build(),
                )
                .build()
        });
    assert_eq!(ssm::get_parameter_version(&ssm_client(&[&get]), "/p").await.unwrap(), 7);
}

#[tokio::test]
async fn access_denied_on_parameter_mentions_permissions() {
    let get = mock!(aws_sdk_ssm::Client::get_parameter)
        .sequence()
        .http_status(
            400,
            json_error(
                "AccessDeniedException",
                "User is not authorized to perform ssm:GetParameter",
            ),
        )
        .build();
    let err = ssm::get_secure_parameter(&ssm_client(&[&get]), "/p").await.unwrap_err();
    assert!(err.to_string().contains("kms:Decrypt"), "{err}");
}

#[tokio::test]
async fn missing_user_is_named() {
    let get = password_parameter();
    let set = mock!(aws_sdk_cognitoidentityprovider::Client::admin_set_user_password)
        .sequence()
        .http_status(400, json_error("UserNotFoundException", "User does not exist."))
        .build();
    let err = set_from_ssm(
        &ssm_client(&[&get]),
        &idp_client(&[&set]),
        "/cognito/password",
        "us-east-1_pool",
        "ghost",
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("user \"ghost\" does not exist in Cognito user pool us-east-1_pool"),
        "{msg}"
    );
    assert!(msg.contains("/cognito/password"), "{msg}");
}

/// A parameter at version 3 whose version 2 is still readable by `name:2`.
fn versioned_parameter(name: &'static str) -> Rule {
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(move |r| r.name().is_some_and(|n| n.starts_with(name)))
        .then_output(move || {
            let (value, version) = if name.ends_with(":2") {
                ("old-Passw0rd!", 2)
            } else {
                (PASSWORD, 3)
            };
            GetParameterOutput::builder()
                .parameter(Parameter::builder().name(name).value(value).version(version).build())
                .build()
        })
}

#[tokio::test]
async fn the_planned_version_is_read_when_the_parameter_rotated_since() {
    let latest = versioned_parameter("/cognito/password");
    let older = versioned_parameter("/cognito/password:2");
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&older, &latest], |c| c
        .retry_config(fast_retry()));
    let p = AdminPassword::read(&ssm, "/cognito/password", Some(2)).await.unwrap();
    assert_eq!(p.version(), 2);
    assert_eq!(older.num_calls(), 1);
    assert!(!format!("{p:?}").contains("old-Passw0rd!"));

    // The planned version is the latest: one read.
    let latest = versioned_parameter("/cognito/password");
    let ssm = ssm_client(&[&latest]);
    let p = AdminPassword::read(&ssm, "/cognito/password", Some(3)).await.unwrap();
    assert_eq!((p.version(), latest.num_calls()), (3, 1));
    // No planned version (create): the latest.
    let p = AdminPassword::read(&ssm, "/cognito/password", None).await.unwrap();
    assert_eq!(p.version(), 3);
}

#[tokio::test]
async fn an_arn_is_read_as_it_is() {
    let arn = "arn:aws:ssm:us-east-1:123456789012:parameter/cognito/password";
    let get = versioned_parameter("arn:aws:ssm:");
    let p = AdminPassword::read(&ssm_client(&[&get]), arn, Some(1)).await.unwrap();
    assert_eq!((p.version(), get.num_calls()), (3, 1));
}

#[tokio::test]
async fn a_missing_planned_version_names_the_parameter() {
    let latest = versioned_parameter("/cognito/password");
    let gone = mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/cognito/password:1"))
        .sequence()
        .http_status(400, json_error("ParameterVersionNotFound", ""))
        .build();
    let ssm = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, [&gone, &latest], |c| c
        .retry_config(fast_retry()));
    let err = AdminPassword::read(&ssm, "/cognito/password", Some(1))
        .await
        .unwrap_err();
    assert!(matches!(err, SsmError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("/cognito/password:1"), "{err}");
}

#[test]
fn the_creation_marker_is_stable_per_configuration_and_only_a_match_is_adopted() {
    let base = input();
    let m = cloudformation::creation_marker(&base);
    assert_eq!(
        m,
        cloudformation::creation_marker(&input()),
        "same arguments, same marker"
    );
    assert!(
        m.starts_with("dlt_stack-v1:") && m.len() == "dlt_stack-v1:".len() + 32,
        "{m}"
    );
    assert!(!m.contains("dltadmin"), "no value in the clear");
    // Every identifying argument changes it.
    let mut other = base.clone();
    other.parameters.insert("AdminName".into(), "someone".into());
    let mut renamed = base.clone();
    renamed.name = "dlt2".into();
    let mut tagged = base.clone();
    tagged.tags.insert("team".into(), "perf".into());
    let mut body = base.clone();
    body.template = Some(TemplateSource::Body("{}".into()));
    for changed in [&other, &renamed, &tagged, &body] {
        assert_ne!(cloudformation::creation_marker(changed), m);
    }
    assert_eq!(cloudformation::existing(Some(&m), &m), cloudformation::Existing::Adopt);
    assert!(matches!(
        cloudformation::existing(Some(&cloudformation::creation_marker(&other)), &m),
        cloudformation::Existing::Refuse(why) if why.contains("other arguments")
    ));
    assert!(
        matches!(cloudformation::existing(None, &m), cloudformation::Existing::Refuse(why) if why.contains("no creation marker"))
    );
}

/// `create_or_adopt` when the name is taken: its own stack is waited for (a create still
/// running) or taken as it is (updated since: judging it as a create would taint a working
/// stack); another configuration's or an unmarked one is refused, naming import.
#[tokio::test]
async fn create_or_adopt_takes_over_only_its_own_stack() {
    use aws_sdk_cloudformation::types::Tag;
    let ours = cloudformation::creation_marker(&input());
    let run = |statuses: &'static [&'static str], marker: Option<String>| async move {
        let create = mock!(Cfn::create_stack)
            .sequence()
            .http_status(400, query_error("AlreadyExistsException", "Stack [dlt] already exists"))
            .repeatedly()
            .build();
        let mut seq = mock!(Cfn::describe_stacks).sequence();
        for s in statuses {
            let (s, m) = (*s, marker.clone());
            seq = seq.output(move || {
                let mut st = stack(s).to_owned();
                st.tags = Some(
                    m.iter()
                        .map(|v| Tag::builder().key(cloudformation::MARKER_TAG).value(v).build())
                        .chain([Tag::builder().key("team").value("qa").build()])
                        .collect(),
                );
                DescribeStacksOutput::builder().stacks(st).build()
            });
        }
        let describe = seq.repeatedly().build();
        let events = mock!(Cfn::describe_stack_events).then_output(|| DescribeStackEventsOutput::builder().build());
        let client = cfn(&[&create, &describe, &events]);
        let out = cloudformation::create_or_adopt(&client, &input(), &fast_wait()).await;
        (out, describe.num_calls())
    };
    // A create still running: waited for, then adopted; the marker is not among the tags.
    let (out, polls) = run(
        &["CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", "CREATE_COMPLETE"],
        Some(ours.clone()),
    )
    .await;
    let (desc, adopted) = out.expect("adopted");
    assert!(
        adopted && desc.status == "CREATE_COMPLETE" && polls >= 3,
        "{desc:?} after {polls}"
    );
    assert_eq!(desc.marker.as_deref(), Some(ours.as_str()));
    assert_eq!(desc.tags, [("team".to_string(), "qa".to_string())].into());
    // Updated since: taken as it is, not judged as a failed create.
    let (out, _) = run(&["UPDATE_ROLLBACK_COMPLETE"], Some(ours.clone())).await;
    assert_eq!(out.expect("adopted").0.status, "UPDATE_ROLLBACK_COMPLETE");
    // A failed create of ours: the failure, with the stack id so it is recorded (tainted).
    let (out, _) = run(&["ROLLBACK_COMPLETE"], Some(ours.clone())).await;
    let err = out.expect_err("failed create");
    assert_eq!(
        (err.stack_id(), err.final_status()),
        (Some(ARN), Some("ROLLBACK_COMPLETE"))
    );
    // Not ours: refused, naming import and the ARN.
    for marker in [None, Some("dlt_stack-v1:0000".to_string())] {
        let (out, _) = run(&["CREATE_COMPLETE"], marker).await;
        let err = out.expect_err("refused");
        assert!(matches!(err, StackError::AlreadyExists { .. }), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("terraform import <this dlt_stack's address> {ARN}")),
            "{err}"
        );
    }
}
