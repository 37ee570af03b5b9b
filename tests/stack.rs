//! End-to-end tests of `dlt_stack` and `data "dlt_stack"` with real Terraform against moto.
//!
//! Failure paths moto cannot produce run through the fault proxy placed at the provider's
//! CloudFormation endpoint. Every test skips (with a note) when moto or Terraform is missing.

mod support;

use support::fault_proxy::{self, Fault, FaultProxy};
use support::moto::{self, workspace, Moto, Seed};
use support::terraform;
use support::{assert_clean, flat, runtime};

const STACK: &str = "DLT-Load-Test-e2e";

fn provider_block(moto: &Moto, cfn_endpoint: &str) -> String {
    moto.provider_block(&[("cloudformation", cfn_endpoint)])
}

/// The `dlt_stack.main` block. `extra_params` are more `key = "value"` lines for `parameters`;
/// `template` is the `template_url = ...` or `template_body = ...` line.
fn stack_block(seed: &Seed, template: &str, extra_params: &str, extra: &str) -> String {
    format!(
        r#"resource "dlt_stack" "main" {{
  name         = "{STACK}"
  {template}
  parameters = {{
    AdminName          = "{user}"
    MotoUserPoolId     = "{pool}"
    MotoClientId       = "{client}"
    MotoIdentityPoolId = "{identity}"
    {extra_params}
  }}
  capabilities = ["CAPABILITY_IAM"]
  tags         = {{ team = "qa" }}

  admin_password = {{
    ssm_parameter = "{param}"
  }}
  {extra}

  timeouts {{
    create = "2m"
    update = "2m"
    delete = "2m"
  }}
}}
"#,
        user = seed.username,
        pool = seed.user_pool_id,
        client = seed.client_id,
        identity = seed.identity_pool_id,
        param = seed.parameter,
    )
}

