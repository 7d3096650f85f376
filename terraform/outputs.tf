# What the aws profile reads (lakehouse.aws.terraform_outputs.TerraformOutputs has one field per
# output; a test keeps the two lists equal). Write them where the profile looks:
#   terraform -chdir=terraform output -json > .lakehouse/terraform-outputs.json

output "region" {
  description = "AWS region of the stack."
  value       = var.region
}

output "name_prefix" {
  description = "<project>-<environment>, prefix of every resource name."
  value       = local.name_prefix
}

output "buckets" {
  description = "Bucket per lake bucket: raw, bronze, silver, gold, athena-results, glue-scripts (objects keep their lake key inside their zone's bucket)."
  value       = module.s3.bucket_names
}

output "glue_databases" {
  description = "Glue database per zone."
  value       = module.glue.database_names
}

output "glue_jobs" {
  description = "Glue job name per entry point (bronze_to_silver, silver_to_gold), for PipesGlueClient."
  value       = module.glue.job_names
}

output "glue_crawlers" {
  description = "Raw-zone crawler per dataset."
  value       = module.glue.crawler_names
}

output "athena_workgroup" {
  description = "Athena workgroup (results location and encryption enforced)."
  value       = module.athena.workgroup_name
}

output "athena_results_location" {
  description = "Where the workgroup writes query results."
  value       = module.athena.results_location
}

output "sns_topic_arn" {
  description = "Alarm topic (also where the aws profile can send failed-run alerts)."
  value       = module.monitoring.sns_topic_arn
}

output "kms_key_arn" {
  description = "The lake key (S3 SSE-KMS, catalog, Athena results)."
  value       = aws_kms_key.lake.arn
}

output "dms_replication_instance_arn" {
  description = "DMS replication instance."
  value       = module.dms.replication_instance_arn
}

output "dms_replication_tasks" {
  description = "DMS replication task ARN per dataset (the DMS observer's describe_* calls)."
  value       = module.dms.replication_task_arns
}

output "datasync_tasks" {
  description = "DataSync task ARN per dataset with CSV drops (empty without datasync_source)."
  value       = module.datasync.task_arns
}

output "dagster_policy_arn" {
  description = "Managed policy of the Dagster code location (Glue job runs, Pipes, catalog, Athena, observers): attach it to the role Dagster runs as (or set dagster_role_names)."
  value       = module.iam.dagster_policy_arn
}

output "api_url" {
  description = "The event API's stage URL: POST <api_url>/ingest, GET <api_url>/health with header x-api-key (empty when enable_event_api = false)."
  value       = try(module.api[0].url, "")
}
