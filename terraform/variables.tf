# Inputs of the lakehouse stack. terraform.tfvars.example lists the ones without a default.

variable "region" {
  description = "AWS region of every resource."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Project name: prefix of every resource and of the Glue databases (<project>_raw, ...); lower-case letters and digits (Glue/Athena database names take no hyphen)."
  type        = string
  default     = "lakehouse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,19}$", var.project))
    error_message = "project: 2-20 lower-case letters and digits, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, prod, ...), second part of every resource name."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{0,9}$", var.environment))
    error_message = "environment: 1-10 lower-case letters and digits, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "datasets" {
  description = "Datasets to replicate; each needs terraform/generated/dms_<dataset>.json (python -m lakehouse.aws.terraform_config generate)."
  type        = list(string)
  default     = ["autocorp", "saas"]
}

# --- network and source database -------------------------------------------------------------

variable "vpc_id" {
  description = "VPC of the DMS replication instance (it must reach the source database and S3)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets (two or more AZs) for the DMS replication subnet group."
  type        = list(string)
}

variable "source_cidr_blocks" {
  description = "CIDR blocks of the source PostgreSQL (DMS egress to its port is limited to them)."
  type        = list(string)
}

variable "source_port" {
  description = "Port of the source PostgreSQL."
  type        = number
  default     = 5432
}

