//! The `dlt_stack` schema; the data source reuses the shared parts. The checks of the arguments
//! are the configuration model's (`config.rs`), which reads exactly the attributes named here.

use crate::dlt::stack_outputs::WellKnown;
use crate::plugin::{timeouts_block, Attribute, Block, Schema};

fn output_names_attribute() -> Attribute {
    let attrs = WellKnown::ALL
        .iter()
        .map(|w| {
            Attribute::string(w.attribute()).optional().describe(&format!(
                "Stack output to read `{}` from, instead of the built-in names ({}).",
                w.attribute(),
                w.output_names()
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
        .collect();
    Attribute::single("output_names", attrs).optional().describe(
        "Maps well-known attributes to output names of templates that name their outputs differently. An entry \
         replaces the built-in names and the discovery from stack resources for that attribute.",
    )
}

/// The computed attributes shared with the data source.
pub fn computed_stack_attributes() -> Vec<Attribute> {
    vec![
        Attribute::string("status")
            .computed()
            .describe("Stack status, such as `CREATE_COMPLETE`."),
        Attribute::string_map("outputs")
            .computed()
            .describe("All stack outputs, by output name."),
        Attribute::string("api_endpoint").computed().describe(
            "DLT REST API base URL (output `DLTApiEndpointD98B09AC`, or `output_names.api_endpoint`; without the \
             output, built from the stack's `AWS::ApiGateway::RestApi` and `AWS::ApiGateway::Stage`); null when none \
             is found.",
        ),
        Attribute::string("console_url").computed().describe(
            "DLT web console URL (output `Console`, with `https://` added to the bare CloudFront domain, or v4's \
             `ConsoleURL`).",
        ),
        Attribute::string("user_pool_id").computed().describe(
            "Cognito user pool id (output `UserPoolId` or `CognitoUserPoolID`, else the stack's \
             `AWS::Cognito::UserPool`).",
        ),
        Attribute::string("user_pool_client_id").computed().describe(
            "Cognito user pool app client id (output `ClientId` or `CognitoAppClientID`, else the stack's DLT \
             `AWS::Cognito::UserPoolClient`).",
        ),
        Attribute::string("identity_pool_id").computed().describe(
            "Cognito identity pool id (output `IdentityPoolId` or `CognitoIdentityPoolID`, else the stack's \
             `AWS::Cognito::IdentityPool`).",
        ),
        Attribute::string("scenarios_bucket").computed().describe(
            "S3 bucket DLT reads test scenarios from (output `Bucket3` or `ScenariosBucket`, else the stack's \
             `AWS::S3::Bucket` whose logical id contains `ScenariosBucket`).",
        ),
    ]
}

pub fn schema() -> Schema {
    let mut attrs =
        vec![
        Attribute::string("id").computed().use_state_for_unknown().describe("The stack ARN."),
        Attribute::string("name")
            .required()
            .requires_replace()
            .describe("Stack name. Changing it creates a new stack (and deletes the old one)."),
        Attribute::string("template_url").optional().describe(
            "URL of the template in S3 (up to 460,800 bytes). Exactly one of `template_url` and `template_body` is \
             required; the DLT template (~117 KB) needs `template_url`.",
        ),
        Attribute::string("template_body").optional().describe(
            "Template text (JSON or YAML), at most 51,200 bytes. Exactly one of `template_url` and `template_body` \
             is required.",
        ),
        Attribute::string_map("parameters").optional().describe(
            "Template parameters. Only the keys set here are compared with the live stack on refresh; keys left out \
             take the template default on update.",
        ),
        Attribute::typed("capabilities", crate::plugin::Type::set(crate::plugin::Type::String))
            .optional()
            .describe(
                "Capabilities to acknowledge: `CAPABILITY_IAM`, `CAPABILITY_NAMED_IAM`, `CAPABILITY_AUTO_EXPAND`. \
                 The DLT template needs `CAPABILITY_IAM`.",
            ),
        Attribute::string("on_failure").default("ROLLBACK").describe(
            "What CloudFormation does when the create fails: `ROLLBACK` (default), `DELETE` or `DO_NOTHING`. Used \
             only on create; a failed create leaves the resource tainted (or, with `DELETE`, not in state).",
        ),
        Attribute::string_map("tags").optional().describe("Stack tags, propagated by CloudFormation to resources."),
        Attribute::string("iam_role_arn")
            .optional()
            .describe("IAM role CloudFormation assumes for stack operations (its service role)."),
        Attribute::typed("notification_arns", crate::plugin::Type::set(crate::plugin::Type::String))
            .optional()
            .describe("SNS topic ARNs that receive stack events."),
        Attribute::single(
            "admin_password",
            vec![
                Attribute::string("ssm_parameter").required().describe(
                    "Name or ARN of the SSM parameter (normally a SecureString) holding the password. Read with \
                     decryption at apply time; its value never enters state, plan or logs.",
                ),
                Attribute::string("username").optional().describe(
                    "Cognito username to set the password for. Defaults to `parameters[\"AdminName\"]`. Use the \
                     username, not the email alias.",
                ),
            ],
        )
        .optional()
        .describe(
            "Sets a permanent password for the stack's Cognito admin user (which DLT creates in \
             `FORCE_CHANGE_PASSWORD`), so headless logins work. A new version of the parameter plans an in-place \
             update that only re-sets the password.",
        ),
        output_names_attribute(),
    ];
    attrs.extend(computed_stack_attributes());
    attrs.push(
        Attribute::number("admin_password_version")
            .computed()
            .describe("Version of the SSM parameter whose value was last set as the admin password."),
    );
    let mut timeouts = timeouts_block(&["create", "update", "delete"]);
    for a in &mut timeouts.block.attributes {
        a.description = format!(
            "How long `{}` may wait for the stack, such as `\"90m\"`. Default `60m`.",
            a.name
        );
    }
    Schema::new(
        Block::new(attrs)
            .with_block(timeouts)
            .describe("Deploys the Distributed Load Testing on AWS CloudFormation stack and sets its admin password."),
    )
}
