# The lakehouse on AWS: S3 zones, DMS (PostgreSQL -> raw, in the format the local replicator
# writes), DataSync (CSV drops -> raw), Glue catalog/crawlers/Spark jobs, Athena, Lake Formation
# tenant filters, alarms, the event ingestion API (API Gateway + Lambda -> raw/events). Settings and table lists come from the Python package through
# generated/*.json (python -m lakehouse.aws.terraform_config generate); tests keep them equal.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name_prefix = "${var.project}-${var.environment}"
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition

  common   = jsondecode(file("${path.module}/generated/lakehouse.json"))
  datasets = { for d in var.datasets : d => jsondecode(file("${path.module}/generated/dms_${d}.json")) }

  csv_datasets  = { for d, c in local.datasets : d => c.csv_drops if c.csv_drops != null }
  tenant_tables = merge([for c in values(local.datasets) : c.tenant_tables]...)

  # Glue databases per zone: <project>_raw, <project>_bronze, <project>_silver, <project>_gold
  glue_database_names = { for z in local.common.zones : z => "${var.project}_${z}" }

  # the package wheel (make glue-package): Glue's --extra-py-files and the event API's function code
  package_wheel = coalesce(var.glue_wheel_path, "${path.module}/../dist/${basename(local.common.glue.wheel_key)}")
}

# One customer managed key for the lake: S3 zones, Glue catalog and job logs/bookmarks, Athena
# results, DMS, the alarm topic and the log groups. Rotated yearly by KMS.
resource "aws_kms_key" "lake" {
  description             = "${local.name_prefix} lakehouse data key"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchLogsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${var.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        Sid       = "ServicesPublishToEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com", "dms.amazonaws.com"] }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_kms_alias" "lake" {
  name          = "alias/${local.name_prefix}-lake"
  target_key_id = aws_kms_key.lake.key_id
}

module "s3" {
  source = "./modules/s3"

  name_prefix                        = local.name_prefix
  account_id                         = local.account_id
  buckets                            = local.common.buckets
  kms_key_arn                        = aws_kms_key.lake.arn
  raw_transition_to_ia_days          = var.raw_transition_to_ia_days
  raw_transition_to_glacier_days     = var.raw_transition_to_glacier_days
  noncurrent_version_expiration_days = var.noncurrent_version_expiration_days
  athena_results_expiration_days     = var.athena_results_expiration_days
  access_log_expiration_days         = var.access_log_expiration_days
  force_destroy                      = var.force_destroy_buckets
}

module "iam" {
  source = "./modules/iam"

  name_prefix                = local.name_prefix
  account_id                 = local.account_id
  region                     = var.region
  partition                  = local.partition
  bucket_arns                = module.s3.bucket_arns
  kms_key_arn                = aws_kms_key.lake.arn
  raw_database_prefix        = local.common.raw_database_prefix
  raw_csv_prefix             = local.common.raw_csv_prefix
  glue_scripts_prefix        = local.common.glue.scripts_prefix
  glue_database_names        = local.glue_database_names
  source_secret_arn          = var.source_secret_arn
  source_secret_kms_key_arn  = var.source_secret_kms_key_arn
  datasync_source_bucket_arn = try(var.datasync_source.type, "") == "S3" ? var.datasync_source.s3_bucket_arn : null
  create_dms_service_roles   = var.create_dms_service_roles
  glue_jobs                  = local.common.glue.jobs
  athena_workgroup_name      = module.athena.workgroup_name
  dagster_role_names         = var.dagster_role_names
}

module "dms" {
  source = "./modules/dms"

  name_prefix              = local.name_prefix
  datasets                 = local.datasets
  source_database_names    = var.source_database_names
  vpc_id                   = var.vpc_id
  subnet_ids               = var.subnet_ids
  source_cidr_blocks       = var.source_cidr_blocks
  source_port              = var.source_port
  https_egress_cidr_blocks = var.https_egress_cidr_blocks
  source_secret_arn        = var.source_secret_arn
  secrets_access_role_arn  = module.iam.dms_secrets_role_arn
  s3_target_role_arn       = module.iam.dms_s3_target_role_arn
  source_ssl_mode          = var.source_ssl_mode
  source_certificate_arn   = var.source_certificate_arn
  raw_bucket_name          = module.s3.bucket_names["raw"]
  account_id               = local.account_id
  kms_key_arn              = aws_kms_key.lake.arn
  instance_class           = var.dms_instance_class
  allocated_storage        = var.dms_allocated_storage
  engine_version           = var.dms_engine_version
  multi_az                 = var.dms_multi_az
  start_replication_tasks  = var.start_replication_tasks

