//! AWS failures reach the user as diagnostics built from the error's parts, never as the SDK's
//! dump of the request: secrets planted in every request field (the Cognito password from SSM,
//! the assume-role external id, the session token, the secret key) appear in no diagnostic, no
//! Terraform output and no TRACE log, whether the endpoint is unusable, closed, or answers with an
//! error. Real Terraform, moto, and the fault proxy for the error answers moto does not give.

mod support;

use support::fault_proxy::{Fault, FaultProxy};
use support::moto::{self, workspace, Moto};
use support::terraform::{self, Workspace};
use support::{assert_clean, flat, runtime};

const EXTERNAL_ID: &str = "planted-external-id-5f1c9a";
const SESSION_TOKEN: &str = "PlantedSessionToken0x7e3b19";
const PASSWORD: &str = "Planted-Passw0rd-7Q!x";

fn secrets() -> [&'static str; 4] {
    [EXTERNAL_ID, SESSION_TOKEN, PASSWORD, moto::SECRET_ACCESS_KEY]
}

/// A provider block like the suite's, with `assume_role` and one endpoint replaced.
fn provider(moto: &Moto, overrides: &[(&str, &str)]) -> String {
    let block = moto.provider_block(overrides);
    let role = format!(
        "  assume_role = {{\n    role_arn     = \"arn:aws:iam::123456789012:role/dlt-deployer\"\n    \
         external_id  = \"{EXTERNAL_ID}\"\n  }}\n}}\n"
    );
    block.trim_end().trim_end_matches('}').to_string() + &role
}

fn traced(ws: &mut Workspace) -> std::path::PathBuf {
    let log = ws.path().join("tf-trace.log");
    ws.env("TF_LOG", "TRACE")
        .env("TF_LOG_PATH", &log.display().to_string())
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN);
    log
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

const DATA: &str = "data \"dlt_stack\" \"x\" {\n  name = \"DLT-absent\"\n}\n";

#[test]
fn unusable_and_closed_sts_endpoints_never_show_the_external_id() {
    let Some(tf) = terraform::primary() else { return };
    let Some(moto) = Moto::start() else { return };
    let closed = format!("http://127.0.0.1:{}", closed_port());
    // Endpoints the `url` crate accepts but the SDK cannot use: rejected at plan time, naming
    // the attribute. Before, they reached the SDK, whose error held the unsigned AssumeRole body.
    for bad in ["http:///x", "http://127.0.0.1:9/ space"] {
        let mut ws = workspace(tf, &(provider(&moto, &[("sts", bad)]) + DATA));
        let log = traced(&mut ws);
        let run = ws.plan();
        run.assert_failed();
        let out = flat(&run.all());
        assert!(out.contains("endpoints.sts is not a URL the AWS SDK can use"), "{out}");
        assert_clean("plan output", &run.all(), &secrets());
        assert_clean(
            "TRACE log",
            &std::fs::read_to_string(log).unwrap_or_default(),
            &secrets(),
        );
    }
    // A closed STS endpoint: the credentials cannot be loaded; the diagnostic says so and why.
    let mut ws = workspace(tf, &(provider(&moto, &[("sts", &closed)]) + DATA));
    let log = traced(&mut ws);
    let run = ws.plan();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains("could not load AWS credentials"), "{out}");
    assert!(out.to_lowercase().contains("connection refused"), "{out}");
    assert_clean("plan output", &run.all(), &secrets());
    assert_clean(
        "TRACE log",
        &std::fs::read_to_string(log).unwrap_or_default(),
        &secrets(),
    );
}

#[test]
fn closed_service_endpoint_says_it_could_not_connect() {
    let Some(tf) = terraform::primary() else { return };
    let Some(moto) = Moto::start() else { return };
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let mut ws = workspace(tf, &(moto.provider_block(&[("cloudformation", &closed)]) + DATA));
    let log = traced(&mut ws);
    let run = ws.plan();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains("could not reach the AWS endpoint"), "{out}");
    let trace = std::fs::read_to_string(log).unwrap_or_default();
    assert_clean("TRACE log", &trace, &secrets());
}

