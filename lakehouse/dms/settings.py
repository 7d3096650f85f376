"""AWS DMS S3-target settings, named as in the DMS ``S3Settings`` API.

One object drives the replicator's writer, the bronze reader and the Terraform DMS endpoint, so
the three can never disagree. Defaults are AWS's defaults (CSV, no header, no ``Op`` in full load,
no timestamp column, NULL as an empty unquoted field). ``to_endpoint_settings()`` gives the JSON
DMS accepts (``aws dms create-endpoint --s3-settings``); ``from_endpoint_settings()`` reads one
(unknown keys such as ``BucketName`` are kept in ``extra``; ``CsvRowDelimiter`` and
``CsvDelimiter`` as AWS prints them, with ``\\n``, ``\\r``, ``\\t`` escapes). A value the
reader cannot read is a ``ValueError`` naming the key and, after `` — fix: ``, what to set
instead (a declaration error at load): a row delimiter other than LF, CRLF or CR, a field
delimiter that is not one character.

Beyond S3Settings, two task-level options of DMS are modelled here because they change the file
layout: ``before_image_key`` (table-mapping ``add-before-image-columns`` for the key columns,
prefix ``BI_``) and ``change_seq_column`` (a transformation rule adding ``$AR_H_CHANGE_SEQ``),
in that order after the data columns. Any other layout (another prefix, other rule order, added
or renamed columns, rules added while the task runs) is described by the task's table mappings:
``table_mappings.known_layouts``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Literal

_EXTENSIONS = {"csv": "csv", "parquet": "parquet"}
#: the row delimiters the reader (``dms.csv_reader``) reads
ROW_DELIMITERS = ("\n", "\r\n", "\r")
#: the escapes AWS prints in CsvRowDelimiter / CsvDelimiter (``"\\n"`` in its JSON)
_ESCAPES = {"\\n": "\n", "\\r": "\r", "\\t": "\t"}


def _unescaped(value):
    """``value`` with AWS's ``\\n``/``\\r``/``\\t`` escapes turned into the characters."""
    if not isinstance(value, str):
        return value
    for escape, char in _ESCAPES.items():
        value = value.replace(escape, char)
    return value


@dataclass(frozen=True)
class DmsS3Settings:
    DataFormat: Literal["csv", "parquet"] = "csv"
    CompressionType: Literal["NONE", "GZIP"] = "NONE"
    AddColumnName: bool = False
    IncludeOpForFullLoad: bool = False
    TimestampColumnName: str = ""
    CdcInsertsOnly: bool = False
    CdcInsertsAndUpdates: bool = False
    DatePartitionEnabled: bool = False
    DatePartitionSequence: Literal["YYYYMMDD", "YYYYMMDDHH", "YYYYMM", "MMYYYYDD", "DDMMYYYY"] = (
        "YYYYMMDD"
    )
    DatePartitionDelimiter: Literal["SLASH", "UNDERSCORE", "DASH", "NONE"] = "SLASH"
    CsvDelimiter: str = ","
    CsvRowDelimiter: str = "\n"
    CsvNullValue: str = ""
    Rfc4180: bool = True
    ParquetTimestampInMillisecond: bool = False
    ParquetVersion: Literal["parquet-1-0", "parquet-2-0"] = "parquet-1-0"
    CdcMaxBatchInterval: int = 60  # seconds
    CdcMinFileSize: int = 32000  # kilobytes
    MaxFileSize: int = 1048576  # kilobytes, full-load file cap
    # task-level options that shape the files (see module docstring)
    before_image_key: bool = False
    change_seq_column: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "DataFormat", self.DataFormat.lower())
        object.__setattr__(self, "CompressionType", self.CompressionType.upper())
        object.__setattr__(self, "DatePartitionSequence", self.DatePartitionSequence.upper())
        object.__setattr__(self, "DatePartitionDelimiter", self.DatePartitionDelimiter.upper())
        if self.DataFormat not in _EXTENSIONS:
            raise ValueError(
                f"DataFormat {self.DataFormat!r}: expected csv or parquet — fix: csv or parquet"
            )
        if self.CompressionType not in ("NONE", "GZIP"):
            raise ValueError(
                f"CompressionType {self.CompressionType!r}: expected NONE or GZIP"
                " — fix: NONE or GZIP"
            )
        if self.CdcInsertsOnly and self.CdcInsertsAndUpdates:
            raise ValueError(
                "CdcInsertsOnly and CdcInsertsAndUpdates cannot both be true"
                " — fix: set the one the endpoint has (aws dms describe-endpoints)"
            )
        if len(self.CsvDelimiter) != 1:
            raise ValueError(
                f"CsvDelimiter must be one character, got {self.CsvDelimiter!r}"
                " — fix: the endpoint's one-character CsvDelimiter (AWS's default: a comma)"
            )
        if self.CsvRowDelimiter not in ROW_DELIMITERS:
            raise ValueError(
                f"CsvRowDelimiter {self.CsvRowDelimiter!r}: the reader reads rows ended by "
                "\\n (LF), \\r\\n (CRLF) or \\r (CR) only — fix: an endpoint whose"
                " CsvRowDelimiter is \\n (AWS's default), \\r\\n or \\r"
            )

    @property
    def extension(self) -> str:
        """File suffix DMS uses: ``.csv``, ``.csv.gz``, ``.parquet`` (gzip inside parquet)."""
        ext = _EXTENSIONS[self.DataFormat]
        if self.DataFormat == "csv" and self.CompressionType == "GZIP":
            return f"{ext}.gz"
        return ext

    @property
    def no_sup_value(self) -> str | None:
        """The text a CSV CDC file holds for a column DMS could not capture in an update
        (``UseCsvNoSupValue`` with ``CsvNoSupValue``, kept in ``extra``), or None: without
        ``CsvNoSupValue`` DMS writes NULL there (AWS), which nothing can tell from data."""
        use = self.extra.get("UseCsvNoSupValue", False)
        if isinstance(use, str):
            use = use.strip().lower() in ("true", "y", "yes", "1")
        value = self.extra.get("CsvNoSupValue")
        return (
            value if use and self.DataFormat == "csv" and isinstance(value, str) and value else None
        )

    def with_(self, **changes) -> DmsS3Settings:
        return replace(self, **changes)

    def to_endpoint_settings(self) -> dict:
        """The S3Settings JSON for a DMS endpoint (task-level options left out)."""
        out = {}
        for f in fields(self):
            if f.name in ("before_image_key", "change_seq_column", "extra"):
                continue
            out[f.name] = getattr(self, f.name)
        out.update(self.extra)
        return out

    @classmethod
    def from_endpoint_settings(cls, settings: dict) -> DmsS3Settings:
        known = {f.name for f in fields(cls)} - {"extra"}
        kwargs = {k: v for k, v in settings.items() if k in known}
        extra = {k: v for k, v in settings.items() if k not in known}
        for key in ("CsvRowDelimiter", "CsvDelimiter"):
            if key in kwargs:
                kwargs[key] = _unescaped(kwargs[key])
        return cls(**kwargs, extra=extra)

    def as_dict(self) -> dict:
        return asdict(self)
