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

/// A CloudFront distribution in moto (what the DLT console is served from); its id and domain.
fn console_distribution(rt: &tokio::runtime::Runtime, moto: &Moto) -> (String, String) {
    use aws_sdk_cloudfront::types::{
        DefaultCacheBehavior, DistributionConfig, Origin, Origins, S3OriginConfig, ViewerProtocolPolicy,
    };
    let clients = rt.block_on(moto.clients());
    let origin = Origin::builder()
        .id("console")
        .domain_name("dlt-console.s3.us-east-1.amazonaws.com")
        .s3_origin_config(S3OriginConfig::builder().origin_access_identity("").build())
        .build()
        .expect("origin");
    let config = DistributionConfig::builder()
        .caller_reference("dlt-e2e-console")
        .comment("Website distribution for the Distributed Load Testing solution")
        .enabled(true)
        .origins(Origins::builder().quantity(1).items(origin).build().expect("origins"))
        .default_cache_behavior(
            DefaultCacheBehavior::builder()
                .target_origin_id("console")
                .viewer_protocol_policy(ViewerProtocolPolicy::RedirectToHttps)
                .build()
                .expect("behaviour"),
        )
        .build()
        .expect("distribution config");
    let out = rt
        .block_on(
            clients
                .cloudfront
                .create_distribution()
                .distribution_config(config)
                .send(),
        )
        .expect("create distribution in moto");
    let d = out.distribution().expect("distribution");
    (d.id().to_string(), d.domain_name().to_string())
}

