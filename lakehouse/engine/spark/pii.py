"""Standardise PII columns on Spark, exactly as ``engine.pii`` does on Polars.

``email`` → whitespace stripped (Unicode whitespace, as Polars' ``strip_chars``) and lower-cased;
``phone`` → lower-cased, every character but digits, ``+`` and ``x`` removed, then every ``+``
after the first character removed.
Only string columns present in the frame are touched; nulls stay null.
"""

from __future__ import annotations

from lakehouse.registry.model import TableSpec


def standardize_pii(frame, spec: TableSpec):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    types = dict((f.name, f.dataType) for f in frame.schema.fields)
    for col in spec.columns:
        if col.pii is None or not isinstance(types.get(col.name), T.StringType):
            continue
        c = F.col(col.name)
        if col.pii == "email":
            value = F.lower(F.regexp_replace(c, r"(?U)^\s+|\s+$", ""))
        elif col.pii == "phone":
            digits = F.regexp_replace(F.lower(c), r"[^0-9+x]", "")
            value = F.regexp_replace(digits, r"(?<=.)\+", "")
        else:
            continue
        frame = frame.withColumn(col.name, value)
    return frame
