# The checkout application's load test: what to call, how hard, for how long, and the gates
# that fail the pipeline (EXPECT_SUCCESS_RATE and SUCCESS_P95 of the old buildspec).
locals {
  test_name   = "checkout-load"
  description = "checkout: release gate"
  target_url  = "https://checkout.qa.example.com/api/health"

  concurrency = 50
  task_count  = 2
  ramp_up     = "1m"
  hold_for    = "5m"
  regions     = ["eu-west-1"]

  gates = {
    min_success_rate = 95
    max_p95          = "1500ms"
    max_failures     = 100
  }
}