/// Issue 13 with neither the endpoint nor the console output: `api_endpoint` comes from the
/// RestApi moto's CloudFormation created, `console_url` from the console's CloudFront
/// distribution (listed beside it by the fault proxy, as moto's CloudFormation creates none;
/// its domain read through `GetDistribution` from moto's CloudFront), and a `dlt_test_run` wired
/// to both runs on the DLT v4 double: the discovered `https://<id>.execute-api…/prod/` does not
/// resolve here, so `endpoints.execute_api` sends the calls to the double, keeping `/prod/`.
/// Then `cloudfront:GetDistribution` is refused: `console_url` turns null with a warning that
/// names the permission and `output_names.console_url`.
#[test]
fn v4_template_without_endpoint_and_console_outputs_discovers_both_and_runs_on_them() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let double = double(DltVersion::V423);
    let target = TargetServer::start(TargetConfig::default());
    let (dist_id, dist_domain) = console_distribution(&rt, &moto);
    let mut template: serde_json::Value = serde_json::from_str(V4_TEMPLATE).expect("fixture");
    let outputs = template["Outputs"].as_object_mut().expect("outputs");
    outputs.remove("DLTApiEndpointD98B09AC");
    outputs.remove("ConsoleURL");
    let proxy = FaultProxy::start(moto.port());
    let listed = || {
        Fault::AddResources(vec![(
            "DLTConsoleResourcesDLTDashboardS3CloudFrontDistribution1F11B8BB".into(),
            dist_id.clone(),
            "AWS::CloudFront::Distribution".into(),
        )])
    };
    proxy.add("ListStackResources", listed(), None);
    let params = format!(
        "    MotoUserPoolId = \"{}\"\n    MotoClientId = \"{}\"\n    MotoIdentityPoolId = \"{}\"",
        seed.user_pool_id, seed.client_id, seed.identity_pool_id
    );
    let via = double.endpoint().trim_end_matches("/prod/").to_string();
    let hcl = moto.provider_block(&[
        ("cloudformation", &proxy.endpoint()),
        ("cloudfront", &proxy.endpoint()),
        ("execute_api", &via),
    ]) + &stack_block(&seed, &params, "")
        + &run_block(&target.url("/v4-discovered"))
        + "data \"dlt_stack\" \"read\" {\n  name = dlt_stack.main.id\n}\n";
    let ws = workspace(tf, &hcl);
    std::fs::write(ws.path().join("template.json"), template.to_string()).expect("template");
    let out = ws.apply();
    out.assert_ok();
    let s = ws.attributes("dlt_stack.main");
    let api_id = rt
        .block_on(async {
            let c = moto.clients().await;
            c.cloudformation
                .describe_stack_resource()
                .stack_name("DLT-flavour-e2e")
                .logical_resource_id("DLTApi0C903EB5")
                .send()
                .await
        })
        .ok()
        .and_then(|r| {
            r.stack_resource_detail()
                .and_then(|d| d.physical_resource_id().map(str::to_string))
        })
        .expect("RestApi id");
    let discovered = format!("https://{api_id}.execute-api.{}.amazonaws.com/prod/", moto::REGION);
    assert_eq!(s["api_endpoint"], discovered, "{s}");
    assert_eq!(s["console_url"], format!("https://{dist_domain}"), "{s}");
    let d = ws.attributes("data.dlt_stack.read");
    assert_eq!(d["console_url"], format!("https://{dist_domain}"), "data source: {d}");
    assert_eq!(d["api_endpoint"], discovered, "data source: {d}");
    assert!(
        proxy
            .actions()
            .contains(&format!("GET /2020-05-31/distribution/{dist_id}")),
        "{:?}",
        proxy.actions()
    );
    assert!(!flat(&out.all()).contains("not found"), "{}", out.all());
    let r = ws.attributes("dlt_test_run.gate");
    assert_eq!(r["status"], "complete", "{r}");
    assert_eq!(r["passed"], true, "{r}");
    let id = r["id"].as_str().unwrap_or_default();
    assert_eq!(r["console_url"], format!("https://{dist_domain}/details/{id}"));
    assert_eq!(
        double.executions(id),
        1,
        "the run went to the double through execute_api"
    );
    assert_eq!(double.auth_failures(), 0, "signed over the URL actually called");
    let plan = ws.plan_detailed();
    assert_eq!(plan.code, 0, "{}", plan.all());

    // The caller may not read CloudFront: null and a warning that says what to grant or map.
    proxy.clear();
    proxy.add("ListStackResources", listed(), None);
    proxy.add(
        &format!("GET /2020-05-31/distribution/{dist_id}"),
        Fault::Respond {
            status: 403,
            body: "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
                   <Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/ci \
                   is not authorized to perform: cloudfront:GetDistribution</Message></Error>\
                   <RequestId>fault-proxy</RequestId></ErrorResponse>"
                .into(),
        },
        None,
    );
    let out = ws.refresh();
    out.assert_ok();
    let text = flat(&out.all());
    assert!(
        text.contains("console_url: no output Console or ConsoleURL, and its AWS::CloudFront::Distribution")
            && text.contains("AccessDenied")
            && text.contains("allow cloudfront:GetDistribution")
            && text.contains("set output_names.console_url"),
        "{text}"
    );
    assert!(ws.attributes("dlt_stack.main")["console_url"].is_null());
    assert!(ws.attributes("data.dlt_stack.read")["console_url"].is_null());
}

