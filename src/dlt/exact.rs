//! Exact figures for a completed DLT run. DLT's results parser averages the per-task
//! percentiles (and maxima) instead of merging the distributions, so its p95 is wrong whenever a
//! run has more than one task. DLT v4 uploads every task's raw samples under the run's own prefix
//! (`results/<testId>/<time>_<testRunId>/kpi-<uuid>-<region>.jtl`); this module lists and merges
//! them ([`merge_run`]) and swaps them in for DLT's figures, keeping DLT's beside them
//! ([`RunResults::dlt_reported`]). When that cannot be done (no bucket configured, no
//! `s3:ListBucket`/`s3:GetObject`, a task's file missing, unreadable lines) DLT's figures stay,
//! and the warnings say why and how many samples were lost, for the apply output.

use std::time::Duration;

use super::gates::Gates;
use super::results::{RunResults, METHOD_DLT_AVERAGED};
use super::samples::{merge_files, merge_run, run_prefix_of, ExactResults, ResultStore, SampleFormat, Window};
use super::task_results::run_jmeter_result_keys;

/// What the run's results end up as, and what the user should be told about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Refined {
    pub results: RunResults,
    pub warnings: Vec<String>,
}

/// Where the raw samples of one run are.
#[derive(Debug, Clone, Copy)]
pub struct RunLocation<'a> {
    pub test_id: &'a str,
    /// The run's history row id (`None`: DLT wrote none, nothing to look for).
    pub test_run_id: Option<&'a str>,
    /// The stack is v4 (v3.2.1 simple tests upload no raw samples).
    pub v4: bool,
    /// `warm_up`: each task's first samples left out (zero: none).
    pub warm_up: Duration,
    /// A JMeter test: on v3.2.1 its script's own CSV results file, when it writes one, has
    /// every sample.
    pub jmeter: bool,
    /// DLT's `startTime` of the run, which names v3.2.1's result files.
    pub dlt_start_time: Option<&'a str>,
}

/// The `percentile_method` of exact figures merged from `tasks` raw-sample files.
pub fn method_exact(tasks: u64) -> String {
    format!(
        "exact (merged raw samples, {tasks} task{})",
        if tasks == 1 { "" } else { "s" }
    )
}

/// The apply-output note for percentile gates judged on DLT's averaged per-task percentiles
/// (v3.2.1 simple tests, or a v4 run whose raw samples could not be read).
pub fn averaged_percentile_note(gates: &Gates, results: &RunResults) -> Option<String> {
    if results.percentile_method != METHOD_DLT_AVERAGED {
        return None;
    }
    let names: Vec<&str> = gates
        .iter()
        .filter(|(def, _)| def.reads.starts_with('p') || def.reads == "max_ms")
        .map(|(def, _)| def.name)
        .collect();
    (!names.is_empty()).then(|| {
        format!(
            "{} judged on DLT's figures: the average of the per-task percentiles, not the percentiles of \
             the whole run (no raw samples were read: DLT v3.2.1 simple tests upload none, a v3.2.1 JMeter \
             script only the CSV results file it writes). With more than one task they can be far from the \
             true values.",
            names.join(", ")
        )
    })
}

/// The keys under `base`, or why they cannot be listed.
async fn list_keys(store: &dyn ResultStore, bucket: &str, base: &str) -> Result<Vec<String>, String> {
    store
        .list(bucket, base)
        .await
        .map_err(|cause| format!("cannot list s3://{bucket}/{base} (needs s3:ListBucket): {cause}"))
}

/// DLT's figures, and a warning saying why they are not exact.
fn fallback(run: RunLocation<'_>, dlt: RunResults, why: String) -> Refined {
    Refined {
        results: dlt,
        warnings: vec![format!(
            "DLT test {}: showing DLT's own figures (percentiles averaged over tasks, not exact{}): {why}",
            run.test_id,
            if run.warm_up.is_zero() {
                ""
            } else {
                "; warm_up NOT left out: the gates judged the whole run"
            }
        )],
    }
}

