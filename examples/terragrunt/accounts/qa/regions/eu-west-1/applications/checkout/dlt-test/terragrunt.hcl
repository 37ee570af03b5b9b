# The checkout application's gated load test on this region's DLT stack. In pull requests
# `terragrunt plan` runs before the stack unit has outputs, so the dependency answers with
# mock_outputs; plan never starts a test, so the mocks are never called. apply always uses the
# stack unit's real outputs.
include "root" {
  path   = find_in_parent_folders("root.hcl")
  expose = true
}

locals {
  core = read_terragrunt_config(find_in_parent_folders("core/env.hcl")).locals
  app  = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${include.root.locals.modules}//dlt-test"
}

exclude {
  if      = !local.core.dlt_create
  actions = ["all"]
  no_run  = true
}

dependency "stack" {
  config_path = "../../../core/dlt-stack"

  mock_outputs = {
    api_endpoint           = "https://mock.execute-api.eu-west-1.amazonaws.com/prod/"
    console_url            = "https://mock.cloudfront.net"
    scenarios_bucket       = "mock-scenarios-bucket"
    user_pool_id           = "eu-west-1_mock"
    user_pool_client_id    = "mockclientid"
    identity_pool_id       = "eu-west-1:00000000-0000-0000-0000-000000000000"
    admin_username         = "dltadmin"
    password_ssm_parameter = "/dlt/mock/admin-password"
    region                 = "eu-west-1"
  }
  mock_outputs_allowed_terraform_commands = ["init", "validate", "plan"]
}

inputs = {
  name        = local.app.test_name
  description = local.app.description
  requests    = [{ url = local.app.target_url }]
  concurrency = local.app.concurrency
  task_count  = local.app.task_count
  ramp_up     = local.app.ramp_up
  hold_for    = local.app.hold_for
  regions     = local.app.regions
  gates       = local.app.gates
  triggers    = { release = get_env("APP_VERSION", "unversioned") }
  report_dir  = get_env("DLT_REPORT_DIR", "${get_terragrunt_dir()}/reports")

  api_endpoint           = dependency.stack.outputs.api_endpoint
  region                 = dependency.stack.outputs.region
  console_url            = dependency.stack.outputs.console_url
  scenarios_bucket       = dependency.stack.outputs.scenarios_bucket
  user_pool_id           = dependency.stack.outputs.user_pool_id
  user_pool_client_id    = dependency.stack.outputs.user_pool_client_id
  identity_pool_id       = dependency.stack.outputs.identity_pool_id
  username               = dependency.stack.outputs.admin_username
  password_ssm_parameter = dependency.stack.outputs.password_ssm_parameter
}