  depends_on = [module.iam]
}

module "datasync" {
  source = "./modules/datasync"

  name_prefix         = local.name_prefix
  datasets            = { for d, c in local.csv_datasets : d => c if var.datasync_source != null }
  datasync_source     = var.datasync_source
  smb_password        = var.datasync_smb_password
  raw_bucket_arn      = module.s3.bucket_arns["raw"]
  role_arn            = module.iam.datasync_role_arn
  kms_key_arn         = aws_kms_key.lake.arn
  verify_mode         = var.datasync_verify_mode
  schedule_expression = var.datasync_schedule_expression
  log_retention_days  = var.log_retention_days
  account_id          = local.account_id
  region              = var.region
  partition           = local.partition
}

module "glue" {
  source = "./modules/glue"

  name_prefix               = local.name_prefix
  database_names            = local.glue_database_names
  glue                      = local.common.glue
  datasets                  = local.datasets
  bucket_names              = module.s3.bucket_names
  job_role_arn              = module.iam.glue_job_role_arn
  crawler_role_arn          = module.iam.glue_crawler_role_arn
  kms_key_arn               = aws_kms_key.lake.arn
  worker_type               = var.glue_worker_type
  number_of_workers         = var.glue_number_of_workers
  job_timeout_minutes       = var.glue_job_timeout_minutes
  additional_python_modules = join(",", concat(local.common.glue.additional_python_modules, var.glue_additional_python_modules))
  upload_artifacts          = var.upload_glue_artifacts
  artifacts_dir             = "${path.module}/.."
  wheel_path                = var.glue_wheel_path
  crawler_schedule          = var.glue_crawler_schedule
  manage_catalog_encryption = var.manage_glue_catalog_encryption
  log_retention_days        = var.log_retention_days
}

module "athena" {
  source = "./modules/athena"

  name_prefix          = local.name_prefix
  results_bucket_name  = module.s3.bucket_names["athena-results"]
  account_id           = local.account_id
  kms_key_arn          = aws_kms_key.lake.arn
  bytes_scanned_cutoff = var.athena_bytes_scanned_cutoff
}

module "lakeformation" {
  source = "./modules/lakeformation"

  enabled            = var.enable_tenant_filters
  catalog_id         = local.account_id
  database_name      = module.glue.database_names["silver"]
  tenant_tables      = local.tenant_tables
  tenants            = var.tenants
  register_locations = var.register_lake_formation_locations
  location_arns      = [module.s3.bucket_arns["silver"], module.s3.bucket_arns["gold"]]
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix                 = local.name_prefix
  account_id                  = local.account_id
  kms_key_arn                 = aws_kms_key.lake.arn
  alarm_email                 = var.alarm_email
  dms_replication_instance_id = module.dms.replication_instance_id
  dms_replication_tasks       = module.dms.replication_task_arns
  dms_replication_task_ids    = module.dms.replication_task_ids
  dms_cdc_latency_threshold   = var.dms_cdc_latency_threshold_seconds
  glue_job_names              = module.glue.job_names
}

module "api" {
  source = "./modules/api"
  count  = var.enable_event_api ? 1 : 0

  name_prefix                 = local.name_prefix
  account_id                  = local.account_id
  partition                   = local.partition
  api                         = local.common.api
  raw_bucket_name             = module.s3.bucket_names["raw"]
  raw_bucket_arn              = module.s3.bucket_arns["raw"]
  kms_key_arn                 = aws_kms_key.lake.arn
  package_path                = local.package_wheel
  reserved_concurrency        = var.api_reserved_concurrency
  key_rate_limit              = var.api_key_rate_limit
  key_burst_limit             = var.api_key_burst_limit
  key_quota_limit             = var.api_key_quota_limit
  key_quota_period            = var.api_key_quota_period
  api_keys                    = var.api_keys
  web_acl_arn                 = var.api_web_acl_arn
  manage_account_logging_role = var.manage_api_gateway_account_logging
  log_retention_days          = var.log_retention_days
}
