//! The Markdown summary of a run, for `$GITHUB_STEP_SUMMARY`, a pull-request comment or a merge
//! request note: the verdict, the gate table, key results, per-label lines, failures by code and
//! the console link. GitHub cuts job summaries and comments at 65,536 characters, so the label
//! and failure tables are capped (the JSON report has them all) and the whole text stays under
//! [`MAX_CHARS`].

use std::fmt::Write as _;

use super::{
    busiest_labels, comparison_rows, fmt_ms, frequent_codes, gate_rows, scoped, thousands, warm_up_note, ReportMeta,
    COMPARISON_NOTE,
};
use crate::dlt::gates::Verdict;
use crate::dlt::results::RunResults;
use crate::dlt::scenario::TestSpec;

/// The summary stays under this many characters (GitHub's limit is 65,536).
pub const MAX_CHARS: usize = 60_000;
/// Label rows shown (the busiest first).
const MAX_LABELS: usize = 50;
/// Failure-code rows shown (the most frequent first).
const MAX_CODES: usize = 20;
/// Longest label or description text shown, in characters.
const MAX_TEXT: usize = 120;

/// Text for a table cell or a heading: one line, no table separators or HTML tags, cut to
/// `max` characters.
fn cell(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 2));
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        match c {
            '|' => out.push_str("\\|"),
            // No HTML tags from labels or descriptions in a PR comment.
            '<' => out.push_str("&lt;"),
            '`' => out.push('\''),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The summary as Markdown.
pub fn summary(spec: &TestSpec, r: &RunResults, verdict: &Verdict, meta: &ReportMeta) -> String {
    let t = &r.total;
    let mut md = String::with_capacity(4096);
    let (mark, word) = if verdict.passed {
        ("✅", "passed")
    } else {
        ("❌", "FAILED")
    };
    let _ = writeln!(md, "## {mark} Load test {word}: {}\n", cell(&spec.name, MAX_TEXT));
    if !spec.description.is_empty() {
        let _ = writeln!(md, "{}\n", cell(&spec.description, MAX_TEXT * 4));
    }

    // Gates first: they are the verdict.
    let rows = gate_rows(verdict);
    if rows.is_empty() {
        md.push_str("No quality gates configured.\n\n");
    } else {
        let failed = rows.iter().filter(|g| !g.passed).count();
        let _ = writeln!(
            md,
            "### Quality gates: {}\n",
            if failed == 0 {
                "all passed".to_string()
            } else {
                format!("{failed} of {} failed", rows.len())
            }
        );
        let scope = scoped(&rows);
        md.push_str(if scope {
            "| Scope | Gate | Threshold | Actual | Result |\n| --- | --- | --- | --- | --- |\n"
        } else {
            "| Gate | Threshold | Actual | Result |\n| --- | --- | --- | --- |\n"
        });
        for g in &rows {
            if scope {
                let _ = write!(md, "| {} ", cell(g.scope, MAX_TEXT));
            }
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} |",
                cell(g.gate, MAX_TEXT),
                cell(g.threshold, MAX_TEXT),
                cell(g.actual, MAX_TEXT),
                if g.passed { "✅ pass" } else { "❌ **FAIL**" }
            );
        }
        md.push('\n');
    }

    md.push_str("### Results\n\n| | |\n| --- | --- |\n");
    let _ = writeln!(
        md,
        "| Requests | {} ({} failed, {:.2}% succeeded) |",
        thousands(t.requests),
        thousands(t.failures),
        t.success_rate
    );
    let _ = writeln!(
        md,
        "| Throughput | {:.1} req/s over {:.1} s |",
        t.throughput, r.duration_seconds
    );
    let _ = writeln!(
        md,
        "| Latency | avg {} · p50 {} · p90 {} · p95 {} · p99 {} · max {} |",
        fmt_ms(t.avg_response_time_ms),
        fmt_ms(t.p50_ms),
        fmt_ms(t.p90_ms),
        fmt_ms(t.p95_ms),
        fmt_ms(t.p99_ms),
        fmt_ms(t.max_ms)
    );
    let load = &spec.load;
    if load.arrival_rate.is_some() || t.dropped > 0 {
        let _ = writeln!(
            md,
            "| Dropped | {}{} |",
            thousands(t.dropped),
            if t.dropped > 0 {
                " (due while every user was busy, never sent)"
            } else {
                ""
            }
        );
    }
    match load.arrival_rate {
        None => {
            let _ = writeln!(
                md,
                "| Load | {} users × {} tasks{}, ramp-up {}, hold {} |",
                load.concurrency,
                load.task_count.max(1),
                if load.regions.is_empty() {
                    String::new()
                } else {
                    format!(" in {}", cell(&load.regions.join(", "), MAX_TEXT))
                },
                crate::duration::format_duration(load.ramp_up),
                crate::duration::format_duration(load.hold_for)
            );
        }
        Some(rate) => {
            let _ = writeln!(
                md,
                "| Load | open model: {rate} req/s{}, at most {} users, hold {} |",
                if load.ramp_up.is_zero() {
                    String::new()
                } else {
                    format!(
                        " after a ramp-up of {} from {} req/s",
                        crate::duration::format_duration(load.ramp_up),
                        load.start_rate.unwrap_or(0.0)
                    )
                },
                load.local_virtual_users(),
                crate::duration::format_duration(load.hold_for)
            );
        }
    }
    if let Some(note) = warm_up_note(spec, r) {
        let _ = writeln!(md, "| Warm-up | {} |", cell(&note, MAX_TEXT));
    }
    let engine = if meta.engine.is_empty() { "local" } else { &meta.engine };
    let method = if r.percentile_method.is_empty() {
        String::new()
    } else {
        format!(" ({} percentiles)", cell(&r.percentile_method, MAX_TEXT))
    };
    let _ = writeln!(md, "| Engine | {}{method} |", cell(engine, MAX_TEXT));
    if !meta.test_id.is_empty() {
        let _ = writeln!(
            md,
            "| Run | `{}`, {} → {}, {} |",
            cell(&meta.test_id, MAX_TEXT),
            cell(&meta.started_at, 40),
            cell(&meta.finished_at, 40),
            cell(
                if meta.status.is_empty() {
                    "complete"
                } else {
                    &meta.status
                },
                40
            )
        );
    }
    if let Some(url) = meta
        .console_url
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        let _ = writeln!(
            md,
            "| Console | [{}]({}) |",
            cell(url, MAX_TEXT * 2),
            url.replace(' ', "%20").replace(')', "%29")
        );
    }
    md.push('\n');

    let comparison = comparison_rows(r);
    if !comparison.is_empty() {
        let _ = writeln!(
            md,
            "### Exact vs DLT-reported\n\n{COMPARISON_NOTE}\n\n| Figure | Exact | DLT-reported | DLT vs exact |\n| --- | ---: | ---: | ---: |"
        );
        for c in &comparison {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                c.figure,
                fmt_ms(c.exact_ms),
                fmt_ms(c.dlt_ms),
                c.difference()
            );
        }
        md.push('\n');
    }

    if !r.labels.is_empty() {
        let labels = busiest_labels(r);
        md.push_str("### Per label\n\n| Label | Requests | Failed | Success | p50 | p95 | p99 | Max |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for l in labels.iter().take(MAX_LABELS) {
            let s = &l.stats;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2}% | {} | {} | {} | {} |",
                cell(&l.label, MAX_TEXT),
                thousands(s.requests),
                thousands(s.failures),
                s.success_rate,
                fmt_ms(s.p50_ms),
                fmt_ms(s.p95_ms),
                fmt_ms(s.p99_ms),
                fmt_ms(s.max_ms)
            );
        }
        if labels.len() > MAX_LABELS {
            let _ = writeln!(
                md,
                "\n…and {} more labels (all of them are in the JSON report).",
                labels.len() - MAX_LABELS
            );
        }
        md.push('\n');
    }

    if !r.status_codes.is_empty() {
        let codes = frequent_codes(r);
        md.push_str("### Failures by code\n\n| Code | Count |\n| --- | ---: |\n");
        for (code, n) in codes.iter().take(MAX_CODES) {
            let _ = writeln!(md, "| {} | {} |", cell(code, MAX_TEXT), thousands(**n));
        }
        if codes.len() > MAX_CODES {
            let _ = writeln!(md, "\n…and {} more codes.", codes.len() - MAX_CODES);
        }
        if !r.status_codes_method.is_empty() {
            let _ = writeln!(md, "\nCounts {}.", cell(&r.status_codes_method, MAX_TEXT));
        }
        md.push('\n');
    }

    if md.chars().count() > MAX_CHARS {
        // Only a pathological mix of long texts gets here: keep the head (verdict, gates).
        md = md.chars().take(MAX_CHARS - 80).collect();
        md.push_str("\n\n…(cut to stay under GitHub's summary limit; see the JSON report)\n");
    }
    md
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dlt::gates::{Gates, Limit};
    use crate::dlt::results::{LabelResults, Stats};
    use crate::dlt::scenario::{Load, RequestSpec, Scenario};

    fn spec() -> TestSpec {
        TestSpec {
            label_gates: Vec::new(),
            status_gates: Vec::new(),
            warm_up: None,
            name: "checkout | smoke".into(),
            description: "PR <gate>".into(),
            scenario: Scenario::Simple {
                requests: vec![RequestSpec {
                    label: None,
                    url: "http://127.0.0.1/".into(),
                    method: "GET".into(),
                    headers: Default::default(),
                    body: String::new(),
                }],
            },
            load: Load {
                concurrency: 4,
                task_count: 2,
                regions: vec![],
                ramp_up: Duration::from_secs(1),
                hold_for: Duration::from_secs(5),
                arrival_rate: None,
                start_rate: None,
            },
            gates: Gates::default(),
        }
    }

    fn results(labels: usize, label_len: usize) -> RunResults {
        let stats = Stats {
            requests: 1200,
            successes: 1194,
            failures: 6,
            dropped: 0,
            success_rate: 99.5,
            throughput: 200.0,
            avg_response_time_ms: 20.4,
            p50_ms: 20.1,
            p90_ms: 21.0,
            p95_ms: 21.5,
            p99_ms: 25.0,
            max_ms: 40.0,
        };
        RunResults {
            total: stats.clone(),
            duration_seconds: 6.0,
            labels: (0..labels)
                .map(|i| LabelResults {
                    label: format!("{i:05}{}", "x|".repeat(label_len / 2)),
                    stats: stats.clone(),
                })
                .collect(),
            status_codes: [("500".to_string(), 6)].into(),
            percentile_method: "exact".into(),
            ..RunResults::default()
        }
    }

    fn meta() -> ReportMeta {
        ReportMeta {
            test_id: "local-abc".into(),
            engine: "local".into(),
            status: "complete".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:06Z".into(),
            console_url: Some("https://d111.cloudfront.net/details/abc".into()),
        }
    }

    fn verdict(r: &RunResults) -> Verdict {
        let mut g = Gates::default();
        g.set("min_success_rate", Limit::Number(99.0)).unwrap();
        g.set("max_p95", Limit::Duration(Duration::from_millis(5))).unwrap();
        Verdict::of(&g, r)
    }

    #[test]
    fn verdict_gates_results_labels_and_link() {
        let r = results(2, 10);
        let md = summary(&spec(), &r, &verdict(&r), &meta());
        assert!(md.starts_with("## ❌ Load test FAILED: checkout \\| smoke\n"), "{md}");
        assert!(md.contains("PR &lt;gate>"), "{md}");
        assert!(md.contains("### Quality gates: 1 of 2 failed"), "{md}");
        assert!(md.contains("| `min_success_rate` | >= 99% | 99.5% | ✅ pass |"), "{md}");
        assert!(
            md.contains("| `max_p95` | &lt;= 5ms |") && md.contains("❌ **FAIL**"),
            "{md}"
        );
        assert!(md.contains("| Requests | 1,200 (6 failed, 99.50% succeeded) |"), "{md}");
        assert!(md.contains("p95 21.5 ms"), "{md}");
        assert!(md.contains("| Load | 4 users × 2 tasks, ramp-up 1s, hold 5s |"), "{md}");
        assert!(
            md.contains("[https://d111.cloudfront.net/details/abc](https://d111.cloudfront.net/details/abc)"),
            "{md}"
        );
        assert!(md.contains("### Per label") && md.contains("| 00000x\\|x\\|"), "{md}");
        assert!(md.contains("| 500 | 6 |"), "{md}");
        assert!(!md.contains("Scope"), "no scope column while every gate judges the run");
    }

    #[test]
    fn exact_vs_dlt_reported_rows_when_both_exist() {
        let r = results(0, 0);
        let md = summary(&spec(), &r, &verdict(&r), &meta());
        assert!(!md.contains("DLT-reported"), "no DLT figures, no comparison: {md}");
        let mut r = results(0, 0);
        r.percentile_method = "exact (merged raw samples, 2 tasks)".into();
        r.dlt_reported = Some(Stats {
            p95_ms: 10.75,
            max_ms: 30.0,
            ..r.total.clone()
        });
        let md = summary(&spec(), &r, &verdict(&r), &meta());
        assert!(md.contains("### Exact vs DLT-reported\n"), "{md}");
        assert!(md.contains("| p95 | 21.5 ms | 10.8 ms | -50% |"), "{md}");
        assert!(md.contains("| max | 40.0 ms | 30.0 ms | -25% |"), "{md}");
        assert!(md.contains("| p50 | 20.1 ms | 20.1 ms | +0% |"), "{md}");
    }

    #[test]
    fn thousands_of_long_labels_stay_under_githubs_limit() {
        let r = results(10_000, 2000);
        let md = summary(&spec(), &r, &verdict(&r), &meta());
        assert!(md.chars().count() < 65_536, "{} characters", md.chars().count());
        assert!(md.contains("…and 9950 more labels"), "{}", &md[md.len() - 300..]);
    }

    #[test]
    fn nothing_measured_is_a_failed_row() {
        let r = RunResults::default();
        let md = summary(&spec(), &r, &Verdict::of(&Gates::default(), &r), &meta());
        assert!(md.contains("❌ Load test FAILED"), "{md}");
        assert!(md.contains("| `requests measured` | > 0 | 0 | ❌ **FAIL** |"), "{md}");
    }
}
