# Alarms to one KMS-encrypted SNS topic: DMS CDC latency (source and target side) per task, Glue
# job failures (failed Spark tasks, and any run ending FAILED/TIMEOUT/ERROR), DMS task failures.

locals {
  # DMS publishes task metrics under the task's resource id: the last part of its ARN
  dms_task_resource_ids = { for d, arn in var.dms_replication_tasks : d => element(split(":", arn), 6) }
  dms_latency = merge([
    for d, id in local.dms_task_resource_ids : {
      for side in ["Source", "Target"] : "${d}-${lower(side)}" => { dataset = d, task = id, metric = "CDCLatency${side}" }
    }
  ]...)
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
}

data "aws_iam_policy_document" "alarms" {
  statement {
    sid       = "AccountServicesPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com", "dms.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms.json
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "dms_cdc_latency" {
  for_each = local.dms_latency

  alarm_name          = "${var.name_prefix}-${each.key}-cdc-latency"
  alarm_description   = "DMS ${each.value.dataset}: ${each.value.metric} above ${var.dms_cdc_latency_threshold}s (raw zone falling behind the source)"
  namespace           = "AWS/DMS"
  metric_name         = each.value.metric
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.dms_cdc_latency_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  dimensions = {
    ReplicationInstanceIdentifier = var.dms_replication_instance_id
    ReplicationTaskIdentifier     = each.value.task
  }
}

resource "aws_cloudwatch_metric_alarm" "glue_failed_tasks" {
  for_each = var.glue_job_names

  alarm_name          = "${each.value}-failed-tasks"
  alarm_description   = "Glue job ${each.value}: Spark tasks failed"
  namespace           = "Glue"
  metric_name         = "glue.driver.aggregate.numFailedTasks"
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]

  dimensions = {
    JobName  = each.value
    JobRunId = "ALL"
    Type     = "count"
  }
}

resource "aws_cloudwatch_event_rule" "glue_job_failed" {
  name        = "${var.name_prefix}-glue-job-failed"
  description = "A lakehouse Glue job run ended FAILED, TIMEOUT or ERROR"
  event_pattern = jsonencode({
    source      = ["aws.glue"]
    detail-type = ["Glue Job State Change"]
    detail = {
      jobName = values(var.glue_job_names)
      state   = ["FAILED", "TIMEOUT", "ERROR"]
    }
  })
}

resource "aws_cloudwatch_event_target" "glue_job_failed" {
  rule      = aws_cloudwatch_event_rule.glue_job_failed.name
  target_id = "sns"
  arn       = aws_sns_topic.alarms.arn
}

resource "aws_dms_event_subscription" "tasks" {
  name             = "${var.name_prefix}-dms-tasks"
  sns_topic_arn    = aws_sns_topic.alarms.arn
  source_type      = "replication-task"
  source_ids       = values(var.dms_replication_task_ids)
  event_categories = ["failure", "state change"]
  enabled          = true
}
