//! CI reports of a run, the same for both engines: JUnit XML (one testcase per gate, so CI test
//! viewers show which gate failed and by how much), a JSON document with everything, a Markdown
//! summary for pull requests and job summaries ([`markdown`]) and a self-contained HTML page with
//! charts ([`html`]). The human-facing reports share one view of the gate table ([`gate_rows`]).

pub mod html;
pub mod markdown;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::gates::{GateResult, Verdict};
use super::results::{LabelResults, RunResults};
use super::scenario::TestSpec;

/// Facts about the run that are not results: where and when it ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportMeta {
    /// DLT testId, or `local-...` on the local engine.
    pub test_id: String,
    /// `"local"` or `"dlt"`.
    pub engine: String,
    /// `complete`, `failed` or `cancelled`.
    pub status: String,
    /// RFC 3339 timestamps.
    pub started_at: String,
    pub finished_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
}

/// A report could not be written; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("writing report {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding report {}: {source}", path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

fn write_file(path: &Path, contents: &[u8]) -> Result<(), ReportError> {
    let io = |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, contents).map_err(io)
}

/// Writes a JUnit XML report: one `<testsuite>` named after the test, one `<testcase>` per gate
/// (a failed gate carries `<failure>` with threshold and actual). With no gates there is a single
/// testcase "run completed", failed when the run did not complete or measured nothing.
pub fn write_junit(
    path: &Path,
    spec: &TestSpec,
    results: &RunResults,
    verdict: &Verdict,
    meta: &ReportMeta,
) -> Result<(), ReportError> {
    write_file(path, junit_xml(spec, results, verdict, meta).as_bytes())
}

/// Writes the JSON report: metadata, the test definition, results and gate verdicts.
pub fn write_json(
    path: &Path,
    spec: &TestSpec,
    results: &RunResults,
    verdict: &Verdict,
    meta: &ReportMeta,
) -> Result<(), ReportError> {
    let doc = JsonReport {
        metadata: JsonMeta {
            meta,
            passed: verdict.passed,
        },
        test: spec,
        passed: verdict.passed,
        gates: &verdict.gates,
        results,
    };
    let mut text = serde_json::to_vec_pretty(&doc).map_err(|source| ReportError::Encode {
        path: path.to_path_buf(),
        source,
    })?;
    text.push(b'\n');
    write_file(path, &text)
}

#[derive(Serialize)]
struct JsonReport<'a> {
    metadata: JsonMeta<'a>,
    test: &'a TestSpec,
    passed: bool,
    gates: &'a [GateResult],
    results: &'a RunResults,
}

/// The metadata object of the JSON report: where and when, and the verdict.
#[derive(Serialize)]
struct JsonMeta<'a> {
    #[serde(flatten)]
    meta: &'a ReportMeta,
    passed: bool,
}

/// Writes the Markdown summary ([`markdown::summary`]).
pub fn write_markdown(
    path: &Path,
    spec: &TestSpec,
    results: &RunResults,
    verdict: &Verdict,
    meta: &ReportMeta,
) -> Result<(), ReportError> {
    write_file(path, markdown::summary(spec, results, verdict, meta).as_bytes())
}

/// Writes the HTML report ([`html::page`]).
pub fn write_html(
    path: &Path,
    spec: &TestSpec,
    results: &RunResults,
    verdict: &Verdict,
    meta: &ReportMeta,
) -> Result<(), ReportError> {
    write_file(path, html::page(spec, results, verdict, meta).as_bytes())
}

/// Signature of every report writer.
pub type WriteReport = fn(&Path, &TestSpec, &RunResults, &Verdict, &ReportMeta) -> Result<(), ReportError>;

/// One report format: the key that names its path (the `report` attribute in Terraform, the same
/// word everywhere), what it is, and its writer.
pub struct ReportFormat {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub write: WriteReport,
}

/// Every report a run can write, in the order they are written.
pub const FORMATS: [ReportFormat; 4] = [
    ReportFormat {
        key: "junit_path",
        name: "JUnit",
        description: "Write a JUnit XML report here (one test case per gate).",
        write: write_junit,
    },
    ReportFormat {
        key: "json_path",
        name: "JSON",
        description: "Write a JSON report here (results, gates, scenario, timeline).",
        write: write_json,
    },
    ReportFormat {
        key: "markdown_path",
        name: "Markdown",
        description:
            "Write a Markdown summary here (verdict, gate table, key results, per-label lines, console link), \
                      for `$GITHUB_STEP_SUMMARY` or a pull-request comment; under GitHub's 65,536-character limit.",
        write: write_markdown,
    },
    ReportFormat {
        key: "html_path",
        name: "HTML",
        description: "Write a self-contained HTML report here (no network assets): results, gates, per-label \
                      percentiles, a latency-over-time chart and a latency histogram.",
        write: write_html,
    },
];