#[test]
fn error_answers_are_shown_without_any_request_field() {
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let tf = terraform::primary().expect("terraform");
    let clients = rt.block_on(moto.clients());
    rt.block_on(moto::put_password(&clients, &seed.parameter, PASSWORD));
    let proxy = FaultProxy::start(moto.port());
    let json_error = |ty: &str, msg: &str| Fault::Respond {
        status: 400,
        body: format!("{{\"__type\":\"{ty}\",\"message\":\"{msg}\"}}"),
    };

    // AssumeRole refused: the STS answer, not the request that carried the external id.
    proxy.add(
        "AssumeRole",
        Fault::Respond {
            status: 403,
            body: "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
                   <Code>AccessDenied</Code><Message>not authorized to perform sts:AssumeRole</Message></Error>\
                   <RequestId>sts-req-42</RequestId></ErrorResponse>"
                .into(),
        },
        None,
    );
    let mut ws = workspace(tf, &(provider(&moto, &[("sts", &proxy.endpoint())]) + DATA));
    let log = traced(&mut ws);
    let run = ws.plan();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains("could not load AWS credentials"), "{out}");
    assert!(out.contains("AccessDenied"), "{out}");
    assert_clean("plan output", &run.all(), &secrets());
    assert_clean(
        "TRACE log",
        &std::fs::read_to_string(&log).unwrap_or_default(),
        &secrets(),
    );
    assert!(
        proxy.actions().iter().any(|a| a == "AssumeRole"),
        "{:?}",
        proxy.actions()
    );

    // AdminSetUserPassword refused while the stack is created: the request held the password.
    proxy.clear();
    proxy.add(
        "AdminSetUserPassword",
        json_error("InvalidPasswordException", "Password does not conform to policy"),
        None,
    );
    let stack = seed.stack_hcl("DLT-Secrets-e2e");
    let mut ws = workspace(
        tf,
        &(moto.provider_block(&[("cognito_idp", &proxy.endpoint())]) + &stack),
    );
    let log = traced(&mut ws);
    let run = ws.apply();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains("does not satisfy the password policy"), "{out}");
    assert_clean("apply output", &run.all(), &secrets());
    assert_clean("state", &ws.state_text(), &secrets());
    assert_clean(
        "TRACE log",
        &std::fs::read_to_string(&log).unwrap_or_default(),
        &secrets(),
    );

    // GetParameter refused: the SSM value never arrives, and the name is all that is said.
    proxy.clear();
    proxy.add(
        "GetParameter",
        json_error("AccessDeniedException", "not authorized to perform ssm:GetParameter"),
        None,
    );
    ws.write_config(&(moto.provider_block(&[("ssm", &proxy.endpoint())]) + &stack));
    let run = ws.apply();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains("AccessDeniedException"), "{out}");
    assert_clean("apply output", &run.all(), &secrets());
    assert_clean(
        "TRACE log",
        &std::fs::read_to_string(&log).unwrap_or_default(),
        &secrets(),
    );
    proxy.clear();
    ws.destroy().assert_ok();
}

#[test]
fn external_id_is_sensitive_in_the_schema() {
    let Some(tf) = terraform::primary() else { return };
    let ws = Workspace::new(tf, "provider \"dlt\" {\n  region = \"us-east-1\"\n}\n");
    let schema = ws.schema_json();
    let provider = schema["provider_schemas"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("provider schema");
    let attr = &provider["provider"]["block"]["block_types"]["assume_role"]["block"]["attributes"]["external_id"];
    let attr = if attr.is_null() {
        &provider["provider"]["block"]["attributes"]["assume_role"]["nested_type"]["attributes"]["external_id"]
    } else {
        attr
    };
    assert_eq!(attr["sensitive"], true, "{provider}");
}
