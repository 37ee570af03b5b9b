//! The Terragrunt example (`examples/terragrunt`) and the modules it runs (`examples/modules`).
//!
//! No Terragrunt binary can be installed here, so `support::terragrunt` reads the tree with a
//! real HCL parser and evaluates it the way Terragrunt documents (see that module for exactly
//! what it emulates). On that basis:
//! - every `.hcl` file parses, every `find_in_parent_folders` / `read_terragrunt_config` /
//!   `include` / `dependency` path resolves, every file is used, every input is a variable of the
//!   module it feeds and every required variable gets one, every `dependency.*.outputs.*` the test
//!   unit reads is a real output of the stack module and has a mock;
//! - `dlt_create = false` excludes both units;
//! - the units run under real Terraform the way Terragrunt runs them (module copied into a
//!   working directory, generated `provider.tf` and `backend.tf`, S3 remote state, inputs as
//!   `TF_VAR_*`, the dependency's outputs from `terraform output -json` of the stack unit, or its
//!   `mock_outputs` while it has none) against moto and the DLT double: the pull-request plan of
//!   both units (mock outputs) starts nothing and contacts neither DLT nor the target; the stack
//!   unit's apply deploys the stack; the test unit's apply runs the gated test on DLT through the
//!   stack's Cognito pools and writes the JUnit report; a failing gate fails the apply with the
//!   gate table and leaves the run tainted.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Map as JsonMap, Value as Json};
use support::dlt_double::{DltDouble, DoubleConfig};
use support::moto::{self, Moto, Seed};
use support::target::{TargetConfig, TargetServer};
use support::terraform::{self, Terraform, Workspace};
use support::terragrunt::{module_interface, parse_file, tf_vars, Unit};
use support::{flat, runtime};

const STACK_UNIT: &str = "accounts/qa/regions/eu-west-1/core/dlt-stack";
const TEST_UNIT: &str = "accounts/qa/regions/eu-west-1/applications/checkout/dlt-test";

fn examples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .flatten()
        {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let p = entry.path();
        let dest = to.join(entry.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Outputs keyed by name with a stand-in for each: the mock where there is one, else a string.
fn real_shaped(outputs: &BTreeSet<String>, mocks: &JsonMap<String, Json>) -> JsonMap<String, Json> {
    outputs
        .iter()
        .map(|o| {
            (
                o.clone(),
                mocks.get(o).cloned().unwrap_or_else(|| json!(format!("real-{o}"))),
            )
        })
        .collect()
}

#[test]
fn every_file_parses_every_path_resolves_every_input_is_a_variable() {
    let root = examples().join("terragrunt");
    let hcl_files = files_under(&root, "hcl");
    for f in &hcl_files {
        parse_file(f).unwrap_or_else(|e| panic!("{e}"));
    }
    let units: Vec<PathBuf> = hcl_files
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "terragrunt.hcl"))
        .map(|f| f.parent().unwrap().to_path_buf())
        .collect();
    assert_eq!(
        units,
        [root.join(TEST_UNIT), root.join(STACK_UNIT)],
        "the example's units"
    );

    let env = BTreeMap::new();
    let mut used = BTreeSet::new();
    let mut state_keys = BTreeSet::new();
    for dir in &units {
        let unit = Unit::load(dir, &env).unwrap_or_else(|e| panic!("{e}"));
        assert!(!unit.excluded, "{}: excluded with dlt_create = true", dir.display());
        used.extend(unit.files_read.iter().cloned());
        assert!(
            unit.generate.contains_key("provider.tf"),
            "{}: provider block generated",
            dir.display()
        );
        let rs = unit.remote_state.as_ref().expect("remote state");
        assert_eq!(rs.backend, "s3");
        assert!(
            state_keys.insert(rs.config["key"].to_string()),
            "state key shared: {}",
            rs.config["key"]
        );

        let module = module_interface(&unit.source).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // Dependencies: each is a unit; its mocks mirror its module's outputs.
        let mut with_mocks = BTreeMap::new();
        let mut with_real = BTreeMap::new();
        for dep in &unit.dependencies {
            assert!(
                dep.config_path.join("terragrunt.hcl").is_file(),
                "{}: {dep:?}",
                dir.display()
            );
            let dep_unit = Unit::load(&dep.config_path, &env).unwrap_or_else(|e| panic!("{e}"));
            let dep_outputs = module_interface(&dep_unit.source).unwrap().outputs;
            let mocks = dep.mock_outputs.clone().expect("mock_outputs for pull-request plans");
            for k in mocks.keys() {
                assert!(
                    dep_outputs.contains(k),
                    "{}: mock {k} is no output of {}",
                    dir.display(),
                    dep_unit.source.display()
                );
            }
            assert!(dep.mock_allowed.iter().any(|c| c == "plan"), "mocks allowed for plan");
            assert!(!dep.mock_allowed.iter().any(|c| c == "apply"), "apply never uses mocks");
            let no_outputs = JsonMap::new();
            with_mocks.insert(
                dep.name.clone(),
                unit.dependency_outputs(dep, &no_outputs, "plan").unwrap(),
            );
            assert!(
                unit.dependency_outputs(dep, &no_outputs, "apply").is_err(),
                "apply needs real outputs"
            );
            with_real.insert(dep.name.clone(), real_shaped(&dep_outputs, &mocks));
        }
        // Inputs with mocks (pull-request plan) and with the real outputs' names (apply): every
        // output read exists both ways, and every input is a module variable.
        let inputs = unit
            .inputs(&with_mocks)
            .unwrap_or_else(|e| panic!("with mock outputs: {e}"));
        unit.inputs(&with_real)
            .unwrap_or_else(|e| panic!("with the real outputs' names: {e}"));
        for k in inputs.keys() {
            assert!(
                module.variables.contains_key(k),
                "{}: input {k} is no variable of {}",
                dir.display(),
                unit.source.display()
            );
        }
        for (var, has_default) in &module.variables {
            assert!(
                *has_default || inputs.get(var).is_some_and(|v| !v.is_null()),
                "{}: required variable {var} gets no input",
                dir.display()
            );
        }
    }
    let unused: Vec<&PathBuf> = hcl_files.iter().filter(|f| !used.contains(*f)).collect();
    assert!(unused.is_empty(), "files no unit reads: {unused:?}");
}

