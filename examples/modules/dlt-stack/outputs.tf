output "stack_id" {
  description = "The stack's ARN."
  value       = dlt_stack.this.id
}

output "api_endpoint" {
  description = "The DLT REST API endpoint (what dlt_test_run's dlt.api_endpoint takes)."
  value       = dlt_stack.this.api_endpoint
}

output "console_url" {
  description = "The DLT web console."
  value       = dlt_stack.this.console_url
}

output "scenarios_bucket" {
  description = "The bucket DLT reads JMeter scripts from."
  value       = dlt_stack.this.scenarios_bucket
}

output "user_pool_id" {
  description = "Cognito user pool of the console's users."
  value       = dlt_stack.this.user_pool_id
}

output "user_pool_client_id" {
  description = "Cognito app client for logging in."
  value       = dlt_stack.this.user_pool_client_id
}

output "identity_pool_id" {
  description = "Cognito identity pool that turns a login into API credentials."
  value       = dlt_stack.this.identity_pool_id
}

output "admin_username" {
  description = "The admin user tests log in as."
  value       = var.admin_name
}

output "password_ssm_parameter" {
  description = "The SSM parameter holding the admin password (its name, never its value)."
  value       = var.password_ssm_parameter
}

output "region" {
  description = "The region the stack is in (from its ARN)."
  value       = split(":", dlt_stack.this.id)[3]
}
