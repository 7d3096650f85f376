variable "name_prefix" {
  description = "<project>-<environment>."
  type        = string
}

variable "account_id" {
  description = "AWS account id."
  type        = string
}

variable "kms_key_arn" {
  description = "Key of the alarm topic."
  type        = string
}

variable "alarm_email" {
  description = "E-mail subscribed to the topic (null = none)."
  type        = string
  default     = null
}

variable "dms_replication_instance_id" {
  description = "Replication instance identifier."
  type        = string
}

variable "dms_replication_tasks" {
  description = "Replication task ARN per dataset."
  type        = map(string)
}

variable "dms_replication_task_ids" {
  description = "Replication task identifier per dataset."
  type        = map(string)
}

variable "dms_cdc_latency_threshold" {
  description = "CDC latency alarm threshold (seconds)."
  type        = number
  default     = 600
}

variable "glue_job_names" {
  description = "Glue job name per job."
  type        = map(string)
}
