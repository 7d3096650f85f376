# Glue: the catalog databases per zone, one raw-zone crawler per dataset, the Spark jobs that run
# glue_scripts/ (Glue 5.0, Delta and Hudi), their security configuration. Names, script keys,
# the wheel key and the crawler configuration come from generated/lakehouse.json.

locals {
  scripts_bucket = var.bucket_names["glue-scripts"]
  wheel_uri      = "s3://${local.scripts_bucket}/${var.glue.wheel_key}"
  wheel_source   = coalesce(var.wheel_path, "${var.artifacts_dir}/dist/${basename(var.glue.wheel_key)}")
  # Delta is the session catalog (most tables); Hudi tables are written through the DataFrame API
  spark_conf = join(" --conf ", [
    "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension,org.apache.spark.sql.hudi.HoodieSparkSessionExtension",
    "spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.serializer=org.apache.spark.serializer.KryoSerializer",
  ])
}

resource "aws_glue_catalog_database" "zone" {
  for_each = var.database_names

  name        = each.value
  description = "${each.key} zone of the lakehouse (s3://${var.bucket_names[each.key]}/${each.key}/)"
}

resource "aws_glue_data_catalog_encryption_settings" "this" {
  count = var.manage_catalog_encryption ? 1 : 0

  data_catalog_encryption_settings {
    connection_password_encryption {
      return_connection_password_encrypted = true
      aws_kms_key_id                       = var.kms_key_arn
    }
    encryption_at_rest {
      catalog_encryption_mode = "SSE-KMS"
      sse_aws_kms_key_id      = var.kms_key_arn
    }
  }
}

resource "aws_glue_security_configuration" "this" {
  name = "${var.name_prefix}-lake"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

# Raw zone: one table per replicated source table (raw/database/<schema>/<table>/); partitions
# inherit the table's schema so full-load and CDC files never split into partition schemas.
resource "aws_glue_crawler" "raw" {
  for_each = var.datasets

  name                   = "${var.name_prefix}-raw-${each.key}"
  description            = "${each.key}: DMS files in the raw zone"
  database_name          = aws_glue_catalog_database.zone["raw"].name
  role                   = var.crawler_role_arn
  security_configuration = aws_glue_security_configuration.this.name
  schedule               = var.crawler_schedule
  configuration          = jsonencode(var.glue.crawler_configuration)

  dynamic "s3_target" {
    for_each = each.value.raw_table_prefixes
    content {
      path = "s3://${var.bucket_names["raw"]}/${s3_target.value}"
    }
  }

  schema_change_policy {
    update_behavior = "UPDATE_IN_DATABASE"
    delete_behavior = "LOG"
  }

  recrawl_policy {
    recrawl_behavior = "CRAWL_EVERYTHING"
  }
}

resource "aws_cloudwatch_log_group" "jobs" {
  name              = "/aws-glue/jobs/${var.name_prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_glue_job" "this" {
  for_each = var.glue.jobs

  name                   = "${var.name_prefix}-${each.value.name_suffix}"
  description            = "lakehouse ${each.key} (${each.value.script_key}) on the Spark engine, launched by Dagster Pipes"
  role_arn               = var.job_role_arn
  glue_version           = var.glue.version
  worker_type            = var.worker_type
  number_of_workers      = var.number_of_workers
  timeout                = var.job_timeout_minutes
  security_configuration = aws_glue_security_configuration.this.name

  command {
    name            = "glueetl"
    script_location = "s3://${local.scripts_bucket}/${each.value.script_key}"
    python_version  = "3"
  }

  execution_property {
    max_concurrent_runs = 4
  }

  default_arguments = {
    "--job-language"                     = "python"
    "--datalake-formats"                 = var.glue.datalake_formats
    "--extra-py-files"                   = local.wheel_uri
    "--additional-python-modules"        = var.additional_python_modules
    "--conf"                             = local.spark_conf
    "--enable-glue-datacatalog"          = "true"
    "--enable-metrics"                   = "true"
    "--enable-observability-metrics"     = "true"
    "--enable-continuous-cloudwatch-log" = "true"
    "--continuous-log-logGroup"          = aws_cloudwatch_log_group.jobs.name
    "--job-bookmark-option"              = "job-bookmark-disable" # bronze/silver keep their own state
    "--TempDir"                          = "s3://${local.scripts_bucket}/tmp/"
    "--enable-spark-ui"                  = "true"
    "--spark-event-logs-path"            = "s3://${local.scripts_bucket}/spark-ui/"
  }
}

# The entry points and the package wheel (make glue-package) in the scripts bucket.
resource "aws_s3_object" "script" {
  for_each = var.upload_artifacts ? var.glue.jobs : {}

  bucket      = local.scripts_bucket
  key         = each.value.script_key
  source      = "${var.artifacts_dir}/${each.value.script_key}"
  source_hash = filemd5("${var.artifacts_dir}/${each.value.script_key}")
  kms_key_id  = var.kms_key_arn
}

resource "aws_s3_object" "wheel" {
  count = var.upload_artifacts ? 1 : 0

  bucket      = local.scripts_bucket
  key         = var.glue.wheel_key
  source      = local.wheel_source
  source_hash = filemd5(local.wheel_source)
  kms_key_id  = var.kms_key_arn
}
