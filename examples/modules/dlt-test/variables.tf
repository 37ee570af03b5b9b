# What to run.

variable "name" {
  description = "Test name, as DLT and the reports show it."
  type        = string

  validation {
    condition     = length(trimspace(var.name)) > 0
    error_message = "name must not be empty."
  }
}

variable "description" {
  description = "Test description."
  type        = string
  default     = "Terraform load gate"
}

variable "requests" {
  description = "The scenario: HTTP requests each virtual user sends in order, in a loop."
  type = list(object({
    url     = string
    method  = optional(string, "GET")
    headers = optional(map(string), {})
    body    = optional(string, "")
  }))

  validation {
    condition     = length(var.requests) > 0 && alltrue([for r in var.requests : can(regex("^https?://", r.url))])
    error_message = "requests must hold at least one request, each with an absolute http(s) URL."
  }
}

variable "concurrency" {
  description = "Virtual users per task."
  type        = number

  validation {
    condition     = var.concurrency >= 1 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be a whole number >= 1."
  }
}

variable "task_count" {
  description = "DLT tasks (Fargate containers) per region; the local engine multiplies concurrency by it."
  type        = number
  default     = 1

  validation {
    condition     = var.task_count >= 1 && floor(var.task_count) == var.task_count
    error_message = "task_count must be a whole number >= 1."
  }
}

variable "ramp_up" {
  description = "Time to start all virtual users, e.g. \"30s\", \"2m\"."
  type        = string
  default     = "0s"

  validation {
    condition     = can(regex("^[0-9.]+(ms|s|m|h)$", var.ramp_up))
    error_message = "ramp_up must be a duration with a unit: \"500ms\", \"30s\", \"2m\", \"1h\"."
  }
}

variable "hold_for" {
  description = "Time at full load after ramp-up, e.g. \"5m\"."
  type        = string

  validation {
    condition     = can(regex("^[0-9.]+(ms|s|m|h)$", var.hold_for))
    error_message = "hold_for must be a duration with a unit: \"500ms\", \"30s\", \"2m\", \"1h\"."
  }
}

variable "regions" {
  description = "DLT regions to generate load from (each runs task_count tasks). Empty: the stack's region."
  type        = list(string)
  default     = []
}

variable "gates" {
  description = "Quality gates; the apply fails when one fails (see fail_on_gate). success rate in percent, durations with units, throughput in requests per second."
  type = object({
    min_success_rate      = optional(number)
    max_p50               = optional(string)
    max_p90               = optional(string)
    max_p95               = optional(string)
    max_p99               = optional(string)
    max_avg_response_time = optional(string)
    min_throughput        = optional(number)
    max_failures          = optional(number)
  })
  default = {}

  validation {
    condition     = var.gates.min_success_rate == null || (var.gates.min_success_rate >= 0 && var.gates.min_success_rate <= 100)
    error_message = "gates.min_success_rate is a percentage, 0 to 100."
  }
}

variable "fail_on_gate" {
  description = "Whether a failed gate fails the apply (false: a warning, and the passed output is false)."
  type        = bool
  default     = true
}

variable "triggers" {
  description = "Values whose change runs the test again, e.g. { release = \"1.4.2\" }."
  type        = map(string)
  default     = {}
}

variable "report_dir" {
  description = "Directory for the reports: <name>.xml (JUnit), .json, .md (summary for a job summary or PR comment) and .html (charts); null writes none. Give an absolute path under Terragrunt, whose working directory is its cache."
  type        = string
  default     = null
}

variable "timeout" {
  description = "How long the run may take, provisioning included, before it is cancelled."
  type        = string
  default     = "60m"
}

# Where to run it: the DLT stack (dlt-stack's outputs) or, with api_endpoint null, the local engine.

variable "api_endpoint" {
  description = "The DLT REST API endpoint (dlt-stack's api_endpoint). Null runs the test on the local engine, from the machine running Terraform."
  type        = string
  default     = null
}

variable "region" {
  description = "The DLT stack's region (for request signing). Null: the provider's region."
  type        = string
  default     = null
}

variable "console_url" {
  description = "The DLT console, for links to the run."
  type        = string
  default     = null
}

variable "scenarios_bucket" {
  description = "The stack's scenarios bucket (JMeter scripts)."
  type        = string
  default     = null
}

variable "user_pool_id" {
  description = "Cognito user pool (dlt-stack's user_pool_id). Null with api_endpoint set: sign with the provider's own IAM credentials."
  type        = string
  default     = null
}

variable "user_pool_client_id" {
  description = "Cognito app client (dlt-stack's user_pool_client_id)."
  type        = string
  default     = null
}

variable "identity_pool_id" {
  description = "Cognito identity pool (dlt-stack's identity_pool_id)."
  type        = string
  default     = null
}

variable "username" {
  description = "The DLT user to log in as (dlt-stack's admin_username)."
  type        = string
  default     = "dltadmin"
}

variable "password_ssm_parameter" {
  description = "SSM SecureString holding that user's password (read at apply time; never in state or logs)."
  type        = string
  default     = null
}
