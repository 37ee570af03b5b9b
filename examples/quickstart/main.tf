# Quickstart: a gated load test on the local engine (no AWS needed).
# `./scripts/demo` starts a local HTTP target and applies this configuration against it.

terraform {
  required_providers {
    dlt = { source = "dlt-tools/dlt" }
  }
}

provider "dlt" {}

variable "target_url" {
  description = "URL to load-test."
  type        = string
  default     = "http://127.0.0.1:8080/health"
}

variable "report_dir" {
  description = "Where the reports go (JUnit, JSON, Markdown summary, HTML with charts)."
  type        = string
  default     = "reports"
}

variable "max_p95" {
  description = "p95 gate; the demo's failing variant sets it below the target's latency."
  type        = string
  default     = "500ms"
}

resource "dlt_test_run" "smoke" {
  name        = "quickstart-smoke"
  description = "Local smoke gate"

  scenario = {
    requests = [{ url = var.target_url, method = "GET" }]
  }

  load = {
    concurrency = 4
    task_count  = 2
    ramp_up     = "1s"
    hold_for    = "5s"
  }

  gates = {
    min_success_rate      = 95
    max_p95               = var.max_p95
    max_avg_response_time = "300ms"
    max_failures          = 50
  }

  report = {
    junit_path    = "${var.report_dir}/quickstart.xml"
    json_path     = "${var.report_dir}/quickstart.json"
    markdown_path = "${var.report_dir}/quickstart.md"
    html_path     = "${var.report_dir}/quickstart.html"
  }
}

output "results" {
  value = dlt_test_run.smoke.results
}

output "gate_table" {
  value = join("\n", concat(
    [format("%-22s %-12s %-12s %s", "gate", "threshold", "actual", "result")],
    [for g in dlt_test_run.smoke.gate_results : format("%-22s %-12s %-12s %s", g.gate, g.threshold, g.actual, g.passed ? "pass" : "FAIL")]
  ))
}
