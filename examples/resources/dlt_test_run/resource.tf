# On the local engine (no dlt block): runs from the machine running Terraform.
resource "dlt_test_run" "smoke" {
  name        = "checkout-smoke"
  description = "PR gate"

  scenario = {
    requests = [
      { url = "https://staging.example.com/health" },
      { url = "https://staging.example.com/api/cart", method = "POST", headers = { "Content-Type" = "application/json" }, body = "{\"sku\":\"42\"}", label = "checkout" },
    ]
  }

  load = {
    concurrency = 10
    task_count  = 1
    ramp_up     = "10s"
    hold_for    = "1m"
  }

  gates = {
    min_success_rate = 99
    max_p95          = "800ms"
  }
  # The checkout call has its own latency budget; server errors and throttling are capped.
  label_gates = [{ label = "checkout", max_p95 = "400ms" }]
  status_gates = [
    { status = "5xx", max_percent = 0.5 },
    { status = "429", max_count = 0 },
  ]
  # Cold caches during the ramp-up do not count (on DLT this needs v4).
  warm_up = "ramp_up"

  triggers = { release = var.app_version }
  report = {
    junit_path = "reports/dlt-smoke.xml"
    json_path  = "reports/dlt-smoke.json"
  }
}

# On Distributed Load Testing on AWS, logging in through the stack's Cognito user pool.
resource "dlt_test_run" "load" {
  name        = "checkout-load"
  description = "Release gate"

  dlt = {
    api_endpoint     = dlt_stack.main.api_endpoint
    scenarios_bucket = dlt_stack.main.scenarios_bucket
    console_url      = dlt_stack.main.console_url
    cognito = {
      user_pool_id           = dlt_stack.main.user_pool_id
      client_id              = dlt_stack.main.user_pool_client_id
      identity_pool_id       = dlt_stack.main.identity_pool_id
      username               = "dltadmin"
      password_ssm_parameter = "/cognito/password"
    }
  }

  scenario = {
    type     = "simple"
    requests = [{ url = "https://staging.example.com/api/checkout", method = "GET" }]
  }

  load = {
    concurrency = 50
    task_count  = 4
    regions     = ["eu-west-1", "us-east-1"]
    ramp_up     = "2m"
    hold_for    = "10m"
  }

  gates = {
    min_success_rate      = 99.5
    max_p95               = "1.5s"
    max_p99               = "3s"
    max_avg_response_time = "800ms"
    min_throughput        = 200
  }

  fail_on_gate = true
  triggers     = { release = var.app_version }

  timeouts {
    create = "60m"
  }
}

variable "app_version" {
  type    = string
  default = "1.0.0"
}
