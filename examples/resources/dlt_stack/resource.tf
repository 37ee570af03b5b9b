# The DLT template (~117 KB) is over CloudFormation's 51,200-byte TemplateBody limit, so stage it
# in S3 and pass template_url.
resource "dlt_stack" "main" {
  name         = "DLT-Load-Test-myapp-eu"
  template_url = "https://my-bucket.s3.eu-west-1.amazonaws.com/distributed-load-testing-on-aws.template"

  parameters = {
    AdminName  = "dltadmin"
    AdminEmail = "qa@example.com"
  }
  capabilities = ["CAPABILITY_IAM"]
  on_failure   = "DELETE"
  tags         = { team = "qa" }

  # Makes the Cognito admin user usable headlessly: the SecureString's value becomes the user's
  # permanent password. Put a new version of the parameter to rotate it.
  admin_password = {
    ssm_parameter = "/dlt/admin-password"
  }

  timeouts {
    create = "60m"
    update = "60m"
    delete = "60m"
  }
}

output "dlt_api_endpoint" {
  value = dlt_stack.main.api_endpoint
}

output "dlt_console" {
  value = dlt_stack.main.console_url
}

# An existing stack deployed outside this configuration.
data "dlt_stack" "shared" {
  name = "DLT-Load-Test-shared"
}
