"""DMS on Terraform's side: S3-endpoint settings as ``aws_dms_s3_endpoint`` arguments, and the
task's table mappings from the registry.

- ``terraform_s3_settings(settings)`` / ``s3_settings_from_terraform(arguments)``: a
  ``DmsS3Settings`` as the endpoint's arguments and back (the arguments the Terraform dms module
  owns — bucket, folder, encryption — are never taken from the settings);
- ``table_mappings(dataset, settings)``: one selection rule per registry database table (as
  ``replication.task.dataset_task`` selects them) plus the before-image and change-sequence
  transformation rules the settings ask for; ``selection_rules_from_mappings`` and
  ``task_options_from_mappings`` read such mappings back (a rule that shapes files any other way
  is a ValueError).
"""

from __future__ import annotations

from lakehouse.dms.settings import DmsS3Settings

#: DMS ``S3Settings`` name -> ``aws_dms_s3_endpoint`` argument (AWS provider 5.x/6.x).
TERRAFORM_S3_ARGUMENTS = {
    "AddColumnName": "add_column_name",
    "AddTrailingPaddingCharacter": "add_trailing_padding_character",
    "BucketFolder": "bucket_folder",
    "BucketName": "bucket_name",
    "CannedAclForObjects": "canned_acl_for_objects",
    "CdcInsertsAndUpdates": "cdc_inserts_and_updates",
    "CdcInsertsOnly": "cdc_inserts_only",
    "CdcMaxBatchInterval": "cdc_max_batch_interval",
    "CdcMinFileSize": "cdc_min_file_size",
    "CdcPath": "cdc_path",
    "CompressionType": "compression_type",
    "CsvDelimiter": "csv_delimiter",
    "CsvNoSupValue": "csv_no_sup_value",
    "CsvNullValue": "csv_null_value",
    "CsvRowDelimiter": "csv_row_delimiter",
    "DataFormat": "data_format",
    "DataPageSize": "data_page_size",
    "DatePartitionDelimiter": "date_partition_delimiter",
    "DatePartitionEnabled": "date_partition_enabled",
    "DatePartitionSequence": "date_partition_sequence",
    "DatePartitionTimezone": "date_partition_timezone",
    "DictPageSizeLimit": "dict_page_size_limit",
    "EnableStatistics": "enable_statistics",
    "EncodingType": "encoding_type",
    "EncryptionMode": "encryption_mode",
    "ExpectedBucketOwner": "expected_bucket_owner",
    "IncludeOpForFullLoad": "include_op_for_full_load",
    "MaxFileSize": "max_file_size",
    "ParquetTimestampInMillisecond": "parquet_timestamp_in_millisecond",
    "ParquetVersion": "parquet_version",
    "PreserveTransactions": "preserve_transactions",
    "Rfc4180": "rfc_4180",
    "RowGroupLength": "row_group_length",
    "ServerSideEncryptionKmsKeyId": "server_side_encryption_kms_key_id",
    "TimestampColumnName": "timestamp_column_name",
    "UseCsvNoSupValue": "use_csv_no_sup_value",
    "UseTaskStartTimeForFullLoadTimestamp": "use_task_start_time_for_full_load_timestamp",
}
#: Set by the Terraform dms module itself (buckets, keys, roles): never from the settings object.
TERRAFORM_OWNED_S3_ARGUMENTS = (
    "bucket_folder",
    "bucket_name",
    "encryption_mode",
    "server_side_encryption_kms_key_id",
    "expected_bucket_owner",
)
#: Transformation-rule data type of the change-sequence column ($AR_H_CHANGE_SEQ has 35 digits).
CHANGE_SEQ_DATA_TYPE = {"type": "string", "length": 50}
BEFORE_IMAGE_PREFIX = "BI_"  # as the replicator writes and the bronze reader expects them


def terraform_s3_settings(settings: DmsS3Settings) -> dict:
    """``aws_dms_s3_endpoint`` arguments for a settings object (its endpoint settings only).

    The row delimiter is written as DMS's JSON takes it (``"\\n"``, backslash-n), the inverse of
    ``DmsS3Settings.from_endpoint_settings``.
    """
    out = {}
    for key, value in settings.to_endpoint_settings().items():
        if key not in TERRAFORM_S3_ARGUMENTS:
            raise ValueError(f"S3 setting {key!r} has no aws_dms_s3_endpoint argument")
        arg = TERRAFORM_S3_ARGUMENTS[key]
        if arg in TERRAFORM_OWNED_S3_ARGUMENTS:
            raise ValueError(f"S3 setting {key!r} is set by the Terraform dms module, not here")
        if key == "CsvRowDelimiter":
            value = value.replace("\r", "\\r").replace("\n", "\\n")
        out[arg] = value
    return out


def s3_settings_from_terraform(arguments: dict) -> DmsS3Settings:
    """The settings object an ``aws_dms_s3_endpoint``'s arguments describe (inverse of above)."""
    names = {v: k for k, v in TERRAFORM_S3_ARGUMENTS.items()}
    unknown = set(arguments) - set(names)
    if unknown:
        raise ValueError(f"not aws_dms_s3_endpoint arguments: {sorted(unknown)}")
    endpoint = {names[k]: v for k, v in arguments.items()}
    if "CsvRowDelimiter" in endpoint:
        endpoint["CsvRowDelimiter"] = endpoint["CsvRowDelimiter"].replace("\\r", "\r")
    return DmsS3Settings.from_endpoint_settings(endpoint)


