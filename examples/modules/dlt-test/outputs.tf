output "test_id" {
  description = "DLT test ID (local-... on the local engine)."
  value       = dlt_test_run.this.id
}

output "passed" {
  description = "Whether every gate passed."
  value       = dlt_test_run.this.passed
}

output "status" {
  description = "complete, failed or cancelled."
  value       = dlt_test_run.this.status
}

output "console_url" {
  description = "The run in the DLT console (DLT only)."
  value       = dlt_test_run.this.console_url
}

output "results" {
  description = "Requests, successes, failures, success rate, throughput, average and percentile latencies (ms)."
  value       = dlt_test_run.this.results
}

output "gate_results" {
  description = "Each gate with its threshold, actual value and verdict."
  value       = dlt_test_run.this.gate_results
}

output "gate_table" {
  description = "The gates as a text table, for logs."
  value = join("\n", concat(
    [format("%-22s %-12s %-12s %s", "gate", "threshold", "actual", "result")],
    [for g in dlt_test_run.this.gate_results : format("%-22s %-12s %-12s %s", g.gate, g.threshold, g.actual, g.passed ? "pass" : "FAIL")]
  ))
}

output "junit_path" {
  description = "The JUnit report (publish it with the pipeline's test-report step)."
  value       = local.reports == null ? null : local.reports.junit_path
}

output "markdown_path" {
  description = "The Markdown summary (for $GITHUB_STEP_SUMMARY or a pull-request comment)."
  value       = local.reports == null ? null : local.reports.markdown_path
}

output "html_path" {
  description = "The HTML report with the latency charts."
  value       = local.reports == null ? null : local.reports.html_path
}
