# The DLT stack of this account and region (excluded when core/env.hcl says dlt_create = false).
include "root" {
  path   = find_in_parent_folders("root.hcl")
  expose = true
}

locals {
  core = read_terragrunt_config(find_in_parent_folders("env.hcl")).locals
}

terraform {
  source = "${include.root.locals.modules}//dlt-stack"
}

exclude {
  if      = !local.core.dlt_create
  actions = ["all"]
  no_run  = true
}

inputs = {
  name                   = local.core.stack_name
  template_url           = local.core.template_url
  admin_name             = local.core.admin_name
  admin_email            = local.core.admin_email
  parameters             = local.core.stack_parameters
  password_ssm_parameter = local.core.password_ssm_parameter
  tags                   = local.core.tags
}
