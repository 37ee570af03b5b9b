//! The HTML report of a run: one self-contained file (inline CSS and SVG, no script, font, image
//! or style sheet from anywhere else), to open from a CI artifact or attach to a ticket. It shows
//! the verdict, the gate table, key results, latency over time (p50 and p95 per interval, with
//! failures marked) and the latency histogram, per-label percentiles and failures by code.
//! Charts are drawn from what the results hold: the local engine's timeline and distribution,
//! merged raw DLT samples' distribution; a chart without data says so instead of drawing.
//!
//! Chart elements carry classes and `data-*` attributes (`data-points`, `data-count`) so the
//! browser test can find them and compare them with the results.

use std::fmt::Write as _;

use super::{
    busiest_labels, comparison_rows, esc, fmt_ms, frequent_codes, gate_rows, scoped, thousands, warm_up_note,
    ReportMeta, COMPARISON_NOTE,
};
use crate::dlt::gates::Verdict;
use crate::dlt::results::{LatencyBucket, RunResults};
use crate::dlt::scenario::TestSpec;
use crate::dlt::timeline::TimelinePoint;

/// Label rows shown (the busiest first); the JSON report has them all.
const MAX_LABELS: usize = 200;

const STYLE: &str = r#"
:root { --ok: #1a7f37; --bad: #cf222e; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0; --p50: #0969da; --p95: #bf8700; --bar: #8250df; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: var(--ink); margin: 0; background: #f6f8fa; }
main { max-width: 1040px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: 600; font-size: 13px; vertical-align: middle; margin-right: 8px; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--bad); }
.muted { color: var(--muted); }
section, .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin-top: 12px; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 12px; }
.figure .v { font-size: 20px; font-weight: 600; } .figure .k { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td { background: #ffebe9; } .res.pass { color: var(--ok); font-weight: 600; } .res.fail { color: var(--bad); font-weight: 700; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--muted); }
.grid line { stroke: #eaeef2; } .axis line, .axis path { stroke: var(--line); }
.series { fill: none; stroke-width: 2; stroke-linejoin: round; }
.series.p50 { stroke: var(--p50); } .series.p95 { stroke: var(--p95); }
.failmark { fill: var(--bad); } .bar { fill: var(--bar); }
.legend span { display: inline-block; margin-right: 16px; } .swatch { display: inline-block; width: 12px; height: 3px; vertical-align: middle; margin-right: 4px; }
footer { margin: 24px 0; color: var(--muted); font-size: 12px; }
"#;

/// Round `v` up to a 1, 2 or 5 times a power of ten (chart scales).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if v <= m * p {
            return m * p;
        }
    }
    10.0 * p
}

fn num(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

/// Plot area of both charts, in SVG units.
const W: f64 = 960.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = 40.0;

/// Horizontal grid lines and y labels for `0..=top` (five steps).
fn y_axis(svg: &mut String, top: f64, unit: &str) {
    svg.push_str("<g class=\"grid axis\">");
    for i in 0..=5 {
        let v = top * f64::from(i) / 5.0;
        let y = TOP + (H - TOP - BOTTOM) * (1.0 - f64::from(i) / 5.0);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}{unit}</text>",
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            num(v)
        );
    }
    svg.push_str("</g>");
}