#[test]
fn dlt_create_false_excludes_both_units() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&examples().join("terragrunt"), &tmp.path().join("terragrunt"));
    copy_dir(&examples().join("modules"), &tmp.path().join("modules"));
    let env_file = tmp.path().join("terragrunt/accounts/qa/regions/eu-west-1/core/env.hcl");
    let text = std::fs::read_to_string(&env_file).unwrap();
    assert!(text.contains("dlt_create = true"), "{text}");
    std::fs::write(&env_file, text.replace("dlt_create = true", "dlt_create = false")).unwrap();
    for unit in [STACK_UNIT, TEST_UNIT] {
        let unit = Unit::load(&tmp.path().join("terragrunt").join(unit), &BTreeMap::new()).unwrap();
        assert!(unit.excluded, "{} not excluded", unit.dir.display());
    }
}

/// A working directory as Terragrunt makes one in its cache: the module's `.tf` files and the
/// unit's generated files (the provider comes from the suite's dev_overrides).
fn unit_workspace(tf: &Terraform, unit: &Unit) -> Workspace {
    let ws = Workspace::new(tf, "");
    std::fs::remove_file(ws.path().join("main.tf")).unwrap();
    for f in std::fs::read_dir(&unit.source).unwrap().flatten() {
        if f.path().extension().is_some_and(|x| x == "tf") {
            std::fs::copy(f.path(), ws.path().join(f.file_name())).unwrap();
        }
    }
    for (name, contents) in &unit.generate {
        std::fs::write(ws.path().join(name), contents).unwrap();
    }
    ws
}

/// The example's own values (its account, region and application files) satisfy the modules'
/// types and validations under real Terraform: both units plan, the test unit with the stack's
/// mock outputs (a pull request in an account whose stack does not exist yet). The account's S3
/// state bucket is not reachable here, so these plans keep local state (no backend.tf); no AWS
/// credentials are set, and plans of new resources need none.
#[test]
fn example_values_plan_with_mock_outputs() {
    terraform::for_each_terraform(|tf| {
        let root = examples().join("terragrunt");
        for (dir, resource) in [(STACK_UNIT, "dlt_stack.this"), (TEST_UNIT, "dlt_test_run.this")] {
            let unit = Unit::load(&root.join(dir), &BTreeMap::new()).unwrap();
            let mut ws = unit_workspace(tf, &unit);
            ws.env("AWS_CONFIG_FILE", "/dev/null")
                .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
                .env("AWS_EC2_METADATA_DISABLED", "true");
            let deps: BTreeMap<_, _> = unit
                .dependencies
                .iter()
                .map(|d| {
                    (
                        d.name.clone(),
                        unit.dependency_outputs(d, &JsonMap::new(), "plan").unwrap(),
                    )
                })
                .collect();
            let inputs = unit.inputs(&deps).unwrap();
            let mut cmd = ws.command(&["plan", "-no-color", "-input=false"]);
            cmd.envs(tf_vars(&inputs));
            let out: terraform::Run = cmd.output().unwrap().into();
            out.assert_ok();
            assert!(
                out.stdout.contains(&format!("{resource} will be created")),
                "{}",
                out.stdout
            );
        }
    });
}

