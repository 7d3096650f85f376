"""Asset checks on silver tables, generated from the registry.

Locally every silver check but ``references`` is declared on the silver asset itself
(``check_specs``, ``step_check_specs``) and evaluated in the silver step right after the merge,
each reading only what it needs (never the whole table in memory): no extra step per check (a
bronze + silver run of 7 tables had 28 check steps; each step costs the run its events). The
step is subsettable: a check runs alone (no merge) from the UI or when its automation condition
asks (``freshness``, on its dataset's cron). On AWS the checks ask Athena (``defs.aws``).

- ``schema`` (blocking): the table's pandera schema (types, nullability, ranges, allowed values,
  key uniqueness); failing rows sampled into the metadata. Blocking: while it fails, automation
  does not move the tables downstream. The step checks the row rules on the files it wrote, one
  at a time, and uniqueness on the whole table by its columns (``silver_schema_result``); run
  alone, or while a failure is remembered, it checks every file.
- ``references`` (warn): values of columns declared ``references="table.column"`` exist there;
  one step per dataset after the silver steps of the tables the rules point to (its additional
  deps), reading only the rules' columns and the parents' keys (each parent's once).
- ``freshness`` (warn): see ``defs.freshness``.
- ``reconciliation`` (warn, local profile, database tables): row count and key checksum equal
  the source's; finds lost rows and ghost rows (e.g. a key update without a before-image); it
  reads the key columns only.
"""

import dagster as dg

from lakehouse.defs.resources import LakeResource
from lakehouse.registry import DatasetSpec, TableSpec


def schema_spec(table: TableSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec("schema", asset=["silver", table.name], blocking=True,
                             description=f"pandera schema of {table.dataset}.{table.name} from the registry")  # fmt: skip


def schema_failed_key(table: TableSpec) -> str:
    """Where a failed ``schema`` check of ``silver/<table>`` is remembered (see below)."""
    return f"_state/checks/silver/{table.name}.schema_failed"


def silver_schema_result(
    lake, table: TableSpec, before: int | None, keys=None
) -> dg.AssetCheckResult:
    """The ``schema`` check as the silver step evaluates it, without the whole table in memory:
    the row rules on the data files written after version ``before`` (every file when None: a
    new table, or the check run alone), one file at a time; uniqueness (the key, ``unique``
    columns) on the whole table, reading only those columns (``keys``: the key columns, already
    read for reconciliation). A failure is remembered in the
    lake (``schema_failed_key``) and, until a check passes, every evaluation covers every file:
    the check stays failed while the bad rows are there."""
    import polars as pl

    from lakehouse.engine.silver_reads import duplicated, written_since
    from lakehouse.quality.schemas import table_schema
    from lakehouse.quality.validate import failure_cases, failure_summary

    marker = schema_failed_key(table)
    if before is not None and lake.exists(marker):
        before = None
    scope = "whole table" if before is None else f"files written after version {before}"
    rules, rows, found = table_schema(table, row_level=True), 0, []
    for frame in written_since(lake, table, before):
        rows += frame.height
        cases = failure_cases(frame, rules) if frame.height else None
        if cases is not None and cases.height:
            found.append(cases.select("failure_case", "column", "check", "index"))
    key = list(table.primary_key)
    unique = [key] if key else []
    unique += [[c.name] for c in table.columns if c.checks.get("unique") and [c.name] != key]
    for cols in unique:
        dups = duplicated(lake, table, cols, keys if cols == key else None)
        if dups.height:
            found.append(pl.DataFrame({
                "failure_case": [str(v) for v in dups.rows()],
                "column": ", ".join(cols),
                "check": "unique",
                "index": None,
            }, schema_overrides={"index": pl.Int32}))  # fmt: skip
    cases = pl.concat(found, how="vertical_relaxed") if found else None
    if cases is None and lake.exists(marker):
        lake.delete(marker)
    elif cases is not None:
        lake.write_text(marker, scope)
    summary = failure_summary(cases) if cases is not None else {"failures": 0}
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["silver", table.name]),
        check_name="schema",
        passed=cases is None,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rows": rows, "scope": scope, "failures": summary["failures"],
                  "details": dg.MetadataValue.json(summary)},
    )  # fmt: skip


def reference_rules(table: TableSpec, dataset: DatasetSpec) -> list[tuple[str, str, str]]:
    """(column, table, key) of each ``references`` rule of ``table`` into a table of ``dataset``."""
    names = {t.name for t in dataset.tables}
    refs = [(c.name, *c.references.split(".")) for c in table.columns if c.references]
    return [r for r in refs if r[1] in names]


