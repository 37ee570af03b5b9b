//! The finished run, whichever engine ran it: both engines (`local.rs`, `dlt.rs`) return a
//! [`RunRecord`], and the resource writes its state from it (`state.rs`).

use crate::dlt::results::RunResults;

/// The finished run, engine-independent, as stored in state.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: String,
    pub engine: &'static str,
    pub status: String,
    pub started_at: String,
    pub finished_at: String,
    pub console_url: Option<String>,
    pub results: RunResults,
    /// For the apply output: why the figures are not exact, samples lost.
    pub warnings: Vec<String>,
}

/// Now, as the RFC 3339 time state records.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
