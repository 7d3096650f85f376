"""Row-level registry rules on Spark: split good rows from bad, with the local engine's reasons.

``split_valid(frame, spec)`` → ``(good, bad)`` as ``quality.validate.split_valid`` does: the
rules of ``quality.rules.row_rules`` (the row-level rules of the pandera schema, in its order,
with its labels), as Spark Column expressions; nulls pass the rules. ``bad`` holds each failing row once plus ``__column``
(the first failing column) and ``__reason`` (``"<column>: <check> failed for <value>"`` joined
with ``"; "``, check names as pandera prints them). Table-level rules (uniqueness) are not row
rules, as locally. Deletes are never validated (they carry only the key): callers pass non-deletes.

``quarantine_rows(bad, stage, now)`` shapes ``bad`` into the ``quarantine/<table>`` contract of
``engine.core.quarantine`` (``_raw``: the row's data columns as a JSON object of text values).
``not_yet_recorded(rows, recorded)`` keeps the entries not already in the table (same
``engine.core.quarantine.IDENTITY``, nulls equal), so a run that dies between its quarantine append and its checkpoint
does not record the entries twice when it is re-run, as ``engine.quarantine.write_quarantine``.
"""

from __future__ import annotations

from datetime import datetime

from lakehouse.engine.core.quarantine import IDENTITY
from lakehouse.registry.model import TableSpec


def _failed(rule):
    """The Spark Column true where a row breaks ``rule`` (see ``quality.rules``)."""
    from pyspark.sql import functions as F

    c = F.col(rule.column)
    if rule.kind == "not_null":
        return c.isNull()
    arg = F.lit(rule.arg) if rule.kind in ("ge", "le", "gt", "lt") else rule.arg
    broken = {
        "ge": lambda: ~(c >= arg),  # negated, not flipped: NaN fails as in pandera
        "le": lambda: ~(c <= arg),
        "gt": lambda: ~(c > arg),
        "lt": lambda: ~(c < arg),
        "isin": lambda: ~c.isin(arg),
        "regex": lambda: ~c.rlike(arg),
        "str_length_max": lambda: F.length(c) > arg,
    }[rule.kind]()
    return c.isNotNull() & broken


def _failures(spec: TableSpec, columns: set[str]):
    """(column name, check label, failed Column) for every row rule of ``spec``, in order."""
    from lakehouse.quality.rules import row_rules

    return [(r.column, r.label, _failed(r)) for r in row_rules(spec, columns)]


def split_valid(frame, spec: TableSpec):
    """``(good, bad)``; see the module docstring."""
    from pyspark.sql import functions as F

    checks = _failures(spec, set(frame.columns))
    if not checks:
        empty = frame.limit(0).withColumn("__column", F.lit(None).cast("string"))
        return frame, empty.withColumn("__reason", F.lit(None).cast("string"))

    def reason(name, label, failed):
        value = F.coalesce(F.col(name).cast("string"), F.lit("null"))
        return F.when(
            F.coalesce(failed, F.lit(False)), F.concat(F.lit(f"{name}: {label} failed for "), value)
        )

    reasons = [reason(*check) for check in checks]
    first = F.coalesce(
        *[F.when(F.coalesce(failed, F.lit(False)), F.lit(name)) for name, _, failed in checks]
    )
    tagged = frame.withColumn("__reason", F.concat_ws("; ", *reasons)).withColumn("__column", first)
    bad = tagged.filter(F.col("__column").isNotNull()).select(
        *frame.columns, "__column", "__reason"
    )
    good = tagged.filter(F.col("__column").isNull()).select(*frame.columns)
    return good, bad


def quarantine_rows(bad, stage: str, now: datetime):
    """``bad`` (with lineage, ``__column``, ``__reason``) as rows of ``quarantine/<table>``."""
    from pyspark.sql import functions as F

    data = [c for c in bad.columns if not c.startswith("_")]
    raw = F.to_json(
        F.struct(*[F.col(c).cast("string").alias(c) for c in data]), {"ignoreNullFields": "false"}
    )
    return bad.select(
        F.lit(stage).alias("_stage"),
        _or_null(bad, "_source_file", "string"),
        _or_null(bad, "_source_row", "long"),
        F.col("__column").alias("_column"),
        F.col("__reason").alias("_reason"),
        raw.alias("_raw"),
        F.lit(now).cast("timestamp").alias("_quarantined_at"),
    )


def not_yet_recorded(rows, recorded):
    """``rows`` (``quarantine_rows``) without the entries already in ``recorded`` (the
    quarantine table, or None when it does not exist yet)."""
    from functools import reduce

    from pyspark.sql import functions as F

    if recorded is None:
        return rows
    done = recorded.select(*IDENTITY).distinct().alias("r")
    same = reduce(
        lambda a, b: a & b, [F.col(f"n.{c}").eqNullSafe(F.col(f"r.{c}")) for c in IDENTITY]
    )
    return rows.alias("n").join(done, on=same, how="left_anti").select(*rows.columns)


def _or_null(frame, name: str, type_: str):
    from pyspark.sql import functions as F

    col = F.col(name) if name in frame.columns else F.lit(None)
    return col.cast(type_).alias(name)
