# Root configuration every unit includes (`include "root"`): remote state in S3 and the generated
# dlt provider block. Named root.hcl rather than terragrunt.hcl: current Terragrunt treats a root
# terragrunt.hcl as a unit of its own in `run --all` and warns about it. A tree whose root is
# still terragrunt.hcl works the same with `find_in_parent_folders()` in the units.
locals {
  account = read_terragrunt_config(find_in_parent_folders("account.hcl"))
  region  = read_terragrunt_config(find_in_parent_folders("region.hcl"))

  account_id = local.account.locals.account_id
  aws_region = local.region.locals.aws_region

  # Where the reusable modules live (units use "${include.root.locals.modules}//dlt-test").
  modules = "${get_parent_terragrunt_dir()}/../modules"
}

remote_state {
  backend = "s3"
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
  config = {
    bucket       = "terraform-state-${local.account_id}-${local.aws_region}"
    key          = "${path_relative_to_include()}/terraform.tfstate"
    region       = local.aws_region
    encrypt      = true
    use_lockfile = true
  }
}

# Only the provider block: each module's versions.tf pins the provider version (two
# required_providers entries for one provider would be an error).
generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOT
    provider "dlt" {
      region = "${local.aws_region}"
    }
  EOT
}
