# AWS DataSync: the landing folder's CSV drops -> raw/csv/<dataset>/ in the raw bucket, the AWS
# counterpart of lakehouse.filesync (only changed files move, every transfer verified). One task
# per dataset with CSV drops; the include filter is the registry's file globs (generated). The
# source is NFS, SMB (through a DataSync agent) or another S3 bucket: var.datasync_source.

locals {
  source_type = try(var.datasync_source.type, "")
  nfs         = local.source_type == "NFS" ? var.datasets : {}
  smb         = local.source_type == "SMB" ? var.datasets : {}
  s3          = local.source_type == "S3" ? var.datasets : {}
  source_location_arns = merge(
    { for d, l in aws_datasync_location_nfs.source : d => l.arn },
    { for d, l in aws_datasync_location_smb.source : d => l.arn },
    { for d, l in aws_datasync_location_s3.source : d => l.arn },
  )
}

resource "aws_cloudwatch_log_group" "datasync" {
  name              = "/aws/datasync/${var.name_prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "datasync_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.datasync.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["datasync.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${var.partition}:datasync:${var.region}:${var.account_id}:task/*"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "datasync" {
  policy_name     = "${var.name_prefix}-datasync"
  policy_document = data.aws_iam_policy_document.datasync_logs.json
}

# --- sources: <subdirectory>/<dataset>/ -------------------------------------------------------

resource "aws_datasync_location_nfs" "source" {
  for_each = local.nfs

  server_hostname = var.datasync_source.hostname
  subdirectory    = "${trimsuffix(var.datasync_source.subdirectory, "/")}/${each.key}/"

  on_prem_config {
    agent_arns = var.datasync_source.agent_arns
  }

  mount_options {
    version = "AUTOMATIC"
  }
}

resource "aws_datasync_location_smb" "source" {
  for_each = local.smb

  server_hostname = var.datasync_source.hostname
  subdirectory    = "${trimsuffix(var.datasync_source.subdirectory, "/")}/${each.key}/"
  user            = var.datasync_source.smb_user
  domain          = var.datasync_source.smb_domain
  password        = var.smb_password
  agent_arns      = var.datasync_source.agent_arns
}

resource "aws_datasync_location_s3" "source" {
  for_each = local.s3

  s3_bucket_arn = var.datasync_source.s3_bucket_arn
  subdirectory  = "${trimsuffix(var.datasync_source.subdirectory, "/")}/${each.key}/"

  s3_config {
    bucket_access_role_arn = var.role_arn
  }
}

# --- destination: raw/csv/<dataset>/ in the raw bucket --------------------------------------------

resource "aws_datasync_location_s3" "raw" {
  for_each = var.datasets

  s3_bucket_arn    = var.raw_bucket_arn
  subdirectory     = "/${each.value.prefix}"
  s3_storage_class = "STANDARD"

  s3_config {
    bucket_access_role_arn = var.role_arn
  }
}

resource "aws_datasync_task" "csv_drops" {
  for_each = var.datasets

  name                     = "${var.name_prefix}-${each.key}-csv-drops"
  source_location_arn      = local.source_location_arns[each.key]
  destination_location_arn = aws_datasync_location_s3.raw[each.key].arn
  cloudwatch_log_group_arn = aws_cloudwatch_log_group.datasync.arn

  includes {
    filter_type = "SIMPLE_PATTERN"
    value       = each.value.include_filter
  }

  options {
    verify_mode            = var.verify_mode
    transfer_mode          = "CHANGED"
    overwrite_mode         = "ALWAYS"
    preserve_deleted_files = "PRESERVE" # deletions in landing are not propagated (as locally)
    log_level              = "TRANSFER"
    task_queueing          = "ENABLED"
    posix_permissions      = "NONE"
    uid                    = "NONE"
    gid                    = "NONE"
  }

  dynamic "schedule" {
    for_each = var.schedule_expression == null ? [] : [var.schedule_expression]
    content {
      schedule_expression = schedule.value
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.datasync]
}
