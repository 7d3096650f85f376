variable "name_prefix" {
  description = "<project>-<environment>: the workgroup's name."
  type        = string
}

variable "results_bucket_name" {
  description = "The athena-results bucket."
  type        = string
}

variable "account_id" {
  description = "Account owning the results bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "Key encrypting the results."
  type        = string
}

variable "bytes_scanned_cutoff" {
  description = "Per-query scan limit (bytes)."
  type        = number
}
