variable "name_prefix" {
  description = "<project>-<environment>, prefix of the role names."
  type        = string
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
  description = "AWS partition (aws, aws-cn, aws-us-gov)."
  type        = string
}

variable "bucket_arns" {
  description = "Bucket ARN per lake bucket (raw, bronze, silver, gold, athena-results, glue-scripts)."
  type        = map(string)
}

variable "kms_key_arn" {
  description = "The lake key."
  type        = string
}

variable "raw_database_prefix" {
  description = "Key prefix DMS writes under in the raw bucket (raw/database)."
  type        = string
}

variable "raw_csv_prefix" {
  description = "Key prefix DataSync writes under in the raw bucket (raw/csv)."
  type        = string
}

variable "glue_scripts_prefix" {
  description = "Key prefix of the Glue entry points in the scripts bucket."
  type        = string
}

variable "glue_wheels_prefix" {
  description = "Key prefix of the package wheel in the scripts bucket."
  type        = string
  default     = "wheels"
}

variable "glue_database_names" {
  description = "Glue database per zone."
  type        = map(string)
}

variable "source_secret_arn" {
  description = "Secrets Manager secret of the source PostgreSQL."
  type        = string
}

variable "source_secret_kms_key_arn" {
  description = "KMS key of the source secret (null = the AWS managed key)."
  type        = string
  default     = null
}

variable "datasync_source_bucket_arn" {
  description = "Source bucket of an S3 DataSync source (null for NFS/SMB)."
  type        = string
  default     = null
}

variable "create_dms_service_roles" {
  description = "Create dms-vpc-role and dms-cloudwatch-logs-role."
  type        = bool
  default     = true
}

variable "glue_jobs" {
  description = "generated/lakehouse.json's glue.jobs (name_suffix per job): the Glue jobs Dagster may run."
  type        = any
}

variable "athena_workgroup_name" {
  description = "The Athena workgroup Dagster queries through."
  type        = string
}

variable "dagster_role_names" {
  description = "Existing IAM roles Dagster runs as (ECS task role, EC2 instance role, ...) to attach the Dagster policy to."
  type        = list(string)
  default     = []
}
