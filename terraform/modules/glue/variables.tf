variable "name_prefix" {
  description = "<project>-<environment>."
  type        = string
}

variable "database_names" {
  description = "Glue database per zone (<project>_<zone>)."
  type        = map(string)
}

variable "glue" {
  description = "generated/lakehouse.json's glue block: version, datalake_formats, jobs, wheel_key, crawler_configuration."
  type        = any
}

variable "datasets" {
  description = "Dataset -> generated/dms_<dataset>.json (raw_table_prefixes for the crawler)."
  type        = any
}

variable "bucket_names" {
  description = "Bucket name per lake bucket."
  type        = map(string)
}

variable "job_role_arn" {
  description = "Role of the Spark jobs."
  type        = string
}

variable "crawler_role_arn" {
  description = "Role of the raw crawlers."
  type        = string
}

variable "kms_key_arn" {
  description = "The lake key."
  type        = string
}

variable "worker_type" {
  description = "Glue worker type."
  type        = string
  default     = "G.1X"
}

variable "number_of_workers" {
  description = "Workers per run."
  type        = number
  default     = 2
}

variable "job_timeout_minutes" {
  description = "Run timeout."
  type        = number
  default     = 60
}

variable "additional_python_modules" {
  description = "pip requirements installed on the workers beside the wheel (comma-separated name==version)."
  type        = string
  default     = ""
}

variable "upload_artifacts" {
  description = "Upload the entry points and the wheel."
  type        = bool
  default     = true
}

variable "artifacts_dir" {
  description = "Repository root: glue_scripts/<job>.py and dist/<wheel> are read from it."
  type        = string
}

variable "wheel_path" {
  description = "Local path of the wheel (null = <artifacts_dir>/dist/<wheel file>)."
  type        = string
  default     = null
}

variable "crawler_schedule" {
  description = "Crawler cron schedule (null = on demand)."
  type        = string
  default     = null
}

variable "manage_catalog_encryption" {
  description = "Encrypt the Data Catalog with the lake key (account-wide)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the job log group."
  type        = number
  default     = 365
}
