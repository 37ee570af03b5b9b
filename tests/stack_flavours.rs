//! `dlt_stack` (resource and data source) on each template flavour of today's DLT, under real
//! Terraform against moto, and a `dlt_test_run` wired to it applying against the DLT double:
//!
//! - the official v4.2.3 output names (`ConsoleURL`, `CognitoUserPoolID`, `ScenariosBucket`, …);
//! - v4 without the endpoint output: the endpoint is discovered from the RestApi that moto's
//!   CloudFormation created (stage `prod`, the partition's DNS suffix);
//! - upstream v3.2.1 (no Cognito or bucket outputs): the Cognito ids and the bucket come from the
//!   stack's resources. moto's CloudFormation does not create Cognito resources, so the fault
//!   proxy answers `ListStackResources` (two pages and a nested stack) with the ids the harness
//!   created through the Cognito API.
//!
//! The fixtures are `tests/fixtures/stack/dlt-v4.json` and `dlt-v321-upstream.json`; their output
//! names and logical ids are the upstream templates' (CDK snapshot tests at v3.2.1 and v4.2.3).

mod support;

use support::dlt_double::{self, DltDouble, DltVersion, DoubleConfig};
use support::fault_proxy::{self, Fault, FaultProxy};
use support::moto::{self, workspace, Moto, Seed};
use support::target::{TargetConfig, TargetServer};
use support::{flat, runtime, terraform};

const V4_TEMPLATE: &str = include_str!("fixtures/stack/dlt-v4.json");
const V321_TEMPLATE: &str = include_str!("fixtures/stack/dlt-v321-upstream.json");

/// A `dlt_stack.main` on `template` (written next to the configuration) with `params` lines.
fn stack_block(seed: &Seed, params: &str, extra: &str) -> String {
    format!(
        r#"resource "dlt_stack" "main" {{
  name          = "DLT-flavour-e2e"
  template_body = file("${{path.module}}/template.json")
  parameters = {{
    AdminName = "{user}"
{params}
  }}
  admin_password = {{ ssm_parameter = "{param}" }}
{extra}
}}
"#,
        user = seed.username,
        param = seed.parameter,
    )
}

/// A `dlt_test_run` that takes everything from `dlt_stack.main`, logging in through Cognito.
fn run_block(url: &str) -> String {
    format!(
        r#"resource "dlt_test_run" "gate" {{
  name = "flavour-gate"
  dlt = {{
    api_endpoint     = dlt_stack.main.api_endpoint
    region           = "{region}"
    console_url      = dlt_stack.main.console_url
    scenarios_bucket = dlt_stack.main.scenarios_bucket
    cognito = {{
      user_pool_id           = dlt_stack.main.user_pool_id
      client_id              = dlt_stack.main.user_pool_client_id
      identity_pool_id       = dlt_stack.main.identity_pool_id
      username               = "dltadmin"
      password_ssm_parameter = "/dlt/e2e/admin-password"
    }}
  }}
  scenario = {{ requests = [{{ url = "{url}" }}] }}
  load     = {{ concurrency = 2, task_count = 1, hold_for = "1m" }}
  gates    = {{ min_success_rate = 99 }}
}}
"#,
        region = dlt_double::REGION,
    )
}

fn double(version: DltVersion) -> DltDouble {
    DltDouble::start(DoubleConfig::for_version(version).with_moto_identities())
}

