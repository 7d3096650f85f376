"""Registry logical types (``registry.model.LOGICAL_TYPES``) on Spark.

``spark_type(logical)`` is the Spark counterpart of ``registry.types.polars_dtype`` (timestamps
are ``TimestampType``: an instant, UTC-aware like the lake's ``Datetime("us", "UTC")``; never
``TimestampNTZType``, which would raise Delta to timestampNtz that Athena cannot read). The
logical types the lake keeps as PostgreSQL's text (``registry.model.TEXT_TYPES``: time, timetz,
interval, unconstrained numeric, uuid, json, inet, string) are ``StringType``.

``cast_text(column, logical)`` parses DMS text to the values ``registry.casting`` gives for the
string path, value for value (a test holds them equal): stripped; ``t/true/1/yes/y`` booleans;
``\\x`` hex bytes; decimal and money text with an optional sign and ``$``, commas only in a valid
thousands grouping (``1,234.50``; ``1,5`` is null, never 15) or an exponent, more fraction
digits than the scale rounded half away from zero (as PostgreSQL), more integer digits than the
precision allows null; dates and timestamps in ``YYYY-MM-DD[( |T)HH:MM:SS[.f][offset|Z]]``
(``_WHEN_TEXT``: as leniently as Polars reads them — 1-2 digit fields, a signed year), with
PostgreSQL's ``infinity`` / year 10000 on at the end of the lake's range (9999-12-31
23:59:59.999999 UTC) and ``-infinity`` / BC values / anything before 0001-01-01 at its start.
Where Polars' parser goes further (a second 60 rolled over, a 5-digit year outside
PostgreSQL's form, non-ASCII digits) Spark's value is null. ``try_`` casts make a bad value null
instead of failing the job (Spark 4 runs in ANSI mode). The Spark engine needs it for
before-image keys only: bronze is typed.
"""

from __future__ import annotations

from lakehouse.registry.model import TEXT_TYPES, parse_type

_TRUE = ["true", "t", "1", "yes", "y"]
_FALSE = ["false", "f", "0", "no", "n"]
#: ``registry.casting``'s decimal text (Java regex): a sign and ``$`` in either order, digits
#: grouped by commas in threes or not at all, an optional fraction; or digits with an exponent
_FIXED = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+"
_DECIMAL_TEXT = rf"^(?:[+-]\$?|\$[+-]?)?(?:{_FIXED})$"
_EXPONENT_TEXT = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][+-]?[0-9]+$"
#: ``registry.casting``'s date and instant texts, and PostgreSQL's BC and after-9999 ones
_DAY = r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = (
    r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-][0-9]{2}(?::?[0-9]{2}){0,2})?"
)
_BC_DATE = rf"^[0-9]{{4,}}{_DAY} BC$"
_BC_TS = rf"^[0-9]{{4,}}{_DAY}(?: {_TIME})? BC$"
_LATE_DATE = rf"^[0-9]{{5,}}{_DAY}$"
_LATE_TS = rf"^[0-9]{{5,}}{_DAY}(?:[ T]{_TIME})?$"
#: the date and instant texts the local cast reads (Polars' ``%Y-%m-%d[ %H:%M:%S%.f%#z]``): a
#: signed year of 1-4 digits, 1-2 digit fields, spaces or ``T`` between date and time, spaces
#: before an offset; groups: sign, year, month, day, hour, minute, second, fraction, offset
_WHEN_TEXT = (
    r"^([+-]?)([0-9]{1,4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:T| +)([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(\.[0-9]+)? *([Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?)?$"
)


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

    base, precision, scale = parse_type(logical)
    if base in TEXT_TYPES:
        return col
    s = F.regexp_replace(col, r"(?U)^\s+|\s+\z", "")  # Polars' strip_chars: Unicode spaces
    target = spark_type(logical).simpleString()
    if base == "bool":
        low = F.lower(s)
        return F.when(low.isin(_TRUE), F.lit(True)).when(low.isin(_FALSE), F.lit(False))
    if base in ("decimal", "money"):
        return _decimal(s, target, scale or 0)
    if base == "date":
        low, high = "DATE'0001-01-01'", "DATE'9999-12-31'"
        return _within_range(s, _when(s, date=True), low, high, _BC_DATE, _LATE_DATE)
    if base in ("timestamp", "timestamptz"):
        low, high = "TIMESTAMP'0001-01-01 00:00:00Z'", "TIMESTAMP'9999-12-31 23:59:59.999999Z'"
        return _within_range(s, _when(s, date=False), low, high, _BC_TS, _LATE_TS)
    if base == "bytes":
        return F.try_to_binary(F.regexp_replace(s, r"^\\x", ""), F.lit("hex"))
    return try_cast(s, target)


