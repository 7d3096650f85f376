"""Registry logical types (``registry.model.LOGICAL_TYPES``) on Spark.

``spark_type(logical)`` is the Spark counterpart of ``registry.types.polars_dtype`` (timestamps
are ``TimestampType``: an instant, UTC-aware like the lake's ``Datetime("us", "UTC")``; never
``TimestampNTZType``, which would raise Delta to timestampNtz that Athena cannot read). The
logical types the lake keeps as PostgreSQL's text (``registry.model.TEXT_TYPES``: time, timetz,
interval, unconstrained numeric, uuid, json, inet, string) are ``StringType``.

``cast_text(column, logical)`` parses DMS text the way ``registry.casting`` does for the string
path (stripped; ``$`` and ``,`` dropped from money; ``t/true/1/yes/y`` booleans; ``\\x`` hex
bytes), with ``try_`` casts so a bad value becomes null instead of failing the job (Spark 4
runs in ANSI mode). The Spark engine needs it for before-image keys only: bronze is typed.
"""

from __future__ import annotations

from lakehouse.registry.model import TEXT_TYPES, parse_type

_TRUE = ["true", "t", "1", "yes", "y"]
_FALSE = ["false", "f", "0", "no", "n"]


def spark_type(logical: str):
    from pyspark.sql import types as T

    base, precision, scale = parse_type(logical)
    simple = {
        "smallint": T.ShortType(),
        "int": T.IntegerType(),
        "bigint": T.LongType(),
        "real": T.FloatType(),
        "double": T.DoubleType(),
        "bool": T.BooleanType(),
        "date": T.DateType(),
        "timestamp": T.TimestampType(),
        "timestamptz": T.TimestampType(),
        "bytes": T.BinaryType(),
    }
    if base in ("decimal", "money"):
        return T.DecimalType(precision, scale)
    if base in TEXT_TYPES:  # string, uuid, json, inet, time, timetz, interval, numeric
        return T.StringType()
    return simple[base]


def spark_schema(columns):
    """A ``StructType`` of registry columns (all nullable: files may omit values)."""
    from pyspark.sql import types as T

    return T.StructType([T.StructField(c.name, spark_type(c.type), True) for c in columns])


def cast_text(col, logical: str):
    """``col`` (a string Column) as ``logical``; unparseable values become null."""
    from pyspark.sql import functions as F

    base, _, _ = parse_type(logical)
    if base in TEXT_TYPES:
        return col
    s = F.trim(col)
    target = spark_type(logical).simpleString()
    if base == "bool":
        low = F.lower(s)
        return F.when(low.isin(_TRUE), F.lit(True)).when(low.isin(_FALSE), F.lit(False))
    if base in ("decimal", "money"):
        return try_cast(F.regexp_replace(s, r"[$,]", ""), target)
    if base == "bytes":
        return F.try_to_binary(F.regexp_replace(s, r"^\\x", ""), F.lit("hex"))
    return try_cast(s, target)


def try_cast(col, target: str):
    """``try_cast`` (Spark 4: null on a bad value under ANSI mode); ``cast`` on Spark 3.5 (Glue 5),
    whose default non-ANSI cast already yields null."""
    return col.try_cast(target) if hasattr(col, "try_cast") else col.cast(target)
