//! The HTML report in a real browser. A local-engine run under real Terraform writes
//! `report.html_path` and `report.markdown_path`; headless Chromium (Debian's package, which
//! `scripts/setup --browser` installs) then
//! - renders the page to a screenshot, which must show the charts' colours in quantity (the p50
//!   and p95 lines, the histogram bars, the failure marks) on a page that is not blank;
//! - lays out the page with a probe script appended to a copy of it, which reads back what was
//!   drawn: the latency chart's polylines (their points and their rendered size), the failure
//!   marks, the histogram bars (their counts and heights) and the gate table's rows. These must
//!   match the JSON report of the same run.
//!
//! The Markdown summary of the run is checked as GitHub would take it (size, gate table).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use support::target::{TargetConfig, TargetServer};
use support::terraform::{with_terraform, Workspace};

/// Debian's chromium, or `DLT_TEST_CHROMIUM`. Missing: a skip note, or a failure under CI,
/// whose setup installs it.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("DLT_TEST_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "chromium missing: scripts/setup --browser installs it"
    );
    eprintln!("SKIP: no chromium at {} (run scripts/setup --browser)", path.display());
    None
}

/// Runs headless Chromium with the flags that work on this kind of machine (no sandbox as root,
/// no GPU, no background network), a fresh profile, and `args`.
fn run_chromium(exe: &Path, args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(exe)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Appended to a copy of the report: reports what the browser laid out.
const PROBE: &str = r#"<script>
(() => {
  const chart = (id) => {
    const svg = document.getElementById(id);
    if (!svg) return null;
    const box = svg.getBoundingClientRect();
    return {
      width: box.width, height: box.height,
      polylines: [...svg.querySelectorAll('polyline')].map(p => {
        const b = p.getBoundingClientRect();
        return { cls: p.getAttribute('class'), points: p.points.numberOfItems, declared: +p.dataset.points, width: b.width, height: b.height };
      }),
      failmarks: [...svg.querySelectorAll('rect.failmark')].map(r => +r.dataset.failures),
      bars: [...svg.querySelectorAll('rect.bar')].map(r => ({ count: +r.dataset.count, height: r.getBoundingClientRect().height })),
      texts: svg.querySelectorAll('text').length,
    };
  };
  const out = {
    timeline: chart('latency-over-time'),
    histogram: chart('latency-histogram'),
    gates: [...document.querySelectorAll('#gates tbody tr')].map(r => r.className),
    labels: document.querySelectorAll('#labels tbody tr').length,
    page: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight },
  };
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"#;

/// Pixels of the screenshot within `tolerance` of `rgb`.
fn count_color(pixels: &[[u8; 3]], rgb: [u8; 3], tolerance: i32) -> usize {
    pixels
        .iter()
        .filter(|p| {
            p.iter()
                .zip(rgb)
                .all(|(a, b)| (i32::from(*a) - i32::from(b)).abs() <= tolerance)
        })
        .count()
}

#[test]
fn html_report_charts_render_in_chromium() {
    let Some(exe) = chromium() else { return };
    with_terraform(|tf| {
        let target = TargetServer::start(TargetConfig {
            latency: Duration::from_millis(8),
            error_rate: 0.02,
            ..TargetConfig::default()
        });
        let hcl = format!(
            r#"resource "dlt_test_run" "charts" {{
  name        = "browser-charts"
  description = "HTML report in Chromium"
  scenario    = {{ requests = [{{ url = "{a}" }}, {{ url = "{b}", method = "POST", body = "{{}}" }}] }}
  load        = {{ concurrency = 4, task_count = 1, ramp_up = "1s", hold_for = "4s" }}
  gates       = {{ min_success_rate = 90, max_p95 = "1ms" }}
  fail_on_gate = false
  report = {{
    json_path     = "reports/run.json"
    markdown_path = "reports/run.md"
    html_path     = "reports/run.html"
  }}
}}
"#,
            a = target.url("/api/a"),
            b = target.url("/api/b"),
        );
        let ws = Workspace::new(tf, &hcl);
        ws.apply().assert_ok();
        let json: Json =
            serde_json::from_str(&std::fs::read_to_string(ws.path().join("reports/run.json")).unwrap()).unwrap();
        let results = &json["results"];
        let timeline = results["timeline"].as_array().expect("timeline in the JSON report");
        let histogram = results["latency_histogram"]
            .as_array()
            .expect("histogram in the JSON report");
        let html_path = ws.path().join("reports/run.html");
        let html = std::fs::read_to_string(&html_path).unwrap();

        // Self-contained: nothing to load from anywhere.
        for outside in ["<script", "<link", " src=", "url(", "@import", "http://", "https://"] {
            // The scenario's own URLs appear as label text, escaped, never as a reference.
            let hits = html.matches(outside).count();
            let as_text = if outside == "http://" {
                html.matches(">http://").count()
            } else {
                0
            };
            assert_eq!(hits, as_text, "{outside} referenced in the HTML report");
        }

        // 1. Screenshot: the charts are painted.
        let shot = ws.path().join("shot.png");
        run_chromium(
            &exe,
            &[
                "--window-size=1200,2400",
                &format!("--screenshot={}", shot.display()),
                &format!("file://{}", html_path.display()),
            ],
        );
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let channels = info.color_type.samples();
        let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
            .chunks(channels)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        let background = count_color(&pixels, [0xf6, 0xf8, 0xfa], 2) + count_color(&pixels, [0xff, 0xff, 0xff], 2);
        let p50 = count_color(&pixels, [0x09, 0x69, 0xda], 40);
        let p95 = count_color(&pixels, [0xbf, 0x87, 0x00], 40);
        let bars = count_color(&pixels, [0x82, 0x50, 0xdf], 30);
        let fails = count_color(&pixels, [0xcf, 0x22, 0x2e], 40);
        let copy = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
        let _ = std::fs::copy(&shot, &copy);
        eprintln!(
            "screenshot {}x{} ({}): {} px not background ({:.1}%), p50 line {p50} px, p95 line {p95} px, histogram bars {bars} px, failure red {fails} px; {}",
            info.width,
            info.height,
            copy.display(),
            pixels.len() - background,
            100.0 * (pixels.len() - background) as f64 / pixels.len() as f64,
            String::from_utf8_lossy(&Command::new(&exe).arg("--version").output().unwrap().stdout).trim()
        );
        assert_eq!((info.width, info.height), (1200, 2400));
        assert!(pixels.len() - background > pixels.len() / 50, "page looks blank");
        assert!(
            p50 > 300 && p95 > 300,
            "latency lines not painted: p50 {p50} px, p95 {p95} px"
        );
        assert!(bars > 2000, "histogram bars not painted: {bars} px");
        assert!(
            fails > 50,
            "FAIL badge, failed gate and failure marks not painted: {fails} px"
        );

        // 2. Layout probe: what was drawn matches the results.
        let probe_path = ws.path().join("reports/probe.html");
        std::fs::write(&probe_path, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
        let out = run_chromium(
            &exe,
            &[
                "--window-size=1200,2400",
                "--virtual-time-budget=5000",
                "--dump-dom",
                &format!("file://{}", probe_path.display()),
            ],
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        let start = dom.find("<pre id=\"probe\">").expect("probe ran") + "<pre id=\"probe\">".len();
        let end = start + dom[start..].find("</pre>").unwrap();
        let probe: Json = serde_json::from_str(&dom[start..end].replace("&amp;", "&")).expect("probe JSON");
        eprintln!("probe: {probe}");

        let tl = &probe["timeline"];
        assert!(tl["width"].as_f64().unwrap() > 600.0, "latency chart laid out: {tl}");
        let with_responses = timeline
            .iter()
            .filter(|p| p["max_ms"].as_f64().unwrap_or(0.0) > 0.0)
            .count();
        for class in ["series p50", "series p95"] {
            let lines: Vec<&Json> = tl["polylines"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["cls"] == class)
                .collect();
            let points: u64 = lines.iter().map(|p| p["points"].as_u64().unwrap()).sum();
            assert_eq!(
                points as usize, with_responses,
                "{class}: one point per interval with responses"
            );
            for l in &lines {
                assert_eq!(l["points"], l["declared"]);
                if l["points"].as_u64().unwrap() > 1 {
                    assert!(
                        l["width"].as_f64().unwrap() > 300.0,
                        "{class} drawn across the chart: {l}"
                    );
                }
            }
        }
        let failed_intervals: Vec<u64> = timeline
            .iter()
            .filter_map(|p| p["failures"].as_u64().filter(|f| *f > 0))
            .collect();
        let marks: Vec<u64> = tl["failmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(marks, failed_intervals, "a failure mark per interval with failures");
        assert!(!marks.is_empty(), "the target's 2% errors show");

        let hist = &probe["histogram"];
        let bars_drawn = hist["bars"].as_array().unwrap();
        assert_eq!(bars_drawn.len(), histogram.len(), "a bar per bucket");
        let drawn: u64 = bars_drawn.iter().map(|b| b["count"].as_u64().unwrap()).sum();
        let counted: u64 = histogram.iter().map(|b| b["count"].as_u64().unwrap()).sum();
        assert_eq!(drawn, counted);
        assert_eq!(
            counted,
            results["requests"].as_u64().unwrap(),
            "every response in the histogram"
        );
        let tallest = bars_drawn
            .iter()
            .map(|b| b["height"].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert!(tallest > 100.0, "tallest bar {tallest} px");
        for b in bars_drawn {
            assert_eq!(
                b["count"] == 0,
                b["height"].as_f64().unwrap() == 0.0,
                "height follows count: {b}"
            );
        }

        let gate_rows: Vec<&str> = probe["gates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        assert_eq!(
            gate_rows,
            ["pass", "fail"],
            "min_success_rate passes, max_p95 = 1ms fails"
        );
        assert_eq!(probe["labels"], 2);

        // The Markdown summary of the same run.
        let md = std::fs::read_to_string(ws.path().join("reports/run.md")).unwrap();
        assert!(md.starts_with("## ❌ Load test FAILED: browser-charts"), "{md}");
        assert!(
            md.contains("| `max_p95` | &lt;= 1ms |") && md.contains("❌ **FAIL**"),
            "{md}"
        );
        assert!(md.chars().count() < 65_536);
    });
}
