# One role per service, each limited to the buckets, prefixes, catalog objects and key it uses:
# - DMS S3 target: write raw/database/* in the raw bucket.
# - DMS secrets access: read the source secret.
# - DataSync: write raw/csv/* in the raw bucket (and read the source bucket for an S3 source).
# - Glue job: read raw and the scripts, read/write bronze/silver/gold and their catalog databases,
#   write its scratch prefixes (tmp/, pipes/ for Dagster Pipes, spark-ui/) in the scripts bucket.
# - Glue crawler: read raw/database/*, write the raw catalog database.
# - Dagster (the aws profile's code location; a managed policy to attach to the role it runs as):
#   run the project's Glue jobs and exchange Pipes context/messages under pipes/ of the scripts
#   bucket (and ship a user's declarations under declarations/, which the Glue jobs read), register silver/gold tables in the catalog, query through the Athena workgroup, observe
#   the DMS and DataSync tasks, and read/write the zones its in-process assets (bronze loads, event
#   tables, checks) use.
# Trust policies name the service and, where the service sends it, the account (confused deputy).

locals {
  raw_arn     = var.bucket_arns["raw"]
  scripts_arn = var.bucket_arns["glue-scripts"]
  # Glue catalog ARNs: the catalog, databases, tables
  catalog_arn  = "arn:${var.partition}:glue:${var.region}:${var.account_id}:catalog"
  database_arn = "arn:${var.partition}:glue:${var.region}:${var.account_id}:database"
  table_arn    = "arn:${var.partition}:glue:${var.region}:${var.account_id}:table"
  # per zone: its catalog database and tables; the table zones' buckets and objects
  zone_catalog       = { for z, db in var.glue_database_names : z => ["${local.database_arn}/${db}", "${local.table_arn}/${db}/*"] }
  raw_catalog        = concat([local.catalog_arn], local.zone_catalog["raw"])
  table_zones        = ["bronze", "silver", "gold"]
  table_zone_catalog = concat([local.catalog_arn], flatten([for z in local.table_zones : local.zone_catalog[z]]))
  table_zone_buckets = [for z in local.table_zones : var.bucket_arns[z]]
  table_zone_objects = [for arn in local.table_zone_buckets : "${arn}/*"]
  # the services the roles trust: principal, and whether it sends aws:SourceAccount
  trusted_services = {
    dms         = { principal = "dms.amazonaws.com", source_account = true }
    dms-secrets = { principal = "dms.${var.region}.amazonaws.com", source_account = false }
    datasync    = { principal = "datasync.amazonaws.com", source_account = true }
    glue        = { principal = "glue.amazonaws.com", source_account = true }
  }
  # the project's Glue jobs (named as modules/glue names them): Dagster may run these only
  glue_job_arns = [
    for j in values(var.glue_jobs) : "arn:${var.partition}:glue:${var.region}:${var.account_id}:job/${var.name_prefix}-${j.name_suffix}"
  ]
}

data "aws_iam_policy_document" "kms_use" {
  statement {
    sid       = "UseLakeKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
}

# Trust policies: the service, and the account where the service sends it (confused deputy).
data "aws_iam_policy_document" "trust" {
  for_each = local.trusted_services

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.value.principal]
    }
    dynamic "condition" {
      for_each = each.value.source_account ? [var.account_id] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [condition.value]
      }
    }
  }
}

# --- DMS ---------------------------------------------------------------------------------------

resource "aws_iam_role" "dms_s3_target" {
  name               = "${var.name_prefix}-dms-s3-target"
  description        = "DMS writes replicated tables into ${var.raw_database_prefix}/ of the raw bucket"
  assume_role_policy = data.aws_iam_policy_document.trust["dms"].json
}

data "aws_iam_policy_document" "dms_s3_target" {
  source_policy_documents = [data.aws_iam_policy_document.kms_use.json]

  statement {
    sid       = "WriteRawDatabasePrefix"
    actions   = ["s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"]
    resources = ["${local.raw_arn}/${var.raw_database_prefix}/*"]
  }

  statement {
    sid       = "ListRawBucket" # bucket-level; objects stay limited to raw/database/* above
    actions   = ["s3:ListBucket"]
    resources = [local.raw_arn]
  }
}

resource "aws_iam_role_policy" "dms_s3_target" {
  name   = "raw-database-writer"
  role   = aws_iam_role.dms_s3_target.id
  policy = data.aws_iam_policy_document.dms_s3_target.json
}

resource "aws_iam_role" "dms_secrets" {
  name               = "${var.name_prefix}-dms-source-secret"
  description        = "DMS reads the source PostgreSQL credentials from Secrets Manager"
  assume_role_policy = data.aws_iam_policy_document.trust["dms-secrets"].json
}

