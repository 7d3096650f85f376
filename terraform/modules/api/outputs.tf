output "url" {
  description = "The stage URL: POST <url>/ingest, GET <url>/health (header x-api-key)."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "rest_api_id" {
  description = "The REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "function_name" {
  description = "The Lambda function."
  value       = aws_lambda_function.api.function_name
}

output "api_key_ids" {
  description = "API Gateway key id per key name."
  value       = { for k, key in aws_api_gateway_api_key.this : k => key.id }
}

output "usage_plan_id" {
  description = "The usage plan (per-key throttle and quota)."
  value       = aws_api_gateway_usage_plan.this.id
}