/// DLT's figures replaced by the merged raw samples where possible (see the module doc).
pub async fn refine(
    store: Option<&dyn ResultStore>,
    bucket: Option<&str>,
    run: RunLocation<'_>,
    dlt: RunResults,
) -> Refined {
    let mut dlt = dlt;
    let counted = dlt.total.requests;
    dlt.percentile_method = METHOD_DLT_AVERAGED.to_string();
    let fallback = |dlt: RunResults, why: String| fallback(run, dlt, why);
    if !run.v4 && !run.jmeter {
        return Refined {
            results: dlt,
            warnings: Vec::new(),
        };
    }
    let Some(bucket) = bucket else {
        return fallback(
            dlt,
            "set dlt.scenarios_bucket (the stack's ScenariosBucket) to merge the run's raw samples".into(),
        );
    };
    let Some(store) = store else {
        return fallback(dlt, "no S3 client to read the scenarios bucket".into());
    };
    if !run.v4 {
        return refine_v3_jmeter(store, bucket, run, dlt).await;
    }
    let Some(run_id) = run.test_run_id else {
        return fallback(dlt, "DLT recorded no test run id for this run".into());
    };
    let base = format!("results/{}/", run.test_id);
    let keys = match list_keys(store, bucket, &base).await {
        Ok(k) => k,
        Err(why) => return fallback(dlt, why),
    };
    let Some(prefix) = run_prefix_of(&keys, run.test_id, run_id) else {
        return fallback(
            dlt,
            format!(
                "no files of run {run_id} under s3://{bucket}/{base} (all {counted} samples DLT counted are unread)"
            ),
        );
    };
    let exact = match merge_run(
        store,
        bucket,
        &prefix,
        Window {
            skip_first: run.warm_up,
        },
    )
    .await
    {
        Ok(e) => e,
        Err(e) => {
            return fallback(
                dlt,
                format!("{e} (reading needs s3:GetObject; all {counted} samples DLT counted are unread)"),
            )
        }
    };
    exact_beside(run, exact, dlt, method_exact)
}

/// The merged figures in place of DLT's (kept in `dlt_reported`), with warnings for what was
/// lost on the way.
fn exact_beside(run: RunLocation<'_>, exact: ExactResults, mut dlt: RunResults, method: fn(u64) -> String) -> Refined {
    let mut warnings = Vec::new();
    if !exact.unreadable_files.is_empty() {
        warnings.push(format!(
            "DLT test {}: {} raw sample file(s) could not be read and are left out: {}",
            run.test_id,
            exact.unreadable_files.len(),
            exact.unreadable_files.join("; ")
        ));
    }
    if exact.summary.unreadable > 0 {
        warnings.push(format!(
            "DLT test {}: {} unreadable sample line(s) skipped",
            run.test_id, exact.summary.unreadable
        ));
    }
    let merged = exact.results.total.requests + exact.summary.excluded;
    if merged < dlt.total.requests {
        warnings.push(format!(
            "DLT test {}: the raw samples hold {merged} requests, DLT counted {}: {} samples lost (a task's file missing or cut short?)",
            run.test_id,
            dlt.total.requests,
            dlt.total.requests - merged
        ));
    }
    let mut results = exact.results;
    results.warm_up_excluded = exact.summary.excluded;
    results.percentile_method = method(exact.files);
    results.regions = std::mem::take(&mut dlt.regions);
    results.dlt_reported = Some(dlt.total);
    Refined { results, warnings }
}

/// The `percentile_method` of exact figures merged from a v3.2.1 JMeter script's own CSV
/// results, `files` of them (one per task).
pub fn method_exact_jmeter(files: u64) -> String {
    format!(
        "exact (merged JMeter CSV results, {files} file{})",
        if files == 1 { "" } else { "s" }
    )
}

