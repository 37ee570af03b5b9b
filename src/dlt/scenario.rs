//! What a test run is: the scenario, the load shape and the gates, independent of where it runs
//! (the local engine or DLT on AWS). `src/resources/test_run.rs` builds a [`TestSpec`] from the
//! Terraform configuration; each engine turns it into its own form.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::gates::Gates;

/// One HTTP request of a simple scenario. Virtual users loop over the list in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestSpec {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
}

fn default_method() -> String {
    "GET".to_string()
}

/// The scenario type: DLT's `testType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Scenario {
    /// HTTP requests, run by the local engine or by DLT's simple test type.
    Simple { requests: Vec<RequestSpec> },
    /// A JMeter script (`.jmx` or `.zip`); DLT only.
    Jmeter { script: PathBuf },
    /// A k6 script (`.js`, `.ts` or `.zip`); DLT v4 only.
    K6 { script: PathBuf },
    /// A Locust file (`.py` or `.zip`); DLT v4 only.
    Locust { script: PathBuf },
}

/// The script-based test types, as DLT names them (`testType`, the S3 folder, Taurus' executor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptType {
    Jmeter,
    K6,
    Locust,
}

impl ScriptType {
    pub const ALL: [ScriptType; 3] = [ScriptType::Jmeter, ScriptType::K6, ScriptType::Locust];

    pub fn name(self) -> &'static str {
        match self {
            ScriptType::Jmeter => "jmeter",
            ScriptType::K6 => "k6",
            ScriptType::Locust => "locust",
        }
    }

    pub fn parse(s: &str) -> Option<ScriptType> {
        ScriptType::ALL.into_iter().find(|t| t.name() == s)
    }

    /// File extensions the DLT container reads for this type (deployment/ecr/…/load-test.sh):
    /// `<testId>.<ext>` under `public/test-scenarios/<type>/`.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            ScriptType::Jmeter => &["jmx", "zip"],
            ScriptType::K6 => &["js", "ts", "zip"],
            ScriptType::Locust => &["py", "zip"],
        }
    }

    /// The first DLT release whose API the provider runs this type on (k6 and Locust came in
    /// v3.4; the provider recognises a DLT from v4 on by its `GET /stack-info`).
    pub fn needs_v4(self) -> bool {
        self != ScriptType::Jmeter
    }

    /// Why `path` cannot be this type's script, judging by its extension.
    pub fn check_extension(self, path: &str) -> Result<String, String> {
        let ext = std::path::Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if self.extensions().contains(&ext.as_str()) {
            Ok(ext)
        } else {
            Err(format!(
                "a {} script must be a {} file, got {path:?}",
                self.name(),
                self.extensions()
                    .iter()
                    .map(|e| format!(".{e}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
}

impl Scenario {
    /// The script and its type, for script-based scenarios.
    pub fn script(&self) -> Option<(ScriptType, &std::path::Path)> {
        match self {
            Scenario::Simple { .. } => None,
            Scenario::Jmeter { script } => Some((ScriptType::Jmeter, script)),
            Scenario::K6 { script } => Some((ScriptType::K6, script)),
            Scenario::Locust { script } => Some((ScriptType::Locust, script)),
        }
    }

    /// `scenario.type` of a script type with its path.
    pub fn from_script(kind: ScriptType, script: PathBuf) -> Scenario {
        match kind {
            ScriptType::Jmeter => Scenario::Jmeter { script },
            ScriptType::K6 => Scenario::K6 { script },
            ScriptType::Locust => Scenario::Locust { script },
        }
    }
}

/// The load shape, in DLT's terms: `concurrency` virtual users per task, `task_count` tasks per
/// region. The local engine runs `concurrency x task_count` virtual users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub concurrency: u32,
    pub task_count: u32,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(with = "duration_str")]
    pub ramp_up: Duration,
    #[serde(with = "duration_str")]
    pub hold_for: Duration,
}

impl Load {
    /// Virtual users the local engine runs.
    pub fn local_virtual_users(&self) -> u64 {
        u64::from(self.concurrency) * u64::from(self.task_count.max(1))
    }
}

/// A whole test definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub scenario: Scenario,
    pub load: Load,
    #[serde(default)]
    pub gates: Gates,
}

/// Serde helper: durations as SPEC-style strings (`"1m"`, `"500ms"`).
pub mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::duration::{format_duration, parse_duration};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }
}