/// One row of the gate table as the Markdown and HTML reports show it. `scope` says what the
/// gate judged: `"run"` for the whole run's figures, `"label <name>"` for a `label_gates` entry,
/// `"status <status>"` for a `status_gates` entry; both reports add a scope column once any
/// row's scope is not the whole run.
#[derive(Debug, Clone, PartialEq)]
pub struct GateRow<'a> {
    pub scope: &'a str,
    pub gate: &'a str,
    pub threshold: &'a str,
    pub actual: &'a str,
    pub passed: bool,
}

pub use super::gates::RUN_SCOPE;

/// The rows of the gate table, in the verdict's order. A run that measured nothing gets a row
/// saying so, since it fails whatever its gates say.
pub fn gate_rows(verdict: &Verdict) -> Vec<GateRow<'_>> {
    let mut rows: Vec<GateRow<'_>> = verdict
        .gates
        .iter()
        .map(|g| GateRow {
            scope: &g.scope,
            gate: &g.gate,
            threshold: &g.threshold,
            actual: &g.actual,
            passed: g.passed,
        })
        .collect();
    if !verdict.measured {
        rows.push(GateRow {
            scope: RUN_SCOPE,
            gate: "requests measured",
            threshold: "> 0",
            actual: "0",
            passed: false,
        });
    }
    rows
}

/// What the warm-up left out, for people: `first 30s (1,234 requests)`; `None` without one.
pub(crate) fn warm_up_note(spec: &TestSpec, r: &RunResults) -> Option<String> {
    spec.warm_up?;
    Some(format!(
        "first {} left out of results and gates ({} requests)",
        crate::duration::format_duration(spec.warm_up()),
        thousands(r.warm_up_excluded)
    ))
}

/// Whether the gate table needs its scope column.
pub fn scoped(rows: &[GateRow<'_>]) -> bool {
    rows.iter().any(|r| r.scope != RUN_SCOPE)
}

/// One row of the "exact vs DLT-reported" table: a latency figure as merged from the run's raw
/// samples and as DLT's results parser reported it (the mean of the per-task figures).
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    pub figure: &'static str,
    pub exact_ms: f64,
    pub dlt_ms: f64,
}

impl ComparisonRow {
    /// How far DLT's figure is from the exact one, in percent of the exact one (`-64%`); a dash
    /// when the exact figure is zero.
    pub fn difference(&self) -> String {
        if self.exact_ms > 0.0 {
            format!("{:+.0}%", (self.dlt_ms / self.exact_ms - 1.0) * 100.0)
        } else {
            "—".to_string()
        }
    }
}

/// The comparison rows (avg, p50, p90, p95, p99, max) when the run has both exact figures and
/// DLT's own ([`RunResults::dlt_reported`]); empty otherwise.
pub fn comparison_rows(r: &RunResults) -> Vec<ComparisonRow> {
    let Some(d) = &r.dlt_reported else {
        return Vec::new();
    };
    let t = &r.total;
    [
        ("avg", t.avg_response_time_ms, d.avg_response_time_ms),
        ("p50", t.p50_ms, d.p50_ms),
        ("p90", t.p90_ms, d.p90_ms),
        ("p95", t.p95_ms, d.p95_ms),
        ("p99", t.p99_ms, d.p99_ms),
        ("max", t.max_ms, d.max_ms),
    ]
    .into_iter()
    .map(|(figure, exact_ms, dlt_ms)| ComparisonRow {
        figure,
        exact_ms,
        dlt_ms,
    })
    .collect()
}

/// What the comparison table is about, under its heading in both reports.
pub const COMPARISON_NOTE: &str = "DLT's results parser averages its tasks' percentiles (and maxima); \
     the exact figures merge every task's raw samples, and the gates judge those.";

/// Labels, the busiest first (then by name).
pub(crate) fn busiest_labels(r: &RunResults) -> Vec<&LabelResults> {
    let mut labels: Vec<&LabelResults> = r.labels.iter().collect();
    labels.sort_by(|a, b| {
        b.stats
            .requests
            .cmp(&a.stats.requests)
            .then_with(|| a.label.cmp(&b.label))
    });
    labels
}

