//! The pipeline examples in `examples/ci/` are valid for the CI systems they are written for,
//! checked with a real schema validator (PyPI `check-jsonschema`, pinned in `scripts/setup`):
//! the GitHub workflow against the GitHub Actions workflow schema it vendors (and its
//! timeout-required variant), the GitLab file against the GitLab CI schema it vendors, and the
//! CodeBuild buildspec against a schema of the keys AWS documents for buildspec version 0.2
//! (`tests/fixtures/ci/buildspec.schema.json`), plus a check that it carries no password.
//! Each check is also run on a broken copy, which must fail: the validator really bites.

use std::path::{Path, PathBuf};
use std::process::Command;

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