/// One unit's working directory, as Terragrunt prepares it: the module's files, the generated
/// files, and `terraform init` against the remote state (moto's S3, through a partial backend
/// configuration file standing in for the account's real endpoint).
struct UnitRun {
    unit: Unit,
    ws: Workspace,
}

impl UnitRun {
    fn init(tf: &Terraform, unit: Unit, moto: &Moto, report_dir: &Path) -> UnitRun {
        let mut ws = unit_workspace(tf, &unit);
        let (backend_file, backend) = unit.backend_tf().expect("remote_state");
        std::fs::write(ws.path().join(backend_file), backend).unwrap();
        let m = moto.endpoint();
        std::fs::write(
            ws.path().join("moto.s3.tfbackend"),
            format!(
                "endpoints = {{ s3 = \"{m}\", sts = \"{m}\" }}\nuse_path_style = true\n\
                 skip_credentials_validation = true\nskip_requesting_account_id = true\nskip_metadata_api_check = true\n"
            ),
        )
        .unwrap();
        ws.env("AWS_ACCESS_KEY_ID", moto::ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY)
            .env("AWS_REGION", moto::REGION)
            .env("AWS_ENDPOINT_URL", &m)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("DLT_REPORT_DIR", &report_dir.display().to_string());
        ws.run(&["init", "-no-color", "-input=false", "-backend-config=moto.s3.tfbackend"])
            .assert_ok();
        UnitRun { unit, ws }
    }

    /// `terraform output -json` as Terragrunt reads a dependency's outputs: name → value.
    fn outputs(&self) -> JsonMap<String, Json> {
        let out = self.ws.run(&["output", "-json", "-no-color"]);
        out.assert_ok();
        let doc: JsonMap<String, Json> = serde_json::from_str(&out.stdout).unwrap_or_default();
        doc.into_iter().map(|(k, v)| (k, v["value"].clone())).collect()
    }

    /// Runs `command` with the unit's inputs (given its dependencies' outputs) as `TF_VAR_*`.
    fn run(&self, command: &str, deps: &BTreeMap<String, JsonMap<String, Json>>) -> terraform::Run {
        let inputs = self.unit.inputs(deps).unwrap_or_else(|e| panic!("{e}"));
        let mut cmd = self.ws.command(&[command, "-no-color", "-input=false"]);
        if command == "apply" {
            cmd.arg("-auto-approve");
        }
        cmd.envs(tf_vars(&inputs));
        cmd.output().expect("run terraform").into()
    }
}

/// The test account's own files (as a team adds an account: its account.hcl, region.hcl and
/// env.hcl files) around the example's root.hcl and unit files, copied as they are.
fn test_tree(dir: &Path, seed: &Seed, template_url: &str, double: &DltDouble, target_url: &str, gates: &str) {
    copy_dir(&examples().join("modules"), &dir.join("modules"));
    let tg = dir.join("terragrunt");
    std::fs::create_dir_all(&tg).unwrap();
    std::fs::copy(examples().join("terragrunt/root.hcl"), tg.join("root.hcl")).unwrap();
    let region = tg.join("accounts/test/regions/us-east-1");
    for (unit, from) in [
        ("core/dlt-stack", STACK_UNIT),
        ("applications/checkout/dlt-test", TEST_UNIT),
    ] {
        std::fs::create_dir_all(region.join(unit)).unwrap();
        std::fs::copy(
            examples().join("terragrunt").join(from).join("terragrunt.hcl"),
            region.join(unit).join("terragrunt.hcl"),
        )
        .unwrap();
    }
    std::fs::write(
        tg.join("accounts/test/account.hcl"),
        "locals {\n  account_name = \"test\"\n  account_id   = \"123456789012\"\n}\n",
    )
    .unwrap();
    std::fs::write(region.join("region.hcl"), "locals {\n  aws_region = \"us-east-1\"\n}\n").unwrap();
    std::fs::write(
        region.join("core/env.hcl"),
        format!(
            r#"locals {{
  dlt_create   = true
  stack_name   = "DLT-Load-Test-terragrunt-e2e"
  template_url = "{template_url}"
  admin_name   = "{user}"
  admin_email  = "qa@example.com"
  stack_parameters = {{
    MotoUserPoolId     = "{pool}"
    MotoClientId       = "{client}"
    MotoIdentityPoolId = "{identity}"
    MotoApiEndpoint    = "{api}"
  }}
  password_ssm_parameter = "{param}"
  tags                   = {{ team = "qa" }}
}}
"#,
            user = seed.username,
            pool = seed.user_pool_id,
            client = seed.client_id,
            identity = seed.identity_pool_id,
            api = double.endpoint(),
            param = seed.parameter,
        ),
    )
    .unwrap();
    write_app_env(&region, target_url, gates);
}