#[test]
fn v4_template_outputs_feed_a_run_on_dlt_v4() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let double = double(DltVersion::V423);
    let target = TargetServer::start(TargetConfig::default());
    let params = format!(
        "    ApiEndpoint = \"{}\"\n    MotoUserPoolId = \"{}\"\n    MotoClientId = \"{}\"\n    MotoIdentityPoolId = \"{}\"",
        double.endpoint(),
        seed.user_pool_id,
        seed.client_id,
        seed.identity_pool_id
    );
    let hcl = moto.provider_block(&[]) + &stack_block(&seed, &params, "") + &run_block(&target.url("/v4"));
    let ws = workspace(tf, &hcl);
    std::fs::write(ws.path().join("template.json"), V4_TEMPLATE).expect("template");
    let out = ws.apply();
    out.assert_ok();
    let s = ws.attributes("dlt_stack.main");
    assert_eq!(s["console_url"], "https://d444444abcdef8.cloudfront.net", "{s}");
    assert_eq!(s["api_endpoint"], double.endpoint());
    assert_eq!(s["user_pool_id"], seed.user_pool_id.as_str());
    assert_eq!(s["user_pool_client_id"], seed.client_id.as_str());
    assert_eq!(s["identity_pool_id"], seed.identity_pool_id.as_str());
    assert!(s["scenarios_bucket"].as_str().is_some_and(|b| !b.is_empty()), "{s}");
    assert!(!flat(&out.all()).contains("not found"), "{}", out.all());
    let r = ws.attributes("dlt_test_run.gate");
    assert_eq!(r["status"], "complete", "{r}");
    assert_eq!(r["passed"], true, "{r}");
    let id = r["id"].as_str().unwrap_or_default();
    assert_eq!(
        r["console_url"],
        format!("https://d444444abcdef8.cloudfront.net/details/{id}")
    );
    assert_eq!(double.executions(id), 1);
    assert_eq!(double.auth_failures(), 0, "signed with the discovered Cognito ids");
}

#[test]
fn v4_template_without_the_endpoint_output_discovers_the_rest_api() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    // A customised v4 template: no endpoint output and no scenarios-bucket output.
    let mut template: serde_json::Value = serde_json::from_str(V4_TEMPLATE).expect("fixture");
    let outputs = template["Outputs"].as_object_mut().expect("outputs");
    outputs.remove("DLTApiEndpointD98B09AC");
    outputs.remove("ScenariosBucket");
    template["Resources"]
        .as_object_mut()
        .expect("resources")
        .remove("DLTTestRunnerStorageDLTScenariosBucketA9290D21");
    let params = format!(
        "    MotoUserPoolId = \"{}\"\n    MotoClientId = \"{}\"\n    MotoIdentityPoolId = \"{}\"",
        seed.user_pool_id, seed.client_id, seed.identity_pool_id
    );
    let data = r#"
data "dlt_stack" "read" {
  name = dlt_stack.main.id
}
"#;
    let hcl = moto.provider_block(&[]) + &stack_block(&seed, &params, "") + data;
    let ws = workspace(tf, &hcl);
    std::fs::write(ws.path().join("template.json"), template.to_string()).expect("template");
    let out = ws.apply();
    out.assert_ok();
    let s = ws.attributes("dlt_stack.main");
    // The RestApi moto's CloudFormation created, with DLT's stage.
    let clients = rt.block_on(moto.clients());
    let api = rt
        .block_on(
            clients
                .cloudformation
                .describe_stack_resource()
                .stack_name("DLT-flavour-e2e")
                .logical_resource_id("DLTApi0C903EB5")
                .send(),
        )
        .expect("RestApi resource");
    let api_id = api
        .stack_resource_detail()
        .and_then(|d| d.physical_resource_id())
        .expect("RestApi id")
        .to_string();
    let expected = format!("https://{api_id}.execute-api.{}.amazonaws.com/prod/", moto::REGION);
    assert_eq!(s["api_endpoint"], expected, "{s}");
    assert_eq!(s["console_url"], "https://d444444abcdef8.cloudfront.net");
    assert!(s["scenarios_bucket"].is_null(), "{s}");
    let d = ws.attributes("data.dlt_stack.read");
    assert_eq!(d["api_endpoint"], expected, "data source: {d}");
    // What is missing is named, with how to map it.
    let text = flat(&out.all());
    assert!(text.contains("DLT stack values not found"), "{text}");
    assert!(
        text.contains("scenarios_bucket: no output Bucket3 or ScenariosBucket")
            && text.contains("set output_names.scenarios_bucket"),
        "{text}"
    );
    assert!(!text.contains("- api_endpoint:"), "{text}");
    // Planning again is quiet: the discovered endpoint is kept, nothing changes.
    let plan = ws.plan_detailed();
    assert_eq!(plan.code, 0, "{}", plan.all());

    // output_names wins over discovery: the endpoint now comes from an output of our choosing.
    let hcl = moto.provider_block(&[])
        + &stack_block(
            &seed,
            &params,
            "  output_names = { api_endpoint = \"RegionalCFTemplate\" }",
        )
        + data;
    ws.write_config(&hcl);
    ws.apply().assert_ok();
    assert_eq!(
        ws.attributes("dlt_stack.main")["api_endpoint"],
        "https://example-bucket.s3.amazonaws.com/regional-template.json"
    );
}

