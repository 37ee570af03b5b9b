# DLT v4.x end to end: deploy (or adopt) the official v4 template, then gate on a k6 script run
# there. Every value the run needs comes from dlt_stack: v4's outputs (ConsoleURL,
# CognitoUserPoolID, CognitoAppClientID, CognitoIdentityPoolID, ScenariosBucket) or, for a
# template that dropped one, the stack's own resources.
terraform {
  required_providers {
    dlt = { source = "dlt-tools/dlt" }
  }
}

provider "dlt" {
  region = "eu-west-1"
}

variable "template_url" {
  description = "The official DLT v4 template, staged in S3 (it is over CloudFormation's inline-body limit)."
  type        = string
}

variable "app_version" {
  type    = string
  default = "dev"
}

resource "dlt_stack" "main" {
  name         = "DLT-v4-myapp"
  template_url = var.template_url
  parameters = {
    AdminName  = "dltadmin"
    AdminEmail = "qa@example.com"
  }
  capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]

  # The SecureString's value becomes the admin user's permanent password.
  admin_password = {
    ssm_parameter = "/dlt/admin-password"
  }
}

resource "dlt_test_run" "checkout_k6" {
  name = "checkout-k6"
  dlt = {
    api_endpoint     = dlt_stack.main.api_endpoint
    console_url      = dlt_stack.main.console_url
    scenarios_bucket = dlt_stack.main.scenarios_bucket
    # DLT v4 allows only SRP logins; without a cognito block the provider signs with its own
    # IAM credentials instead.
    cognito = {
      user_pool_id           = dlt_stack.main.user_pool_id
      client_id              = dlt_stack.main.user_pool_client_id
      identity_pool_id       = dlt_stack.main.identity_pool_id
      username               = "dltadmin"
      password_ssm_parameter = "/dlt/admin-password"
      auth_flow              = "USER_SRP_AUTH"
    }
  }
  # k6 (and Locust) need DLT v4; the script is uploaded to the scenarios bucket before the run.
  scenario = {
    type   = "k6"
    script = "${path.module}/checkout.js"
  }
  load     = { concurrency = 50, task_count = 2, ramp_up = "1m", hold_for = "5m" }
  gates    = { min_success_rate = 99, max_p95 = "800ms" }
  report   = { junit_path = "reports/checkout-k6.xml" }
  triggers = { release = var.app_version }
}
