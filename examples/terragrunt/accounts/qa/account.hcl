# The AWS account this subtree deploys into.
locals {
  account_name = "qa"
  account_id   = "123456789012"
}
