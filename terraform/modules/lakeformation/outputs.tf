output "filter_names" {
  description = "Data cells filter name per tenant.table."
  value       = { for k, f in aws_lakeformation_data_cells_filter.tenant : k => f.table_data[0].name }
}