def references_checks(dataset: DatasetSpec) -> dg.AssetChecksDefinition | None:
    """The ``references`` checks of the dataset's silver tables (``silver/<table>:references``),
    evaluated in one step after the silver steps of the tables the rules point to (a check of
    its own per table would cost a step each); subsettable, so a run evaluates the checks it
    selects. None when no table has a rule into ``dataset``."""
    rules = {t.name: reference_rules(t, dataset) for t in dataset.tables if t.primary_key}
    rules = {name: refs for name, refs in rules.items() if refs}
    if not rules:
        return None
    specs = [
        dg.AssetCheckSpec(
            "references",
            asset=["silver", name],
            additional_deps=[dg.AssetKey(["silver", o]) for o in sorted({r[1] for r in refs})
                             if o != name],
            description="referential rules: " + ", ".join(f"{c} → {t}.{k}" for c, t, k in refs),
        )
        for name, refs in sorted(rules.items())
    ]  # fmt: skip

    @dg.multi_asset_check(specs=specs, can_subset=True, name=f"{dataset.name}_references")
    def _checks(context: dg.AssetCheckExecutionContext, lake: LakeResource):
        from lakehouse.engine.silver import read_silver

        the_lake = lake.lake()
        keys: dict[tuple[str, str], object] = {}  # a parent's key column, read once per step
        for check in sorted(context.selected_asset_check_keys, key=lambda k: k.asset_key.path):
            table = dataset.table(check.asset_key.path[1])
            refs = rules[table.name]
            frame = read_silver(the_lake, table, columns=sorted({c for c, _, _ in refs}))
            yield references_result(the_lake, table, dataset, refs, frame, keys)

    return _checks


def references_result(
    lake,
    table: TableSpec,
    dataset: DatasetSpec,
    refs: list[tuple[str, str, str]],
    frame,
    keys: dict | None = None,
) -> dg.AssetCheckResult:
    """The ``references`` check of ``silver/<table>`` (``frame``: its rules' columns): the values
    of each rule's column that its parent table's key lacks (rows and a sample). ``keys``
    caches the parents' key columns between checks."""
    import polars as pl

    from lakehouse.engine.silver import read_silver

    keys = {} if keys is None else keys
    missing = {}
    for col, other, key in refs:
        if frame.height == 0:
            continue
        if (other, key) not in keys:
            keys[(other, key)] = read_silver(lake, dataset.table(other), columns=[key])[key]
        parent = keys[(other, key)]
        if parent.len() == 0:
            continue
        orphans = frame.filter(pl.col(col).is_not_null() & ~pl.col(col).is_in(parent.implode()))
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


def reconciliation_spec(table: TableSpec) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec("reconciliation", asset=["silver", table.name],
                             description="silver equals the source: row count and key checksum")  # fmt: skip


def reconciliation_result(table: TableSpec, frame, dsn: str) -> dg.AssetCheckResult:
    """The ``reconciliation`` check of ``silver/<table>`` (its current ``frame``) against the
    source table at ``dsn``."""
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
    from lakehouse.quality import reconcile

    ours = reconcile.lake_keys(frame, table)
    found = reconcile.compare(reconcile.source_keys(dsn, table, ours), ours)
    return dg.AssetCheckResult(
        asset_key=dg.AssetKey(["silver", table.name]),
        check_name="reconciliation",
        passed=found.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "source_rows": found.source_rows, "silver_rows": found.silver_rows,
            "source_checksum": found.source_checksum, "silver_checksum": found.silver_checksum,
            "missing_in_silver": found.missing, "ghost_rows": found.ghosts,
            "sample": dg.MetadataValue.json({"missing": found.missing_sample, "ghosts": found.ghost_sample}),
        },
    )  # fmt: skip


def step_check_specs(
    table: TableSpec, dataset: DatasetSpec | None = None
) -> list[dg.AssetCheckSpec]:
    """The checks the silver step of ``table`` evaluates itself (local profile): ``schema``,
    ``reconciliation`` (a source database to ask) and ``freshness`` (with ``dataset``'s
    policy). ``references`` is a check of its own: it must run after the parent tables' steps
    (its additional deps), which a check inside this step would not wait for."""
    from lakehouse.defs.freshness import silver_freshness_spec

    specs = [schema_spec(table)]
    if has_source_database(table):
        specs.append(reconciliation_spec(table))
    if dataset is not None:
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
    """The silver checks defined apart from the silver assets: the Athena ones on AWS; locally
    ``references`` (the silver step evaluates the others: ``step_check_specs``)."""
    if profile == "aws":  # Glue writes silver (Delta and Hudi): the checks ask Athena (defs.aws)
        from lakehouse.defs.aws import aws_silver_checks

        return aws_silver_checks(dataset)
    checks = references_checks(dataset)
    return [checks] if checks is not None else []
