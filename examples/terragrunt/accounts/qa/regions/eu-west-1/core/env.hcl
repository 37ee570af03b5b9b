# Core settings of this account and region: whether it has a DLT stack, the stack's template
# parameters, and the SSM parameter holding the DLT admin password.
locals {
  # false: no DLT stack here; the core unit and every application's load test are excluded.
  dlt_create = true

  stack_name   = "DLT-Load-Test-qa-eu"
  template_url = "https://qa-artifacts-123456789012.s3.eu-west-1.amazonaws.com/dlt/distributed-load-testing-on-aws.template"
  admin_name   = "dltadmin"
  admin_email  = "qa-team@example.com"
  stack_parameters = {
    ExistingVPCId    = ""
    ExistingSubnetA  = ""
    ExistingSubnetB  = ""
    VpcCidrBlock     = "192.168.0.0/16"
    SubnetACidrBlock = "192.168.0.0/20"
    SubnetBCidrBlock = "192.168.16.0/20"
    EgressCidr       = "0.0.0.0/0"
  }

  # A SecureString; its value becomes the admin user's permanent password.
  password_ssm_parameter = "/dlt/qa/admin-password"

  tags = {
    team        = "qa"
    cost-center = "performance"
  }
}
