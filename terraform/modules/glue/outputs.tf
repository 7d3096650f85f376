output "database_names" {
  description = "Glue database per zone."
  value       = { for z, d in aws_glue_catalog_database.zone : z => d.name }
}

output "job_names" {
  description = "Glue job name per job (bronze_to_silver, silver_to_gold)."
  value       = { for j, g in aws_glue_job.this : j => g.name }
}

output "crawler_names" {
  description = "Raw-zone crawler per dataset."
  value       = { for d, c in aws_glue_crawler.raw : d => c.name }
}

output "security_configuration" {
  description = "Glue security configuration of the jobs and crawlers."
  value       = aws_glue_security_configuration.this.name
}
