# The Distributed Load Testing on AWS stack, replacing an aws_cloudformation_stack plus the manual
# password change: dlt_stack deploys the template, names failed resources when it fails, and sets
# the Cognito admin user's permanent password from SSM, so pipelines can log in headlessly.
resource "dlt_stack" "this" {
  name         = var.name
  template_url = var.template_url
  parameters = merge(var.parameters, {
    AdminName  = var.admin_name
    AdminEmail = var.admin_email
  })
  capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
  on_failure   = var.on_failure
  tags         = var.tags

  admin_password = var.password_ssm_parameter == null ? null : {
    ssm_parameter = var.password_ssm_parameter
    username      = var.admin_name
  }

  timeouts {
    create = var.timeout
    update = var.timeout
    delete = var.timeout
  }
}
