# S3 zones of the lake: raw (the DMS and DataSync target), bronze, silver, gold, athena-results,
# glue-scripts, plus the bucket receiving their server access logs.
# Every zone bucket: SSE-KMS with the lake key (bucket keys on), TLS-only policy, public access
# blocked, ACLs disabled, access logs, EventBridge notifications (for sensors and audits),
# lifecycle. Versioned except raw: AWS advises against versioning on a DMS S3 target (old
# versions pile up under CDC and slow the endpoint's list calls); raw files are immutable and
# re-creatable from the source anyway.
#
# One resource per setting, for_each over the buckets: what differs between the zone buckets is
# data (local.lake), not repeated blocks. The access-log bucket shares the ownership controls, the
# public access block and the TLS statements; its encryption, versioning, lifecycle and policy
# are its own.

locals {
  raw_transitions = [
    { days = var.raw_transition_to_ia_days, storage_class = "STANDARD_IA" },
    { days = var.raw_transition_to_glacier_days, storage_class = "GLACIER" },
  ]

  # zone bucket -> its settings: versioned, lifecycle transitions, expiry of current objects
  lake = {
    for b in var.buckets : b => {
      versioned       = b != "raw"
      transitions     = b == "raw" ? local.raw_transitions : []
      expiration_days = b == "athena-results" ? var.athena_results_expiration_days : null
    }
  }

  # every bucket of the module: the zone buckets and the access-log bucket
  buckets      = merge(aws_s3_bucket.zone, { access-logs = aws_s3_bucket.access_logs })
  bucket_names = { for k, b in aws_s3_bucket.zone : k => b.bucket }
  bucket_arns  = { for k, b in aws_s3_bucket.zone : k => b.arn }
}

# --- the buckets ------------------------------------------------------------------------------

resource "aws_s3_bucket" "zone" {
  #checkov:skip=CKV_AWS_144:cross-region replication doubles storage for data re-creatable from the source (raw) or rebuildable from raw (the zones); enable per account policy
  for_each = local.lake

  bucket        = "${var.name_prefix}-${each.key}-${var.account_id}"
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_18:this bucket is the access-log target; logging it into itself would loop
  #checkov:skip=CKV_AWS_145:S3 server access logging delivers only to SSE-S3 (AES256) buckets, not SSE-KMS
  #checkov:skip=CKV_AWS_144:access logs are kept in-region; cross-region replication is a compliance choice per account
  #checkov:skip=CKV2_AWS_62:event notifications on the log bucket would only echo every log delivery
  bucket        = "${var.name_prefix}-access-logs-${var.account_id}"
  force_destroy = var.force_destroy
}

# --- settings of every bucket ------------------------------------------------------------------

resource "aws_s3_bucket_ownership_controls" "lake" {
  for_each = local.buckets

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "lake" {
  for_each = local.buckets

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [each.value.arn, "${each.value.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid     = "DenyOutdatedTLS"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [each.value.arn, "${each.value.arn}/*"]
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

# --- settings of the zone buckets ----------------------------------------------------------------

# not raw: the DMS target (see the top of this file)
resource "aws_s3_bucket_versioning" "zone" {
  for_each = { for k, b in aws_s3_bucket.zone : k => b if local.lake[k].versioned }

  bucket = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "zone" {
  for_each = aws_s3_bucket.zone

  bucket = each.value.id

  # raw: STANDARD_IA, then GLACIER (bronze has ingested the files by then; kept for a rebuild)
  dynamic "rule" {
    for_each = length(local.lake[each.key].transitions) > 0 ? [local.lake[each.key].transitions] : []
    content {
      id     = "raw-to-infrequent-access-then-glacier"
      status = "Enabled"
      filter {}
      dynamic "transition" {
        for_each = rule.value
        content {
          days          = transition.value.days
          storage_class = transition.value.storage_class
        }
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # versioned buckets: replaced versions expire
  dynamic "rule" {
    for_each = local.lake[each.key].versioned ? [var.noncurrent_version_expiration_days] : []
    content {
      id     = "expire-replaced-versions"
      status = "Enabled"
      filter {}
      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 7
      }
    }
  }

  # athena-results: query results expire
  dynamic "rule" {
    for_each = local.lake[each.key].expiration_days == null ? [] : [local.lake[each.key].expiration_days]
    content {
      id     = "expire-query-results"
      status = "Enabled"
      filter {}
      expiration {
        days = rule.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.zone]
}

resource "aws_s3_bucket_server_side_encryption_configuration" "lake" {
  for_each = aws_s3_bucket.zone

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "lake" {
  for_each = aws_s3_bucket.zone

  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"
}

resource "aws_s3_bucket_notification" "lake" {
  for_each = aws_s3_bucket.zone

  bucket      = each.value.id
  eventbridge = true
}

resource "aws_s3_bucket_policy" "lake" {
  for_each = aws_s3_bucket.zone

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.lake]
}

# --- the access-log bucket: SSE-S3 and the log delivery service -----------------------------------

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_log_expiration_days
    }
    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  source_policy_documents = [data.aws_iam_policy_document.tls_only["access-logs"].json]

  statement {
    sid     = "S3ServerAccessLogsDelivery"
    effect  = "Allow"
    actions = ["s3:PutObject"]
    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }
    resources = ["${aws_s3_bucket.access_logs.arn}/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:aws:s3:::${var.name_prefix}-*"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.lake]
}

# --- addresses before the refactor: an existing stack keeps its raw bucket and settings ---------

moved {
  from = aws_s3_bucket.raw
  to   = aws_s3_bucket.zone["raw"]
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.raw
  to   = aws_s3_bucket_lifecycle_configuration.zone["raw"]
}

moved {
  from = aws_s3_bucket_ownership_controls.access_logs
  to   = aws_s3_bucket_ownership_controls.lake["access-logs"]
}

moved {
  from = aws_s3_bucket_public_access_block.access_logs
  to   = aws_s3_bucket_public_access_block.lake["access-logs"]
}