#[test]
fn lifecycle_create_rotate_update_import_refresh_destroy() {
    terraform::for_each_terraform(|tf| {
        let rt = runtime();
        let Some((moto, seed)) = Moto::start_seeded(&rt) else {
            return;
        };
        let clients = rt.block_on(moto.clients());
        let hcl = |extra_params: &str, extra: &str| {
            provider_block(&moto, &moto.endpoint())
                + &stack_block(
                    &seed,
                    &format!("template_url = \"{}\"", seed.template_url),
                    extra_params,
                    extra,
                )
        };
        let mut ws = workspace(tf, &hcl("", ""));
        let log_path = ws.path().join("tf-trace.log");
        ws.env("TF_LOG", "TRACE")
            .env("TF_LOG_PATH", &log_path.display().to_string());
        let mut transcript = String::new();

        // Create: outputs, well-known attributes, password set from SSM.
        let run = ws.apply();
        transcript += &run.all();
        run.assert_ok();
        let a = ws.attributes("dlt_stack.main");
        assert!(a["id"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:cloudformation:us-east-1:123456789012:stack/"));
        assert_eq!(a["status"], "CREATE_COMPLETE");
        assert_eq!(a["user_pool_id"], seed.user_pool_id.as_str());
        assert_eq!(a["user_pool_client_id"], seed.client_id.as_str());
        assert_eq!(a["identity_pool_id"], seed.identity_pool_id.as_str());
        assert_eq!(
            a["api_endpoint"],
            "https://fixtureapi.execute-api.us-east-1.amazonaws.com/prod/"
        );
        assert_eq!(a["console_url"], "https://d111111abcdef8.cloudfront.net");
        assert!(
            a["scenarios_bucket"]
                .as_str()
                .is_some_and(|b| b.contains("scenariosbucket")),
            "{a}"
        );
        assert_eq!(a["outputs"]["AdminEmailEcho"], "qa@example.com");
        assert_eq!(a["admin_password_version"], 1);
        assert_eq!(
            rt.block_on(moto::user_status(&clients, &seed.user_pool_id, &seed.username)),
            "CONFIRMED"
        );
        rt.block_on(moto::login(&clients, &seed.client_id, &seed.username, &seed.password))
            .expect("login");

        let run = ws.plan_detailed();
        transcript += &run.all();
        assert_eq!(run.code, 0, "no changes expected after create:\n{}", run.all());

        // Rotation: a new SSM version plans an in-place update of admin_password_version only.
        let rotated = "Rotated-Passw0rd#2";
        let v2 = rt.block_on(moto::put_password(&clients, &seed.parameter, rotated));
        assert_eq!(v2, 2);
        let run = ws.plan_detailed();
        transcript += &run.all();
        assert_eq!(run.code, 2, "rotation must plan an update:\n{}", run.all());
        assert!(run.stdout.contains("update in-place"), "{}", run.stdout);
        assert!(run.stdout.contains("admin_password_version = 1 -> 2"), "{}", run.stdout);
        assert!(
            !run.stdout.contains("known after apply"),
            "outputs must stay known:\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("0 to add, 1 to change, 0 to destroy"),
            "{}",
            run.stdout
        );
        let run = ws.apply();
        transcript += &run.all();
        run.assert_ok();
        assert_eq!(ws.attributes("dlt_stack.main")["admin_password_version"], 2);
        rt.block_on(moto::login(&clients, &seed.client_id, &seed.username, rotated))
            .expect("login with rotated");
        assert!(rt
            .block_on(moto::login(&clients, &seed.client_id, &seed.username, &seed.password))
            .is_err());
        let run = ws.plan_detailed();
        transcript += &run.all();
        assert_eq!(run.code, 0, "{}", run.all());

        // Parameter update goes through UpdateStack; the data source reads the same stack.
        ws.write_config(
            &(hcl("AdminEmail = \"ops@example.com\"", "")
                + "data \"dlt_stack\" \"read\" {\n  name = dlt_stack.main.name\n}\n"),
        );
        let run = ws.apply();
        transcript += &run.all();
        run.assert_ok();
        let a = ws.attributes("dlt_stack.main");
        assert_eq!(a["outputs"]["AdminEmailEcho"], "ops@example.com");
        assert_eq!(a["status"], "UPDATE_COMPLETE");
        let d = ws.attributes("data.dlt_stack.read");
        assert_eq!(d["id"], a["id"]);
        assert_eq!(d["user_pool_id"], seed.user_pool_id.as_str());
        assert_eq!(d["scenarios_bucket"], a["scenarios_bucket"]);
        let run = ws.plan_detailed();
        transcript += &run.all();
        assert_eq!(run.code, 0, "{}", run.all());

        // Import by name, then by ARN: apply converges and the plan is empty again.
        let arn = a["id"].as_str().unwrap().to_string();
        for id in [STACK, arn.as_str()] {
            ws.run(&["state", "rm", "dlt_stack.main"]).assert_ok();
            let run = ws.import("dlt_stack.main", id);
            transcript += &run.all();
            run.assert_ok();
            assert_eq!(ws.attributes("dlt_stack.main")["id"], arn.as_str());
            let run = ws.apply();
            transcript += &run.all();
            run.assert_ok();
            let run = ws.plan_detailed();
            transcript += &run.all();
            assert_eq!(run.code, 0, "after import of {id}:\n{}", run.all());
        }

        // Deleted outside Terraform: refresh drops it and plan proposes a create.
        let deleted = rt.block_on(async {
            clients
                .cloudformation
                .delete_stack()
                .stack_name(&arn)
                .send()
                .await
                .expect("delete");
            dlt_provider::aws::cloudformation::describe_stack(&clients.cloudformation, STACK)
                .await
                .unwrap()
        });
        assert!(deleted.is_none_or(|d| d.is_deleted()));
        let run = ws.plan_detailed();
        transcript += &run.all();
        assert_eq!(run.code, 2, "{}", run.all());
        assert!(run.stdout.contains("dlt_stack.main will be created"), "{}", run.stdout);
        let run = ws.apply();
        transcript += &run.all();
        run.assert_ok();

        // Destroy removes the stack.
        let run = ws.destroy();
        transcript += &run.all();
        run.assert_ok();
        let gone = rt.block_on(dlt_provider::aws::cloudformation::describe_stack(
            &clients.cloudformation,
            STACK,
        ));
        assert!(gone.unwrap().is_none_or(|d| d.is_deleted()));

        // The password and the AWS secret key never reach output, state or TRACE logs.
        let secrets = [seed.password.as_str(), rotated, moto::SECRET_ACCESS_KEY];
        assert_clean("terraform output", &transcript, &secrets);
        assert_clean("state", &ws.state_text(), &secrets);
        let backup = std::fs::read_to_string(ws.path().join("terraform.tfstate.backup")).unwrap_or_default();
        assert_clean("state backup", &backup, &secrets);
        let log = std::fs::read_to_string(&log_path).expect("TF_LOG file");
        assert!(log.contains("dlt_stack"), "trace log looks empty");
        assert_clean("TF_LOG=TRACE log", &log, &secrets);
    });
}

#[test]
fn inline_template_body_and_plan_time_validation() {
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    terraform::for_each_terraform(|tf| {
        let ws = workspace(tf, "");
        std::fs::write(ws.path().join("dlt.json"), moto::FIXTURE_TEMPLATE).expect("write template");
        let body = "template_body = file(\"${path.module}/dlt.json\")";

        // Both template arguments: a plan-time error naming template_body, no AWS call.
        ws.write_config(
            &(provider_block(&moto, "http://127.0.0.1:9")
                + &stack_block(
                    &seed,
                    &format!("{body}\n  template_url = \"{}\"", seed.template_url),
                    "",
                    "",
                )),
        );
        let run = ws.validate();
        run.assert_failed();
        assert!(
            flat(&run.all()).contains("template_body conflicts with template_url"),
            "{}",
            run.all()
        );

        // Invalid on_failure and duration name their attributes.
        ws.write_config(
            &(provider_block(&moto, "http://127.0.0.1:9")
                + &stack_block(&seed, body, "", "on_failure = \"KEEP\"").replace("create = \"2m\"", "create = \"2\"")),
        );
        let run = ws.validate();
        run.assert_failed();
        let out = flat(&run.all());
        assert!(
            out.contains("on_failure must be one of ROLLBACK, DELETE, DO_NOTHING"),
            "{out}"
        );
        assert!(out.contains("timeouts.create"), "{out}");

        // The inline body deploys like the URL.
        ws.write_config(&(provider_block(&moto, &moto.endpoint()) + &stack_block(&seed, body, "", "")));
        ws.apply().assert_ok();
        let a = ws.attributes("dlt_stack.main");
        assert_eq!(a["user_pool_id"], seed.user_pool_id.as_str());
        assert_eq!(a["admin_password_version"], 1);
        assert_eq!(ws.plan_detailed().code, 0);
        ws.destroy().assert_ok();
    });
}

#[test]
fn failed_create_names_the_failing_resource_and_taints() {
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let tf = terraform::primary().expect("terraform");
    let proxy = FaultProxy::start(moto.port());
    let hcl = |extra: &str| {
        provider_block(&moto, &proxy.endpoint())
            + &stack_block(&seed, &format!("template_url = \"{}\"", seed.template_url), "", extra)
    };
    let ws = workspace(tf, &hcl(""));
    let reason = "dlt-e2e-scenarios already exists in another account";
    proxy.add("DescribeStacks", Fault::StackStatus("ROLLBACK_COMPLETE".into()), None);
    proxy.add(
        "DescribeStackEvents",
        Fault::Respond {
            status: 200,
            body: fault_proxy::events_body(
                STACK,
                &[
                    (
                        "DLTEcsCluster",
                        "AWS::ECS::Cluster",
                        "CREATE_FAILED",
                        "Resource creation cancelled",
                    ),
                    ("ScenariosBucket", "AWS::S3::Bucket", "CREATE_FAILED", reason),
                ],
            ),
        },
        None,
    );
    let run = ws.apply();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains("ROLLBACK_COMPLETE"), "{out}");
    assert!(
        out.contains(&format!("ScenariosBucket (AWS::S3::Bucket) CREATE_FAILED: {reason}")),
        "{out}"
    );
    assert!(ws.is_tainted("dlt_stack.main"), "{}", ws.state_text());
    assert!(ws.attributes("dlt_stack.main")["id"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:cloudformation:"));

    // Once CloudFormation behaves, the next apply replaces the tainted stack.
    proxy.clear();
    let run = ws.apply();
    run.assert_ok();
    assert!(run.stdout.contains("1 added, 0 changed, 1 destroyed"), "{}", run.stdout);
    assert!(!ws.is_tainted("dlt_stack.main"));
    ws.destroy().assert_ok();

    // With on_failure = DELETE the failed stack is gone, so nothing is recorded.
    proxy.add("DescribeStacks", Fault::StackStatus("DELETE_COMPLETE".into()), None);
    proxy.add(
        "DescribeStackEvents",
        Fault::Respond {
            status: 200,
            body: fault_proxy::events_body(
                STACK,
                &[(
                    "DLTApiLambda",
                    "AWS::Lambda::Function",
                    "CREATE_FAILED",
                    "nodejs16.x is no longer supported",
                )],
            ),
        },
        None,
    );
    ws.write_config(&hcl("on_failure = \"DELETE\""));
    let run = ws.apply();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(
        out.contains("DLTApiLambda (AWS::Lambda::Function) CREATE_FAILED: nodejs16.x"),
        "{out}"
    );
    assert!(ws.resource("dlt_stack.main").is_none(), "{}", ws.state_text());
}

#[test]
fn throttling_no_updates_password_policy_and_failed_delete() {
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let clients = rt.block_on(moto.clients());
    let tf = terraform::primary().expect("terraform");
    let proxy = FaultProxy::start(moto.port());
    let hcl = |tags: &str| {
        provider_block(&moto, &proxy.endpoint())
            + &stack_block(&seed, &format!("template_url = \"{}\"", seed.template_url), "", "")
                .replace("tags         = { team = \"qa\" }", tags)
    };
    let ws = workspace(tf, &hcl("tags = { team = \"qa\" }"));

    // Throttling is retried by the SDK: create still succeeds.
    proxy.add(
        "DescribeStacks",
        Fault::Respond {
            status: 400,
            body: fault_proxy::query_error("Throttling", "Rate exceeded"),
        },
        Some(2),
    );
    ws.apply().assert_ok();
    assert!(proxy.actions().iter().filter(|a| *a == "DescribeStacks").count() >= 3);

    // "No updates are to be performed" is success.
    proxy.add(
        "UpdateStack",
        Fault::Respond {
            status: 400,
            body: fault_proxy::query_error("ValidationError", "No updates are to be performed."),
        },
        Some(1),
    );
    ws.write_config(&hcl("tags = { team = \"qa\", cost = \"dlt\" }"));
    let run = ws.apply();
    run.assert_ok();
    assert!(run.stdout.contains("0 added, 1 changed, 0 destroyed"), "{}", run.stdout);

    // A password the pool's policy rejects: the error names user, parameter and policy, not the value.
    let weak = "weakpassword";
    rt.block_on(moto::put_password(&clients, &seed.parameter, weak));
    let run = ws.apply();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains(&format!("Cognito user \"{}\"", seed.username)), "{out}");
    assert!(out.contains(&seed.parameter), "{out}");
    assert!(out.contains("password policy"), "{out}");
    assert_clean("terraform output", &out, &[weak]);
    assert!(!ws.is_tainted("dlt_stack.main"), "an update failure must not taint");
    assert_eq!(ws.attributes("dlt_stack.main")["admin_password_version"], 1);
    assert_clean("state", &ws.state_text(), &[weak]);
    rt.block_on(moto::put_password(&clients, &seed.parameter, "Strong-Passw0rd!3"));
    ws.apply().assert_ok();
    assert_eq!(ws.attributes("dlt_stack.main")["admin_password_version"], 3);

    // DELETE_FAILED names the resource that blocked the delete; the stack stays in state.
    proxy.add(
        "DeleteStack",
        Fault::Respond {
            status: 200,
            body: fault_proxy::delete_stack_ok(),
        },
        None,
    );
    proxy.add("DescribeStacks", Fault::StackStatus("DELETE_FAILED".into()), None);
    proxy.add(
        "DescribeStackEvents",
        Fault::Respond {
            status: 200,
            body: fault_proxy::events_body(
                STACK,
                &[(
                    "ScenariosBucket",
                    "AWS::S3::Bucket",
                    "DELETE_FAILED",
                    "The bucket you tried to delete is not empty",
                )],
            ),
        },
        None,
    );
    let run = ws.destroy();
    run.assert_failed();
    let out = flat(&run.all());
    assert!(out.contains("DELETE_FAILED"), "{out}");
    assert!(
        out.contains("ScenariosBucket (AWS::S3::Bucket) DELETE_FAILED: The bucket you tried to delete is not empty"),
        "{out}"
    );
    assert!(ws.resource("dlt_stack.main").is_some());
    proxy.clear();
    ws.destroy().assert_ok();
    assert!(ws.resource("dlt_stack.main").is_none());
}

/// The AWS layer alone against moto (no Terraform): create, password, update, delete.
#[test]
fn aws_layer_against_moto() {
    use dlt_provider::aws::cloudformation::{self as cfn, StackInput, TemplateSource, WaitOptions};
    use std::time::Duration;
    let rt = runtime();
    let Some(moto) = Moto::start() else { return };
    rt.block_on(async {
        let seed = moto.seed().await;
        let c = moto.clients().await;
        let wait = WaitOptions::new(Duration::from_secs(60), Default::default());
        let mut input = StackInput {
            name: STACK.into(),
            template: Some(TemplateSource::Url(seed.template_url.clone())),
            parameters: [
                ("AdminName", seed.username.as_str()),
                ("MotoUserPoolId", &seed.user_pool_id),
                ("MotoClientId", &seed.client_id),
                ("MotoIdentityPoolId", &seed.identity_pool_id),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..StackInput::default()
        };
        let created = cfn::create_stack(&c.cloudformation, &input, &wait)
            .await
            .expect("create");
        assert_eq!(created.status, "CREATE_COMPLETE");
        assert_eq!(created.outputs["UserPoolId"], seed.user_pool_id);

        let password = dlt_provider::aws::admin_password::AdminPassword::read(&c.ssm, &seed.parameter, None)
            .await
            .expect("read password");
        let v = password
            .set(&c.cognito_idp, &seed.user_pool_id, &seed.username)
            .await
            .expect("set password");
        assert_eq!(v, 1);
        assert_eq!(
            moto::user_status(&c, &seed.user_pool_id, &seed.username).await,
            "CONFIRMED"
        );
        moto::login(&c, &seed.client_id, &seed.username, &seed.password)
            .await
            .expect("login");
        assert_eq!(
            dlt_provider::aws::ssm::get_parameter_version(&c.ssm, &seed.parameter)
                .await
                .unwrap(),
            1
        );

        input.name = created.id.clone();
        input.template = Some(TemplateSource::UsePrevious);
        input.parameters.insert("AdminEmail".into(), "ops@example.com".into());
        let updated = cfn::update_stack(&c.cloudformation, &input, &wait)
            .await
            .expect("update");
        assert_eq!(updated.outputs["AdminEmailEcho"], "ops@example.com");

        cfn::delete_stack(&c.cloudformation, &created.id, &wait)
            .await
            .expect("delete");
        let gone = cfn::describe_stack(&c.cloudformation, &created.id)
            .await
            .expect("describe");
        assert!(gone.is_none_or(|d| d.is_deleted()));
        // Deleting again is a no-op.
        cfn::delete_stack(&c.cloudformation, STACK, &wait)
            .await
            .expect("delete again");
    });
}

/// The stacks named `name` that moto holds and that are not deleted.
fn live_stacks(rt: &tokio::runtime::Runtime, moto: &Moto, name: &str) -> Vec<String> {
    let clients = rt.block_on(moto.clients());
    let out = rt
        .block_on(clients.cloudformation.list_stacks().send())
        .expect("list stacks");
    out.stack_summaries()
        .iter()
        .filter(|s| s.stack_name() == Some(name))
        .filter(|s| s.stack_status().is_some_and(|st| st.as_str() != "DELETE_COMPLETE"))
        .filter_map(|s| s.stack_id().map(str::to_string))
        .collect()
}

/// Issue 14: Terraform SIGKILLed while `dlt_stack` waits for its create (the proxy holds every
/// `DescribeStacks` answer, so the apply sits in the wait after moto has created the stack). The
/// stack exists, state does not know it; the next apply of the same configuration recognises the
/// provider's creation marker and adopts it: exactly one stack, state matching it, the admin
/// password set, and a clean plan after. A stack of the same name created outside the provider
/// is not taken over: the error names `terraform import` and the stack's ARN.
#[test]
fn a_stack_left_by_a_killed_apply_is_adopted_and_a_foreign_one_is_not() {
    use std::os::unix::process::CommandExt;
    use std::time::Duration;
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let proxy = FaultProxy::start(moto.port());
    proxy.add("DescribeStacks", Fault::Delay(Duration::from_secs(120)), None);
    let template = format!("template_url = \"{}\"", seed.template_url);
    let hcl = provider_block(&moto, &proxy.endpoint()) + &stack_block(&seed, &template, "", "");
    let ws = workspace(tf, &hcl);
    let mut apply = ws.command(&["apply", "-no-color", "-input=false", "-auto-approve"]);
    apply.process_group(0);
    let mut child = apply
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start apply");
    let created = terraform::wait_until(Duration::from_secs(60), || {
        !live_stacks(&rt, &moto, STACK).is_empty() && proxy.actions().iter().any(|a| a == "DescribeStacks")
    });
    assert!(created, "the create never started: {:?}", proxy.actions());
    let _ = child.kill(); // SIGKILL to Terraform alone, mid-wait.
    let _ = child.wait();
    assert!(ws.resource("dlt_stack.main").is_none(), "{}", ws.state_text());
    let orphan = live_stacks(&rt, &moto, STACK);
    assert_eq!(orphan.len(), 1, "{orphan:?}");

    // The next apply adopts it.
    proxy.clear();
    let out = ws.apply();
    out.assert_ok();
    let text = flat(&out.all());
    assert!(text.contains("Adopted an existing DLT stack"), "{text}");
    assert_eq!(live_stacks(&rt, &moto, STACK), orphan, "no second stack");
    let s = ws.attributes("dlt_stack.main");
    assert_eq!(s["id"], orphan[0].as_str(), "{s}");
    assert_eq!(s["status"], "CREATE_COMPLETE", "{s}");
    assert_eq!(s["user_pool_id"], seed.user_pool_id.as_str(), "{s}");
    assert_eq!(
        s["tags"],
        serde_json::json!({ "team": "qa" }),
        "the marker stays out of state: {s}"
    );
    assert!(s["admin_password_version"].as_i64().is_some(), "{s}");
    assert_eq!(
        rt.block_on(moto::user_status(
            &rt.block_on(moto.clients()),
            &seed.user_pool_id,
            &seed.username
        )),
        "CONFIRMED"
    );
    let plan = ws.plan_detailed();
    assert_eq!(plan.code, 0, "{}", plan.all());
    // An update (its tags replace the stack's) keeps the marker on the stack, out of state.
    let live_tags = |rt: &tokio::runtime::Runtime| -> Vec<(String, String)> {
        let c = rt.block_on(moto.clients());
        let d = rt
            .block_on(c.cloudformation.describe_stacks().stack_name(&orphan[0]).send())
            .expect("describe");
        let mut t: Vec<(String, String)> = d.stacks()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().into(), t.value().unwrap_or_default().into()))
            .collect();
        t.sort();
        t
    };
    let before = live_tags(&rt);
    let marker = before
        .iter()
        .find(|(k, _)| k == "terraform-provider-dlt:created-by")
        .cloned()
        .expect("the creation marker on the stack");
    ws.write_config(&hcl.replace("team = \"qa\"", "team = \"perf\""));
    ws.apply().assert_ok();
    assert_eq!(live_tags(&rt), vec![("team".into(), "perf".into()), marker]);
    assert_eq!(
        ws.attributes("dlt_stack.main")["tags"],
        serde_json::json!({ "team": "perf" })
    );

    // A stack under another name that someone created by hand: refused, naming import.
    let foreign = "DLT-created-by-hand";
    let clients = rt.block_on(moto.clients());
    let made = rt
        .block_on(
            clients
                .cloudformation
                .create_stack()
                .stack_name(foreign)
                .template_url(&seed.template_url)
                .parameters(p("AdminName", &seed.username))
                .parameters(p("MotoUserPoolId", &seed.user_pool_id))
                .parameters(p("MotoClientId", &seed.client_id))
                .parameters(p("MotoIdentityPoolId", &seed.identity_pool_id))
                .send(),
        )
        .expect("create the foreign stack");
    let foreign_id = made.stack_id().unwrap_or_default().to_string();
    let hcl2 = provider_block(&moto, &moto.endpoint()) + &stack_block(&seed, &template, "", "").replace(STACK, foreign);
    let ws2 = workspace(tf, &hcl2);
    let out = ws2.apply();
    out.assert_failed();
    let text = flat(&out.all());
    assert!(
        text.contains("already exists")
            && text.contains("was not created by terraform-provider-dlt")
            && text.contains(&format!("terraform import <this dlt_stack's address> {foreign_id}")),
        "{text}"
    );
    assert!(ws2.resource("dlt_stack.main").is_none(), "{}", ws2.state_text());
    assert_eq!(live_stacks(&rt, &moto, foreign), vec![foreign_id], "left alone");
}

fn p(k: &str, v: &str) -> aws_sdk_cloudformation::types::Parameter {
    aws_sdk_cloudformation::types::Parameter::builder()
        .parameter_key(k)
        .parameter_value(v)
        .build()
}