# ---------------------------------------------------------------------------------------------
# DMS table mappings from the registry


def table_mappings(dataset: str, settings: DmsS3Settings | None = None) -> dict:
    """The DMS task's table mappings: the registry's selection rules, then the transformation
    rules that shape the files as ``settings`` says (before-image key columns ``BI_<key>``, the
    change-sequence column)."""
    from lakehouse.replication.task import dataset_task

    task = dataset_task(dataset, dsn="", settings=settings)
    rules: list[dict] = []
    for rule in task.selection_rules:
        schema, table = rule["schema-name"], rule["table-name"]
        rules.append(
            {
                "rule-type": "selection",
                "rule-id": str(len(rules) + 1),
                "rule-name": f"{rule['rule-action']}-{schema}-{table}".replace("%", "all"),
                "object-locator": {"schema-name": schema, "table-name": table},
                "rule-action": rule["rule-action"],
            }
        )
    schemas = sorted({r["schema-name"] for r in task.selection_rules})
    s = task.settings
    for schema in schemas:
        if s.before_image_key:
            rules.append(
                {
                    "rule-type": "transformation",
                    "rule-id": str(len(rules) + 1),
                    "rule-name": f"before-image-key-{schema}",
                    "rule-target": "column",
                    "object-locator": {"schema-name": schema, "table-name": "%"},
                    "rule-action": "add-before-image-columns",
                    "before-image-def": {
                        "column-prefix": BEFORE_IMAGE_PREFIX,
                        "column-suffix": "",
                        "column-filter": "pk-only",
                    },
                }
            )
        if s.change_seq_column:
            rules.append(
                {
                    "rule-type": "transformation",
                    "rule-id": str(len(rules) + 1),
                    "rule-name": f"change-seq-{schema}",
                    "rule-target": "column",
                    "object-locator": {"schema-name": schema, "table-name": "%"},
                    "rule-action": "add-column",
                    "value": s.change_seq_column,
                    "expression": "$AR_H_CHANGE_SEQ",
                    "data-type": dict(CHANGE_SEQ_DATA_TYPE),
                }
            )
    return {"rules": rules}


def selection_rules_from_mappings(mappings: dict) -> tuple[dict, ...]:
    """The ``ReplicationTask.selection_rules`` a DMS table mapping holds."""
    return tuple(
        {
            "rule-action": r["rule-action"],
            "schema-name": r["object-locator"]["schema-name"],
            "table-name": r["object-locator"]["table-name"],
        }
        for r in mappings["rules"]
        if r["rule-type"] == "selection"
    )


def task_options_from_mappings(mappings: dict) -> dict:
    """The task-level ``DmsS3Settings`` fields the transformation rules amount to.

    Every rule is validated (``table_mappings.TableMappings.from_json``). The two fields state
    one layout only: ``BI_<key>`` before-images (pk-only, no suffix) then one
    ``$AR_H_CHANGE_SEQ`` column. A rule that shapes the files any other way (another prefix or
    filter, the change sequence before the before-images, other added, renamed or removed
    columns) is a ``ValueError`` naming it: such a task is read through
    ``table_mappings.known_layouts`` instead, never by dropping the rule."""
    from lakehouse.dms.table_mappings import COLUMN_ACTIONS, TableMappings

    out = {"before_image_key": False, "change_seq_column": ""}
    seq_for: set[str] = set()  # schema locators whose change-sequence rule came already
    for r in TableMappings.from_json(mappings).rules:
        if r["rule-type"] != "transformation" or r.get("rule-target", "column") != "column":
            continue
        action = r["rule-action"]
        if action not in COLUMN_ACTIONS:
            continue  # changes no column of a file (see table_mappings)
        d = r.get("before-image-def") or {}
        schema = r.get("object-locator", {}).get("schema-name", "%")
        simple_bi = (
            action == "add-before-image-columns"
            and d.get("column-prefix") == BEFORE_IMAGE_PREFIX
            and not d.get("column-suffix")
            and d.get("column-filter", "pk-only") == "pk-only"
            and schema not in seq_for  # before-images precede the change sequence
        )
        if simple_bi:
            out["before_image_key"] = True
        elif (
            action == "add-column"
            and r.get("expression") == "$AR_H_CHANGE_SEQ"
            and out["change_seq_column"] in ("", r["value"])
        ):
            out["change_seq_column"] = r["value"]
            seq_for.add(schema)
        else:
            raise ValueError(
                f"table mappings rule-id {r.get('rule-id')!r} (rule-name {r.get('rule-name')!r},"
                f" {action}) shapes the files in a way DmsS3Settings.before_image_key / "
                f"change_seq_column cannot state (they mean {BEFORE_IMAGE_PREFIX}<key> pk-only "
                "before-images, then one $AR_H_CHANGE_SEQ column): read this task's files "
                "with lakehouse.dms.table_mappings.known_layouts(...) passed to "
                "bronze.ingest(layouts=...)"
            )
    return out