/// `examples/dlt-v4` applies as written: its `main.tf` and `checkout.js` unchanged, with only a
/// Terraform override file and a variable pointing it at moto and the DLT v4 double. The staged
/// template is the v4 fixture without the endpoint output, so the run's `api_endpoint` is the
/// discovered `https://<id>.execute-api…/prod/` and reaches the double through
/// `endpoints.execute_api`; the k6 script lands in the scenarios bucket the stack created; the
/// run logs in with SRP through the stack's Cognito ids.
#[test]
fn the_dlt_v4_example_applies_as_written() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let clients = rt.block_on(moto.clients());
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/dlt-v4");
    let main_tf = std::fs::read_to_string(format!("{example}/main.tf")).expect("example main.tf");
    // The example's password parameter, holding the seeded user's password.
    rt.block_on(moto::put_password(&clients, "/dlt/admin-password", &seed.password));
    // The staged template: no endpoint output, and a scenarios bucket the double can be told.
    let bucket = "dlt-v4-example-scenarios";
    let mut template: serde_json::Value = serde_json::from_str(V4_TEMPLATE).expect("fixture");
    template["Outputs"]
        .as_object_mut()
        .expect("outputs")
        .remove("DLTApiEndpointD98B09AC");
    template["Resources"]["DLTTestRunnerStorageDLTScenariosBucketA9290D21"]["Properties"] =
        serde_json::json!({ "BucketName": bucket });
    rt.block_on(dlt_provider::aws::s3::put_object(
        &clients.s3,
        &seed.bucket,
        "dlt-v4.template",
        template.to_string().into_bytes(),
        None,
    ))
    .expect("stage the template");
    let template_url = format!("http://localhost:{}/{}/dlt-v4.template", moto.port(), seed.bucket);

    let mut config = DoubleConfig::for_version(DltVersion::V423).with_moto_identities();
    config.region = moto::REGION.to_string();
    config.regions = vec![moto::REGION.to_string()];
    config.vcpu_details = serde_json::json!({ moto::REGION: {"vCPULimit": 4000, "vCPUsPerTask": 2, "vCPUsInUse": 10} });
    config.s3_bucket = Some((clients.s3.clone(), bucket.to_string()));
    let double = DltDouble::start(config);
    let via = double.endpoint().trim_end_matches("/prod/").to_string();

    // What an override file may change: where the provider's calls go, and the template's
    // moto-only parameters (moto's CloudFormation creates no Cognito resources).
    let provider = moto
        .provider_block(&[("execute_api", &via)])
        .replace("\"dlt\" {\n", "\"dlt\" {\n  # moto and the DLT double instead of AWS\n");
    let overrides = format!(
        r#"{provider}
resource "dlt_stack" "main" {{
  parameters = {{
    AdminName          = "dltadmin"
    AdminEmail         = "qa@example.com"
    MotoUserPoolId     = "{pool}"
    MotoClientId       = "{client}"
    MotoIdentityPoolId = "{identity}"
  }}
}}
"#,
        pool = seed.user_pool_id,
        client = seed.client_id,
        identity = seed.identity_pool_id,
    );
    let ws = workspace(tf, &main_tf);
    std::fs::write(ws.path().join("moto_override.tf"), overrides).expect("override file");
    std::fs::copy(format!("{example}/checkout.js"), ws.path().join("checkout.js")).expect("k6 script");
    let var = format!("template_url={template_url}");
    let out = ws.run(&["apply", "-no-color", "-input=false", "-auto-approve", "-var", &var]);
    out.assert_ok();

    let s = ws.attributes("dlt_stack.main");
    let endpoint = s["api_endpoint"].as_str().unwrap_or_default().to_string();
    assert!(
        endpoint.starts_with("https://")
            && endpoint.ends_with(&format!(".execute-api.{}.amazonaws.com/prod/", moto::REGION)),
        "discovered: {s}"
    );
    assert_eq!(s["scenarios_bucket"], bucket, "{s}");
    let r = ws.attributes("dlt_test_run.checkout_k6");
    assert_eq!(r["status"], "complete", "{r}");
    assert_eq!(r["passed"], true, "{r}");
    let id = r["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(double.executions(&id), 1);
    assert_eq!(double.auth_failures(), 0, "SRP login with the stack's Cognito ids");
    let item = double.item(&id).expect("test in the double");
    assert_eq!(item["testType"], "k6", "{item}");
    let script = rt
        .block_on(
            clients
                .s3
                .head_object()
                .bucket(bucket)
                .key(format!("public/test-scenarios/k6/{id}.js"))
                .send(),
        )
        .is_ok();
    assert!(script, "the example's k6 script in the stack's scenarios bucket");
    assert!(
        ws.path().join("reports/checkout-k6.xml").is_file(),
        "the example's JUnit report"
    );
    let plan = ws.run(&["plan", "-no-color", "-input=false", "-detailed-exitcode", "-var", &var]);
    assert_eq!(plan.code, 0, "{}", plan.all());
}
