//! The pipeline examples in `examples/ci/` are valid for the CI systems they are written for,
//! checked with a real schema validator (PyPI `check-jsonschema`, pinned in `scripts/setup`):
//! the GitHub workflow against the GitHub Actions workflow schema it vendors (and its
//! timeout-required variant), the GitLab file against the GitLab CI schema it vendors, and the
//! CodeBuild buildspec against a schema of the keys AWS documents for buildspec version 0.2
//! (`tests/fixtures/ci/buildspec.schema.json`), plus a check that it carries no password.
//! Each check is also run on a broken copy, which must fail: the validator really bites.
//! The GitHub workflow's pull-request summary step (a jq program over `terraform show -json`)
//! runs as written on the plan real Terraform makes of the `dlt-test` module.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::terraform::{with_terraform, Workspace};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `.venv/bin/check-jsonschema` (`scripts/setup` installs it). Missing: a skip note, or a
/// failure under CI, where setup always runs.
fn validator() -> Option<PathBuf> {
    let path = root().join(".venv/bin/check-jsonschema");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "check-jsonschema missing: scripts/setup installs it"
    );
    eprintln!("SKIP: {} not found (run scripts/setup)", path.display());
    None
}

/// Runs the validator with `schema` (`--builtin-schema NAME` or `--schemafile PATH`) on `file`.
fn check(schema: &[&str], file: &Path) -> (bool, String) {
    let exe = validator().expect("validator");
    let out = Command::new(exe)
        .args(schema)
        .arg(file)
        .output()
        .expect("run check-jsonschema");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The example passes `schema`; a copy with `from` replaced by `to` fails it.
fn valid_and_broken_copy_fails(schema: &[&str], example: &str, from: &str, to: &str) {
    let file = root().join(example);
    let (ok, text) = check(schema, &file);
    assert!(ok, "{example} against {schema:?}:\n{text}");

    let original = std::fs::read_to_string(&file).unwrap();
    assert!(original.contains(from), "{example} has no {from:?} to break");
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join(file.file_name().unwrap());
    std::fs::write(&broken, original.replacen(from, to, 1)).unwrap();
    let (ok, text) = check(schema, &broken);
    assert!(!ok, "{example} with {from:?} → {to:?} passed {schema:?}:\n{text}");
}

#[test]
fn github_workflow_is_a_valid_workflow_with_timeouts() {
    if validator().is_none() {
        return;
    }
    let wf = "examples/ci/github/load-gate.yml";
    valid_and_broken_copy_fails(
        &["--builtin-schema", "vendor.github-workflows"],
        wf,
        "runs-on:",
        "run-on:",
    );
    valid_and_broken_copy_fails(
        &["--builtin-schema", "vendor.github-workflows"],
        wf,
        "cancel-in-progress: false",
        "cancel-in-progress: sometimes",
    );
    valid_and_broken_copy_fails(
        &["--builtin-schema", "custom.github-workflows-require-timeout"],
        wf,
        "    timeout-minutes: 90\n",
        "",
    );
    let text = std::fs::read_to_string(root().join(wf)).unwrap();
    for needed in [
        "pull_request:",
        "GITHUB_STEP_SUMMARY",
        "gh pr comment",
        "upload-artifact",
        "concurrency:",
        "terragrunt apply",
    ] {
        assert!(text.contains(needed), "{wf} lacks {needed}");
    }
}

#[test]
fn gitlab_pipeline_is_valid_gitlab_ci() {
    if validator().is_none() {
        return;
    }
    let file = "examples/ci/gitlab/.gitlab-ci.yml";
    let schema = ["--builtin-schema", "vendor.gitlab-ci"];
    valid_and_broken_copy_fails(&schema, file, "      junit: reports/*.xml", "      junit: 42");
    valid_and_broken_copy_fails(&schema, file, "  when: always\n", "  when: sometimes\n");
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    for needed in [
        "merge_request_event",
        "CI_DEFAULT_BRANCH",
        "resource_group:",
        "terragrunt plan",
        "terragrunt apply",
    ] {
        assert!(text.contains(needed), "{file} lacks {needed}");
    }
}

#[test]
fn buildspec_uses_documented_keys_and_no_password() {
    if validator().is_none() {
        return;
    }
    let file = "examples/ci/codebuild/buildspec.yml";
    let keys = root().join("tests/fixtures/ci/buildspec.schema.json");
    let keys = ["--schemafile", keys.to_str().unwrap()];
    valid_and_broken_copy_fails(&keys, file, "  pre_build:", "  prebuild:");
    valid_and_broken_copy_fails(&keys, file, "file-format: JUNITXML", "file-format: JUNIT");
    valid_and_broken_copy_fails(&keys, file, "    finally:", "    finaly:");
    let secrets = root().join("tests/fixtures/ci/buildspec-no-secrets.schema.json");
    let secrets = ["--schemafile", secrets.to_str().unwrap()];
    valid_and_broken_copy_fails(
        &secrets,
        file,
        "    TF_INPUT: \"0\"\n",
        "    TF_INPUT: \"0\"\n    COGNITO_PASSWORD: \"Secret-1\"\n",
    );
    valid_and_broken_copy_fails(
        &secrets,
        file,
        "  variables:\n",
        "  parameter-store:\n    DLT_ADMIN: /dlt/qa/admin-password\n  variables:\n",
    );
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    for needed in ["network_mirror", "terragrunt apply", "reports:", "console_url"] {
        assert!(text.contains(needed), "{file} lacks {needed}");
    }
}

/// The shell of the step named `name` in the workflow (its `run: |` block, dedented).
fn step_script(workflow: &str, name: &str) -> String {
    let start = workflow
        .find(&format!("- name: {name}\n"))
        .unwrap_or_else(|| panic!("no step {name:?}"));
    let rest = &workflow[start..];
    let end = rest[1..].find("\n      - ").map_or(rest.len(), |i| i + 1);
    let step = &rest[..end];
    let body = &step[step.find("run: |\n").expect("a run block") + "run: |\n".len()..];
    body.lines()
        .map(|l| l.strip_prefix("          ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn github_summary_step_tables_a_real_plan() {
    if Command::new("jq").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "jq missing: scripts/setup --browser installs it"
        );
        return eprintln!("SKIP: no jq");
    }
    with_terraform(|tf| {
        let mut ws = Workspace::new(tf, "");
        std::fs::remove_file(ws.path().join("main.tf")).unwrap();
        for f in std::fs::read_dir(root().join("examples/modules/dlt-test"))
            .unwrap()
            .flatten()
        {
            std::fs::copy(f.path(), ws.path().join(f.file_name())).unwrap();
        }
        ws.env("TF_VAR_name", "checkout-load")
            .env("TF_VAR_requests", r#"[{"url":"https://checkout.example.com/health"}]"#)
            .env("TF_VAR_concurrency", "50")
            .env("TF_VAR_task_count", "2")
            .env("TF_VAR_ramp_up", "1m")
            .env("TF_VAR_hold_for", "5m")
            .env("TF_VAR_gates", r#"{"min_success_rate":95,"max_p95":"1500ms"}"#)
            .env(
                "TF_VAR_api_endpoint",
                "https://mock.execute-api.eu-west-1.amazonaws.com/prod/",
            )
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
        ws.run(&["plan", "-no-color", "-input=false", "-out=tfplan"])
            .assert_ok();
        let show = ws.run(&["show", "-json", "tfplan"]);
        show.assert_ok();
        std::fs::write(ws.path().join("plan.json"), &show.stdout).unwrap();

        let workflow = std::fs::read_to_string(root().join("examples/ci/github/load-gate.yml")).unwrap();
        let script = step_script(&workflow, "What would run");
        let summary = ws.path().join("step-summary.md");
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(ws.path())
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(&summary).unwrap();
        assert!(
            text.contains("| checkout-load | DLT | 50 x 2 | 1m | 5m | max_p95 1500ms, min_success_rate 95 |"),
            "{text}"
        );
        assert_eq!(
            std::fs::read_to_string(ws.path().join("summary.md")).unwrap(),
            text,
            "the PR comment body is the summary"
        );
    });
}
