# Athena: one workgroup whose settings clients cannot override (results location, SSE-KMS,
# engine 3, a per-query scan limit). Athena reads the Delta tables registered in the Glue catalog
# (table_type=DELTA) read-only; see terraform/README.md for its limits.

resource "aws_athena_workgroup" "this" {
  name          = var.name_prefix
  description   = "lakehouse SQL over the Glue catalog"
  force_destroy = false

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location       = "s3://${var.results_bucket_name}/results/"
      expected_bucket_owner = var.account_id

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }

      acl_configuration {
        s3_acl_option = "BUCKET_OWNER_FULL_CONTROL"
      }
    }
  }
}