/// Failure codes, the most frequent first (then by code).
pub(crate) fn frequent_codes(r: &RunResults) -> Vec<(&String, &u64)> {
    let mut codes: Vec<(&String, &u64)> = r.status_codes.iter().collect();
    codes.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    codes
}

/// A count with thousands separators: `12,345`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds for people: `0.42 ms`, `12.3 ms`, `1,234 ms`.
pub(crate) fn fmt_ms(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.2} ms")
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else {
        format!("{} ms", thousands(v.round() as u64))
    }
}

/// The JUnit document as a string.
pub fn junit_xml(spec: &TestSpec, r: &RunResults, verdict: &Verdict, meta: &ReportMeta) -> String {
    let gates = &verdict.gates;
    let run_ok = meta.status.is_empty() || meta.status == "complete";
    let cases: Vec<(String, Option<(String, String)>)> = if gates.is_empty() {
        let failure = if !run_ok {
            Some((
                format!("run {}", meta.status),
                format!("the run ended with status {:?}", meta.status),
            ))
        } else if !verdict.measured {
            Some((
                "no requests were measured".to_string(),
                "the run completed without a single request".to_string(),
            ))
        } else {
            None
        };
        vec![("run completed".to_string(), failure)]
    } else {
        gates
            .iter()
            .map(|g| {
                let failure = (!g.passed).then(|| {
                    (
                        format!(
                            "{}: actual {} does not meet threshold {}",
                            g.name(),
                            g.actual,
                            g.threshold
                        ),
                        format!(
                            "scope: {}\ngate: {}\nthreshold: {}\nactual: {}",
                            g.scope, g.gate, g.threshold, g.actual
                        ),
                    )
                });
                (g.name(), failure)
            })
            .collect()
    };
    let failures = cases.iter().filter(|(_, f)| f.is_some()).count();
    let time = format!("{:.3}", r.duration_seconds.max(0.0));
    let classname = format!("dlt.{}", spec.name);
    let t = &r.total;

    let mut x = String::with_capacity(2048);
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">",
        esc(&spec.name),
        cases.len()
    );
    let _ = write!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time}\"",
        esc(&spec.name),
        cases.len()
    );
    if let Some(ts) = junit_timestamp(&meta.started_at) {
        let _ = write!(x, " timestamp=\"{}\"", esc(&ts));
    }
    let _ = writeln!(
        x,
        " hostname=\"{}\">",
        esc(if meta.engine.is_empty() { "local" } else { &meta.engine })
    );
    x.push_str("    <properties>\n");
    let props: [(&str, String); 17] = [
        ("test_id", meta.test_id.clone()),
        ("engine", meta.engine.clone()),
        ("status", meta.status.clone()),
        ("started_at", meta.started_at.clone()),
        ("finished_at", meta.finished_at.clone()),
        ("description", spec.description.clone()),
        ("requests", t.requests.to_string()),
        ("failures", t.failures.to_string()),
        ("dropped", t.dropped.to_string()),
        ("success_rate", format!("{:.2}", t.success_rate)),
        ("throughput", format!("{:.2}", t.throughput)),
        ("avg_response_time_ms", format!("{:.3}", t.avg_response_time_ms)),
        ("p50_ms", format!("{:.3}", t.p50_ms)),
        ("p95_ms", format!("{:.3}", t.p95_ms)),
        ("p99_ms", format!("{:.3}", t.p99_ms)),
        ("max_ms", format!("{:.3}", t.max_ms)),
        ("percentile_method", r.percentile_method.clone()),
    ];
    for (name, value) in props.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = writeln!(x, "      <property name=\"{}\" value=\"{}\"/>", esc(name), esc(value));
    }
    // DLT's own (averaged) figures beside the exact ones: `dlt_reported_p95_ms`, …
    for c in comparison_rows(r) {
        let name = match c.figure {
            "avg" => "dlt_reported_avg_response_time_ms".to_string(),
            f => format!("dlt_reported_{f}_ms"),
        };
        let _ = writeln!(x, "      <property name=\"{name}\" value=\"{:.3}\"/>", c.dlt_ms);
    }
    if let Some(url) = &meta.console_url {
        let _ = writeln!(x, "      <property name=\"console_url\" value=\"{}\"/>", esc(url));
    }
    x.push_str("    </properties>\n");
    for (name, failure) in &cases {
        let _ = write!(
            x,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{time}\"",
            esc(name),
            esc(&classname)
        );
        match failure {
            None => x.push_str("/>\n"),
            Some((message, detail)) => {
                let _ = writeln!(
                    x,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
                    esc(message),
                    if gates.is_empty() { "RunFailed" } else { "GateFailed" },
                    esc(detail)
                );
            }
        }
    }
    let codes: Vec<String> = r.status_codes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let out = format!(
        "{} requests, {} failures ({:.2}% success), {:.2} req/s over {:.2}s; p50 {:.3} ms, p95 {:.3} ms, p99 {:.3} ms{}",
        t.requests,
        t.failures,
        t.success_rate,
        t.throughput,
        r.duration_seconds,
        t.p50_ms,
        t.p95_ms,
        t.p99_ms,
        if codes.is_empty() { String::new() } else { format!("; failures by code: {}", codes.join(" ")) }
    );
    let _ = writeln!(x, "    <system-out>{}</system-out>", esc(&out));
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// JUnit's schema wants a local ISO 8601 time without offset; RFC 3339 input is turned into UTC.
fn junit_timestamp(rfc3339: &str) -> Option<String> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).ok()?;
    let t = t.to_offset(time::UtcOffset::UTC);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}