def _decimal(s, target: str, scale: int):
    """Decimal text (``registry.casting._decimal_expr``) → ``target``; Spark's cast rounds half
    up (away from zero) and overflows to null, as the local cast."""
    from pyspark.sql import functions as F

    plain = F.when(s.rlike(_DECIMAL_TEXT), F.regexp_replace(s, r"[$,]", "")).when(
        s.rlike(_EXPONENT_TEXT), s
    )
    if scale >= 38:  # no room for a rounding digit: more fraction digits than 38 are not valid
        digits = F.length(F.regexp_extract(plain, r"\.([0-9]*)$", 1))
        plain = F.when(digits <= scale, plain)
    return try_cast(plain, target)


def _when(s, *, date: bool):
    """A date (``date``) or an instant (UTC) of ``_WHEN_TEXT``, written out in the form Spark's
    cast reads; a valid day of a negative year or of year 0 (the local cast reads them: before
    the lake's range) is the range's start."""
    from pyspark.sql import functions as F

    part = [F.regexp_extract(s, _WHEN_TEXT, i) for i in range(10)]
    sign, year, month, day, hour, minute, second, fraction, offset = part[1:]
    before = (sign == "-") | year.rlike("^0+$")
    year = F.when(before, F.lit("2000")).otherwise(F.lpad(year, 4, "0"))  # 2000: leap, as year 0
    day_text = F.concat_ws("-", year, F.lpad(month, 2, "0"), F.lpad(day, 2, "0"))
    if date:
        text = F.when(hour == "", day_text)
    else:
        clock = F.when(hour == "", F.lit("00:00:00")).otherwise(
            F.concat_ws(":", F.lpad(hour, 2, "0"), F.lpad(minute, 2, "0"), F.lpad(second, 2, "0"))
        )
        zone = F.when(F.upper(offset) == "Z", F.lit("Z")).otherwise(offset)
        text = F.concat(day_text, F.lit(" "), clock, F.substring(fraction, 1, 7), zone)
    parsed = try_cast(F.when(s.rlike(_WHEN_TEXT), text), "date" if date else "timestamp")
    start = F.expr("DATE'0001-01-01'" if date else "TIMESTAMP'0001-01-01 00:00:00Z'")
    return F.when(before & parsed.isNotNull(), start).otherwise(parsed)


def _within_range(s, parsed, low: str, high: str, bc: str, late: str):
    """``registry.casting._within_range``: ``infinity`` and a value after year 9999 are the
    range's end, ``-infinity``, a BC value and one before 0001-01-01 its start; ``low``/``high``:
    SQL literals."""
    from pyspark.sql import functions as F

    word = F.lower(s)
    low, high = F.expr(low), F.expr(high)
    return (
        F.when(word.isin("infinity", "+infinity") | s.rlike(late), high)
        .when((word == "-infinity") | s.rlike(bc), low)
        .when(parsed < low, low)
        .when(parsed > high, high)
        .otherwise(parsed)
    )


def try_cast(col, target: str):
    """``try_cast`` (Spark 4: null on a bad value under ANSI mode); ``cast`` on Spark 3.5 (Glue 5),
    whose default non-ANSI cast already yields null."""
    return col.try_cast(target) if hasattr(col, "try_cast") else col.cast(target)
