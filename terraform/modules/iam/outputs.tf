output "dms_s3_target_role_arn" {
  description = "Role of the DMS S3 target endpoints."
  value       = aws_iam_role.dms_s3_target.arn
}

output "dms_secrets_role_arn" {
  description = "Role DMS assumes to read the source secret."
  value       = aws_iam_role.dms_secrets.arn
}

output "datasync_role_arn" {
  description = "Role of the DataSync S3 locations."
  value       = aws_iam_role.datasync.arn
}

output "glue_job_role_arn" {
  description = "Role of the Glue Spark jobs."
  value       = aws_iam_role.glue_job.arn
}

output "glue_crawler_role_arn" {
  description = "Role of the raw-zone crawlers."
  value       = aws_iam_role.glue_crawler.arn
}

output "dagster_policy_arn" {
  description = "Managed policy of the Dagster code location (aws profile)."
  value       = aws_iam_policy.dagster.arn
}
