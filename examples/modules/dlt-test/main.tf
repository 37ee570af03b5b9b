# One gated load test. On DLT when api_endpoint is set (logging in through the stack's Cognito
# pools when user_pool_id is set, else signing with the provider's IAM credentials), else on the
# local engine. Plan never starts it; apply runs it and fails when a gate fails, leaving it
# tainted so the next apply runs it again.
locals {
  on_dlt = var.api_endpoint != null
  cognito = var.user_pool_id == null ? null : {
    user_pool_id           = var.user_pool_id
    client_id              = var.user_pool_client_id
    identity_pool_id       = var.identity_pool_id
    username               = var.username
    password_ssm_parameter = var.password_ssm_parameter
  }
  reports = var.report_dir == null ? null : {
    junit_path    = "${var.report_dir}/${var.name}.xml"
    json_path     = "${var.report_dir}/${var.name}.json"
    markdown_path = "${var.report_dir}/${var.name}.md"
    html_path     = "${var.report_dir}/${var.name}.html"
  }
}

resource "dlt_test_run" "this" {
  name        = var.name
  description = var.description

  dlt = local.on_dlt ? {
    api_endpoint     = var.api_endpoint
    region           = var.region
    console_url      = var.console_url
    scenarios_bucket = var.scenarios_bucket
    cognito          = local.cognito
  } : null

  scenario = {
    type     = "simple"
    requests = var.requests
  }

  load = {
    concurrency = var.concurrency
    task_count  = var.task_count
    regions     = length(var.regions) > 0 ? var.regions : null
    ramp_up     = var.ramp_up
    hold_for    = var.hold_for
  }

  gates        = var.gates
  fail_on_gate = var.fail_on_gate
  triggers     = var.triggers
  report       = local.reports

  timeouts {
    create = var.timeout
  }
}
