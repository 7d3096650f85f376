"""Row-level registry rules on Spark: split good rows from bad, with the local engine's reasons.

``split_valid(frame, spec)`` → ``(good, bad)`` as ``quality.validate.split_valid`` does with the
pandera schema ``quality.schemas.table_schema(spec, row_level=True)``: per registry column present
in the frame, in registry order, first nullability (a non-nullable or key column holding null:
``not_nullable``), then each of the column's rules in declaration order (``ge``, ``le``, ``gt``,
``lt``, ``isin``, ``regex`` — a match at the start, as pandera's ``str_matches`` —,
``str_length_max``); nulls pass the rules. ``bad`` holds each failing row once plus ``__column``
(the first failing column) and ``__reason`` (``"<column>: <check> failed for <value>"`` joined
with ``"; "``, check names as pandera prints them). Table-level rules (uniqueness) are not row
rules, as locally. Deletes are never validated (they carry only the key): callers pass non-deletes.

``quarantine_rows(bad, stage, now)`` shapes ``bad`` into the ``quarantine/<table>`` contract of
``engine.quarantine`` (``_raw``: the row's data columns as a JSON object of text values).
"""

from __future__ import annotations

from datetime import datetime

from lakehouse.registry.model import TableSpec

_LABELS = {
    "ge": ("greater_than_or_equal_to({})", lambda c, v: c >= v),
    "le": ("less_than_or_equal_to({})", lambda c, v: c <= v),
    "gt": ("greater_than({})", lambda c, v: c > v),
    "lt": ("less_than({})", lambda c, v: c < v),
}


def _failures(spec: TableSpec, columns: set[str]):
    """(column name, check label, failed Column) for every row rule of ``spec``, in order."""
    from pyspark.sql import functions as F

    out = []
    for col in spec.columns:
        if col.name not in columns:
            continue
        c = F.col(col.name)
        if not col.nullable or col.name in spec.primary_key:
            out.append((col.name, "not_nullable", c.isNull()))
        for name, arg in col.checks.items():
            if arg is None:
                continue
            if name in _LABELS:
                label, test = _LABELS[name]
                failed = ~test(c, F.lit(arg))
                out.append((col.name, label.format(arg), c.isNotNull() & failed))
            elif name == "isin":
                out.append((col.name, f"isin({arg})", c.isNotNull() & ~c.isin(list(arg))))
            elif name == "regex":
                pattern = arg if arg.startswith("^") else f"^{arg}"
                out.append((col.name, f"str_matches('{arg}')", c.isNotNull() & ~c.rlike(pattern)))
            elif name == "str_length_max":
                out.append(
                    (col.name, f"str_length(None, {arg})", c.isNotNull() & (F.length(c) > arg))
                )
    return out


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


def _or_null(frame, name: str, type_: str):
    from pyspark.sql import functions as F

    col = F.col(name) if name in frame.columns else F.lit(None)
    return col.cast(type_).alias(name)
