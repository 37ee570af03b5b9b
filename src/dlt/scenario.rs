//! What a test run is: the scenario, the load shape and the gates, independent of where it runs
//! (the local engine or DLT on AWS). `src/resources/test_run.rs` builds a [`TestSpec`] from the
//! Terraform configuration; each engine turns it into its own form.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::gates::{Gates, LabelGate, StatusGate, Verdict};
use super::results::RunResults;

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
    /// The name its samples are reported under; `None`: [`request_labels`]' default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The label each request's samples are reported under, in request order: its own `label`, else
/// its URL as DLT (Taurus names a request by its URL) reports it, or `"METHOD URL"` when one URL
/// is sent with several methods (Taurus would merge them under one label; the provider sends
/// that label to DLT explicitly, so both engines report the same names).
pub fn request_labels(requests: &[RequestSpec]) -> Vec<String> {
    let mut methods_by_url: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for spec in requests.iter().filter(|r| r.label.is_none()) {
        let m = methods_by_url.entry(spec.url.as_str()).or_default();
        let method = spec.method.trim().to_ascii_uppercase();
        if !m.contains(&method) {
            m.push(method);
        }
    }
    requests
        .iter()
        .map(|spec| match &spec.label {
            Some(l) => l.clone(),
            None => match methods_by_url.get(spec.url.as_str()) {
                Some(methods) if methods.len() > 1 => {
                    format!("{} {}", spec.method.trim().to_ascii_uppercase(), spec.url)
                }
                _ => spec.url.clone(),
            },
        })
        .collect()
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
    /// The open model (local engine only): requests issued at this many per second (ramping from
    /// `start_rate` over `ramp_up`), by at most `concurrency x task_count` users. `None`: the
    /// closed model, each user looping as fast as it is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
    /// The open model's rate at the start of `ramp_up`; `None` is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_rate: Option<f64>,
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
    /// The gates' columns judged on one request label each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_gates: Vec<LabelGate>,
    /// Limits on the failures of one status code, class or transport failure kind each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status_gates: Vec<StatusGate>,
    /// The start of the run left out of the results and gates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warm_up: Option<WarmUp>,
}

impl TestSpec {
    /// Every gate of the test judged on `results`.
    pub fn verdict(&self, results: &RunResults) -> Verdict {
        Verdict::of_all(&self.gates, &self.label_gates, &self.status_gates, results)
    }

    /// How long the start of the run that is left out lasts (zero: nothing is).
    pub fn warm_up(&self) -> Duration {
        match self.warm_up {
            None => Duration::ZERO,
            Some(WarmUp::RampUp) => self.load.ramp_up,
            Some(WarmUp::For(d)) => d,
        }
    }
}

/// `warm_up`: how much of the start of a run the results (and so the gates) leave out.
/// Written `"ramp_up"` (the load's ramp-up) or a duration (`"30s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmUp {
    RampUp,
    For(Duration),
}

/// The word of `warm_up` that means "the ramp-up".
pub const WARM_UP_RAMP_UP: &str = "ramp_up";

impl WarmUp {
    pub fn parse(s: &str) -> Result<WarmUp, String> {
        if s.trim() == WARM_UP_RAMP_UP {
            return Ok(WarmUp::RampUp);
        }
        crate::duration::parse_duration(s)
            .map(WarmUp::For)
            .map_err(|e| format!("write \"{WARM_UP_RAMP_UP}\" or a duration such as \"30s\" ({e})"))
    }
}

impl Serialize for WarmUp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WarmUp::RampUp => s.serialize_str(WARM_UP_RAMP_UP),
            WarmUp::For(d) => s.serialize_str(&crate::duration::format_duration(*d)),
        }
    }
}

impl<'de> Deserialize<'de> for WarmUp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<WarmUp, D::Error> {
        let s = String::deserialize(d)?;
        WarmUp::parse(&s).map_err(serde::de::Error::custom)
    }
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
