"""Asset checks on silver tables, generated from the registry.

- ``schema`` (blocking): the table's pandera schema (types, nullability, ranges, allowed values,
  key uniqueness); failing rows sampled into the metadata. Blocking: while it fails, automation
  does not move the tables downstream.
- ``references`` (warn): values of columns declared ``references="table.column"`` exist there.
- ``reconciliation`` (warn, local profile, database tables): row count and key checksum equal
  the source's; finds lost rows and ghost rows (e.g. a key update without a before-image).
"""

import hashlib

import dagster as dg

from lakehouse.defs.resources import LakeResource, SourceDatabaseResource
from lakehouse.registry import DatasetSpec, TableSpec


def _silver_frame(lake: LakeResource, table: TableSpec):
    from lakehouse.engine.silver import read_silver

    return read_silver(lake.lake(), table)


def schema_check(table: TableSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=["silver", table.name], name="schema", blocking=True,
                    description=f"pandera schema of {table.dataset}.{table.name} from the registry")
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        from lakehouse.quality.schemas import table_schema
        from lakehouse.quality.validate import failure_cases, failure_summary

        frame = _silver_frame(lake, table)
        if frame.height == 0:
            return dg.AssetCheckResult(passed=True, metadata={"rows": 0})
        cases = failure_cases(frame, table_schema(table))
        summary = failure_summary(cases)
        return dg.AssetCheckResult(
            passed=cases.height == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rows": frame.height, "failures": summary["failures"],
                      "details": dg.MetadataValue.json(summary)},
        )

    return _check


def references_check(table: TableSpec, dataset: DatasetSpec) -> dg.AssetChecksDefinition | None:
    refs = [(c.name, *c.references.split(".")) for c in table.columns if c.references]
    refs = [r for r in refs if r[1] in {t.name for t in dataset.tables}]
    if not refs:
        return None
    others = sorted({r[1] for r in refs})

    @dg.asset_check(asset=["silver", table.name], name="references",
                    additional_deps=[dg.AssetKey(["silver", o]) for o in others if o != table.name],
                    description="referential rules: " + ", ".join(f"{c} → {t}.{k}" for c, t, k in refs))
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        import polars as pl

        frame = _silver_frame(lake, table)
        missing = {}
        for col, other, key in refs:
            parent = _silver_frame(lake, dataset.table(other))
            if frame.height == 0 or parent.height == 0:
                continue
            orphans = frame.filter(pl.col(col).is_not_null() & ~pl.col(col).is_in(parent[key].implode()))
            if orphans.height:
                missing[f"{col} → {other}.{key}"] = {"rows": orphans.height,
                                                      "sample": [str(v) for v in orphans[col].head(10)]}
        return dg.AssetCheckResult(passed=not missing, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"orphans": dg.MetadataValue.json(missing)})

    return _check


def key_checksum(keys: list[str]) -> str:
    """md5 over the sorted, newline-joined key texts (multi-column keys joined with '|')."""
    h = hashlib.md5()
    for k in sorted(keys):
        h.update(k.encode())
        h.update(b"\n")
    return h.hexdigest()


def reconciliation_check(table: TableSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=["silver", table.name], name="reconciliation",
                    description="silver equals the source: row count and key checksum")
    def _check(lake: LakeResource, source_db: SourceDatabaseResource) -> dg.AssetCheckResult:
        import polars as pl
        import psycopg

        key_sql = " || '|' || ".join(f'"{k}"::text' for k in table.primary_key)
        with psycopg.connect(source_db.dataset_dsn(table.dataset)) as conn:
            src = [r[0] for r in conn.execute(f'select {key_sql} from "{table.schema}"."{table.name}"')]
        frame = _silver_frame(lake, table)
        lake_keys = (
            frame.select(pl.concat_str([pl.col(k).cast(pl.String) for k in table.primary_key], separator="|"))
            .to_series().to_list() if frame.height else []
        )
        lost, ghosts = set(src) - set(lake_keys), set(lake_keys) - set(src)
        return dg.AssetCheckResult(
            passed=not lost and not ghosts,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "source_rows": len(src), "silver_rows": len(lake_keys),
                "source_checksum": key_checksum(src), "silver_checksum": key_checksum(lake_keys),
                "missing_in_silver": len(lost), "ghost_rows": len(ghosts),
                "sample": dg.MetadataValue.json({"missing": sorted(lost)[:10], "ghosts": sorted(ghosts)[:10]}),
            },
        )

    return _check


def silver_checks(dataset: DatasetSpec, profile: str) -> list[dg.AssetChecksDefinition]:
    if profile == "aws":  # Glue writes silver (Delta and Hudi): the checks ask Athena (defs.aws)
        from lakehouse.defs.aws import aws_silver_checks

        return aws_silver_checks(dataset)
    out = []
    for t in dataset.tables:
        if not t.primary_key:
            continue
        out.append(schema_check(t))
        ref = references_check(t, dataset)
        if ref is not None:
            out.append(ref)
        if profile == "local" and t.source == "database":
            out.append(reconciliation_check(t))
    return out
