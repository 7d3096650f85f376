# The event ingestion API on AWS: API Gateway (REST API: API keys and a usage plan) with
# POST /ingest and GET /health -> one Lambda function running the package's handler
# (lakehouse.events.lambda_handler.handler, the adapter to the same IngestService the local server
# runs). The function's code is the package wheel (a zip with lakehouse/ at its root; no
# dependencies: the events path needs only boto3, which the Lambda runtime has).
#
# Two gates, one key: API Gateway accepts a request only with an API key of the usage plan
# (throttle + quota per key), then the function checks the same key against the hashed key file
# (per-source permissions, revocation). So the API Gateway key values are the `lhk_...` keys that
# `lakehouse api keys add` prints (var.api_keys; Terraform state holds them: keep it encrypted).
#
# The function writes raw/events/<source>/... into the raw bucket (LAKEHOUSE_ROOT = the raw bucket)
# and reads only the key file there; names come from generated/lakehouse.json's api block.

locals {
  function_name = "${var.name_prefix}-events-api"
  raw_root      = "s3://${var.raw_bucket_name}"
  routes        = var.api.routes # path -> method
}

# --- the function -----------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = local.function_name
  description        = "Event API function: writes ${var.api.events_prefix} of the raw bucket, reads its API key file"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
}

data "aws_iam_policy_document" "function" {
  statement {
    sid       = "WriteEvents"
    actions   = ["s3:PutObject"]
    resources = ["${var.raw_bucket_arn}/${var.api.events_prefix}*"]
  }

  # No s3:ListBucket: without it a missing key file is a 403 (the function answers 500), but a
  # request reaches the function only with a usage-plan key, and those come from the key file.
  statement {
    sid       = "ReadApiKeys"
    actions   = ["s3:GetObject"]
    resources = ["${var.raw_bucket_arn}/${var.api.keys_object}"]
  }

  statement {
    sid       = "UseLakeKey" # SSE-KMS of the raw bucket, the environment's encryption
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "events-writer"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_iam_role_policy_attachment" "xray" {
  role       = aws_iam_role.function.name
  policy_arn = "arn:${var.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

resource "aws_lambda_function" "api" {
  #checkov:skip=CKV_AWS_116:API Gateway invokes the function synchronously; a DLQ only receives failed asynchronous invocations, and a failed request returns 5xx to the client, which retries
  #checkov:skip=CKV_AWS_117:the function calls only S3 and CloudWatch APIs; a VPC adds NAT or endpoints and cold-start cost without isolating anything
  #checkov:skip=CKV_AWS_272:code signing needs an AWS Signer profile and signed artifacts from a release pipeline; the code is the wheel make glue-package builds, uploaded by Terraform
  function_name                  = local.function_name
  description                    = "lakehouse event API (POST /ingest, GET /health) behind API Gateway"
  role                           = aws_iam_role.function.arn
  handler                        = var.api.handler
  runtime                        = var.runtime
  architectures                  = ["x86_64"]
  filename                       = var.package_path
  source_code_hash               = filebase64sha256(var.package_path)
  memory_size                    = var.memory_size
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = {
      LAKEHOUSE_ROOT               = local.raw_root
      LAKEHOUSE_API_MAX_BODY_BYTES = tostring(var.max_body_bytes)
      LAKEHOUSE_API_MAX_BATCH      = tostring(var.max_batch)
    }
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text" # the service writes one JSON access-log line per request itself
    log_group  = aws_cloudwatch_log_group.function.name
  }

  depends_on = [aws_iam_role_policy.function, aws_iam_role_policy_attachment.xray]
}

resource "aws_lambda_permission" "api" {
  for_each = local.routes

  statement_id  = "api-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${aws_api_gateway_stage.this.stage_name}/${each.value}/${each.key}"
}

# --- the REST API -----------------------------------------------------------------------------

resource "aws_api_gateway_rest_api" "this" {
  name           = local.function_name
  description    = "lakehouse event ingestion: POST /ingest, GET /health (API key required)"
  api_key_source = "HEADER"

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_resource" "route" {
  for_each = local.routes

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.key
}

resource "aws_api_gateway_request_validator" "this" {
  name                        = "api-key-header"
  rest_api_id                 = aws_api_gateway_rest_api.this.id
  validate_request_body       = false # the function validates bodies against the source schemas
  validate_request_parameters = true
}

resource "aws_api_gateway_method" "route" {
  for_each = local.routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = aws_api_gateway_resource.route[each.key].id
  http_method          = each.value
  authorization        = "NONE" # the API key (usage plan) and the function's key check
  api_key_required     = true
  request_validator_id = aws_api_gateway_request_validator.this.id
  request_parameters = {
    "method.request.header.x-api-key" = true
  }
}

resource "aws_api_gateway_integration" "route" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_resource.route[each.key].id
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = aws_lambda_function.api.invoke_arn
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(jsonencode([
      aws_api_gateway_resource.route, aws_api_gateway_method.route, aws_api_gateway_integration.route,
      aws_api_gateway_request_validator.this,
    ]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:responses are per request (POST /ingest must never be cached); a cache cluster would cost per hour for nothing
  #checkov:skip=CKV2_AWS_51:client certificates authenticate API Gateway to HTTP backends; the backend is a Lambda proxy integration invoked through IAM (aws_lambda_permission)
  #checkov:skip=CKV2_AWS_29:the usage plan throttles and caps each key and the function validates every request; associate an account WAF web ACL with web_acl_arn where policy requires one
  #checkov:skip=CKV2_AWS_77:the stack manages no web ACL; one given as web_acl_arn is the account's, whose rule set (the Log4j managed rule included) is decided where it is managed
  deployment_id        = aws_api_gateway_deployment.this.id
  rest_api_id          = aws_api_gateway_rest_api.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId         = "$context.requestId", ip = "$context.identity.sourceIp", apiKeyId = "$context.identity.apiKeyId",
      method            = "$context.httpMethod", path = "$context.resourcePath", status = "$context.status",
      bytes             = "$context.responseLength", latencyMs = "$context.responseLatency",
      integrationStatus = "$context.integrationStatus", error = "$context.error.message",
    })
  }

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:caching is off on purpose: ingestion responses must not be cached (see the stage)
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "INFO"
    data_trace_enabled     = false # never log request bodies (records may hold personal data)
    caching_enabled        = false
    cache_data_encrypted   = true
    throttling_rate_limit  = var.stage_rate_limit
    throttling_burst_limit = var.stage_burst_limit
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.web_acl_arn
}