/// Latency over time: a p50 and a p95 line over the timeline's intervals (broken where an
/// interval had no response), a red mark under each interval with failures.
fn timeline_chart(points: &[TimelinePoint]) -> String {
    let timed: Vec<&TimelinePoint> = points
        .iter()
        .filter(|p| p.requests > p.failures || p.max_ms > 0.0)
        .collect();
    if timed.is_empty() {
        return "<p class=\"muted\" id=\"latency-over-time-empty\">No latency timeline in these results (DLT's aggregated results hold none).</p>".to_string();
    }
    let end = points.last().map_or(1.0, |p| p.start_s + p.width_s).max(1.0);
    let top = nice_ceiling(timed.iter().map(|p| p.p95_ms.max(p.p50_ms)).fold(0.0, f64::max) * 1.05);
    let x = |t: f64| LEFT + (W - LEFT - RIGHT) * (t / end);
    let y = |v: f64| TOP + (H - TOP - BOTTOM) * (1.0 - (v / top).min(1.0));
    let mut svg = format!(
        "<svg id=\"latency-over-time\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Latency over time\" data-intervals=\"{}\" data-width-s=\"{}\">",
        points.len(),
        points.first().map_or(0.0, |p| p.width_s)
    );
    y_axis(&mut svg, top, " ms");
    // x axis: about eight ticks at whole seconds.
    let step = nice_ceiling(end / 8.0).max(1.0);
    svg.push_str("<g class=\"axis\">");
    let mut t = 0.0;
    while t <= end + 1e-9 {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}s</text>",
            x(t),
            H - BOTTOM + 16.0,
            num(t)
        );
        t += step;
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    svg.push_str("</g>");
    for (class, pick) in [
        ("p50", (|p: &TimelinePoint| p.p50_ms) as fn(&TimelinePoint) -> f64),
        ("p95", |p| p.p95_ms),
    ] {
        // One polyline per run of intervals with responses.
        let mut runs: Vec<Vec<String>> = vec![Vec::new()];
        for p in points {
            let has = p.requests > p.failures || p.max_ms > 0.0;
            if has {
                let mid = p.start_s + p.width_s / 2.0;
                if let Some(run) = runs.last_mut() {
                    run.push(format!("{:.1},{:.1}", x(mid), y(pick(p))));
                }
            } else if runs.last().is_some_and(|r| !r.is_empty()) {
                runs.push(Vec::new());
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let _ = write!(
                svg,
                "<polyline class=\"series {class}\" data-points=\"{}\" points=\"{}\"/>",
                run.len(),
                run.join(" ")
            );
        }
    }
    for p in points.iter().filter(|p| p.failures > 0) {
        let _ = write!(
            svg,
            "<rect class=\"failmark\" data-failures=\"{}\" x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"5\"><title>{} failures at {}s</title></rect>",
            p.failures,
            x(p.start_s),
            H - BOTTOM - 5.0,
            (x(p.start_s + p.width_s) - x(p.start_s)).max(1.0),
            p.failures,
            num(p.start_s)
        );
    }
    svg.push_str("</svg>");
    format!(
        "{svg}<p class=\"legend\"><span><i class=\"swatch\" style=\"background:var(--p50)\"></i>p50</span><span><i class=\"swatch\" style=\"background:var(--p95)\"></i>p95</span><span><i class=\"swatch\" style=\"background:var(--bad)\"></i>intervals with failures</span><span class=\"muted\">per {} s interval; percentiles within a few percent</span></p>",
        num(points.first().map_or(1.0, |p| p.width_s))
    )
}

/// The latency histogram: one bar per bucket (log-spaced latency buckets).
fn histogram_chart(buckets: &[LatencyBucket]) -> String {
    let total: u64 = buckets.iter().map(|b| b.count).sum();
    if total == 0 {
        return "<p class=\"muted\" id=\"latency-histogram-empty\">No latency distribution in these results (DLT's aggregated results hold none; raw samples do).</p>".to_string();
    }
    let top = nice_ceiling(buckets.iter().map(|b| b.count).max().unwrap_or(1) as f64);
    let slot = (W - LEFT - RIGHT) / buckets.len() as f64;
    let mut svg = format!(
        "<svg id=\"latency-histogram\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"Latency histogram\" data-buckets=\"{}\" data-count=\"{total}\">",
        buckets.len()
    );
    y_axis(&mut svg, top, "");
    svg.push_str("<g class=\"axis\">");
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    let every = buckets.len().div_ceil(8).max(1);
    for (i, b) in buckets.iter().enumerate().step_by(every) {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            LEFT + slot * i as f64,
            H - BOTTOM + 16.0,
            esc(&fmt_ms(b.lo_ms))
        );
    }
    svg.push_str("</g>");
    for (i, b) in buckets.iter().enumerate() {
        let h = (H - TOP - BOTTOM) * b.count as f64 / top;
        let _ = write!(
            svg,
            "<rect class=\"bar\" data-count=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\"><title>{} – {}: {}</title></rect>",
            b.count,
            LEFT + slot * i as f64 + 1.0,
            H - BOTTOM - h,
            (slot - 2.0).max(1.0),
            esc(&fmt_ms(b.lo_ms)),
            esc(&fmt_ms(b.hi_ms)),
            thousands(b.count)
        );
    }
    svg.push_str("</svg>");
    format!(
        "{svg}<p class=\"legend muted\">responses per latency bucket (log scale of latency, {} responses)</p>",
        thousands(total)
    )
}

