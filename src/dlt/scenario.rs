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