data "aws_iam_policy_document" "dms_secrets" {
  statement {
    sid       = "ReadSourceSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.source_secret_arn]
  }

  dynamic "statement" {
    for_each = var.source_secret_kms_key_arn == null ? [] : [var.source_secret_kms_key_arn]
    content {
      sid       = "DecryptSourceSecret"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "dms_secrets" {
  name   = "source-secret-reader"
  role   = aws_iam_role.dms_secrets.id
  policy = data.aws_iam_policy_document.dms_secrets.json
}

# DMS looks these two roles up by name, once per account (create_dms_service_roles = false when
# the account already has them).
resource "aws_iam_role" "dms_vpc" {
  count = var.create_dms_service_roles ? 1 : 0

  name               = "dms-vpc-role"
  description        = "DMS manages the replication instance's network interfaces"
  assume_role_policy = data.aws_iam_policy_document.trust["dms"].json
}

resource "aws_iam_role_policy_attachment" "dms_vpc" {
  count = var.create_dms_service_roles ? 1 : 0

  role       = aws_iam_role.dms_vpc[0].name
  policy_arn = "arn:${var.partition}:iam::aws:policy/service-role/AmazonDMSVPCManagementRole"
}

resource "aws_iam_role" "dms_cloudwatch_logs" {
  count = var.create_dms_service_roles ? 1 : 0

  name               = "dms-cloudwatch-logs-role"
  description        = "DMS writes task logs to CloudWatch Logs"
  assume_role_policy = data.aws_iam_policy_document.trust["dms"].json
}

resource "aws_iam_role_policy_attachment" "dms_cloudwatch_logs" {
  count = var.create_dms_service_roles ? 1 : 0

  role       = aws_iam_role.dms_cloudwatch_logs[0].name
  policy_arn = "arn:${var.partition}:iam::aws:policy/service-role/AmazonDMSCloudWatchLogsRole"
}

# --- DataSync ------------------------------------------------------------------------------------

resource "aws_iam_role" "datasync" {
  name               = "${var.name_prefix}-datasync"
  description        = "DataSync copies CSV drops into ${var.raw_csv_prefix}/ of the raw bucket"
  assume_role_policy = data.aws_iam_policy_document.trust["datasync"].json
}

data "aws_iam_policy_document" "datasync" {
  source_policy_documents = [data.aws_iam_policy_document.kms_use.json]

  statement {
    sid       = "RawBucketLevel"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
    resources = [local.raw_arn]
  }

  statement {
    sid = "WriteRawCsvPrefix"
    actions = [
      "s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:GetObjectTagging",
      "s3:ListMultipartUploadParts", "s3:PutObject", "s3:PutObjectTagging",
    ]
    resources = ["${local.raw_arn}/${var.raw_csv_prefix}/*"]
  }

  dynamic "statement" {
    for_each = var.datasync_source_bucket_arn == null ? [] : [var.datasync_source_bucket_arn]
    content {
      sid       = "SourceBucketLevel"
      actions   = ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.datasync_source_bucket_arn == null ? [] : [var.datasync_source_bucket_arn]
    content {
      sid       = "ReadSourceObjects"
      actions   = ["s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectVersion", "s3:GetObjectVersionTagging"]
      resources = ["${statement.value}/*"]
    }
  }
}

resource "aws_iam_role_policy" "datasync" {
  name   = "raw-csv-writer"
  role   = aws_iam_role.datasync.id
  policy = data.aws_iam_policy_document.datasync.json
}

# --- Glue ------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "glue_logs" {
  statement {
    sid       = "WriteGlueLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["arn:${var.partition}:logs:${var.region}:${var.account_id}:log-group:/aws-glue/*"]
  }

  statement {
    sid       = "GlueMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource type; limited to Glue's namespace below
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }
}

resource "aws_iam_role" "glue_job" {
  name               = "${var.name_prefix}-glue-job"
  description        = "Glue Spark jobs (glue_scripts/): raw -> bronze -> silver -> gold"
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
}

data "aws_iam_policy_document" "glue_job" {
  source_policy_documents = [
    data.aws_iam_policy_document.kms_use.json,
    data.aws_iam_policy_document.glue_logs.json,
  ]

  statement {
    sid       = "ListLakeBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = concat([local.raw_arn, local.scripts_arn], local.table_zone_buckets)
  }

  statement {
    sid     = "ReadRawAndScripts"
    actions = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [
      "${local.raw_arn}/*",
      "${local.scripts_arn}/${var.glue_scripts_prefix}/*",
      "${local.scripts_arn}/${var.glue_wheels_prefix}/*",
      "${local.scripts_arn}/declarations/*", # a user's dataset declaration (--declarations)
    ]
  }

  statement {
    sid       = "ReadWriteTableZones"
    actions   = ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = local.table_zone_objects
  }

  statement {
    sid     = "ReadWriteJobScratch"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [
      "${local.scripts_arn}/tmp/*", "${local.scripts_arn}/pipes/*", "${local.scripts_arn}/spark-ui/*",
    ]
  }

  statement {
    sid = "ReadRawCatalog"
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:GetPartition", "glue:GetPartitions",
    ]
    resources = local.raw_catalog
  }

  statement {
    sid = "ManageTableZoneCatalog"
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
      "glue:DeleteTable", "glue:GetPartition", "glue:GetPartitions", "glue:CreatePartition",
      "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:DeletePartition",
      "glue:BatchDeletePartition", "glue:BatchGetPartition",
    ]
    resources = local.table_zone_catalog
  }

  statement {
    sid       = "LakeFormationCredentials"
    actions   = ["lakeformation:GetDataAccess"]
    resources = ["*"] # GetDataAccess has no resource type; Lake Formation grants decide what it opens
  }
}

resource "aws_iam_role_policy" "glue_job" {
  name   = "lake-zones"
  role   = aws_iam_role.glue_job.id
  policy = data.aws_iam_policy_document.glue_job.json
}

resource "aws_iam_role" "glue_crawler" {
  name               = "${var.name_prefix}-glue-crawler"
  description        = "Glue crawlers catalog ${var.raw_database_prefix}/ into the raw database"
  assume_role_policy = data.aws_iam_policy_document.trust["glue"].json
}

data "aws_iam_policy_document" "glue_crawler" {
  source_policy_documents = [
    data.aws_iam_policy_document.kms_use.json,
    data.aws_iam_policy_document.glue_logs.json,
  ]

  statement {
    sid       = "ListRawDatabasePrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.raw_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.raw_database_prefix}/*", "${var.raw_database_prefix}"]
    }
  }

  statement {
    sid       = "ReadRawDatabasePrefix"
    actions   = ["s3:GetObject"]
    resources = ["${local.raw_arn}/${var.raw_database_prefix}/*"]
  }

  statement {
    sid = "CatalogRawTables"
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
      "glue:GetPartition", "glue:GetPartitions", "glue:BatchCreatePartition", "glue:BatchGetPartition",
      "glue:UpdatePartition", "glue:BatchUpdatePartition",
    ]
    resources = local.raw_catalog
  }
}

resource "aws_iam_role_policy" "glue_crawler" {
  name   = "raw-catalog"
  role   = aws_iam_role.glue_crawler.id
  policy = data.aws_iam_policy_document.glue_crawler.json
}

# --- Dagster (aws profile) -----------------------------------------------------------------------

data "aws_iam_policy_document" "dagster" {
  source_policy_documents = [data.aws_iam_policy_document.kms_use.json]

  statement {
    sid       = "RunProjectGlueJobs" # PipesGlueClient: start, poll, stop on interrupt; the script check
    actions   = ["glue:GetJob", "glue:GetJobRun", "glue:StartJobRun", "glue:BatchStopJobRun"]
    resources = local.glue_job_arns
  }

  statement {
    sid       = "PipesExchange" # context in, messages out (lakehouse.aws.glue_pipes.PIPES_PREFIX)
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.scripts_arn}/pipes/*"]
  }

  statement {
    sid       = "ShipDeclarations" # a user's declaration for the Glue jobs (declarations.shipping)
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${local.scripts_arn}/declarations/*"]
  }

  statement {
    sid       = "ListLakeBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = concat([local.raw_arn, local.scripts_arn, var.bucket_arns["athena-results"]], local.table_zone_buckets)
  }

  statement {
    sid       = "ReadRaw" # the raw sensors and the bronze loads
    actions   = ["s3:GetObject"]
    resources = ["${local.raw_arn}/*"]
  }

  statement {
    sid       = "ReadWriteTableZones" # in-process assets (bronze, event tables), checks, Athena reads
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = local.table_zone_objects
  }

  statement {
    sid       = "AthenaQueries"
    actions   = ["athena:StartQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:StopQueryExecution", "athena:GetWorkGroup"]
    resources = ["arn:${var.partition}:athena:${var.region}:${var.account_id}:workgroup/${var.athena_workgroup_name}"]
  }

  statement {
    sid       = "AthenaResults"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${var.bucket_arns["athena-results"]}/results/*"]
  }

  statement {
    sid = "RegisterAndReadTableZoneCatalog" # Delta tables registered for Athena; Athena's reads
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
      "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
    ]
    resources = local.table_zone_catalog
  }

  statement {
    sid       = "ObserveDmsTableStatistics"
    actions   = ["dms:DescribeTableStatistics"]
    resources = ["arn:${var.partition}:dms:${var.region}:${var.account_id}:task:*"]
  }

  statement {
    sid       = "ObserveDmsTasks" # Describe* on tasks and instances take no resource (filtered by ARN in the call)
    actions   = ["dms:DescribeReplicationTasks", "dms:DescribeReplicationInstances", "cloudwatch:GetMetricStatistics"]
    resources = ["*"]
  }

  statement {
    sid       = "ObserveDataSyncTasks"
    actions   = ["datasync:DescribeTask", "datasync:DescribeTaskExecution"]
    resources = ["arn:${var.partition}:datasync:${var.region}:${var.account_id}:task/*"]
  }
}

resource "aws_iam_policy" "dagster" {
  name        = "${var.name_prefix}-dagster"
  description = "What the lakehouse Dagster code location (aws profile) does on AWS; attach it to the role Dagster runs as"
  policy      = data.aws_iam_policy_document.dagster.json
}

resource "aws_iam_role_policy_attachment" "dagster" {
  for_each = toset(var.dagster_role_names)

  role       = each.value
  policy_arn = aws_iam_policy.dagster.arn
}
