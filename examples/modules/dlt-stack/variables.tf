variable "name" {
  description = "CloudFormation stack name, e.g. \"DLT-Load-Test-myapp-eu\". Changing it replaces the stack."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,127}$", var.name))
    error_message = "name must start with a letter and hold only letters, digits and hyphens (at most 128 characters)."
  }
}

variable "template_url" {
  description = "S3 URL of the Distributed Load Testing on AWS template (over CloudFormation's 51,200-byte inline limit, so it is staged in S3)."
  type        = string

  validation {
    condition     = can(regex("^https?://", var.template_url))
    error_message = "template_url must be an http(s) URL of the staged template."
  }
}

variable "admin_name" {
  description = "The DLT console's admin user (the template's AdminName parameter)."
  type        = string
  default     = "dltadmin"
}

variable "admin_email" {
  description = "Where DLT sends the admin user's invitation (the template's AdminEmail parameter)."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+$", var.admin_email))
    error_message = "admin_email must be an e-mail address."
  }
}

variable "parameters" {
  description = "More template parameters (ExistingVPCId, VpcCidrBlock, ...). AdminName and AdminEmail come from admin_name and admin_email."
  type        = map(string)
  default     = {}
}

variable "password_ssm_parameter" {
  description = "SSM Parameter Store SecureString whose value becomes the admin user's permanent password (replaces the manual change of the e-mailed temporary password). Put a new version to rotate it. Null leaves the password alone."
  type        = string
  default     = null

  validation {
    condition     = var.password_ssm_parameter == null || can(regex("^/", var.password_ssm_parameter))
    error_message = "password_ssm_parameter must be a parameter path starting with \"/\"."
  }
}

variable "on_failure" {
  description = "What CloudFormation does when creation fails: ROLLBACK, DELETE or DO_NOTHING."
  type        = string
  default     = "ROLLBACK"

  validation {
    condition     = contains(["ROLLBACK", "DELETE", "DO_NOTHING"], var.on_failure)
    error_message = "on_failure must be ROLLBACK, DELETE or DO_NOTHING."
  }
}

variable "tags" {
  description = "Tags for the stack and the resources it creates."
  type        = map(string)
  default     = {}
}

variable "timeout" {
  description = "How long create, update and delete may take (DLT creates ECS, API Gateway, CloudFront: 10-20 minutes)."
  type        = string
  default     = "60m"
}
