variable "name_prefix" {
  description = "<project>-<environment>: buckets are <name_prefix>-<bucket>-<account id>."
  type        = string
}

variable "account_id" {
  description = "AWS account id (suffix of the globally unique bucket names)."
  type        = string
}

variable "buckets" {
  description = "Buckets to create (generated/lakehouse.json: raw, bronze, silver, gold, athena-results, glue-scripts)."
  type        = list(string)

  validation {
    condition     = contains(var.buckets, "raw")
    error_message = "buckets must contain raw (the DMS and DataSync target)."
  }
}

variable "kms_key_arn" {
  description = "Customer managed key for SSE-KMS."
  type        = string
}

variable "raw_transition_to_ia_days" {
  description = "Days before raw objects move to STANDARD_IA."
  type        = number

  validation {
    condition     = var.raw_transition_to_ia_days >= 30
    error_message = "S3 moves objects to STANDARD_IA after 30 days at the earliest."
  }
}

variable "raw_transition_to_glacier_days" {
  description = "Days before raw objects move to GLACIER."
  type        = number
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced version is kept (versioned buckets)."
  type        = number
}

variable "athena_results_expiration_days" {
  description = "Days Athena results are kept."
  type        = number
}

variable "access_log_expiration_days" {
  description = "Days access logs are kept."
  type        = number
}

variable "force_destroy" {
  description = "Allow destroying non-empty buckets."
  type        = bool
  default     = false
}