fn write_app_env(region: &Path, target_url: &str, gates: &str) {
    std::fs::write(
        region.join("applications/checkout/env.hcl"),
        format!(
            r#"locals {{
  test_name   = "checkout-terragrunt"
  description = "checkout: pipeline gate"
  target_url  = "{target_url}"
  concurrency = 2
  task_count  = 1
  ramp_up     = "0s"
  hold_for    = "1m"
  regions     = ["us-east-1"]
  gates       = {gates}
}}
"#
        ),
    )
    .unwrap();
}

/// The fixture template, with the API endpoint output taken from a parameter so the stack's
/// real outputs lead to the DLT double.
fn template_with_api_parameter() -> Vec<u8> {
    let mut t: Json = serde_json::from_str(moto::FIXTURE_TEMPLATE).unwrap();
    t["Parameters"]["MotoApiEndpoint"] = json!({ "Type": "String" });
    t["Outputs"]["DLTApiEndpointD98B09AC"]["Value"] = json!({ "Ref": "MotoApiEndpoint" });
    serde_json::to_vec_pretty(&t).unwrap()
}

/// moto's identity-pool credentials (fixed values), which the double must accept.
const MOTO_IDENTITY: (&str, &str, &str) = ("TESTACCESSKEY12345", "ABCSECRETKEY", "ABC12345");

