//! What the DLT REST API sends back, read tolerantly (v3.2.1 through v4.x), and its conversion
//! into the shared [`RunResults`] (milliseconds, requests per second).
//!
//! DLT's JSON types drift between versions and even between fields of one object (times are
//! decimal strings in seconds, counts are numbers, `testScenario` is a string in one answer and
//! an object in the next), so everything is read from `serde_json::Value` with lenient accessors
//! instead of strict derives: an unexpected type must never fail a finished load test.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use super::results::{LabelResults, RunResults, Stats};

/// A test's status. Unknown values are kept and treated as "in progress", so a newer DLT with
/// new intermediate statuses still works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestStatus {
    Queued,
    Provisioning,
    Running,
    ParsingResults,
    CleaningUp,
    Complete,
    Failed,
    Cancelling,
    Cancelled,
    Scheduled,
    Other(String),
}

impl TestStatus {
    pub fn parse(s: &str) -> TestStatus {
        match s.trim() {
            "queued" => TestStatus::Queued,
            "provisioning" => TestStatus::Provisioning,
            "running" => TestStatus::Running,
            "parsing results" => TestStatus::ParsingResults,
            "cleaning up" => TestStatus::CleaningUp,
            "complete" => TestStatus::Complete,
            "failed" => TestStatus::Failed,
            "cancelling" => TestStatus::Cancelling,
            "cancelled" => TestStatus::Cancelled,
            "scheduled" => TestStatus::Scheduled,
            other => TestStatus::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TestStatus::Queued => "queued",
            TestStatus::Provisioning => "provisioning",
            TestStatus::Running => "running",
            TestStatus::ParsingResults => "parsing results",
            TestStatus::CleaningUp => "cleaning up",
            TestStatus::Complete => "complete",
            TestStatus::Failed => "failed",
            TestStatus::Cancelling => "cancelling",
            TestStatus::Cancelled => "cancelled",
            TestStatus::Scheduled => "scheduled",
            TestStatus::Other(s) => s,
        }
    }

    /// `complete`, `failed` and `cancelled` end a run; everything else may still change.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TestStatus::Complete | TestStatus::Failed | TestStatus::Cancelled)
    }

    /// States in which a new POST would collide with a live run (DLT accepts it and the new
    /// execution fails inside; clients must refuse). `scheduled` and `created` are idle.
    pub fn is_active(&self) -> bool {
        !self.is_terminal() && !matches!(self, TestStatus::Scheduled) && self.as_str() != "created"
    }
}

impl fmt::Display for TestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `GET /scenarios/{testId}`, the fields the runner needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioDetail {
    pub test_id: String,
    pub test_name: Option<String>,
    pub status: TestStatus,
    /// `"YYYY-MM-DD HH:mm:ss"` UTC, or empty.
    pub start_time: Option<String>,
    /// A timestamp, `"running"` or empty.
    pub end_time: Option<String>,
    pub error_reason: Option<String>,
    /// `None` when `results` is `{}` or absent.
    pub results: Option<DltResults>,
    /// Sorted by end time, oldest first (DLT returns them in random order).
    pub history: Vec<HistoryRow>,
    /// ECS tasks counted as live (v3: PROVISIONING/PENDING/RUNNING task objects; v4.1: the
    /// `running` + `pending` numbers), when `tasksPerRegion` is present.
    pub tasks_running: Option<u64>,
    /// `testScenario`, parsed when DLT sent it as a JSON string.
    pub test_scenario: Option<Value>,
    pub raw: Value,
}

impl ScenarioDetail {
    pub fn from_value(v: Value) -> ScenarioDetail {
        let results = v.get("results").and_then(DltResults::from_value);
        let mut history: Vec<HistoryRow> = v
            .get("history")
            .and_then(Value::as_array)
            .map(|rows| rows.iter().map(HistoryRow::from_value).collect())
            .unwrap_or_default();
        history.sort_by(|a, b| {
            a.end_time
                .cmp(&b.end_time)
                .then_with(|| a.start_time.cmp(&b.start_time))
        });
        ScenarioDetail {
            test_id: str_field(&v, "testId").unwrap_or_default(),
            test_name: str_field(&v, "testName"),
            status: TestStatus::parse(&str_field(&v, "status").unwrap_or_default()),
            start_time: str_field(&v, "startTime"),
            end_time: str_field(&v, "endTime"),
            error_reason: str_field(&v, "errorReason").filter(|s| !s.is_empty()),
            results,
            history,
            tasks_running: v.get("tasksPerRegion").map(count_tasks),
            test_scenario: v.get("testScenario").map(parse_maybe_string),
            raw: v,
        }
    }
}

