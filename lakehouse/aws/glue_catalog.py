"""The Glue Data Catalog: databases, and the lake's tables registered for Athena.

Contract:
- ``GlueCatalog.register_delta_table``: a Glue table Athena reads as Delta (``table_type=DELTA``,
  ``EXTERNAL``, location = the table root, columns for the catalog's readers); a Delta table whose
  protocol enables ``timestampNtz`` is refused (``check_athena_readable``: Athena cannot read it).
  ``register_hudi_table`` syncs a Copy-on-Write Hudi table (Hudi input format, Parquet serde, the
  ``_hoodie_*`` meta columns first). Both create or update (idempotent).
- ``hive_type`` / ``hive_columns``: the catalog type of a registry type, and the catalog columns
  of a silver table (registry columns, then lineage, then the history columns when asked).
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from lakehouse.aws.config import aws_client

HUDI_META_COLUMNS = (
    "_hoodie_commit_time",
    "_hoodie_commit_seqno",
    "_hoodie_record_key",
    "_hoodie_partition_path",
    "_hoodie_file_name",
)
_HIVE = {
    "smallint": "smallint",
    "int": "int",
    "bigint": "bigint",
    "real": "float",
    "double": "double",
    "money": "decimal(19,2)",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "bytes": "binary",
}
LINEAGE_HIVE = (("_commit_ts", "timestamp"), ("_source_file", "string"), ("_sequence", "string"))
HISTORY_HIVE = (("__start_at", "timestamp"), ("__end_at", "timestamp"), ("__is_current", "boolean"))


def hive_type(logical: str) -> str:
    from lakehouse.registry.model import parse_type

    base, precision, scale = parse_type(logical)
    return f"decimal({precision},{scale})" if base == "decimal" else _HIVE.get(base, "string")


def hive_columns(spec, *, history: bool = False) -> list[tuple[str, str]]:
    """Catalog columns of ``silver/<table>`` (``history``: of ``<table>_history``)."""
    cols = [(c.name, hive_type(c.type)) for c in spec.columns] + list(LINEAGE_HIVE)
    return cols + list(HISTORY_HIVE) if history else cols


def check_athena_readable(
    reader_features: Iterable[str] | None, writer_features: Iterable[str] | None = None
) -> None:
    """Refuse Delta protocol features Athena cannot read (timestampNtz)."""
    features = {*(reader_features or ()), *(writer_features or ())}
    if "timestampNtz" in features:
        raise ValueError(
            "the Delta table uses timestampNtz, which Athena cannot read: store UTC-aware timestamps"
        )


def delta_features(uri: str, storage_options: dict | None = None) -> tuple[list[str], list[str]]:
    """(reader, writer) protocol features of the Delta table at ``uri`` (for ``register_delta_table``)."""
    from deltalake import DeltaTable

    protocol = DeltaTable(uri, storage_options=storage_options).protocol()
    return list(protocol.reader_features or []), list(protocol.writer_features or [])


class GlueCatalog:
    """Glue Data Catalog databases and table registrations (see the module docstring)."""

    def __init__(self, client):
        self.client = client

    def ensure_database(
        self, name: str, description: str = "", location: str | None = None
    ) -> bool:
        """Create the database unless it exists; True when created."""
        try:
            self.client.get_database(Name=name)
            return False
        except self.client.exceptions.EntityNotFoundException:
            db = {"Name": name, "Description": description}
            if location:
                db["LocationUri"] = location
            self.client.create_database(DatabaseInput=db)
            return True

    def table_columns(self, database: str, name: str) -> dict[str, str] | None:
        """Column name (lower case) -> catalog type of a table, partition keys included; None
        when the table is not in the catalog."""
        try:
            table = self.client.get_table(DatabaseName=database, Name=name)["Table"]
        except self.client.exceptions.EntityNotFoundException:
            return None
        columns = [*table.get("StorageDescriptor", {}).get("Columns", [])]
        columns += table.get("PartitionKeys", [])
        return {c["Name"].lower(): c["Type"] for c in columns}

    def _upsert(self, database: str, table_input: dict) -> None:
        try:
            self.client.get_table(DatabaseName=database, Name=table_input["Name"])
        except self.client.exceptions.EntityNotFoundException:
            self.client.create_table(DatabaseName=database, TableInput=table_input)
            return
        self.client.update_table(DatabaseName=database, TableInput=table_input)

    def register_delta_table(
        self,
        database: str,
        name: str,
        location: str,
        columns: Iterable[tuple[str, str]] = (),
        *,
        description: str = "",
        reader_features: Iterable[str] | None = None,
        writer_features: Iterable[str] | None = None,
    ) -> dict:
        """Register (create or update) a Delta table for Athena; returns the ``TableInput``."""
        check_athena_readable(reader_features, writer_features)
        table_input = {
            "Name": name,
            "Description": description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "DELTA", "EXTERNAL": "TRUE", "classification": "delta"},
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in columns],
                "Location": location,
            },
        }
        self._upsert(database, table_input)
        return table_input

    def register_hudi_table(
        self,
        database: str,
        name: str,
        location: str,
        columns: Iterable[tuple[str, str]],
        *,
        description: str = "",
    ) -> dict:
        """Sync a Copy-on-Write Hudi table into the catalog; returns the ``TableInput``."""
        cols = [(c, "string") for c in HUDI_META_COLUMNS] + list(columns)
        table_input = {
            "Name": name,
            "Description": description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "EXTERNAL": "TRUE",
                "classification": "hudi",
                "spark.sql.sources.provider": "hudi",
            },
            "StorageDescriptor": {
                "Columns": [{"Name": n, "Type": t} for n, t in cols],
                "Location": location,
                "InputFormat": "org.apache.hudi.hadoop.HoodieParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                },
            },
        }
        self._upsert(database, table_input)
        return table_input


class GlueCatalogResource(dg.ConfigurableResource):
    region: str = "us-east-1"
    endpoint_url: str | None = None

    def catalog(self) -> GlueCatalog:
        return GlueCatalog(aws_client("glue", self.region, self.endpoint_url))
