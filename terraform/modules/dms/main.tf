# AWS DMS: PostgreSQL -> raw zone, one full-load-and-cdc task per dataset, in exactly the file
# format the local replicator writes (lakehouse.replication): the S3 target's settings and the
# table mappings come from generated/dms_<dataset>.json, which the Python settings object and the
# registry generate (lakehouse.aws.terraform_config).

locals {
  # generated s3_settings of each dataset, under aws_dms_s3_endpoint argument names
  s3 = { for d, c in var.datasets : d => c.s3_settings }
}

resource "aws_security_group" "dms" {
  name        = "${var.name_prefix}-dms"
  description = "DMS replication instance: to the source PostgreSQL and to AWS APIs over HTTPS"
  vpc_id      = var.vpc_id

  egress {
    description = "Source PostgreSQL"
    from_port   = var.source_port
    to_port     = var.source_port
    protocol    = "tcp"
    cidr_blocks = var.source_cidr_blocks
  }

  egress {
    description = "HTTPS to S3, Secrets Manager and KMS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = var.https_egress_cidr_blocks
  }
}

resource "aws_dms_replication_subnet_group" "this" {
  replication_subnet_group_id          = "${var.name_prefix}-dms"
  replication_subnet_group_description = "${var.name_prefix} DMS replication subnets"
  subnet_ids                           = var.subnet_ids
}

resource "aws_dms_replication_instance" "this" {
  replication_instance_id     = "${var.name_prefix}-dms"
  replication_instance_class  = var.instance_class
  allocated_storage           = var.allocated_storage
  engine_version              = var.engine_version
  multi_az                    = var.multi_az
  publicly_accessible         = false
  auto_minor_version_upgrade  = true
  apply_immediately           = false
  kms_key_arn                 = var.kms_key_arn
  replication_subnet_group_id = aws_dms_replication_subnet_group.this.id
  vpc_security_group_ids      = [aws_security_group.dms.id]
}

# Source: the dataset's PostgreSQL database; credentials from Secrets Manager, TLS required.
resource "aws_dms_endpoint" "source" {
  for_each = var.datasets

  endpoint_id                     = "${var.name_prefix}-${each.key}-source"
  endpoint_type                   = "source"
  engine_name                     = "postgres"
  database_name                   = lookup(var.source_database_names, each.key, each.value.source_database)
  secrets_manager_arn             = var.source_secret_arn
  secrets_manager_access_role_arn = var.secrets_access_role_arn
  ssl_mode                        = var.source_ssl_mode
  certificate_arn                 = var.source_certificate_arn
  kms_key_arn                     = var.kms_key_arn

  postgres_settings {
    plugin_name         = "test-decoding" # ships with PostgreSQL (the local replicator uses pgoutput)
    capture_ddls        = false
    heartbeat_enable    = true
    heartbeat_frequency = 5
  }
}

# Target: the raw bucket, bucket_folder raw/database -> raw/database/<schema>/<table>/.
resource "aws_dms_s3_endpoint" "target" {
  for_each = var.datasets

  endpoint_id             = "${var.name_prefix}-${each.key}-raw"
  endpoint_type           = "target"
  bucket_name             = var.raw_bucket_name
  bucket_folder           = each.value.bucket_folder
  expected_bucket_owner   = var.account_id
  service_access_role_arn = var.s3_target_role_arn
  kms_key_arn             = var.kms_key_arn
  ssl_mode                = "none" # S3 is reached over HTTPS; ssl_mode applies to database engines

  encryption_mode                   = "SSE_KMS"
  server_side_encryption_kms_key_id = var.kms_key_arn
  canned_acl_for_objects            = "none"
  # full-load rows carry the task start time (one consistent snapshot time, as the local
  # replicator writes); CDC rows carry the commit time either way
  use_task_start_time_for_full_load_timestamp = true

  # --- DmsS3Settings.to_endpoint_settings() (generated, do not edit here) ---
  data_format                      = local.s3[each.key].data_format
  compression_type                 = local.s3[each.key].compression_type
  add_column_name                  = local.s3[each.key].add_column_name
  include_op_for_full_load         = local.s3[each.key].include_op_for_full_load
  timestamp_column_name            = local.s3[each.key].timestamp_column_name
  cdc_inserts_only                 = local.s3[each.key].cdc_inserts_only
  cdc_inserts_and_updates          = local.s3[each.key].cdc_inserts_and_updates
  date_partition_enabled           = local.s3[each.key].date_partition_enabled
  date_partition_sequence          = local.s3[each.key].date_partition_sequence
  date_partition_delimiter         = local.s3[each.key].date_partition_delimiter
  csv_delimiter                    = local.s3[each.key].csv_delimiter
  csv_row_delimiter                = local.s3[each.key].csv_row_delimiter
  csv_null_value                   = local.s3[each.key].csv_null_value
  rfc_4180                         = local.s3[each.key].rfc_4180
  parquet_timestamp_in_millisecond = local.s3[each.key].parquet_timestamp_in_millisecond
  parquet_version                  = local.s3[each.key].parquet_version
  cdc_max_batch_interval           = local.s3[each.key].cdc_max_batch_interval
  cdc_min_file_size                = local.s3[each.key].cdc_min_file_size
  max_file_size                    = local.s3[each.key].max_file_size
}

resource "aws_dms_replication_task" "this" {
  for_each = var.datasets

  replication_task_id      = "${var.name_prefix}-${each.key}"
  migration_type           = "full-load-and-cdc"
  replication_instance_arn = aws_dms_replication_instance.this.replication_instance_arn
  source_endpoint_arn      = aws_dms_endpoint.source[each.key].endpoint_arn
  target_endpoint_arn      = aws_dms_s3_endpoint.target[each.key].endpoint_arn
  table_mappings           = jsonencode(each.value.table_mappings)
  start_replication_task   = var.start_replication_tasks

  replication_task_settings = jsonencode({
    TargetMetadata = {
      SupportLobs        = true
      FullLobMode        = false
      LobChunkSize       = 64
      LimitedSizeLobMode = true
      LobMaxSize         = 32
    }
    FullLoadSettings = {
      # never delete raw files the lake may not have ingested yet
      TargetTablePrepMode = "DO_NOTHING"
    }
    Logging = {
      EnableLogging = true
      LogComponents = [
        { Id = "SOURCE_CAPTURE", Severity = "LOGGER_SEVERITY_DEFAULT" },
        { Id = "SOURCE_UNLOAD", Severity = "LOGGER_SEVERITY_DEFAULT" },
        { Id = "TARGET_LOAD", Severity = "LOGGER_SEVERITY_DEFAULT" },
        { Id = "TARGET_APPLY", Severity = "LOGGER_SEVERITY_DEFAULT" },
        { Id = "TASK_MANAGER", Severity = "LOGGER_SEVERITY_DEFAULT" },
      ]
    }
    ErrorBehavior = {
      DataErrorPolicy            = "LOG_ERROR"
      ApplyErrorDeletePolicy     = "LOG_ERROR"
      ApplyErrorInsertPolicy     = "LOG_ERROR"
      ApplyErrorUpdatePolicy     = "LOG_ERROR"
      TableErrorPolicy           = "SUSPEND_TABLE"
      RecoverableErrorCount      = -1
      RecoverableErrorInterval   = 5
      RecoverableErrorThrottling = true
    }
  })

  lifecycle {
    # DMS rewrites the settings document with every default it adds
    ignore_changes = [replication_task_settings]
  }
}
