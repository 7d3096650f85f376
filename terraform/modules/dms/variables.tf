variable "name_prefix" {
  description = "<project>-<environment>."
  type        = string
}

variable "datasets" {
  description = "Dataset -> generated/dms_<dataset>.json (source_database, bucket_folder, s3_settings, table_mappings)."
  type        = any
}

variable "source_database_names" {
  description = "PostgreSQL database per dataset when not the generated one."
  type        = map(string)
  default     = {}
}

variable "vpc_id" {
  description = "VPC of the replication instance."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the replication subnet group."
  type        = list(string)
}

variable "source_cidr_blocks" {
  description = "CIDR blocks of the source PostgreSQL."
  type        = list(string)
}

variable "source_port" {
  description = "Port of the source PostgreSQL."
  type        = number
  default     = 5432
}

variable "https_egress_cidr_blocks" {
  description = "Where the instance may reach HTTPS endpoints."
  type        = list(string)
}

variable "source_secret_arn" {
  description = "Secrets Manager secret of the source PostgreSQL."
  type        = string
}

variable "secrets_access_role_arn" {
  description = "Role DMS assumes to read the secret."
  type        = string
}

variable "s3_target_role_arn" {
  description = "Role of the S3 target endpoints."
  type        = string
}

variable "source_ssl_mode" {
  description = "SSL mode of the source endpoints."
  type        = string
  default     = "require"
}

variable "source_certificate_arn" {
  description = "CA certificate for verify-ca / verify-full."
  type        = string
  default     = null
}

variable "raw_bucket_name" {
  description = "The raw bucket."
  type        = string
}

variable "account_id" {
  description = "Account owning the raw bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "The lake key (instance storage, endpoint settings, S3 objects)."
  type        = string
}

variable "instance_class" {
  description = "Replication instance class."
  type        = string
}

variable "allocated_storage" {
  description = "Replication instance storage (GiB)."
  type        = number
}

variable "engine_version" {
  description = "DMS engine version (null = default)."
  type        = string
  default     = null
}

variable "multi_az" {
  description = "Multi-AZ replication instance."
  type        = bool
  default     = true
}

variable "start_replication_tasks" {
  description = "Start the tasks on apply."
  type        = bool
  default     = false
}