/// The page.
pub fn page(spec: &TestSpec, r: &RunResults, verdict: &Verdict, meta: &ReportMeta) -> String {
    let t = &r.total;
    let mut h = String::with_capacity(32 * 1024);
    let title = format!(
        "{} — load test {}",
        spec.name,
        if verdict.passed { "passed" } else { "FAILED" }
    );
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        esc(&title)
    );
    let (class, word) = if verdict.passed {
        ("pass", "PASSED")
    } else {
        ("fail", "FAILED")
    };
    let _ = write!(
        h,
        "<h1><span class=\"badge {class}\" id=\"verdict\">{word}</span>{}</h1>",
        esc(&spec.name)
    );
    if !spec.description.is_empty() {
        let _ = write!(h, "<p class=\"muted\">{}</p>", esc(&spec.description));
    }
    let engine = if meta.engine.is_empty() { "local" } else { &meta.engine };
    let _ = write!(
        h,
        "<p class=\"muted\">{} engine · run <code>{}</code> · {} → {} · {}",
        esc(engine),
        esc(&meta.test_id),
        esc(&meta.started_at),
        esc(&meta.finished_at),
        esc(if meta.status.is_empty() {
            "complete"
        } else {
            &meta.status
        })
    );
    if let Some(url) = meta
        .console_url
        .as_deref()
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        let _ = write!(h, " · <a href=\"{}\">DLT console</a>", esc(url));
    }
    h.push_str("</p>");

    // Key figures.
    h.push_str("<section class=\"figures\" id=\"figures\">");
    let figures = [
        ("requests", thousands(t.requests)),
        ("failed", thousands(t.failures)),
        ("success rate", format!("{:.2}%", t.success_rate)),
        ("throughput", format!("{:.1} req/s", t.throughput)),
        ("avg", fmt_ms(t.avg_response_time_ms)),
        ("p50", fmt_ms(t.p50_ms)),
        ("p90", fmt_ms(t.p90_ms)),
        ("p95", fmt_ms(t.p95_ms)),
        ("p99", fmt_ms(t.p99_ms)),
        ("max", fmt_ms(t.max_ms)),
        ("duration", format!("{:.1} s", r.duration_seconds)),
        (
            "load",
            match spec.load.arrival_rate {
                None => format!("{} × {} users", spec.load.task_count.max(1), spec.load.concurrency),
                Some(rate) => format!("{rate} req/s, ≤ {} users", spec.load.local_virtual_users()),
            },
        ),
    ];
    // The open model's figure of requests never sent.
    let dropped = (spec.load.arrival_rate.is_some() || t.dropped > 0).then(|| ("dropped", thousands(t.dropped)));
    for (k, v) in figures.into_iter().chain(dropped) {
        let _ = write!(
            h,
            "<div class=\"figure\"><div class=\"v\">{}</div><div class=\"k\">{k}</div></div>",
            esc(&v)
        );
    }
    h.push_str("</section>");

    // Gates.
    h.push_str("<h2>Quality gates</h2><section>");
    let rows = gate_rows(verdict);
    if rows.is_empty() {
        h.push_str("<p class=\"muted\">No quality gates configured.</p>");
    } else {
        let scope = scoped(&rows);
        h.push_str("<table id=\"gates\"><thead><tr>");
        if scope {
            h.push_str("<th>Scope</th>");
        }
        h.push_str("<th>Gate</th><th>Threshold</th><th>Actual</th><th>Result</th></tr></thead><tbody>");
        for g in &rows {
            let _ = write!(h, "<tr class=\"{}\">", if g.passed { "pass" } else { "fail" });
            if scope {
                let _ = write!(h, "<td>{}</td>", esc(g.scope));
            }
            let _ = write!(
                h,
                "<td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"res {}\">{}</td></tr>",
                esc(g.gate),
                esc(g.threshold),
                esc(g.actual),
                if g.passed { "pass" } else { "fail" },
                if g.passed { "pass" } else { "FAIL" }
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");

    h.push_str("<h2>Latency over time</h2><section>");
    h.push_str(&timeline_chart(&r.timeline));
    h.push_str("</section><h2>Latency histogram</h2><section>");
    h.push_str(&histogram_chart(&r.latency_histogram));
    h.push_str("</section>");

    let comparison = comparison_rows(r);
    if !comparison.is_empty() {
        let _ = write!(
            h,
            "<h2>Exact vs DLT-reported</h2><section><p class=\"muted\">{}</p><table id=\"comparison\"><thead><tr><th>Figure</th><th class=\"n\">Exact</th><th class=\"n\">DLT-reported</th><th class=\"n\">DLT vs exact</th></tr></thead><tbody>",
            esc(COMPARISON_NOTE)
        );
        for c in &comparison {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                c.figure,
                fmt_ms(c.exact_ms),
                fmt_ms(c.dlt_ms),
                esc(&c.difference())
            );
        }
        h.push_str("</tbody></table></section>");
    }

    if !r.labels.is_empty() {
        let labels = busiest_labels(r);
        h.push_str("<h2>Per label</h2><section><table id=\"labels\"><thead><tr><th>Label</th><th class=\"n\">Requests</th><th class=\"n\">Failed</th><th class=\"n\">Success</th><th class=\"n\">p50</th><th class=\"n\">p90</th><th class=\"n\">p95</th><th class=\"n\">p99</th><th class=\"n\">Max</th></tr></thead><tbody>");
        for l in labels.iter().take(MAX_LABELS) {
            let s = &l.stats;
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.2}%</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&l.label),
                thousands(s.requests),
                thousands(s.failures),
                s.success_rate,
                fmt_ms(s.p50_ms),
                fmt_ms(s.p90_ms),
                fmt_ms(s.p95_ms),
                fmt_ms(s.p99_ms),
                fmt_ms(s.max_ms)
            );
        }
        h.push_str("</tbody></table>");
        if labels.len() > MAX_LABELS {
            let _ = write!(
                h,
                "<p class=\"muted\">…and {} more labels in the JSON report.</p>",
                labels.len() - MAX_LABELS
            );
        }
        h.push_str("</section>");
    }

    if !r.status_codes.is_empty() {
        let codes = frequent_codes(r);
        h.push_str("<h2>Failures by code</h2><section><table id=\"codes\"><thead><tr><th>Code</th><th class=\"n\">Count</th></tr></thead><tbody>");
        for (code, n) in codes {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(code),
                thousands(*n)
            );
        }
        h.push_str("</tbody></table></section>");
    }

    let method = if r.percentile_method.is_empty() {
        "exact"
    } else {
        &r.percentile_method
    };
    let warm_up = warm_up_note(spec, r)
        .map(|n| format!(" Warm-up: {}.", esc(&n)))
        .unwrap_or_default();
    let _ = writeln!(
        h,
        "<footer>Percentiles: {}.{warm_up} Written by terraform-provider-dlt {}.</footer></main></body></html>",
        esc(method),
        env!("CARGO_PKG_VERSION")
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dlt::gates::Gates;

    fn results() -> RunResults {
        let mut r = RunResults::default();
        r.total.requests = 30;
        r.total.successes = 29;
        r.total.failures = 1;
        r.timeline = (0..3)
            .map(|i| TimelinePoint {
                start_s: f64::from(i),
                width_s: 1.0,
                requests: if i == 1 { 0 } else { 15 },
                failures: if i == 2 { 1 } else { 0 },
                avg_ms: 10.0,
                p50_ms: 10.0,
                p95_ms: 12.0,
                max_ms: if i == 1 { 0.0 } else { 14.0 },
            })
            .collect();
        r.latency_histogram = vec![
            LatencyBucket {
                lo_ms: 9.0,
                hi_ms: 11.0,
                count: 20,
            },
            LatencyBucket {
                lo_ms: 11.0,
                hi_ms: 14.1,
                count: 9,
            },
        ];
        r.labels = vec![crate::dlt::results::LabelResults {
            label: "<script>alert(1)</script>".into(),
            stats: r.total.clone(),
        }];
        r
    }

    fn spec() -> TestSpec {
        serde_json::from_value(serde_json::json!({
            "name": "t & \"u\"",
            "scenario": { "type": "simple", "requests": [{ "url": "http://127.0.0.1/" }] },
            "load": { "concurrency": 1, "task_count": 1, "ramp_up": "0s", "hold_for": "3s" }
        }))
        .unwrap()
    }

    #[test]
    fn self_contained_with_both_charts_drawn_from_the_results() {
        let r = results();
        let html = page(&spec(), &r, &Verdict::of(&Gates::default(), &r), &ReportMeta::default());
        for outside in ["<script", "<link", " src=", "url(", "@import", "http://", "https://"] {
            assert!(!html.contains(outside), "{outside} in a self-contained page");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            html.contains("<title>t &amp; &quot;u&quot; — load test PASSED</title>")
                || html.contains("load test passed")
        );
        // The empty middle interval breaks each line in two.
        assert_eq!(
            html.matches("class=\"series p50\" data-points=\"1\"").count(),
            2,
            "{html}"
        );
        assert_eq!(html.matches("class=\"series p95\"").count(), 2);
        assert_eq!(html.matches("class=\"failmark\" data-failures=\"1\"").count(), 1);
        assert_eq!(html.matches("class=\"bar\"").count(), 2);
        assert!(html.contains("data-count=\"29\""));
    }

    #[test]
    fn the_open_model_shows_its_rate_and_dropped_requests() {
        let mut r = results();
        let closed = page(&spec(), &r, &Verdict::of(&Gates::default(), &r), &ReportMeta::default());
        assert!(
            !closed.contains(">dropped<"),
            "the closed model drops nothing: {closed}"
        );
        let mut spec = spec();
        spec.load.arrival_rate = Some(250.0);
        spec.load.concurrency = 8;
        r.total.dropped = 1234;
        let html = page(&spec, &r, &Verdict::of(&Gates::default(), &r), &ReportMeta::default());
        assert!(
            html.contains("<div class=\"v\">250 req/s, ≤ 8 users</div><div class=\"k\">load</div>"),
            "{html}"
        );
        assert!(
            html.contains("<div class=\"v\">1,234</div><div class=\"k\">dropped</div>"),
            "{html}"
        );
    }

    #[test]
    fn exact_vs_dlt_reported_table_when_both_exist() {
        let mut r = results();
        r.total.p95_ms = 140.0;
        let html = page(&spec(), &r, &Verdict::of(&Gates::default(), &r), &ReportMeta::default());
        assert!(!html.contains("id=\"comparison\""), "{html}");
        r.dlt_reported = Some(crate::dlt::results::Stats {
            p95_ms: 49.0,
            ..r.total.clone()
        });
        let html = page(&spec(), &r, &Verdict::of(&Gates::default(), &r), &ReportMeta::default());
        assert!(html.contains("<h2>Exact vs DLT-reported</h2>"), "{html}");
        assert!(
            html.contains(
                "<tr><td>p95</td><td class=\"n\">140 ms</td><td class=\"n\">49.0 ms</td><td class=\"n\">-65%</td></tr>"
            ),
            "{html}"
        );
        assert_eq!(html.matches("<tr><td>").count() - 1, 6, "six figures and the label row");
    }

    #[test]
    fn charts_without_data_say_so() {
        let r = RunResults::default();
        let html = page(&spec(), &r, &Verdict::of(&Gates::default(), &r), &ReportMeta::default());
        assert!(html.contains("id=\"latency-over-time-empty\"") && html.contains("id=\"latency-histogram-empty\""));
        assert!(html.contains("id=\"verdict\">FAILED"), "nothing measured fails");
    }

    #[test]
    fn label_and_status_gates_get_a_scope_column_and_the_warm_up_is_named() {
        let mut r = results();
        r.warm_up_excluded = 1234;
        r.status_codes = [("503".into(), 2)].into();
        let spec: TestSpec = serde_json::from_value(serde_json::json!({
            "name": "t",
            "scenario": { "type": "simple", "requests": [{ "url": "http://127.0.0.1/" }] },
            "load": { "concurrency": 1, "task_count": 1, "ramp_up": "30s", "hold_for": "3s" },
            "label_gates": [{ "label": "checkout", "max_p95": "1s" }],
            "status_gates": [{ "status": "5xx", "max_count": 0 }],
            "warm_up": "ramp_up"
        }))
        .unwrap();
        let html = page(&spec, &r, &spec.verdict(&r), &ReportMeta::default());
        assert!(html.contains("<th>Scope</th>"), "{html}");
        assert!(
            html.contains("<td>label checkout</td><td><code>max_p95</code></td>"),
            "{html}"
        );
        assert!(html.contains("label not measured"), "{html}");
        assert!(
            html.contains("<td>status 5xx</td><td><code>max_count</code></td><td>&lt;= 0</td><td>2</td>"),
            "{html}"
        );
        assert!(
            html.contains("Warm-up: first 30s left out of results and gates (1,234 requests)."),
            "{html}"
        );
        let md = crate::dlt::report::markdown::summary(&spec, &r, &spec.verdict(&r), &ReportMeta::default());
        assert!(
            md.contains("| Warm-up | first 30s left out of results and gates (1,234 requests) |"),
            "{md}"
        );
        assert!(
            md.contains("| status 5xx | `max_count` | &lt;= 0 | 2 | ❌ **FAIL** |"),
            "{md}"
        );
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(13.0), 20.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(51.0), 100.0);
        assert_eq!(nice_ceiling(0.3), 0.5);
    }
}
