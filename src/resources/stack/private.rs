//! `dlt_stack` private state as a serde type (JSON bytes Terraform keeps beside the state and
//! never shows).

use std::collections::BTreeMap;

use crate::dlt::stack_outputs::Discovered;

/// Private state: what read learnt that plan needs (the live SSM version, and the values found
/// among the stack's resources, so a plan can recompute the well-known attributes offline), and
/// the creation marker that updates keep.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Private {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_admin_password_version: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub discovered: Discovered,
    /// The stack's creation marker tag as last read, so an update (whose tags replace the
    /// stack's) keeps it instead of untagging every resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
}

impl Private {
    pub fn decode(b: &[u8]) -> Private {
        serde_json::from_slice(b).unwrap_or_default()
    }
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec())
    }
}