/// Counts live tasks in either `tasksPerRegion` shape.
fn count_tasks(v: &Value) -> u64 {
    let Some(regions) = v.as_array() else { return 0 };
    regions
        .iter()
        .map(|r| {
            if let Some(tasks) = r.get("tasks").and_then(Value::as_array) {
                tasks
                    .iter()
                    .filter(|t| {
                        let s = t.get("lastStatus").and_then(Value::as_str).unwrap_or("");
                        matches!(s, "PROVISIONING" | "PENDING" | "RUNNING" | "ACTIVATING")
                    })
                    .count() as u64
            } else {
                num(r.get("running")).unwrap_or(0.0) as u64 + num(r.get("pending")).unwrap_or(0.0) as u64
            }
        })
        .sum()
}

/// A JSON value that DLT may have stringified (`testScenario` in the POST answer).
pub fn parse_maybe_string(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        other => other.clone(),
    }
}

/// One history row (written for successful runs in v3.2.1, for every run from v4.1).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub test_run_id: String,
    pub start_time: String,
    pub end_time: String,
    pub status: TestStatus,
    /// `succPercent`, a string such as `"99.50"` or `"NaN"` in v3.
    pub succ_percent: Option<f64>,
    pub results: Option<DltResults>,
}

impl HistoryRow {
    pub fn from_value(v: &Value) -> HistoryRow {
        HistoryRow {
            test_run_id: str_field(v, "testRunId").unwrap_or_default(),
            start_time: str_field(v, "startTime").unwrap_or_default(),
            end_time: str_field(v, "endTime").unwrap_or_default(),
            status: TestStatus::parse(&str_field(v, "status").unwrap_or_else(|| "complete".into())),
            succ_percent: num(v.get("succPercent")).filter(|x| x.is_finite()),
            results: v.get("results").and_then(DltResults::from_value),
        }
    }
}

/// A test in `GET /scenarios`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSummary {
    pub test_id: String,
    pub test_name: Option<String>,
    pub test_description: Option<String>,
    pub status: TestStatus,
    pub start_time: Option<String>,
}

