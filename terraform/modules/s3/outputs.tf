output "bucket_names" {
  description = "Bucket name per lake bucket (raw, bronze, silver, gold, athena-results, glue-scripts)."
  value       = local.bucket_names
}

output "bucket_arns" {
  description = "Bucket ARN per lake bucket."
  value       = local.bucket_arns
}

output "access_log_bucket_name" {
  description = "Bucket receiving the S3 server access logs."
  value       = aws_s3_bucket.access_logs.bucket
}