/// Escapes text for XML attributes and content, dropping characters XML 1.0 cannot carry.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dlt::gates::{Gates, Limit};
    use crate::dlt::results::Stats;
    use crate::dlt::scenario::{Load, RequestSpec, Scenario};

    fn spec(name: &str) -> TestSpec {
        TestSpec {
            label_gates: Vec::new(),
            status_gates: Vec::new(),
            warm_up: None,
            name: name.to_string(),
            description: "PR <gate> & \"smoke\"".to_string(),
            scenario: Scenario::Simple {
                requests: vec![RequestSpec {
                    label: None,
                    url: "http://127.0.0.1/?a=1&b=2".into(),
                    method: "GET".into(),
                    headers: Default::default(),
                    body: String::new(),
                }],
            },
            load: Load {
                concurrency: 2,
                task_count: 1,
                regions: vec![],
                ramp_up: Duration::ZERO,
                hold_for: Duration::from_secs(1),
                arrival_rate: None,
                start_rate: None,
            },
            gates: Gates::default(),
        }
    }

    fn results() -> RunResults {
        RunResults {
            total: Stats {
                requests: 1000,
                successes: 900,
                failures: 100,
                success_rate: 90.0,
                throughput: 100.0,
                p95_ms: 12.5,
                ..Stats::default()
            },
            duration_seconds: 10.0,
            status_codes: [("500".to_string(), 100)].into_iter().collect(),
            percentile_method: "exact".into(),
            ..RunResults::default()
        }
    }

    fn no_gates() -> Verdict {
        Verdict::of(&Gates::default(), &results())
    }

    fn meta() -> ReportMeta {
        ReportMeta {
            test_id: "local-1".into(),
            engine: "local".into(),
            status: "complete".into(),
            started_at: "2025-01-02T03:04:05+01:00".into(),
            finished_at: "2025-01-02T03:04:15+01:00".into(),
            console_url: None,
        }
    }

    /// A minimal XML well-formedness check: balanced, properly nested tags, quoted attributes,
    /// known entities only, no raw `<` or `&` in text.
    fn check_well_formed(xml: &str) -> Result<Vec<String>, String> {
        let mut stack: Vec<String> = Vec::new();
        let mut opened = Vec::new();
        let mut rest = xml
            .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
            .ok_or("no XML declaration")?;
        let check_text = |t: &str| -> Result<(), String> {
            let mut s = t;
            while let Some(i) = s.find('&') {
                s = &s[i + 1..];
                let end = s.find(';').ok_or("unterminated entity")?;
                let ent = &s[..end];
                let known = ["amp", "lt", "gt", "quot", "apos"].contains(&ent)
                    || (ent.starts_with('#') && ent[1..].chars().all(|c| c.is_ascii_digit()));
                if !known {
                    return Err(format!("unknown entity {ent}"));
                }
            }
            Ok(())
        };
        while !rest.is_empty() {
            let lt = rest.find('<').unwrap_or(rest.len());
            check_text(&rest[..lt])?;
            if rest[..lt].contains('>') {
                return Err("raw > in text".into());
            }
            rest = &rest[lt..];
            if rest.is_empty() {
                break;
            }
            let gt = rest.find('>').ok_or("unterminated tag")?;
            let tag = &rest[1..gt];
            rest = &rest[gt + 1..];
            if tag.contains('<') {
                return Err(format!("raw < inside tag {tag}"));
            }
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop().as_deref() != Some(name) {
                    return Err(format!("mismatched </{name}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().ok_or("empty tag")?.to_string();
            let mut attrs = body[name.len()..].trim();
            while !attrs.is_empty() {
                let eq = attrs.find("=\"").ok_or(format!("unquoted attribute in <{name}>"))?;
                let after = &attrs[eq + 2..];
                let close = after.find('"').ok_or("unterminated attribute")?;
                check_text(&after[..close])?;
                attrs = after[close + 1..].trim_start();
            }
            opened.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        if stack.is_empty() {
            Ok(opened)
        } else {
            Err(format!("unclosed {stack:?}"))
        }
    }

    #[test]
    fn junit_has_one_testcase_per_gate_and_failures() {
        let mut gates = Gates::default();
        gates.set("min_success_rate", Limit::Number(95.0)).unwrap();
        gates
            .set("max_p95", Limit::Duration(Duration::from_millis(100)))
            .unwrap();
        let gates = Verdict::of(&gates, &results());
        let xml = junit_xml(&spec("check<out> & \"more\""), &results(), &gates, &meta());
        let tags = check_well_formed(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(tags.iter().filter(|t| *t == "testcase").count(), 2);
        assert_eq!(tags.iter().filter(|t| *t == "failure").count(), 1);
        assert_eq!(tags.iter().filter(|t| *t == "testsuite").count(), 1);
        assert!(
            xml.contains("name=\"check&lt;out&gt; &amp; &quot;more&quot;\""),
            "{xml}"
        );
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("type=\"GateFailed\""), "{xml}");
        assert!(xml.contains("threshold &gt;= 95%"), "{xml}");
        assert!(xml.contains("actual 90%"), "{xml}");
        assert!(xml.contains("timestamp=\"2025-01-02T02:04:05\""), "{xml}");
    }

    #[test]
    fn label_and_status_gates_are_testcases_and_rows_with_their_scope() {
        use crate::dlt::gates::{LabelGate, StatusGate, StatusSelector};
        use crate::dlt::results::LabelResults;
        let mut r = results();
        r.labels = vec![LabelResults {
            label: "checkout".into(),
            stats: Stats {
                requests: 10,
                successes: 10,
                p95_ms: 900.0,
                ..Stats::default()
            },
        }];
        let mut slow = Gates::default();
        slow.set("max_p95", Limit::Duration(Duration::from_millis(800)))
            .unwrap();
        let mut spec = spec("t");
        spec.label_gates = vec![
            LabelGate {
                label: "checkout".into(),
                gates: slow.clone(),
            },
            LabelGate {
                label: "search".into(),
                gates: slow,
            },
        ];
        spec.status_gates = vec![StatusGate {
            status: StatusSelector::parse("5xx").unwrap(),
            max_percent: Some(20.0),
            max_count: Some(0),
        }];
        let v = spec.verdict(&r);
        let xml = junit_xml(&spec, &r, &v, &meta());
        let tags = check_well_formed(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(tags.iter().filter(|t| *t == "testcase").count(), 4, "{xml}");
        assert_eq!(tags.iter().filter(|t| *t == "failure").count(), 3, "{xml}");
        assert!(xml.contains("<testcase name=\"max_p95 (label checkout)\""), "{xml}");
        assert!(xml.contains("actual label not measured"), "{xml}");
        assert!(xml.contains("<testcase name=\"max_percent (status 5xx)\""), "{xml}");
        assert!(xml.contains("max_count (status 5xx): actual 100"), "{xml}");
        let rows = gate_rows(&v);
        assert!(scoped(&rows));
        let scopes: Vec<&str> = rows.iter().map(|r| r.scope).collect();
        assert_eq!(scopes, ["label checkout", "label search", "status 5xx", "status 5xx"]);
        let table = v.table();
        assert!(table.starts_with("scope"), "{table}");
        assert!(table.contains("label search    max_p95"), "{table}");

        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        write_json(&json, &spec, &r, &v, &meta()).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(doc["gates"][0]["scope"], "label checkout");
        assert_eq!(doc["gates"][2]["actual"], "10% (100 of 1000)");
        assert_eq!(doc["test"]["label_gates"][0]["label"], "checkout");
        assert_eq!(doc["test"]["label_gates"][0]["max_p95"], "800ms");
        assert_eq!(doc["test"]["status_gates"][0]["status"], "5xx");
        let back: TestSpec = serde_json::from_value(doc["test"].clone()).unwrap();
        assert_eq!(back.label_gates, spec.label_gates);
        assert_eq!(back.status_gates, spec.status_gates);
    }

    #[test]
    fn junit_without_gates_has_run_completed() {
        let xml = junit_xml(&spec("t"), &results(), &no_gates(), &meta());
        check_well_formed(&xml).unwrap();
        assert!(xml.contains("<testcase name=\"run completed\""), "{xml}");
        assert!(!xml.contains("<failure"), "{xml}");
        let cancelled = ReportMeta {
            status: "cancelled".into(),
            ..meta()
        };
        let xml = junit_xml(&spec("t"), &results(), &no_gates(), &cancelled);
        check_well_formed(&xml).unwrap();
        assert!(xml.contains("<failure message=\"run cancelled\""), "{xml}");
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(esc("a\u{1}b\tc"), "a\u{FFFD}b&#9;c");
    }

    #[test]
    fn writes_files_creating_directories() {
        let dir = tempfile::tempdir().unwrap();
        let junit = dir.path().join("a/b/report.xml");
        let json = dir.path().join("c/report.json");
        let mut gates = Gates::default();
        gates.set("max_failures", Limit::Count(10)).unwrap();
        let gates = Verdict::of(&gates, &results());
        write_junit(&junit, &spec("t"), &results(), &gates, &meta()).unwrap();
        write_json(&json, &spec("t"), &results(), &gates, &meta()).unwrap();
        let xml = std::fs::read_to_string(&junit).unwrap();
        check_well_formed(&xml).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(doc["passed"], false);
        assert_eq!(doc["metadata"]["test_id"], "local-1");
        assert_eq!(doc["results"]["requests"], 1000);
        assert_eq!(doc["results"]["status_codes"]["500"], 100);
        assert_eq!(doc["gates"][0]["gate"], "max_failures");
        assert_eq!(doc["test"]["name"], "t");
        assert_eq!(doc["test"]["load"]["hold_for"], "1s");
    }

    /// A DLT run whose figures were merged from raw samples, with DLT's averaged ones beside.
    fn exact_with_dlt() -> RunResults {
        let mut r = results();
        r.total.p50_ms = 20.0;
        r.total.p95_ms = 140.0;
        r.total.max_ms = 160.0;
        r.percentile_method = "exact (merged raw samples, 4 tasks)".into();
        r.dlt_reported = Some(Stats {
            p50_ms: 21.0,
            p95_ms: 49.0,
            max_ms: 61.0,
            ..r.total.clone()
        });
        r
    }

    #[test]
    fn comparison_rows_only_with_both_figures() {
        assert!(comparison_rows(&results()).is_empty());
        let rows = comparison_rows(&exact_with_dlt());
        let names: Vec<&str> = rows.iter().map(|c| c.figure).collect();
        assert_eq!(names, ["avg", "p50", "p90", "p95", "p99", "max"]);
        let p95 = &rows[3];
        assert_eq!((p95.exact_ms, p95.dlt_ms), (140.0, 49.0));
        assert_eq!(p95.difference(), "-65%");
        assert_eq!(rows[1].difference(), "+5%");
        assert_eq!(rows[0].difference(), "—", "no exact average: no ratio");
    }

    #[test]
    fn junit_and_json_carry_dlts_figures_beside_the_exact_ones() {
        let r = exact_with_dlt();
        let xml = junit_xml(&spec("t"), &r, &no_gates(), &meta());
        check_well_formed(&xml).unwrap();
        assert!(xml.contains("<property name=\"p95_ms\" value=\"140.000\"/>"), "{xml}");
        assert!(
            xml.contains("<property name=\"dlt_reported_p95_ms\" value=\"49.000\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"dlt_reported_max_ms\" value=\"61.000\"/>"),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"dlt_reported_avg_response_time_ms\""),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"percentile_method\" value=\"exact (merged raw samples, 4 tasks)\"/>"),
            "{xml}"
        );
        let plain = junit_xml(&spec("t"), &results(), &no_gates(), &meta());
        assert!(!plain.contains("dlt_reported"), "{plain}");

        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("r.json");
        write_json(&json, &spec("t"), &r, &no_gates(), &meta()).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(doc["results"]["p95_ms"], 140.0);
        assert_eq!(doc["results"]["dlt_reported"]["p95_ms"], 49.0);
        assert_eq!(
            doc["results"]["percentile_method"],
            "exact (merged raw samples, 4 tasks)"
        );
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let path = blocker.join("report.xml");
        let err = write_junit(&path, &spec("t"), &results(), &no_gates(), &meta()).unwrap_err();
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    }
}