# Execution logging needs the account's API Gateway CloudWatch role (one per account and region:
# manage_account_logging_role = false when the account already has it).
data "aws_iam_policy_document" "apigateway_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "apigateway_logs" {
  count = var.manage_account_logging_role ? 1 : 0

  name               = "${var.name_prefix}-apigateway-logs"
  description        = "API Gateway writes execution and access logs to CloudWatch Logs (account setting)"
  assume_role_policy = data.aws_iam_policy_document.apigateway_trust.json
}

resource "aws_iam_role_policy_attachment" "apigateway_logs" {
  count = var.manage_account_logging_role ? 1 : 0

  role       = aws_iam_role.apigateway_logs[0].name
  policy_arn = "arn:${var.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_logging_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_logs[0].arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_logs]
}

# --- keys and the usage plan -------------------------------------------------------------------

resource "aws_api_gateway_usage_plan" "this" {
  name        = local.function_name
  description = "Per-key throttle and quota of the event API"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.key_rate_limit
    burst_limit = var.key_burst_limit
  }

  quota_settings {
    limit  = var.key_quota_limit
    period = var.key_quota_period
  }
}

resource "aws_api_gateway_api_key" "this" {
  # the names are not secret, the values are (for_each cannot take a sensitive value)
  for_each = nonsensitive(toset(keys(var.api_keys)))

  name        = "${local.function_name}-${each.key}"
  description = "lakehouse event API key ${each.key} (lakehouse api keys add)"
  value       = var.api_keys[each.key]
  enabled     = true
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each = aws_api_gateway_api_key.this

  key_id        = each.value.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}