#[test]
fn pull_request_plan_then_apply_the_terragrunt_way() {
    let Some(tf) = terraform::primary() else {
        return eprintln!("SKIP: no terraform");
    };
    let rt = runtime();
    let Some((moto, seed)) = Moto::start_seeded(&rt) else {
        return;
    };
    let clients = rt.block_on(moto.clients());
    let template_key = "dlt-terragrunt.json";
    rt.block_on(dlt_provider::aws::s3::put_object(
        &clients.s3,
        &seed.bucket,
        template_key,
        template_with_api_parameter(),
        None,
    ))
    .expect("upload template");
    let template_url = format!("{}/{}/{template_key}", moto.endpoint(), seed.bucket);
    rt.block_on(
        clients
            .s3
            .create_bucket()
            .bucket("terraform-state-123456789012-us-east-1")
            .send(),
    )
    .expect("state bucket");

    let target = TargetServer::start(TargetConfig {
        latency: Duration::from_millis(5),
        ..TargetConfig::default()
    });
    let mut config = DoubleConfig {
        region: moto::REGION.to_string(),
        regions: vec![moto::REGION.to_string()],
        vcpu_details: json!({ moto::REGION: {"vCPULimit": 4000, "vCPUsPerTask": 2, "vCPUsInUse": 10} }),
        ..DoubleConfig::default()
    };
    config.credentials.insert(
        MOTO_IDENTITY.0.to_string(),
        (MOTO_IDENTITY.1.to_string(), Some(MOTO_IDENTITY.2.to_string())),
    );
    let double = DltDouble::start(config);

    let tmp = tempfile::tempdir().unwrap();
    let passing = r#"{ min_success_rate = 99, max_p95 = "2s" }"#;
    test_tree(tmp.path(), &seed, &template_url, &double, &target.url("/api"), passing);
    let region = tmp.path().join("terragrunt/accounts/test/regions/us-east-1");
    let reports = tmp.path().join("reports");
    let env: BTreeMap<String, String> = [("DLT_REPORT_DIR".to_string(), reports.display().to_string())].into();
    let load = |unit: &str| Unit::load(&region.join(unit), &env).unwrap_or_else(|e| panic!("{e}"));

    let stack = UnitRun::init(tf, load("core/dlt-stack"), &moto, &reports);
    let test = UnitRun::init(tf, load("applications/checkout/dlt-test"), &moto, &reports);
    let dep = test.unit.dependencies[0].clone();
    assert_eq!(normalize_dir(&dep.config_path), normalize_dir(&stack.unit.dir));
    let none = BTreeMap::new();

    // Pull request: `terragrunt run --all plan`. The stack unit has no outputs yet, so the test
    // unit plans with the mocks; nothing starts and neither DLT nor the target is contacted.
    let plan = stack.run("plan", &none);
    plan.assert_ok();
    assert!(
        plan.stdout.contains("dlt_stack.this will be created"),
        "{}",
        plan.stdout
    );
    let outputs = stack.outputs();
    assert!(
        outputs.is_empty(),
        "no outputs before the stack is applied: {outputs:?}"
    );
    let mocks = test.unit.dependency_outputs(&dep, &outputs, "plan").unwrap();
    let plan = test.run("plan", &[(dep.name.clone(), mocks)].into());
    plan.assert_ok();
    let text = flat(&plan.stdout);
    assert!(text.contains("dlt_test_run.this will be created"), "{text}");
    assert!(
        text.contains("checkout-terragrunt") && text.contains("mock.execute-api"),
        "{text}"
    );
    assert_eq!(double.total_calls(), 0, "a plan must not call DLT");
    assert_eq!(target.received(), 0, "a plan must not load the target");
    assert!(
        test.unit.dependency_outputs(&dep, &outputs, "apply").is_err(),
        "apply never uses mocks"
    );

    // Merge: `terragrunt run --all apply`, the stack unit first.
    stack.run("apply", &none).assert_ok();
    let outputs = stack.outputs();
    assert_eq!(outputs["api_endpoint"], double.endpoint().as_str(), "{outputs:?}");
    assert_eq!(outputs["user_pool_id"], seed.user_pool_id.as_str());
    assert_eq!(outputs["region"], moto::REGION);
    let real = test.unit.dependency_outputs(&dep, &outputs, "apply").unwrap();
    let deps: BTreeMap<_, _> = [(dep.name.clone(), real)].into();
    let out = test.run("apply", &deps);
    out.assert_ok();
    let a = remote_instance(&test.ws, "dlt_test_run")["attributes"].clone();
    assert_eq!(a["engine"], "dlt", "{a}");
    assert_eq!(a["passed"], true, "{a}");
    let id = a["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(double.executions(&id), 1, "started exactly once");
    assert!(target.served() > 0, "the double ran the scenario against the target");
    let junit =
        std::fs::read_to_string(reports.join("checkout-terragrunt.xml")).expect("JUnit report in DLT_REPORT_DIR");
    assert!(junit.contains("<testcase name=\"max_p95\""), "{junit}");
    let summary = std::fs::read_to_string(reports.join("checkout-terragrunt.md")).expect("Markdown summary");
    assert!(
        summary.starts_with("## ✅ Load test passed: checkout-terragrunt"),
        "{summary}"
    );
    assert!(reports.join("checkout-terragrunt.html").is_file(), "HTML report");
    let table = test.ws.run(&["output", "-raw", "gate_table"]);
    assert!(
        table.stdout.contains("min_success_rate") && !table.stdout.contains("FAIL"),
        "{}",
        table.stdout
    );
    // The password never reaches the state files (the unit's, in S3, nor the plan).
    support::assert_clean(
        "test unit state",
        &test.ws.run(&["state", "pull"]).stdout,
        &[&seed.password],
    );
    support::assert_clean(
        "stack unit state",
        &stack.ws.run(&["state", "pull"]).stdout,
        &[&seed.password],
    );

    // A stricter gate in the application's env.hcl: a new run, which fails the apply with the
    // gate table and stays tainted for the next apply.
    write_app_env(&region, &target.url("/api"), r#"{ max_p95 = "1ms" }"#);
    let test = UnitRun {
        unit: load("applications/checkout/dlt-test"),
        ws: test.ws,
    };
    let out = test.run("apply", &deps);
    out.assert_failed();
    let text = flat(&out.all());
    assert!(text.contains("Quality gate failed: checkout-terragrunt"), "{text}");
    assert!(
        text.contains("max_p95") && text.contains("<= 1ms") && text.contains("FAIL"),
        "{text}"
    );
    assert_eq!(
        remote_instance(&test.ws, "dlt_test_run")["status"],
        "tainted",
        "tainted after a failed gate"
    );
}

fn normalize_dir(p: &Path) -> PathBuf {
    support::terragrunt::normalize(p)
}

/// The first instance of the `ty` resource in the unit's remote state (`terraform state pull`:
/// there is no local state file).
fn remote_instance(ws: &Workspace, ty: &str) -> Json {
    let out = ws.run(&["state", "pull"]);
    out.assert_ok();
    let state: Json = serde_json::from_str(&out.stdout).unwrap_or(Json::Null);
    state["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["type"] == ty)
        .map(|r| r["instances"][0].clone())
        .unwrap_or_else(|| panic!("no {ty} in the remote state:\n{}", out.stdout))
}
