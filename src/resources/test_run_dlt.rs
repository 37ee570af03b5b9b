//! `dlt_test_run` on Distributed Load Testing on AWS: credentials, start, watch, cancel, delete.

use std::time::Duration;

use crate::dlt::scenario::TestSpec;
use crate::plugin::{Ctx, Diagnostics, Value};
use crate::provider::SharedData;

use super::test_run::RunRecord;

/// Runs `spec` on DLT. On failure after the test started, the record of the started test comes
/// back with the diagnostics so its id is kept in state.
pub async fn run(
    _ctx: &Ctx,
    _data: &SharedData,
    _spec: &TestSpec,
    _planned: &Value,
    _timeout: Duration,
) -> Result<RunRecord, (Option<RunRecord>, Diagnostics)> {
    let mut d = Diagnostics::new();
    d.attr_error("dlt", "Not implemented yet", "Running on DLT is not implemented in this build yet.");
    Err((None, d))
}

/// Deletes the DLT test recorded in `prior`.
pub async fn delete(_ctx: &Ctx, _data: &SharedData, _prior: &Value, _timeout: Duration) -> Diagnostics {
    Diagnostics::new()
}
