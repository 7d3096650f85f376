output "workgroup_name" {
  description = "The Athena workgroup."
  value       = aws_athena_workgroup.this.name
}

output "results_location" {
  description = "Where the workgroup writes query results."
  value       = "s3://${var.results_bucket_name}/results/"
}
