"""Asset checks on silver tables, generated from the registry.

``schema`` and ``reconciliation`` are declared on the silver asset itself (``check_specs``) and
evaluated in the silver step right after the merge, on one read of the table (no extra step
per check: a bronze + silver run of 7 tables had 28 check steps); ``references`` reads other
silver tables, so it stays a check of its own (``silver_checks``).

- ``schema`` (blocking): the table's pandera schema (types, nullability, ranges, allowed values,
  key uniqueness); failing rows sampled into the metadata. Blocking: while it fails, automation
  does not move the tables downstream.
- ``references`` (warn): values of columns declared ``references="table.column"`` exist there.
- ``reconciliation`` (warn, local profile, database tables): row count and key checksum equal
  the source's; finds lost rows and ghost rows (e.g. a key update without a before-image).
"""

import hashlib

import dagster as dg

from lakehouse.defs.resources import LakeResource
from lakehouse.registry import DatasetSpec, TableSpec


def _silver_frame(lake: LakeResource, table: TableSpec):
    from lakehouse.engine.silver import read_silver

    return read_silver(lake.lake(), table)


def schema_spec(table: TableSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec("schema", asset=["silver", table.name], blocking=True,
                             description=f"pandera schema of {table.dataset}.{table.name} from the registry")  # fmt: skip


def schema_result(table: TableSpec, frame) -> dg.AssetCheckResult:
    """The ``schema`` check of ``silver/<table>`` on its current ``frame``."""
    from lakehouse.quality.schemas import table_schema
    from lakehouse.quality.validate import failure_cases, failure_summary

    key = dg.AssetKey(["silver", table.name])
    if frame.height == 0:
        return dg.AssetCheckResult(
            asset_key=key, check_name="schema", passed=True, metadata={"rows": 0}
        )
    cases = failure_cases(frame, table_schema(table))
    summary = failure_summary(cases)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name="schema",
        passed=cases.height == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows": frame.height, "failures": summary["failures"],
                  "details": dg.MetadataValue.json(summary)},
    )  # fmt: skip


def references_check(table: TableSpec, dataset: DatasetSpec) -> dg.AssetChecksDefinition | None:
    refs = [(c.name, *c.references.split(".")) for c in table.columns if c.references]
    refs = [r for r in refs if r[1] in {t.name for t in dataset.tables}]
    if not refs:
        return None
    others = sorted({r[1] for r in refs})

    @dg.asset_check(
        asset=["silver", table.name],
        name="references",
        additional_deps=[dg.AssetKey(["silver", o]) for o in others if o != table.name],
        description="referential rules: " + ", ".join(f"{c} → {t}.{k}" for c, t, k in refs),
    )
    def _check(lake: LakeResource) -> dg.AssetCheckResult:
        import polars as pl

        frame = _silver_frame(lake, table)
        missing = {}
        for col, other, key in refs:
            parent = _silver_frame(lake, dataset.table(other))
            if frame.height == 0 or parent.height == 0:
                continue
            orphans = frame.filter(
                pl.col(col).is_not_null() & ~pl.col(col).is_in(parent[key].implode())
            )
            if orphans.height:
                missing[f"{col} → {other}.{key}"] = {
                    "rows": orphans.height,
                    "sample": [str(v) for v in orphans[col].head(10)],
                }
        return dg.AssetCheckResult(
            passed=not missing,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"orphans": dg.MetadataValue.json(missing)},
        )

    return _check


def key_checksum(keys: list[str]) -> str:
    """md5 over the sorted, newline-joined key texts (multi-column keys joined with '|')."""
    h = hashlib.md5()
    for k in sorted(keys):
        h.update(k.encode())
        h.update(b"\n")
    return h.hexdigest()


def reconciliation_spec(table: TableSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec("reconciliation", asset=["silver", table.name],
                             description="silver equals the source: row count and key checksum")  # fmt: skip


def reconciliation_result(table: TableSpec, frame, dsn: str) -> dg.AssetCheckResult:
    """The ``reconciliation`` check of ``silver/<table>`` (its current ``frame``) against the
    source table at ``dsn``."""
    import polars as pl
    import psycopg

    if not table.primary_key:  # no key to compare: the row counts (insert-only capture)
        with psycopg.connect(dsn) as conn:
            n = conn.execute(
                f'select count(*) from "{table.schema}"."{table.source_table}"'
            ).fetchone()[0]
        return dg.AssetCheckResult(
            asset_key=dg.AssetKey(["silver", table.name]), check_name="reconciliation",
            passed=n == frame.height, severity=dg.AssetCheckSeverity.WARN,
            metadata={"source_rows": n, "silver_rows": frame.height, "key": "none: rows counted"},
        )  # fmt: skip
    key_sql = " || '|' || ".join(f'"{k}"::text' for k in table.primary_key)
    with psycopg.connect(dsn) as conn:
        src = [
            r[0]
            for r in conn.execute(f'select {key_sql} from "{table.schema}"."{table.source_table}"')
        ]
    lake_keys = (
        frame.select(pl.concat_str([pl.col(k).cast(pl.String) for k in table.primary_key], separator="|"))
        .to_series().to_list() if frame.height else []
    )  # fmt: skip
    lost, ghosts = set(src) - set(lake_keys), set(lake_keys) - set(src)
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["silver", table.name]),
        check_name="reconciliation",
        passed=not lost and not ghosts,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "source_rows": len(src), "silver_rows": len(lake_keys),
            "source_checksum": key_checksum(src), "silver_checksum": key_checksum(lake_keys),
            "missing_in_silver": len(lost), "ghost_rows": len(ghosts),
            "sample": dg.MetadataValue.json({"missing": sorted(lost)[:10], "ghosts": sorted(ghosts)[:10]}),
        },
    )  # fmt: skip


def step_check_specs(table: TableSpec) -> list[dg.AssetCheckSpec]:
    """The checks the silver step of ``table`` evaluates itself (local profile)."""
    specs = [schema_spec(table)]
    if has_source_database(table):
        specs.append(reconciliation_spec(table))
    return specs


def has_source_database(table: TableSpec) -> bool:
    """Whether a source database can be asked about ``table``: a replicated table, or a table of
    an existing DMS output whose source names a ``dsn_env`` (else no reconciliation, not a
    failing one)."""
    if table.source != "database":
        return False
    if table.raw_root is None:
        return True
    from lakehouse.declarations import declaration

    return any(s.dsn_env for s in declaration(table.dataset).sources_of("dms_s3"))


def silver_checks(dataset: DatasetSpec, profile: str) -> list[dg.AssetChecksDefinition]:
    if profile == "aws":  # Glue writes silver (Delta and Hudi): the checks ask Athena (defs.aws)
        from lakehouse.defs.aws import aws_silver_checks

        return aws_silver_checks(dataset)
    out = []
    for t in dataset.tables:
        if not t.primary_key:
            continue
        ref = references_check(t, dataset)
        if ref is not None:
            out.append(ref)
    return out