variable "https_egress_cidr_blocks" {
  description = "Where DMS may reach HTTPS endpoints (S3, Secrets Manager, KMS): the VPC endpoints' or the NAT's ranges."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "source_secret_arn" {
  description = "Secrets Manager secret of the source PostgreSQL (JSON with host, port, username, password), as DMS reads it."
  type        = string
}

variable "source_secret_kms_key_arn" {
  description = "KMS key encrypting the source secret when it is not the AWS managed key (null = aws/secretsmanager)."
  type        = string
  default     = null
}

variable "source_database_names" {
  description = "PostgreSQL database per dataset, when it differs from the dataset's name."
  type        = map(string)
  default     = {}
}

variable "source_ssl_mode" {
  description = "SSL mode of the DMS source endpoint: require, verify-ca or verify-full (the last two need source_certificate_arn)."
  type        = string
  default     = "require"

  validation {
    condition     = contains(["require", "verify-ca", "verify-full"], var.source_ssl_mode)
    error_message = "source_ssl_mode: require, verify-ca or verify-full (no unencrypted source connection)."
  }
}

variable "source_certificate_arn" {
  description = "DMS certificate (the source's CA) for verify-ca / verify-full."
  type        = string
  default     = null
}

# --- DMS -----------------------------------------------------------------------------------

variable "dms_instance_class" {
  description = "DMS replication instance class."
  type        = string
  default     = "dms.t3.medium"
}

variable "dms_allocated_storage" {
  description = "DMS replication instance storage (GiB)."
  type        = number
  default     = 50
}

variable "dms_engine_version" {
  description = "DMS engine version (null = the current default)."
  type        = string
  default     = null
}

variable "dms_multi_az" {
  description = "Run the replication instance in two AZs."
  type        = bool
  default     = true
}

variable "start_replication_tasks" {
  description = "Start the replication tasks on apply (false: start them with aws dms start-replication-task)."
  type        = bool
  default     = false
}

variable "dagster_role_names" {
  description = "Existing IAM roles the Dagster code location runs as; the stack attaches its Dagster policy (Glue job runs, Pipes, catalog, Athena, observers) to them."
  type        = list(string)
  default     = []
}

variable "create_dms_service_roles" {
  description = "Create the account-wide dms-vpc-role and dms-cloudwatch-logs-role (false when the account has them)."
  type        = bool
  default     = true
}

# --- S3 ------------------------------------------------------------------------------------

variable "raw_transition_to_ia_days" {
  description = "Days before raw-zone objects move to STANDARD_IA (bronze has ingested them by then)."
  type        = number
  default     = 30
}

variable "raw_transition_to_glacier_days" {
  description = "Days before raw-zone objects move to GLACIER (kept for a silver rebuild from raw)."
  type        = number
  default     = 90
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced object version is kept in the versioned buckets."
  type        = number
  default     = 30
}

variable "athena_results_expiration_days" {
  description = "Days Athena query results are kept."
  type        = number
  default     = 30
}

variable "access_log_expiration_days" {
  description = "Days S3 server access logs are kept."
  type        = number
  default     = 365
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy non-empty buckets (test stacks only)."
  type        = bool
  default     = false
}

# --- DataSync -------------------------------------------------------------------------------

variable "datasync_source" {
  description = <<-EOT
    Where CSV drops arrive: type NFS, SMB or S3. NFS/SMB: hostname, agent_arns, subdirectory
    (the landing folder; <subdirectory>/<dataset>/ per dataset), SMB also user, domain. S3:
    s3_bucket_arn, subdirectory. null = no DataSync task.
  EOT
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

  validation {
    condition     = var.datasync_source == null || contains(["NFS", "SMB", "S3"], try(var.datasync_source.type, ""))
    error_message = "datasync_source.type: NFS, SMB or S3."
  }
}

variable "datasync_smb_password" {
  description = "Password of datasync_source.smb_user (SMB only)."
  type        = string
  default     = null
  sensitive   = true
}

variable "datasync_verify_mode" {
  description = "DataSync verification: ONLY_FILES_TRANSFERRED (checksums of what moved) or POINT_IN_TIME_CONSISTENT (the whole destination)."
  type        = string
  default     = "ONLY_FILES_TRANSFERRED"

  validation {
    condition     = contains(["ONLY_FILES_TRANSFERRED", "POINT_IN_TIME_CONSISTENT"], var.datasync_verify_mode)
    error_message = "datasync_verify_mode: ONLY_FILES_TRANSFERRED or POINT_IN_TIME_CONSISTENT (transfers are always verified)."
  }
}

variable "datasync_schedule_expression" {
  description = "DataSync schedule, e.g. rate(1 hour) (null = run on demand)."
  type        = string
  default     = null
}

# --- Glue and Athena ------------------------------------------------------------------------

variable "glue_worker_type" {
  description = "Glue worker type of the Spark jobs."
  type        = string
  default     = "G.1X"
}

variable "glue_number_of_workers" {
  description = "Glue workers per job run."
  type        = number
  default     = 2
}

variable "glue_job_timeout_minutes" {
  description = "Glue job run timeout."
  type        = number
  default     = 60
}

variable "glue_additional_python_modules" {
  description = "More pip requirements for the Glue jobs, appended to the generated ones (generated/lakehouse.json: what the entry points import that Glue 5.0 lacks, pinned as pyproject.toml pins them)."
  type        = list(string)
  default     = []
}

variable "upload_glue_artifacts" {
  description = "Upload glue_scripts/*.py and the package wheel (make glue-package) to the scripts bucket."
  type        = bool
  default     = true
}

variable "glue_wheel_path" {
  description = "Local path of the package wheel: uploaded for Glue, and the event API function's code (null = dist/lakehouse-<version>-py3-none-any.whl in the repository)."
  type        = string
  default     = null
}

variable "glue_crawler_schedule" {
  description = "Cron schedule of the raw-zone crawlers (null = on demand, e.g. from Dagster)."
  type        = string
  default     = null
}

variable "manage_glue_catalog_encryption" {
  description = "Encrypt the account's Glue Data Catalog with the lake key (an account-wide setting)."
  type        = bool
  default     = true
}

variable "athena_bytes_scanned_cutoff" {
  description = "Per-query scan limit of the Athena workgroup (bytes)."
  type        = number
  default     = 107374182400
}

# --- event ingestion API ------------------------------------------------------------------------

variable "enable_event_api" {
  description = "Create the event API (API Gateway REST API + Lambda: POST /ingest, GET /health)."
  type        = bool
  default     = true
}

variable "api_keys" {
  description = "Event API keys: name -> the lhk_... key `lakehouse api keys add` printed (its hash is in the raw bucket's key file); API Gateway gets the same value. Terraform state holds them: keep the state encrypted."
  type        = map(string)
  default     = {}
  sensitive   = true
}

variable "api_key_rate_limit" {
  description = "Requests/s per API key (usage plan)."
  type        = number
  default     = 50
}

variable "api_key_burst_limit" {
  description = "Burst per API key (usage plan)."
  type        = number
  default     = 100
}

variable "api_key_quota_limit" {
  description = "Requests per API key per api_key_quota_period (usage plan)."
  type        = number
  default     = 1000000
}

variable "api_key_quota_period" {
  description = "Usage plan quota period: DAY, WEEK or MONTH."
  type        = string
  default     = "DAY"
}

variable "api_reserved_concurrency" {
  description = "Reserved (and maximum) concurrent executions of the API function."
  type        = number
  default     = 20
}

variable "api_web_acl_arn" {
  description = "A WAFv2 web ACL (REGIONAL) for the API stage (null = none)."
  type        = string
  default     = null
}

variable "manage_api_gateway_account_logging" {
  description = "Set the account's API Gateway CloudWatch logging role (account- and region-wide; false when the account has one)."
  type        = bool
  default     = true
}

# --- Lake Formation ---------------------------------------------------------------------------

variable "tenants" {
  description = "saas tenants: key (letters, digits, _) -> tenant id (UUID) and the principals that may read that tenant's rows."
  type = map(object({
    tenant_id      = string
    principal_arns = optional(list(string), [])
  }))
  default = {}
}

variable "enable_tenant_filters" {
  description = "Create the tenant data cells filters (the silver tables must exist: run the pipeline once first)."
  type        = bool
  default     = false
}

variable "register_lake_formation_locations" {
  description = "Register the silver and gold buckets with Lake Formation so its filters govern them."
  type        = bool
  default     = false
}

# --- monitoring ------------------------------------------------------------------------------

variable "alarm_email" {
  description = "E-mail subscribed to the alarm topic (null = none)."
  type        = string
  default     = null
}

variable "dms_cdc_latency_threshold_seconds" {
  description = "Alarm when DMS CDC source or target latency stays above this (the freshness target is 15 minutes)."
  type        = number
  default     = 600
}

variable "log_retention_days" {
  description = "Retention of the CloudWatch log groups this stack creates."
  type        = number
  default     = 365
}
