variable "name_prefix" {
  description = "<project>-<environment>: the function, API, role and log group names."
  type        = string
}

variable "account_id" {
  description = "AWS account id (trust policy conditions)."
  type        = string
}

variable "partition" {
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "api" {
  description = "generated/lakehouse.json's api block: handler, routes (path -> method), events_prefix, keys_object."
  type        = any
}

variable "raw_bucket_name" {
  description = "The raw bucket: the function's lake root (LAKEHOUSE_ROOT = s3://<it>)."
  type        = string
}

variable "raw_bucket_arn" {
  description = "ARN of the raw bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "The lake key: the raw bucket's SSE-KMS, the function's environment, the log groups."
  type        = string
}

variable "package_path" {
  description = "The package wheel (make glue-package): the function's code (a zip with lakehouse/ at its root)."
  type        = string
}

variable "runtime" {
  description = "Lambda Python runtime (the package needs Python 3.11 or later)."
  type        = string
  default     = "python3.12"
}

variable "memory_size" {
  description = "Function memory (MB)."
  type        = number
  default     = 512
}

variable "timeout_seconds" {
  description = "Function timeout (API Gateway gives up after 29 s)."
  type        = number
  default     = 15
}

variable "reserved_concurrency" {
  description = "Reserved (and maximum) concurrent executions of the function."
  type        = number
  default     = 20
}

variable "max_body_bytes" {
  description = "Request size limit the function enforces (LAKEHOUSE_API_MAX_BODY_BYTES)."
  type        = number
  default     = 1048576
}

variable "max_batch" {
  description = "Records per request the function accepts (LAKEHOUSE_API_MAX_BATCH)."
  type        = number
  default     = 500
}

variable "stage_name" {
  description = "API stage (the URL's first path segment)."
  type        = string
  default     = "v1"
}

variable "stage_rate_limit" {
  description = "Requests/s for the whole stage (every key together)."
  type        = number
  default     = 200
}

variable "stage_burst_limit" {
  description = "Burst of the whole stage."
  type        = number
  default     = 400
}

variable "key_rate_limit" {
  description = "Requests/s per API key (usage plan throttle)."
  type        = number
  default     = 50
}

variable "key_burst_limit" {
  description = "Burst per API key (usage plan throttle)."
  type        = number
  default     = 100
}

variable "key_quota_limit" {
  description = "Requests per API key per quota period."
  type        = number
  default     = 1000000
}

variable "key_quota_period" {
  description = "Quota period: DAY, WEEK or MONTH."
  type        = string
  default     = "DAY"

  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.key_quota_period)
    error_message = "key_quota_period: DAY, WEEK or MONTH."
  }
}

variable "api_keys" {
  description = "Name -> key (the lhk_... plaintext `lakehouse api keys add` prints); API Gateway gets the same value."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "web_acl_arn" {
  description = "A WAFv2 web ACL (REGIONAL) to associate with the stage (null = none)."
  type        = string
  default     = null
}

variable "manage_account_logging_role" {
  description = "Set the account's API Gateway CloudWatch role (account- and region-wide; false when the account has one)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the function and access log groups."
  type        = number
  default     = 365
}