impl ScenarioSummary {
    pub fn list_from_value(v: &Value) -> Vec<ScenarioSummary> {
        let items = v.get("Items").or_else(|| v.get("items")).and_then(Value::as_array);
        items
            .map(|items| {
                items
                    .iter()
                    .map(|i| ScenarioSummary {
                        test_id: str_field(i, "testId").unwrap_or_default(),
                        test_name: str_field(i, "testName"),
                        test_description: str_field(i, "testDescription"),
                        status: TestStatus::parse(&str_field(i, "status").unwrap_or_default()),
                        start_time: str_field(i, "startTime"),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One region of `GET /vCPUDetails`; every field may be missing (a failed sub-call).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VcpuDetails {
    pub vcpu_limit: Option<f64>,
    pub vcpus_per_task: Option<f64>,
    pub vcpus_in_use: Option<f64>,
}

impl VcpuDetails {
    pub fn map_from_value(v: &Value) -> BTreeMap<String, VcpuDetails> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(region, d)| {
                        let details = VcpuDetails {
                            vcpu_limit: num(d.get("vCPULimit")),
                            vcpus_per_task: num(d.get("vCPUsPerTask")),
                            vcpus_in_use: num(d.get("vCPUsInUse")),
                        };
                        (region.clone(), details)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The console's `dltAvailableTasks = floor((limit − inUse) / perTask)`; `None` when a field
    /// is missing or unusable, in which case DLT skips the check.
    pub fn available_tasks(&self) -> Option<i64> {
        let (limit, per_task, in_use) = (self.vcpu_limit?, self.vcpus_per_task?, self.vcpus_in_use?);
        if per_task <= 0.0 {
            return None;
        }
        let n = ((limit - in_use) / per_task).floor();
        n.is_finite().then_some(n as i64)
    }
}

/// DLT's stats block (a result's `results.total` and per-label entries): times in **seconds**, `throughput` = request **count**.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DltStats {
    pub avg_rt: f64,
    pub avg_lt: f64,
    pub avg_ct: f64,
    pub stdev_rt: f64,
    pub p0_0: f64,
    pub p50_0: f64,
    pub p90_0: f64,
    pub p95_0: f64,
    pub p99_0: f64,
    pub p99_9: f64,
    pub p100_0: f64,
    pub throughput: u64,
    pub succ: u64,
    pub fail: u64,
    pub bytes: f64,
    pub concurrency: f64,
    /// Seconds; `0` in label blocks.
    pub test_duration: f64,
    /// Failure codes other than 200 with their counts (codes may be names, not numbers).
    pub rc: Vec<(String, u64)>,
    pub labels: Vec<(String, DltStats)>,
    pub metric_s3_location: Option<String>,
}

impl DltStats {
    pub fn from_value(v: &Value) -> DltStats {
        let f = |k: &str| num(v.get(k)).filter(|x| x.is_finite()).unwrap_or(0.0);
        let c = |k: &str| {
            num(v.get(k))
                .filter(|x| x.is_finite() && *x >= 0.0)
                .unwrap_or(0.0)
                .round() as u64
        };
        let rc = v
            .get("rc")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| {
                        let code = match e.get("code")? {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        Some((code, num(e.get("count")).unwrap_or(0.0).max(0.0) as u64))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let labels = v
            .get("labels")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|l| (str_field(l, "label").unwrap_or_default(), DltStats::from_value(l)))
                    .collect()
            })
            .unwrap_or_default();
        DltStats {
            avg_rt: f("avg_rt"),
            avg_lt: f("avg_lt"),
            avg_ct: f("avg_ct"),
            stdev_rt: f("stdev_rt"),
            p0_0: f("p0_0"),
            p50_0: f("p50_0"),
            p90_0: f("p90_0"),
            p95_0: f("p95_0"),
            p99_0: f("p99_0"),
            p99_9: f("p99_9"),
            p100_0: f("p100_0"),
            throughput: c("throughput"),
            succ: c("succ"),
            fail: c("fail"),
            bytes: f("bytes"),
            concurrency: f("concurrency"),
            test_duration: f("testDuration"),
            rc,
            labels,
            metric_s3_location: str_field(v, "metricS3Location"),
        }
    }

    /// Converts to the shared model. `duration` is the run's measured seconds (label blocks
    /// carry `testDuration: "0"`, so the caller passes the total's).
    pub fn to_stats(&self, duration: f64) -> Stats {
        // `throughput` is DLT's sample count; fall back to succ + fail if a version omits it.
        let requests = if self.throughput > 0 {
            self.throughput
        } else {
            self.succ + self.fail
        };
        let ms = |s: f64| s * 1000.0;
        Stats {
            requests,
            successes: self.succ,
            failures: self.fail,
            dropped: 0,
            success_rate: Stats::compute_success_rate(self.succ, requests),
            throughput: if duration > 0.0 {
                requests as f64 / duration
            } else {
                0.0
            },
            avg_response_time_ms: ms(self.avg_rt),
            p50_ms: ms(self.p50_0),
            p90_ms: ms(self.p90_0),
            p95_ms: ms(self.p95_0),
            p99_ms: ms(self.p99_0),
            max_ms: ms(self.p100_0),
        }
    }
}

/// The `results` object: `total` plus one block per region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DltResults {
    pub total: Option<DltStats>,
    pub regions: BTreeMap<String, DltStats>,
}

impl DltResults {
    /// `None` for `{}` (no results yet, or a cancelled/failed run).
    pub fn from_value(v: &Value) -> Option<DltResults> {
        let m = v.as_object().filter(|m| !m.is_empty())?;
        let mut out = DltResults::default();
        for (k, block) in m {
            if !block.is_object() {
                continue;
            }
            if k == "total" {
                out.total = Some(DltStats::from_value(block));
            } else {
                out.regions.insert(k.clone(), DltStats::from_value(block));
            }
        }
        if out.total.is_none() && out.regions.is_empty() {
            return None;
        }
        Some(out)
    }

    /// Converts into the shared model: ms, req/s = throughput ÷ testDuration. Without a `total`
    /// block (single-region shapes seen in the wild) the only region stands in for it.
    pub fn to_run_results(&self) -> RunResults {
        let total = self
            .total
            .clone()
            .or_else(|| {
                (self.regions.len() == 1)
                    .then(|| self.regions.values().next().cloned())
                    .flatten()
            })
            .unwrap_or_default();
        let duration = total.test_duration;
        let mut status_codes = BTreeMap::new();
        for (code, count) in &total.rc {
            if code != "200" {
                *status_codes.entry(code.clone()).or_insert(0) += *count;
            }
        }
        // v3.2.1 inflates `rc` for runs of more than one task; `fail` is right. More coded
        // failures than failures is that bug (codes can only be fewer: assertion failures on a
        // 200 have no code of their own).
        let coded: u64 = status_codes.values().sum();
        let status_codes_method = if coded > total.fail {
            log::warn!(
                "DLT reports {coded} failures by response code but {} failed requests (DLT v3.2.1 overcounts codes \
                 of runs with more than one task); the failure count is DLT's fail, the codes are approximate",
                total.fail
            );
            super::results::CODES_APPROXIMATE.to_string()
        } else {
            String::new()
        };
        RunResults {
            total: total.to_stats(duration),
            duration_seconds: duration,
            labels: total
                .labels
                .iter()
                .map(|(label, s)| LabelResults {
                    label: label.clone(),
                    stats: s.to_stats(if s.test_duration > 0.0 {
                        s.test_duration
                    } else {
                        duration
                    }),
                })
                .collect(),
            status_codes,
            regions: self
                .regions
                .iter()
                .map(|(r, s)| {
                    (
                        r.clone(),
                        s.to_stats(if s.test_duration > 0.0 {
                            s.test_duration
                        } else {
                            duration
                        }),
                    )
                })
                .collect(),
            percentile_method: super::results::METHOD_DLT_AVERAGED.to_string(),
            status_codes_method,
            // DLT's aggregated results hold neither a timeline nor a distribution.
            ..RunResults::default()
        }
    }
}

/// DLT's message from an error body, whatever the version: a JSON string (3.2.3+, v4
/// `"CODE: message"`), a JSON object with `message`/`Message` (API Gateway), or plain text
/// (v3.2.1 `err.toString()`, including the literal `[object Object]`).
pub fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let message = match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(m)) => m
            .get("message")
            .or_else(|| m.get("Message"))
            .or_else(|| m.get("errorMessage"))
            .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
            .unwrap_or_else(|| trimmed.to_string()),
        _ => trimmed.to_string(),
    };
    let message = if message.len() > 2000 {
        format!("{}…", truncate(&message, 2000))
    } else {
        message
    };
    if message == "[object Object]" {
        "[object Object] (DLT v3.2.1 hides validation errors behind this text; check task_count against the \
         available Fargate tasks, concurrency >= 1, the ramp_up/hold_for formats and that the region is deployed)"
            .to_string()
    } else if message.is_empty() {
        "(empty body)".to_string()
    } else {
        message
    }
}

/// The `CODE` of a v4 `"CODE: message"` error, if the message has that shape.
pub fn error_code(message: &str) -> Option<&str> {
    let (code, _) = message.split_once(':')?;
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')).then_some(code)
}

fn truncate(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// A number or a numeric string (`"0.12345"`, `"NaN"` → NaN); `None` otherwise.
pub fn num(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn v321_detail() -> Value {
        json!({
            "testId": "Ab3dE6gH9j", "testName": "checkout", "status": "complete",
            "startTime": "2024-03-05 09:00:00", "endTime": "2024-03-05 09:07:30",
            "testScenario": "{\"execution\":[{\"ramp-up\":\"1m\",\"hold-for\":\"3m\",\"scenario\":\"checkout\"}]}",
            "results": {
                "total": {
                    "avg_ct": "0.00120", "avg_lt": "0.04000", "avg_rt": "0.05012", "stdev_rt": "0.010",
                    "p0_0": "0.010", "p50_0": "0.048", "p90_0": "0.070", "p95_0": "0.080", "p99_0": "0.120",
                    "p99_9": "0.300", "p100_0": "0.450", "throughput": 12000, "succ": 11880, "fail": 120,
                    "bytes": "123456", "concurrency": "10", "testDuration": "240",
                    "rc": [{"code": "500", "count": 100}, {"code": "UnknownHostException", "count": 20}],
                    "labels": [{"label": "https://app/health", "avg_rt": "0.05012", "p95_0": "0.080",
                                "throughput": 12000, "succ": 11880, "fail": 120, "testDuration": "0",
                                "rc": [], "labels": []}],
                    "metricS3Location": "cloudwatch-images/Ab3dE6gH9j/x.png"
                },
                "eu-west-1": {"avg_rt": "0.05012", "throughput": 12000, "succ": 11880, "fail": 120, "testDuration": "240"}
            },
            "history": [
                {"testRunId": "r2", "endTime": "2024-03-05 09:07:30", "succPercent": "99.00", "status": "complete"},
                {"testRunId": "r1", "endTime": "2024-03-01 10:00:00", "succPercent": "NaN"}
            ],
            "completeTasks": {"eu-west-1": 2}
        })
    }

    #[test]
    fn reads_v321_detail_and_converts() {
        let d = ScenarioDetail::from_value(v321_detail());
        assert_eq!(d.status, TestStatus::Complete);
        assert_eq!(
            d.history.iter().map(|h| h.test_run_id.as_str()).collect::<Vec<_>>(),
            ["r1", "r2"]
        );
        assert_eq!(d.history[0].succ_percent, None);
        assert_eq!(d.history[1].succ_percent, Some(99.0));
        assert!(d.test_scenario.as_ref().and_then(|s| s.get("execution")).is_some());
        let r = d.results.expect("results").to_run_results();
        assert_eq!(r.total.requests, 12000);
        assert_eq!(r.total.failures, 120);
        assert!((r.total.success_rate - 99.0).abs() < 1e-9);
        assert!((r.total.throughput - 50.0).abs() < 1e-9);
        assert!((r.total.avg_response_time_ms - 50.12).abs() < 1e-9);
        assert!((r.total.p95_ms - 80.0).abs() < 1e-9);
        assert!((r.total.max_ms - 450.0).abs() < 1e-9);
        assert_eq!(r.duration_seconds, 240.0);
        assert_eq!(r.status_codes.get("UnknownHostException"), Some(&20));
        assert_eq!(r.labels[0].label, "https://app/health");
        assert!(
            (r.labels[0].stats.throughput - 50.0).abs() < 1e-9,
            "labels use the total's duration"
        );
        assert_eq!(r.regions["eu-west-1"].requests, 12000);
        assert_eq!(r.percentile_method, crate::dlt::results::METHOD_DLT_AVERAGED);
    }

    #[test]
    fn statuses() {
        for s in [
            "queued",
            "provisioning",
            "running",
            "parsing results",
            "cleaning up",
            "cancelling",
            "warming",
        ] {
            let st = TestStatus::parse(s);
            assert!(!st.is_terminal() && st.is_active(), "{s}");
            assert_eq!(st.as_str(), s);
        }
        for s in ["complete", "failed", "cancelled"] {
            assert!(TestStatus::parse(s).is_terminal());
        }
        assert!(!TestStatus::Scheduled.is_active());
    }

    #[test]
    fn empty_results_and_v4_tasks() {
        let d = ScenarioDetail::from_value(json!({"testId": "x", "status": "running", "results": {},
            "endTime": "running", "tasksPerRegion": [{"region": "eu-west-1", "running": 3, "pending": 1, "desired": 4}]}));
        assert_eq!(d.results, None);
        assert_eq!(d.tasks_running, Some(4));
        let d = ScenarioDetail::from_value(json!({"status": "running", "tasksPerRegion": [{"region": "r",
            "tasks": [{"lastStatus": "RUNNING"}, {"lastStatus": "STOPPED"}, {"lastStatus": "PENDING"}]}]}));
        assert_eq!(d.tasks_running, Some(2));
    }

    #[test]
    fn zero_duration_does_not_divide_by_zero() {
        let r = DltResults::from_value(&json!({"total": {"throughput": 0, "succ": 0, "fail": 0, "testDuration": "0"}}))
            .expect("results")
            .to_run_results();
        assert_eq!(r.total.throughput, 0.0);
        assert_eq!(r.total.success_rate, 0.0);
    }

    #[test]
    fn error_bodies_of_every_version() {
        assert!(error_message(b"[object Object]").starts_with("[object Object] (DLT v3.2.1"));
        assert_eq!(
            error_message(b"TypeError: testTaskConfigs is not iterable"),
            "TypeError: testTaskConfigs is not iterable"
        );
        assert_eq!(
            error_message(b"\"TEST_NOT_FOUND: Test x not found\""),
            "TEST_NOT_FOUND: Test x not found"
        );
        assert_eq!(error_code("TEST_NOT_FOUND: Test x not found"), Some("TEST_NOT_FOUND"));
        assert_eq!(error_code("TypeError: x"), None);
        assert_eq!(
            error_message(br#"{"message":"Missing Authentication Token"}"#),
            "Missing Authentication Token"
        );
        assert_eq!(
            error_message(br#"{"Message":"User: arn:x is not authorized"}"#),
            "User: arn:x is not authorized"
        );
        assert_eq!(error_message(b""), "(empty body)");
    }

    #[test]
    fn vcpu_available_tasks() {
        let m = VcpuDetails::map_from_value(
            &json!({"eu-west-1": {"vCPULimit": 4000, "vCPUsPerTask": 2, "vCPUsInUse": 11},
            "us-east-1": {"vCPULimit": 4000, "vCPUsInUse": 0}}),
        );
        assert_eq!(m["eu-west-1"].available_tasks(), Some(1994));
        assert_eq!(m["us-east-1"].available_tasks(), None);
    }
}
