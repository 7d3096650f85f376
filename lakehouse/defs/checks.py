"""Asset checks on silver tables, generated from the registry.

Locally every silver check is declared on the silver asset itself (``check_specs``,
``step_check_specs``) and evaluated in the silver step right after the merge, on one read of
the table: no extra step per check (a bronze + silver run of 7 tables had 28 check steps; each
step costs the run its events). The step is subsettable: a check runs alone (no merge) from the
UI or when its automation condition asks (``freshness``, on its dataset's cron). On AWS the
checks ask Athena (``defs.aws``).

- ``schema`` (blocking): the table's pandera schema (types, nullability, ranges, allowed values,
  key uniqueness); failing rows sampled into the metadata. Blocking: while it fails, automation
  does not move the tables downstream.
- ``references`` (warn): values of columns declared ``references="table.column"`` exist there
  (the other silver tables are the check's additional deps).
- ``freshness`` (warn): see ``defs.freshness``.
- ``reconciliation`` (warn, local profile, database tables): row count and key checksum equal
  the source's; finds lost rows and ghost rows (e.g. a key update without a before-image).
"""

import hashlib

import dagster as dg

from lakehouse.registry import DatasetSpec, TableSpec


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


def reference_rules(table: TableSpec, dataset: DatasetSpec) -> list[tuple[str, str, str]]:
    """(column, table, key) of each ``references`` rule of ``table`` into a table of ``dataset``."""
    names = {t.name for t in dataset.tables}
    refs = [(c.name, *c.references.split(".")) for c in table.columns if c.references]
    return [r for r in refs if r[1] in names]


def references_spec(table: TableSpec, refs: list[tuple[str, str, str]]) -> dg.AssetCheckSpec:
    others = sorted({r[1] for r in refs} - {table.name})
    return dg.AssetCheckSpec(
        "references",
        asset=["silver", table.name],
        additional_deps=[dg.AssetKey(["silver", o]) for o in others],
        description="referential rules: " + ", ".join(f"{c} → {t}.{k}" for c, t, k in refs),
    )


def references_result(
    lake, table: TableSpec, dataset: DatasetSpec, refs: list[tuple[str, str, str]], frame
) -> dg.AssetCheckResult:
    """The ``references`` check of ``silver/<table>`` (its current ``frame``): the values of each
    rule's column that its parent table lacks (rows and a sample)."""
    import polars as pl

    from lakehouse.engine.silver import read_silver

    missing = {}
    for col, other, key in refs:
        parent = frame if other == table.name else read_silver(lake, dataset.table(other))
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
        asset_key=dg.AssetKey(["silver", table.name]),
        check_name="references",
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"orphans": dg.MetadataValue.json(missing)},
    )


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


def step_check_specs(
    table: TableSpec, dataset: DatasetSpec | None = None
) -> list[dg.AssetCheckSpec]:
    """The checks the silver step of ``table`` evaluates itself (local profile): ``schema``,
    ``reconciliation`` (a source database to ask), ``references`` (rules into ``dataset``) and
    ``freshness`` (with ``dataset``'s policy)."""
    from lakehouse.defs.freshness import silver_freshness_spec

    specs = [schema_spec(table)]
    if has_source_database(table):
        specs.append(reconciliation_spec(table))
    if dataset is not None:
        refs = reference_rules(table, dataset)
        if refs and table.primary_key:
            specs.append(references_spec(table, refs))
        specs.append(silver_freshness_spec(table.name, dataset.freshness))
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
    """The silver checks defined apart from the silver assets: the Athena ones on AWS; none
    locally (the silver step evaluates them all: ``step_check_specs``)."""
    if profile == "aws":  # Glue writes silver (Delta and Hudi): the checks ask Athena (defs.aws)
        from lakehouse.defs.aws import aws_silver_checks

        return aws_silver_checks(dataset)
    return []