/// DLT v3.2.1 JMeter tests: the container uploads the files the script's result collectors
/// write (`results/<testId>/JMeter_Result/<prefix>/<uuid>/<file>`); CSV JTL ones are merged like
/// v4's raw samples. Without one, DLT's figures with a warning saying how to get exact ones.
async fn refine_v3_jmeter(store: &dyn ResultStore, bucket: &str, run: RunLocation<'_>, dlt: RunResults) -> Refined {
    let counted = dlt.total.requests;
    let fallback = |dlt: RunResults, why: String| fallback(run, dlt, why);
    let Some(start) = run.dlt_start_time else {
        return fallback(dlt, "DLT recorded no start time for this run".into());
    };
    let base = format!("results/{}/JMeter_Result/", run.test_id);
    let keys = match list_keys(store, bucket, &base).await {
        Ok(k) => k,
        Err(why) => return fallback(dlt, why),
    };
    let files: Vec<(String, SampleFormat)> = run_jmeter_result_keys(&keys, run.test_id, start)
        .into_iter()
        .map(|k| (k, SampleFormat::Jtl))
        .collect();
    if files.is_empty() {
        return fallback(
            dlt,
            format!(
                "the JMeter script wrote no CSV results file for this run under s3://{bucket}/{base} \
                 (add a result collector whose filename ends in .jtl or .csv to get exact figures on DLT v3.2.1)"
            ),
        );
    }
    let window = Window {
        skip_first: run.warm_up,
    };
    match merge_files(store, bucket, &base, &files, window).await {
        Ok(exact) => exact_beside(run, exact, dlt, method_exact_jmeter),
        Err(e) => fallback(
            dlt,
            format!("{e} (reading needs s3:GetObject; all {counted} samples DLT counted are unread)"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlt::samples::ChunkSink;
    use async_trait::async_trait;
    use std::collections::BTreeMap;

    /// An in-memory scenarios bucket.
    struct Mem(BTreeMap<String, String>);

    #[async_trait]
    impl ResultStore for Mem {
        async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
            if bucket != "b" {
                return Err("AccessDenied".into());
            }
            Ok(self.0.keys().filter(|k| k.starts_with(prefix)).cloned().collect())
        }
        async fn read(&self, _bucket: &str, key: &str, sink: &mut ChunkSink<'_>) -> Result<(), String> {
            sink(self.0.get(key).ok_or("NoSuchKey")?.as_bytes())
        }
    }

    const HEADER: &str = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,success,bytes,grpThreads,allThreads,Latency,Hostname,Connect\n";

    fn file(ms: &[u64]) -> String {
        let mut s = HEADER.to_string();
        for (i, m) in ms.iter().enumerate() {
            s.push_str(&format!(
                "{},{m},home,200,OK,t,true,1,1,1,{m},h,0\n",
                1_764_000_000_000u64 + i as u64 * 100
            ));
        }
        s
    }

    fn dlt(requests: u64, p95: f64) -> RunResults {
        let mut r = RunResults::default();
        r.total.requests = requests;
        r.total.successes = requests;
        r.total.p95_ms = p95;
        r
    }

    fn run(v4: bool) -> RunLocation<'static> {
        RunLocation {
            test_id: "T1",
            test_run_id: Some("R1"),
            v4,
            warm_up: Duration::ZERO,
            jmeter: false,
            dlt_start_time: Some("2026-12-02 07:40:41"),
        }
    }

    #[tokio::test]
    async fn merged_figures_replace_dlts_and_keep_them_beside() {
        let store = Mem(BTreeMap::from([
            (
                "results/T1/2026-12-02T00-00-00_R1/kpi-a-eu-west-1.jtl".into(),
                file(&[10; 20]),
            ),
            (
                "results/T1/2026-12-02T00-00-00_R1/kpi-b-eu-west-1.jtl".into(),
                file(&[1000; 20]),
            ),
        ]));
        let r = refine(Some(&store), Some("b"), run(true), dlt(40, 505.0)).await;
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.results.percentile_method, "exact (merged raw samples, 2 tasks)");
        assert_eq!(r.results.total.requests, 40);
        assert!(
            (r.results.total.p95_ms - 1000.0).abs() < 1.0,
            "{}",
            r.results.total.p95_ms
        );
        assert_eq!(r.results.dlt_reported.as_ref().map(|s| s.p95_ms), Some(505.0));

        // A task's file missing: exact over what is there, and the loss is counted.
        let r = refine(Some(&store), Some("b"), run(true), dlt(60, 505.0)).await;
        assert!(
            r.warnings.iter().any(|w| w.contains("20 samples lost")),
            "{:?}",
            r.warnings
        );
    }

    #[tokio::test]
    async fn warm_up_leaves_each_tasks_first_samples_out_or_says_it_could_not() {
        // Samples 100 ms apart: a 1 s warm-up leaves out each file's first 10.
        let store = Mem(BTreeMap::from([(
            "results/T1/2026-12-02T00-00-00_R1/kpi-a-eu-west-1.jtl".into(),
            file(&[[900; 10].as_slice(), &[10; 20]].concat()),
        )]));
        let warm = RunLocation {
            warm_up: Duration::from_secs(1),
            ..run(true)
        };
        let r = refine(Some(&store), Some("b"), warm, dlt(30, 505.0)).await;
        assert!(r.warnings.is_empty(), "excluded samples are not lost: {:?}", r.warnings);
        assert_eq!((r.results.total.requests, r.results.warm_up_excluded), (20, 10));
        assert!((r.results.total.max_ms - 10.0).abs() < 0.1, "{:?}", r.results.total);
        // Without the raw samples the warm-up cannot be cut, and the warning says so.
        let r = refine(Some(&store), None, warm, dlt(30, 505.0)).await;
        assert!(r.warnings[0].contains("warm_up NOT left out"), "{:?}", r.warnings);
    }

    #[tokio::test]
    async fn falls_back_to_dlt_saying_why() {
        let store = Mem(BTreeMap::new());
        let r = refine(Some(&store), Some("other"), run(true), dlt(40, 505.0)).await;
        assert_eq!(r.results.percentile_method, METHOD_DLT_AVERAGED);
        assert_eq!(r.results.total.p95_ms, 505.0);
        assert!(r.results.dlt_reported.is_none());
        assert!(
            r.warnings[0].contains("s3:ListBucket") && r.warnings[0].contains("AccessDenied"),
            "{:?}",
            r.warnings
        );

        let r = refine(Some(&store), Some("b"), run(true), dlt(40, 505.0)).await;
        assert!(
            r.warnings[0].contains("no files of run R1") && r.warnings[0].contains("40 samples"),
            "{:?}",
            r.warnings
        );

        let r = refine(Some(&store), None, run(true), dlt(40, 505.0)).await;
        assert!(r.warnings[0].contains("dlt.scenarios_bucket"), "{:?}", r.warnings);

        // v3.2.1: DLT's figures, labelled, nothing to warn about here.
        let r = refine(Some(&store), Some("b"), run(false), dlt(40, 505.0)).await;
        assert!(r.warnings.is_empty());
        assert_eq!(r.results.percentile_method, METHOD_DLT_AVERAGED);
    }

    #[tokio::test]
    async fn v321_jmeter_results_file_gives_exact_figures() {
        let jmeter = RunLocation {
            jmeter: true,
            ..run(false)
        };
        let this: String = "2026-12-02T07:40:41.123".chars().rev().collect();
        let store = Mem(BTreeMap::from([
            (
                format!("results/T1/JMeter_Result/{this}/u1/results.jtl"),
                file(&[10; 20]),
            ),
            (
                format!("results/T1/JMeter_Result/{this}/u2/results.jtl"),
                file(&[1000; 20]),
            ),
            (
                format!("results/T1/JMeter_Result/{this}/u2/users.csv"),
                "name,password\n".into(),
            ),
        ]));
        let r = refine(Some(&store), Some("b"), jmeter, dlt(40, 505.0)).await;
        assert_eq!(
            r.results.percentile_method,
            "exact (merged JMeter CSV results, 2 files)"
        );
        assert_eq!(r.results.total.requests, 40);
        assert!(
            (r.results.total.p95_ms - 1000.0).abs() < 1.0,
            "{}",
            r.results.total.p95_ms
        );
        assert_eq!(r.results.dlt_reported.as_ref().map(|s| s.p95_ms), Some(505.0));
        // The script's data file is no results file: named, nothing lost.
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0].contains("users.csv"), "{:?}", r.warnings);

        // A script that writes no results file: DLT's figures, and how to get exact ones.
        let none = Mem(BTreeMap::new());
        let r = refine(Some(&none), Some("b"), jmeter, dlt(40, 505.0)).await;
        assert_eq!(r.results.percentile_method, METHOD_DLT_AVERAGED);
        assert!(r.warnings[0].contains("wrote no CSV results file"), "{:?}", r.warnings);
        // Simple v3.2.1 tests look for nothing.
        let r = refine(Some(&none), Some("b"), run(false), dlt(40, 505.0)).await;
        assert!(r.warnings.is_empty());
    }
}
