output "replication_instance_arn" {
  description = "ARN of the replication instance."
  value       = aws_dms_replication_instance.this.replication_instance_arn
}

output "replication_instance_id" {
  description = "Identifier of the replication instance (CloudWatch dimension ReplicationInstanceIdentifier)."
  value       = aws_dms_replication_instance.this.replication_instance_id
}

output "replication_task_arns" {
  description = "Replication task ARN per dataset."
  value       = { for d, t in aws_dms_replication_task.this : d => t.replication_task_arn }
}

output "replication_task_ids" {
  description = "Replication task identifier per dataset."
  value       = { for d, t in aws_dms_replication_task.this : d => t.replication_task_id }
}
