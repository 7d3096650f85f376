output "task_arns" {
  description = "DataSync task ARN per dataset with CSV drops."
  value       = { for d, t in aws_datasync_task.csv_drops : d => t.arn }
}

output "log_group_name" {
  description = "Log group of the DataSync tasks."
  value       = aws_cloudwatch_log_group.datasync.name
}
