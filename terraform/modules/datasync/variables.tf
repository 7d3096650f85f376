variable "name_prefix" {
  description = "<project>-<environment>."
  type        = string
}

variable "datasets" {
  description = "Dataset -> its generated csv_drops ({prefix, include_filter}); empty = no task."
  type        = map(object({ prefix = string, include_filter = string }))
}

variable "datasync_source" {
  description = "Source of the CSV drops (see the root variable)."
  type = object({
    type          = string
    subdirectory  = string
    hostname      = optional(string)
    agent_arns    = optional(list(string), [])
    s3_bucket_arn = optional(string)
    smb_user      = optional(string)
    smb_domain    = optional(string)
  })
  default = null
}

variable "smb_password" {
  description = "Password of the SMB user."
  type        = string
  default     = null
  sensitive   = true
}

variable "raw_bucket_arn" {
  description = "The raw bucket."
  type        = string
}

variable "role_arn" {
  description = "Role of the S3 locations."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the task log group."
  type        = string
}

variable "verify_mode" {
  description = "ONLY_FILES_TRANSFERRED or POINT_IN_TIME_CONSISTENT."
  type        = string
  default     = "ONLY_FILES_TRANSFERRED"
}

variable "schedule_expression" {
  description = "Task schedule (null = on demand)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the task log group."
  type        = number
  default     = 365
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "region" {
  description = "AWS region."
  type        = string
}

variable "partition" {
  description = "AWS partition."
  type        = string
}