#[test]
fn upstream_v321_template_gets_cognito_and_bucket_from_its_resources() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let double = double(DltVersion::V321);
    let target = TargetServer::start(TargetConfig::default());
    let bucket = "dlt-v321-scenarios";
    // moto creates the bucket; the Cognito resources (which moto skips) and the API are listed by
    // the proxy, over two pages and a nested stack, as CloudFormation would list upstream v3.2.1.
    let proxy = FaultProxy::start(moto.port());
    let page1 = fault_proxy::stack_resources_body(
        &[
            ("DLTApi0C903EB5", "fixtureapi", "AWS::ApiGateway::RestApi"),
            ("DLTApiDeploymentStageprodC81F8DCB", "prod", "AWS::ApiGateway::Stage"),
            (
                "DLTCognitoAuthDLTUserPoolFA41A712",
                &seed.user_pool_id,
                "AWS::Cognito::UserPool",
            ),
            ("DLTCommonResourcesLogsBucket48A2774D", "dlt-logs", "AWS::S3::Bucket"),
        ],
        Some("page2"),
    );
    let nested_arn = "arn:aws:cloudformation:us-east-1:123456789012:stack/DLT-nested-auth/1";
    let page2 = fault_proxy::stack_resources_body(
        &[
            (
                "DLTCognitoAuthDLTUserPoolClientA2F8B2DB",
                &seed.client_id,
                "AWS::Cognito::UserPoolClient",
            ),
            (
                "DLTTestRunnerStorageDLTScenariosBucketA9290D21",
                bucket,
                "AWS::S3::Bucket",
            ),
            ("DLTAuthNested", nested_arn, "AWS::CloudFormation::Stack"),
        ],
        None,
    );
    let nested = fault_proxy::stack_resources_body(
        &[(
            "DLTCognitoAuthDLTIdentityPoolE110578F",
            &seed.identity_pool_id,
            "AWS::Cognito::IdentityPool",
        )],
        None,
    );
    let respond = |body: String| Fault::Respond { status: 200, body };
    proxy.add_when("ListStackResources", Some("NextToken=page2"), respond(page2), None);
    proxy.add_when("ListStackResources", Some("DLT-nested-auth"), respond(nested), None);
    proxy.add("ListStackResources", respond(page1), None);

    let params = format!(
        "    ApiEndpoint = \"{}\"\n    ScenariosBucketName = \"{bucket}\"",
        double.endpoint()
    );
    let hcl = moto.provider_block(&[("cloudformation", &proxy.endpoint())])
        + &stack_block(&seed, &params, "")
        + &run_block(&target.url("/v3"));
    let ws = workspace(tf, &hcl);
    std::fs::write(ws.path().join("template.json"), V321_TEMPLATE).expect("template");
    let out = ws.apply();
    out.assert_ok();
    let s = ws.attributes("dlt_stack.main");
    assert_eq!(s["user_pool_id"], seed.user_pool_id.as_str(), "{s}");
    assert_eq!(s["user_pool_client_id"], seed.client_id.as_str());
    assert_eq!(
        s["identity_pool_id"],
        seed.identity_pool_id.as_str(),
        "from the nested stack"
    );
    assert_eq!(s["scenarios_bucket"], bucket);
    assert_eq!(s["console_url"], "https://d321321abcdef8.cloudfront.net");
    assert_eq!(s["api_endpoint"], double.endpoint(), "the output wins over the RestApi");
    let lists = proxy.actions().iter().filter(|a| *a == "ListStackResources").count();
    assert!(lists >= 3, "two pages and the nested stack: {:?}", proxy.actions());
    assert!(
        !flat(&out.all()).contains("DLT stack values not found"),
        "{}",
        out.all()
    );
    // The admin password was set on the discovered pool, and the run logged in with it.
    assert_eq!(
        rt.block_on(moto::user_status(
            &rt.block_on(moto.clients()),
            &seed.user_pool_id,
            &seed.username
        )),
        "CONFIRMED"
    );
    let r = ws.attributes("dlt_test_run.gate");
    assert_eq!(r["passed"], true, "{r}");
    assert_eq!(double.auth_failures(), 0);
    let plan = ws.plan_detailed();
    assert_eq!(plan.code, 0, "{}", plan.all());
}
